# SPDX-License-Identifier: GPL-2.0-only
"""The static invariants: what each one says, where the kernel states it, which index it
quantifies over, and how it is checked on the concrete model at one index.

The z3 form of each invariant lives in hvo_verify.encode.invariants under the same id.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from hvo_verify.errors import VmemmapFault
from hvo_verify.model import readers as r
from hvo_verify.model.accounting import pagetable_pages
from hvo_verify.model.describe import frame_label
from hvo_verify.model.facts import KPF_COMPOUND_HEAD, KPF_COMPOUND_TAIL, KPF_HUGE, MASK64, orig
from hvo_verify.model.scheme import FolioKind, Scheme
from hvo_verify.model.vmemmap import Pte, VmemmapState


class Index(enum.Enum):
    """What an invariant quantifies over."""

    SUBPAGE = "subpage"  # i in [0, nr_pages): struct page head + i
    STRUCT_PAGE = "struct-page"  # j: head + j for every struct page sharing the folio's vmemmap pages
    VMEMMAP_PAGE = "vmemmap-page"  # k in [0, V): vmemmap page k of the folio
    FOLIO = "folio"  # the folio as a whole (frame counts)


@dataclass(frozen=True, slots=True)
class Invariant:
    id: str
    summary: str
    kernel_ref: str
    index: Index
    # Concrete check at one index: None if it holds there, else what went wrong.
    check: Callable[[VmemmapState, int], str | None]
    # Why this invariant does not apply to the scheme (None: it applies).
    not_applicable: Callable[[Scheme], str | None] = lambda _scheme: None


def _sub(mem: VmemmapState, i: int) -> int:
    """The struct page pointer the kernel holds for subpage i (pfn_to_page(head_pfn + i))."""
    return r.pfn_to_page(mem, mem.folio.head_pfn + i)


def _fault(what: str, exc: VmemmapFault) -> str:
    return f"{what} cannot be read: {exc}"


def check_head_resolution(mem: VmemmapState, i: int) -> str | None:
    page, head = _sub(mem, i), mem.folio.head
    try:
        got = r.compound_head(mem, page)
    except VmemmapFault as exc:
        return _fault(f"compound_head(head+{i})", exc)
    if got != head:
        return f"compound_head(head+{i}) = {_name(mem, got)}, expected head ({head:#x})"
    return None


def check_head_tail_exact(mem: VmemmapState, i: int) -> str | None:
    page = _sub(mem, i)
    try:
        head, tail = r.page_head(mem, page), r.page_tail(mem, page)
    except VmemmapFault as exc:
        return _fault(f"PageHead/PageTail(head+{i})", exc)
    want_head = i == 0
    if head != want_head or tail == want_head:
        return f"head+{i}: PageHead={int(head)} PageTail={int(tail)}, expected PageHead={int(want_head)} PageTail={int(not want_head)}"
    return None


def expected_kpageflags(i: int) -> int:
    """tools/testing/selftests/mm/hugepage-vmemmap.c: HEAD|HUGE on the first pfn,
    TAIL|HUGE (and not HEAD) on every other."""
    return (1 << (KPF_COMPOUND_HEAD if i == 0 else KPF_COMPOUND_TAIL)) | (1 << KPF_HUGE)


def check_kpageflags(mem: VmemmapState, i: int) -> str | None:
    try:
        got = r.kpageflags(mem, _sub(mem, i))
    except VmemmapFault as exc:
        return _fault(f"/proc/kpageflags at pfn head+{i}", exc)
    want = expected_kpageflags(i)
    if got != want:
        return f"/proc/kpageflags at pfn head+{i} = {kpf_names(got)}, hugepage-vmemmap.c expects {kpf_names(want)}"
    return None


def kpf_names(bits: int) -> str:
    names = [
        n
        for n, b in (("COMPOUND_HEAD", KPF_COMPOUND_HEAD), ("COMPOUND_TAIL", KPF_COMPOUND_TAIL), ("HUGE", KPF_HUGE))
        if bits >> b & 1
    ]
    return "|".join(names) or "0"


def check_address_identity(mem: VmemmapState, i: int) -> str | None:
    folio = mem.folio
    page = _sub(mem, i)
    if page != folio.page(folio.head_pfn + i):
        return f"pfn_to_page(pfn(head) + {i}) = {_name(mem, page)}, not head+{i}: page_to_phys() of it is wrong"
    try:
        pfn, phys = r.page_to_pfn(mem, page), r.page_to_phys(mem, page)
    except VmemmapFault as exc:
        return _fault(f"page_to_pfn(head+{i})", exc)
    want = folio.head_pfn + i
    if pfn != want or phys != want << mem.config.page_shift:
        return f"page_to_pfn(head+{i}) = {pfn:#x}, page_to_phys = {phys:#x}; expected pfn {want:#x}, phys {want << mem.config.page_shift:#x}"
    return None


def _orig(mem: VmemmapState, vpage: int) -> Pte:
    return Pte(orig(vpage), True)


def writable_aliases_of(mem: VmemmapState, vpage: int) -> list[int]:
    """Other vmemmap pages of the folio that map the same frame writable."""
    pte = mem.pte(vpage)
    if pte is None:
        return []
    return [
        k
        for k in range(mem.config.vmemmap_pages)
        if mem.first_vpage + k != vpage
        and (other := mem.pte(mem.first_vpage + k)) is not None
        and other.frame == pte.frame
        and other.writable
    ]


def check_layout(mem: VmemmapState, j: int) -> str | None:
    folio, shift = mem.folio, mem.config.page_shift
    start = folio.page(folio.head_pfn + j)  # layout is about the virtual array itself
    pages = sorted({start >> shift, (start + folio.size - 1) >> shift})
    inside = 0 <= j < mem.config.nr_pages
    changed = [p for p in pages if mem.pte(p) != _orig(mem, p)]
    who = f"struct page head{j:+d}" if j else "the head struct page"
    ks = ", ".join(str(p - mem.first_vpage) for p in changed)
    if changed and not inside:
        return f"{who} belongs to another folio but lies on vmemmap page(s) {ks} that the scheme remaps"
    if changed and len(pages) == 2:
        return f"{who} straddles vmemmap pages {pages[0] - mem.first_vpage} and {pages[1] - mem.first_vpage}; the scheme remaps {ks}"
    if inside and j < folio.scheme.unique_struct_pages:
        for p in pages:
            pte = mem.pte(p)
            k = p - mem.first_vpage
            if pte is None or not pte.writable:
                return f"{who} carries unique folio metadata but vmemmap page {k} is {'unmapped' if pte is None else 'read-only'}"
            if aliases := writable_aliases_of(mem, p):
                return f"{who} carries unique folio metadata but its frame (vmemmap page {k}) is also mapped writable at vmemmap page {aliases[0]}"
    return None


def layout_range(mem: VmemmapState) -> range:
    """Every struct page index j (relative to head) whose bytes can share a vmemmap page with the folio."""
    per_page = mem.config.page_size // mem.folio.size + 1
    return range(-per_page - 1, mem.config.nr_pages + per_page + 1)


def check_no_dangling(mem: VmemmapState, k: int) -> str | None:
    pte = mem.pte(mem.first_vpage + k)
    if pte is not None and pte.frame in mem.freed:
        return f"vmemmap page {k} still maps {frame_label(mem, pte)}, a frame the scheme freed to the buddy allocator"
    return None


def expected_freed(mem: VmemmapState) -> int:
    """The kernel's own figure: hugetlb_vmemmap_optimizable_size() / PAGE_SIZE = V - R."""
    if not mem.optimized:
        return 0
    return mem.config.vmemmap_pages - mem.folio.scheme.reserve


