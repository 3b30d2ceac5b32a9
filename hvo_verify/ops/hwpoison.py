# SPDX-License-Identifier: GPL-2.0-only
"""Memory errors on a HugeTLB folio, concretely: the steps of ops/table.py whose
subsystem is "hwpoison".  Twin: encode/ops/hwpoison.py (same function names).

Where the kernel records a raw error depends on the version (model/policy.py
Hwpoison): the raw page's own flag, the head flag moved to the raw page by dissolve and
cleared on the other pages after the restore (the RFC as posted), the head flag plus an
index in page_private(head + SUBPAGE_INDEX_HWPOISON) (later 2020 versions), the head
flag alone (v5.14..v6.0), or the head flag plus the folio's raw_hwp list (v6.1+).  A
Device-DAX folio's error is marked on its compound head (mf_generic_kill_procs())."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hvo_verify.model import readers
from hvo_verify.model.facts import W_PRIVATE, WORD
from hvo_verify.model.policy import Hwpoison
from hvo_verify.model.scheme import FolioKind
from hvo_verify.ops.state import Pool

if TYPE_CHECKING:
    from hvo_verify.ops.machine import Cpu


def memory_failure(cpu: Cpu) -> None:
    """mm/memory-failure.c memory_failure() on pfn head_pfn + i."""
    m, facts = cpu.m, cpu.m.scheme.facts
    i = int(cpu.args["i"])
    pfn = m.folio.head_pfn + i
    page = readers.pfn_to_page(cpu.state.vmemmap, pfn)
    cpu.update(injected=cpu.state.injected | {pfn})
    pol = m.policies.hwpoison
    if not cpu.state.hugetlb or pol is Hwpoison.RAW_FLAG:
        if m.scheme.folio_kind is FolioKind.DEVDAX and pol is not Hwpoison.RAW_FLAG:
            # memory_failure_dev_pagemap() -> mf_generic_kill_procs(): "page =
            # compound_head(page)", then SetPageHWPoison(page) (linux-source-6.1
            # mm/memory-failure.c:1603-1607, 1642); 6.12 :1764-1771, 1813 "simply mark the
            # compound head page", SetPageHWPoison(&folio->page).
            page = cpu.page_folio(page)
            cpu.say(f"memory_failure(head_pfn+{i}): Device-DAX: SetPageHWPoison({m.name(page)}) (compound head)")
        else:  # memory_failure(): TestSetPageHWPoison(p) on the raw page
            cpu.say(f"memory_failure(head_pfn+{i}): SetPageHWPoison({m.name(page)})")
        cpu.set_flag(page, facts.pg_hwpoison, True, rmw=True)
        return
    head = cpu.page_folio(page)
    already = cpu.test_flag(head, facts.pg_hwpoison)
    if pol in (Hwpoison.HEAD_INDEX, Hwpoison.HEAD_FLAG, Hwpoison.SUBPAGE_HWPOISON):
        if already:
            cpu.say(f"memory_failure(head_pfn+{i}): hugetlb head already hwpoisoned: -EHWPOISON")
            return
        cpu.set_flag(head, facts.pg_hwpoison, True, rmw=True)
        if pol is Hwpoison.HEAD_INDEX:  # hwpoison_subpage_set(): page_private(head + 4) = page - head
            cpu.store(head + facts.subpage_index_hwpoison * m.folio.size + W_PRIVATE * WORD, i)
            cpu.say(f"memory_failure(head_pfn+{i}): SetPageHWPoison(head); "
                    f"head[{facts.subpage_index_hwpoison}].private = {i}")  # fmt: skip
        else:
            cpu.say(f"memory_failure(head_pfn+{i}): TestSetPageHWPoison(head)")
        return
    # folio_set_hugetlb_hwpoison() (v6.1)
    cpu.set_flag(head, facts.pg_hwpoison, True, rmw=True)
    if cpu.state.raw_hwp_unreliable or pfn in cpu.state.raw_hwp:
        cpu.say(f"memory_failure(head_pfn+{i}): head flag set; raw list unchanged")
        return
    if not cpu.args["kmalloc_ok"] and m.policies.kmalloc_may_fail:
        cpu.say(f"memory_failure(head_pfn+{i}): kmalloc failed: raw_hwp_unreliable")
        cpu.update(raw_hwp=(), raw_hwp_unreliable=True)
        return
    cpu.say(f"memory_failure(head_pfn+{i}): SetPageHWPoison(head); raw_hwp list += head+{i}")
    cpu.update(raw_hwp=(*cpu.state.raw_hwp, pfn))


def set_subpage_hwpoison(cpu: Cpu) -> None:
    """dissolve_free_huge_page(page) in the RFC as posted (Hwpoison.SUBPAGE_HWPOISON; RFC
    18/24): `if (PageHWPoison(head) && page != head) { SetPageHWPoison(page);
    ClearPageHWPoison(head); }` while the vmemmap is still optimized (the raw page's
    struct page may be a writable alias), then set_subpage_hwpoison(head, page):
    page_private(head + 4) = page - head.  Other policies: nothing here."""
    m, facts = cpu.m, cpu.m.scheme.facts
    if m.policies.hwpoison is not Hwpoison.SUBPAGE_HWPOISON:
        return
    i = int(cpu.args["i"])
    head, page, bit = m.page(0), m.page(i), facts.pg_hwpoison
    if cpu.test_flag(head, bit) and page != head:
        cpu.set_flag(page, bit, True, rmw=True)
        cpu.set_flag(head, bit, False, rmw=True)
        cpu.say(f"dissolve_free_huge_page(head+{i}): PG_hwpoison moved to head+{i} (vmemmap still optimized)")
    cpu.store(m.page(facts.subpage_index_hwpoison) + W_PRIVATE * WORD, i)
    cpu.say(f"set_subpage_hwpoison(): head[{facts.subpage_index_hwpoison}].private = {i}")


def folio_test_hugetlb_raw_hwp_unreliable(cpu: Cpu) -> None:
    """__update_and_free_hugetlb_folio(): a folio whose raw error list is unreliable is
    leaked, never freed (v6.1+)."""
    if cpu.m.policies.hwpoison is Hwpoison.RAW_HWP_LIST and cpu.state.raw_hwp_unreliable:
        cpu.say("raw_hwp_unreliable: folio leaked intentionally")
        cpu.update(pool=Pool.LEAKED)
        cpu.stop()


def folio_clear_hugetlb_hwpoison(cpu: Cpu) -> None:
    """Hand the head's record over to the raw pages once the vmemmap is restored:
    __free_hugepage()'s clear loop (the RFC), hwpoison_subpage_deliver() (later 2020
    versions), dissolve_free_huge_page() (v5.14..v6.0), folio_clear_hugetlb_hwpoison()
    (v6.1+)."""
    m, facts = cpu.m, cpu.m.scheme.facts
    pol, head, bit = m.policies.hwpoison, m.page(0), facts.pg_hwpoison
    if pol is Hwpoison.SUBPAGE_HWPOISON:
        # __free_hugepage() after alloc_huge_page_vmemmap(): for every subpage,
        # `if (PageHWPoison(page + i) && !subpage_hwpoison(page, page + i))
        # ClearPageHWPoison(page + i)`, subpage_hwpoison() being page_private(head + 4) == i.
        idx = cpu.read(m.page(facts.subpage_index_hwpoison) + W_PRIVATE * WORD)
        cleared = [i for i in range(m.nr) if i != idx and cpu.test_flag(m.page(i), bit)]
        for i in cleared:
            cpu.set_flag(m.page(i), bit, False, rmw=True)
        if cleared:
            cpu.say(f"__free_hugepage(): PG_hwpoison cleared on {len(cleared)} page(s) but head+{idx}")
    elif pol is Hwpoison.HEAD_INDEX and cpu.test_flag(head, bit):
        idx = cpu.read(m.page(facts.subpage_index_hwpoison) + W_PRIVATE * WORD)
        if idx != 0:  # hwpoison_subpage_deliver()
            cpu.set_flag(m.page(idx), bit, True, rmw=True)
            cpu.set_flag(head, bit, False, rmw=True)
            cpu.say(f"hwpoison_subpage_deliver(): PG_hwpoison moved to head+{idx}")
    elif pol is Hwpoison.HEAD_FLAG and cpu.test_flag(head, bit):
        dissolve = cpu.state.dissolve_pfn
        page = m.folio.page(dissolve) if dissolve is not None else head
        if page != head:
            cpu.set_flag(page, bit, True, rmw=True)
            cpu.set_flag(head, bit, False, rmw=True)
            cpu.say(f"dissolve_free_huge_page(): PG_hwpoison moved to {m.name(page)}")
    elif pol is Hwpoison.RAW_HWP_LIST and cpu.test_flag(head, bit):
        # folio_clear_hugetlb_hwpoison(): clear the head, SetPageHWPoison() each raw page
        cpu.set_flag(head, bit, False, rmw=True)
        for pfn in cpu.state.raw_hwp:
            cpu.set_flag(m.folio.page(pfn), bit, True, rmw=True)
        cpu.say(f"folio_clear_hugetlb_hwpoison(): PG_hwpoison moved to {len(cpu.state.raw_hwp)} raw page(s)")
        cpu.update(raw_hwp=())
