"""The kernel's struct page readers as z3 terms (mirror of hvo_verify.model.readers).

Every reader returns a value and the condition under which one of the reads it really
performs (on its own control path) faults.
"""

from __future__ import annotations

from dataclasses import dataclass

import z3

from hvo_verify.encode.folio import BV, Read, SymFolio, bv
from hvo_verify.model import structpage as sp
from hvo_verify.model.scheme import Encoding, MemoryModel


@dataclass(frozen=True)
class Bool:
    value: z3.BoolRef
    fault: z3.BoolRef


def flags(f: SymFolio, page: BV) -> Read:
    return f.read(page + sp.W_FLAGS * sp.WORD)


def compound_head_word(f: SymFolio, page: BV) -> Read:
    return f.read(page + sp.W_COMPOUND_HEAD * sp.WORD)


def test_page_head(f: SymFolio, page: BV) -> Bool:
    r = flags(f, page)
    return Bool(z3.Extract(sp.PG_HEAD, sp.PG_HEAD, r.value) == 1, r.fault)


def page_fixed_fake_head(f: SymFolio, page: BV) -> Read:
    aligned = page & (f.config.page_size - 1) == 0
    head_bit = test_page_head(f, page)
    page1 = compound_head_word(f, page + f.size)
    candidate = z3.And(aligned, head_bit.value)
    fixed = z3.And(candidate, z3.Extract(0, 0, page1.value) == 1)
    value = z3.If(fixed, page1.value - 1, page)
    fault = z3.Or(z3.And(aligned, head_bit.fault), z3.And(candidate, page1.fault))
    return Read(value, fault)


def compound_head(f: SymFolio, page: BV) -> Read:
    info = compound_head_word(f, page)
    tail = z3.Extract(0, 0, info.value) == 1
    encoding = f.scheme.encoding
    if encoding is Encoding.MASK:
        mask = z3.If(tail, bv(0), bv(-1)) | info.value
        return Read(page & mask, info.fault)
    if encoding is Encoding.POINTER_FAKE_HEAD_FIX:
        fixed = page_fixed_fake_head(f, page)
        return Read(z3.If(tail, info.value - 1, fixed.value), z3.Or(info.fault, z3.And(z3.Not(tail), fixed.fault)))
    return Read(z3.If(tail, info.value - 1, page), info.fault)


def page_is_fake_head(f: SymFolio, page: BV) -> Bool:
    if f.scheme.encoding is not Encoding.POINTER_FAKE_HEAD_FIX:
        return Bool(z3.BoolVal(False), z3.BoolVal(False))
    fixed = page_fixed_fake_head(f, page)
    return Bool(fixed.value != page, fixed.fault)


def page_head(f: SymFolio, page: BV) -> Bool:
    bit = test_page_head(f, page)
    fake = page_is_fake_head(f, page)
    return Bool(z3.And(bit.value, z3.Not(fake.value)), z3.Or(bit.fault, z3.And(bit.value, fake.fault)))


def page_tail(f: SymFolio, page: BV) -> Bool:
    info = compound_head_word(f, page)
    bit = z3.Extract(0, 0, info.value) == 1
    fake = page_is_fake_head(f, page)
    return Bool(z3.Or(bit, fake.value), z3.Or(info.fault, z3.And(z3.Not(bit), fake.fault)))


def page_compound(f: SymFolio, page: BV) -> Bool:
    bit = test_page_head(f, page)
    info = compound_head_word(f, page)
    tail = z3.Extract(0, 0, info.value) == 1
    return Bool(z3.Or(bit.value, tail), z3.Or(bit.fault, z3.And(z3.Not(bit.value), info.fault)))


def page_huge(f: SymFolio, page: BV) -> Bool:
    compound = page_compound(f, page)
    head = compound_head(f, page)
    info = f.read(head.value + f.size + sp.W_FOLIO_INFO * sp.WORD)
    dtor = z3.Extract(15, 8, info.value) == sp.HUGETLB_PAGE_DTOR
    return Bool(
        z3.And(compound.value, dtor),
        z3.Or(compound.fault, z3.And(compound.value, z3.Or(head.fault, info.fault))),
    )


def page_to_pfn(f: SymFolio, page: BV) -> Read:
    if f.scheme.memory_model is MemoryModel.SPARSEMEM:
        fl = flags(f, page)
        per_section = f.config.section_size // f.config.page_size
        section = z3.LShR(fl.value, sp.SECTIONS_PGSHIFT) & 0x0FFFFFFF
        section_map = f.page(section * per_section)
        return Read(section * per_section + z3.UDiv(page - section_map, f.size), fl.fault)
    return Read(z3.UDiv(page - f.base, f.size), z3.BoolVal(False))


def page_to_phys(f: SymFolio, page: BV) -> Read:
    pfn = page_to_pfn(f, page)
    return Read(pfn.value << f.shift, pfn.fault)
