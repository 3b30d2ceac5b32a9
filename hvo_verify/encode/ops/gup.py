# SPDX-License-Identifier: GPL-2.0-only
"""GUP and block I/O as z3 terms: twin of ops/gup.py, function for function (the
kernel citations are in ops/table.py and there)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import z3

from hvo_verify.encode.ops.state import SymIo
from hvo_verify.encode.terms import BV, FALSE, TRUE, B, bv
from hvo_verify.model.facts import W_COUNTS, W_FOLIO_COUNTS, WORD
from hvo_verify.model.policy import GupRefs
from hvo_verify.ops.state import USER_BASE

if TYPE_CHECKING:
    from hvo_verify.encode.ops.step import StepGen, SymCpu


def _gup(cpu: SymCpu, pin: bool) -> StepGen:
    u, s, a = cpu.u, cpu.s, cpu.args
    off, length = a["offset"], a["length"]
    idx = z3.LShR(off, u.shift)
    nr = z3.LShR(off + length - 1, u.shift) - idx + 1
    page = cpu.pfn_to_page(idx)
    folio = cpu.compound_head(page) if u.pol.gup_refs is GupRefs.FOLIO else page
    yield cpu.atomic_add(folio + W_COUNTS * WORD, W_COUNTS, nr, True)
    pins = s.pins
    if pin:
        yield cpu.atomic_add(folio + u.size + W_FOLIO_COUNTS * WORD, W_FOLIO_COUNTS, nr, True)
        pins = pins + nr
    cpu.update(io=SymIo(TRUE, off, length, z3.BoolVal(pin), FALSE, page), refs=s.refs + nr, pins=pins)


def get_user_pages_fast(cpu: SymCpu) -> StepGen:
    yield from _gup(cpu, False)


def pin_user_pages_fast(cpu: SymCpu) -> StepGen:
    yield from _gup(cpu, True)


def bio_vec_offset(cpu: SymCpu, uaddr: BV, done: BV) -> BV:
    return (uaddr + done) & (cpu.u.page_size - 1)


def bvec_try_merge_page(cpu: SymCpu, prev_end: BV, start: BV) -> B:
    return prev_end == start


def submit_bio(cpu: SymCpu) -> StepGen:
    """The bio_vecs of the buffer as the block layer builds them from GUP's pages (offset,
    length, merging), and where the device writes each page's bytes, against the user's
    bytes from the running byte count (invariants/reachable.py check_dma_exact())."""
    u, io = cpu.u, cpu.s.io
    off, length, page0 = io.offset, io.length, io.page0
    idx = z3.LShR(off, u.shift)
    nr = z3.LShR(off + length - 1, u.shift) - idx + 1
    uaddr = bv(USER_BASE) + off
    head_phys = bv(u.m.folio.head_pfn << u.shift)
    ps = bv(u.page_size)
    done: BV = bv(0)
    prev_end: BV | None = None
    bad = []
    for j in range(u.io_pages):
        bvec_off = bio_vec_offset(cpu, uaddr, done)
        left = length - done
        seg = z3.If(z3.ULT(ps - bvec_off, left), ps - bvec_off, left)
        start = cpu.page_to_phys(page0 + j * u.size) + bvec_off
        lands = start if prev_end is None else z3.If(bvec_try_merge_page(cpu, prev_end, start), prev_end, start)
        bad.append(z3.And(z3.ULT(bv(j), nr), lands != head_phys + off + done))
        prev_end, done = lands + seg, done + seg
    cpu.dma_bad = z3.Or(bad)
    cpu.update(io=replace(io, submitted=TRUE))
    yield from ()


def _release(cpu: SymCpu, pin: bool) -> StepGen:
    u, s = cpu.u, cpu.s
    off, length, page0 = s.io.offset, s.io.length, s.io.page0
    idx = z3.LShR(off, u.shift)
    nr = z3.LShR(off + length - 1, u.shift) - idx + 1
    # Group consecutive pages by folio (gup_folio_range_next / put per page).
    folios = []
    for j in range(u.io_pages):
        page = page0 + j * u.size
        valid = z3.ULT(bv(j), nr)
        folio = cpu.compound_head(page, cond=valid) if u.pol.gup_refs is GupRefs.FOLIO else page
        folios.append((valid, folio))
    # runs: page j starts a new group unless it has the same folio as page j-1
    for j, (valid, folio) in enumerate(folios):
        starts = TRUE if j == 0 else folios[j - 1][1] != folio
        count = bv(0)
        ended: B = FALSE
        for valid2, folio2 in folios[j:]:
            more = z3.And(valid2, folio2 == folio, z3.Not(ended))
            count = z3.If(more, count + 1, count)
            ended = z3.Or(ended, z3.Not(more))
        cond = z3.And(valid, starts)
        if pin:
            yield cpu.atomic_add(folio + u.size + W_FOLIO_COUNTS * WORD, W_FOLIO_COUNTS, -count, True, cond=cond)
            yield cpu.set_flag(folio, u.facts.pg_dirty, True, cond=cond)
        yield from cpu.folio_put_refs(folio, count, cond)
    cpu.update(io=replace(s.io, present=FALSE), refs=s.refs - nr, pins=s.pins - nr if pin else s.pins)


def unpin_user_pages_dirty_lock(cpu: SymCpu) -> StepGen:
    yield from _release(cpu, True)


def put_page(cpu: SymCpu) -> StepGen:
    yield from _release(cpu, False)
