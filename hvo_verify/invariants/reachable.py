# SPDX-License-Identifier: GPL-2.0-only
"""The invariants over reachable states: what each says, where the kernel states it, and
its concrete check after one operation (hvo_verify/ops).

The z3 form of each lives in hvo_verify/encode/invariants/reachable.py under the same id;
replay.py runs a trace against them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from hvo_verify.errors import VmemmapFault
from hvo_verify.model import readers as r
from hvo_verify.model.facts import MASK64, SHARED_TAIL, W_COUNTS, W_FLAGS, W_PRIVATE, WORD
from hvo_verify.model.policy import Hwpoison
from hvo_verify.model.scheme import FolioKind, MemoryModel
from hvo_verify.ops.machine import Machine
from hvo_verify.ops.state import USER_BASE, FaultKind, KState, Outcome, Pool
from hvo_verify.ops.table import OPS
from hvo_verify.ops.trace import TraceStep


@dataclass(frozen=True, slots=True)
class OpInvariant:
    id: str
    summary: str
    kernel_ref: str
    # Concrete check after one step: None if it holds, else what went wrong.
    check: Callable[[Machine, KState, Outcome], str | None]
    witness: str = ""  # WITNESSES id: the situation the invariant is about, reachable within the bound


def raw_flag(m: Machine, state: KState, pfn: int) -> bool:
    """PageHWPoison() of the raw page of pfn."""
    return m.test_flag(state, r.pfn_to_page(state.vmemmap, pfn), m.scheme.facts.pg_hwpoison)


def reported_hwpoison(m: Machine, state: KState) -> tuple[frozenset[int], bool]:
    """(pfns the kernel says are poisoned, whether that is a conservative over-report).

    While the folio is hugetlb the policy's record answers (is_raw_hwpoison_page_in_hugepage()
    from 6.5; the head index / head flag before); otherwise PageHWPoison() of the raw pages
    (also what /proc/kpageflags KPF_HWPOISON exports)."""
    head_pfn, head, facts = m.folio.head_pfn, m.page(0), m.scheme.facts
    pol = m.policies.hwpoison
    if state.hugetlb and pol is not Hwpoison.RAW_FLAG:
        if not m.test_flag(state, head, facts.pg_hwpoison):
            return frozenset(), False
        if pol is Hwpoison.HEAD_INDEX:
            index = m.read(state, m.page(facts.subpage_index_hwpoison) + W_PRIVATE * WORD)
            return frozenset({head_pfn + index}), False
        if pol in (Hwpoison.HEAD_FLAG, Hwpoison.SUBPAGE_HWPOISON) or state.raw_hwp_unreliable:
            return frozenset(range(head_pfn, head_pfn + m.nr)), True
        return frozenset(state.raw_hwp), False
    in_folio = range(head_pfn, head_pfn + m.nr)
    if m.scheme.memory_model is MemoryModel.DEDUP_POINTERS:
        return _raw_flags(m, state, in_folio), False
    # A flag can only be set where a word differs from the populated vmemmap: the
    # injected pfns, the head, and the touched flags words, read once per (frame,
    # addresses in the page) and then placed on every page that maps them.
    reported = set(_raw_flags(m, state, set(state.injected) | {head_pfn}))
    base, size, mask = m.folio.vmemmap_base, m.folio.size, m.config.page_size - 1
    seen: dict[tuple[object, ...], list[int]] = {}
    for pte, addrs in state.vmemmap.touched_ranges(W_FLAGS):
        pfns = _pfns(addrs, base, size)
        inside = _positions_in(pfns, in_folio)
        key = (pte.frame, _in_page(addrs, mask), inside)
        if key not in seen:
            seen[key] = [n for n in inside if raw_flag(m, state, pfns[n])]
        reported.update(pfns[n] for n in seen[key])
    return frozenset(reported), False


def _pfns(addrs: Sequence[int], base: int, size: int) -> Sequence[int]:
    """The pfns whose flags words are at `addrs` (a range of consecutive struct pages stays a range)."""
    first = ((addrs[0] - W_FLAGS * WORD - base) & MASK64) // size if addrs else 0
    if isinstance(addrs, range) and addrs.step == size:
        return range(first, first + len(addrs))
    return [((a - W_FLAGS * WORD - base) & MASK64) // size for a in addrs]


def _positions_in(pfns: Sequence[int], folio: range) -> Sequence[int]:
    """The positions in `pfns` of the folio's pfns (for a range, a range: O(1))."""
    if isinstance(pfns, range):
        return range(max(0, folio.start - pfns.start), max(0, min(len(pfns), folio.stop - pfns.start)))
    return tuple(n for n, pfn in enumerate(pfns) if pfn in folio)


