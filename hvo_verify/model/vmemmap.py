# SPDX-License-Identifier: GPL-2.0-only
"""The concrete vmemmap: page-table entries from vmemmap pages to frames, the bytes of
every frame, and what a read or a store through them does.  This is the one literal
memory: the static checks read the layout a scheme leaves (model/remap.py optimize()),
the kernel operations (hvo_verify/ops) read and store through it, and every
counterexample is replayed on it.

A frame's bytes are described by where they came from (`Content`): the vmemmap page
vmemmap_populate() filled it for, the shared tail page, or a copy_page() of another
frame (with reset_struct_pages() applied), plus the stores made to it since.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from hvo_verify.errors import VmemmapFault
from hvo_verify.model.config import KernelConfig
from hvo_verify.model.facts import MASK64, WORD, FrameId, FrameKind, orig
from hvo_verify.model.scheme import Scheme, Target
from hvo_verify.model.structpage import Folio, original_class, original_word, shared_tail_word


@dataclass(frozen=True, slots=True)
class Pte:
    frame: FrameId
    writable: bool


@dataclass(frozen=True, slots=True)
class Frame:
    """A physical page of vmemmap as a diagram or pfn_to_page() sees it: its bytes are
    those of vmemmap page `source` as it was populated (copies keep the source), or the
    shared tail page (None)."""

    source: int | None


class Origin(enum.Enum):
    POPULATED = "populated"  # vmemmap_populate() filled it for vmemmap page `vpage`
    SHARED_TAIL = "shared"  # vmemmap_shared_tail_page()
    COPY = "copy"  # copy_page() of `parent`, then reset_struct_pages() of `reset` bytes


@dataclass(frozen=True, slots=True)
class Content:
    """The bytes of one vmemmap frame: where they came from, plus stores since."""

    origin: Origin
    vpage: int = 0  # POPULATED
    parent: Content | None = None  # COPY
    reset: int = 0  # COPY: the first `reset` bytes read as the `reset` bytes after them
    writes: Mapping[int, int] = field(default_factory=dict)  # byte offset -> word

    def key(self) -> tuple[object, ...]:
        parent = None if self.parent is None else self.parent.key()
        return (self.origin.value, self.vpage, parent, self.reset, tuple(sorted(self.writes.items())))

    @property
    def source(self) -> int | None:
        """The vmemmap page whose populated bytes these are (through copies), or None."""
        content = self
        while content.parent is not None:
            content = content.parent
        return content.vpage if content.origin is Origin.POPULATED else None

    def written_offsets(self) -> set[int]:
        """Offsets whose bytes may differ from the origin's (stores, through copies)."""
        out = set(self.writes)
        if self.parent is not None:
            for off in self.parent.written_offsets():
                out.add(off)
                if self.reset <= off < 2 * self.reset:
                    out.add(off - self.reset)
        return out


@dataclass(frozen=True, slots=True)
class Write:
    """One store: where, through which frame, and the word before and after."""

    vaddr: int
    frame: FrameId
    offset: int
    old: int
    new: int


# What vmemmap_populate() left: built once per vmemmap page, not once per read (the
# explicit-state search and the 1 GiB conformance predictions read millions of words).
@functools.lru_cache(maxsize=1 << 16)
def _own_pte(vpage: int) -> Pte:
    return Pte(orig(vpage), True)


@functools.lru_cache(maxsize=1 << 16)
def _populated_content(vpage: int) -> Content:
    return Content(Origin.POPULATED, vpage)


_SHARED_TAIL_CONTENT = Content(Origin.SHARED_TAIL)


