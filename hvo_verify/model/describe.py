# SPDX-License-Identifier: GPL-2.0-only
"""Kernel-terms descriptions of a concrete vmemmap state, for counterexamples and diagrams.

Returns strings; never prints.
"""

from __future__ import annotations

from hvo_verify.errors import VmemmapFault
from hvo_verify.model.facts import W_COMPOUND_HEAD, W_FLAGS, WORD, FrameId, FrameKind
from hvo_verify.model.scheme import HeadCopy
from hvo_verify.model.vmemmap import Pte, VmemmapState, VmemmapView


def frame_label(mem: VmemmapView, pte: Pte | None) -> str:
    if pte is None:
        return "unmapped"
    kind = pte.frame.kind
    if kind is FrameKind.ORIG:
        k = pte.frame.n - mem.first_vpage
        name = f"frame({k})" if 0 <= k < mem.config.vmemmap_pages else f"frame of vmemmap page {k}"
    elif kind is FrameKind.NEW:
        name = "new head frame"
    else:
        name = "shared tail page"
    return f"{name} {'RW' if pte.writable else 'RO'}"


def folio_lines(mem: VmemmapState) -> list[str]:
    folio, cfg = mem.folio, mem.config
    head = folio.head
    lines = [
        f"{cfg.id}, scheme {folio.scheme.name}: head pfn {folio.head_pfn:#x} (phys {folio.head_pfn << cfg.page_shift:#x}), "
        f"vmemmap base {folio.vmemmap_base:#x}",
        f"head struct page at {head:#x}"
        + ("" if head % cfg.page_size == 0 else f" ({head % cfg.page_size:#x} bytes into a vmemmap page)"),
    ]
    if folio.scheme.head_copy is not HeadCopy.NONE:
        ok = FrameId(FrameKind.NEW, 0) in mem.allocated
        lines.append(
            f"head-page allocation {'succeeded' if ok else 'failed'}"
            + ("" if mem.optimized else ": folio left unoptimized")
        )
    return lines


def struct_page_lines(mem: VmemmapState, j: int) -> list[str]:
    folio, cfg = mem.folio, mem.config
    addr = folio.page(folio.head_pfn + j)
    name = f"head{j:+d}" if j else "head"
    lines = []
    for w, field in ((W_FLAGS, "flags"), (W_COMPOUND_HEAD, "compound_head")):
        vaddr = addr + w * WORD
        k = mem.vmemmap_page_index(vaddr)
        pte = mem.pte(vaddr >> cfg.page_shift)
        try:
            value = f"{mem.read_word(vaddr):#x}"
        except VmemmapFault:
            value = "<fault>"
        lines.append(f"{name}->{field} at {vaddr:#x}: vmemmap page {k} -> {frame_label(mem, pte)}; reads {value}")
    return lines


def vmemmap_page_line(mem: VmemmapState, k: int) -> str:
    pte = mem.pte(mem.first_vpage + k)
    return f"vmemmap page {k} -> {frame_label(mem, pte)}"