def _in_page(addrs: Sequence[int], mask: int) -> Sequence[int]:
    """`addrs` modulo PAGE_SIZE (for a range, a range: O(1))."""
    if isinstance(addrs, range):
        first = addrs.start & mask if addrs else 0
        return range(first, first + len(addrs) * addrs.step, addrs.step)
    return tuple(a & mask for a in addrs)


def _raw_flags(m: Machine, state: KState, pfns: Iterable[int]) -> frozenset[int]:
    """The pfns of `pfns` whose raw page reads PageHWPoison(): `raw_flag()` once per
    (frame content, offset) a flags word is read from (the word depends only on that;
    model/vmemmap.py content_key(): frames nothing wrote to share a key by what they hold)."""
    vm, shift, mask = state.vmemmap, m.config.page_shift, m.config.page_size - 1
    seen: dict[tuple[object, int], bool] = {}
    contents: dict[object, tuple[object, ...]] = {}  # frame -> content_key()
    out = set()
    for pfn in pfns:
        vaddr = r.pfn_to_page(vm, pfn) + W_FLAGS * WORD
        pte = vm.pte(vaddr >> shift)
        if pte is None:  # the read faults: raw_flag() raises it
            flagged = raw_flag(m, state, pfn)
        else:
            if pte.frame not in contents:
                contents[pte.frame] = vm.content_key(pte.frame)
            where = (contents[pte.frame], vaddr & mask)
            if where not in seen:
                seen[where] = raw_flag(m, state, pfn)
            flagged = seen[where]
        if flagged:
            out.add(pfn)
    return frozenset(out)


def raw_flags(m: Machine, state: KState) -> frozenset[int]:
    """The subpages (0..nr-1) whose raw page reads PageHWPoison() (/proc/kpageflags)."""
    head_pfn = m.folio.head_pfn
    return frozenset(pfn - head_pfn for pfn in _raw_flags(m, state, range(head_pfn, head_pfn + m.nr)))


def check_dma_exact(m: Machine, before: KState, out: Outcome) -> str | None:
    head_phys = m.folio.head_pfn << m.config.page_shift
    for phys, length, user_off in out.state.dma[len(before.dma) :]:
        want = head_phys + user_off
        if phys != want:
            return (f"DMA of {length:#x} bytes for user address {USER_BASE + user_off:#x} "
                    f"went to phys {phys:#x}, the buffer is at phys {want:#x}")  # fmt: skip
    return None


def check_alias_write(m: Machine, before: KState, out: Outcome) -> str | None:
    size = m.folio.size
    for w in out.writes:
        if w.old == w.new:
            continue
        index = ((w.vaddr - m.folio.head) & MASK64) // size
        if index < m.scheme.unique_struct_pages:
            # Folio state (head, page[1..]): its aliases are fake heads, which mirror the
            # head by design and are decoded by page_fixed_fake_head() (5.18..6.19) and
            # skipped by page_ref_add_unless() (bd225530a4c7).
            continue
        if w.frame == SHARED_TAIL:
            return (f"store to {m.name(w.vaddr - w.vaddr % m.folio.size)} lands on the shared tail page, "
                    "which every folio of this (zone, order) reads")  # fmt: skip
        others = [v for v in out.state.vmemmap.vaddrs_of(w.frame, w.offset) if v != w.vaddr]
        if others:
            names = [f"{m.name(v - (v - m.folio.vmemmap_base) % size)}" for v in others[:3]]
            more = f" and {len(others) - 3} more" if len(others) > 3 else ""
            return (f"store to {m.name(w.vaddr - (w.vaddr - m.folio.vmemmap_base) % size)} "
                    f"(word {(w.vaddr - m.folio.vmemmap_base) % size // WORD}) changes {', '.join(names)}{more} too: "
                    f"{w.old:#x} -> {w.new:#x} on a shared frame")  # fmt: skip
    return None


