# SPDX-License-Identifier: GPL-2.0-only
"""How the kernel's operations on an optimized folio behave, per kernel version.

The remap scheme (scheme.py) says what the vmemmap looks like; these policies say what
memory_failure, the free path, the dcache hooks, rmap and GUP do to it.  Each preset
gets the policies of the kernel it models; a spec's `[ops]` table may override any of
them (that is how the reviewers' hypotheticals and the mutants are written).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from hvo_verify.model.scheme import PRESETS, Scheme, Target


class Hwpoison(enum.Enum):
    """Where memory_failure() records a raw error inside a hugetlb folio (and, for
    RAW_FLAG, inside a Device-DAX folio: ops/hwpoison.py memory_failure())."""

    # SetPageHWPoison(p) on the raw struct page: what memory_failure() does for an
    # ordinary page, and what willy feared for HVO tails (<20200915154213.GI5449@...>).
    # On a Device-DAX folio: the subpage itself, as if mf_generic_kill_procs() did not
    # take compound_head() (the model before issue 11; a hypothetical since then).
    RAW_FLAG = "raw-flag"
    # The RFC as posted, [RFC PATCH 18/24] "mm/hugetlb: Clear PageHWPoison on the
    # non-error memory page" <20200915125947.26204-19-songmuchun@bytedance.com> (same
    # code in v2 14/19 <20201026145114.59424-15-...>): memory_failure() sets the head
    # flag; dissolve_free_huge_page() still moves it to the raw page while the vmemmap is
    # optimized (SetPageHWPoison(page); ClearPageHWPoison(head), a store through the
    # RFC's writable alias, so "we may set PageHWPoison on a series of pages") and
    # set_subpage_hwpoison() records `page - head` in page_private(head + 4); after the
    # restore __free_hugepage() clears PG_hwpoison on every subpage but that one
    # (`PageHWPoison(page + i) && !subpage_hwpoison(page, page + i)`).
    SUBPAGE_HWPOISON = "subpage-hwpoison"
    # Later versions of the series, from [PATCH v7 11/15] "mm/hugetlb: Set the
    # PageHWPoison to the raw error page" <20201130151838.11208-12-songmuchun@bytedance.com>
    # (tails read-only since v3): flag on the head, `page - head` in page_private(head + 4);
    # subpage_hwpoison_deliver() sets the raw flag after the vmemmap is restored.
    HEAD_INDEX = "head-index"
    # v5.14..v6.0 merged: TestSetPageHWPoison(head) only; dissolve_free_huge_page(page)
    # moves the flag to the `page` it was called with (reference 4.2).
    HEAD_FLAG = "head-flag"
    # v6.1+ "mm, hwpoison, hugetlb: support saving mechanism of raw error pages":
    # flag on the head, raw pages on folio->_hugetlb_hwpoison (raw_hwp_page list).
    RAW_HWP_LIST = "raw-hwp-list"


class Arch1(enum.Enum):
    """Which struct page flush_dcache_page()/__sync_icache_dcache() touch (PG_arch_1)."""

    PER_SUBPAGE = "per-subpage"  # the page passed in (arm64/riscv before the HVO enable patches)
    HEAD = "head"  # `if (PageHuge(page)) page = compound_head(page)` (arm64 2022, riscv Oct 2022)
    # 4a169d61c2ed "arm64: implement the new page table range API" (v6.6, willy's
    # set_ptes() series: "PG_arch_1 is now a per-folio bit"): flush_dcache_page(page) is
    # flush_dcache_folio(page_folio(page)) and __sync_icache_dcache() tests
    # page_folio(pte_page(pte))->flags, for every folio, Device-DAX included
    # (linux-source-6.12 arch/arm64/mm/flush.c:52-60, 70-80; 6.1 :51-86 still PageHuge()).
    FOLIO = "folio"


class Mapcount(enum.Enum):
    """Where mapping a subpage is counted."""

    PER_SUBPAGE = "per-subpage"  # atomic_inc(&page->_mapcount): HGM-style PTE mapping of a subpage
    FOLIO = "folio"  # folio->_large_mapcount / _entire_mapcount (hugetlb is mapped whole; 6.15+ all large folios)


class GupRefs(enum.Enum):
    """Which struct page GUP's references are taken on."""

    FOLIO = "folio"  # try_grab_folio_fast(): page_folio(page) (mm/gup.c)
    SUBPAGE = "subpage"  # mutant: atomic_add on page->_refcount of the subpage itself


