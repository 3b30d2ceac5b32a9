"""A symbolic folio: head pfn, vmemmap base and head-page allocation outcome are z3
variables; reading a struct page word through the scheme's vmemmap is a closed-form
term.  Mirrors hvo_verify.model.vmemmap (the literal model) without enumerating pages,
so the cost of a proof does not grow with the folio size.
"""

from __future__ import annotations

from dataclasses import dataclass

import z3

from hvo_verify.model.config import MAX_PHYSMEM_BITS, KernelConfig
from hvo_verify.model.scheme import Encoding, FolioKind, HeadCopy, MemoryModel, Scheme, Target
from hvo_verify.model import structpage as sp

BV = z3.BitVecRef
BITS = 64

# Frame kinds (FrameId in the literal model).
K_ORIG, K_NEW, K_SHARED, K_NONE = 0, 1, 2, 3


def bv(value: int) -> BV:
    return z3.BitVecVal(value & sp.MASK64, BITS)


@dataclass(frozen=True)
class Read:
    """A symbolic READ_ONCE(): the word, and whether the access faults."""

    value: BV
    fault: z3.BoolRef


@dataclass(frozen=True)
class Assumption:
    name: str
    text: str
    expr: z3.BoolRef


@dataclass(frozen=True)
class Pte:
    """The symbolic PTE of one vmemmap page."""

    kind: z3.ArithRef | BV  # K_* as a 2-bit value
    source: BV  # vmemmap page whose populated bytes the frame holds
    writable: z3.BoolRef
    changed: z3.BoolRef  # not the populated (orig, RW) entry