def _fault_check(kind: FaultKind) -> Callable[[Machine, KState, Outcome], str | None]:
    def check(m: Machine, before: KState, out: Outcome) -> str | None:
        if out.fault is not None and out.fault.kind is kind:
            return f"kernel oops: {out.fault.message}"
        return None

    return check


def check_hwpoison_exact(m: Machine, before: KState, out: Outcome) -> str | None:
    state = out.state
    try:
        reported, conservative = reported_hwpoison(m, state)
    except VmemmapFault as exc:
        return f"the poison record cannot be read: {exc}"
    missing = sorted(state.injected - reported)
    if missing:
        return f"memory error on pfn head_pfn+{missing[0] - m.folio.head_pfn} is not reported any more"
    extra = sorted(reported - state.injected)
    if extra and not conservative:
        return f"pfn head_pfn+{extra[0] - m.folio.head_pfn} is reported poisoned, but no error was injected there"
    if extra and conservative and m.policies.hwpoison in (Hwpoison.HEAD_FLAG, Hwpoison.SUBPAGE_HWPOISON):
        return (
            f"only the head's PG_hwpoison records the error: the kernel cannot tell which of the "
            f"{m.nr} subpages is poisoned (pfn head_pfn+{extra[0] - m.folio.head_pfn} reads as poisoned)"
        )
    return None


def check_hwpoison_freed(m: Machine, before: KState, out: Outcome) -> str | None:
    if not out.to_buddy:
        return None
    for pfn in sorted(out.state.injected):
        if m.folio.head_pfn <= pfn < m.folio.head_pfn + m.nr and not raw_flag(m, out.state, pfn):
            return (
                f"poisoned pfn head_pfn+{pfn - m.folio.head_pfn} reaches the buddy free lists "
                "(its struct page has no PG_hwpoison when the folio is freed)"
            )
    return None


def check_restore_identity(m: Machine, before: KState, out: Outcome) -> str | None:
    if not out.restored:
        return None
    state, size, base = out.state, m.folio.size, m.folio.vmemmap_base
    first, shift = m.first_vpage, m.config.page_shift
    for k in range(m.config.vmemmap_pages):
        start = (first + k) << shift
        for vaddr in range(start, start + m.config.page_size, WORD):
            got, want = m.read(state, vaddr), m.shadow_read(state, vaddr)
            if got != want:
                rel = (vaddr - base) & MASK64
                page = vaddr - rel % size
                return (
                    f"after restore, word {rel % size // WORD} of {m.name(page)} reads {got:#x}; "
                    f"a never-optimized folio has {want:#x}"
                )
    return None


def check_refcount(m: Machine, before: KState, out: Outcome) -> str | None:
    state = out.state
    if state.pool in (Pool.BUDDY, Pool.LEAKED):
        return None
    try:
        head_ref = m.refcount(state, m.page(0))
        pins = m.pincount(state)
        if head_ref != state.refs:
            return f"folio refcount is {head_ref}, but {state.refs} reference(s) are held"
        if pins != state.pins & 0xFFFFFFFF:
            return f"folio _pincount is {pins}, but {state.pins} page(s) are pinned"
        vm, base, size, head_pfn, nr = state.vmemmap, m.folio.vmemmap_base, m.folio.size, m.folio.head_pfn, m.nr
        shift, mask = m.config.page_shift, m.config.page_size - 1
        words: dict[tuple[object, int], int] = {}  # aliases read the same frame word: read it once
        for vaddr in sorted(vm.touched_vaddrs(W_COUNTS)):
            i = ((vaddr - base) & MASK64) // size - head_pfn
            if not 0 < i < nr:
                continue
            pte = vm.pte(vaddr >> shift)
            key = (None if pte is None else pte.frame, vaddr & mask)
            if key not in words:
                words[key] = vm.read_word(vaddr)
            if words[key] >> 32 == 0 or r.page_is_fake_head(state.vmemmap, m.page(i)):
                continue  # fake heads mirror the head; page_ref_add_unless() skips them (B8)
            return f"tail head+{i} has refcount {words[key] >> 32} (tails must stay 0)"
    except VmemmapFault as exc:
        return f"the folio's counters cannot be read: {exc}"
    return None


