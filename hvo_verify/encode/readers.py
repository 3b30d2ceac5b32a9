# SPDX-License-Identifier: GPL-2.0-only
"""The kernel's struct page readers as z3 terms (mirror of hvo_verify/model/readers.py),
written once over the memory protocol of encode/memory.py: the static folio
(encode/folio.py) and the unrolling at one step (encode/ops/unroll.py) both read
through these.

Every reader returns its result and the condition under which a read it really
performs (on its own control path) faults, as the concrete readers raise VmemmapFault.
"""

from __future__ import annotations

import z3

from hvo_verify.encode.memory import Page, SymMemory, Val
from hvo_verify.encode.terms import BV, FALSE, bv
from hvo_verify.model import facts
from hvo_verify.model.scheme import Encoding, MemoryModel, Target


def _bit0(word: BV) -> z3.BoolRef:
    return z3.Extract(0, 0, word) == 1


def test_page_head(mem: SymMemory, page: Page) -> Val:
    r = page.field(mem, facts.W_FLAGS)
    bit = mem.scheme.facts.pg_head
    return Val(z3.Extract(bit, bit, r.value) == 1, r.fault)


def page_fixed_fake_head(mem: SymMemory, page: Page) -> Val:
    """page_fixed_fake_head() (v5.18..v6.19): a page-aligned struct page with PG_head
    whose page[1].compound_head has bit 0 set is a fake head of that head."""
    aligned = mem.vpage_offset(page) == 0
    head_bit = test_page_head(mem, page)
    page1 = page.next(mem).field(mem, facts.W_COMPOUND_HEAD)
    candidate = z3.And(aligned, head_bit.value)
    fixed = z3.And(candidate, _bit0(page1.value))
    fault = z3.Or(z3.And(aligned, head_bit.fault), z3.And(candidate, page1.fault))
    return Val(z3.If(fixed, page1.ptr - 1, page.rel), fault)


def compound_head(mem: SymMemory, page: Page) -> Val:
    """_compound_head() for the scheme's encoding; the result in the memory's address form."""
    info = page.field(mem, facts.W_COMPOUND_HEAD)
    tail = _bit0(info.value)
    encoding = mem.scheme.encoding
    if encoding is Encoding.MASK:
        # linux-mm include/linux/page-flags.h @03e0599d: mask = (info & 1) - 1; mask |= info
        mask = z3.If(tail, bv(0), bv(-1)) | info.value
        return Val(mem.from_absolute(mem.absolute(page) & mask), info.fault)
    if encoding is Encoding.POINTER_FAKE_HEAD_FIX:
        fixed = page_fixed_fake_head(mem, page)
        return Val(z3.If(tail, info.ptr - 1, fixed.value), z3.Or(info.fault, z3.And(z3.Not(tail), fixed.fault)))
    return Val(z3.If(tail, info.ptr - 1, page.rel), info.fault)


def page_is_fake_head(mem: SymMemory, page: Page) -> Val:
    if mem.scheme.encoding is not Encoding.POINTER_FAKE_HEAD_FIX:
        return Val(FALSE, FALSE)
    fixed = page_fixed_fake_head(mem, page)
    return Val(fixed.value != page.rel, fixed.fault)


def page_head(mem: SymMemory, page: Page) -> Val:
    """PageHead(): PG_head && !page_is_fake_head() (v5.18); PG_head alone otherwise."""
    bit = test_page_head(mem, page)
    fake = page_is_fake_head(mem, page)
    return Val(z3.And(bit.value, z3.Not(fake.value)), z3.Or(bit.fault, z3.And(bit.value, fake.fault)))


def page_tail(mem: SymMemory, page: Page) -> Val:
    """PageTail(): compound_head bit 0, or a fake head (v5.18)."""
    info = page.field(mem, facts.W_COMPOUND_HEAD)
    bit = _bit0(info.value)
    fake = page_is_fake_head(mem, page)
    return Val(z3.Or(bit, fake.value), z3.Or(info.fault, z3.And(z3.Not(bit), fake.fault)))


def page_compound(mem: SymMemory, page: Page) -> Val:
    bit = test_page_head(mem, page)
    info = page.field(mem, facts.W_COMPOUND_HEAD)
    return Val(z3.Or(bit.value, _bit0(info.value)), z3.Or(bit.fault, z3.And(z3.Not(bit.value), info.fault)))


def page_huge(mem: SymMemory, page: Page) -> Val:
    """PageHuge() (v5.14 mm/hugetlb.c): compound and page[1].compound_dtor == HUGETLB_PAGE_DTOR."""
    compound = page_compound(mem, page)
    head = compound_head(mem, page)
    version = mem.scheme.facts
    info = Page(head.value).next(mem, version.hugetlb_metadata_page).field(mem, facts.W_FOLIO_INFO)
    low = version.dtor_shift
    dtor = z3.Extract(low + version.dtor_bits - 1, low, info.value) == facts.HUGETLB_PAGE_DTOR
    return Val(
        z3.And(compound.value, dtor),
        z3.Or(compound.fault, z3.And(compound.value, z3.Or(head.fault, info.fault))),
    )


def pfn_to_page(mem: SymMemory, i: BV) -> Page:
    """The struct page pointer for subpage i (what GUP returns for it); the
    dedup-pointers model hands out the representative: the same slot in the vmemmap
    page whose frame is kept."""
    page = mem.subpage(i)
    scheme = mem.scheme
    if scheme.memory_model is not MemoryModel.DEDUP_POINTERS or scheme.target is not Target.PAGE:
        return page
    k = mem.vpage_of(page)
    elsewhere, source = mem.pte_source(k)
    representative = page.rel - (k - source) * mem.config.page_size
    return Page(z3.If(elsewhere, representative, page.rel))


def page_to_pfn(mem: SymMemory, page: Page) -> Val:
    """include/asm-generic/memory_model.h __page_to_pfn(): (page - vmemmap)."""
    return Val(mem.pfn(page), FALSE)


def page_to_phys(mem: SymMemory, page: Page) -> Val:
    """PFN_PHYS(page_to_pfn(page))."""
    pfn = page_to_pfn(mem, page)
    return Val(pfn.value << mem.config.page_shift, pfn.fault)
