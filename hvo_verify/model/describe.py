# SPDX-License-Identifier: GPL-2.0-only
"""Kernel-terms descriptions of a concrete vmemmap state, for counterexamples and diagrams.

Returns strings; never prints.
"""

from __future__ import annotations

from hvo_verify.errors import VmemmapFault
from hvo_verify.model.facts import W_COMPOUND_HEAD, W_FLAGS, WORD, FrameId, FrameKind
from hvo_verify.model.scheme import Encoding, HeadCopy
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
        why = whose_bytes(mem, vaddr, pte)
        lines.append(
            f"{name}->{field} at {vaddr:#x}: vmemmap page {k} -> {frame_label(mem, pte)}; reads {value}"
            + (f" ({why})" if why else "")
        )
    return lines


_FIELDS = {W_FLAGS: "flags", W_COMPOUND_HEAD: "compound_head"}


def whose_bytes(mem: VmemmapState, vaddr: int, pte: Pte | None) -> str:
    """Why the word at `vaddr` reads what it does, in one clause, when the PTE maps it to
    a frame that is not its own: whose struct page the frame holds at that offset (an
    original frame holds the struct pages of its own vmemmap page; the new head frame a
    copy of vmemmap page 0, made when the folio was optimized; the shared tail page one
    tail for every folio of the (zone, order), whose pointer-encoded compound_head names
    the folio that initialised it: structpage.shared_tail_word()).  "" when the word is
    its own (its own frame, or the head frame's copy of it), is unmapped, or is a tail
    word of the shared tail page, the same for every folio."""
    cfg, folio = mem.config, mem.folio
    if pte is None:
        return ""
    offset = vaddr & (cfg.page_size - 1)
    kind = pte.frame.kind
    if kind is FrameKind.SHARED_TAIL:
        if offset % cfg.struct_page_size == W_COMPOUND_HEAD * WORD and folio.scheme.encoding is not Encoding.MASK:
            first = folio.head_pfn + cfg.nr_pages
            return f"the shared tail page holds a tail of the folio at pfn {first:#x}, which initialised it"
        return ""  # the same tail for every folio: nothing to say about whose
    if kind is FrameKind.NEW and pte.frame.n != 0:
        return ""  # a frame a restore allocated: not a copy of a known page
    source = pte.frame.n if kind is FrameKind.ORIG else mem.first_vpage
    if (source << cfg.page_shift) + offset == vaddr:  # its own bytes (or the head frame's copy of them)
        return ""
    rel = (source << cfg.page_shift) + offset - folio.head
    j, byte = divmod(rel, cfg.struct_page_size)
    field = _FIELDS.get(byte // WORD, f"word {byte // WORD}") if byte % WORD == 0 else f"byte {byte}"
    owner = (
        (f"head{j:+d}" if j else "head") if 0 <= j < cfg.nr_pages else f"pfn {folio.head_pfn + j:#x} (another folio)"
    )
    frame = f"frame({source - mem.first_vpage})" if kind is FrameKind.ORIG else "the new head frame, a copy of page 0,"
    return f"{frame} holds {owner}'s {field} here"


def vmemmap_page_line(mem: VmemmapState, k: int) -> str:
    pte = mem.pte(mem.first_vpage + k)
    return f"vmemmap page {k} -> {frame_label(mem, pte)}"
