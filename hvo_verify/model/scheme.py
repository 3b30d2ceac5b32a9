# SPDX-License-Identifier: GPL-2.0-only
"""Remap schemes as data: which vmemmap pages of a folio keep their frame, where the
others map, with which permission, and how compound_head is encoded.

Presets carry the kernel version and source they model (reference kernel-hvo.md 1.f).
A spec file can build a custom `Scheme` from the same fields: that is how a reviewer
describes a patch that does not exist yet.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from hvo_verify.model.config import Arch
from hvo_verify.model.facts import DEFAULT_FACTS, VersionFacts
from hvo_verify.model.names import unknown

# Why an arch lost HVO, for the arches_source of the presets after the change (the
# not-applicable reason every check on that arch then carries).
_ARM64_OFF = (
    "arm64 disabled by 060a2c92d1b6 (Feb 2023): HVO changes the output address and RW->RO of live "
    "kernel PTEs, UNPREDICTABLE without break-before-make"
)
_S390_OFF = (
    "s390 disabled by 64e2f60f355e 's390: Disable ARCH_WANT_OPTIMIZE_HUGETLB_VMEMMAP' (Heiko Carstens, "
    "Nov 2025, Fixes 00a34d5a99c0; Debian 6.12.63-1): s390 forbids replacing a valid kernel page-table "
    "entry with another valid one without going through an invalid entry (ipte/idte; or crdte/cspg), "
    "vmemmap_remap_pte() does exactly that, and the HVO code has no arch hook to do it otherwise"
)
# riscv and LoongArch select it from v6.2: LoongArch by e.g. "LoongArch: Enable
# ARCH_WANT_HUGETLB_PAGE_OPTIMIZE_VMEMMAP" (<20221027125253.3458989-5-chenhuacai@loongson.cn>,
# the mm tree for the v6.2 merge window); riscv by Liu Shixin's 2022 series (after Tong
# Tiangen's PG_dcache_clean fix, Oct 2022), release not verified; s390 by 00a34d5a99c0
# (Gerald Schaefer, release not verified).  None of the three in linux-source-6.1 (6.1.192)
# arch/*/Kconfig; riscv (:83) and LoongArch (:77) in linux-source-6.12 (6.12.117), s390 not.
_V62_ARCHES = (Arch.X86_64, Arch.RISCV64, Arch.LOONGARCH64, Arch.S390X)
_V62_SOURCE = (
    "x86-64; riscv, LoongArch (v6.2) and s390 (00a34d5a99c0, v6.2, until 64e2f60f355e, Nov 2025); " + _ARM64_OFF
)


class Encoding(enum.Enum):
    """How a tail struct page names its head."""

    POINTER = "pointer"  # compound_head = head | 1 (include/linux/page-flags.h, <= v5.17)
    POINTER_FAKE_HEAD_FIX = "pointer+fake-head-fix"  # + page_fixed_fake_head() (v5.18..v6.19)
    MASK = "mask"  # compound_info = GENMASK(63, order + log2(sizeof(struct page))) | 1 (2026)


class Target(enum.Enum):
    """Where a remapped (non-private) vmemmap page points."""

    PAGE = "page"  # the frame of one of the folio's own vmemmap pages (reuse page)
    SHARED_TAIL = "shared-tail"  # one pre-initialised page of tails per (zone, order)
    UNMAPPED = "unmapped"  # PTE cleared: the struct pages are gone (willy's misreading)


class HeadCopy(enum.Enum):
    """Whether vmemmap page 0 is first copied to a newly allocated frame."""

    NONE = "none"
    WITH_FALLBACK = "with-fallback"  # v6.2 11aad2631bf7: on allocation failure reuse frame(0)
    REQUIRED = "required"  # 2026: on allocation failure the folio is not optimized


class FolioKind(enum.Enum):
    HUGETLB = "hugetlb"
    DEVDAX = "devdax"


class MemoryModel(enum.Enum):
    """How a struct page pointer is formed for a pfn (pfn_to_page / what GUP hands out)."""

    # include/asm-generic/memory_model.h: __pfn_to_page(pfn) = vmemmap + pfn; every
    # subpage keeps its own virtual struct page address, only frames are shared.
    SPARSEMEM_VMEMMAP = "sparsemem-vmemmap"
    # willy's reading of the RFC (<20200915154213.GI5449@casper.infradead.org>): the
    # freed struct pages have no address, so a pointer to head+i is replaced by the
    # struct page whose frame is kept ("returning page (head+1) from get_user_pages()").
    DEDUP_POINTERS = "dedup-pointers"


@dataclass(frozen=True, slots=True)
class Scheme:
    """A vmemmap remap scheme."""

    name: str
    version: str  # kernel version the preset models, or "custom"
    source: str  # kernel commit / file / Message-ID
    private: tuple[int, ...]  # vmemmap pages that keep their own frame, RW
    target: Target
    target_page: int = 0  # with Target.PAGE: which vmemmap page's frame the others reuse
    writable_aliases: bool = False
    encoding: Encoding = Encoding.POINTER
    unique_struct_pages: int = 4  # struct pages 0..n-1 carry unique folio metadata
    head_copy: HeadCopy = HeadCopy.NONE
    power_of_2_guard: bool = True  # HVO refused when sizeof(struct page) is not a power of 2
    folio_kind: FolioKind = FolioKind.HUGETLB
    memory_model: MemoryModel = MemoryModel.SPARSEMEM_VMEMMAP
    optimizes: bool = True  # False only for the `none` baseline
    # The vmemmap base must be aligned to MAX_FOLIO_NR_PAGES * sizeof(struct page)
    # (2026: "Align vmemmap to maximal folio size", MAX_FOLIO_VMEMMAP_ALIGN; checked by
    # sparse_init() VM_WARN_ON_ONCE(!IS_ALIGNED(pfn_to_page(0), MAX_FOLIO_VMEMMAP_ALIGN))).
    vmemmap_align_max_folio: bool = False
    summary: str = ""
    # The kernel facts of the version the preset models (model/facts.py); a custom
    # scheme keeps its base preset's.
    facts: VersionFacts = DEFAULT_FACTS
    # The architectures whose kernels of this version select the option
    # (ARCH_WANT_HUGETLB_PAGE_OPTIMIZE_VMEMMAP, later ARCH_WANT_OPTIMIZE_HUGETLB_VMEMMAP;
    # ARCH_WANT_OPTIMIZE_DAX_VMEMMAP for Device-DAX), among the ones the configs model;
    # elsewhere every check is not-applicable.  None: not restricted (custom schemes,
    # proposals; a spec's `scheme.arches`).
    arches: tuple[Arch, ...] | None = None
    arches_source: str = ""

    @property
    def reserve(self) -> int:
        """Vmemmap pages the folio keeps (RESERVE_VMEMMAP_NR / HUGETLB_VMEMMAP_RESERVE_PAGES)."""
        return len(self.private)


# mm/hugetlb_vmemmap.c NR_RESET_STRUCT_PAGE (v5.18+): only page[0..2] differ from a
# tail while the folio is in the pool, so only they carry unique folio metadata.
NR_RESET_STRUCT_PAGE = DEFAULT_FACTS.nr_reset_struct_page

PRESETS: dict[str, Scheme] = {
    s.name: s
    for s in (
        Scheme(
            name="none",
            version="any",
            source="hugetlb_free_vmemmap=off / CONFIG_HUGETLB_PAGE_OPTIMIZE_VMEMMAP=n",
            private=(),
            target=Target.PAGE,
            optimizes=False,
            summary="no HVO: every vmemmap page keeps its own frame",
        ),
        Scheme(
            name="rfc-2020",
            version="RFC 2020-09",
            source="<20200915125947.26204-1-songmuchun@bytedance.com>",
            private=(0, 1),
            target=Target.PAGE,
            target_page=1,
            writable_aliases=True,
            summary="keep pages 0,1; pages 2..V-1 -> frame(1), writable aliases",
            arches=(Arch.X86_64,),
            arches_source="the RFC selected ARCH_WANT_HUGETLB_PAGE_FREE_VMEMMAP on x86-64 only",
        ),
        Scheme(
            name="v5.14",
            version="v5.14",
            source="f41f2ed43ca5 mm/hugetlb_vmemmap.c free_huge_page_vmemmap(), "
            "mm/sparse-vmemmap.c vmemmap_remap_pte() (RESERVE_VMEMMAP_NR = 2, PAGE_KERNEL_RO)",
            private=(0, 1),
            target=Target.PAGE,
            target_page=1,
            # The power-of-2 check ran only from the hugetlb_free_vmemmap= early param
            # handler until 0effdf461c57 (v5.19): with DEFAULT_ON it never ran (bug B1).
            power_of_2_guard=False,
            summary="keep pages 0,1; pages 2..V-1 -> frame(1) read-only",
            arches=(Arch.X86_64,),
            arches_source="v5.14 arch/x86/Kconfig only; arm64 from v5.19 (<20220331065640.5777-2-songmuchun@bytedance.com>)",
        ),
        Scheme(
            name="v5.18",
            version="v5.18",
            source="e7d324850bfc mm: hugetlb: free the 2nd vmemmap page associated with each "
            "HugeTLB page; include/linux/page-flags.h page_fixed_fake_head()",
            private=(0,),
            target=Target.PAGE,
            target_page=0,
            encoding=Encoding.POINTER_FAKE_HEAD_FIX,
            power_of_2_guard=False,  # fixed by 0effdf461c57 in v5.19
            unique_struct_pages=NR_RESET_STRUCT_PAGE,
            summary="keep page 0; pages 1..V-1 -> frame(0) read-only; fake heads fixed up",
            arches=(Arch.X86_64,),
            arches_source="x86-64 only; arm64 from v5.19 (<20220331065640.5777-2-songmuchun@bytedance.com>)",
        ),
        Scheme(
            name="v6.1",
            version="v6.1",
            source="mm/hugetlb_vmemmap.c v6.1 hugetlb_vmemmap_optimize() (HUGETLB_VMEMMAP_RESERVE_SIZE = "
            "PAGE_SIZE); 0effdf461c57 power-of-2 guard (v5.19)",
            private=(0,),
            target=Target.PAGE,
            target_page=0,
            encoding=Encoding.POINTER_FAKE_HEAD_FIX,
            unique_struct_pages=NR_RESET_STRUCT_PAGE,
            summary="as v5.18, with the power-of-2 guard and the raw_hwp list (Debian 12)",
            arches=(Arch.X86_64, Arch.ARM64),
            arches_source="x86-64; arm64 from v5.19 until 060a2c92d1b6 (Feb 2023, Debian 6.1.20-1); riscv, "
            "LoongArch, s390 from v6.2",
        ),
        Scheme(
            name="v6.2",
            version="v6.2",
            source="11aad2631bf7 mm/hugetlb_vmemmap: remap head page to newly allocated page "
            "(mm/hugetlb_vmemmap.c vmemmap_remap_free)",
            private=(0,),
            target=Target.PAGE,
            target_page=0,
            encoding=Encoding.POINTER_FAKE_HEAD_FIX,
            head_copy=HeadCopy.WITH_FALLBACK,
            unique_struct_pages=NR_RESET_STRUCT_PAGE,
            summary="copy page 0 to a new frame (fallback: in place); pages 1..V-1 -> it, read-only",
            arches=_V62_ARCHES,
            arches_source=_V62_SOURCE,
        ),
        Scheme(
            name="01b1d0ffb6f7",
            version="mainline 2026 (v7)",
            source='the series "mm: Eliminate fake head pages from vmemmap optimization" v7 as merged (Apr 2026): '
            "c0b495b91a47 (10/18, vmemmap_remap_free() rollback), 622026e87c40 (12/18, shared tail page), "
            "32c440d67e6c (13/18, page_ref_add_unless()), 01b1d0ffb6f7 (14/18, no synchronize_rcu()); read from "
            "the patch mails (review 2026-series-review.md), not from a tree",
            private=(0,),
            target=Target.SHARED_TAIL,
            encoding=Encoding.MASK,
            head_copy=HeadCopy.REQUIRED,
            unique_struct_pages=4,
            vmemmap_align_max_folio=True,
            summary="as mask-2026 (the layout did not change in linux-mm); its protocol is the series' (no grace "
            "period, the rollback of v7 10/18 before its fix)",
            arches=(Arch.X86_64, Arch.RISCV64, Arch.LOONGARCH64),
            arches_source="x86-64, riscv, LoongArch (v7 05/06 align their vmemmap); arm64 off since 060a2c92d1b6 "
            "until the linux-mm arm64 series (mask-2026); " + _S390_OFF,
        ),
        Scheme(
            name="mask-2026",
            version="linux-mm 2026",
            source="linux-mm mm/hugetlb_vmemmap.c @0454b15e __hugetlb_vmemmap_optimize_folio; "
            "include/linux/page-flags.h @03e0599d _compound_head(); "
            "mm/sparse-vmemmap.c @028871b8 vmemmap_shared_tail_page()",
            private=(0,),
            target=Target.SHARED_TAIL,
            encoding=Encoding.MASK,
            head_copy=HeadCopy.REQUIRED,
            # page[0..3] carry folio metadata: the hugetlb fields moved to page[3] in
            # 4eeec8c89a0c (2025); all four sit in vmemmap page 0 (fidelity review row 7)
            unique_struct_pages=4,
            vmemmap_align_max_folio=True,
            summary="copy page 0 to a new frame; pages 1..V-1 -> shared tail page "
            "per (zone, order), read-only; mask-encoded compound_info",
            arches=(Arch.X86_64, Arch.ARM64, Arch.RISCV64, Arch.LOONGARCH64),
            arches_source="x86-64, riscv, LoongArch (the series aligns their vmemmap: patches 05/06 of v7); arm64 "
            "through the 2026 linux-mm arch hooks (arch_hugetlb_vmemmap_optimization_supported(), merge state "
            "not identified); " + _S390_OFF,
        ),
        Scheme(
            name="devdax",
            version="v6.3",
            source="4917f55b4ef9 mm/sparse-vmemmap: improve memory savings for compound devmaps; "
            "vmemmap_can_optimize() (v6.3); Documentation/mm/vmemmap_dedup.rst 'Device DAX'",
            private=(0, 1),
            target=Target.PAGE,
            target_page=1,
            writable_aliases=True,
            unique_struct_pages=3,
            folio_kind=FolioKind.DEVDAX,
            summary="Device-DAX: pages 0,1 private; 2..V-1 -> frame(1), writable (PAGE_KERNEL)",
            arches=(Arch.X86_64,),
            arches_source="ARCH_WANT_OPTIMIZE_DAX_VMEMMAP (v6.3): x86-64, powerpc radix; riscv selects it in "
            "linux-source-6.12 arch/riscv/Kconfig:82 (added after v6.3); not arm64, LoongArch, s390",
        ),
    )
}


def _era(base: str, name: str, source: str, summary: str, **changes: object) -> None:
    """Add the preset of a kernel that changed `base` only where `changes` say."""
    scheme = replace(PRESETS[base], name=name, version=name, source=source, summary=summary, **changes)  # type: ignore[arg-type]
    PRESETS[name] = scheme


# From v6.9 /proc/kpageflags reads the folio and hugetlb is a page type on the head, as
# the Debian 6.12 source has them (fs/proc/page.c:123-125, include/linux/page-flags.h:946,
# 1079); dee3d0bef2b0 "proc: rewrite stable_page_flags()" and the PGTY_hugetlb change
# were not read in a 6.9/6.10 tree.
_FOLIO_ERA = replace(DEFAULT_FACTS, kpageflags_reads_folio=True, hugetlb_page_type=True)
# linux-source-6.12 include/linux/page-flags.h:93-117 (PG_error, PG_mappedtodisk gone).
_FOLIO_ERA_612 = replace(_FOLIO_ERA, pg_arch_1=12, pg_hwpoison=20)

_era(
    "v5.18",
    "v5.19",
    "0effdf461c57 mm: hugetlb_vmemmap: disable hugetlb_optimize_vmemmap when struct page "
    "crosses page boundaries; 78f39084b41d vm.hugetlb_optimize_vmemmap (v5.19)",
    "as v5.18, with the power-of-2 guard (5.19..6.0)",
    power_of_2_guard=True,
    arches=(Arch.X86_64, Arch.ARM64),
    arches_source="x86-64; arm64 from v5.19 (<20220331065640.5777-2-songmuchun@bytedance.com>); "
    "riscv, LoongArch, s390 from v6.2",
)
_era(
    "v6.1",
    "v6.1.52",
    "Debian linux-source-6.1 mm/hugetlb.c __remove_hugetlb_page() :1683-1688 "
    "(dtor kept while HPageVmemmapOptimized), __update_and_free_page() :1759-1790 (cleared after the "
    "restore); changelog 6.1.52-1 'hugetlb: do not clear hugetlb dtor until allocating vmemmap' "
    "(32c877191e02)",
    "as v6.1, hugetlb kept until the vmemmap is restored (Debian 6.1.52+)",
    arches=(Arch.X86_64,),
    arches_source="linux-source-6.1 (6.1.192): only arch/x86/Kconfig:128 selects it (arm64 disabled by "
    "060a2c92d1b6, in Debian 6.1.20-1; riscv, LoongArch, s390 never in 6.1.y)",
)
_era(
    "v6.2",
    "v6.5",
    "32c877191e02 hugetlb: do not clear hugetlb dtor until allocating vmemmap (v6.5)",
    "as v6.2, hugetlb kept until the vmemmap is restored",
)
_era(
    "v6.5",
    "v6.8",
    "hugetlb_vmemmap_optimize_folios()/hugetlb_vmemmap_restore_folios() "
    "(batched, VMEMMAP_REMAP_NO_TLB_FLUSH, v6.8); one folio's steps are v6.5's",
    "as v6.5 per folio; batched optimize/restore with one TLB flush (batching not modelled here)",
)
_era(
    "v6.8",
    "v6.10",
    "bd225530a4c7 mm/hugetlb_vmemmap: fix race with speculative PFN walkers (v6.10): "
    "optimize/restore only at refcount 0, synchronize_rcu(); kpageflags from the folio (v6.9)",
    "as v6.8; refcount frozen + RCU around the remap (the protocol: concurrency issue); kpageflags from the folio",
    facts=_FOLIO_ERA,
)
_era(
    "v6.10",
    "4eeec8c89a0c",
    "4eeec8c89a0c mm: move hugetlb specific things in folio to page[3] (2025): "
    "page[3].mapping overlaps _hugetlb_cgroup, NR_RESET_STRUCT_PAGE still 3",
    "as v6.10 with the hugetlb fields in page[3] and a reset of 3 (the 2025 bug)",
    unique_struct_pages=4,
)
_era(
    "4eeec8c89a0c",
    "v6.15",
    "274fe92de2c4 mm, hugetlb: increment the number of pages to be reset on HVO "
    "(<20250415111859.376302-1-osalvador@suse.de>, 6.15-rc; the release is not verified)",
    "as 4eeec8c89a0c with NR_RESET_STRUCT_PAGE 4 (the fix)",
    facts=replace(_FOLIO_ERA, nr_reset_struct_page=4),
)
_era(
    "v6.15",
    "v6.12.111",
    "Debian linux-source-6.12 include/linux/mm_types.h:395-401 (page[3]: "
    "_hugetlb_subpool, _hugetlb_cgroup, _hugetlb_hwpoison); changelog 6.12.111-1 'mm, hugetlb: increment "
    "the number of pages to be reset on HVO'",
    "6.12.111..6.12.114: the v6.15 layout, reset 4",
    facts=replace(_FOLIO_ERA_612, nr_reset_struct_page=4),
    arches=(Arch.X86_64, Arch.RISCV64, Arch.LOONGARCH64),
    arches_source="linux-source-6.12 (6.12.117): arch/x86/Kconfig:144, arch/riscv/Kconfig:83, "
    "arch/loongarch/Kconfig:77; " + _ARM64_OFF + "; " + _S390_OFF,
)
_era(
    "v6.12.111",
    "v6.12.115",
    "Debian linux-source-6.12 6.12.117-1~deb12u1 mm/hugetlb_vmemmap.c: "
    "__hugetlb_vmemmap_optimize_folio() :542 (copy_page(vmemmap_head, folio); vmemmap_tail = vmemmap_head), "
    "vmemmap_remap_pte() :198-233, vmemmap_restore_pte() :236-259 (copy_page(dst, src), no "
    "reset_struct_pages()); changelog 6.12.115-1 'mm/hugetlb: refactor code around vmemmap_walk'",
    "as v6.12.111; restore copies the head copy verbatim (no reset_struct_pages()); no head-copy fallback",
    # The refactor comes from the 2026 shared-tail series, where the tail page holds
    # valid tails; here vmemmap_tail is the copied head page, so every restored tail
    # vmemmap page starts with a copy of the head struct page.
    facts=replace(_FOLIO_ERA_612, nr_reset_struct_page=0),
    # ... and, as in that series, a failed head-page allocation is -ENOMEM: the folio
    # is left unoptimized (linux-source-6.12 mm/hugetlb_vmemmap.c:536-539, 559-562).
    head_copy=HeadCopy.REQUIRED,
)

# `hvo-verify list` and the era sweep show presets in kernel order.
_ORDER = ("none", "rfc-2020", "v5.14", "v5.18", "v5.19", "v6.1", "v6.1.52", "v6.2", "v6.5", "v6.8", "v6.10",
          "v6.12.111", "v6.12.115", "4eeec8c89a0c", "v6.15", "01b1d0ffb6f7", "mask-2026", "devdax")  # fmt: skip
assert sorted(_ORDER) == sorted(PRESETS), "a preset is missing from _ORDER (or listed twice)"
_ordered = {name: PRESETS[name] for name in _ORDER}
PRESETS.clear()
PRESETS.update(_ordered)


def preset(name: str) -> Scheme:
    if name not in PRESETS:
        raise unknown("scheme preset", name, PRESETS)
    return PRESETS[name]


def describe(scheme: Scheme) -> str:
    """A one-line summary computed from the fields (for custom schemes)."""
    if not scheme.optimizes:
        return "no remapping"
    keep = ",".join(map(str, scheme.private)) or "none"
    if scheme.target is Target.PAGE:
        where = f"-> frame({scheme.target_page})"
    elif scheme.target is Target.SHARED_TAIL:
        where = "-> shared tail page"
    else:
        where = "unmapped"
    perm = "" if scheme.target is Target.UNMAPPED else (" writable" if scheme.writable_aliases else " read-only")
    copy = "" if scheme.head_copy is HeadCopy.NONE else f"; head page copied ({scheme.head_copy.value})"
    extra = "" if scheme.memory_model is MemoryModel.SPARSEMEM_VMEMMAP else f"; {scheme.memory_model.value}"
    return f"keep pages {keep}; others {where}{perm}; {scheme.encoding.value} compound_head{copy}{extra}"
