# SPDX-License-Identifier: GPL-2.0-only
"""The contents of struct pages, word by word, for a freshly prepared folio.

A struct page is modelled as `sizeof(struct page) / 8` 64-bit words at the offsets of
include/linux/mm_types.h (64-bit):

  word 0  flags                       (PG_* bits low, zone/section fields high)
  word 1  compound_head / compound_info (lru.next for a head)
  word 2  lru.prev; in page[1] the folio order and destructor (_flags_1 / compound_dtor)
  word 3  mapping (TAIL_MAPPING in tails, prep_compound_tail())
  word 4  index;  word 5 private (hugetlb subpool, cgroup, ... in page[1..3])
          in page[1]: the folio counters (_entire_mapcount low, _pincount high;
          include/linux/mm_types.h struct folio, v6.6)
  word 6  _mapcount (low 32 bits) and _refcount (high 32 bits)
  word 7+ memcg_data, virtual, KMSAN ... (0 here)

Only the values matter, never a particular kernel's bit-exact encoding: every value
below is chosen so that distinct kernel facts give distinct words.
"""

from __future__ import annotations

from dataclasses import dataclass

from hvo_verify.model.config import MAX_PHYSMEM_BITS, KernelConfig
from hvo_verify.model.facts import (
    COMPOUND_PAGE_DTOR,
    HUGETLB_PAGE_DTOR,
    MASK64,
    TAIL_MAPPING,
    W_COMPOUND_HEAD,
    W_COUNTS,
    W_FLAGS,
    W_FOLIO_COUNTS,
    W_FOLIO_INFO,
    W_MAPPING,
)
from hvo_verify.model.scheme import Encoding, FolioKind, Scheme

# Word offsets, KPF bits, TAIL_MAPPING and the destructor ids are kernel facts
# (model/facts.py); so are the page flag bits and the page[1] layout of each version
# (Scheme.facts, read below through folio.scheme.facts).

# page->flags fields area ("| FIELD | ... | FLAGS |"): the zone in the top bits.
ZONE_PGSHIFT = 60
ZONE_NORMAL = 2
ZONE_DEVICE = 4

# _mapcount = -1 (low half), _refcount = 0 (high half): pool folios are frozen at 0
# (bd225530a4c7, v6.10) and tails are always 0 (mm_types.h).
COUNTS_FROZEN = 0x00000000FFFFFFFF
COUNTS_ORDER0_IN_USE = 0x00000001FFFFFFFF
# lru.next of the head (on the hstate free list) and of neighbouring order-0 pages:
# kernel pointers, so bit 0 is clear.
HEAD_LRU = 0xFFFF888000100000
NEIGHBOUR_LRU = 0xFFFF888000200000
# Unique folio metadata in page[1..3] (hugetlb subpool/cgroup, _pincount, mapcounts).
META_TAG = 0x5E00000000000000


@dataclass(frozen=True, slots=True)
class Folio:
    """One folio placed in physical memory, with the vmemmap base it is described at."""

    config: KernelConfig
    scheme: Scheme
    head_pfn: int
    vmemmap_base: int

    @property
    def size(self) -> int:
        return self.config.struct_page_size

    @property
    def max_pfn(self) -> int:
        """Pfns the vmemmap describes: [0, 2**(MAX_PHYSMEM_BITS - PAGE_SHIFT))."""
        return 1 << (MAX_PHYSMEM_BITS - self.config.page_shift)

    def page(self, pfn: int) -> int:
        """pfn_to_page(): the struct page's virtual address (SPARSEMEM_VMEMMAP)."""
        return (self.vmemmap_base + pfn * self.size) & MASK64

    @property
    def head(self) -> int:
        return self.page(self.head_pfn)


def folio_dtor(scheme: Scheme) -> int:
    """The destructor a prepared folio of this kind carries in page[1]."""
    return HUGETLB_PAGE_DTOR if scheme.folio_kind is FolioKind.HUGETLB else COMPOUND_PAGE_DTOR