@functools.lru_cache(maxsize=1 << 16)
def _populated_key(folio: Folio, vpage: int) -> tuple[object, ...]:
    """What the populated bytes of vmemmap page `vpage` depend on: where the first struct
    page starts in it, and original_class() of each struct page it holds part of (a pfn
    the vmemmap does not describe faults: its own class)."""
    start = (vpage << folio.config.page_shift) - folio.vmemmap_base
    size, end = folio.size, start + folio.config.page_size
    first = start // size
    classes = tuple(
        original_class(folio, pfn) if 0 <= pfn < folio.max_pfn else ("undescribed",)
        for pfn in range(first, (end + size - 1) // size)
    )
    return ("populated", start - first * size, classes)


class VmemmapView(Protocol):
    """What the readers (model/readers.py) and the diagram need: a VmemmapState, or one
    seen through a wrapper that memoises or names frames."""

    @property
    def folio(self) -> Folio: ...
    @property
    def config(self) -> KernelConfig: ...
    @property
    def optimized(self) -> bool: ...
    @property
    def first_vpage(self) -> int: ...
    @property
    def freed(self) -> frozenset[FrameId]: ...
    @property
    def allocated(self) -> frozenset[FrameId]: ...
    def read_word(self, vaddr: int) -> int: ...
    def pte(self, vpage: int) -> Pte | None: ...
    def frame(self, frame_id: FrameId) -> Frame: ...


@dataclass(frozen=True, slots=True)
class VmemmapState:
    """One folio's vmemmap.  PTEs outside `ptes` are as vmemmap_populate() left them (own
    frame, RW); frames outside `contents` hold their populated bytes."""

    folio: Folio
    ptes: Mapping[int, Pte | None] = field(default_factory=dict)  # vmemmap page number -> PTE
    contents: Mapping[FrameId, Content] = field(default_factory=dict)
    next_frame: int = 0  # the number the next allocated frame gets
    freed: frozenset[FrameId] = frozenset()  # frames HVO handed back to the buddy allocator
    allocated: frozenset[FrameId] = frozenset()  # frames HVO allocated
    optimized: bool = False  # HPG_vmemmap_optimized: the scheme's remap is in place

    @property
    def config(self) -> KernelConfig:
        return self.folio.config

    @property
    def first_vpage(self) -> int:
        """The vmemmap page number (vaddr >> PAGE_SHIFT) of the folio's page 0."""
        return self.folio.head >> self.config.page_shift

    def vmemmap_page_index(self, vaddr: int) -> int:
        """k: which of the folio's vmemmap pages holds vaddr (may be outside 0..V-1)."""
        return (vaddr >> self.config.page_shift) - self.first_vpage

    def pte(self, vpage: int) -> Pte | None:
        if vpage in self.ptes:
            return self.ptes[vpage]
        return _own_pte(vpage)

    def content(self, frame: FrameId) -> Content:
        if frame in self.contents:
            return self.contents[frame]
        if frame.kind is FrameKind.SHARED_TAIL:
            return _SHARED_TAIL_CONTENT
        assert frame.kind is FrameKind.ORIG, frame
        return _populated_content(frame.n)

    def frame(self, frame_id: FrameId) -> Frame:
        return Frame(self.content(frame_id).source)

    def content_key(self, frame: FrameId) -> tuple[object, ...]:
        """Equal keys, equal bytes: a populated frame nothing wrote to is keyed by what its
        populated bytes depend on (`_populated_key()`), so the tail vmemmap pages of a
        folio that is not optimized share one key; any other frame by its id."""
        content = self.content(frame)
        if content.origin is Origin.POPULATED and not content.writes:
            return _populated_key(self.folio, content.vpage)
        if content.origin is Origin.SHARED_TAIL and not content.writes:
            return ("shared-tail",)
        return ("frame", frame)

    def read_content(self, content: Content, offset: int) -> int:
        while True:
            if offset in content.writes:
                return content.writes[offset]
            if content.origin is Origin.POPULATED:
                return self.populated(((content.vpage << self.config.page_shift) + offset) & MASK64)
            if content.origin is Origin.SHARED_TAIL:
                return shared_tail_word(self.folio, (offset % self.folio.size) // WORD)
            assert content.parent is not None
            offset = offset + content.reset if offset < content.reset else offset
            content = content.parent

    def populated(self, vaddr: int) -> int:
        """The word at vaddr as vmemmap_populate() and the folio's preparation left it."""
        rel = (vaddr - self.folio.vmemmap_base) & MASK64
        pfn, byte = divmod(rel, self.folio.size)
        if pfn >= self.folio.max_pfn:
            raise VmemmapFault(vaddr, "read outside the vmemmap")
        return original_word(self.folio, pfn, byte // WORD)

    def read_word(self, vaddr: int) -> int:
        """READ_ONCE() of the 8-byte word at vaddr, through the vmemmap page tables."""
        pte = self.pte(vaddr >> self.config.page_shift)
        if pte is None:
            raise VmemmapFault(vaddr, "read of unmapped vmemmap")
        return self.read_content(self.content(pte.frame), vaddr & (self.config.page_size - 1))

    def write_word(self, vaddr: int, value: int) -> tuple[VmemmapState, Write]:
        """WRITE_ONCE() of the word at vaddr: faults as the kernel would oops."""
        pte = self.pte(vaddr >> self.config.page_shift)
        if pte is None:
            raise VmemmapFault(vaddr, "store to unmapped vmemmap")
        if (vaddr - self.folio.vmemmap_base) & MASK64 >= self.folio.max_pfn * self.folio.size:
            raise VmemmapFault(vaddr, "store outside the vmemmap")
        if not pte.writable:
            raise VmemmapFault(vaddr, "store through a read-only vmemmap PTE")
        offset = vaddr & (self.config.page_size - 1)
        content = self.content(pte.frame)
        old = self.read_content(content, offset)
        new = replace(content, writes={**content.writes, offset: value & MASK64})
        state = replace(self, contents={**self.contents, pte.frame: new})
        return state, Write(vaddr, pte.frame, offset, old, value & MASK64)

    def new_frame(self) -> tuple[VmemmapState, FrameId]:
        """alloc_pages_node() of one vmemmap page."""
        frame = FrameId(FrameKind.NEW, self.next_frame)
        return replace(self, next_frame=self.next_frame + 1, allocated=self.allocated | {frame}), frame

    # -- what the invariants ask of the layout ---------------------------------------------
    def vaddrs_of(self, frame: FrameId, offset: int) -> Iterator[int]:
        """Every address in the folio's vmemmap pages that reads (frame, offset)."""
        first, shift = self.first_vpage, self.config.page_shift
        for k in range(self.config.vmemmap_pages):
            pte = self.pte(first + k)
            if pte is not None and pte.frame == frame:
                yield ((first + k) << shift) | offset

    def touched_vaddrs(self, word: int) -> set[int]:
        """Addresses of word `word` of struct pages in the folio's vmemmap whose value may
        differ from the populated vmemmap (stored to, or on a frame that is not the page's
        own populated frame)."""
        out: set[int] = set()
        for _pte, addrs in self.touched_ranges(word):
            out.update(addrs)
        return out

    def touched_ranges(self, word: int) -> Iterator[tuple[Pte, Sequence[int]]]:
        """`touched_vaddrs()` one mapped vmemmap page at a time: (its PTE, the addresses
        in it).  Two pages with the same frame and the same addresses modulo PAGE_SIZE
        read the same words (an optimized 1 GiB folio: 4,094 pages, one frame)."""
        shift, size, base = self.config.page_shift, self.folio.size, self.folio.vmemmap_base
        for k in range(self.config.vmemmap_pages):
            vpage = self.first_vpage + k
            pte = self.pte(vpage)
            if pte is None:
                continue
            start = vpage << shift
            content = self.content(pte.frame)
            if content.origin is not Origin.POPULATED or content.vpage != vpage:
                first = start + (word * WORD - (start - base)) % size
                yield pte, range(first, start + self.config.page_size, size)
                continue
            written = [start | off for off in content.written_offsets() if ((start | off) - base) % size == word * WORD]
            if written:
                yield pte, written


def fit_error(config: KernelConfig, scheme: Scheme) -> tuple[str, str] | None:
    """(scheme key, message) when a custom scheme names a vmemmap page this config's
    folio does not have (checked only where the scheme applies)."""
    if not_applicable_reason(config, scheme) is not None or not scheme.optimizes:
        return None
    nr = config.vmemmap_pages
    for page in scheme.private:
        if page >= nr:
            return "private", f"vmemmap page {page} does not exist on {config.id} ({nr} vmemmap pages per folio)"
    if scheme.target is Target.PAGE and scheme.target_page >= nr:
        return "remap_to", f"page:{scheme.target_page} does not exist on {config.id} ({nr} vmemmap pages per folio)"
    return None


def not_applicable_reason(config: KernelConfig, scheme: Scheme) -> str | None:
    """Why the kernel would leave this folio's vmemmap alone, or None."""
    if not scheme.optimizes:
        return None
    if scheme.arches is not None and config.arch not in scheme.arches:
        return f"{config.id}: {scheme.version} has no HVO on {config.arch.value} ({scheme.arches_source})"
    if config.vmemmap_bytes < config.page_size:
        return (
            f"{config.id}: the folio's {config.nr_pages} struct pages fill "
            f"{config.vmemmap_bytes} bytes, less than one {config.page_size}-byte page: "
            "nothing to free (hugetlb_vmemmap_optimizable() is false)"
        )
    if scheme.power_of_2_guard and not config.struct_page_is_power_of_2:
        return (
            f"{config.id}: sizeof(struct page) = {config.struct_page_size} is not a power of 2, "
            "HVO is disabled (hugetlb_vmemmap_optimizable_size(), 0effdf461c57, v5.19+)"
        )
    reserve = max(scheme.reserve, 1)
    if config.vmemmap_pages <= reserve:
        return (
            f"{config.id}: {config.vmemmap_pages} vmemmap page(s) per folio, not more than the "
            f"{reserve} the scheme keeps: nothing to free"
        )
    return None
