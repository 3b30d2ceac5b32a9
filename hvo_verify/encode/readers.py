"""The kernel's struct page readers as z3 terms (mirror of hvo_verify.model.readers).

Pages are offsets from the head struct page (see encode.folio).  Every reader returns
its result and the condition under which a read it really performs (on its own control
path) faults, as the concrete readers raise VmemmapFault.
"""

from __future__ import annotations

from dataclasses import dataclass

import z3

from hvo_verify.encode.folio import BV, FALSE, Read, SymFolio, bv
from hvo_verify.model import structpage as sp
from hvo_verify.model.scheme import Encoding, MemoryModel, Target


@dataclass(frozen=True)
class Page:
    """A struct page pointer as an offset from the head, and its struct page index
    when that is known without division (rel == index * sizeof(struct page))."""

    rel: BV
    index: BV | None = None

    def field(self, f: SymFolio, word: int) -> Read:
        known = None if self.index is None else (self.index, bv(word * sp.WORD))
        return f.read(self.rel + word * sp.WORD, known)

    def next(self, f: SymFolio) -> Page:
        """page + 1 (page[1])."""
        return Page(self.rel + f.size, None if self.index is None else self.index + 1)


@dataclass(frozen=True)
class Val:
    """A reader's result: a page offset, pfn or flag, and whether computing it faults."""

    value: z3.ExprRef
    fault: z3.BoolRef


def _bit0(word: BV) -> z3.BoolRef:
    return z3.Extract(0, 0, word) == 1


def test_page_head(f: SymFolio, page: Page) -> Val:
    r = page.field(f, sp.W_FLAGS)
    return Val(z3.Extract(sp.PG_HEAD, sp.PG_HEAD, r.value) == 1, r.fault)


def page_fixed_fake_head(f: SymFolio, page: Page) -> Val:
    """page_fixed_fake_head() (v5.18..v6.19): a page-aligned struct page with PG_head
    whose page[1].compound_head has bit 0 set is a fake head of that head."""
    aligned = (f.head_lo + page.rel) & (f.page_size - 1) == 0
    head_bit = test_page_head(f, page)
    page1 = page.next(f).field(f, sp.W_COMPOUND_HEAD)
    candidate = z3.And(aligned, head_bit.value)
    fixed = z3.And(candidate, _bit0(page1.value))
    fault = z3.Or(z3.And(aligned, head_bit.fault), z3.And(candidate, page1.fault))
    return Val(z3.If(fixed, page1.ptr - 1, page.rel), fault)


def compound_head(f: SymFolio, page: Page) -> Val:
    """_compound_head() for the scheme's encoding; the result as an offset from head."""
    info = page.field(f, sp.W_COMPOUND_HEAD)
    tail = _bit0(info.value)
    encoding = f.scheme.encoding
    if encoding is Encoding.MASK:
        mask = z3.If(tail, bv(0), bv(-1)) | info.value
        return Val(((f.head + page.rel) & mask) - f.head, info.fault)
    if encoding is Encoding.POINTER_FAKE_HEAD_FIX:
        fixed = page_fixed_fake_head(f, page)
        return Val(z3.If(tail, info.ptr - 1, fixed.value), z3.Or(info.fault, z3.And(z3.Not(tail), fixed.fault)))
    return Val(z3.If(tail, info.ptr - 1, page.rel), info.fault)


def page_is_fake_head(f: SymFolio, page: Page) -> Val:
    if f.scheme.encoding is not Encoding.POINTER_FAKE_HEAD_FIX:
        return Val(FALSE, FALSE)
    fixed = page_fixed_fake_head(f, page)
    return Val(fixed.value != page.rel, fixed.fault)


def page_head(f: SymFolio, page: Page) -> Val:
    bit = test_page_head(f, page)
    fake = page_is_fake_head(f, page)
    return Val(z3.And(bit.value, z3.Not(fake.value)), z3.Or(bit.fault, z3.And(bit.value, fake.fault)))


def page_tail(f: SymFolio, page: Page) -> Val:
    info = page.field(f, sp.W_COMPOUND_HEAD)
    bit = _bit0(info.value)
    fake = page_is_fake_head(f, page)
    return Val(z3.Or(bit, fake.value), z3.Or(info.fault, z3.And(z3.Not(bit), fake.fault)))


def page_compound(f: SymFolio, page: Page) -> Val:
    bit = test_page_head(f, page)
    info = page.field(f, sp.W_COMPOUND_HEAD)
    return Val(z3.Or(bit.value, _bit0(info.value)), z3.Or(bit.fault, z3.And(z3.Not(bit.value), info.fault)))


def page_huge(f: SymFolio, page: Page) -> Val:
    compound = page_compound(f, page)
    head = compound_head(f, page)
    info = Page(head.value).next(f).field(f, sp.W_FOLIO_INFO)
    dtor = z3.Extract(15, 8, info.value) == sp.HUGETLB_PAGE_DTOR
    return Val(
        z3.And(compound.value, dtor),
        z3.Or(compound.fault, z3.And(compound.value, z3.Or(head.fault, info.fault))),
    )


def pfn_to_page(f: SymFolio, i: BV) -> Page:
    """The struct page pointer for subpage i, as an offset from head."""
    rel = i * f.size
    if f.scheme.memory_model is not MemoryModel.DEDUP_POINTERS or f.scheme.target is not Target.PAGE:
        return Page(rel, i)
    k = f.vpage(rel)
    offset = (f.head_lo + rel) & (f.page_size - 1)
    pte = f.pte(k)
    representative = pte.source * f.page_size + offset - f.head_lo
    return Page(z3.If(z3.And(f.remapped(k), pte.source != k), representative, rel))


def page_to_pfn(f: SymFolio, page: Page) -> Val:
    """(page - vmemmap) / sizeof(struct page) = head_pfn + page offset / size."""
    index = page.index if page.index is not None else f.divmod_size(page.rel)[0]
    return Val(f.head_pfn + index, FALSE)
