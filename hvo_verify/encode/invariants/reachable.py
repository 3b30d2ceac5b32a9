# SPDX-License-Identifier: GPL-2.0-only
"""The invariants over reachable states as z3 terms, per step of an Unrolling (mirror of
hvo_verify/invariants/reachable.py: same ids, same meaning; witnesses are fresh variables),
and the witness of each (WITNESSES: the situation it is about, at one step)."""

from __future__ import annotations

from collections.abc import Callable

import z3

from hvo_verify.encode import readers
from hvo_verify.encode.memory import Page
from hvo_verify.encode.ops.memory import SHARED, T_NONE, frame_tag
from hvo_verify.encode.ops.state import POOL, SymKState, listed
from hvo_verify.encode.ops.step import Step
from hvo_verify.encode.ops.unroll import Unrolling
from hvo_verify.encode.terms import BITS, FALSE, TRUE, B
from hvo_verify.invariants.reachable import CLEARS_HUGETLB, FAULT_INVARIANTS, FREES_TO_BUDDY, GUP_OPS, SUBPAGE_READERS
from hvo_verify.model import facts
from hvo_verify.model.facts import WORD
from hvo_verify.model.policy import Hwpoison
from hvo_verify.model.scheme import FolioKind
from hvo_verify.ops.state import Pool


def _witness(name: str, t: int) -> z3.BitVecRef:
    return z3.BitVec(f"{name}_{t}", BITS)


def ro_write(u: Unrolling, st: Step) -> B:
    return z3.And(st.write_fault, z3.Not(st.read_fault))


def read_fault(u: Unrolling, st: Step) -> B:
    return st.read_fault


def alias_write(u: Unrolling, st: Step) -> B:
    out = []
    for n, (ev, old, k) in enumerate(st.stores):
        kq = _witness(f"alias_k{n}", st.t)
        fq, _ = u.frame(st.t, kq)
        folio_state = z3.ULT(ev.vaddr - u.head, u.scheme.unique_struct_pages * u.size)
        shared = z3.Or(ev.frame == SHARED, z3.And(kq >= 0, kq < u.nr_vmemmap, kq != k, fq == ev.frame))
        out.append(z3.And(ev.active, old != ev.value, z3.Not(folio_state), shared))
    return z3.Or(out) if out else FALSE


def dma_exact(u: Unrolling, st: Step) -> B:
    return st.dma_bad


def only_hugetlb_optimized(u: Unrolling, st: Step) -> B:
    if u.scheme.folio_kind is not FolioKind.HUGETLB:
        return FALSE
    return z3.And(st.after.optimized, z3.Not(st.after.hugetlb))


def _read(u: Unrolling, st: Step, vaddr: z3.BitVecRef, faults: list[B], cond: B = TRUE) -> z3.BitVecRef:
    value, fault = u.read(st.t, vaddr)
    faults.append(z3.And(cond, fault))
    return value


def refcount(u: Unrolling, st: Step) -> B:
    s = st.after
    faults: list[B] = []
    live = z3.And(s.pool != POOL[Pool.BUDDY], s.pool != POOL[Pool.LEAKED])
    head_ref = z3.Extract(63, 32, _read(u, st, u.head + facts.W_COUNTS * WORD, faults))
    pins = z3.Extract(63, 32, _read(u, st, u.page(1) + facts.W_FOLIO_COUNTS * WORD, faults))
    j = _witness("tail", st.t)
    tail = u.page(j)
    in_tail = z3.And(z3.UGT(j, 0), z3.ULT(j, u.nr))
    # A tail whose vmemmap page is unmapped cannot hold a reference (a store there would
    # have oopsed): invariants/reachable.py check_refcount() only reads tails that were stored to.
    tail_faults: list[B] = []
    fake_head = readers.page_is_fake_head(u.memory(st.t, s.optimized), Page(tail))
    tail_faults.append(z3.And(in_tail, fake_head.fault))
    fake = fake_head.value
    tail_ref = z3.Extract(
        63, 32, _read(u, st, tail + facts.W_COUNTS * WORD, tail_faults, z3.And(in_tail, z3.Not(fake)))
    )
    bad = z3.Or(
        head_ref != z3.Extract(31, 0, s.refs),
        pins != z3.Extract(31, 0, s.pins),
        z3.And(in_tail, z3.Not(z3.Or(tail_faults)), z3.Not(fake), tail_ref != 0),
        z3.Or(faults),
    )
    return z3.And(live, bad)


