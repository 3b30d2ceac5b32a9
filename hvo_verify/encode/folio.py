# SPDX-License-Identifier: GPL-2.0-only
"""A symbolic folio: head pfn, vmemmap base and head-page allocation outcome are z3
variables; reading a struct page word through the scheme's vmemmap is a closed-form
term.  Mirrors hvo_verify.model.vmemmap (the literal model) without enumerating pages,
so the cost of a proof does not grow with the folio size.

Addresses are offsets from the head struct page (`rel`, signed): vmemmap page k of the
folio holds rel in [k*PAGE_SIZE - head_lo, (k+1)*PAGE_SIZE - head_lo), where head_lo is
the head struct page's offset inside its vmemmap page.  Only the low bits of the head
address enter page arithmetic, so the solver never has to cancel 64-bit sums.  Word
values are absolute; `Read.ptr` is the same value minus the head address, with the
subtraction pushed to the leaves so that a tail's `head + 1` folds to 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import z3

from hvo_verify.encode.memory import Page, Read
from hvo_verify.encode.terms import BITS, BV, FALSE, K_NEW, K_NONE, K_ORIG, K_SHARED, TRUE, bv, ite
from hvo_verify.model import facts
from hvo_verify.model import structpage as sp
from hvo_verify.model.config import CONFIGS, MAX_PHYSMEM_BITS, KernelConfig
from hvo_verify.model.scheme import Encoding, HeadCopy, Scheme, Target


@dataclass(frozen=True)
class Assumption:
    name: str
    text: str
    expr: z3.BoolRef


@dataclass(frozen=True)
class Pte:
    """The symbolic PTE of one vmemmap page of the folio."""

    kind: BV  # K_*: model/facts.py FrameKind tags
    source: BV  # vmemmap page (relative index) whose populated bytes the frame holds
    writable: z3.BoolRef
    changed: z3.BoolRef  # differs from the populated (own frame, RW) entry
    delta: BV  # source - k: how many vmemmap pages the bytes seen at page k are shifted by


def max_folio_nr_pages(config: KernelConfig) -> int:
    """MAX_FOLIO_NR_PAGES for the arch/page size: the largest HugeTLB size it supports."""
    return max(c.nr_pages for c in CONFIGS if c.arch is config.arch and c.page_size == config.page_size)


# The placeholders SymFolio.struct_word() builds its closed form over.
_INDEX, _WORD = z3.BitVec("_folio_struct_index", BITS), z3.BitVec("_folio_struct_word", BITS)


class SymFolio:
    """All the symbolic state of one folio under one scheme and config."""

    def __init__(self, config: KernelConfig, scheme: Scheme, *, base_align: int | None = None) -> None:
        self.config = config
        self.scheme = scheme
        self.size = config.struct_page_size
        self.nr = config.nr_pages
        self.nr_vmemmap = config.vmemmap_pages
        self.shift = config.page_shift
        self.page_size = config.page_size
        self.base = z3.BitVec("vmemmap_base", BITS)
        self.head_pfn = z3.BitVec("head_pfn", BITS)
        self.alloc_ok = z3.Bool("head_page_alloc_ok")
        self.head = self.base + self.head_pfn * self.size
        self.head_lo = z3.ZeroExt(BITS - self.shift, z3.Extract(self.shift - 1, 0, self.head))
        self.side: list[z3.BoolRef] = []  # definitions of auxiliary variables
        self._aux = 0
        self._struct_template: tuple[BV, BV] | None = None  # struct_word() over _INDEX, _WORD
        self._shared_template: tuple[BV, BV] | None = None  # shared_tail_word() over _WORD
        if base_align is None:
            base_align = self.page_size
            if scheme.vmemmap_align_max_folio:
                base_align = max(base_align, max_folio_nr_pages(config) * self.size)
        self.base_align = base_align
        self.assumptions = self._assumptions(base_align)

    # -- assumptions ---------------------------------------------------------------------
    def _assumptions(self, base_align: int) -> tuple[Assumption, ...]:
        cfg = self.config
        max_pfn = 1 << (MAX_PHYSMEM_BITS - cfg.page_shift)
        span = max_pfn * self.size
        align_why = " (MAX_FOLIO_VMEMMAP_ALIGN)" if self.scheme.vmemmap_align_max_folio else ""
        return (
            Assumption(
                "folio-aligned",
                f"head pfn is a multiple of {self.nr} (folios are naturally aligned)",
                self.head_pfn & (self.nr - 1) == 0,
            ),
            Assumption(
                "physmem-bits",
                f"head pfn + {self.nr} <= 2^{MAX_PHYSMEM_BITS - cfg.page_shift} (MAX_PHYSMEM_BITS = {MAX_PHYSMEM_BITS})",
                z3.ULE(self.head_pfn, max_pfn - self.nr),
            ),
            Assumption(
                "vmemmap-align",
                f"vmemmap base is aligned to {base_align:#x} bytes{align_why}",
                self.base & (base_align - 1) == 0,
            ),
            Assumption(
                "vmemmap-no-wrap",
                f"vmemmap base in the kernel half, and base + {span:#x} does not wrap",
                z3.And(z3.UGE(self.base, 1 << 63), z3.ULE(self.base, (1 << 64) - span)),
            ),
        )

    # -- arithmetic helpers --------------------------------------------------------------
    def divmod_size(self, rel: BV) -> tuple[BV, BV]:
        """Signed floor division of rel by sizeof(struct page): (struct page index, byte)."""
        if self.size & (self.size - 1) == 0:
            log = self.size.bit_length() - 1
            return rel >> log, rel & (self.size - 1)
        # Non-power-of-2: auxiliary quotient/remainder with an exact signed floor division
        # in 72 bits (the product cannot overflow, so q exists and is unique for every rel;
        # bounding q instead made pointers decoded far outside the vmemmap unsatisfiable,
        # which hid violations: found by the differential self-check).
        self._aux += 1
        q = z3.BitVec(f"q{self._aux}", BITS)
        rem = z3.BitVec(f"r{self._aux}", BITS)
        self.side += [
            z3.SignExt(8, rel) == z3.SignExt(8, q) * self.size + z3.ZeroExt(8, rem),
            z3.ULT(rem, self.size),
        ]
        return q, rem

    def vpage(self, rel: BV) -> BV:
        """k: the folio vmemmap page holding rel (signed)."""
        return (self.head_lo + rel) >> self.shift

    def in_vmemmap(self, rel: BV) -> z3.BoolRef:
        """Is head + rel inside the vmemmap (a pfn below 2^(MAX_PHYSMEM_BITS - PAGE_SHIFT))?"""
        max_pfn = 1 << (MAX_PHYSMEM_BITS - self.shift)
        low = -(self.head_pfn * self.size)
        high = (max_pfn - self.head_pfn) * self.size
        return z3.And(rel >= low, rel < high)

    # -- the scheme's PTEs ---------------------------------------------------------------
    @property
    def optimized(self) -> z3.BoolRef:
        if not self.scheme.optimizes:
            return FALSE
        if self.scheme.head_copy is HeadCopy.REQUIRED:
            return self.alloc_ok
        return TRUE

    @property
    def head_copied(self) -> z3.BoolRef:
        if not self.scheme.optimizes or self.scheme.head_copy is HeadCopy.NONE:
            return FALSE
        return self.alloc_ok

    def is_private(self, k: BV) -> z3.BoolRef:
        return z3.Or([k == p for p in self.scheme.private]) if self.scheme.private else FALSE

    def in_folio_vmemmap(self, k: BV) -> z3.BoolRef:
        return z3.And(k >= 0, k < self.nr_vmemmap)

    def remapped(self, k: BV) -> z3.BoolRef:
        return z3.And(self.optimized, self.in_folio_vmemmap(k), z3.Not(self.is_private(k)))

    def pte(self, k: BV) -> Pte:
        """The PTE of folio vmemmap page k after the scheme ran (identity outside 0..V-1)."""
        s = self.scheme
        orig = Pte(bv(K_ORIG), k, TRUE, FALSE, bv(0))
        if not s.optimizes:
            return orig
        new_head = Pte(bv(K_NEW), bv(0), TRUE, TRUE, bv(0))  # only ever at k == 0
        writable = z3.BoolVal(s.writable_aliases)
        if s.target is Target.PAGE:
            reuse_new = z3.And(self.head_copied, z3.BoolVal(s.target_page == 0))
            # A page remapped onto its own frame, writable, keeps its populated PTE
            # (vmemmap_remap_pte() writes the same entry back): not a changed PTE.
            changed = z3.Or(reuse_new, k != s.target_page, z3.BoolVal(not s.writable_aliases))
            alias = Pte(
                z3.If(reuse_new, bv(K_NEW), bv(K_ORIG)), bv(s.target_page), writable, changed, s.target_page - k
            )
        elif s.target is Target.SHARED_TAIL:
            alias = Pte(bv(K_SHARED), bv(0), writable, TRUE, bv(0))
        else:
            alias = Pte(bv(K_NONE), bv(0), FALSE, TRUE, bv(0))
        copied = z3.And(self.head_copied, k == 0)
        return select_pte(self.remapped(k), alias, select_pte(copied, new_head, orig))

    def freed_orig(self, k: BV) -> z3.BoolRef:
        """Is the populated frame of vmemmap page k on the scheme's free list?
        (vmemmap_remap_pte() frees every remapped page's old frame; a copied head frees frame(0).)"""
        if not self.scheme.optimizes:
            return FALSE
        return z3.Or(self.remapped(k), z3.And(self.in_folio_vmemmap(k), k == 0, self.head_copied))

    # -- the memory protocol of encode/memory.py (addresses: offsets from the head) -------
    def field(self, page: Page, word: int) -> Read:
        known = None if page.index is None else (page.index, bv(word * facts.WORD))
        return self.read(page.rel + word * facts.WORD, known)

    def vpage_offset(self, page: Page) -> BV:
        return (self.head_lo + page.rel) & (self.page_size - 1)

    def absolute(self, page: Page) -> BV:
        return self.head + page.rel

    def from_absolute(self, addr: BV) -> BV:
        return addr - self.head

    def subpage(self, i: BV) -> Page:
        return Page(i * self.size, i)

    def vpage_of(self, page: Page) -> BV:
        return self.vpage(page.rel)

    def pte_source(self, k: BV) -> tuple[z3.BoolRef, BV]:
        pte = self.pte(k)
        return z3.And(self.remapped(k), pte.source != k), pte.source

    def pfn(self, page: Page) -> BV:
        """(page - vmemmap) / sizeof(struct page) = head_pfn + page offset / size."""
        index = page.index if page.index is not None else self.divmod_size(page.rel)[0]
        return self.head_pfn + index

    # -- contents ------------------------------------------------------------------------
    def read(self, rel: BV, known: tuple[BV, BV] | None = None) -> Read:
        """READ_ONCE() of the word at head + rel through the vmemmap.

        `known` = (struct page index, byte) of rel when the caller knows it: where the
        PTE does not shift bytes (delta 0) no division by sizeof(struct page) is needed.
        """
        k = self.vpage(rel)
        offset = (self.head_lo + rel) & (self.page_size - 1)
        pte = self.pte(k)
        source_rel = rel + pte.delta * self.page_size
        if known is None or self.size & (self.size - 1) == 0:
            index, byte = self.divmod_size(source_rel)
        else:
            delta = z3.simplify(pte.delta)
            if z3.is_bv_value(delta) and delta.as_long() == 0:
                index, byte = known
            else:
                q, r = self.divmod_size(source_rel)
                index, byte = z3.If(delta == 0, known[0], q), z3.If(delta == 0, known[1], r)
        word = z3.LShR(byte, 3)
        populated = self.struct_word(index, word)
        _slot, slot_byte = self.divmod_size(offset)
        shared = self.shared_tail_word(z3.LShR(slot_byte, 3))
        is_shared = pte.kind == K_SHARED
        value = z3.If(is_shared, shared[0], populated[0])
        ptr = z3.If(is_shared, shared[1], populated[1])
        fault = z3.Or(pte.kind == K_NONE, z3.Not(self.in_vmemmap(rel)))
        return Read(value, ptr, fault)

    def _leaf(self, value: int | BV) -> tuple[BV, BV]:
        """A constant word: (value, value - head)."""
        v = bv(value) if isinstance(value, int) else value
        return v, v - self.head

    def _pointer(self, rel: BV) -> tuple[BV, BV]:
        """A pointer word head + rel: (absolute, rel)."""
        return self.head + rel, rel

    def _ite(self, cond: z3.BoolRef, a: tuple[BV, BV], b: tuple[BV, BV]) -> tuple[BV, BV]:
        return ite(cond, a[0], b[0]), ite(cond, a[1], b[1])

    def _tail_word(self, w: BV, compound_head: tuple[BV, BV]) -> tuple[BV, BV]:
        return self._ite(
            w == facts.W_COMPOUND_HEAD,
            compound_head,
            self._ite(
                w == facts.W_MAPPING,
                self._leaf(facts.TAIL_MAPPING),
                self._ite(w == facts.W_COUNTS, self._leaf(sp.COUNTS_FROZEN), self._leaf(0)),
            ),
        )

    def _tail_compound_head(self) -> tuple[BV, BV]:
        if self.scheme.encoding is Encoding.MASK:
            return self._leaf(sp.tail_info(self.config))
        return self._pointer(bv(1))

    def struct_word(self, index: BV, w: BV) -> tuple[BV, BV]:
        """structpage.original_word() in closed form, for struct page head + index: built
        once per folio over two placeholder terms, then instantiated by substitution
        (the same terms as building it again, at a fraction of the Python work)."""
        if self._struct_template is None:
            self._struct_template = self._struct_word(_INDEX, _WORD)
        value, ptr = self._struct_template
        return z3.substitute(value, (_INDEX, index), (_WORD, w)), z3.substitute(ptr, (_INDEX, index), (_WORD, w))

    def _struct_word(self, index: BV, w: BV) -> tuple[BV, BV]:
        s = self.scheme
        in_folio = z3.And(index >= 0, index < self.nr)
        fields = sp.zone_of(s) << sp.ZONE_PGSHIFT
        neighbour = self._ite(
            w == facts.W_FLAGS,
            self._leaf(fields),
            self._ite(
                w == facts.W_COMPOUND_HEAD,
                self._leaf(sp.NEIGHBOUR_LRU),
                self._ite(w == facts.W_COUNTS, self._leaf(sp.COUNTS_ORDER0_IN_USE), self._leaf(0)),
            ),
        )
        head = self._ite(
            w == facts.W_COMPOUND_HEAD,
            self._leaf(sp.HEAD_LRU),
            self._ite(w == facts.W_COUNTS, self._leaf(sp.COUNTS_FROZEN), self._leaf(0)),
        )
        version = s.facts
        unique = z3.And(index < s.unique_struct_pages, w >= facts.W_FOLIO_INFO, w != facts.W_COUNTS)
        meta = self._ite(
            z3.And(index == version.hugetlb_metadata_page, w == facts.W_FOLIO_INFO),
            self._leaf(version.folio_info_word(sp.folio_dtor(s), self.config.order)),
            self._ite(
                z3.And(index == 1, w == facts.W_FOLIO_COUNTS),
                self._leaf(sp.COUNTS_FROZEN),
                self._leaf(bv(sp.META_TAG) | (index << 8) | w),
            ),
        )
        tail = self._ite(unique, meta, self._tail_word(w, self._tail_compound_head()))
        member = self._ite(
            w == facts.W_FLAGS,
            self._ite(index == 0, self._leaf(fields | (1 << version.pg_head)), self._leaf(fields)),
            self._ite(index == 0, head, tail),
        )
        return self._ite(in_folio, member, neighbour)

    def shared_tail_word(self, w: BV) -> tuple[BV, BV]:
        """structpage.shared_tail_word() in closed form (built once, like struct_word())."""
        if self._shared_template is None:
            self._shared_template = self._shared_tail_word(_WORD)
        value, ptr = self._shared_template
        return z3.substitute(value, (_WORD, w)), z3.substitute(ptr, (_WORD, w))

    def _shared_tail_word(self, w: BV) -> tuple[BV, BV]:
        if self.scheme.encoding is Encoding.MASK:
            compound_head = self._leaf(sp.tail_info(self.config))
        else:  # initialised by another folio: the next one (see structpage.shared_tail_word)
            compound_head = self._pointer(bv(self.nr * self.size + 1))
        fields = sp.zone_of(self.scheme) << sp.ZONE_PGSHIFT
        return self._ite(w == facts.W_FLAGS, self._leaf(fields), self._tail_word(w, compound_head))


def select_pte(cond: z3.BoolRef, a: Pte, b: Pte) -> Pte:
    return Pte(
        z3.If(cond, a.kind, b.kind),
        z3.If(cond, a.source, b.source),
        z3.If(cond, a.writable, b.writable),
        z3.If(cond, a.changed, b.changed),
        z3.If(cond, a.delta, b.delta),
    )
