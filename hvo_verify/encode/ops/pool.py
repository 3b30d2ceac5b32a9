# SPDX-License-Identifier: GPL-2.0-only
"""The HugeTLB pool and the vmemmap remap as z3 terms: twin of ops/pool.py, function
for function (the kernel citations are in ops/table.py and there)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import z3

from hvo_verify.encode.ops.pageflags import mapcount_field
from hvo_verify.encode.ops.state import POOL, slots
from hvo_verify.encode.terms import FALSE, TRUE, bv
from hvo_verify.model.facts import W_COUNTS, W_FOLIO_COUNTS, WORD
from hvo_verify.model.policy import HugetlbClear
from hvo_verify.ops.state import Pool

if TYPE_CHECKING:
    from hvo_verify.encode.ops.step import StepGen, SymCpu


def hugetlb_vmemmap_optimize_folio(cpu: SymCpu) -> StepGen:
    ok = cpu.remap_free(cpu.args["alloc_ok"])
    cpu.update(optimized=z3.Or(cpu.s.optimized, ok))
    yield from ()


def hugetlb_vmemmap_restore_folio(cpu: SymCpu) -> StepGen:
    s, alloc_ok = cpu.s, cpu.args["alloc_ok"]
    restored = cpu.remap_alloc(z3.And(s.optimized, alloc_ok))
    cpu.update(optimized=z3.And(s.optimized, z3.Not(restored)))
    yield from ()


def dequeue_hugetlb_folio_node_exact(cpu: SymCpu) -> StepGen:
    cpu.stop(when=cpu.test_flag(cpu.u.head, cpu.u.facts.pg_hwpoison))
    yield from ()


def alloc_hugetlb_folio(cpu: SymCpu) -> StepGen:
    u, s = cpu.u, cpu.s
    yield cpu.atomic_add(u.head + W_COUNTS * WORD, W_COUNTS, 1, True)
    yield cpu.atomic_add(u.page(1) + W_FOLIO_COUNTS * WORD, W_FOLIO_COUNTS, 1, False)
    cpu.update(pool=bv(POOL[Pool.IN_USE]), mapped=TRUE, refs=s.refs + 1)


def zap_huge_pmd(cpu: SymCpu) -> StepGen:
    u = cpu.u
    for valid, i in cpu.s.subpage_maps:
        addr, field = mapcount_field(cpu, i)
        yield cpu.atomic_add(addr, field, -1, False, cond=valid)
    yield cpu.atomic_add(u.page(1) + W_FOLIO_COUNTS * WORD, W_FOLIO_COUNTS, -1, False)
    cpu.update(mapped=FALSE, subpage_maps=slots(u.list_len))


def folio_put(cpu: SymCpu) -> StepGen:
    cpu.update(refs=cpu.s.refs - 1)
    yield from cpu.folio_put_refs(cpu.u.head, bv(1))


def remove_hugetlb_folio(cpu: SymCpu) -> StepGen:
    s = cpu.s
    hugetlb = FALSE if cpu.u.pol.hugetlb_clear is HugetlbClear.BEFORE_RESTORE else s.hugetlb
    cpu.update(pool=bv(POOL[Pool.REMOVED]), hugetlb=hugetlb, dissolve_pfn=(TRUE, cpu.args["i"]))
    yield from ()


def add_hugetlb_folio(cpu: SymCpu) -> StepGen:
    failed = cpu.s.optimized
    cpu.update(when=failed, pool=bv(POOL[Pool.FREE]), hugetlb=TRUE)
    cpu.stop(when=failed)
    yield from ()


def __folio_clear_hugetlb(cpu: SymCpu) -> StepGen:  # the kernel's name
    cpu.update(hugetlb=FALSE)
    yield from ()


def __free_pages(cpu: SymCpu) -> StepGen:  # the kernel's name
    cpu.free_to_buddy()
    cpu.update(pool=bv(POOL[Pool.BUDDY]))
    yield from ()
