# SPDX-License-Identifier: GPL-2.0-only
"""Stores to struct page fields as z3 terms: twin of ops/pageflags.py, function for
function (the kernel citations are in ops/table.py and there)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import z3

from hvo_verify.encode.ops.state import insert
from hvo_verify.encode.terms import BV, bv
from hvo_verify.model.facts import W_COUNTS, W_FOLIO_COUNTS, WORD
from hvo_verify.model.policy import Arch1, Mapcount
from hvo_verify.ops.state import PROBE_VALUE

if TYPE_CHECKING:
    from hvo_verify.encode.ops.step import StepGen, SymCpu


def pg_arch_1_page(cpu: SymCpu, i: BV) -> BV:
    """The struct page whose PG_arch_1 the dcache hooks use for subpage i."""
    u = cpu.u
    page = u.page(i)
    if u.pol.pg_arch_1 is Arch1.FOLIO:
        return cpu.compound_head(page)
    if u.pol.pg_arch_1 is Arch1.HEAD:
        huge = cpu.page_huge(page)
        head = cpu.compound_head(page, cond=huge)
        return z3.If(huge, head, page)
    return page


def sync_icache_dcache(cpu: SymCpu) -> StepGen:
    yield cpu.set_flag(pg_arch_1_page(cpu, cpu.args["i"]), cpu.u.facts.pg_arch_1, True)


def flush_dcache_page(cpu: SymCpu) -> StepGen:
    yield cpu.set_flag(pg_arch_1_page(cpu, cpu.args["i"]), cpu.u.facts.pg_arch_1, False)


def mapcount_field(cpu: SymCpu, i: BV) -> tuple[BV, int]:
    """(address, struct page word) a mapping of subpage i counts in (ops/pageflags.py)."""
    if cpu.u.pol.mapcount is Mapcount.PER_SUBPAGE:
        return cpu.u.page(i) + W_COUNTS * WORD, W_COUNTS
    return cpu.u.page(1) + W_FOLIO_COUNTS * WORD, W_FOLIO_COUNTS


def page_add_file_rmap(cpu: SymCpu) -> StepGen:
    i = cpu.args["i"]
    addr, field = mapcount_field(cpu, i)
    yield cpu.atomic_add(addr, field, 1, False)
    cpu.update(subpage_maps=insert(cpu.s.subpage_maps, i))


def write_struct_page(cpu: SymCpu) -> StepGen:
    u, a = cpu.u, cpu.args
    yield cpu.store(u.page(a["i"]) + a["word"] * WORD, bv(PROBE_VALUE))