def check_accounting(mem: VmemmapState, _index: int = 0) -> str | None:
    released = len(mem.freed) - len(mem.allocated)
    want = expected_freed(mem)
    if released != want:
        return f"the remap releases {released} vmemmap frame(s) net, the kernel's figure V - R is {want}"
    if mem.optimized:
        net = released - pagetable_pages(mem.config)
        if net <= 0:
            return (
                f"net saving {net} page(s) per folio: {len(mem.freed)} freed - {len(mem.allocated)} allocated "
                f"- {pagetable_pages(mem.config)} PTE table(s)"
            )
    return None


def _name(mem: VmemmapState, vaddr: int) -> str:
    rel = vaddr - mem.folio.head
    if rel % mem.folio.size == 0 and abs(rel) < (1 << 40):
        n = rel // mem.folio.size
        return f"head{n:+d} ({vaddr:#x})" if n else f"head ({vaddr:#x})"
    return f"{vaddr:#x}"


def page_slab_head(mem: VmemmapState, page: int) -> int:
    """The struct page mm/slab.h page_slab() decodes before its PGTY_slab test: its own
    open-coded pointer form where the version has it, else compound_head()."""
    if not mem.folio.scheme.facts.page_slab_open_coded:
        return r.compound_head(mem, page)
    info = r.compound_head_word(mem, page)
    return (info - 1) & MASK64 if info & 1 else page


