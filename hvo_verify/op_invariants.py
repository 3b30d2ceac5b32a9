"""The invariants over reachable states: what each says, where the kernel states it, and
its concrete check after one operation (hvo_verify.model.kernel).

The z3 form of each lives in hvo_verify.encode.ops under the same id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hvo_verify.errors import VmemmapFault
from hvo_verify.model import readers as r
from hvo_verify.model import structpage as sp
from hvo_verify.model.kernel import USER_BASE, FaultKind, KState, Machine, Outcome, Pool
from hvo_verify.model.policy import Hwpoison
from hvo_verify.model.scheme import FolioKind
from hvo_verify.model.structpage import MASK64, WORD
from hvo_verify.model.trace import Trace, TraceStep
from hvo_verify.model.vmemmap import SHARED_TAIL


@dataclass(frozen=True, slots=True)
class OpInvariant:
    id: str
    summary: str
    kernel_ref: str
    # Concrete check after one step: None if it holds, else what went wrong.
    check: Callable[[Machine, KState, Outcome], str | None]


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
        others = [v for v in m.vmemmap_vaddrs_of(out.state, w.frame, w.offset) if v != w.vaddr]
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
        reported, conservative = m.reported_hwpoison(state)
    except VmemmapFault as exc:
        return f"the poison record cannot be read: {exc}"
    missing = sorted(state.injected - reported)
    if missing:
        return f"memory error on pfn head_pfn+{missing[0] - m.folio.head_pfn} is not reported any more"
    extra = sorted(reported - state.injected)
    if extra and not conservative:
        return f"pfn head_pfn+{extra[0] - m.folio.head_pfn} is reported poisoned, but no error was injected there"
    if extra and conservative and m.policies.hwpoison is Hwpoison.HEAD_FLAG:
        return (
            f"only the head's PG_hwpoison records the error: the kernel cannot tell which of the "
            f"{m.nr} subpages is poisoned (pfn head_pfn+{extra[0] - m.folio.head_pfn} reads as poisoned)"
        )
    return None


def check_hwpoison_freed(m: Machine, before: KState, out: Outcome) -> str | None:
    if not out.to_buddy:
        return None
    for pfn in sorted(out.state.injected):
        if m.folio.head_pfn <= pfn < m.folio.head_pfn + m.nr and not m.raw_flag(out.state, pfn):
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
        base, size = m.folio.vmemmap_base, m.folio.size
        shift, mask = m.config.page_shift, m.config.page_size - 1
        words: dict[tuple[object, int], int] = {}  # aliases read the same frame word: read it once
        for vaddr in sorted(m.touched_vaddrs(state, sp.W_COUNTS)):
            i = ((vaddr - base) & MASK64) // size - m.folio.head_pfn
            if not 0 < i < m.nr:
                continue
            pte = m.pte(state, vaddr >> shift)
            key = (None if pte is None else pte.frame, vaddr & mask)
            if key not in words:
                words[key] = m.read(state, vaddr)
            if words[key] >> 32 == 0 or r.page_is_fake_head(m.view(state), m.page(i)):
                continue  # fake heads mirror the head; page_ref_add_unless() skips them (B8)
            return f"tail head+{i} has refcount {words[key] >> 32} (tails must stay 0)"
    except VmemmapFault as exc:
        return f"the folio's counters cannot be read: {exc}"
    return None


def check_only_hugetlb_optimized(m: Machine, before: KState, out: Outcome) -> str | None:
    if out.state.optimized and not out.state.hugetlb and m.scheme.folio_kind is FolioKind.HUGETLB:
        return "the folio's vmemmap is optimized but the folio is not hugetlb any more (bug B5 window)"
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
    )
}  # fmt: skip


FAULT_INVARIANTS = frozenset({"ro-write", "read-fault"})


def check_step(m: Machine, before: KState, out: Outcome, invariants: tuple[str, ...]) -> tuple[str, str] | None:
    """The first violated invariant after one step: (id, message).  A step that oopsed
    leaves no state to judge: only the fault invariants apply to it (as in the BMC)."""
    for inv_id in invariants:
        if out.fault is not None and inv_id not in FAULT_INVARIANTS:
            continue
        message = OP_INVARIANTS[inv_id].check(m, before, out)
        if message is not None:
            return inv_id, message
    return None


@dataclass(frozen=True, slots=True)
class Replayed:
    """One replayed step: the call, its outcome, and the violations it shows."""

    step: TraceStep
    before: KState
    outcome: Outcome | None  # None: the operation was not enabled in this state
    violation: tuple[str, str] | None


def replay(trace: Trace, invariants: tuple[str, ...]) -> list[Replayed]:
    """Run the trace on the concrete model; stop after a disabled step, an oops, or the
    first violation of one of `invariants`."""
    m = trace.machine()
    state = m.initial()
    out: list[Replayed] = []
    for step in trace.steps:
        args = dict(step.args)
        if not m.enabled(state, step.op) or not m.args_ok(step.op, args):
            out.append(Replayed(step, state, None, None))
            break
        outcome = m.apply(state, step.op, args)
        violation = check_step(m, state, outcome, invariants)
        out.append(Replayed(step, state, outcome, violation))
        if violation is not None or outcome.fault is not None:
            break
        state = outcome.state
    return out