class HugetlbClear(enum.Enum):
    """When the free path stops calling the folio hugetlb (bug B5)."""

    # v5.14..v6.4: remove_hugetlb_folio() cleared the dtor before
    # update_and_free_hugetlb_folio() restored the vmemmap.
    BEFORE_RESTORE = "before-restore"
    # 32c877191e02 "hugetlb: do not clear hugetlb dtor until allocating vmemmap" (v6.5).
    AFTER_RESTORE = "after-restore"


class RestoreGfp(enum.Enum):
    """Where hugetlb_vmemmap_restore_folio() may take its vmemmap pages (bug B7)."""

    # GFP_KERNEL | __GFP_NORETRY | __GFP_THISNODE: only the folio's node (v5.14..v6.5;
    # still in Debian 6.1.192, linux-source-6.1 mm/hugetlb_vmemmap.c:448-449).
    THISNODE = "thisnode"
    # Yuan Can, v6.6, "mm: hugetlb_vmemmap: fix hugetlb page number decrease failed on
    # movable nodes" + "allow alloc vmemmap pages fallback to other nodes": the folio's
    # node preferred, any node allowed (linux-source-6.12 mm/hugetlb_vmemmap.c:299-305).
    ANY_NODE = "any-node"


class VmemmapFrames(enum.Enum):
    """Where the folio's vmemmap frames came from: the setting the folio lives in, not a
    kernel version (a spec's `[ops] vmemmap_frames`)."""

    # memblock at boot: PageReserved, freed one by one by free_bootmem_page()
    # (linux-source-6.1 mm/hugetlb_vmemmap.c:216-222 free_vmemmap_page()).
    BOOTMEM = "bootmem"
    # hot-added memory: a PMD-mapped vmemmap is one order-get_order(PMD_SIZE) buddy block
    # (mm/sparse-vmemmap.c vmemmap_alloc_block()); its pages are independent order-0
    # pages only after split_page() (bug B2).
    HOTPLUG = "hotplug"
    # memory_hotplug.memmap_on_memory: the vmemmap sits at the start of the hot-added range
    # it describes (altmap), its pages PageVmemmapSelfHosted (bug B4; reference 3.3).
    MEMMAP_ON_MEMORY = "memmap-on-memory"


class Node(enum.Enum):
    """What the folio's NUMA node can give an unmovable allocation (bug B7)."""

    NORMAL = "normal"
    # movable_node / movablecore: only ZONE_MOVABLE, where GFP_KERNEL vmemmap pages may
    # not come from ("page allocation failure: order:0 ... __GFP_THISNODE").
    MOVABLE_ONLY = "movable-only"


