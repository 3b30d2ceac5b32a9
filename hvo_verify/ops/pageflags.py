# SPDX-License-Identifier: GPL-2.0-only
"""Stores to struct page fields of a mapped folio, concretely: PG_arch_1, mapcounts and
arbitrary field writes (the steps of ops/table.py whose subsystem is "pageflags").
Twin: encode/ops/pageflags.py (same function names)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hvo_verify.model import readers
from hvo_verify.model.facts import W_COUNTS, W_FOLIO_COUNTS, WORD
from hvo_verify.model.policy import Arch1, Mapcount
from hvo_verify.ops.state import PROBE_VALUE

if TYPE_CHECKING:
    from hvo_verify.ops.machine import Cpu


def pg_arch_1_page(cpu: Cpu, i: int) -> int:
    """The struct page whose PG_arch_1 the dcache hooks use for subpage i: the subpage,
    its head if PageHuge() (2022), or page_folio() of any page (v6.6+, Arch1.FOLIO)."""
    page = cpu.m.page(i)
    pol = cpu.m.policies.pg_arch_1
    if pol is Arch1.FOLIO or (pol is Arch1.HEAD and readers.page_huge(cpu.state.vmemmap, page)):
        page = cpu.page_folio(page)
    return page


def sync_icache_dcache(cpu: Cpu) -> None:
    i = int(cpu.args["i"])
    page = pg_arch_1_page(cpu, i)
    cpu.say(f"__sync_icache_dcache(head+{i}): set PG_arch_1 on {cpu.m.name(page)}")
    cpu.set_flag(page, cpu.m.scheme.facts.pg_arch_1, True)


def flush_dcache_page(cpu: Cpu) -> None:
    i = int(cpu.args["i"])
    page = pg_arch_1_page(cpu, i)
    cpu.say(f"flush_dcache_page(head+{i}): clear PG_arch_1 on {cpu.m.name(page)}")
    cpu.set_flag(page, cpu.m.scheme.facts.pg_arch_1, False)


def mapcount_field(cpu: Cpu, i: int) -> tuple[int, int]:
    """(address, struct page word) a mapping of subpage i counts in: (head + i)->_mapcount
    per subpage, or the folio's _entire_mapcount in page[1] (model/policy.py Mapcount)."""
    if cpu.m.policies.mapcount is Mapcount.PER_SUBPAGE:
        return cpu.m.page(i) + W_COUNTS * WORD, W_COUNTS
    return cpu.m.page(1) + W_FOLIO_COUNTS * WORD, W_FOLIO_COUNTS


def page_add_file_rmap(cpu: Cpu) -> None:
    i = int(cpu.args["i"])
    cpu.atomic_add(mapcount_field(cpu, i)[0], 1, False)
    if cpu.m.policies.mapcount is Mapcount.PER_SUBPAGE:
        cpu.say(f"page_add_file_rmap(head+{i}): atomic_inc(&(head+{i})->_mapcount)")
    else:
        cpu.say(f"page_add_file_rmap(head+{i}): folio mapcount (page[1]) += 1")
    cpu.update(subpage_maps=(*cpu.state.subpage_maps, i))


def write_struct_page(cpu: Cpu) -> None:
    i, w = int(cpu.args["i"]), int(cpu.args["word"])
    cpu.say(f"WRITE_ONCE(word {w} of head+{i}, {PROBE_VALUE:#x})")
    cpu.store(cpu.m.page(i) + w * WORD, PROBE_VALUE)