def check_only_hugetlb_optimized(m: Machine, before: KState, out: Outcome) -> str | None:
    if out.state.optimized and not out.state.hugetlb and m.scheme.folio_kind is FolioKind.HUGETLB:
        return "the folio's vmemmap is optimized but the folio is not hugetlb any more (bug B5 window)"
    return None


def check_vmemmap_frame_freeable(m: Machine, before: KState, out: Outcome) -> str | None:
    if out.unfreeable is not None:
        return out.unfreeable
    return None


def check_restore_progress(m: Machine, before: KState, out: Outcome) -> str | None:
    if out.restore_refused:
        return ("hugetlb_vmemmap_restore_folio() failed with pages free: __GFP_THISNODE on a node with only "
                "ZONE_MOVABLE, so the folio can never be freed (the pool cannot shrink)")  # fmt: skip
    return None


# -- witnesses: the situation each invariant is about, reachable within the bound -----------
# A proof of an invariant means something only where its situation can happen: BMC asks
# for the shortest run whose last step is the witness (check/bmc.py), replays it here
# (the concrete predicate must hold at that step), and reports `unreached` when none
# exists within the depth.  Each witness is a predicate of one step: (machine, state
# before, the call, what it did).  The z3 twins are encode/invariants/reachable.py
# WITNESSES (same ids).


def ops_with_step(*names: str) -> frozenset[str]:
    """The operations of ops/table.py that run one of the kernel functions `names`."""
    return frozenset(op.name for op in OPS.values() if any(s.name in names for s in op.steps))


GUP_OPS = frozenset({"get_user_pages_fast", "pin_user_pages_fast"})
# The operations that read the struct page of their subpage argument (head + i): the
# page-flags tests, compound_head() and _mapcount of memory_failure(), dissolve and the
# page-flags operations; write_struct_page() only stores.  GUP reads the struct page of
# its first page (pmd_page(orig) + idx, then page_folio()).
SUBPAGE_READERS = frozenset(op.name for op in OPS.values() if any(a.name == "i" for a in op.args)) - {
    "write_struct_page"
}
FREES_TO_BUDDY = ops_with_step("__free_pages")
CLEARS_HUGETLB = frozenset(
    op.name for op in OPS.values() for s in op.steps if any(a.hugetlb is False for a in s.outcomes)
)


def subpage_read(m: Machine, step: TraceStep) -> int | None:
    """The subpage whose struct page `step` reads, or None (SUBPAGE_READERS, GUP_OPS)."""
    args = dict(step.args)
    if step.op in SUBPAGE_READERS:
        return int(args["i"])
    if step.op in GUP_OPS:
        return int(args["offset"]) >> m.config.page_shift
    return None


def in_remapped_vpage(m: Machine, i: int) -> bool:
    """Is the struct page head + i in a vmemmap page the scheme remaps (not private)?"""
    k = (m.page(i) >> m.config.page_shift) - m.first_vpage
    return 0 <= k < m.config.vmemmap_pages and k not in m.scheme.private


@dataclass(frozen=True, slots=True)
class Witness:
    id: str
    summary: str  # the situation, in kernel terms
    kernel_ref: str
    # Does this step reach the situation?  (machine, state before, the call, what it did)
    check: Callable[[Machine, KState, TraceStep, Outcome], bool]


def witness_dma_optimized(m: Machine, before: KState, step: TraceStep, out: Outcome) -> bool:
    return step.op == "submit_bio" and before.optimized and out.fault is None


def witness_tail_reference(m: Machine, before: KState, step: TraceStep, out: Outcome) -> bool:
    i = subpage_read(m, step)
    counts = step.op in GUP_OPS or step.op == "page_add_file_rmap"
    return counts and before.optimized and i is not None and i > 0 and out.fault is None


