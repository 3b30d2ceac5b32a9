# SPDX-License-Identifier: GPL-2.0-only
"""The kernel operations as data: arguments, preconditions, and the sequence of steps
each runs, with the kernel citation stored once here.

An operation (`Op`) is what a spec's `[ops] run` list names and what a trace records.
It runs a sequence of `Step`s; each step is one kernel function, implemented twice under
the same name: concretely in `ops/<subsystem>.py` and as z3 terms in
`encode/ops/<subsystem>.py` (tests/unit/test_pairing.py checks the pairs).  Steps are
built from the mirrored primitives of `ops/machine.py` `Cpu` and `encode/ops/step.py`
`SymCpu` (read, store, atomic add, flag update and test, remap, allocation outcome).
The sequence is data so that a kernel version or a reviewer's patch can reorder, add or
drop a step, and so that several CPUs can interleave at step boundaries.

Preconditions are conjunctions of `Guard`s over the scalar state, read by three
interpreters: concrete (`ops/machine.py` `Machine.enabled`), symbolic and abstract
(`encode/ops/enabled.py`).  Each step also states its abstract effect on the scalar
state (`Abs` alternatives), from which `possible_ops()` prunes the unrolling.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from hvo_verify.model.policy import HugetlbClear
from hvo_verify.ops.state import Pool


class ArgKind(enum.Enum):
    """The domain of an operation argument (model/... Machine.arg_values)."""

    SUBPAGE = "subpage"  # i in [0, nr_pages)
    BOOL = "bool"  # an allocation outcome
    OFFSET = "offset"  # a user buffer offset, io_align aligned, inside the folio
    LENGTH = "length"  # a user buffer length, io_align .. io_max
    WORD = "word"  # a struct page word index


@dataclass(frozen=True, slots=True)
class Arg:
    name: str
    kind: ArgKind


class Guard(enum.Enum):
    """One conjunct of a precondition (the state the kernel calls the operation in)."""

    HUGETLB_FOLIO = "the folio is a HugeTLB folio"  # a property of the scheme, not the state
    SCHEME_OPTIMIZES = "the scheme remaps the vmemmap"
    IN_FREE_POOL = "the folio is on the hstate free list and still hugetlb"
    NOT_OPTIMIZED = "the vmemmap is not optimized"
    OPTIMIZED = "the vmemmap is optimized"
    REMOVED = "dissolve_free_hugetlb_folio() took the folio off the pool"
    MAPPED = "the folio is mapped by the user"
    MAPPED_IF_HUGETLB = "a HugeTLB folio is mapped by the user (a Device-DAX folio always is)"
    NO_IO = "no I/O in flight"
    IO_UNSUBMITTED = "GUP returned pages that were not submitted yet"
    IO_PINNED = "the I/O in flight holds FOLL_PIN pins"
    IO_GOT = "the I/O in flight holds FOLL_GET references"


class IoStage(enum.Enum):
    """The abstract I/O state."""

    NONE = 0
    GRABBED = 1
    SUBMITTED = 2


@dataclass(frozen=True, slots=True)
class Abs:
    """One alternative effect of a step on the abstract scalar state (None: unchanged).
    `when` = (Policies field, value): the alternative exists only under that policy;
    `stop`: the operation returns here (later steps do not run)."""

    pool: Pool | None = None
    optimized: bool | None = None
    hugetlb: bool | None = None
    mapped: bool | None = None
    io: IoStage | None = None
    pin: bool | None = None
    pool_may_free: bool = False  # also the alternative where the folio went back to the pool (refcount 0)
    stop: bool = False
    when: tuple[str, object] | None = None


@dataclass(frozen=True, slots=True)
class Step:
    """One kernel function an operation runs."""

    name: str  # the function in ops/<subsystem>.py and encode/ops/<subsystem>.py
    subsystem: str  # "pool" | "hwpoison" | "gup" | "pageflags"
    cite: str  # kernel file, function, version
    outcomes: tuple[Abs, ...] = (Abs(),)
    remaps: bool = False  # changes vmemmap PTEs (runs before any store of its step on the z3 side)


@dataclass(frozen=True, slots=True)
class Op:
    name: str  # the kernel entry point
    args: tuple[Arg, ...]
    summary: str
    guard: tuple[Guard, ...]
    steps: tuple[Step, ...]
    # Not a kernel path but an adversary (a store of anything anywhere): `run = ["all"]`
    # leaves it out; a spec names it to run it (loader `_alphabet`).
    adversary: bool = False

    @property
    def hugetlb_only(self) -> bool:
        return Guard.HUGETLB_FOLIO in self.guard


_I = Arg("i", ArgKind.SUBPAGE)
_ALLOC_OK = Arg("alloc_ok", ArgKind.BOOL)
_BUFFER = (Arg("offset", ArgKind.OFFSET), Arg("length", ArgKind.LENGTH))
_FREE = (Guard.HUGETLB_FOLIO, Guard.IN_FREE_POOL)
_USER = (Guard.MAPPED_IF_HUGETLB,)


def _step(name: str, subsystem: str, cite: str, *outcomes: Abs, remaps: bool = False) -> Step:
    return Step(name, subsystem, cite, outcomes or (Abs(),), remaps)


OPS: dict[str, Op] = {
    o.name: o
    for o in (
        Op("hugetlb_vmemmap_optimize_folio", (_ALLOC_OK,), "HVO remap (pool add)",
           (*_FREE, Guard.NOT_OPTIMIZED, Guard.SCHEME_OPTIMIZES),
           (_step("hugetlb_vmemmap_optimize_folio", "pool",
                  "mm/hugetlb_vmemmap.c __hugetlb_vmemmap_optimize_folio() -> vmemmap_remap_free()",
                  Abs(optimized=True), Abs(), remaps=True),)),
        Op("hugetlb_vmemmap_restore_folio", (_ALLOC_OK,), "restore the vmemmap (demote, shrink)",
           (*_FREE, Guard.OPTIMIZED),
           (_step("hugetlb_vmemmap_restore_folio", "pool",
                  "mm/hugetlb_vmemmap.c hugetlb_vmemmap_restore_folio() -> vmemmap_remap_alloc()",
                  Abs(optimized=False), Abs(), remaps=True),)),
        Op("alloc_hugetlb_folio", (), "allocate from the pool and map at the user address", _FREE,
           (_step("dequeue_hugetlb_folio_node_exact", "pool",
                  "mm/hugetlb.c dequeue_hugetlb_folio_node_exact(): skips hwpoisoned folios",
                  Abs(), Abs(stop=True)),
            _step("alloc_hugetlb_folio", "pool",
                  "mm/hugetlb.c alloc_hugetlb_folio(): folio_ref_unfreeze(folio, 1) (bd225530a4c7, v6.10); "
                  "hugetlb_add_file_rmap(): _entire_mapcount",
                  Abs(pool=Pool.IN_USE, mapped=True)))),
        Op("folio_put", (), "the user unmaps and drops its reference", (Guard.HUGETLB_FOLIO, Guard.MAPPED),
           (_step("zap_huge_pmd", "pool", "mm/huge_memory.c zap_huge_pmd(); mm/rmap.c hugetlb_remove_rmap()",
                  Abs(mapped=False)),
            _step("folio_put", "pool", "mm/swap.c folio_put() -> free_huge_folio(): back on the hstate free list",
                  Abs(pool_may_free=True)))),
        Op("dissolve_free_hugetlb_folio", (_I,), "take a free folio off the pool (remove_hugetlb_folio)", _FREE,
           (_step("set_subpage_hwpoison", "hwpoison",
                  "mm/hugetlb.c dissolve_free_huge_page() in RFC 18/24 <20200915125947.26204-19-songmuchun@"
                  "bytedance.com>: PG_hwpoison moved to the raw page, set_subpage_hwpoison() (RFC policy only)"),
            _step("remove_hugetlb_folio", "pool",
                  "mm/hugetlb.c dissolve_free_hugetlb_folio() -> remove_hugetlb_folio(): clears the hugetlb "
                  "dtor there before 32c877191e02 (v6.5)",
                  Abs(pool=Pool.REMOVED, hugetlb=False, when=("hugetlb_clear", HugetlbClear.BEFORE_RESTORE)),
                  Abs(pool=Pool.REMOVED, when=("hugetlb_clear", HugetlbClear.AFTER_RESTORE))),)),
        Op("update_and_free_hugetlb_folio", (_ALLOC_OK,), "restore, move hwpoison, free to buddy",
           (Guard.HUGETLB_FOLIO, Guard.REMOVED),
           (_step("folio_test_hugetlb_raw_hwp_unreliable", "hwpoison",
                  "mm/hugetlb.c __update_and_free_hugetlb_folio(): raw_hwp_unreliable folios are leaked (v6.1+)",
                  Abs(pool=Pool.LEAKED, stop=True), Abs()),
            _step("hugetlb_vmemmap_restore_folio", "pool",
                  "mm/hugetlb.c __update_and_free_hugetlb_folio(): hugetlb_vmemmap_restore_folio() when optimized",
                  remaps=True),
            _step("add_hugetlb_folio", "pool",
                  "mm/hugetlb.c __update_and_free_hugetlb_folio(): restore failed: add_hugetlb_folio(), return",
                  Abs(pool=Pool.FREE, hugetlb=True, stop=True), Abs()),
            _step("__folio_clear_hugetlb", "pool",
                  "mm/hugetlb.c __update_and_free_hugetlb_folio(): __folio_clear_hugetlb() (32c877191e02, v6.5)",
                  Abs(hugetlb=False)),
            _step("folio_clear_hugetlb_hwpoison", "hwpoison",
                  "mm/memory-failure.c folio_clear_hugetlb_hwpoison() (v6.1); hwpoison_subpage_deliver() (2020); "
                  "dissolve_free_huge_page() hand-over (v5.14..v6.0)"),
            _step("__free_pages", "pool",
                  "mm/hugetlb.c __update_and_free_hugetlb_folio() -> __free_pages(); take_page_off_buddy() keeps "
                  "PageHWPoison pages off",
                  Abs(pool=Pool.BUDDY, optimized=False)))),
        Op("memory_failure", (_I, Arg("kmalloc_ok", ArgKind.BOOL)), "a memory error on pfn head_pfn+i", (),
           (_step("memory_failure", "hwpoison",
                  "mm/memory-failure.c memory_failure() -> try_memory_failure_hugetlb(); "
                  "folio_set_hugetlb_hwpoison() (v6.1); hwpoison_subpage_set() (2020)"),)),
        Op("get_user_pages_fast", _BUFFER, "FOLL_GET on the user buffer", (Guard.MAPPED, Guard.NO_IO),
           (_step("get_user_pages_fast", "gup",
                  "mm/gup.c gup_fast_pmd_leaf(): page = pmd_page(orig) + idx; try_grab_folio_fast()",
                  Abs(io=IoStage.GRABBED, pin=False)),)),
        Op("pin_user_pages_fast", _BUFFER, "FOLL_PIN on the user buffer", (Guard.MAPPED, Guard.NO_IO),
           (_step("pin_user_pages_fast", "gup",
                  "mm/gup.c gup_fast_pmd_leaf(); try_grab_folio_fast(): folio_ref_add() and _pincount += refs",
                  Abs(io=IoStage.GRABBED, pin=True)),)),
        Op("submit_bio", (), "bio_add_page per page, dma_map_sg, DMA completion", (Guard.IO_UNSUBMITTED,),
           (_step("submit_bio", "gup",
                  "block/bio.c bio_add_page() -> bvec_try_merge_page(); include/linux/bvec.h bvec_phys(); "
                  "dma-direct sg_phys()",
                  Abs(io=IoStage.SUBMITTED)),)),
        Op("unpin_user_pages_dirty_lock", (), "release FOLL_PIN pages, mark the folio dirty", (Guard.IO_PINNED,),
           (_step("unpin_user_pages_dirty_lock", "gup",
                  "mm/gup.c unpin_user_pages_dirty_lock() -> gup_put_folio(folio, n, FOLL_PIN), "
                  "folio_mark_dirty_lock()",
                  Abs(io=IoStage.NONE, pool_may_free=True)),)),
        Op("put_page", (), "release FOLL_GET pages one by one", (Guard.IO_GOT,),
           (_step("put_page", "gup", "include/linux/mm.h put_page() -> folio_put_refs()",
                  Abs(io=IoStage.NONE, pool_may_free=True)),)),
        Op("sync_icache_dcache", (_I,), "set_pte_at() -> __sync_icache_dcache(): set PG_arch_1", _USER,
           (_step("sync_icache_dcache", "pageflags",
                  "arch/arm64/mm/flush.c __sync_icache_dcache(): PageHuge() -> the head (2022); "
                  "page_folio() (4a169d61c2ed, v6.6)"),)),
        Op("flush_dcache_page", (_I,), "clear PG_arch_1 (PG_dcache_clean)", _USER,
           (_step("flush_dcache_page", "pageflags",
                  "arch/arm64/mm/flush.c flush_dcache_page(): PageHuge() -> the head (2022); "
                  "flush_dcache_folio(page_folio()) (4a169d61c2ed, v6.6)"),)),
        Op("page_add_file_rmap", (_I,), "map subpage i with a PTE (mapcount)", _USER,
           (_step("page_add_file_rmap", "pageflags",
                  "mm/rmap.c page_add_file_rmap(): atomic_inc(&page->_mapcount) (per subpage) or the folio's "
                  "_entire_mapcount"),)),
        Op("write_struct_page", (_I, Arg("word", ArgKind.WORD)), "a store to any field of head+i", _USER,
           (_step("write_struct_page", "pageflags", "any WRITE_ONCE() to a struct page field"),), adversary=True),
    )
}  # fmt: skip


# What holds of a prepared HugeTLB folio before any operation: on the hstate free list,
# not optimized, not mapped, no I/O (ops/state.py KState's defaults); the scheme's own
# guards (HUGETLB_FOLIO, SCHEME_OPTIMIZES) are properties of the spec, not of the state.
INITIAL_GUARDS = frozenset({Guard.HUGETLB_FOLIO, Guard.SCHEME_OPTIMIZES, Guard.IN_FREE_POOL, Guard.NOT_OPTIMIZED,
                            Guard.NO_IO})  # fmt: skip


def _establishes(op: Op, guard: Guard) -> bool:
    """Some abstract effect of `op` makes `guard` hold (read off the steps' `Abs`)."""
    effects = [a for step in op.steps for a in step.outcomes]
    grabbed = [a for a in effects if a.io is IoStage.GRABBED]
    return {
        Guard.OPTIMIZED: any(a.optimized for a in effects),
        Guard.REMOVED: any(a.pool is Pool.REMOVED for a in effects),
        Guard.MAPPED: any(a.mapped for a in effects),
        Guard.MAPPED_IF_HUGETLB: any(a.mapped for a in effects),
        Guard.IO_UNSUBMITTED: bool(grabbed),
        Guard.IO_PINNED: any(a.pin for a in grabbed),
        Guard.IO_GOT: any(a.pin is False for a in grabbed),
    }.get(guard, False)


def prerequisites(name: str, alphabet: Sequence[str], seen: frozenset[str] = frozenset()) -> list[str]:
    """What `name` needs run before it that `alphabet` lacks, first things first: for
    each guard of `name` that does not hold initially and that no operation of
    `alphabet` establishes, the first operation of OPS that does, after its own
    prerequisites.  What a `vacuous` verdict tells the reviewer to add to `run`.

    >>> prerequisites("submit_bio", ["submit_bio"])
    ['alloc_hugetlb_folio', 'get_user_pages_fast']
    >>> prerequisites("submit_bio", ["submit_bio", "alloc_hugetlb_folio", "pin_user_pages_fast"])
    []
    """
    out: list[str] = []
    for guard in OPS[name].guard:
        if guard in INITIAL_GUARDS or any(_establishes(OPS[n], guard) for n in alphabet):
            continue
        maker = next((n for n, op in OPS.items() if n not in seen and _establishes(op, guard)), None)
        if maker is None:
            continue
        for needed in [*prerequisites(maker, alphabet, seen | {name}), maker]:
            if needed not in out:
                out.append(needed)
    return out
