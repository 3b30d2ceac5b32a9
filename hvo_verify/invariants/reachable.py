# SPDX-License-Identifier: GPL-2.0-only
"""The invariants over reachable states: what each says, where the kernel states it, and
its concrete check after one operation (hvo_verify/ops).

The z3 form of each lives in hvo_verify/encode/invariants/reachable.py under the same id;
replay.py runs a trace against them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hvo_verify.errors import VmemmapFault
from hvo_verify.model import readers as r
from hvo_verify.model.facts import MASK64, SHARED_TAIL, W_COUNTS, W_FLAGS, W_PRIVATE, WORD
from hvo_verify.model.policy import Hwpoison
from hvo_verify.model.scheme import FolioKind, MemoryModel
from hvo_verify.ops.machine import Machine
from hvo_verify.ops.state import USER_BASE, FaultKind, KState, Outcome, Pool


@dataclass(frozen=True, slots=True)
class OpInvariant:
    id: str
    summary: str
    kernel_ref: str
    # Concrete check after one step: None if it holds, else what went wrong.
    check: Callable[[Machine, KState, Outcome], str | None]


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
        candidates = set(in_folio)
    else:  # a flag can only be set where a word differs from the populated vmemmap
        candidates = set(state.injected) | {head_pfn}
        base, size = m.folio.vmemmap_base, m.folio.size
        for vaddr in state.vmemmap.touched_vaddrs(W_FLAGS):
            rel = (vaddr - base) & MASK64
            if rel // size in in_folio:
                candidates.add(rel // size)
    reported = {pfn for pfn in candidates if raw_flag(m, state, pfn)}
    return frozenset(reported), False


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


OP_INVARIANTS: dict[str, OpInvariant] = {
    inv.id: inv
    for inv in (
        OpInvariant("dma-exact", "DMA lands on the physical bytes behind the user's buffer",
                    "include/linux/bvec.h bvec_phys(); page_to_phys() (reference 5.1, 5.2)", check_dma_exact),
        OpInvariant("alias-write", "no store through a shared frame changes another struct page",
                    "reference 5.2 design rule (1); 8.2 alias closure", check_alias_write),
        OpInvariant("ro-write", "no store targets a read-only or unmapped vmemmap PTE (oops)",
                    "vmemmap_remap_pte() PAGE_KERNEL_RO; bugs B5, B8, B17 (reference 8.3)",
                    _fault_check(FaultKind.RO_WRITE)),
        OpInvariant("read-fault", "no read of an unmapped vmemmap page (oops)",
                    "reference 5.2: compound_head() must work through aliases", _fault_check(FaultKind.READ)),
        OpInvariant("hwpoison-exact", "the poisoned pfns the kernel reports are exactly those injected",
                    "mm/memory-failure.c; is_raw_hwpoison_page_in_hugepage() (reference 4.3)",
                    check_hwpoison_exact),
        OpInvariant("hwpoison-freed", "no poisoned pfn reaches the buddy free lists",
                    "folio_clear_hugetlb_hwpoison(); take_page_off_buddy() (reference 4.3, 4.4, B18)",
                    check_hwpoison_freed),
        OpInvariant("restore-identity", "after restore every struct page reads as in a never-optimized folio",
                    "mm/hugetlb_vmemmap.c vmemmap_restore_pte(), reset_struct_pages() (reference 8.7)",
                    check_restore_identity),
        OpInvariant("refcount", "GUP/pin references land on the folio; tails stay 0; pins balance",
                    "mm/gup.c try_grab_folio_fast(), gup_put_folio(); mm_types.h (reference 5.3, 8.9)",
                    check_refcount),
        OpInvariant("only-hugetlb-optimized", "only hugetlb folios have an optimized vmemmap",
                    "32c877191e02, d8f5f7e445f0 (bugs B5, B6; reference 8.5)", check_only_hugetlb_optimized),
        OpInvariant("vmemmap-frame-freeable",
                    "every vmemmap frame HVO frees is an independently freeable order-0 page outside the memory "
                    "it describes",
                    "split_vmemmap_huge_pmd() split_page() (39d35edee453, B2); PageVmemmapSelfHosted "
                    "(66361095129b, B4)", check_vmemmap_frame_freeable),
        OpInvariant("restore-progress", "a restore fails only when no node has a page for it (the pool can shrink)",
                    "alloc_vmemmap_page_list() gfp mask (Yuan Can, v6.6; bug B7)", check_restore_progress),
    )
}  # fmt: skip


FAULT_INVARIANTS = frozenset({"ro-write", "read-fault"})