def _injected(s: SymKState, i: z3.BitVecRef) -> B:
    return listed(s.injected, i)


def _raw_flag(u: Unrolling, st: Step, i: z3.BitVecRef, faults: list[B], cond: B) -> B:
    """PageHWPoison(pfn_to_page(head_pfn + i)).  An unmapped struct page reads as not
    poisoned (no store could have set it); its fault is a violation only where `cond`
    says the page must be readable (an injected pfn): invariants/reachable.py reported_hwpoison() reads
    only the injected pfns and the words that were stored to."""
    page = readers.pfn_to_page(u.memory(st.t, st.after.optimized), i).rel
    word, fault = u.read(st.t, page + facts.W_FLAGS * WORD)
    faults.append(z3.And(cond, fault))
    bit = u.facts.pg_hwpoison
    return z3.And(z3.Not(fault), z3.Extract(bit, bit, word) == 1)


def hwpoison_exact(u: Unrolling, st: Step) -> B:
    s = st.after
    faults: list[B] = []
    i = _witness("pfn", st.t)
    injected = _injected(s, i)
    pol = u.pol.hwpoison
    hugetlb_record = s.hugetlb if pol is not Hwpoison.RAW_FLAG else FALSE
    raw = _raw_flag(u, st, i, faults, z3.And(injected, z3.Not(hugetlb_record)))
    raw_bad = raw != injected
    if pol is Hwpoison.RAW_FLAG:
        bad = raw_bad
    else:
        hugetlb = s.hugetlb
        hf_word = _read(u, st, u.head + facts.W_FLAGS * WORD, faults, hugetlb)
        bit = u.facts.pg_hwpoison
        hf = z3.Extract(bit, bit, hf_word) == 1
        if pol is Hwpoison.HEAD_INDEX:
            idx = _read(
                u, st, u.page(u.facts.subpage_index_hwpoison) + facts.W_PRIVATE * WORD, faults, z3.And(hugetlb, hf)
            )
            rec_bad = z3.And(hf, idx == i) != injected
        elif pol in (Hwpoison.HEAD_FLAG, Hwpoison.SUBPAGE_HWPOISON):
            rec_bad = hf != injected
        else:
            reported = z3.And(hf, z3.Or(s.raw_hwp_unreliable, listed(s.raw_hwp, i)))
            rec_bad = z3.If(s.raw_hwp_unreliable, z3.And(injected, z3.Not(reported)), reported != injected)
        bad = z3.If(hugetlb, rec_bad, raw_bad)
    return z3.And(z3.ULT(i, u.nr), z3.Or(bad, z3.Or(faults)))


def hwpoison_freed(u: Unrolling, st: Step) -> B:
    faults: list[B] = []
    i = _witness("freed", st.t)
    injected = _injected(st.after, i)
    flagged = _raw_flag(u, st, i, faults, injected)
    return z3.And(st.to_buddy, z3.ULT(i, u.nr), injected, z3.Or(z3.Not(flagged), z3.Or(faults)))


def restore_identity(u: Unrolling, st: Step) -> B:
    k = _witness("rk", st.t)
    off = _witness("roff", st.t)
    vaddr = ((k + u.first) << u.shift) | off
    f, _w = u.frame(st.t, k)
    got = u.read_frame(f, off)
    want = u.shadow(vaddr, st.level)
    in_range = z3.And(z3.ULT(k, u.nr_vmemmap), z3.ULT(off, u.page_size), off & (WORD - 1) == 0)
    return z3.And(st.restored, in_range, frame_tag(f) != T_NONE, got != want)


def vmemmap_frame_freeable(u: Unrolling, st: Step) -> B:
    return st.unfreeable


def restore_progress(u: Unrolling, st: Step) -> B:
    return st.restore_refused


VIOLATIONS: dict[str, Callable[[Unrolling, Step], B]] = {
    "dma-exact": dma_exact,
    "alias-write": alias_write,
    "ro-write": ro_write,
    "read-fault": read_fault,
    "hwpoison-exact": hwpoison_exact,
    "hwpoison-freed": hwpoison_freed,
    "restore-identity": restore_identity,
    "refcount": refcount,
    "only-hugetlb-optimized": only_hugetlb_optimized,
    "vmemmap-frame-freeable": vmemmap_frame_freeable,
    "restore-progress": restore_progress,
}


