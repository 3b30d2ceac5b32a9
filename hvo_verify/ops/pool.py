# SPDX-License-Identifier: GPL-2.0-only
"""The HugeTLB pool and the vmemmap remap, concretely: the steps of ops/table.py whose
subsystem is "pool".  Twin: encode/ops/pool.py (same function names)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hvo_verify.model.facts import W_COUNTS, W_FOLIO_COUNTS, WORD
from hvo_verify.model.policy import HugetlbClear
from hvo_verify.ops.pageflags import mapcount_field
from hvo_verify.ops.state import USER_BASE, Pool

if TYPE_CHECKING:
    from hvo_verify.ops.machine import Cpu


def hugetlb_vmemmap_optimize_folio(cpu: Cpu) -> None:
    """mm/hugetlb_vmemmap.c __hugetlb_vmemmap_optimize_folio() -> vmemmap_remap_free()."""
    cpu.remap_free(bool(cpu.args["alloc_ok"]))


def hugetlb_vmemmap_restore_folio(cpu: Cpu) -> None:
    """hugetlb_vmemmap_restore_folio() -> vmemmap_remap_alloc(), where the folio is
    optimized (__update_and_free_hugetlb_folio() tests folio_test_hugetlb_vmemmap_optimized())."""
    if cpu.state.optimized:
        cpu.remap_alloc(bool(cpu.args["alloc_ok"]))


def dequeue_hugetlb_folio_node_exact(cpu: Cpu) -> None:
    """mm/hugetlb.c dequeue_hugetlb_folio_node_exact(): `if (folio_test_hwpoison(folio)) continue;`"""
    if cpu.test_flag(cpu.m.page(0), cpu.m.scheme.facts.pg_hwpoison):
        cpu.say("dequeue_hugetlb_folio_node_exact(): folio is hwpoisoned, skipped")
        cpu.stop()


def alloc_hugetlb_folio(cpu: Cpu) -> None:
    """folio_ref_unfreeze(folio, 1) (6.10+; set_page_refcounted before); mapped whole:
    the entire mapcount goes from -1 to 0."""
    m = cpu.m
    cpu.atomic_add(m.page(0) + W_COUNTS * WORD, 1, True)
    cpu.atomic_add(m.page(1) + W_FOLIO_COUNTS * WORD, 1, False)
    cpu.say(f"folio refcount 0 -> 1; mapped at user address {USER_BASE:#x}")
    cpu.update(pool=Pool.IN_USE, mapped=True, refs=cpu.state.refs + 1)


def zap_huge_pmd(cpu: Cpu) -> None:
    """The user unmaps the folio: every subpage mapping and the folio mapping go."""
    m = cpu.m
    for i in cpu.state.subpage_maps:
        cpu.atomic_add(mapcount_field(cpu, i)[0], -1, False)
    cpu.atomic_add(m.page(1) + W_FOLIO_COUNTS * WORD, -1, False)
    cpu.say("zap_huge_pmd(): unmapped; folio_put()")
    cpu.update(mapped=False, subpage_maps=())


def folio_put(cpu: Cpu) -> None:
    """The user's reference goes: folio_put() -> free_huge_folio() at 0."""
    cpu.update(refs=cpu.state.refs - 1)
    cpu.folio_put_refs(cpu.m.page(0), 1)


def remove_hugetlb_folio(cpu: Cpu) -> None:
    """dissolve_free_hugetlb_folio(page) -> remove_hugetlb_folio(): off the free list;
    before 32c877191e02 (v6.5) this also cleared the hugetlb destructor (bug B5)."""
    i = int(cpu.args["i"])
    cpu.say(f"dissolve_free_hugetlb_folio(pfn_to_page(head_pfn+{i})): remove_hugetlb_folio()")
    hugetlb = cpu.state.hugetlb
    if cpu.m.policies.hugetlb_clear is HugetlbClear.BEFORE_RESTORE:
        hugetlb = False
        cpu.say("remove_hugetlb_folio(): hugetlb dtor cleared before the vmemmap is restored")
    cpu.update(pool=Pool.REMOVED, hugetlb=hugetlb, dissolve_pfn=cpu.m.folio.head_pfn + i)


def add_hugetlb_folio(cpu: Cpu) -> None:
    """The vmemmap could not be restored: the folio goes back on the free list."""
    if cpu.state.optimized:
        cpu.say("add_hugetlb_folio(): back on the free list (still optimized)")
        cpu.update(pool=Pool.FREE, hugetlb=True)
        cpu.stop()


def __folio_clear_hugetlb(cpu: Cpu) -> None:  # the kernel's name
    """The folio is not hugetlb any more (after the restore from v6.5)."""
    cpu.update(hugetlb=False)


def __free_pages(cpu: Cpu) -> None:  # the kernel's name
    """The folio's pages go to the buddy allocator."""
    cpu.say("pages freed to buddy (take_page_off_buddy() keeps PageHWPoison pages off)")
    cpu.free_to_buddy()
    cpu.update(pool=Pool.BUDDY)