def witness_read_remapped(m: Machine, before: KState, step: TraceStep, out: Outcome) -> bool:
    i = subpage_read(m, step)
    return before.optimized and i is not None and in_remapped_vpage(m, i)


def witness_store_optimized(m: Machine, before: KState, step: TraceStep, out: Outcome) -> bool:
    stored = bool(out.writes) or (out.fault is not None and out.fault.kind is FaultKind.RO_WRITE)
    no_read_fault = out.fault is None or out.fault.kind is FaultKind.RO_WRITE
    return before.optimized and out.state.optimized and stored and no_read_fault


def witness_mf_subpage(m: Machine, before: KState, step: TraceStep, out: Outcome) -> bool:
    return step.op == "memory_failure" and before.optimized and int(dict(step.args)["i"]) > 0


def witness_poisoned_freed(m: Machine, before: KState, step: TraceStep, out: Outcome) -> bool:
    return step.op in FREES_TO_BUDDY and bool(before.injected)


def witness_restore_optimized(m: Machine, before: KState, step: TraceStep, out: Outcome) -> bool:
    return out.restored and before.optimized


def witness_restore_attempted(m: Machine, before: KState, step: TraceStep, out: Outcome) -> bool:
    return (out.restored or out.restore_refused) and before.optimized


def witness_hugetlb_cleared(m: Machine, before: KState, step: TraceStep, out: Outcome) -> bool:
    return step.op in CLEARS_HUGETLB and before.optimized and before.hugetlb


def witness_optimize_called(m: Machine, before: KState, step: TraceStep, out: Outcome) -> bool:
    return step.op == "hugetlb_vmemmap_optimize_folio" and not before.optimized


WITNESSES: dict[str, Witness] = {
    w.id: w
    for w in (
        Witness("dma-optimized", "a DMA completion into an optimized folio (submit_bio on pages GUP returned)",
                "block/bio.c bio_add_page() (6.12 :1148), include/linux/bvec.h bvec_phys() (6.12 :290)",
                witness_dma_optimized),
        Witness("tail-reference", "a GUP or pin reference, or a mapcount, taken through a subpage other than the "
                "head of an optimized folio", "mm/gup.c gup_fast_pmd_leaf(): page = pmd_page(orig) + idx (6.12 :3155); "
                "try_grab_folio_fast() (6.12 :531); mm/rmap.c page_add_file_rmap() (6.1 :1291): the subpage's "
                "_mapcount shares its word with _refcount", witness_tail_reference),
        Witness("read-remapped", "a read of a struct page in a remapped vmemmap page (optimized folio)",
                "mm/hugetlb_vmemmap.c vmemmap_remap_pte() (6.12 :202): every vmemmap page but the reserved "
                "ones maps the shared frame", witness_read_remapped),
        Witness("store-optimized", "a store to a struct page of an optimized folio",
                "mm/hugetlb_vmemmap.c vmemmap_remap_pte() (6.12 :202): PAGE_KERNEL_RO", witness_store_optimized),
        Witness("mf-subpage", "memory_failure() on a subpage (not the head) of an optimized folio",
                "mm/memory-failure.c memory_failure() (6.12 :2254) -> try_memory_failure_hugetlb() (6.12 :2090)",
                witness_mf_subpage),
        Witness("poisoned-freed", "a folio memory_failure() hit handed toward the buddy allocator",
                "mm/hugetlb.c __update_and_free_hugetlb_folio() (6.12 :1665): folio_clear_hugetlb_hwpoison(), "
                "hugetlb_free_folio()", witness_poisoned_freed),
        Witness("restore-optimized", "a successful restore of an optimized folio",
                "mm/hugetlb_vmemmap.c __hugetlb_vmemmap_restore_folio() (6.12 :394) -> vmemmap_remap_alloc() "
                "(6.12 :372)", witness_restore_optimized),
        Witness("restore-attempted", "a restore of an optimized folio with pages in the allocator (it succeeds "
                "or the gfp mask refuses them)", "mm/hugetlb_vmemmap.c vmemmap_remap_alloc() (6.12 :372); "
                "alloc_vmemmap_page_list() gfp mask (bug B7)", witness_restore_attempted),
        Witness("hugetlb-cleared", "the hugetlb flag of an optimized folio cleared or about to be (dissolve, "
                "update_and_free_hugetlb_folio)", "mm/hugetlb.c remove_hugetlb_folio() (6.12 :1599), "
                "__update_and_free_hugetlb_folio() __folio_clear_hugetlb() (6.12 :1703)", witness_hugetlb_cleared),
        Witness("optimize-called", "HVO is asked to free the vmemmap frames of a folio (an optimize, which "
                "frees them or is refused)", "mm/hugetlb_vmemmap.c vmemmap_remap_free() (6.12 :298); "
                "vmemmap_should_optimize() refuses self-hosted vmemmap (6.1 :459, :529)", witness_optimize_called),
    )
}  # fmt: skip


