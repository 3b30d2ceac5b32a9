"""The concrete vmemmap: page-table entries from vmemmap pages to frames, and what a
read through them returns.  This is the literal model that every counterexample is
replayed on and that brute-force enumeration runs over.

`optimize()` follows the kernel's walk (mm/hugetlb_vmemmap.c vmemmap_remap_free(),
5.14..2026): take the reuse frame from the first PTE visited, optionally copy the head
vmemmap page to a new frame, then rewrite every non-reserved PTE and free the frames
it pointed at.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from hvo_verify.errors import NotApplicable, VmemmapFault
from hvo_verify.model.config import KernelConfig
from hvo_verify.model.scheme import HeadCopy, Scheme, Target
from hvo_verify.model.structpage import MASK64, WORD, Folio, original_word, shared_tail_word

# A frame is named by how it came to be: ("orig", vmemmap page number) is the frame the
# vmemmap page was populated with; ("new", n) a page HVO allocated; ("shared-tail",) the
# per-(zone, order) shared tail page.
FrameId = tuple[str, int] | tuple[str]
SHARED_TAIL: FrameId = ("shared-tail",)


@dataclass(frozen=True, slots=True)
class Pte:
    frame: FrameId
    writable: bool


@dataclass(frozen=True, slots=True)
class Frame:
    """A physical page of vmemmap: its bytes are those of vmemmap page `source` as it
    was populated (a copy_page() keeps the source), or the shared tail page."""

    source: int | None


class VmemmapView(Protocol):
    """What the readers (model/readers.py) need: a VmemmapState, or a kernel-model state
    seen through model/kernel.py View."""

    @property
    def folio(self) -> Folio: ...
    @property
    def config(self) -> KernelConfig: ...
    @property
    def optimized(self) -> bool: ...
    def read_word(self, vaddr: int) -> int: ...
    def pte(self, vpage: int) -> Pte | None: ...
    def frame(self, frame_id: FrameId) -> Frame: ...


@dataclass(frozen=True, slots=True)
class VmemmapState:
    """The folio's vmemmap after a scheme ran.  PTEs outside `ptes` are untouched (identity)."""

    folio: Folio
    first_vpage: int  # vmemmap page number (vaddr >> PAGE_SHIFT) of the folio's page 0
    ptes: Mapping[int, Pte | None]
    frames: Mapping[FrameId, Frame]
    freed: frozenset[FrameId]
    allocated: frozenset[FrameId]
    optimized: bool

    @property
    def config(self) -> KernelConfig:
        return self.folio.config

    def pte(self, vpage: int) -> Pte | None:
        if vpage in self.ptes:
            return self.ptes[vpage]
        return Pte(("orig", vpage), True)

    def frame(self, frame_id: FrameId) -> Frame:
        if frame_id in self.frames:
            return self.frames[frame_id]
        return Frame(frame_id[1] if frame_id[0] == "orig" else None)  # type: ignore[misc]

    def read_word(self, vaddr: int) -> int:
        """READ_ONCE() of the 8-byte word at vaddr, through the vmemmap page tables."""
        shift = self.config.page_shift
        pte = self.pte(vaddr >> shift)
        if pte is None:
            raise VmemmapFault(vaddr, "read of unmapped vmemmap")
        offset = vaddr & (self.config.page_size - 1)
        frame = self.frame(pte.frame)
        if frame.source is None:
            w = (offset % self.folio.size) // WORD
            return shared_tail_word(self.folio, w)
        return word_at(self.folio, (frame.source << shift) + offset)

    def vmemmap_page_index(self, vaddr: int) -> int:
        """k: which of the folio's vmemmap pages holds vaddr (may be outside 0..V-1)."""
        return (vaddr >> self.config.page_shift) - self.first_vpage


def word_at(folio: Folio, vaddr: int) -> int:
    """The populated (original) contents of the vmemmap word at vaddr."""
    rel = (vaddr - folio.vmemmap_base) & MASK64
    pfn, byte = divmod(rel, folio.size)
    if pfn >= folio.max_pfn:
        raise VmemmapFault(vaddr, "read outside the vmemmap")
    return original_word(folio, pfn, byte // WORD)


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


def populate(folio: Folio) -> VmemmapState:
    """The vmemmap as vmemmap_populate() left it: every page on its own frame, RW."""
    first = folio.head >> folio.config.page_shift
    return VmemmapState(folio, first, {}, {}, frozenset(), frozenset(), optimized=False)


def optimize(folio: Folio, *, alloc_ok: bool = True) -> VmemmapState:
    """Run the scheme's remap on a freshly prepared folio.

    alloc_ok says whether the head-page allocation (alloc_pages_node in
    vmemmap_remap_free) succeeds, for schemes that copy the head vmemmap page.
    Raises NotApplicable when the kernel would not optimize.
    """
    config, scheme = folio.config, folio.scheme
    reason = not_applicable_reason(config, scheme)
    if reason is not None:
        raise NotApplicable(reason)
    misfit = fit_error(config, scheme)
    if misfit is not None:  # the spec loader rejects these; never guess a mapping
        raise ValueError(f"scheme.{misfit[0]}: {misfit[1]}")
    state = populate(folio)
    if not scheme.optimizes:
        return state
    first = state.first_vpage
    nr = config.vmemmap_pages
    ptes: dict[int, Pte | None] = {first + k: Pte(("orig", first + k), True) for k in range(nr)}
    frames: dict[FrameId, Frame] = {}
    freed: set[FrameId] = set()
    allocated: set[FrameId] = set()
    if scheme.head_copy is not HeadCopy.NONE:
        if alloc_ok:
            # copy_page(new, head vmemmap page); PTE 0 -> new page, PAGE_KERNEL
            new: FrameId = ("new", 0)
            frames[new] = Frame(first)
            allocated.add(new)
            freed.add(("orig", first))
            ptes[first] = Pte(new, True)
        elif scheme.head_copy is HeadCopy.REQUIRED:
            # 2026: -ENOMEM, folio_clear_hugetlb_vmemmap_optimized(): left as populated.
            return state
        # v6.2 fallback: reuse frame(0) in place (the walk skips PTE 0).
    if scheme.target is Target.PAGE:
        reuse = ptes[first + scheme.target_page]
        assert reuse is not None
        reuse_frame = reuse.frame
    private = set(scheme.private)
    for k in range(nr):
        if k in private:
            continue
        vpage = first + k
        old = ptes[vpage]
        assert old is not None
        freed.add(old.frame)
        if scheme.target is Target.PAGE:
            ptes[vpage] = Pte(reuse_frame, scheme.writable_aliases)
        elif scheme.target is Target.SHARED_TAIL:
            ptes[vpage] = Pte(SHARED_TAIL, scheme.writable_aliases)
            frames[SHARED_TAIL] = Frame(None)
        else:
            ptes[vpage] = None
    return VmemmapState(folio, first, ptes, frames, frozenset(freed), frozenset(allocated), optimized=True)