def check_decoders_agree(mem: VmemmapState, i: int) -> str | None:
    page = _sub(mem, i)
    try:
        want = r.compound_head(mem, page)
    except VmemmapFault:
        return None  # head-resolution reports it
    try:
        got = page_slab_head(mem, page)
    except VmemmapFault as exc:
        return _fault(f"page_slab(head+{i})", exc)
    if got != want:
        return (
            f"page_slab(head+{i}) decodes compound_info as {_name(mem, got)}; _compound_head() finds {_name(mem, want)}"
        )
    return None


def _not_devdax(scheme: Scheme) -> str | None:
    if scheme.folio_kind is FolioKind.DEVDAX:
        return "fs/proc/page.c: /proc/kpageflags uses pfn_to_online_page(), NULL for ZONE_DEVICE pfns (KPF_NOPAGE)"
    return None


INVARIANTS: dict[str, Invariant] = {
    inv.id: inv
    for inv in (
        Invariant(
            "head-resolution",
            "compound_head(head + i) == head for every subpage i",
            "include/linux/page-flags.h _compound_head(), page_fixed_fake_head()",
            Index.SUBPAGE,
            check_head_resolution,
        ),
        Invariant(
            "head-tail-exact",
            "exactly one struct page reads PageHead; every other reads PageTail",
            "include/linux/page-flags.h PageHead(), PageTail()",
            Index.SUBPAGE,
            check_head_tail_exact,
        ),
        Invariant(
            "kpageflags",
            "/proc/kpageflags shows HEAD|HUGE at the head and TAIL|HUGE elsewhere (hugepage-vmemmap.c)",
            "fs/proc/page.c stable_page_flags(); tools/testing/selftests/mm/hugepage-vmemmap.c",
            Index.SUBPAGE,
            check_kpageflags,
            _not_devdax,
        ),
        Invariant(
            "address-identity",
            "page_to_pfn(head + i) == pfn(head) + i and page_to_phys(head + i) == phys(head) + i * PAGE_SIZE",
            "include/asm-generic/memory_model.h __page_to_pfn()",
            Index.SUBPAGE,
            check_address_identity,
        ),
        Invariant(
            "layout-soundness",
            "no struct page straddles or shares a remapped vmemmap page with another folio; "
            "struct pages with unique metadata sit on private writable frames",
            "mm/hugetlb_vmemmap.c hugetlb_vmemmap_optimizable_size() (0effdf461c57); include/linux/hugetlb.h __NR_USED_SUBPAGE",
            Index.STRUCT_PAGE,
            check_layout,
        ),
        Invariant(
            "no-dangling-frame",
            "no vmemmap PTE maps a frame the scheme freed",
            "mm/hugetlb_vmemmap.c vmemmap_remap_pte(), free_vmemmap_page_list()",
            Index.VMEMMAP_PAGE,
            check_no_dangling,
        ),
        Invariant(
            "accounting",
            "the remap releases V - R frames net (the kernel's figure) and saves memory after PTE tables",
            "mm/hugetlb_vmemmap.c hugetlb_vmemmap_optimizable_size(), split_vmemmap_huge_pmd()",
            Index.FOLIO,
            check_accounting,
        ),
        Invariant(
            "decoders-agree",
            "every other decoder of compound_info (slab's page_slab()) finds the head _compound_head() finds",
            'mm/slab.h page_slab(); "mm/slab: use compound_head() in page_slab()" (2026, bug B19)',
            Index.SUBPAGE,
            check_decoders_agree,
        ),
    )
}


def index_range(inv: Invariant, mem: VmemmapState) -> range:
    """Every index the brute-force check visits."""
    if inv.index is Index.SUBPAGE:
        return range(mem.config.nr_pages)
    if inv.index is Index.STRUCT_PAGE:
        return layout_range(mem)
    if inv.index is Index.VMEMMAP_PAGE:
        return range(mem.config.vmemmap_pages)
    return range(1)