def zone_of(scheme: Scheme) -> int:
    return ZONE_DEVICE if scheme.folio_kind is FolioKind.DEVDAX else ZONE_NORMAL


def flags_fields(folio: Folio) -> int:
    return zone_of(folio.scheme) << ZONE_PGSHIFT


def tail_info(config: KernelConfig) -> int:
    """2026 set_compound_head(): GENMASK(63, order + order_base_2(sizeof(struct page))) | 1."""
    shift = config.order + (config.struct_page_size - 1).bit_length()
    return ((MASK64 >> shift) << shift) | 1


def compound_tail_word(folio: Folio, w: int) -> int:
    """A tail as prep_compound_tail() leaves it, for the folio's encoding."""
    if w == W_COMPOUND_HEAD:
        if folio.scheme.encoding is Encoding.MASK:
            return tail_info(folio.config)
        return (folio.head + 1) & MASK64
    if w == W_MAPPING:
        return TAIL_MAPPING
    if w == W_COUNTS:
        return COUNTS_FROZEN
    return 0


def original_word(folio: Folio, pfn: int, w: int) -> int:
    """Word `w` of the struct page of `pfn` before any remapping."""
    rel = pfn - folio.head_pfn
    if not 0 <= rel < folio.config.nr_pages:
        # Outside the folio: an in-use order-0 page (stated assumption).
        if w == W_FLAGS:
            return flags_fields(folio)
        if w == W_COMPOUND_HEAD:
            return NEIGHBOUR_LRU
        if w == W_COUNTS:
            return COUNTS_ORDER0_IN_USE
        return 0
    if w == W_FLAGS:
        return flags_fields(folio) | ((1 << folio.scheme.facts.pg_head) if rel == 0 else 0)
    if rel == 0:
        if w == W_COMPOUND_HEAD:
            return HEAD_LRU
        if w == W_COUNTS:
            return COUNTS_FROZEN
        return 0
    if rel < folio.scheme.unique_struct_pages and w >= W_FOLIO_INFO and w != W_COUNTS:
        facts = folio.scheme.facts
        if rel == facts.hugetlb_metadata_page and w == W_FOLIO_INFO:
            return facts.folio_info_word(folio_dtor(folio.scheme), folio.config.order)
        if rel == 1 and w == W_FOLIO_COUNTS:
            return COUNTS_FROZEN  # _entire_mapcount -1, _pincount 0
        return META_TAG | (rel << 8) | w
    return compound_tail_word(folio, w)


def original_class(folio: Folio, pfn: int) -> tuple[object, ...]:
    """Which of original_word()'s cases the struct page of `pfn` falls in: two pfns of one
    class have the same words (tests/property/test_structpage_classes.py checks it), so a
    reader of unwritten struct pages gives them the same answer (conform/predict.py
    per_subpage() shares the work between them)."""
    rel = pfn - folio.head_pfn
    if not 0 <= rel < folio.config.nr_pages:
        return ("neighbour",)
    if rel == 0:
        return ("head",)
    if rel < folio.scheme.unique_struct_pages:
        return ("metadata", rel)
    return ("tail",)


def shared_tail_word(folio: Folio, w: int) -> int:
    """A slot of vmemmap_shared_tail_page(order, zone) (linux-mm mm/sparse-vmemmap.c
    @028871b8): mm_zero_struct_page, _mapcount = -1, zone/node set, prep_compound_tail.

    The page is shared by every folio of that (zone, order).  With pointer encoding its
    compound_head can only name the folio that initialised it: we model that as the
    next folio (head_pfn + nr_pages), never this one."""
    if w == W_FLAGS:
        return zone_of(folio.scheme) << ZONE_PGSHIFT
    if w == W_COMPOUND_HEAD and folio.scheme.encoding is not Encoding.MASK:
        return (folio.page(folio.head_pfn + folio.config.nr_pages) + 1) & MASK64
    return compound_tail_word(folio, w)
