# SPDX-License-Identifier: GPL-2.0-only
"""Bounded model checking of the kernel operations: the unrolling and its memory
(mirror of ops/machine.py and model/vmemmap.py).

`Unrolling(machine, alphabet, depth)` builds, for steps 1..depth, a symbolic operation
choice `op_t` and symbolic arguments (subpage, buffer offset and length, allocation
outcomes), and the state after each step as z3 terms (encode/ops/step.py).  The
folio's placement is the canonical one of the machine (head pfn, VMEMMAP_START): the
static checks prove the layout for every placement; here what varies is what the
kernel does.

Memory is a chain of events shared by all steps: a store (active, frame, offset, value)
or a frame creation by copy_page() (optimize's head copy, restore).  A read walks the
chain backwards: the last active store to the same (frame, offset) wins, a copied frame
continues at its source (shifted by reset_struct_pages()), the bottom is the populated
vmemmap or the shared tail page.  Frames are 64-bit ids: a populated frame is its
vmemmap page index k, NEW(t, k) a page allocated at step t, SHARED and NONE are tags
(model/facts.py FrameKind).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import z3

from hvo_verify.encode.folio import SymFolio
from hvo_verify.encode.memory import Page, Read
from hvo_verify.encode.ops.enabled import possible_anywhere, possible_ops
from hvo_verify.encode.ops.memory import (
    K_MASK,
    NONE,
    SHARED,
    T_NONE,
    T_SHARED,
    Event,
    EventKind,
    Remap,
    allocated_at,
    frame_tag,
    new_frame,
    orig_frame,
)
from hvo_verify.encode.ops.state import SymKState
from hvo_verify.encode.ops.step import Step, initial_state
from hvo_verify.encode.terms import BITS, BV, FALSE, TRUE, B, and_, bv, eq, ite
from hvo_verify.model.config import KernelConfig
from hvo_verify.model.facts import WORD
from hvo_verify.model.scheme import FolioKind, HeadCopy, Scheme, Target
from hvo_verify.ops.machine import Machine
from hvo_verify.ops.table import OPS


class Unrolling:
    """The symbolic steps 1..depth for one machine and operation alphabet.

    With `start` (check/induction.py, encode/ops/induction.py) the unrolling begins in an
    arbitrary state instead of Machine.initial(): `start(u)` makes the scalar state of
    fresh variables, step 0's remap is symbolic (optimized, head copied, or restored
    before), and every struct page word some store of the alphabet can write reads
    `start_word(frame, offset)`, unconstrained; the other words keep their closed form
    (a restored frame's are its copy source's, shifted by reset_struct_pages())."""

    def __init__(
        self,
        machine: Machine,
        alphabet: tuple[str, ...],
        depth: int,
        max_calls: tuple[tuple[str, int], ...] = (),
        start: Callable[[Unrolling], SymKState] | None = None,
        list_len: int | None = None,
        on_head_lemma: bool = False,
    ) -> None:
        self.m = machine
        cfg = machine.config
        self.cfg = cfg
        self.alphabet = alphabet
        self.depth = depth
        self.list_len = depth if list_len is None else list_len  # entries of a bounded list (Slots)
        self.start = start
        self.size = cfg.struct_page_size
        self.nr = cfg.nr_pages
        self.nr_vmemmap = cfg.vmemmap_pages
        self.shift = cfg.page_shift
        self.page_size = cfg.page_size
        self.first = machine.first_vpage
        self.head_addr = machine.folio.head
        self.head = bv(self.head_addr)
        # compound_head() where it counts returns the head: the obligations each call
        # records (step.py SymCpu.compound_head), and whether the calls return the head
        # itself: an unrolling built on that lemma is used only once its obligations are
        # proved (check/bmc.py head_lemma()).
        self.head_obligations: list[B] = []
        self.on_head_lemma = on_head_lemma
        self.base = machine.folio.vmemmap_base
        self.pol = machine.policies
        self.scheme = machine.scheme
        self.facts = machine.scheme.facts
        # The static encoder supplies populated and shared-tail words in closed form.
        self.sym = SymFolio(cfg, machine.scheme)
        self.placement = [self.sym.base == self.base, self.sym.head_pfn == machine.folio.head_pfn]
        # The populated words in closed form, built once and instantiated by substitution.
        self._index, self._word = z3.BitVec("_struct_index", BITS), z3.BitVec("_struct_word", BITS)
        self._struct_word = self.sym.struct_word(self._index, self._word)[0]
        self._shared_word = self.sym.shared_tail_word(self._word)[0]
        self.events: list[Event] = []
        self.level_cap: int | None = None
        self._frames: dict[tuple[int, int], tuple[BV, tuple[BV, B]]] = {}  # frame(t, k) by id of k
        # With sizeof(struct page) dividing PAGE_SIZE, remaps and copies (page-granular,
        # reset shifts by 3 struct pages) keep every byte at its offset modulo the struct
        # page size: a read of word w can only see stores to word w.
        self.fields_fixed = (
            cfg.page_size % cfg.struct_page_size == 0
            and machine.folio.head % cfg.struct_page_size == machine.folio.vmemmap_base % cfg.struct_page_size
        )
        # index 0: the initial state; a Device-DAX folio starts deduplicated (Machine.initial)
        self.devdax = machine.scheme.folio_kind is not FolioKind.HUGETLB
        dedup = self.devdax and machine.scheme.optimizes
        self.remaps: list[Remap] = [Remap(optimize=z3.BoolVal(dedup))]
        target = machine.scheme.target
        first_reuse = (
            orig_frame(bv(machine.scheme.target_page))
            if target is Target.PAGE
            else SHARED
            if target is Target.SHARED_TAIL
            else NONE
        )
        self.reuse: list[BV] = [first_reuse]
        self.side: list[B] = []  # argument domains
        self.io_pages = (machine.io_max + self.page_size - 1) // self.page_size + 1
        self.steps: list[Step] = []
        if start is None:
            self.possible = possible_ops(machine, alphabet, depth)
        else:
            self._arbitrary_layout(first_reuse)
            self.possible = [possible_anywhere(machine, alphabet)] * depth
        self._build()
        for name, limit in max_calls:
            n = alphabet.index(name)
            calls = z3.Sum([z3.If(st.op == n, bv(1), bv(0)) for st in self.steps])
            self.side.append(z3.ULE(calls, limit))

    def _arbitrary_layout(self, first_reuse: BV) -> None:
        """Step 0 of an unrolling from an arbitrary state: the remap (if any) that ran before."""
        scheme = self.scheme
        steps = {s.name for name in self.alphabet for s in OPS[name].steps}
        can_optimize = "hugetlb_vmemmap_optimize_folio" in steps and not self.devdax
        opt0 = z3.Bool("start_optimized") if can_optimize else self.remaps[0].optimize
        hc0 = z3.Bool("start_head_copied") if can_optimize and scheme.head_copy is not HeadCopy.NONE else FALSE
        restored0 = z3.Bool("start_restored") if "hugetlb_vmemmap_restore_folio" in steps else FALSE
        self.remaps[0] = Remap(opt0, z3.And(opt0, hc0), z3.And(z3.Not(opt0), restored0))
        target = scheme.target_page if scheme.target is Target.PAGE else 0
        self.reuse[0] = z3.If(z3.And(hc0, z3.BoolVal(scheme.target is Target.PAGE and target == 0)),
                              new_frame(0, 0), first_reuse)  # fmt: skip
        # The restore's copy source (Step._run): the reuse frame, or page `target` where unmapped.
        self.restore_source = orig_frame(bv(0)) if scheme.target is Target.UNMAPPED else first_reuse
        self.start_word = z3.Function("start_word", z3.BitVecSort(BITS), z3.BitVecSort(BITS), z3.BitVecSort(BITS))
        self.start_shadow = z3.Function("start_shadow", z3.BitVecSort(BITS), z3.BitVecSort(BITS))
        # The bits of each struct page word the alphabet's stores can change: fixed after
        # _build() by check/induction.py from stored_bits().
        self.havoc = [z3.BitVec(f"start_havoc_w{w}", BITS) for w in range(self.size // WORD)]

    def havocked(self, offset: BV) -> BV:
        """The bits of the word at this offset of a frame that some store may have changed."""
        if not self.fields_fixed:
            return bv(-1)
        slot = z3.URem(offset, self.size) if self.size & (self.size - 1) else offset & (self.size - 1)
        word = z3.LShR(slot, 3)
        mask = bv(0)
        for w, h in enumerate(self.havoc):
            mask = z3.If(word == w, h, mask)
        return mask

    def stored_bits(self) -> list[int]:
        """Per struct page word, the bits the stores of this unrolling can change (every
        word all bits where some store's word is not a constant)."""
        bits = [0] * (self.size // WORD)
        for ev in self.events:
            if ev.kind is EventKind.STORE:
                if ev.field is None:
                    return [(1 << 64) - 1] * len(bits)
                bits[ev.field] |= ev.bits
        return bits

    # -- frames and memory -----------------------------------------------------------------
    def remapped(self, k: BV) -> B:
        private = z3.Or([k == p for p in self.scheme.private]) if self.scheme.private else FALSE
        return z3.And(k >= 0, k < self.nr_vmemmap, z3.Not(private))

    def frame(self, t: int, k: BV) -> tuple[BV, B]:
        """(frame, writable) of vmemmap page k after step t's remap."""
        key = (t, k.get_id())
        if key not in self._frames:  # keep k alive: a freed term's id can be reused
            self._frames[key] = (k, self._frame(t, k))
        return self._frames[key][1]

    def _frame(self, t: int, k: BV) -> tuple[BV, B]:
        f, w = orig_frame(k), TRUE
        rem = self.remapped(k)
        head = eq(k, bv(0))
        alias_w = z3.BoolVal(self.scheme.writable_aliases and self.scheme.target is not Target.UNMAPPED)
        for s in range(0 if self.devdax or self.start is not None else 1, t + 1):
            r = self.remaps[s]
            if r.static:  # no operation that remaps can run at step s
                continue
            aliased = and_(r.optimize, rem)
            copied = and_(r.optimize, r.head_copied, head)
            restored = and_(r.restore, rem)
            f = ite(aliased, self.reuse[s], ite(copied, new_frame(s, 0), ite(restored, new_frame(s, k), f)))
            w = z3.If(aliased, alias_w, z3.If(copied, TRUE, z3.If(restored, TRUE, w)))
        return f, w

    def initial_word(self, frame: BV, offset: BV) -> BV:
        if self.start is None:
            return self._closed_word(frame, offset)
        # From an arbitrary state: frames made before it (step 0) hold copies of their
        # source's closed form; the words stores may have written are unconstrained.
        reset = self.facts.nr_reset_struct_page * self.size if self.pol.restore_reset else 0
        shifted = z3.If(z3.ULT(offset, reset), offset + reset, offset) if reset else offset
        head_copy = z3.And(self.remaps[0].head_copied, frame == new_frame(0, 0))
        copied = z3.If(head_copy, self._closed_word(orig_frame(bv(0)), offset),
                       self._closed_word(self.restore_source, shifted))  # fmt: skip
        value = z3.If(allocated_at(frame, 0), copied, self._closed_word(frame, offset))
        mask = self.havocked(offset)
        return (value & ~mask) | (self.start_word(frame, offset) & mask)

    def _closed_word(self, frame: BV, offset: BV) -> BV:
        k = z3.If(z3.UGE(frame & K_MASK, 1 << 39), frame | ~bv(K_MASK), frame)  # sign-extend the 40-bit index
        rel = (k + self.first) * self.page_size + offset - self.head  # vaddr - head
        index, byte = self._divmod(rel)
        populated = z3.substitute(self._struct_word, (self._index, index), (self._word, z3.LShR(byte, 3)))
        slot = z3.URem(offset, self.size) if self.size & (self.size - 1) else offset & (self.size - 1)
        shared = z3.substitute(self._shared_word, (self._word, z3.LShR(slot, 3)))
        return z3.If(frame_tag(frame) == T_SHARED, shared, populated)

    def _divmod(self, rel: BV) -> tuple[BV, BV]:
        if self.size & (self.size - 1) == 0:
            log = self.size.bit_length() - 1
            return rel >> log, rel & (self.size - 1)
        return self.sym.divmod_size(rel)

    @contextlib.contextmanager
    def at_level(self, level: int) -> Iterator[None]:
        """Reads inside see only the first `level` memory events (invariants of step t
        are built after the whole unrolling)."""
        saved, self.level_cap = self.level_cap, level
        try:
            yield
        finally:
            self.level_cap = saved

    def read_frame(self, frame: BV, offset: BV, level: int | None = None, field: int | None = None) -> BV:
        if level is None:
            level = self.level_cap
        events = self.events if level is None else self.events[:level]
        hits: list[tuple[B, BV]] = []
        for ev in reversed(events):
            if ev.kind is EventKind.STORE:
                if field is not None and ev.field is not None and ev.field != field and self.fields_fixed:
                    continue  # another struct page field: never the same bytes
                hits.append((and_(ev.active, eq(ev.frame, frame), eq(ev.offset, offset)), ev.value))
            else:
                assert ev.is_new is not None and ev.source is not None
                made = and_(ev.active, ev.is_new(frame))
                src = ev.source(frame)
                if ev.reset:
                    offset = z3.If(z3.And(made, z3.ULT(offset, ev.reset)), offset + ev.reset, offset)
                frame = ite(made, src, frame)
        value = self.initial_word(frame, offset)
        for cond, v in reversed(hits):
            value = ite(cond, v, value)
        return value

    def locate(self, t: int, vaddr: BV) -> tuple[BV, BV, BV, B]:
        """(vmemmap page k, frame, offset, writable) of an address at step t."""
        k = z3.LShR(vaddr, self.shift) - self.first
        f, w = self.frame(t, k)
        return k, f, vaddr & (self.page_size - 1), w

    def in_vmemmap(self, vaddr: BV) -> B:
        span = self.m.folio.max_pfn * self.size
        return z3.ULT(vaddr - self.base, span)

    def read(self, t: int, vaddr: BV, field: int | None = None) -> tuple[BV, B]:
        _k, f, off, _w = self.locate(t, vaddr)
        fault = z3.Or(frame_tag(f) == T_NONE, z3.Not(self.in_vmemmap(vaddr)))
        return self.read_frame(f, off, field=field), fault

    def shadow(self, vaddr: BV, level: int) -> BV:
        """A never-optimized vmemmap with the same logical stores."""
        off = vaddr & (self.page_size - 1)
        value = self._closed_word(z3.LShR(vaddr, self.shift) - self.first, off)
        if self.start is not None:
            mask = self.havocked(off)
            value = (value & ~mask) | (self.start_shadow(vaddr) & mask)
        for ev in self.events[:level]:
            if ev.kind is EventKind.STORE:
                value = z3.If(z3.And(ev.active, ev.vaddr == vaddr), ev.value, value)
        return value

    def page(self, i: BV | int) -> BV:
        ii = bv(i) if isinstance(i, int) else i
        return self.head + ii * self.size

    def memory(self, t: int, optimized: B) -> StepMemory:
        """The memory the readers see at step t (encode/readers.py)."""
        return StepMemory(self, t, optimized)

    # -- steps --------------------------------------------------------------------------------
    def _build(self) -> None:
        state = initial_state(self) if self.start is None else self.start(self)
        self.state0 = state  # the state before step 1
        alive: B = TRUE
        for t in range(1, self.depth + 1):
            step = Step(self, t, state, alive)
            self.steps.append(step)
            state, alive = step.after, z3.And(alive, step.enabled, z3.Not(step.fault))


@dataclass(frozen=True)
class StepMemory:
    """The unrolling's memory after step t's remap, as encode/readers.py reads it
    (encode/memory.py SymMemory): absolute addresses at the canonical placement.
    `optimized` is HPG_vmemmap_optimized at that point (pfn_to_page() of the
    dedup-pointers model depends on it)."""

    u: Unrolling
    t: int
    optimized: B

    @property
    def config(self) -> KernelConfig:
        return self.u.cfg

    @property
    def scheme(self) -> Scheme:
        return self.u.scheme

    @property
    def size(self) -> int:
        return self.u.size

    def field(self, page: Page, word: int) -> Read:
        value, fault = self.u.read(self.t, page.rel + word * WORD, word)
        return Read(value, value, fault)

    def vpage_offset(self, page: Page) -> BV:
        return page.rel & (self.u.page_size - 1)

    def absolute(self, page: Page) -> BV:
        return page.rel

    def from_absolute(self, addr: BV) -> BV:
        return addr

    def subpage(self, i: BV) -> Page:
        return Page(self.u.page(i))

    def vpage_of(self, page: Page) -> BV:
        return z3.LShR(page.rel, self.u.shift) - self.u.first

    def pte_source(self, k: BV) -> tuple[B, BV]:
        return z3.And(self.optimized, self.u.remapped(k)), bv(self.u.scheme.target_page)

    def pfn(self, page: Page) -> BV:
        rel = page.rel - self.u.base
        size = self.u.size
        if size & (size - 1) == 0:
            return z3.LShR(rel, size.bit_length() - 1)
        return z3.UDiv(rel, size)
