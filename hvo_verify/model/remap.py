# SPDX-License-Identifier: GPL-2.0-only
"""The one vmemmap remap walk, in both directions, on the one concrete memory
(model/vmemmap.py).  The static checks run `optimize()` on a freshly prepared folio;
the kernel operations (ops/pool.py) run the same `vmemmap_remap_free()` and
`vmemmap_remap_alloc()` on the folio's current vmemmap.

The walk follows mm/hugetlb_vmemmap.c (5.14..2026): take the reuse frame from the
first PTE visited, optionally copy the head vmemmap page to a new frame, then rewrite
every non-reserved PTE and free the frames it pointed at; restoring allocates a page
per remapped PTE (all or nothing) and copies the reuse page into it.
"""

from __future__ import annotations

from dataclasses import replace

from hvo_verify.errors import NotApplicable
from hvo_verify.model.facts import SHARED_TAIL
from hvo_verify.model.scheme import HeadCopy, Target
from hvo_verify.model.structpage import Folio
from hvo_verify.model.vmemmap import Content, Origin, Pte, VmemmapState, fit_error, not_applicable_reason


def populate(folio: Folio) -> VmemmapState:
    """The vmemmap as vmemmap_populate() left it: every page on its own frame, RW."""
    return VmemmapState(folio)


def remapped_pages(vm: VmemmapState) -> list[int]:
    """The folio's vmemmap pages the scheme remaps (all but the reserved ones)."""
    private = set(vm.folio.scheme.private)
    return [k for k in range(vm.config.vmemmap_pages) if k not in private]


def vmemmap_remap_free(vm: VmemmapState, *, split_ok: bool, head_alloc_ok: bool) -> tuple[VmemmapState, list[str]]:
    """mm/hugetlb_vmemmap.c __hugetlb_vmemmap_optimize_folio() -> vmemmap_remap_free().

    split_ok: vmemmap_remap_split() got its PTE table (PMD-mapped vmemmap, schemes that
    do not copy the head page); head_alloc_ok: alloc_pages_node() of the new head page
    (schemes that copy it).  A failure leaves the folio unoptimized, except v6.2's
    fallback, which reuses frame(0) in place."""
    folio, config = vm.folio, vm.config
    scheme, first = folio.scheme, vm.first_vpage
    if not split_ok and scheme.head_copy is HeadCopy.NONE and config.vmemmap_pmd_mapped:
        return vm, ["vmemmap_remap_split(): PTE table allocation failed (-ENOMEM): folio left unoptimized"]
    ptes = dict(vm.ptes)
    contents = dict(vm.contents)
    freed = set(vm.freed)
    lines = []
    if scheme.head_copy is not HeadCopy.NONE:
        if head_alloc_ok:
            old = vm.pte(first)
            assert old is not None
            vm, new = vm.new_frame()
            contents[new] = Content(Origin.COPY, parent=vm.content(old.frame))
            freed.add(old.frame)
            ptes[first] = Pte(new, True)
            lines.append("copy_page(new page, head vmemmap page); PTE 0 -> new page")
        elif scheme.head_copy is HeadCopy.REQUIRED:
            # 2026: -ENOMEM, folio_clear_hugetlb_vmemmap_optimized(): left as populated.
            return vm, ["alloc_pages_node() for the head vmemmap page failed: folio left unoptimized"]
        else:
            # v6.2 fallback: reuse frame(0) in place (the walk skips PTE 0).
            lines.append("head vmemmap page allocation failed: reuse frame(0) in place")
    reuse = ptes.get(first + scheme.target_page, vm.pte(first + scheme.target_page))
    pages = remapped_pages(vm)
    for k in pages:
        old = ptes.get(first + k, vm.pte(first + k))
        assert old is not None
        freed.add(old.frame)
        if scheme.target is Target.PAGE:
            assert reuse is not None
            ptes[first + k] = Pte(reuse.frame, scheme.writable_aliases)
        elif scheme.target is Target.SHARED_TAIL:
            ptes[first + k] = Pte(SHARED_TAIL, scheme.writable_aliases)
        else:
            ptes[first + k] = None
    lines.append(f"vmemmap pages {_ranges(pages)} remapped "
                 f"({'RW' if scheme.writable_aliases else 'RO'}); their frames freed")  # fmt: skip
    return replace(vm, ptes=ptes, contents=contents, freed=frozenset(freed), optimized=True), lines


def vmemmap_remap_alloc(vm: VmemmapState, *, alloc_ok: bool, reset: int) -> tuple[VmemmapState, list[str], bool]:
    """hugetlb_vmemmap_restore_folio() -> vmemmap_remap_alloc(): all pages are allocated
    first (any failure: -ENOMEM, nothing changed); each remapped PTE gets a copy of the
    page it maps (the reuse page where it is unmapped), whose first `reset` bytes
    reset_struct_pages() rewrites from the ones after them."""
    if not alloc_ok:
        return vm, ["alloc_vmemmap_page_list() failed: -ENOMEM, folio stays optimized"], False
    scheme, first = vm.folio.scheme, vm.first_vpage
    reuse_vpage = first + (scheme.target_page if scheme.target is Target.PAGE else 0)
    ptes = dict(vm.ptes)
    contents = dict(vm.contents)
    pages = remapped_pages(vm)
    for k in pages:
        cur = vm.pte(first + k)
        source = cur if cur is not None else vm.pte(reuse_vpage)
        assert source is not None
        parent = vm.content(source.frame)
        vm, new = vm.new_frame()
        contents[new] = Content(Origin.COPY, parent=parent, reset=reset)
        ptes[first + k] = Pte(new, True)
    what = "copy_page(new, reuse page)" + ("; reset_struct_pages()" if reset else "")
    lines = [f"vmemmap pages remapped to {len(pages)} new pages: {what}"]
    return replace(vm, ptes=ptes, contents=contents, optimized=False), lines, True


def optimize(folio: Folio, *, alloc_ok: bool = True) -> VmemmapState:
    """The static checks' layout: the scheme's remap on a freshly prepared folio.

    alloc_ok says whether the head-page allocation succeeds, for schemes that copy the
    head vmemmap page.  The PTE-table allocation of the split is taken to succeed: a
    failed split leaves the populated vmemmap (the `none` layout), which the operation
    checks cover (hugetlb_vmemmap_optimize_folio(alloc_ok=false)).
    Raises NotApplicable when the kernel would not optimize."""
    config, scheme = folio.config, folio.scheme
    reason = not_applicable_reason(config, scheme)
    if reason is not None:
        raise NotApplicable(reason)
    misfit = fit_error(config, scheme)
    if misfit is not None:  # the spec loader rejects these; never guess a mapping
        raise ValueError(f"scheme.{misfit[0]}: {misfit[1]}")
    vm = populate(folio)
    if not scheme.optimizes:
        return vm
    return vmemmap_remap_free(vm, split_ok=True, head_alloc_ok=alloc_ok)[0]


def _ranges(pages: list[int]) -> str:
    """[1, 2, 3, 5] -> "1..3, 5"."""
    out: list[str] = []
    for p in pages:
        if out and out[-1].split("..")[-1] == str(p - 1):
            out[-1] = f"{out[-1].split('..')[0]}..{p}"
        else:
            out.append(str(p))
    return ", ".join(out)
