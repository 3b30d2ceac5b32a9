# SPDX-License-Identifier: GPL-2.0-only
"""Memory errors on a HugeTLB folio as z3 terms: twin of ops/hwpoison.py, function for
function (the kernel citations are in ops/table.py and there)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import z3

from hvo_verify.encode.ops.state import POOL, insert, listed
from hvo_verify.encode.terms import TRUE, bv, conj
from hvo_verify.model.facts import W_PRIVATE, WORD
from hvo_verify.model.policy import Hwpoison
from hvo_verify.model.scheme import FolioKind
from hvo_verify.ops.state import Pool

if TYPE_CHECKING:
    from hvo_verify.encode.ops.step import StepGen, SymCpu
    from hvo_verify.encode.ops.unroll import Unrolling


def memory_failure(cpu: SymCpu) -> StepGen:
    u, s, facts = cpu.u, cpu.s, cpu.u.facts
    pol, bit = u.pol.hwpoison, facts.pg_hwpoison
    i = cpu.args["i"]
    page = cpu.pfn_to_page(i)
    cpu.update(injected=insert(s.injected, i))
    if pol is Hwpoison.RAW_FLAG:
        yield cpu.set_flag(page, bit, True, rmw=True)
        return
    if u.scheme.folio_kind is FolioKind.DEVDAX:  # mf_generic_kill_procs(): the compound head
        yield cpu.set_flag(cpu.compound_head(page), bit, True, rmw=True)
        return
    raw_path = z3.Not(s.hugetlb)
    hpath = z3.Not(raw_path)
    head = cpu.compound_head(page, cond=hpath)
    already = cpu.test_flag(head, bit, cond=hpath)
    # the raw flag (raw path) or the head flag (hugetlb path)
    first = cpu.set_flag(z3.If(raw_path, page, head), bit, True, rmw=True)
    if pol in (Hwpoison.HEAD_INDEX, Hwpoison.HEAD_FLAG, Hwpoison.SUBPAGE_HWPOISON):
        first.active = conj(first.active, z3.Or(raw_path, z3.Not(already)))  # -EHWPOISON: head already set
        yield first
        if pol is Hwpoison.HEAD_INDEX:
            index_word = head + facts.subpage_index_hwpoison * u.size + W_PRIVATE * WORD
            yield cpu.store(index_word, i, W_PRIVATE, cond=z3.And(hpath, z3.Not(already)))
        return
    yield first
    add = z3.And(hpath, z3.Not(s.raw_hwp_unreliable), z3.Not(listed(s.raw_hwp, i)))
    fail = z3.And(add, z3.Not(cpu.args["kmalloc_ok"]), z3.BoolVal(u.pol.kmalloc_may_fail))
    raw = insert(s.raw_hwp, i, z3.And(add, z3.Not(fail)))
    raw = tuple((z3.And(v, z3.Not(fail)), x) for v, x in raw)
    cpu.update(raw_hwp=raw, raw_hwp_unreliable=z3.Or(s.raw_hwp_unreliable, fail))


def set_subpage_hwpoison(cpu: SymCpu) -> StepGen:
    u, facts = cpu.u, cpu.u.facts
    if u.pol.hwpoison is not Hwpoison.SUBPAGE_HWPOISON:
        return
    i, bit = cpu.args["i"], facts.pg_hwpoison
    page = u.page(i)
    move = z3.And(cpu.test_flag(u.head, bit), page != u.head)
    yield cpu.set_flag(page, bit, True, cond=move, rmw=True)
    yield cpu.set_flag(u.head, bit, False, cond=move, rmw=True)
    yield cpu.store(u.page(facts.subpage_index_hwpoison) + W_PRIVATE * WORD, i, W_PRIVATE)


def _same_slot(u: Unrolling, i: z3.BitVecRef) -> list[tuple[z3.BoolRef, z3.BitVecRef]]:
    """(is a struct page of the folio, its index) for every struct page whose flags word
    may hold a PG_hwpoison that a store to subpage i's flags word put there: the same
    offset in every vmemmap page of the folio (a store through an alias lands in the
    frame every alias reads, and the restore copies that frame into each page), and, where
    the restore resets the first NR_RESET_STRUCT_PAGE slots from the next ones
    (reset_struct_pages()), that many struct pages lower.  The z3 side of __free_hugepage()'s
    loop over every subpage visits only these (and the head): no other step sets the bit."""
    ps, size = u.page_size, u.size
    offset = u.page(i) & (ps - 1)
    shifts = [0]
    if u.pol.restore_reset:
        shifts.append(u.facts.nr_reset_struct_page * size)
    out = []
    for shift in shifts:
        off = offset - shift
        ok = z3.And(z3.UGE(offset, shift), z3.ULT(off, ps))
        for k in range(u.nr_vmemmap):
            rel = bv((k + u.first) * ps) + off - u.head
            out.append((z3.And(ok, z3.URem(rel, size) == 0, z3.ULT(z3.UDiv(rel, size), u.nr)), z3.UDiv(rel, size)))
    return out


def folio_test_hugetlb_raw_hwp_unreliable(cpu: SymCpu) -> StepGen:
    if cpu.u.pol.hwpoison is Hwpoison.RAW_HWP_LIST:
        leak = cpu.s.raw_hwp_unreliable
        cpu.update(when=leak, pool=bv(POOL[Pool.LEAKED]))
        cpu.stop(when=leak)
    yield from ()


def folio_clear_hugetlb_hwpoison(cpu: SymCpu) -> StepGen:
    u, s, facts = cpu.u, cpu.s, cpu.u.facts
    pol, head, bit = u.pol.hwpoison, u.head, facts.pg_hwpoison
    if pol is Hwpoison.SUBPAGE_HWPOISON:
        idx = cpu.read(u.page(facts.subpage_index_hwpoison) + W_PRIVATE * WORD, W_PRIVATE)
        called, d = s.dissolve_pfn
        sources = [(called, d), *s.injected]
        candidates = [(TRUE, bv(0))] + [(z3.And(v, ok), j) for v, src in sources for ok, j in _same_slot(u, src)]
        for ok, j in candidates:
            page = u.page(j)
            clear = z3.And(ok, j != idx, cpu.test_flag(page, bit, cond=ok))
            yield cpu.set_flag(page, bit, False, cond=clear, rmw=True)
        return
    head_poisoned = cpu.test_flag(head, bit)
    if pol is Hwpoison.HEAD_INDEX:
        idx = cpu.read(u.page(facts.subpage_index_hwpoison) + W_PRIVATE * WORD, W_PRIVATE, cond=head_poisoned)
        deliver = z3.And(head_poisoned, idx != 0)
        yield cpu.set_flag(head + idx * u.size, bit, True, cond=deliver, rmw=True)
        yield cpu.set_flag(head, bit, False, cond=deliver, rmw=True)
    elif pol is Hwpoison.HEAD_FLAG:
        called, i = s.dissolve_pfn
        page = u.page(i)
        deliver = z3.And(head_poisoned, called, page != head)
        yield cpu.set_flag(page, bit, True, cond=deliver, rmw=True)
        yield cpu.set_flag(head, bit, False, cond=deliver, rmw=True)
    elif pol is Hwpoison.RAW_HWP_LIST:
        yield cpu.set_flag(head, bit, False, cond=head_poisoned, rmw=True)
        for valid, i in s.raw_hwp:
            yield cpu.set_flag(u.page(i), bit, True, cond=z3.And(head_poisoned, valid), rmw=True)
        moved = conj(cpu.running, head_poisoned)
        cpu.update(raw_hwp=tuple((z3.And(z3.Not(moved), v), i) for v, i in s.raw_hwp))
