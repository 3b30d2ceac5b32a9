# SPDX-License-Identifier: GPL-2.0-only
"""Kernel facts as data.

Two kinds:

* facts that did not change across the kernel versions we model, as module constants:
  the struct page word layout the model uses, the /proc/kpageflags bits (a user ABI),
  TAIL_MAPPING, the compound destructor ids, and the kinds of vmemmap frame;
* facts that changed across versions, as a `VersionFacts` record that every preset
  scheme carries (`Scheme.facts`): the number of struct pages reset_struct_pages()
  rewrites, the subpage whose page_private() held the hwpoison index, which subpage
  holds the HugeTLB metadata, the page flag bit numbers and the page[1] byte layout of
  the destructor.  Code reads these from the scheme, never as bare numbers.

A struct page is modelled as `sizeof(struct page) / 8` 64-bit words at the offsets of
include/linux/mm_types.h (64-bit); see model/structpage.py for what each word holds.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass
from typing import NamedTuple

WORD = 8
MASK64 = (1 << 64) - 1

# -- struct page words (include/linux/mm_types.h, 64-bit; unchanged 5.14..2026) ----------
W_FLAGS = 0
W_COMPOUND_HEAD = 1  # compound_head / compound_info (lru.next for a head)
W_FOLIO_INFO = 2  # lru.prev; in page[1] the folio order and destructor
W_MAPPING = 3  # TAIL_MAPPING in tails (prep_compound_tail())
W_FOLIO_COUNTS = 4  # page[1] only: _entire_mapcount (low half), _pincount (high half)
W_PRIVATE = 5  # page_private()
W_COUNTS = 6  # _mapcount (low half), _refcount (high half)

# -- include/uapi/linux/kernel-page-flags.h (a user ABI: never renumbered) ----------------
KPF_COMPOUND_HEAD = 15
KPF_COMPOUND_TAIL = 16
KPF_HUGE = 17
KPF_HWPOISON = 19

# include/linux/poison.h: TAIL_MAPPING = 0x400 + POISON_POINTER_DELTA (x86-64).
TAIL_MAPPING = 0xDEAD000000000400
# compound_dtor ids (include/linux/mm.h, v5.x): COMPOUND_PAGE_DTOR 1, HUGETLB_PAGE_DTOR 2.
COMPOUND_PAGE_DTOR = 1
HUGETLB_PAGE_DTOR = 2


class FrameKind(enum.IntEnum):
    """How a physical vmemmap frame came to be (the one frame-id vocabulary).  The value
    is the tag the z3 side gives frame terms of this kind (an int: frame ids are hashed
    millions of times by the concrete invariant checks)."""

    ORIG = 0  # the frame vmemmap_populate() gave vmemmap page n
    NEW = 1  # the n-th page HVO allocated (head copy, restore)
    SHARED_TAIL = 2  # the per-(zone, order) shared tail page (2026)
    NONE = 3  # no frame: an unmapped PTE (z3 side only)

    @property
    def tag(self) -> int:
        return int(self)

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", "-")


class FrameId(NamedTuple):
    """One physical vmemmap frame: its kind and number (vmemmap page, allocation)."""

    kind: FrameKind
    n: int = 0

    def __str__(self) -> str:
        return self.kind.label if self.kind is FrameKind.SHARED_TAIL else f"{self.kind.label} {self.n}"


@functools.lru_cache(maxsize=1 << 16)
def orig(vpage: int) -> FrameId:
    """The frame vmemmap_populate() gave vmemmap page `vpage`."""
    return FrameId(FrameKind.ORIG, vpage)


SHARED_TAIL = FrameId(FrameKind.SHARED_TAIL)


@dataclass(frozen=True, slots=True)
class VersionFacts:
    """The kernel facts that changed across versions, carried by each preset."""

    # mm/hugetlb_vmemmap.c NR_RESET_STRUCT_PAGE (v5.18+): how many struct pages at the
    # start of a restored frame reset_struct_pages() rewrites from the following ones.
    nr_reset_struct_page: int = 3
    # 2020/2021 series hwpoison_subpage_set(): the raw error's index lives in
    # page_private(head + SUBPAGE_INDEX_HWPOISON).
    subpage_index_hwpoison: int = 4
    # The subpage whose word W_FOLIO_INFO holds the folio order and destructor
    # (page[1]: compound_dtor/compound_order before v6.6, folio->_flags_1 after).
    hugetlb_metadata_page: int = 1
    # ... and where in that word: the order in the low byte, the destructor above it.
    dtor_shift: int = 8
    dtor_bits: int = 8
    # include/linux/page-flags.h enum pageflags (v6.6 order; PG_head "Must be in bit 6").
    pg_dirty: int = 4
    pg_head: int = 6
    pg_arch_1: int = 13
    pg_hwpoison: int = 22
    # fs/proc/page.c stable_page_flags(): where the raw page->flags bits come from.
    # v6.1 (linux-source-6.1 fs/proc/page.c:122): `k = page->flags` of the pfn asked
    # for, so a fake head reports the head's flags.  6.12 (linux-source-6.12
    # fs/proc/page.c:123-125, "proc: rewrite stable_page_flags()", v6.9): `k =
    # folio->flags` for every pfn, and KPF_HWPOISON from the folio when KPF_HUGE, from
    # the page otherwise (:203-206).
    kpageflags_reads_folio: bool = False
    # Where "this folio is hugetlb" is written: page[1]'s compound_dtor / _flags_1
    # destructor (PageHuge(), v5.14..v6.8), or the head's page_type (6.12
    # include/linux/page-flags.h:946,1079 PGTY_hugetlb, FOLIO_TYPE_OPS(hugetlb)), which
    # overlays _mapcount and so travels with a byte copy of the head struct page.
    hugetlb_page_type: bool = False
    # A decoder of compound_info other than _compound_head(): mm/slab.h page_slab()
    # open-coding the pointer form (`if (info & 1) page = (struct page *)(info - 1)`).
    # Right for the pointer encoding, wrong for the 2026 mask encoding (bug B19; the
    # series replaced it by compound_head(): "mm/slab: use compound_head() in
    # page_slab()", <20260202155634.650837-18-kas@kernel.org>).  No preset has it; a
    # spec's `scheme.page_slab = "open-coded"` does.
    page_slab_open_coded: bool = False

    def folio_info_word(self, dtor: int, order: int) -> int:
        """page[1]'s W_FOLIO_INFO word for a folio of this destructor and order."""
        return (dtor << self.dtor_shift) | order

    def compound_dtor(self, word: int) -> int:
        """The destructor field of a page[1] W_FOLIO_INFO word."""
        return word >> self.dtor_shift & ((1 << self.dtor_bits) - 1)


DEFAULT_FACTS = VersionFacts()