@dataclass(frozen=True, slots=True)
class Policies:
    kernel: str  # the version these policies model
    hwpoison: Hwpoison
    pg_arch_1: Arch1 = Arch1.HEAD
    mapcount: Mapcount = Mapcount.FOLIO
    gup_refs: GupRefs = GupRefs.FOLIO
    hugetlb_clear: HugetlbClear = HugetlbClear.AFTER_RESTORE
    # mm/hugetlb_vmemmap.c reset_struct_pages() (v5.18+): restored frames are copies of
    # the head vmemmap page, whose first NR_RESET_STRUCT_PAGE = 3 slots are reset from
    # slots 3..5 so they read as tails.
    restore_reset: bool = True
    # folio_set_hugetlb_hwpoison(): kmalloc(GFP_ATOMIC) may fail -> raw_hwp_unreliable.
    kmalloc_may_fail: bool = False
    # split_vmemmap_huge_pmd(): split_page() of a PMD block that came from buddy
    # (`if (!PageReserved(head))`, linux-source-6.1 mm/hugetlb_vmemmap.c:71-77); added by
    # 39d35edee453 "mm: sparsemem: fix missing higher order allocation splitting"
    # (<20220620023019.94257-1-songmuchun@bytedance.com>, v5.19-rc4; bug B2).
    split_pmd_block: bool = True
    # HVO is a no-op when the folio's vmemmap is PageVmemmapSelfHosted: 66361095129b
    # (v6.0; linux-source-6.1 mm/hugetlb_vmemmap.c:467-508 vmemmap_should_optimize(),
    # linux-source-6.12 :126-131 vmemmap_pmd_entry() -ENOTSUPP); v5.19's 6e02c46b4d97
    # turned memmap_on_memory off instead when HVO was on (bug B4).
    self_hosted_check: bool = True
    restore_gfp: RestoreGfp = RestoreGfp.ANY_NODE
    # The setting (not a kernel version): where the vmemmap frames came from, and what the
    # folio's node can give (see the enums).
    vmemmap_frames: VmemmapFrames = VmemmapFrames.BOOTMEM
    node: Node = Node.NORMAL

    def describe(self, *, kmalloc: bool = True) -> str:
        """One line: `kernel behaviour of v6.1: hwpoison=raw-hwp-list, pg_arch_1=head, ...`
        (every policy by its spec value); `kmalloc=False` leaves out kmalloc_may_fail,
        for a caller that states it in words of its own."""
        line = (
            f"kernel behaviour of {self.kernel}: hwpoison={self.hwpoison.value}, pg_arch_1={self.pg_arch_1.value}, "
            f"mapcount={self.mapcount.value}, gup_refs={self.gup_refs.value}, "
            f"hugetlb_clear={self.hugetlb_clear.value}, restore_reset={str(self.restore_reset).lower()}"
        )
        if kmalloc:
            line += f", kmalloc_may_fail={str(self.kmalloc_may_fail).lower()}"
        if self.vmemmap_frames is not VmemmapFrames.BOOTMEM:
            line += (
                f"; vmemmap from {self.vmemmap_frames.value}: split_pmd_block="
                f"{str(self.split_pmd_block).lower()}, self_hosted_check={str(self.self_hosted_check).lower()}"
            )
        if self.node is not Node.NORMAL:
            line += f"; folio on a {self.node.value} node: restore_gfp={self.restore_gfp.value}"
        return line


