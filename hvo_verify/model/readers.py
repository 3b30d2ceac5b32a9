# SPDX-License-Identifier: GPL-2.0-only
"""The kernel's struct page readers, evaluated on the concrete vmemmap.

Each reads words through `VmemmapView.read_word` (model/vmemmap.py), so aliases see the same bytes and an
unmapped vmemmap page raises VmemmapFault, as it would oops in the kernel.
"""

from __future__ import annotations

from hvo_verify.model.facts import (
    HUGETLB_PAGE_DTOR,
    KPF_COMPOUND_HEAD,
    KPF_COMPOUND_TAIL,
    KPF_HUGE,
    MASK64,
    W_COMPOUND_HEAD,
    W_FLAGS,
    W_FOLIO_INFO,
    WORD,
)
from hvo_verify.model.scheme import Encoding, MemoryModel
from hvo_verify.model.vmemmap import VmemmapView


def flags(mem: VmemmapView, page: int) -> int:
    return mem.read_word(page + W_FLAGS * WORD)


def compound_head_word(mem: VmemmapView, page: int) -> int:
    return mem.read_word(page + W_COMPOUND_HEAD * WORD)


def test_page_head(mem: VmemmapView, page: int) -> bool:
    """test_bit(PG_head, &page->flags)."""
    return bool(flags(mem, page) >> mem.folio.scheme.facts.pg_head & 1)


def page_fixed_fake_head(mem: VmemmapView, page: int) -> int:
    """include/linux/page-flags.h page_fixed_fake_head() (v5.18..v6.19)."""
    if page % mem.config.page_size == 0 and test_page_head(mem, page):
        head = compound_head_word(mem, page + mem.folio.size)
        if head & 1:
            return (head - 1) & MASK64
    return page


def compound_head(mem: VmemmapView, page: int) -> int:
    """_compound_head() for the scheme's encoding."""
    info = compound_head_word(mem, page)
    encoding = mem.folio.scheme.encoding
    if encoding is Encoding.MASK:
        # linux-mm include/linux/page-flags.h @03e0599d: mask = (info & 1) - 1; mask |= info
        mask = ((info & 1) - 1) & MASK64
        mask |= info
        return page & mask
    if info & 1:
        return (info - 1) & MASK64
    if encoding is Encoding.POINTER_FAKE_HEAD_FIX:
        return page_fixed_fake_head(mem, page)
    return page


def page_is_fake_head(mem: VmemmapView, page: int) -> bool:
    if mem.folio.scheme.encoding is not Encoding.POINTER_FAKE_HEAD_FIX:
        return False
    return page_fixed_fake_head(mem, page) != page


def page_head(mem: VmemmapView, page: int) -> bool:
    """PageHead(): PG_head && !page_is_fake_head() (v5.18); PG_head alone otherwise."""
    return test_page_head(mem, page) and not page_is_fake_head(mem, page)


def page_tail(mem: VmemmapView, page: int) -> bool:
    """PageTail(): compound_head bit 0, or a fake head (v5.18)."""
    return bool(compound_head_word(mem, page) & 1) or page_is_fake_head(mem, page)


def page_compound(mem: VmemmapView, page: int) -> bool:
    return test_page_head(mem, page) or bool(compound_head_word(mem, page) & 1)


def page_huge(mem: VmemmapView, page: int) -> bool:
    """PageHuge() (v5.14 mm/hugetlb.c): compound and page[1].compound_dtor == HUGETLB_PAGE_DTOR."""
    if not page_compound(mem, page):
        return False
    head = compound_head(mem, page)
    facts = mem.folio.scheme.facts
    info = mem.read_word(head + facts.hugetlb_metadata_page * mem.folio.size + W_FOLIO_INFO * WORD)
    return facts.compound_dtor(info) == HUGETLB_PAGE_DTOR


def kpageflags(mem: VmemmapView, page: int) -> int:
    """fs/proc/page.c stable_page_flags(): the compound bits /proc/kpageflags exports."""
    bits = 0
    if page_head(mem, page):
        bits |= 1 << KPF_COMPOUND_HEAD
    if page_tail(mem, page):
        bits |= 1 << KPF_COMPOUND_TAIL
    if page_huge(mem, page):
        bits |= 1 << KPF_HUGE
    return bits


def pfn_to_page(mem: VmemmapView, pfn: int) -> int:
    """The struct page pointer the kernel uses for pfn (what GUP returns for that subpage)."""
    folio = mem.folio
    page = folio.page(pfn)
    if folio.scheme.memory_model is MemoryModel.DEDUP_POINTERS and mem.optimized:
        shift = mem.config.page_shift
        pte = mem.pte(page >> shift)
        source = None if pte is None else mem.frame(pte.frame).source
        if source is not None and source != page >> shift:
            # the representative: the same slot in the vmemmap page whose bytes are kept
            return (source << shift) | (page & (mem.config.page_size - 1))
    return page


def page_to_pfn(mem: VmemmapView, page: int) -> int:
    """include/asm-generic/memory_model.h __page_to_pfn(): (page - vmemmap)."""
    folio = mem.folio
    return ((page - folio.vmemmap_base) & MASK64) // folio.size


def page_to_phys(mem: VmemmapView, page: int) -> int:
    """PFN_PHYS(page_to_pfn(page))."""
    return page_to_pfn(mem, page) << mem.config.page_shift