class SymFolio:
    """All the symbolic state of one folio under one scheme and config."""

    def __init__(self, config: KernelConfig, scheme: Scheme, *, base_align: int) -> None:
        self.config = config
        self.scheme = scheme
        self.size = config.struct_page_size
        self.nr = config.nr_pages
        self.nr_vmemmap = config.vmemmap_pages
        self.shift = config.page_shift
        self.base = z3.BitVec("vmemmap_base", BITS)
        self.head_pfn = z3.BitVec("head_pfn", BITS)
        self.alloc_ok = z3.Bool("head_page_alloc_ok")
        self.head = self.page(self.head_pfn)
        self.first_vpage = z3.LShR(self.head, self.shift)
        self.assumptions = self._assumptions(base_align)

    # -- assumptions ---------------------------------------------------------------------
    def _assumptions(self, base_align: int) -> tuple[Assumption, ...]:
        cfg = self.config
        max_pfn = 1 << (MAX_PHYSMEM_BITS - cfg.page_shift)
        span = max_pfn * self.size
        out = [
            Assumption(
                "folio-aligned",
                f"head pfn is a multiple of {self.nr} (HugeTLB folios are naturally aligned)",
                self.head_pfn & (self.nr - 1) == 0,
            ),
            Assumption(
                "physmem-bits",
                f"head pfn + {self.nr} <= 2^{MAX_PHYSMEM_BITS - cfg.page_shift} (MAX_PHYSMEM_BITS = {MAX_PHYSMEM_BITS})",
                z3.ULE(self.head_pfn, max_pfn - self.nr),
            ),
            Assumption(
                "vmemmap-align",
                f"vmemmap base is aligned to {base_align:#x} bytes",
                self.base & (base_align - 1) == 0,
            ),
            Assumption(
                "vmemmap-no-wrap",
                f"vmemmap base in the kernel half, and base + {span:#x} does not wrap",
                z3.And(z3.UGE(self.base, 1 << 63), z3.ULE(self.base, (1 << 64) - span)),
            ),
        ]
        return tuple(out)

    # -- address arithmetic --------------------------------------------------------------
    def page(self, pfn: BV) -> BV:
        """pfn_to_page() under SPARSEMEM_VMEMMAP: vmemmap + pfn."""
        return self.base + pfn * self.size

    def subpage(self, i: BV) -> BV:
        return self.page(self.head_pfn + i)

    # -- the scheme's PTEs ------------------------------------------------------------------
    @property
    def optimized(self) -> z3.BoolRef:
        if not self.scheme.optimizes:
            return z3.BoolVal(False)
        if self.scheme.head_copy is HeadCopy.REQUIRED:
            return self.alloc_ok
        return z3.BoolVal(True)

    @property
    def head_copied(self) -> z3.BoolRef:
        if not self.scheme.optimizes or self.scheme.head_copy is HeadCopy.NONE:
            return z3.BoolVal(False)
        return self.alloc_ok

    def is_private(self, k: BV) -> z3.BoolRef:
        return z3.Or([k == p for p in self.scheme.private]) if self.scheme.private else z3.BoolVal(False)

    def pte(self, vpage: BV) -> Pte:
        """The PTE of vmemmap page `vpage` after the scheme ran (identity outside the folio)."""
        s = self.scheme
        k = vpage - self.first_vpage
        in_folio = z3.ULT(k, self.nr_vmemmap)
        orig = Pte(bv(K_ORIG), vpage, z3.BoolVal(True), z3.BoolVal(False))
        if not s.optimizes:
            return orig
        copied_head = z3.And(self.head_copied, k == 0)
        new_head = Pte(bv(K_NEW), vpage, z3.BoolVal(True), z3.BoolVal(True))
        remapped = z3.And(self.optimized, in_folio, z3.Not(self.is_private(k)))
        ro = z3.BoolVal(s.writable_aliases)
        if s.target is Target.PAGE:
            reuse_vpage = self.first_vpage + s.target_page
            reuse_new = z3.And(self.head_copied, z3.BoolVal(s.target_page == 0))
            alias = Pte(
                z3.If(reuse_new, bv(K_NEW), bv(K_ORIG)),
                reuse_vpage,
                ro,
                z3.BoolVal(True),
            )
        elif s.target is Target.SHARED_TAIL:
            alias = Pte(bv(K_SHARED), bv(0), ro, z3.BoolVal(True))
        else:
            alias = Pte(bv(K_NONE), bv(0), z3.BoolVal(False), z3.BoolVal(True))
        return _select(remapped, alias, _select(z3.And(in_folio, copied_head), new_head, orig))

    # -- contents ------------------------------------------------------------------------
    def read(self, vaddr: BV) -> Read:
        """READ_ONCE() of the word at vaddr through the vmemmap."""
        pte = self.pte(z3.LShR(vaddr, self.shift))
        offset = vaddr & (self.config.page_size - 1)
        populated = self.original_word(z3.Concat(z3.Extract(BITS - 1 - self.shift, 0, pte.source), z3.BitVecVal(0, self.shift)) + offset)
        shared = self.shared_tail_word(z3.UDiv(z3.URem(offset, self.size), 8))
        value = z3.If(pte.kind == K_SHARED, shared, populated)
        return Read(value, pte.kind == K_NONE)

    def original_word(self, vaddr: BV) -> BV:
        rel = vaddr - self.base
        pfn = z3.UDiv(rel, self.size)
        w = z3.UDiv(z3.URem(rel, self.size), 8)
        below = z3.UGE(rel, 1 << 63)
        return z3.If(below, bv(0), self.struct_word(pfn, w))

    def flags_fields(self, pfn: BV) -> BV:
        value = bv(sp.zone_of(self.scheme) << sp.ZONE_PGSHIFT)
        if self.scheme.memory_model is MemoryModel.SPARSEMEM:
            per_section = self.config.section_size // self.config.page_size
            section = z3.UDiv(pfn, per_section) & 0x0FFFFFFF
            value = value | (section << sp.SECTIONS_PGSHIFT)
        return value

    def tail_word(self, w: BV, compound_head: BV) -> BV:
        return z3.If(
            w == sp.W_COMPOUND_HEAD,
            compound_head,
            z3.If(w == sp.W_MAPPING, bv(sp.TAIL_MAPPING), z3.If(w == sp.W_COUNTS, bv(sp.COUNTS_FROZEN), bv(0))),
        )

    def tail_compound_head(self) -> BV:
        if self.scheme.encoding is Encoding.MASK:
            return bv(sp.tail_info(self.config))
        return self.head + 1

    def struct_word(self, pfn: BV, w: BV) -> BV:
        """structpage.original_word() in closed form."""
        s = self.scheme
        rel = pfn - self.head_pfn
        in_folio = z3.ULT(rel, self.nr)
        fields = self.flags_fields(pfn)
        neighbour = z3.If(
            w == sp.W_FLAGS,
            fields,
            z3.If(
                w == sp.W_COMPOUND_HEAD,
                bv(sp.NEIGHBOUR_LRU),
                z3.If(w == sp.W_COUNTS, bv(sp.COUNTS_ORDER0_IN_USE), bv(0)),
            ),
        )
        head = z3.If(
            w == sp.W_COMPOUND_HEAD,
            bv(sp.HEAD_LRU),
            z3.If(w == sp.W_COUNTS, bv(sp.COUNTS_FROZEN), bv(0)),
        )
        dtor = sp.HUGETLB_PAGE_DTOR if s.folio_kind is FolioKind.HUGETLB else sp.COMPOUND_PAGE_DTOR
        unique = z3.And(z3.ULT(rel, s.unique_struct_pages), z3.UGE(w, sp.W_FOLIO_INFO), w != sp.W_COUNTS)
        meta = z3.If(
            z3.And(rel == 1, w == sp.W_FOLIO_INFO),
            bv((dtor << 8) | self.config.order),
            bv(sp.META_TAG) | (rel << 8) | w,
        )
        tail = z3.If(unique, meta, self.tail_word(w, self.tail_compound_head()))
        member = z3.If(
            w == sp.W_FLAGS,
            fields | z3.If(rel == 0, bv(1 << sp.PG_HEAD), bv(0)),
            z3.If(rel == 0, head, tail),
        )
        return z3.If(in_folio, member, neighbour)

    def shared_tail_word(self, w: BV) -> BV:
        if self.scheme.encoding is Encoding.MASK:
            compound_head = bv(sp.tail_info(self.config))
        else:
            compound_head = self.page(self.head_pfn + self.nr) + 1
        flags = bv(sp.zone_of(self.scheme) << sp.ZONE_PGSHIFT)
        return z3.If(w == sp.W_FLAGS, flags, self.tail_word(w, compound_head))


def _select(cond: z3.BoolRef, a: Pte, b: Pte) -> Pte:
    return Pte(
        z3.If(cond, a.kind, b.kind),
        z3.If(cond, a.source, b.source),
        z3.If(cond, a.writable, b.writable),
        z3.If(cond, a.changed, b.changed),
    )
