# SPDX-License-Identifier: GPL-2.0-only
"""What the kernel operations touch, concretely: `KState` and what one operation did.

A `KState` is the folio's vmemmap (PTEs and the bytes of every frame, stores included),
the hugetlb flags, pool membership, the raw error list, the user mapping, the I/O in
flight, and the bytes DMA wrote.  Ghost fields (`injected`, `refs`, `pins`, `shadow`)
are what an ideal kernel would have: the invariants compare the kernel's state against
them.  The z3 twin of the scalar part is `encode/ops/state.py` `SymKState`, with the
same field names (tests/unit/test_pairing.py).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from hvo_verify.model.vmemmap import VmemmapState, Write

# The user mapping of the folio: a huge-page-aligned address (aligned for every size).
USER_BASE = 0x7F0000000000
# A value no kernel field holds: what write_struct_page() stores.
PROBE_VALUE = 0x5A5A000000000000


class Pool(enum.Enum):
    FREE = "free"  # on the hstate free list
    IN_USE = "in-use"  # allocated, mapped by a user
    REMOVED = "removed"  # dissolve_free_hugetlb_folio(): off the free list, being freed
    BUDDY = "buddy"  # update_and_free_hugetlb_folio() returned its pages to buddy
    LEAKED = "leaked"  # raw_hwp_unreliable: "leaked intentionally"


@dataclass(frozen=True, slots=True)
class Io:
    """The I/O in flight: what GUP returned for the user buffer."""

    uaddr: int
    length: int
    pages: tuple[int, ...]  # struct page pointers GUP returned
    pin: bool  # FOLL_PIN (pin_user_pages) or FOLL_GET (get_user_pages)
    submitted: bool = False


@dataclass(frozen=True, slots=True)
class KState:
    vmemmap: VmemmapState  # the folio's vmemmap PTEs and frame bytes (HPG_vmemmap_optimized in it)
    hugetlb: bool  # folio_test_hugetlb (dtor / page type)
    pool: Pool
    raw_hwp: tuple[int, ...] = ()  # pfns on folio->_hugetlb_hwpoison
    raw_hwp_unreliable: bool = False
    mapped: bool = False  # mapped at USER_BASE by one process
    dissolve_pfn: int | None = None  # the page dissolve_free_hugetlb_folio() was called for
    io: Io | None = None
    subpage_maps: tuple[int, ...] = ()  # subpages mapped by page_add_file_rmap()
    dma: tuple[tuple[int, int, int], ...] = ()  # (phys, length, user offset) written by devices
    restored: bool = False  # the vmemmap was restored at least once
    # ghosts
    injected: frozenset[int] = frozenset()  # pfns memory_failure() was called on
    refs: int = 0  # what the folio refcount should be
    pins: int = 0  # what folio->_pincount should be
    shadow: Mapping[int, int] = field(default_factory=dict)  # vaddr -> word, as in a never-optimized vmemmap

    # The z3 twin (encode/ops/state.py SymKState) has the same fields but these: its
    # memory is the unrolling's event chain, DMA and restores are facts of each step.
    # It keeps `optimized` (here a property of the vmemmap) as a field.
    MEMORY_FIELDS = frozenset({"vmemmap", "shadow", "dma", "restored"})

    @property
    def optimized(self) -> bool:
        """HPG_vmemmap_optimized: the scheme's remap is in place."""
        return self.vmemmap.optimized

    def key(self) -> tuple[object, ...]:
        """A hashable fingerprint (explicit-state search)."""
        vm = self.vmemmap
        return (
            tuple(sorted(vm.ptes.items(), key=lambda kv: kv[0])),
            tuple(sorted(((str(k), v.key()) for k, v in vm.contents.items()))),
            self.optimized, self.hugetlb, self.pool, self.raw_hwp, self.raw_hwp_unreliable, self.mapped,
            self.dissolve_pfn, self.io, self.subpage_maps, self.dma, self.restored, self.injected,
            self.refs, self.pins, tuple(sorted(self.shadow.items())),
        )  # fmt: skip


class FaultKind(enum.Enum):
    READ = "read-fault"  # read of an unmapped vmemmap page
    RO_WRITE = "ro-write"  # store through a read-only (or unmapped) vmemmap PTE


@dataclass(frozen=True, slots=True)
class Fault:
    kind: FaultKind
    message: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one operation did."""

    state: KState
    lines: tuple[str, ...]
    writes: tuple[Write, ...] = ()  # model/vmemmap.py Write
    fault: Fault | None = None
    restored: bool = False  # this step restored the vmemmap
    to_buddy: bool = False  # this step freed the folio's pages to buddy
    unfreeable: str | None = None  # this step freed vmemmap frames that are not free order-0 pages (why)
    restore_refused: bool = False  # a restore failed though the allocator had pages (gfp mask)
