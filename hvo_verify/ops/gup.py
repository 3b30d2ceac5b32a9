# SPDX-License-Identifier: GPL-2.0-only
"""GUP and block I/O on the folio's user mapping, concretely: the steps of
ops/table.py whose subsystem is "gup".  Twin: encode/ops/gup.py (same function names)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hvo_verify.model import readers
from hvo_verify.model.facts import MASK64, W_COUNTS, W_FOLIO_COUNTS, WORD
from hvo_verify.model.policy import GupRefs
from hvo_verify.ops.state import USER_BASE, Io

if TYPE_CHECKING:
    from hvo_verify.ops.machine import Cpu


def _gup(cpu: Cpu, pin: bool) -> None:
    """mm/gup.c gup_fast_pmd_leaf(): page = pmd_page(orig) + idx; try_grab_folio_fast()."""
    m = cpu.m
    offset, length = int(cpu.args["offset"]), int(cpu.args["length"])
    idx, nr = m.io_range(offset, length)
    # pmd_page(orig) + idx == pfn_to_page(head_pfn + idx) with SPARSEMEM_VMEMMAP; the
    # dedup-pointers model is exactly where the two differ.
    page = readers.pfn_to_page(cpu.state.vmemmap, m.folio.head_pfn + idx)
    pages = tuple((page + j * m.folio.size) & MASK64 for j in range(nr))
    folio = cpu.page_folio(page) if m.policies.gup_refs is GupRefs.FOLIO else page
    cpu.atomic_add(folio + W_COUNTS * WORD, nr, True)
    if pin:  # large folio: folio_ref_add() and atomic_add(refs, &folio->_pincount)
        cpu.atomic_add(folio + m.folio.size + W_FOLIO_COUNTS * WORD, nr, True)
    what = "pin_user_pages_fast" if pin else "get_user_pages_fast"
    cpu.say(f"{what}(addr={USER_BASE:#x}+{offset:#x}, len={length:#x}) -> "
            f"{m.name(pages[0])}{'' if nr == 1 else f'..{m.name(pages[-1])}'}; "
            f"folio {m.name(folio)}: refcount += {nr}" + (f", _pincount += {nr}" if pin else ""))  # fmt: skip
    cpu.update(io=Io(USER_BASE + offset, length, pages, pin), refs=cpu.state.refs + nr,
               pins=cpu.state.pins + (nr if pin else 0))  # fmt: skip


def get_user_pages_fast(cpu: Cpu) -> None:
    _gup(cpu, False)


def pin_user_pages_fast(cpu: Cpu) -> None:
    _gup(cpu, True)


def bio_vec_offset(cpu: Cpu, uaddr: int, done: int) -> int:
    """Where in its page the user's byte `done` of a buffer at `uaddr` lies: the offset of
    the bio_vec bio_iov_iter_get_pages() builds for that page (offset_in_page() of the
    buffer for the first page, 0 for the next ones)."""
    return (uaddr + done) & (cpu.m.config.page_size - 1)


def bvec_try_merge_page(cpu: Cpu, prev_end: int, start: int) -> bool:
    """block/bio.c bvec_try_merge_page(): a page continues the last bio_vec when it is
    physically contiguous with its end."""
    return prev_end == start


def submit_bio(cpu: Cpu) -> None:
    """bio_add_page() per page (merging physically contiguous pages), dma_map_sg(), and
    the device writing each segment at sg_phys()."""
    m, io = cpu.m, cpu.state.io
    assert io is not None
    vm, ps = cpu.state.vmemmap, m.config.page_size
    bvecs: list[list[int]] = []  # [page, offset, len, user offset]
    done = 0
    for page in io.pages:
        off = bio_vec_offset(cpu, io.uaddr, done)
        seg = min(ps - off, io.length - done)
        start = readers.page_to_phys(vm, page) + off
        last = bvecs[-1] if bvecs else None
        if last is not None and bvec_try_merge_page(cpu, readers.page_to_phys(vm, last[0]) + last[1] + last[2], start):
            last[2] += seg
        else:
            bvecs.append([page, off, seg, io.uaddr + done - USER_BASE])
        done += seg
    dma = list(cpu.state.dma)
    for page, off, seg, user_off in bvecs:
        phys = readers.page_to_phys(vm, page) + off  # sg_phys(sg); dma-direct, identity IOMMU
        cpu.say(f"bio_vec {{{m.name(page)}, {off:#x}, {seg:#x}}} -> sg_phys = {phys:#x}; DMA writes {seg:#x} bytes")
        dma.append((phys, seg, user_off))
    cpu.update(io=Io(io.uaddr, io.length, io.pages, io.pin, True), dma=tuple(dma))


def _release(cpu: Cpu, pin: bool) -> None:
    """Drop the I/O's references, grouped by folio (gup_folio_range_next())."""
    m, io = cpu.m, cpu.state.io
    assert io is not None
    groups: list[list[int]] = []  # [folio, nr]
    for page in io.pages:
        folio = cpu.page_folio(page) if m.policies.gup_refs is GupRefs.FOLIO else page
        if groups and groups[-1][0] == folio:
            groups[-1][1] += 1
        else:
            groups.append([folio, 1])
    first_line = len(cpu.lines)
    for folio, n in groups:
        if pin:  # gup_put_folio(folio, n, FOLL_PIN): _pincount -= n; folio_mark_dirty_lock()
            cpu.atomic_add(folio + m.folio.size + W_FOLIO_COUNTS * WORD, -n, True)
            cpu.set_flag(folio, m.scheme.facts.pg_dirty, True)
        cpu.folio_put_refs(folio, n)
    total = len(io.pages)
    what = "unpin_user_pages_dirty_lock" if pin else "put_page x" + str(total)
    cpu.lines.insert(first_line, f"{what}: " + ", ".join(f"{m.name(f)} -{n}" for f, n in groups))
    cpu.update(io=None, refs=cpu.state.refs - total, pins=cpu.state.pins - (total if pin else 0))


def unpin_user_pages_dirty_lock(cpu: Cpu) -> None:
    _release(cpu, True)


def put_page(cpu: Cpu) -> None:
    _release(cpu, False)
