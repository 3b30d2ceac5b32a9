# SPDX-License-Identifier: GPL-2.0-only
"""The z3 form of each invariant: index variables, their domain, and the violation.

Keyed by the ids of hvo_verify.invariants.INVARIANTS; each builder mirrors the concrete
check of the same name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import z3

from hvo_verify.encode import readers as r
from hvo_verify.encode.folio import BITS, BV, K_NONE, K_ORIG, Pte, SymFolio, bv
from hvo_verify.model.accounting import pagetable_pages
from hvo_verify.model.facts import W_COMPOUND_HEAD


@dataclass(frozen=True)
class IndexVar:
    name: str
    var: BV
    low: int = 0  # the smallest value the domain allows (where minimisation starts)
    signed: bool = False


@dataclass(frozen=True)
class Query:
    indices: tuple[IndexVar, ...]  # minimised in this order for a canonical counterexample
    domain: tuple[z3.BoolRef, ...]
    violation: z3.BoolRef


def _index(name: str) -> BV:
    return z3.BitVec(name, BITS)


def _subpage_query(f: SymFolio, violation: Callable[[BV, r.Page], z3.BoolRef]) -> Query:
    i = _index("i")
    return Query((IndexVar("i", i),), (z3.ULT(i, f.nr),), violation(i, r.pfn_to_page(f, i)))


def head_resolution(f: SymFolio) -> Query:
    def bad(_i: BV, page: r.Page) -> z3.BoolRef:
        ch = r.compound_head(f, page)
        return z3.Or(ch.fault, ch.value != 0)

    return _subpage_query(f, bad)


def head_tail_exact(f: SymFolio) -> Query:
    def bad(i: BV, page: r.Page) -> z3.BoolRef:
        head, tail = r.page_head(f, page), r.page_tail(f, page)
        first = i == 0
        return z3.Or(head.fault, tail.fault, head.value != first, tail.value == first)

    return _subpage_query(f, bad)


def kpageflags(f: SymFolio) -> Query:
    def bad(i: BV, page: r.Page) -> z3.BoolRef:
        head, tail, huge = r.page_head(f, page), r.page_tail(f, page), r.page_huge(f, page)
        first = i == 0
        return z3.Or(head.fault, tail.fault, huge.fault, head.value != first, tail.value == first, z3.Not(huge.value))

    return _subpage_query(f, bad)


def address_identity(f: SymFolio) -> Query:
    def bad(i: BV, page: r.Page) -> z3.BoolRef:
        pfn = r.page_to_pfn(f, page)
        want = f.head_pfn + i
        return z3.Or(page.rel != i * f.size, pfn.value != want, pfn.value << f.shift != want << f.shift)

    return _subpage_query(f, bad)


def layout_soundness(f: SymFolio) -> Query:
    j, k2 = _index("j"), _index("k2")
    per_page = f.page_size // f.size + 1
    start = j * f.size
    va, vb = f.vpage(start), f.vpage(start + (f.size - 1))
    pa, pb = f.pte(va), f.pte(vb)
    inside = z3.And(j >= 0, j < f.nr)
    misplaced = z3.And(z3.Or(pa.changed, pb.changed), z3.Or(z3.Not(inside), va != vb))
    p2 = f.pte(k2)

    def aliased(k: BV, pte: Pte) -> z3.BoolRef:
        # k2 ranges over the folio's vmemmap pages (invariants.writable_aliases_of()); with
        # V = 0 there are none, and the struct-page part must still be checked.
        in_folio = z3.ULT(k2, f.nr_vmemmap)
        return z3.And(in_folio, k2 != k, p2.kind == pte.kind, p2.source == pte.source, p2.writable, p2.kind != K_NONE)

    unique = z3.And(inside, j < f.scheme.unique_struct_pages)
    exposed = z3.Or(
        z3.Not(pa.writable), z3.Not(pb.writable), pa.kind == K_NONE, pb.kind == K_NONE, aliased(va, pa), aliased(vb, pb)
    )
    domain = (j >= -per_page - 1, j < f.nr + per_page + 1, z3.ULT(k2, max(f.nr_vmemmap, 1)))
    return Query(
        (IndexVar("j", j, low=-per_page - 1, signed=True), IndexVar("k2", k2)),
        domain,
        z3.Or(misplaced, z3.And(unique, exposed)),
    )


def no_dangling_frame(f: SymFolio) -> Query:
    k = _index("k")
    pte = f.pte(k)
    return Query((IndexVar("k", k),), (z3.ULT(k, f.nr_vmemmap),), z3.And(pte.kind == K_ORIG, f.freed_orig(pte.source)))


def accounting(f: SymFolio) -> Query:
    """Count freed frames per interval of vmemmap pages between the scheme's breakpoints
    (0, 1, the private pages, V), so the term does not grow with V; the query also asks
    for a page k whose free-list status differs from its interval's representative, so
    that shortcut is itself checked, not assumed."""
    nr = f.nr_vmemmap
    cuts = sorted({0, 1, nr, *(p for p in f.scheme.private if p < nr), *(p + 1 for p in f.scheme.private if p < nr)})
    intervals = [(a, b) for a, b in zip(cuts, cuts[1:], strict=False) if a < b <= nr]
    zero = z3.BitVecVal(0, 32)
    freed = zero
    k = _index("k")
    uneven = []
    for a, b in intervals:
        freed = freed + z3.If(f.freed_orig(bv(a)), z3.BitVecVal(b - a, 32), zero)
        uneven.append(z3.And(k >= a, k < b, f.freed_orig(k) != f.freed_orig(bv(a))))
    allocated = z3.If(f.head_copied, z3.BitVecVal(1, 32), zero)
    released = freed - allocated
    expected = z3.If(f.optimized, z3.BitVecVal(nr - f.scheme.reserve, 32), zero)
    net = released - pagetable_pages(f.config)
    violation = z3.Or(released != expected, z3.And(f.optimized, net <= 0), z3.Or(uneven))
    return Query((), (), violation)


def page_slab_head(f: SymFolio, page: r.Page) -> r.Val:
    """mm/slab.h page_slab()'s decoding (invariants/static.py page_slab_head())."""
    if not f.scheme.facts.page_slab_open_coded:
        return r.compound_head(f, page)
    info = page.field(f, W_COMPOUND_HEAD)
    return r.Val(z3.If(z3.Extract(0, 0, info.value) == 1, info.ptr - 1, page.rel), info.fault)


def decoders_agree(f: SymFolio) -> Query:
    def bad(_i: BV, page: r.Page) -> z3.BoolRef:
        ch, dec = r.compound_head(f, page), page_slab_head(f, page)
        return z3.And(z3.Not(ch.fault), z3.Or(dec.fault, dec.value != ch.value))

    return _subpage_query(f, bad)


BUILDERS: dict[str, Callable[[SymFolio], Query]] = {
    "head-resolution": head_resolution,
    "head-tail-exact": head_tail_exact,
    "kpageflags": kpageflags,
    "address-identity": address_identity,
    "layout-soundness": layout_soundness,
    "no-dangling-frame": no_dangling_frame,
    "accounting": accounting,
    "decoders-agree": decoders_agree,
}
