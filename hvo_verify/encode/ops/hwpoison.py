"""Memory errors on a HugeTLB folio as z3 terms: twin of ops/hwpoison.py, function for
function (the kernel citations are in ops/table.py and there)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import z3

from hvo_verify.encode.ops.state import POOL, insert, listed
from hvo_verify.encode.terms import bv, conj
from hvo_verify.model.facts import W_PRIVATE, WORD
from hvo_verify.model.policy import Hwpoison
from hvo_verify.ops.state import Pool

if TYPE_CHECKING:
    from hvo_verify.encode.ops.step import StepGen, SymCpu


def memory_failure(cpu: SymCpu) -> StepGen:
    u, s, facts = cpu.u, cpu.s, cpu.u.facts
    pol, bit = u.pol.hwpoison, facts.pg_hwpoison
    i = cpu.args["i"]
    page = cpu.pfn_to_page(i)
    cpu.update(injected=insert(s.injected, i))
    if pol is Hwpoison.RAW_FLAG:
        yield cpu.set_flag(page, bit, True, rmw=True)
        return
    raw_path = z3.Not(s.hugetlb)
    hpath = z3.Not(raw_path)
    head = cpu.compound_head(page, cond=hpath)
    already = cpu.test_flag(head, bit, cond=hpath)
    # the raw flag (raw path) or the head flag (hugetlb path)
    first = cpu.set_flag(z3.If(raw_path, page, head), bit, True, rmw=True)
    if pol in (Hwpoison.HEAD_INDEX, Hwpoison.HEAD_FLAG):
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


def folio_test_hugetlb_raw_hwp_unreliable(cpu: SymCpu) -> StepGen:
    if cpu.u.pol.hwpoison is Hwpoison.RAW_HWP_LIST:
        leak = cpu.s.raw_hwp_unreliable
        cpu.update(when=leak, pool=bv(POOL[Pool.LEAKED]))
        cpu.stop(when=leak)
    yield from ()


def folio_clear_hugetlb_hwpoison(cpu: SymCpu) -> StepGen:
    u, s, facts = cpu.u, cpu.s, cpu.u.facts
    pol, head, bit = u.pol.hwpoison, u.head, facts.pg_hwpoison
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