def violation_at(u: Unrolling, inv: str, t: int) -> B:
    """The trace of steps 1..t is possible and step t violates `inv`."""
    st = u.steps[t - 1]
    clean = TRUE if inv in FAULT_INVARIANTS else z3.Not(st.fault)
    with u.at_level(st.level):
        return z3.And(st.alive, st.enabled, clean, VIOLATIONS[inv](u, st))


# -- witnesses (invariants/reachable.py WITNESSES, same ids) -----------------------------------


def _is_op(st: Step, names: frozenset[str]) -> B:
    """Step t runs one of `names` (only the operations possible there are encoded)."""
    return z3.Or([sel for name, sel in st.is_op.items() if name in names] or [FALSE])


def subpage_read(u: Unrolling, st: Step) -> tuple[B, z3.BitVecRef]:
    """(the step reads a subpage's struct page, that subpage): SUBPAGE_READERS read head+i,
    GUP_OPS the struct page of the buffer's first page."""
    reads = z3.Or(_is_op(st, SUBPAGE_READERS), _is_op(st, GUP_OPS))
    i = z3.If(_is_op(st, GUP_OPS), z3.LShR(st.args["offset"], u.shift), st.args["i"])
    return reads, i


def in_remapped_vpage(u: Unrolling, i: z3.BitVecRef) -> B:
    return u.remapped(z3.LShR(u.page(i), u.shift) - u.first)


def witness_dma_optimized(u: Unrolling, st: Step) -> B:
    return z3.And(_is_op(st, frozenset({"submit_bio"})), st.before.optimized, z3.Not(st.fault))


def witness_tail_reference(u: Unrolling, st: Step) -> B:
    _reads, i = subpage_read(u, st)
    counts = _is_op(st, GUP_OPS | {"page_add_file_rmap"})
    return z3.And(counts, st.before.optimized, z3.UGT(i, 0), z3.Not(st.fault))


def witness_read_remapped(u: Unrolling, st: Step) -> B:
    reads, i = subpage_read(u, st)
    return z3.And(reads, st.before.optimized, in_remapped_vpage(u, i))


def witness_store_optimized(u: Unrolling, st: Step) -> B:
    stored = z3.Or([ev.active for ev, _old, _k in st.stores] or [FALSE])
    return z3.And(st.before.optimized, st.after.optimized, stored, z3.Not(st.read_fault))


def witness_mf_subpage(u: Unrolling, st: Step) -> B:
    return z3.And(_is_op(st, frozenset({"memory_failure"})), st.before.optimized, z3.UGT(st.args["i"], 0))


def witness_poisoned_freed(u: Unrolling, st: Step) -> B:
    injected = z3.Or([valid for valid, _i in st.before.injected] or [FALSE])
    return z3.And(_is_op(st, FREES_TO_BUDDY), injected)


def witness_restore_optimized(u: Unrolling, st: Step) -> B:
    return z3.And(st.restored, st.before.optimized)


def witness_restore_attempted(u: Unrolling, st: Step) -> B:
    return z3.And(z3.Or(st.restored, st.restore_refused), st.before.optimized)


def witness_hugetlb_cleared(u: Unrolling, st: Step) -> B:
    return z3.And(_is_op(st, CLEARS_HUGETLB), st.before.optimized, st.before.hugetlb)


def witness_optimize_called(u: Unrolling, st: Step) -> B:
    return z3.And(_is_op(st, frozenset({"hugetlb_vmemmap_optimize_folio"})), z3.Not(st.before.optimized))


WITNESSES: dict[str, Callable[[Unrolling, Step], B]] = {
    "dma-optimized": witness_dma_optimized,
    "tail-reference": witness_tail_reference,
    "read-remapped": witness_read_remapped,
    "store-optimized": witness_store_optimized,
    "mf-subpage": witness_mf_subpage,
    "poisoned-freed": witness_poisoned_freed,
    "restore-optimized": witness_restore_optimized,
    "restore-attempted": witness_restore_attempted,
    "hugetlb-cleared": witness_hugetlb_cleared,
    "optimize-called": witness_optimize_called,
}


def witness_at(u: Unrolling, wid: str, t: int) -> B:
    """The trace of steps 1..t is possible and step t reaches witness `wid`."""
    st = u.steps[t - 1]
    with u.at_level(st.level):
        return z3.And(st.alive, st.enabled, WITNESSES[wid](u, st))