OP_INVARIANTS: dict[str, OpInvariant] = {
    inv.id: inv
    for inv in (
        OpInvariant("dma-exact", "DMA lands on the physical bytes behind the user's buffer",
                    "include/linux/bvec.h bvec_phys(); page_to_phys() (reference 5.1, 5.2)", check_dma_exact, "dma-optimized"),
        OpInvariant("alias-write", "no store through a shared frame changes another struct page",
                    "reference 5.2 design rule (1); 8.2 alias closure", check_alias_write, "store-optimized"),
        OpInvariant("ro-write", "no store targets a read-only or unmapped vmemmap PTE (oops)",
                    "vmemmap_remap_pte() PAGE_KERNEL_RO; bugs B5, B8, B17 (reference 8.3)",
                    _fault_check(FaultKind.RO_WRITE), "store-optimized"),
        OpInvariant("read-fault", "no read of an unmapped vmemmap page (oops)",
                    "reference 5.2: compound_head() must work through aliases", _fault_check(FaultKind.READ), "read-remapped"),
        OpInvariant("hwpoison-exact", "the poisoned pfns the kernel reports are exactly those injected",
                    "mm/memory-failure.c; is_raw_hwpoison_page_in_hugepage() (reference 4.3)",
                    check_hwpoison_exact, "mf-subpage"),
        OpInvariant("hwpoison-freed", "no poisoned pfn reaches the buddy free lists",
                    "folio_clear_hugetlb_hwpoison(); take_page_off_buddy() (reference 4.3, 4.4, B18)",
                    check_hwpoison_freed, "poisoned-freed"),
        OpInvariant("restore-identity", "after restore every struct page reads as in a never-optimized folio",
                    "mm/hugetlb_vmemmap.c vmemmap_restore_pte(), reset_struct_pages() (reference 8.7)",
                    check_restore_identity, "restore-optimized"),
        OpInvariant("refcount", "GUP/pin references land on the folio; tails stay 0; pins balance",
                    "mm/gup.c try_grab_folio_fast(), gup_put_folio(); mm_types.h (reference 5.3, 8.9)",
                    check_refcount, "tail-reference"),
        OpInvariant("only-hugetlb-optimized", "only hugetlb folios have an optimized vmemmap",
                    "32c877191e02, d8f5f7e445f0 (bugs B5, B6; reference 8.5)", check_only_hugetlb_optimized, "hugetlb-cleared"),
        OpInvariant("vmemmap-frame-freeable",
                    "every vmemmap frame HVO frees is an independently freeable order-0 page outside the memory "
                    "it describes",
                    "split_vmemmap_huge_pmd() split_page() (39d35edee453, B2); PageVmemmapSelfHosted "
                    "(66361095129b, B4)", check_vmemmap_frame_freeable, "optimize-called"),
        OpInvariant("restore-progress", "a restore fails only when no node has a page for it (the pool can shrink)",
                    "alloc_vmemmap_page_list() gfp mask (Yuan Can, v6.6; bug B7)", check_restore_progress, "restore-attempted"),
    )
}  # fmt: skip


FAULT_INVARIANTS = frozenset({"ro-write", "read-fault"})