# The kernel behaviour of each preset, as data (tests/unit/test_kernel_ops.py checks that
# every preset has an entry).  `restore_reset` depends on the scheme: policies_for().
PRESET_POLICIES: dict[str, Policies] = {
    p.kernel: p
    for p in (
        Policies("any", Hwpoison.RAW_HWP_LIST),  # `none`: nothing is remapped
        # The RFC frees from __free_hugepage() (RFC 18/24 hunk context): alloc_huge_page_vmemmap()
        # first, then the page-flags loop and (as in v5.9 update_and_free_page()) the dtor:
        # the folio stays hugetlb until the vmemmap is restored.
        Policies("RFC 2020-09", Hwpoison.SUBPAGE_HWPOISON),
        Policies("v5.14", Hwpoison.HEAD_FLAG, hugetlb_clear=HugetlbClear.BEFORE_RESTORE),
        Policies("v5.18", Hwpoison.HEAD_FLAG, hugetlb_clear=HugetlbClear.BEFORE_RESTORE),
        Policies("v6.1", Hwpoison.RAW_HWP_LIST, hugetlb_clear=HugetlbClear.BEFORE_RESTORE),
        Policies("v6.2", Hwpoison.RAW_HWP_LIST, hugetlb_clear=HugetlbClear.BEFORE_RESTORE),
        # 32c877191e02 (v6.5; Debian 6.1.52, linux-source-6.1 mm/hugetlb.c:1683-1688, 1759-1790):
        # the dtor / hugetlb flag is cleared only after the vmemmap is restored.
        Policies("v5.19", Hwpoison.HEAD_FLAG, hugetlb_clear=HugetlbClear.BEFORE_RESTORE),
        Policies("v6.1.52", Hwpoison.RAW_HWP_LIST),
        Policies("v6.5", Hwpoison.RAW_HWP_LIST),
        # PG_arch_1 per folio from v6.6 (4a169d61c2ed, Arch1.FOLIO): every era from v6.8 on.
        Policies("v6.8", Hwpoison.RAW_HWP_LIST, pg_arch_1=Arch1.FOLIO),
        Policies("v6.10", Hwpoison.RAW_HWP_LIST, pg_arch_1=Arch1.FOLIO),
        Policies("4eeec8c89a0c", Hwpoison.RAW_HWP_LIST, pg_arch_1=Arch1.FOLIO),
        Policies("v6.15", Hwpoison.RAW_HWP_LIST, pg_arch_1=Arch1.FOLIO),
        # linux-source-6.12 mm/hugetlb.c __update_and_free_hugetlb_folio() :1665-1716:
        # restore, then __folio_clear_hugetlb(), then folio_clear_hugetlb_hwpoison().
        Policies("v6.12.111", Hwpoison.RAW_HWP_LIST, pg_arch_1=Arch1.FOLIO),
        Policies("v6.12.115", Hwpoison.RAW_HWP_LIST, pg_arch_1=Arch1.FOLIO),
        Policies("mainline 2026 (v7)", Hwpoison.RAW_HWP_LIST, pg_arch_1=Arch1.FOLIO),
        Policies("linux-mm 2026", Hwpoison.RAW_HWP_LIST, pg_arch_1=Arch1.FOLIO),
        Policies("v6.3", Hwpoison.RAW_HWP_LIST),  # devdax
    )
}
# The kernels before each fix of bugs B2, B4 and B7 (the fields' comments cite the fixes).
_BEFORE_FIX: dict[str, tuple[str, ...]] = {
    "split_pmd_block": ("RFC 2020-09", "v5.14", "v5.18"),
    "self_hosted_check": ("RFC 2020-09", "v5.14", "v5.18"),
    "restore_gfp": ("RFC 2020-09", "v5.14", "v5.18", "v5.19", "v6.1", "v6.1.52", "v6.2", "v6.5"),
}
_PRE_FIX_VALUE: dict[str, object] = {
    "split_pmd_block": False, "self_hosted_check": False, "restore_gfp": RestoreGfp.THISNODE,
}  # fmt: skip
for _field, _kernels in _BEFORE_FIX.items():
    for _kernel in _kernels:
        PRESET_POLICIES[_kernel] = replace(PRESET_POLICIES[_kernel], **{_field: _PRE_FIX_VALUE[_field]})  # type: ignore[arg-type]

# A custom scheme with no base preset: the newest kernel's behaviour.
LATEST = "linux-mm 2026"


def default_policies(scheme: Scheme, base: str | None = None) -> Policies:
    """The policies of the kernel version a preset models; a custom scheme takes those of
    the preset it is based on (`base`), else the newest kernel's.  reset_struct_pages()
    only runs where the reuse page is vmemmap page 0 (v5.18+: restored tails are copies
    of the head page)."""
    preset = PRESETS.get(base or scheme.name)
    kernel = scheme.version if base is None else PRESETS[base].version
    version = preset.version if preset is not None and (base is not None or scheme == preset) else LATEST
    reuses_head = scheme.target is Target.PAGE and scheme.target_page == 0
    resets = reuses_head and scheme.facts.nr_reset_struct_page > 0
    return replace(PRESET_POLICIES[version], kernel=kernel, restore_reset=resets)
