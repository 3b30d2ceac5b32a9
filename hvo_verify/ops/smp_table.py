# SPDX-License-Identifier: GPL-2.0-only
"""Several CPUs: the kernel's atomic steps as data, and each era's step lists.

A CPU runs one *actor* (a kernel path: the HugeTLB vmemmap remap, a speculative PFN
walker, memory_failure, CPU hotplug, ...).  An actor is a list of `Instr`s, one per thing
another CPU can observe in between: a READ_ONCE/WRITE_ONCE of a struct page field, an
atomic read-modify-write, a PTE store, a TLB flush, lock/unlock, rcu_read_lock/unlock,
synchronize_rcu, a page allocation, a branch.  Each instruction names the kernel
statement it stands for and cites it; the concrete semantics of each primitive is
ops/smp.py, its z3 twin encode/ops/smp.py, under the same function names.

The step lists are data a spec can change (`[smp.cpu.NAME] drop/add/move`): a reviewer
states "synchronize_rcu() after the remap" or "no page_ref_freeze()" without Python.
Which list an era runs is `PROTOCOLS[preset]` (the facts, with the commit that changed
each) and `program()` (the list those facts give).

The memory is abstracted to one *representative* struct page per vmemmap page: the
first struct page the page holds (pfn 64*v with a 64-byte struct page and 4 KiB pages).
After HVO the tail vmemmap pages map the head's page, so a representative of v >= 1
reads the head struct page: the kernel's "fake head" (include/linux/page-flags.h
page_fixed_fake_head()).  Each representative has the two fields the races are about:
`_refcount` and `flags` (PG_head, PG_hwpoison, the hugetlb mark, HPG_vmemmap_optimized).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace


class Prim(enum.Enum):
    """The primitives an instruction is built from (ops/smp.py, encode/ops/smp.py)."""

    LOCK = "lock"  # spin_lock()/mutex_lock(): waits while held
    UNLOCK = "unlock"
    DOWN_READ = "down_read"  # cpus_read_lock(): shares with readers, waits for a writer
    UP_READ = "up_read"
    RCU_READ_LOCK = "rcu_read_lock"
    RCU_READ_UNLOCK = "rcu_read_unlock"
    SYNCHRONIZE_RCU = "synchronize_rcu"  # waits for the read sections that began before it
    LOAD = "load"  # READ_ONCE() of a struct page field into a register
    STORE = "store"  # WRITE_ONCE() of a constant
    SET_BITS = "set_bits"  # set_bit() (atomic RMW: always stores)
    CLEAR_BITS = "clear_bits"  # clear_bit()
    ADD = "add"  # atomic_add_return() into a register (put_page(): atomic_dec_and_test)
    FREEZE = "freeze"  # page_ref_freeze(page, value): cmpxchg(_refcount, value, 0); ok = success
    FAKE_HEAD = "fake_head"  # page_is_fake_head(page): a non-head page whose struct page shows PG_head
    CMPXCHG = "cmpxchg"  # x86 `lock cmpxchg`: stores even when the compare fails
    CMPXCHG_LLSC = "cmpxchg_llsc"  # arm64 without LSE: ldxr, compare, stlxr only when equal
    BRANCH = "branch"  # if (register test) goto label
    SET_PTE = "set_pte"  # set_pte_at() on a vmemmap PTE
    CLEAR_PTE = "clear_pte"  # pte_clear(): break-before-make's "break"
    FLUSH_TLB = "flush_tlb"  # flush_tlb_kernel_range() (value 0) / flush_tlb_all() (value 1): every CPU's entries
    ALLOC_PAGE = "alloc_page"  # alloc_pages_node(..., 0) into a register
    COPY_PAGE = "copy_page"  # copy_page(register's frame, a vmemmap page)
    FREE_PAGE = "free_page"  # free the frame that backed a vmemmap page
    PMD_HEAD = "pmd_head"  # head = pmd_leaf(*pmd) ? pmd_page(*pmd) : NULL
    PMD_PAGE = "pmd_page"  # pmd_page(*pmd), whatever the PMD holds now
    BUILD_PTES = "build_ptes"  # set_pte_at() of head + i into the new, private PTE table
    PMD_POPULATE = "pmd_populate"  # pmd_populate_kernel(&init_mm, pmd, pgtable)
    RESET_PAGE = "reset_page"  # reset_struct_pages(): the frame in a register holds tails again
    POOL_STATE = "pool_state"  # read the folio's hstate list membership into a register
    CLAIM = "claim"  # take the folio off the free list (to `value`: IN_USE or REMOVED)
    LABEL = "label"  # a branch target: not a step (compiled away by ops/smp.py compile_program())


class Field(enum.Enum):
    REFCOUNT = "_refcount"
    FLAGS = "flags"


# Flag bits of the abstract `flags` word (positions are ours; the kernel's are
# model/facts.py): PG_head, the hugetlb mark (page type / compound dtor),
# PG_hwpoison, HPG_vmemmap_optimized.
PG_HEAD = 1
HUGETLB = 2
PG_HWPOISON = 4
VMEMMAP_OPTIMIZED = 8
FLAG_NAMES = {
    PG_HEAD: "PG_head",
    HUGETLB: "hugetlb",
    PG_HWPOISON: "PG_hwpoison",
    VMEMMAP_OPTIMIZED: "vmemmap_optimized",
}

# Registers each CPU has (`c`: a value read; `ok`: a cmpxchg result; `f`: an allocated
# frame; `p`: what the PMD held).
REGS = ("c", "ok", "f", "p")
NULL = -1  # pmd_head(): not a leaf
LEAF = 0  # pmd_page() of the vmemmap PMD leaf (the 2 MiB block its PTEs are built from)

# Where a folio is (the hstate lists, under hugetlb_lock).
FREE, IN_USE, REMOVED = 1, 2, 3
POOL_NAMES = {0: "not a HugeTLB folio yet", FREE: "free list", IN_USE: "in use", REMOVED: "dissolved"}

LOCKS = ("hugetlb_lock", "page_table_lock", "pcp_batch_high_lock", "cpu_hotplug_lock")


class Cmp(enum.Enum):
    EQ = "=="
    NE = "!="
    ANY = "&"  # (reg & value) != 0
    NONE = "!&"  # (reg & value) == 0


@dataclass(frozen=True, slots=True)
class Instr:
    """One atomic step.  `page` is a vmemmap page index relative to the CPU's folio
    (None: the page the actor was given); `frame` is "orig:V" (the frame that backed
    vmemmap page V at boot) or "reg" (the frame in register f)."""

    name: str  # short id, unique in its program; what traces and patches name
    prim: Prim
    cite: str  # the kernel statement, file, function, version
    lock: str = ""
    field: Field = Field.REFCOUNT
    page: int | None = None
    reg: str = "c"
    value: int = 0
    cmp: Cmp = Cmp.EQ
    label: str = ""  # BRANCH: the step to go to ("" = return)
    frame: str = "orig:0"
    rw: bool = True


@dataclass(frozen=True, slots=True)
class Protocol:
    """The facts of one era that decide its step lists, each with its source."""

    name: str
    head_copy: bool = False  # 6.2: the head vmemmap page is copied to a new page (vmemmap_head)
    reuse_vpage: int = 0  # the vmemmap page whose frame the tails map (5.14: 1; 5.18+: 0)
    split_head_under_lock: bool = True  # B3 fix: head = pmd_leaf ? pmd_page : NULL under the lock
    refcount_frozen: bool = False  # bd225530a4c7 (6.10): pool folios are HVO'd with _refcount 0
    synchronize_rcu: bool = False  # bd225530a4c7: synchronize_rcu() before the remap
    sync_only_when_optimizing: bool = False  # B9 fix: not without HVO, once per batch
    ref_add_unless_rcu: bool = False  # bd225530a4c7: page_ref_add_unless() under RCU, fake-head test
    hugetlb_before_optimize: bool = False  # d8f5f7e445f0 (6.6): __folio_set_hugetlb() first
    optimized_flag_first: bool = False  # 6.10+: folio_set_hugetlb_vmemmap_optimized() before the remap
    static_key: bool = True  # 5.18+: static_branch_inc/dec(&hugetlb_optimize_vmemmap_key)
    pcp_disabled_dissolve: bool = False  # B12: memory_failure() dissolves under zone_pcp_disable()
    batched_flush: bool = False  # v6.8: hugetlb_vmemmap_optimize_folios() flushes once per batch
    tails_writable: bool = False  # the RFC (2020): tail vmemmap pages are writable aliases
    shared_tail: bool = False  # 2026: tails map one shared page of valid tail struct pages (no fake heads)
    restore_reset: bool = True  # 5.18..6.12.114: vmemmap_restore_pte() resets the copied struct pages
    # c0b495b91a47 (v7 10/18): the rollback of a failed remap walks PTE 0 too and fills every
    # restored page from the tail template (fixed by "mm/hugetlb_vmemmap: fix incorrect
    # vmemmap restore in rollback": only PTEs that map vmemmap_tail, from what they map)
    rollback_tail_template: bool = False
    source: str = ""


_P = Protocol
# Each era's protocol facts.  Sources: the Debian trees are linux-source-6.1 (6.1.192)
# and linux-source-6.12 (6.12.117); the others are the commits named.
PROTOCOLS: dict[str, Protocol] = {
    p.name: p
    for p in (
        _P("rfc-2020", reuse_vpage=1, tails_writable=True, static_key=False, split_head_under_lock=False, pcp_disabled_dissolve=True,
           source="RFC v1 (2020): PMD split as in 5.14; no static key"),
        _P("v5.14", reuse_vpage=1, static_key=False, split_head_under_lock=False, pcp_disabled_dissolve=True,
           source="v5.14 mm/sparse-vmemmap.c split_vmemmap_huge_pmd() (pmd_page() read without the lock)"),
        _P("v5.18", split_head_under_lock=False, pcp_disabled_dissolve=True,
           source="v5.18 hugetlb_free_vmemmap_enabled_key (static key); B3 pre-fix"),
        _P("v5.19", split_head_under_lock=False, pcp_disabled_dissolve=True, source="as v5.18"),
        _P("v6.1", split_head_under_lock=False, pcp_disabled_dissolve=True,
           source="upstream v6.1.0: B3 and B12 pre-fix; __prep_new_huge_page() optimizes before the dtor"),
        _P("v6.1.52", pcp_disabled_dissolve=False,
           source="linux-source-6.1 (6.1.192) mm/hugetlb_vmemmap.c:47-49 (B3 fix), mm/memory-failure.c:88-101 "
                  "(B12 fix), mm/hugetlb.c:1989-1993 (optimize before set_compound_page_dtor: B6 not fixed)"),
        _P("v6.2", head_copy=True, split_head_under_lock=False, pcp_disabled_dissolve=True,
           source="v6.2: head vmemmap page copied (11aad2631bf7); B3 pre-fix"),
        _P("v6.5", head_copy=True, pcp_disabled_dissolve=True, source="v6.5: B3 fix (Jul 2023)"),
        _P("v6.8", head_copy=True, hugetlb_before_optimize=True, pcp_disabled_dissolve=True, batched_flush=True,
           source="d8f5f7e445f0 (v6.6): __folio_set_hugetlb() before optimizing; batched optimize (v6.8)"),
        _P("v6.10", head_copy=True, hugetlb_before_optimize=True, refcount_frozen=True, synchronize_rcu=True,
           ref_add_unless_rcu=True, optimized_flag_first=True, batched_flush=True,
           source="bd225530a4c7 (v6.10): refcount frozen, synchronize_rcu() per folio; B12 fixed in v6.9"),
        *(
            _P(name, head_copy=True, hugetlb_before_optimize=True, refcount_frozen=True, synchronize_rcu=True,
               sync_only_when_optimizing=True, ref_add_unless_rcu=True, optimized_flag_first=True, batched_flush=True,
               source="linux-source-6.12 mm/hugetlb_vmemmap.c:503-542 (freeze check, static_branch_inc, "
                      "synchronize_rcu once per batch), include/linux/page_ref.h:231-244, mm/hugetlb.c:1975-1979, "
                      "2037 (folio_ref_freeze)")
            for name in ("v6.12.111", "4eeec8c89a0c", "v6.15")
        ),
        _P("v6.12.115", head_copy=True, hugetlb_before_optimize=True, refcount_frozen=True, synchronize_rcu=True,
           sync_only_when_optimizing=True, ref_add_unless_rcu=True, optimized_flag_first=True, batched_flush=True,
           restore_reset=False,
           source="linux-source-6.12 (6.12.117) mm/hugetlb_vmemmap.c:236-260 vmemmap_restore_pte(): copy_page() "
                  "only, no reset_struct_pages(); otherwise as v6.12.111"),
        # The 2026 series "mm: Eliminate fake head pages from vmemmap optimization" (v7): no
        # synchronize_rcu() (01b1d0ffb6f7, v7 14/18), page_ref_add_unless() is a bare
        # atomic_add_unless() (32c440d67e6c, v7 13/18), no static key, the rollback of v7 10/18.
        _P("01b1d0ffb6f7", head_copy=True, hugetlb_before_optimize=True, refcount_frozen=True,
           optimized_flag_first=True, batched_flush=True, shared_tail=True, restore_reset=False, static_key=False,
           rollback_tail_template=True,
           source="v7 of the series as merged: c0b495b91a47 (10/18) vmemmap_remap_free() rollback over "
                  "[start, start + nr_walked * PAGE_SIZE) from the tail template; 622026e87c40 (12/18) shared tail "
                  "page; 32c440d67e6c (13/18) include/linux/page_ref.h page_ref_add_unless(): atomic_add_unless() "
                  "without rcu_read_lock(); 01b1d0ffb6f7 (14/18) VMEMMAP_SYNCHRONIZE_RCU removed (read from the "
                  "patch mails, the commits themselves are not in the stored sources; no static key: inferred "
                  "from linux-mm @0454b15e)"),
        # The fix proposed in docs/reviews/2026-hvo-shared-tail.txt for candidate 1: the
        # grace period back before the remap, page_ref_add_unless() under rcu_read_lock()
        # again (no fake-head test: there are no fake heads).  A proposal, not a kernel.
        _P("01b1d0ffb6f7+rcu", head_copy=True, hugetlb_before_optimize=True, refcount_frozen=True,
           synchronize_rcu=True, sync_only_when_optimizing=True, ref_add_unless_rcu=True, optimized_flag_first=True,
           batched_flush=True, shared_tail=True, restore_reset=False, static_key=False, rollback_tail_template=True,
           source="proposal: 01b1d0ffb6f7 with bd225530a4c7's synchronize_rcu() before the remap and "
                  "rcu_read_lock() around page_ref_add_unless()'s read and cmpxchg"),
        _P("mask-2026", head_copy=True, hugetlb_before_optimize=True, refcount_frozen=True,
           optimized_flag_first=True, batched_flush=True, shared_tail=True, restore_reset=False, static_key=False,
           source="linux-mm @0454b15e mm/hugetlb_vmemmap.c: __hugetlb_vmemmap_optimize_folio() (no "
                  "synchronize_rcu(), no static_branch_inc(), VM_WARN_ON_ONCE_FOLIO(folio_ref_count(folio)), "
                  "folio_set_hugetlb_vmemmap_optimized() before the remap), __hugetlb_vmemmap_optimize_folios() "
                  "(flush_tlb_all() once per batch), vmemmap_restore_pte() (\"if (walk->vmemmap_tail != src) return "
                  "0\": the rollback fix)"),
    )
}  # fmt: skip
# The presets with no pool protocol: `none` never remaps; Device-DAX folios are never
# remapped after boot (vmemmap_populate_compound_pages()).
NO_PROTOCOL = {"none": "the scheme never remaps", "devdax": "Device-DAX vmemmap is deduplicated at populate time"}


def protocol(preset: str) -> Protocol | None:
    return PROTOCOLS.get(preset)


# -- the actors ---------------------------------------------------------------------------


def _i(name: str, prim: Prim, cite: str, **kw: object) -> Instr:
    return Instr(name, prim, cite, **kw)  # type: ignore[arg-type]


def _label(name: str) -> Instr:
    return Instr(name, Prim.LABEL, "(branch target)")


FLUSH_ALL_CITE = (
    "mm/hugetlb_vmemmap.c hugetlb_vmemmap_optimize_folios() / hugetlb_vmemmap_restore_folios(): flush_tlb_all() "
    "once per batch (VMEMMAP_REMAP_NO_TLB_FLUSH, v6.8)"
)
SYNC_CITE = (
    "mm/hugetlb_vmemmap.c __hugetlb_vmemmap_optimize_folio() / __hugetlb_vmemmap_restore_folio(): "
    "if (flags & VMEMMAP_SYNCHRONIZE_RCU) synchronize_rcu() (bd225530a4c7)"
)
_SPLIT_CITE = "mm/hugetlb_vmemmap.c split_vmemmap_huge_pmd() / vmemmap_pmd_entry()"


def _split(p: Protocol) -> list[Instr]:
    """Split the vmemmap PMD into a PTE table (B3: where the head page is read)."""
    if p.split_head_under_lock:
        head = [
            _i("ptl_lock", Prim.LOCK, f"{_SPLIT_CITE}: spin_lock(&init_mm.page_table_lock)", lock="page_table_lock"),
            _i("pmd_head", Prim.PMD_HEAD, f"{_SPLIT_CITE}: head = pmd_leaf(*pmd) ? pmd_page(*pmd) : NULL", reg="p"),
            _i("ptl_unlock", Prim.UNLOCK, f"{_SPLIT_CITE}: spin_unlock()", lock="page_table_lock"),
            _i(
                "if_no_head",
                Prim.BRANCH,
                f"{_SPLIT_CITE}: if (!head) return 0",
                reg="p",
                value=NULL,
                label="split_done",
            ),
        ]
    else:
        head = [
            _i("pmd_leaf", Prim.PMD_HEAD, f"{_SPLIT_CITE} (before the B3 fix): if (!pmd_leaf(*pmd)) return 0", reg="p"),
            _i("if_no_head", Prim.BRANCH, f"{_SPLIT_CITE}: not a leaf: already split", reg="p", value=NULL,
               label="split_done"),
            _i("pmd_page", Prim.PMD_PAGE, f"{_SPLIT_CITE} (before the B3 fix): page = pmd_page(*pmd), no lock",
               reg="p"),
        ]  # fmt: skip
    return [
        *head,
        _i("build_ptes", Prim.BUILD_PTES, f"{_SPLIT_CITE}: pte_alloc_one_kernel(); set_pte_at(mk_pte(head + i))",
           reg="p"),
        _i("ptl_lock2", Prim.LOCK, f"{_SPLIT_CITE}: spin_lock(&init_mm.page_table_lock)", lock="page_table_lock"),
        _i("pmd_recheck", Prim.PMD_HEAD, f"{_SPLIT_CITE}: if (likely(pmd_leaf(*pmd)))", reg="c"),
        _i("if_split_raced", Prim.BRANCH, f"{_SPLIT_CITE}: else pte_free_kernel()", reg="c", value=NULL,
           label="split_unlock"),
        _i("pmd_populate", Prim.PMD_POPULATE, f"{_SPLIT_CITE}: pmd_populate_kernel(&init_mm, pmd, pgtable)"),
        _label("split_unlock"),
        _i("ptl_unlock2", Prim.UNLOCK, f"{_SPLIT_CITE}: spin_unlock()", lock="page_table_lock"),
        _label("split_done"),
    ]  # fmt: skip


def optimize(p: Protocol, nr_vpages: int, *, sync: bool = True) -> list[Instr]:
    """hugetlb_vmemmap_optimize_folio(): `sync` is whether this folio's call is the one
    of its batch that synchronizes RCU (VMEMMAP_SYNCHRONIZE_RCU)."""
    c = "mm/hugetlb_vmemmap.c __hugetlb_vmemmap_optimize_folio()"
    out: list[Instr] = []
    if p.static_key:
        out += [
            _i("static_branch_inc", Prim.DOWN_READ,
               f"{c}: static_branch_inc(&hugetlb_optimize_vmemmap_key) -> cpus_read_lock()", lock="cpu_hotplug_lock"),
            _i("static_branch_inc_done", Prim.UP_READ, f"{c}: static_branch_inc() -> cpus_read_unlock()",
               lock="cpu_hotplug_lock"),
        ]  # fmt: skip
    if p.synchronize_rcu and sync:
        out.append(_i("synchronize_rcu", Prim.SYNCHRONIZE_RCU, SYNC_CITE))
    if p.optimized_flag_first:
        out.append(_i("set_optimized", Prim.SET_BITS, f"{c}: folio_set_hugetlb_vmemmap_optimized() before the remap",
                      field=Field.FLAGS, page=0, value=VMEMMAP_OPTIMIZED))  # fmt: skip
    out += _split(p)
    r = "mm/hugetlb_vmemmap.c vmemmap_remap_pte()"
    if p.head_copy:
        out += [
            _i("alloc_vmemmap_head", Prim.ALLOC_PAGE, f"{c}: vmemmap_head = alloc_pages_node(nid, GFP_KERNEL, 0)",
               reg="f"),
            _i("copy_head", Prim.COPY_PAGE, f"{c}: copy_page(page_to_virt(vmemmap_head), folio)", page=0, reg="f"),
            _i("remap_pte_0", Prim.SET_PTE, f"{r}: set_pte_at(mk_pte(vmemmap_head, PAGE_KERNEL)) (smp_wmb() first)",
               page=0, frame="reg", rw=True),
        ]  # fmt: skip
        target = "tail" if p.shared_tail else "reg"
    else:
        target = f"orig:{p.reuse_vpage}"
    for v in range(p.reuse_vpage + 1, nr_vpages):
        out.append(_i(f"remap_pte_{v}", Prim.SET_PTE, f"{r}: set_pte_at(mk_pte(vmemmap_tail, PAGE_KERNEL_RO))",
                      page=v, frame=target, rw=p.tails_writable))  # fmt: skip
    out.append(_i("flush_tlb", Prim.FLUSH_TLB, "mm/hugetlb_vmemmap.c vmemmap_remap_range(): flush_tlb_kernel_range()"))
    if not p.optimized_flag_first:
        out.append(_i("set_optimized", Prim.SET_BITS, f"{c}: SetHPageVmemmapOptimized() after the remap",
                      field=Field.FLAGS, page=0, value=VMEMMAP_OPTIMIZED))  # fmt: skip
    first_freed = 0 if p.head_copy else p.reuse_vpage + 1
    for v in range(first_freed, nr_vpages):
        out.append(_i(f"free_vmemmap_page_{v}", Prim.FREE_PAGE,
                      "mm/hugetlb_vmemmap.c free_vmemmap_page_list() -> free_vmemmap_page()", frame=f"orig:{v}"))  # fmt: skip
    return out


def prep_new_hugetlb_folio(p: Protocol, nr_vpages: int) -> list[Instr]:
    """Allocate a fresh folio whose page `page` (the actor's) was an order-0 page a
    moment ago, make it a HugeTLB folio and optimize it (B6, B8 setup)."""
    h = "mm/hugetlb.c"
    out = [
        _i("folio_put", Prim.ADD, "the order-0 page's folio_put(): put_page_testzero() -> atomic_dec_and_test()",
           value=-1),
        _i("if_still_used", Prim.BRANCH, "someone else still holds a reference: the page is not freed, "
           "and cannot become part of a new folio", cmp=Cmp.NE, value=0),
        _i("prep_compound_head", Prim.STORE, "mm/page_alloc.c prep_compound_page(): __SetPageHead(head)",
           field=Field.FLAGS, page=0, value=PG_HEAD),
    ]  # fmt: skip
    if p.refcount_frozen:
        out += [
            _i("folio_ref_freeze", Prim.FREEZE, f"{h} alloc_buddy_hugetlb_folio(): folio_ref_freeze(folio, 1) "
               "(linux-source-6.12 mm/hugetlb.c:2037)", page=0, value=1),
            _i("if_freeze_failed", Prim.BRANCH, f"{h}: folio_put(folio); retry (not modelled: return)", reg="ok",
               value=0),
        ]  # fmt: skip
    mark = _i("folio_set_hugetlb", Prim.SET_BITS,
              f"{h} init_new_hugetlb_folio(): __folio_set_hugetlb() (set_compound_page_dtor() before 6.9)",
              field=Field.FLAGS, page=0, value=HUGETLB)  # fmt: skip
    body = optimize(p, nr_vpages)
    return out + ([mark, *body] if p.hugetlb_before_optimize else [*body, mark])


def speculative_get_page(p: Protocol) -> list[Instr]:
    """A speculative PFN walker (compaction isolate_migratepages_block(), page_idle,
    /proc/kpageflags, get_hwpoison_page()) takes a reference on any pfn:
    get_page_unless_zero() -> page_ref_add_unless(page, 1, 0), then drops it."""
    a = "include/linux/page_ref.h page_ref_add_unless()"
    read = _i("page_ref_count", Prim.LOAD, "arch_atomic_fetch_add_unless(): c = atomic_read(&page->_refcount)")
    if_zero = _i("if_zero", Prim.BRANCH, "atomic_add_unless(): if (c == u) break", value=0, label="out")
    cas = _i("try_cmpxchg", Prim.CMPXCHG, "arch_atomic_try_cmpxchg(&page->_refcount, &c, c + 1): lock cmpxchg",
             value=1)  # fmt: skip
    if not p.ref_add_unless_rcu:
        body = [read, if_zero, cas]
    else:
        # With a shared tail page (2026) there are no fake heads: the RCU section alone
        # (the fix proposed for the series, PROTOCOLS["01b1d0ffb6f7+rcu"]).
        fake = [] if p.shared_tail else [
            _i("page_is_fake_head", Prim.FAKE_HEAD, f"{a}: page_is_fake_head(page) (page_fixed_fake_head(): "
               "PG_head on a page that is not the folio's head)"),
            _i("if_fake_head", Prim.BRANCH, f"{a}: if (!page_is_fake_head(page) && ...)", cmp=Cmp.NE, value=0,
               label="rcu_read_unlock"),
        ]  # fmt: skip
        body = [
            _i("rcu_read_lock", Prim.RCU_READ_LOCK, f"{a}: rcu_read_lock() (bd225530a4c7)"),
            *fake,
            _i("page_ref_count", Prim.LOAD, f"{a}: page_ref_count(page) != u"),
            _i("if_zero", Prim.BRANCH, f"{a}: page_ref_count(page) != u", value=0, label="rcu_read_unlock"),
            cas,
            _i("rcu_read_unlock", Prim.RCU_READ_UNLOCK, f"{a}: rcu_read_unlock()"),
        ]  # fmt: skip
    return [
        *body,
        _i("if_not_got", Prim.BRANCH, "get_page_unless_zero() returned false", reg="ok", value=0, label="out"),
        _i("put_page", Prim.ADD, "the walker's put_page(): atomic_dec(&page->_refcount)", value=-1),
        _label("out"),
    ]


def speculative_get_page_llsc(p: Protocol) -> list[Instr]:
    """The same walker on arm64 without LSE atomics: arch_atomic_cmpxchg() is the LL/SC
    loop (arch/arm64/include/asm/atomic_ll_sc.h __ll_sc__cmpxchg_case_mb: ldxr, eor,
    cbnz past the stlxr), which stores nothing when the compare fails [from memory, not
    re-read].  With LSE (casal) the Arm ARM permits a failed compare to write the value it
    read back, as x86 does: that is the `get_page_unless_zero` actor."""
    llsc = "arch_atomic_try_cmpxchg() -> arm64 LL/SC cmpxchg: ldxr; cbnz (compare fails: no stlxr); stlxr"
    return [replace(ins, name=f"{ins.name}_llsc" if ins.prim is Prim.CMPXCHG else ins.name, prim=Prim.CMPXCHG_LLSC,
                    cite=llsc) if ins.prim is Prim.CMPXCHG else ins for ins in speculative_get_page(p)]  # fmt: skip


def gup_fast(p: Protocol) -> list[Instr]:
    """GUP-fast on a mapped HugeTLB folio, for block I/O (O_DIRECT): the page is
    `pmd_page(orig) + idx` (no access), try_grab_folio_fast() takes a reference on its
    folio speculatively (folio_try_get() -> page_ref_add_unless() on the head), re-checks
    page_folio(), and the I/O completion drops the reference (mm/gup.c; 6.12
    gup_fast_pmd_leaf(), try_grab_folio_fast())."""
    g = "mm/gup.c try_grab_folio_fast()"
    grab = []
    for ins in speculative_get_page(p):
        if ins.prim is Prim.LABEL or ins.name == "put_page":
            continue
        on_head = replace(ins, page=0) if ins.prim in (Prim.LOAD, Prim.CMPXCHG, Prim.FAKE_HEAD) else ins
        label = f"gup_{ins.label}" if ins.label else ""
        grab.append(
            replace(on_head, name=f"gup_{ins.name}", label=label, cite=f"{g}: folio_try_get(folio) -> {ins.cite}")
        )
    return [
        _i("page_folio", Prim.LOAD, f"{g}: folio = page_folio(page) (READ_ONCE(page->compound_head))",
           field=Field.FLAGS),
        *grab,
        _i("page_folio_recheck", Prim.LOAD, f"{g}: if (unlikely(page_folio(page) != folio)) folio_put()",
           field=Field.FLAGS),
        _i("gup_put_folio", Prim.ADD, "mm/gup.c gup_put_folio() at I/O completion (unpin_user_pages())",
           page=0, value=-1),
        _label("gup_out"),
    ]  # fmt: skip


def memory_failure_dissolve(p: Protocol, nr_vpages: int) -> list[Instr]:
    """memory_failure() on a free HugeTLB folio: dissolve_free_hugetlb_folio() restores
    the vmemmap, whose static_branch_dec() takes cpu_hotplug_lock (B12)."""
    m = "mm/memory-failure.c"
    pcp = [_i("zone_pcp_disable", Prim.LOCK, f"{m} memory_failure(): zone_pcp_disable() -> mutex_lock("
              "&pcp_batch_high_lock) (before the B12 fix, CVE-2024-26987)", lock="pcp_batch_high_lock")]  # fmt: skip
    restore = [
        _i("static_branch_dec", Prim.DOWN_READ, "mm/hugetlb_vmemmap.c __hugetlb_vmemmap_restore_folio(): "
           "static_branch_dec() -> cpus_read_lock()", lock="cpu_hotplug_lock"),
        _i("static_branch_dec_done", Prim.UP_READ, "static_branch_dec() -> cpus_read_unlock()",
           lock="cpu_hotplug_lock"),
    ]  # fmt: skip
    if p.pcp_disabled_dissolve:
        return [*pcp, *restore,
                _i("zone_pcp_enable", Prim.UNLOCK, f"{m}: zone_pcp_enable()", lock="pcp_batch_high_lock")]  # fmt: skip
    return [
        *restore,
        _i("drain_all_pages", Prim.LOCK, f"{m} __page_handle_poison(): drain_all_pages() -> "
           "mutex_lock(&pcp_batch_high_lock) (the B12 fix: no zone_pcp_disable() around the dissolve)",
           lock="pcp_batch_high_lock"),
        _i("drain_all_pages_done", Prim.UNLOCK, f"{m}: drain_all_pages() done", lock="pcp_batch_high_lock"),
    ]  # fmt: skip


def cpu_hotplug(p: Protocol) -> list[Instr]:
    """CPU hotplug: cpu_hotplug_lock for write, then a pcp update under pcp_batch_high_lock."""
    k = "kernel/cpu.c _cpu_up()/_cpu_down()"
    return [
        _i("cpus_write_lock", Prim.LOCK, f"{k}: cpus_write_lock()", lock="cpu_hotplug_lock"),
        _i("pcp_lock", Prim.LOCK, "mm/page_alloc.c page_alloc_cpu_online/dead -> zone_pcp_update(): "
           "mutex_lock(&pcp_batch_high_lock)", lock="pcp_batch_high_lock"),
        _i("pcp_unlock", Prim.UNLOCK, "mutex_unlock(&pcp_batch_high_lock)", lock="pcp_batch_high_lock"),
        _i("cpus_write_unlock", Prim.UNLOCK, f"{k}: cpus_write_unlock()", lock="cpu_hotplug_lock"),
    ]  # fmt: skip


def memory_failure_raw(p: Protocol) -> list[Instr]:
    """memory_failure() on a page of a folio it does not see as HugeTLB: the compound-page
    path sets PG_hwpoison on the raw page (B5/B6 consequence)."""
    m = "mm/memory-failure.c memory_failure()"
    return [
        _i("folio_test_hugetlb", Prim.LOAD, f"{m}: folio_test_hugetlb(page_folio(p))", field=Field.FLAGS, page=0),
        _i("if_hugetlb", Prim.BRANCH, f"{m}: hugetlb: try_memory_failure_hugetlb() (raw_hwp list, no tail write)",
           cmp=Cmp.ANY, value=HUGETLB, label="out"),
        _i("TestSetPageHWPoison", Prim.SET_BITS, f"{m}: TestSetPageHWPoison(p) on the raw page", field=Field.FLAGS,
           value=PG_HWPOISON),
        _label("out"),
    ]  # fmt: skip


def memory_failure_hugetlb(p: Protocol) -> list[Instr]:
    """memory_failure() on a raw page of a HugeTLB folio that is neither free nor in use
    (still being prepared: MF_HUGETLB_RETRY, then the retry with MF_NO_RETRY) records the
    error on the head: hugetlb_update_hwpoison() -> folio_test_set_hwpoison(folio).  It
    takes no lock the HVO path takes (2026 review, candidate 7)."""
    m = "mm/memory-failure.c (linux-mm @004449ba)"
    return [
        _i("mf_test_hugetlb", Prim.LOAD, f"{m} try_memory_failure_hugetlb() -> __get_huge_page_for_hwpoison(): "
           "folio_test_hugetlb(folio)", field=Field.FLAGS, page=0),
        _i("if_mf_not_hugetlb", Prim.BRANCH, f"{m}: not a HugeTLB folio: the raw-page path", cmp=Cmp.NONE,
           value=HUGETLB, label="mf_hugetlb_out"),
        _i("folio_test_set_hwpoison", Prim.SET_BITS, f"{m} hugetlb_update_hwpoison(): folio_test_set_hwpoison(folio) "
           "(the MF_NO_RETRY retry)", field=Field.FLAGS, page=0, value=PG_HWPOISON),
        _label("mf_hugetlb_out"),
    ]  # fmt: skip


def copy_user_large_folio(p: Protocol) -> list[Instr]:
    """HugeTLB copy-on-write (hugetlb_wp() -> copy_user_large_folio()) copies subpage by
    subpage; arm64 copy_highpage() resets the KASAN tag of each destination subpage under
    KASAN_HW_TAGS: page_kasan_tag_reset(to) -> page_kasan_tag_set(), a try_cmpxchg() loop
    on to->flags that stores even when the flags do not change (2026 review, candidate 3)."""
    c = "arch/arm64/mm/copypage.c (linux-mm @30abedf3) copy_highpage(): page_kasan_tag_reset(to)"
    k = "include/linux/mm.h page_kasan_tag_set() [from memory, not re-read]"
    return [
        _i("kasan_read_flags", Prim.LOAD, f"{c} -> {k}: old_flags = READ_ONCE(page->flags)", field=Field.FLAGS),
        _i("kasan_try_cmpxchg", Prim.CMPXCHG, f"{c} -> {k}: try_cmpxchg(&page->flags, &old_flags, flags)",
           field=Field.FLAGS, value=0),
    ]  # fmt: skip


def optimize_fail(p: Protocol, nr_vpages: int) -> list[Instr]:
    """hugetlb_vmemmap_optimize_folio() whose remap walk fails at the folio's last vmemmap
    page (the next PMD's pte_alloc_one_kernel() fails: the batched path gives up splitting
    at the first -ENOMEM; or arm64's in-place update gives up with -EAGAIN), then
    vmemmap_remap_free()'s rollback over [start, start + nr_walked * PAGE_SIZE).  Before
    the fix (c0b495b91a47, v7 10/18) the rollback walks PTE 0 too and fills each page from
    the tail template; after it ("mm/hugetlb_vmemmap: fix incorrect vmemmap restore in
    rollback", linux-mm @0454b15e vmemmap_restore_pte()) only PTEs that map vmemmap_tail
    are restored, from the page they map."""
    r = "mm/hugetlb_vmemmap.c vmemmap_remap_free() rollback -> vmemmap_restore_pte()"
    steps = optimize(p, nr_vpages)
    failed = f"remap_pte_{nr_vpages - 1}"
    cut = next((n for n, ins in enumerate(steps) if ins.name == failed), None)
    if cut is None:  # no vmemmap page past the kept ones: nothing to fail
        return steps
    walked = [ins.page for ins in steps[:cut] if ins.prim is Prim.SET_PTE and ins.page is not None]
    restored = walked if p.rollback_tail_template else [v for v in walked if v > 0]
    out = [
        *steps[:cut],
        _i("remap_fails", Prim.FLUSH_TLB, f"vmemmap page {nr_vpages - 1}: the walk fails (-ENOMEM / -EAGAIN); "
           "vmemmap_remap_range(): flush_tlb_kernel_range()"),
    ]  # fmt: skip
    for v in restored:
        src = 1 if p.rollback_tail_template else v
        how = ("copy_page(dst, the tail template: a tail struct page) (c0b495b91a47)" if p.rollback_tail_template
               else "copy_page(dst, src = pte_page(ptep_get(pte))) if src == vmemmap_tail (the fix)")  # fmt: skip
        out += [
            _i(f"rollback_alloc_{v}", Prim.ALLOC_PAGE, f"{r}: dst = list_first_entry(walk->vmemmap_pages) (a frame "
               "the walk unmapped; modelled as a free frame)", reg="f"),
            _i(f"rollback_copy_{v}", Prim.COPY_PAGE, f"{r}: {how}", page=src, reg="f"),
            _i(f"rollback_pte_{v}", Prim.SET_PTE, f"{r}: set_pte_at(mk_pte(dst, PAGE_KERNEL))", page=v, frame="reg",
               rw=True),
        ]  # fmt: skip
    out.append(_i("rollback_flush", Prim.FLUSH_TLB, "vmemmap_remap_range() of the rollback: flush_tlb_kernel_range()"))
    if p.optimized_flag_first:
        out.append(_i("rollback_clear_optimized", Prim.CLEAR_BITS, "mm/hugetlb_vmemmap.c "
                      "__hugetlb_vmemmap_optimize_folio(): if (ret < 0) folio_clear_hugetlb_vmemmap_optimized()",
                      field=Field.FLAGS, page=0, value=VMEMMAP_OPTIMIZED))  # fmt: skip
    for v in walked:
        out.append(_i(f"rollback_free_{v}", Prim.FREE_PAGE, "hugetlb_vmemmap_optimize_folio(): "
                      "free_vmemmap_page_list(): the frames no PTE maps any more", frame=f"orig:{v}"))  # fmt: skip
    return out


def vmemmap_reader(p: Protocol) -> list[Instr]:
    """Any reader of a struct page, twice (a PFN walker's PageHead(), then page_folio();
    /proc/kpageflags stable_page_flags())."""
    return [
        _i("read_flags", Prim.LOAD, "READ_ONCE(page->flags): PageHead(page)", field=Field.FLAGS),
        _i("read_flags_again", Prim.LOAD, "READ_ONCE(page->flags): page_folio(page) -> compound_head()",
           field=Field.FLAGS),
    ]  # fmt: skip


def _take(op: str, to: int, cite: str) -> list[Instr]:
    """Take the folio off the free list under hugetlb_lock, or return if it is not there."""
    h = "mm/hugetlb.c"
    return [
        _i("hugetlb_lock", Prim.LOCK, f"{h}: spin_lock_irq(&hugetlb_lock)", lock="hugetlb_lock"),
        _i("on_free_list", Prim.POOL_STATE, f"{h}: is the folio on the hstate free list?"),
        _i("if_not_free", Prim.BRANCH, f"{h}: not on the free list: back off", cmp=Cmp.NE, value=FREE,
           label="unlock_hugetlb"),
        _i(f"{op}_claim", Prim.CLAIM, f"{cite}: list_del(&folio->lru) (off the free list)", value=to),
        _label("unlock_hugetlb"),
        _i("hugetlb_unlock", Prim.UNLOCK, f"{h}: spin_unlock_irq(&hugetlb_lock)", lock="hugetlb_lock"),
        _i("if_not_taken", Prim.BRANCH, f"{h}: the folio was not taken: return", cmp=Cmp.NE, value=FREE),
    ]  # fmt: skip


def alloc_hugetlb_folio(p: Protocol) -> list[Instr]:
    """A user allocates the folio from the pool (dequeue under hugetlb_lock), and its
    _refcount becomes 1."""
    return [
        *_take("dequeue", IN_USE, "mm/hugetlb.c alloc_hugetlb_folio() -> dequeue_hugetlb_folio_node_exact()"),
        _i("folio_ref_unfreeze", Prim.STORE, "mm/hugetlb.c alloc_hugetlb_folio(): folio_ref_unfreeze(folio, 1) "
           "(v6.10; set_page_refcounted() before)", page=0, value=1),
    ]  # fmt: skip


def dissolve_free_hugetlb_folio(p: Protocol, nr_vpages: int) -> list[Instr]:
    """dissolve_free_hugetlb_folio(): off the free list under hugetlb_lock
    (remove_hugetlb_folio()), then the vmemmap restore of update_and_free_hugetlb_folio()."""
    return [
        *_take("dissolve", REMOVED, "mm/hugetlb.c dissolve_free_hugetlb_folio() -> remove_hugetlb_folio()"),
        *restore(p, nr_vpages),
    ]  # fmt: skip


def _offset(ins: Instr, nr_vpages: int, suffix: str) -> Instr:
    """The same step on the next folio of a batch (pages and frames shifted by one folio)."""
    page = None if ins.page is None else ins.page + nr_vpages
    frame = ins.frame if ins.frame in ("reg", "tail") else f"orig:{int(ins.frame.split(':')[1]) + nr_vpages}"
    label = ins.label + suffix if ins.label else ""
    return replace(ins, name=ins.name + suffix, page=page, frame=frame, label=label)


def restore(p: Protocol, nr_vpages: int, *, sync: bool = True) -> list[Instr]:
    """hugetlb_vmemmap_restore_folio(): a new page for every remapped vmemmap page,
    filled from what the PTE maps now, then mapped read-write (`sync`: this call is the
    one of its batch that synchronizes RCU)."""
    c = "mm/hugetlb_vmemmap.c __hugetlb_vmemmap_restore_folio()"
    r = "mm/hugetlb_vmemmap.c vmemmap_restore_pte()"
    out: list[Instr] = []
    if p.synchronize_rcu and sync:
        out.append(_i("synchronize_rcu", Prim.SYNCHRONIZE_RCU, SYNC_CITE))
    for v in range(p.reuse_vpage + 1, nr_vpages):
        out += [
            _i(f"alloc_vmemmap_page_{v}", Prim.ALLOC_PAGE, "alloc_vmemmap_page_list(): alloc_pages_node()", reg="f"),
            _i(f"copy_page_{v}", Prim.COPY_PAGE, f"{r}: copy_page(dst, src = pte_page(ptep_get(pte)))", page=v,
               reg="f"),
        ]  # fmt: skip
        if p.restore_reset:
            out.append(_i(f"reset_struct_pages_{v}", Prim.RESET_PAGE,
                          f"{r}: reset_struct_pages(to): the copied head becomes a tail again", reg="f"))  # fmt: skip
        out.append(_i(f"restore_pte_{v}", Prim.SET_PTE, f"{r}: set_pte_at(mk_pte(dst, PAGE_KERNEL))", page=v,
                      frame="reg", rw=True))  # fmt: skip
    out += [
        _i("flush_tlb", Prim.FLUSH_TLB, "mm/hugetlb_vmemmap.c vmemmap_remap_range(): flush_tlb_kernel_range()"),
        _i("clear_optimized", Prim.CLEAR_BITS, f"{c}: folio_clear_hugetlb_vmemmap_optimized()", field=Field.FLAGS,
           page=0, value=VMEMMAP_OPTIMIZED),
    ]  # fmt: skip
    if p.static_key:
        out += [
            _i("static_branch_dec", Prim.DOWN_READ, f"{c}: static_branch_dec() -> cpus_read_lock()",
               lock="cpu_hotplug_lock"),
            _i("static_branch_dec_done", Prim.UP_READ, "static_branch_dec() -> cpus_read_unlock()",
               lock="cpu_hotplug_lock"),
        ]  # fmt: skip
    return out


def optimize_folios(p: Protocol, nr_vpages: int) -> list[Instr]:
    """hugetlb_vmemmap_optimize_folios() on a batch of two folios (the CPU's folio and the
    next): synchronize_rcu() once per batch after the B9 fix, once per folio before it;
    from v6.8 (batched HVO) one flush_tlb_all() at the end, before the frees."""
    first = optimize(p, nr_vpages, sync=True)
    second = [_offset(i, nr_vpages, "_f1") for i in optimize(p, nr_vpages, sync=not p.sync_only_when_optimizing)]
    if not p.batched_flush:
        return first + second
    flush_all = _i("flush_tlb_all", Prim.FLUSH_TLB, FLUSH_ALL_CITE, value=1)
    body = [i for i in first + second if i.prim not in (Prim.FLUSH_TLB, Prim.FREE_PAGE)]
    frees = [i for i in first + second if i.prim is Prim.FREE_PAGE]
    return [*body, flush_all, *frees]


def restore_folios(p: Protocol, nr_vpages: int) -> list[Instr]:
    """hugetlb_vmemmap_restore_folios() on a batch of two folios (the demote and shrink
    path): synchronize_rcu() once per batch after the B9 fix (linux-source-6.12
    mm/hugetlb_vmemmap.c:464-470), once per folio before it; from v6.8 one flush_tlb_all()
    after the loop (:482)."""
    first = restore(p, nr_vpages, sync=True)
    second = [_offset(i, nr_vpages, "_f1") for i in restore(p, nr_vpages, sync=not p.sync_only_when_optimizing)]
    if not p.batched_flush:
        return first + second
    flush_all = _i("flush_tlb_all", Prim.FLUSH_TLB, FLUSH_ALL_CITE, value=1)
    return [*(i for i in first + second if i.prim is not Prim.FLUSH_TLB), flush_all]


def optimize_bbm(p: Protocol, nr_vpages: int) -> list[Instr]:
    """The remap with break-before-make for every live PTE it changes (what arm64 would
    need, 060a2c92d1b6): pte_clear(), flush_tlb_kernel_range(), then the new PTE."""
    out: list[Instr] = []
    for ins in optimize(p, nr_vpages):
        if ins.prim is Prim.SET_PTE:
            out += [
                _i(f"pte_clear_{ins.page}", Prim.CLEAR_PTE, "break: pte_clear(&init_mm, addr, pte)", page=ins.page),
                _i(f"flush_tlb_{ins.page}", Prim.FLUSH_TLB, "flush_tlb_kernel_range() of the cleared PTE"),
            ]  # fmt: skip
        out.append(ins)
    return out


# Actor name -> program builder (protocol, vmemmap pages per folio).
ACTORS = {
    "hugetlb_vmemmap_optimize_folio": lambda p, v: optimize(p, v),
    "hugetlb_vmemmap_optimize_folios": optimize_folios,
    "hugetlb_vmemmap_optimize_folio_bbm": optimize_bbm,
    "hugetlb_vmemmap_optimize_folio_fail": optimize_fail,
    "hugetlb_vmemmap_restore_folio": lambda p, v: restore(p, v),
    "hugetlb_vmemmap_restore_folios": restore_folios,
    "prep_new_hugetlb_folio": prep_new_hugetlb_folio,
    "get_page_unless_zero": lambda p, v: speculative_get_page(p),
    "get_page_unless_zero_llsc": lambda p, v: speculative_get_page_llsc(p),
    "memory_failure": lambda p, v: memory_failure_raw(p),
    "memory_failure_dissolve": memory_failure_dissolve,
    "memory_failure_hugetlb": lambda p, v: memory_failure_hugetlb(p),
    "copy_user_large_folio": lambda p, v: copy_user_large_folio(p),
    "cpu_hotplug": lambda p, v: cpu_hotplug(p),
    "vmemmap_reader": lambda p, v: vmemmap_reader(p),
    "alloc_hugetlb_folio": lambda p, v: alloc_hugetlb_folio(p),
    "gup_fast": lambda p, v: gup_fast(p),
    "dissolve_free_hugetlb_folio": dissolve_free_hugetlb_folio,
}


def library(p: Protocol, nr_vpages: int) -> dict[str, Instr]:
    """Every step any actor of this era has, by name (what `add` may insert)."""
    lib: dict[str, Instr] = {}
    full = replace(p, synchronize_rcu=True, static_key=True, refcount_frozen=True)
    for build in ACTORS.values():
        for ins in build(full, nr_vpages):
            lib.setdefault(ins.name, ins)
    for alt in (replace(full, ref_add_unless_rcu=not p.ref_add_unless_rcu),
                replace(full, pcp_disabled_dissolve=not p.pcp_disabled_dissolve),
                replace(full, split_head_under_lock=not p.split_head_under_lock)):  # fmt: skip
        for build in ACTORS.values():
            for ins in build(alt, nr_vpages):
                lib.setdefault(ins.name, ins)
    return lib


@dataclass(frozen=True, slots=True)
class Edit:
    """One patch to a step list: drop a step, add a library step before/after another,
    or move a step before/after another."""

    kind: str  # "drop" | "add" | "move"
    step: str
    where: str = ""  # "before" | "after"
    anchor: str = ""


class PatchError(ValueError):
    pass


def patch(steps: list[Instr], edits: tuple[Edit, ...], lib: dict[str, Instr]) -> list[Instr]:
    """Apply a spec's edits in order; PatchError names what is missing."""
    out = list(steps)
    names = lambda: [s.name for s in out]  # noqa: E731
    for e in edits:
        if e.kind in ("drop", "move") and e.step not in names():
            raise PatchError(f"no step {e.step!r} to {e.kind} (steps: {', '.join(names())})")
        if e.kind == "drop":
            out = [s for s in out if s.name != e.step]
            continue
        if e.kind == "add" and e.step not in lib:
            raise PatchError(f"unknown step {e.step!r} (library: {', '.join(sorted(lib))})")
        ins = lib[e.step] if e.kind == "add" else next(s for s in out if s.name == e.step)
        if e.kind == "move":
            out = [s for s in out if s.name != e.step]
        elif e.step in names():
            raise PatchError(f"step {e.step!r} is already in the list")
        if e.anchor not in names():
            raise PatchError(f"no step {e.anchor!r} to put {e.step!r} {e.where} (steps: {', '.join(names())})")
        at = names().index(e.anchor) + (1 if e.where == "after" else 0)
        out.insert(at, ins)
    return out


@dataclass(frozen=True, slots=True)
class CpuSpec:
    """One CPU of a spec: the actor it runs, where, and the spec's changes to its steps
    (`steps`: the whole list, by library name; else the era's list with `edits`)."""

    name: str
    actor: str
    folio: int = 0
    page: int = 0
    edits: tuple[Edit, ...] = ()
    steps: tuple[str, ...] | None = None


def cpu_steps(cpu: CpuSpec, p: Protocol, nr_vpages: int) -> list[Instr]:
    """The step list this CPU runs under era `p` (PatchError on a bad name)."""
    lib = library(p, nr_vpages)
    if cpu.steps is not None:
        missing = [n for n in cpu.steps if n not in lib]
        if missing:
            raise PatchError(f"unknown step {missing[0]!r} (library: {', '.join(sorted(lib))})")
        return patch([lib[n] for n in cpu.steps], cpu.edits, lib)
    return patch(ACTORS[cpu.actor](p, nr_vpages), cpu.edits, lib)
