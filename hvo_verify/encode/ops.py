"""Bounded model checking of the kernel operations (mirror of hvo_verify.model.kernel).

`Unrolling(machine, alphabet, depth)` builds, for steps 1..depth, a symbolic operation
choice `op_t` and symbolic arguments (subpage, buffer offset and length, allocation
outcomes), and the state after each step as z3 terms.  The folio's placement is the
canonical one of the machine (head pfn, VMEMMAP_START): the static checks prove the
layout for every placement; here what varies is what the kernel does.

Memory is a chain of events shared by all steps: a store (active, frame, offset, value)
or a frame creation by copy_page() (optimize's head copy, restore).  A read walks the
chain backwards: the last active store to the same (frame, offset) wins, a copied frame
continues at its source (shifted by reset_struct_pages()), the bottom is the populated
vmemmap or the shared tail page.  Frames are 64-bit ids: a populated frame is its
vmemmap page index k, NEW(t, k) a page allocated at step t, SHARED and NONE are tags.

Every operation is a generator written without Python branching on symbolic values: it
yields its stores one by one (reading memory as left by the stores before), and returns
its effect on the scalar state.  The unrolling runs all operations of the alphabet in
lockstep and merges slot by slot under `op_t == id`.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import z3

from hvo_verify.encode.folio import BITS, BV, SymFolio, bv
from hvo_verify.model import structpage as sp
from hvo_verify.model.kernel import OPS, PROBE_VALUE, Machine, Pool
from hvo_verify.model.policy import Arch1, GupRefs, HugetlbClear, Hwpoison, Mapcount
from hvo_verify.model.scheme import Encoding, FolioKind, HeadCopy, MemoryModel, Target
from hvo_verify.model.structpage import MASK64, WORD

B: TypeAlias = z3.BoolRef
TRUE, FALSE = z3.BoolVal(True), z3.BoolVal(False)

TAG_SHIFT = 62
T_NEW, T_SHARED, T_NONE = 1, 2, 3
K_MASK = (1 << 40) - 1
POOL = {p: i for i, p in enumerate(Pool)}


def _new(step: int, k: BV | int) -> BV:
    kk = bv(k) if isinstance(k, int) else k
    return bv((T_NEW << TAG_SHIFT) | (step << 40)) | (kk & K_MASK)


SHARED = bv(T_SHARED << TAG_SHIFT)
NONE = bv(T_NONE << TAG_SHIFT)


def _is_frame(frame: BV, target: BV) -> B:
    return frame == target


def _allocated_at(frame: BV, step: int) -> B:
    return z3.And(_tag(frame) == T_NEW, z3.Extract(61, 40, frame) == step)


def _constant(_frame: BV, value: BV) -> BV:
    return value


def _orig(k: BV) -> BV:
    return k & K_MASK


def _tag(frame: BV) -> BV:
    return z3.LShR(frame, TAG_SHIFT)


@dataclass
class Event:
    kind: str  # "store" | "copy"
    active: B
    frame: BV = field(default_factory=lambda: bv(0))
    offset: BV = field(default_factory=lambda: bv(0))
    value: BV = field(default_factory=lambda: bv(0))
    vaddr: BV = field(default_factory=lambda: bv(0))
    is_new: Callable[[BV], B] | None = None  # copy: is this frame the one created here
    source: Callable[[BV], BV] | None = None  # copy: the frame it was copied from
    reset: int = 0  # copy: reset_struct_pages() bytes
    field: int | None = None  # store: the struct page word it writes, when constant


@dataclass
class Store:
    """A store an operation makes: active condition, address and value (already merged
    over the operation's own branches)."""

    active: B
    vaddr: BV
    value: BV
    field: int | None = None  # struct page word index, when constant


@dataclass
class Remap:
    optimize: B = FALSE  # optimize succeeded at this step
    head_copied: B = FALSE  # ... and copied the head vmemmap page
    restore: B = FALSE  # restore succeeded at this step

    @functools.cached_property
    def static(self) -> bool:
        """Certainly no remap at this step (no remapping operation can run)."""
        return z3.is_false(z3.simplify(z3.Or(self.optimize, self.restore)))


@dataclass
class Effect:
    """What an operation returns besides its stores: scalar updates, faults, events."""

    updates: dict[str, Any] = field(default_factory=dict)
    faults: list[B] = field(default_factory=list)  # read faults (on the op's own path)
    dma_bad: B = FALSE  # some DMA segment lands off the user's buffer
    to_buddy: B = FALSE


OpGen = Generator[Store, None, Effect]


class Unrolling:
    """The symbolic steps 1..depth for one machine and operation alphabet."""

    def __init__(
        self, machine: Machine, alphabet: tuple[str, ...], depth: int, max_calls: tuple[tuple[str, int], ...] = ()
    ) -> None:
        self.m = machine
        cfg = machine.config
        self.cfg = cfg
        self.alphabet = alphabet
        self.depth = depth
        self.size = cfg.struct_page_size
        self.nr = cfg.nr_pages
        self.V = cfg.vmemmap_pages
        self.shift = cfg.page_shift
        self.ps = cfg.page_size
        self.first = machine.first_vpage
        self.head_addr = machine.folio.head
        self.head = bv(self.head_addr)
        self.base = machine.folio.vmemmap_base
        self.pol = machine.policies
        self.scheme = machine.scheme
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
            _orig(bv(machine.scheme.target_page))
            if target is Target.PAGE
            else SHARED
            if target is Target.SHARED_TAIL
            else NONE
        )
        self.reuse: list[BV] = [first_reuse]
        self.side: list[B] = []  # argument domains
        self.io_pages = (machine.io_max + self.ps - 1) // self.ps + 1
        self.steps: list[Step] = []
        self.possible = possible_ops(machine, alphabet, depth)
        self._build()
        for name, limit in max_calls:
            n = alphabet.index(name)
            calls = z3.Sum([z3.If(st.op == n, bv(1), bv(0)) for st in self.steps])
            self.side.append(z3.ULE(calls, limit))

    # -- frames and memory -----------------------------------------------------------------
    def remapped(self, k: BV) -> B:
        private = z3.Or([k == p for p in self.scheme.private]) if self.scheme.private else FALSE
        return z3.And(k >= 0, k < self.V, z3.Not(private))

    def frame(self, t: int, k: BV) -> tuple[BV, B]:
        """(frame, writable) of vmemmap page k after step t's remap."""
        key = (t, k.get_id())
        if key not in self._frames:  # keep k alive: a freed term's id can be reused
            self._frames[key] = (k, self._frame(t, k))
        return self._frames[key][1]

    def _frame(self, t: int, k: BV) -> tuple[BV, B]:
        f, w = _orig(k), TRUE
        for s in range(0 if self.devdax else 1, t + 1):
            r = self.remaps[s]
            if r.static:  # no operation that remaps can run at step s
                continue
            rem = self.remapped(k)
            alias_w = z3.BoolVal(self.scheme.writable_aliases and self.scheme.target is not Target.UNMAPPED)
            f = z3.If(z3.And(r.optimize, rem), self.reuse[s],
                      z3.If(z3.And(r.optimize, r.head_copied, k == 0), _new(s, 0),
                            z3.If(z3.And(r.restore, rem), _new(s, k), f)))  # fmt: skip
            w = z3.If(z3.And(r.optimize, rem), alias_w,
                      z3.If(z3.And(r.optimize, r.head_copied, k == 0), TRUE, z3.If(z3.And(r.restore, rem), TRUE, w)))  # fmt: skip
        return f, w

    def initial_word(self, frame: BV, offset: BV) -> BV:
        k = z3.If(z3.UGE(frame & K_MASK, 1 << 39), frame | ~bv(K_MASK), frame)  # sign-extend the 40-bit index
        rel = (k + self.first) * self.ps + offset - self.head  # vaddr - head
        index, byte = self._divmod(rel)
        populated = z3.substitute(self._struct_word, (self._index, index), (self._word, z3.LShR(byte, 3)))
        slot = z3.URem(offset, self.size) if self.size & (self.size - 1) else offset & (self.size - 1)
        shared = z3.substitute(self._shared_word, (self._word, z3.LShR(slot, 3)))
        return z3.If(_tag(frame) == T_SHARED, shared, populated)

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
            if ev.kind == "store":
                if field is not None and ev.field is not None and ev.field != field and self.fields_fixed:
                    continue  # another struct page field: never the same bytes
                hits.append((z3.And(ev.active, ev.frame == frame, ev.offset == offset), ev.value))
            else:
                assert ev.is_new is not None and ev.source is not None
                made = z3.And(ev.active, ev.is_new(frame))
                src = ev.source(frame)
                if ev.reset:
                    offset = z3.If(z3.And(made, z3.ULT(offset, ev.reset)), offset + ev.reset, offset)
                frame = z3.If(made, src, frame)
        value = self.initial_word(frame, offset)
        for cond, v in reversed(hits):
            value = z3.If(cond, v, value)
        return value

    def locate(self, t: int, vaddr: BV) -> tuple[BV, BV, BV, B]:
        """(vmemmap page k, frame, offset, writable) of an address at step t."""
        k = z3.LShR(vaddr, self.shift) - self.first
        f, w = self.frame(t, k)
        return k, f, vaddr & (self.ps - 1), w

    def in_vmemmap(self, vaddr: BV) -> B:
        span = self.m.folio.max_pfn * self.size
        return z3.ULT(vaddr - self.base, span)

    def read(self, t: int, vaddr: BV, field: int | None = None) -> tuple[BV, B]:
        _k, f, off, _w = self.locate(t, vaddr)
        fault = z3.Or(_tag(f) == T_NONE, z3.Not(self.in_vmemmap(vaddr)))
        return self.read_frame(f, off, field=field), fault

    def shadow(self, vaddr: BV, level: int) -> BV:
        """A never-optimized vmemmap with the same logical stores."""
        value = self.initial_word(z3.LShR(vaddr, self.shift) - self.first, vaddr & (self.ps - 1))
        for ev in self.events[:level]:
            if ev.kind == "store":
                value = z3.If(z3.And(ev.active, ev.vaddr == vaddr), ev.value, value)
        return value

    # -- readers (mirror of model/readers.py on this memory) -------------------------------------
    def page(self, i: BV | int) -> BV:
        ii = bv(i) if isinstance(i, int) else i
        return self.head + ii * self.size

    def flag(self, t: int, page: BV, bit: int, faults: list[B], cond: B) -> B:
        value, fault = self.read(t, page + sp.W_FLAGS * WORD, sp.W_FLAGS)
        faults.append(z3.And(cond, fault))
        return z3.Extract(bit, bit, value) == 1

    def compound_head(self, t: int, page: BV, faults: list[B], cond: B) -> BV:
        info, fault = self.read(t, page + sp.W_COMPOUND_HEAD * WORD, sp.W_COMPOUND_HEAD)
        faults.append(z3.And(cond, fault))
        bit0 = z3.Extract(0, 0, info) == 1
        if self.scheme.encoding is Encoding.MASK:
            mask = z3.If(bit0, bv(0), bv(MASK64)) | info
            return page & mask
        if self.scheme.encoding is Encoding.POINTER_FAKE_HEAD_FIX:
            fixed = self.page_fixed_fake_head(t, page, faults, z3.And(cond, z3.Not(bit0)))
            return z3.If(bit0, info - 1, fixed)
        return z3.If(bit0, info - 1, page)

    def page_fixed_fake_head(self, t: int, page: BV, faults: list[B], cond: B) -> BV:
        aligned = page & (self.ps - 1) == 0
        head_bit = self.flag(t, page, sp.PG_HEAD, faults, z3.And(cond, aligned))
        info1, fault1 = self.read(t, page + self.size + sp.W_COMPOUND_HEAD * WORD, sp.W_COMPOUND_HEAD)
        faults.append(z3.And(cond, aligned, head_bit, fault1))
        fake = z3.And(aligned, head_bit, z3.Extract(0, 0, info1) == 1)
        return z3.If(fake, info1 - 1, page)

    def page_is_fake_head(self, t: int, page: BV, faults: list[B], cond: B) -> B:
        if self.scheme.encoding is not Encoding.POINTER_FAKE_HEAD_FIX:
            return FALSE
        return self.page_fixed_fake_head(t, page, faults, cond) != page

    def page_huge(self, t: int, page: BV, faults: list[B], cond: B) -> B:
        head_bit = self.flag(t, page, sp.PG_HEAD, faults, cond)
        info, fault = self.read(t, page + sp.W_COMPOUND_HEAD * WORD, sp.W_COMPOUND_HEAD)
        faults.append(z3.And(cond, fault))
        compound = z3.Or(head_bit, z3.Extract(0, 0, info) == 1)
        head = self.compound_head(t, page, faults, z3.And(cond, compound))
        dtor, fault2 = self.read(t, head + self.size + sp.W_FOLIO_INFO * WORD, sp.W_FOLIO_INFO)
        faults.append(z3.And(cond, compound, fault2))
        return z3.And(compound, z3.Extract(15, 8, dtor) == sp.HUGETLB_PAGE_DTOR)

    def pfn_to_page(self, t: int, i: BV, optimized: B) -> BV:
        """pfn_to_page(head_pfn + i); the dedup-pointers model hands out the representative."""
        page = self.page(i)
        if self.scheme.memory_model is not MemoryModel.DEDUP_POINTERS or self.scheme.target is not Target.PAGE:
            return page
        k = z3.LShR(page, self.shift) - self.first
        rep = page - (k - self.scheme.target_page) * self.ps
        return z3.If(z3.And(optimized, self.remapped(k)), rep, page)

    def page_to_phys(self, page: BV) -> BV:
        rel = page - self.base
        if self.size & (self.size - 1) == 0:
            pfn = z3.LShR(rel, self.size.bit_length() - 1)
        else:
            pfn = z3.UDiv(rel, self.size)
        return pfn << self.shift

    # -- steps --------------------------------------------------------------------------------
    def _build(self) -> None:
        state = self._initial_state()
        alive: B = TRUE
        for t in range(1, self.depth + 1):
            step = Step(self, t, state, alive)
            self.steps.append(step)
            state, alive = step.after, z3.And(alive, step.enabled, z3.Not(step.fault))

    def _initial_state(self) -> dict[str, Any]:
        hugetlb = self.scheme.folio_kind is FolioKind.HUGETLB
        return {
            "pool": bv(POOL[Pool.FREE if hugetlb else Pool.IN_USE]),
            "optimized": z3.BoolVal(not hugetlb and self.scheme.optimizes), "hugetlb": z3.BoolVal(hugetlb),
            "unreliable": FALSE, "mapped": z3.BoolVal(not hugetlb), "dissolve_i": bv(0), "dissolve_set": FALSE,
            "io": FALSE, "io_off": bv(0), "io_len": bv(0), "io_pin": FALSE, "io_submitted": FALSE,
            "io_page0": bv(0), "refs": bv(0), "pins": bv(0),
            "raw": [(FALSE, bv(0))] * self.depth, "maps": [(FALSE, bv(0))] * self.depth,
            "injected": [(FALSE, bv(0))] * self.depth,
        }  # fmt: skip


class Step:
    """Step t: the operation choice, its arguments, the merged effect, and what each
    invariant's violation at this step is."""

    def __init__(self, u: Unrolling, t: int, before: dict[str, Any], alive: B) -> None:
        self.u, self.t, self.before, self.alive = u, t, before, alive
        self.op = z3.BitVec(f"op_{t}", 8)
        self.args = {
            "i": z3.BitVec(f"i_{t}", BITS),
            "word": z3.BitVec(f"word_{t}", BITS),
            "offset": z3.BitVec(f"offset_{t}", BITS),
            "length": z3.BitVec(f"length_{t}", BITS),
            "alloc_ok": z3.Bool(f"alloc_ok_{t}"),
            "kmalloc_ok": z3.Bool(f"kmalloc_ok_{t}"),
        }
        m = u.m
        a = self.args
        folio_bytes = u.nr * u.ps
        u.side += [
            # Where no operation can run (possible_ops() is empty), the step is a stutter:
            # asserting False there would make every query at this depth unsatisfiable and
            # the proof vacuous (found by the vacuity self-check).
            z3.Or([self.op == u.alphabet.index(name) for name in u.possible[t - 1]] or [TRUE]),
            z3.ULT(a["i"], u.nr),
            z3.ULT(a["word"], u.size // WORD),
            a["offset"] & (m.io_align - 1) == 0,
            a["length"] & (m.io_align - 1) == 0,
            z3.ULT(a["offset"], folio_bytes),
            z3.UGE(a["length"], m.io_align),
            z3.ULE(a["length"], m.io_max),
            z3.ULE(a["offset"] + a["length"], folio_bytes),
        ]
        # Only the operations that can be enabled at this step are encoded (see possible_ops).
        self.is_op = {name: self.op == u.alphabet.index(name) for name in u.possible[t - 1]}
        self._run()

    def _run(self) -> None:
        u, t = self.u, self.t
        gens = {name: OP_ENCODERS[name](self) for name in self.is_op}
        # Remap requests come first (ops that remap do so before any store).
        remap = Remap()
        for name in self.is_op:
            req = self.remap_request(name)
            if req is not None:
                sel = self.is_op[name]
                remap = Remap(
                    z3.Or(remap.optimize, z3.And(sel, req.optimize)),
                    z3.Or(remap.head_copied, z3.And(sel, req.head_copied)),
                    z3.Or(remap.restore, z3.And(sel, req.restore)),
                )
        u.remaps.append(remap)
        target = u.scheme.target_page if u.scheme.target is Target.PAGE else 0
        prev_target = u.frame(t - 1, bv(target))[0]
        if u.scheme.target is Target.PAGE:
            reuse = z3.If(z3.And(remap.head_copied, z3.BoolVal(target == 0)), _new(t, 0), prev_target)
        elif u.scheme.target is Target.SHARED_TAIL:
            reuse = SHARED
        else:
            reuse = NONE
        u.reuse.append(reuse)
        head_frame = u.frame(t - 1, bv(0))[0]
        if not remap.static:
            u.events.append(Event("copy", z3.And(remap.optimize, remap.head_copied),
                                  is_new=functools.partial(_is_frame, target=_new(t, 0)),
                                  source=functools.partial(_constant, value=head_frame)))  # fmt: skip
        remapped_k = bv(next((k for k in range(u.V) if k not in u.scheme.private), 0))
        reuse_k = bv(target)
        src_k = reuse_k if u.scheme.target is Target.UNMAPPED else remapped_k
        src_frame = u.frame(t - 1, src_k)[0]
        reset = 3 * u.size if u.pol.restore_reset else 0
        if not remap.static:
            u.events.append(Event("copy", remap.restore, reset=reset,
                                  is_new=functools.partial(_allocated_at, step=t),
                                  source=functools.partial(_constant, value=src_frame)))  # fmt: skip
        # Each operation runs to completion; its stores are events guarded by op_t == id
        # (the reads of one operation see its own earlier stores, never another's).
        results: dict[str, Effect] = {}
        self.stores: list[tuple[Event, BV, BV]] = []  # (event, old value, vmemmap page k)
        write_faults: list[B] = []
        for name, gen in gens.items():
            while True:
                try:
                    st = next(gen)
                except StopIteration as stop:
                    results[name] = stop.value
                    break
                active = z3.And(self.is_op[name], st.active)
                k, f, off, w = u.locate(t, st.vaddr)
                old = u.read_frame(f, off, field=st.field)
                write_faults.append(z3.And(active, z3.Or(_tag(f) == T_NONE, z3.Not(w), z3.Not(u.in_vmemmap(st.vaddr)))))
                ev = Event("store", active, f, off, st.value, st.vaddr, field=st.field)
                u.events.append(ev)
                self.stores.append((ev, old, k))
        self.level = len(u.events)
        self.write_fault = z3.Or(write_faults) if write_faults else FALSE
        self.read_fault = z3.Or(
            [z3.And(self.is_op[n], z3.Or(e.faults)) for n, e in results.items() if e.faults] or [FALSE]
        )
        self.fault = z3.Or(self.write_fault, self.read_fault)
        self.enabled = z3.Or([z3.And(self.is_op[n], self.precondition(n)) for n in self.is_op] or [FALSE])
        self.dma_bad = z3.Or([z3.And(self.is_op[n], e.dma_bad) for n, e in results.items()] or [FALSE])
        self.to_buddy = z3.Or([z3.And(self.is_op[n], e.to_buddy) for n, e in results.items()] or [FALSE])
        self.restored = self.u.remaps[t].restore
        after: dict[str, Any] = {}
        for key, old_value in self.before.items():
            value = old_value
            for n, e in results.items():
                if key in e.updates:
                    value = _ite(self.is_op[n], e.updates[key], value)
            after[key] = value
        self.after = after

    # -- per-op pieces -------------------------------------------------------------------------
    def precondition(self, name: str) -> B:
        u, s = self.u, self.before
        free_pool = z3.And(s["pool"] == POOL[Pool.FREE], s["hugetlb"])
        if OPS[name].hugetlb_only and u.scheme.folio_kind is not FolioKind.HUGETLB:
            return FALSE
        match name:
            case "hugetlb_vmemmap_optimize_folio":
                return z3.And(free_pool, z3.Not(s["optimized"]), z3.BoolVal(u.scheme.optimizes))
            case "hugetlb_vmemmap_restore_folio":
                return z3.And(free_pool, s["optimized"])
            case "alloc_hugetlb_folio" | "dissolve_free_hugetlb_folio":
                return free_pool
            case "folio_put":
                return s["mapped"]
            case "update_and_free_hugetlb_folio":
                return s["pool"] == POOL[Pool.REMOVED]
            case "memory_failure":
                return TRUE
            case "get_user_pages_fast" | "pin_user_pages_fast":
                return z3.And(s["mapped"], z3.Not(s["io"]))
            case "submit_bio":
                return z3.And(s["io"], z3.Not(s["io_submitted"]))
            case "unpin_user_pages_dirty_lock":
                return z3.And(s["io"], s["io_pin"])
            case "put_page":
                return z3.And(s["io"], z3.Not(s["io_pin"]))
            case _:
                return s["mapped"] if u.scheme.folio_kind is FolioKind.HUGETLB else TRUE

    def remap_request(self, name: str) -> Remap | None:
        u, s, a = self.u, self.before, self.args
        if name == "hugetlb_vmemmap_optimize_folio":
            hc = u.scheme.head_copy
            split_fails = hc is HeadCopy.NONE and u.cfg.vmemmap_pmd_mapped
            ok = z3.Not(z3.And(z3.Not(a["alloc_ok"]), z3.BoolVal(split_fails or hc is HeadCopy.REQUIRED)))
            return Remap(optimize=ok, head_copied=z3.And(ok, a["alloc_ok"], z3.BoolVal(hc is not HeadCopy.NONE)))
        if name == "hugetlb_vmemmap_restore_folio":
            return Remap(restore=a["alloc_ok"])
        if name == "update_and_free_hugetlb_folio":
            leak = z3.And(z3.BoolVal(u.pol.hwpoison is Hwpoison.RAW_HWP_LIST), s["unreliable"])
            return Remap(restore=z3.And(z3.Not(leak), s["optimized"], a["alloc_ok"]))
        return None

    def read(self, vaddr: BV, faults: list[B], cond: B, field: int | None = None) -> BV:
        value, fault = self.u.read(self.t, vaddr, field)
        faults.append(z3.And(cond, fault))
        return value


def _ite(c: B, a: Any, b: Any) -> Any:
    if isinstance(a, list):
        return [(z3.If(c, x[0], y[0]), z3.If(c, x[1], y[1])) for x, y in zip(a, b, strict=True)]
    return z3.If(c, a, b)


def _add_half(word: BV, delta: BV | int, high: bool) -> BV:
    d = bv(delta) if isinstance(delta, int) else delta
    if high:
        return (word & 0xFFFFFFFF) | ((z3.LShR(word, 32) + d) << 32)
    return (word & HI32_BV) | ((word + d) & 0xFFFFFFFF)


HI32_BV = bv(0xFFFFFFFF00000000)


def _set_bit(word: BV, bit: int, on: B | bool) -> BV:
    mask = bv(1 << bit)
    return z3.If(z3.BoolVal(on) if isinstance(on, bool) else on, word | mask, word & ~mask)


# -- the operations ------------------------------------------------------------------------------
# Each mirrors Machine._op_<name> in hvo_verify/model/kernel.py (same kernel citations).


def _flag_store(st: Step, page: BV, bit: int, on: bool, cond: B, faults: list[B], rmw: bool) -> Store:
    word = st.read(page + sp.W_FLAGS * WORD, faults, cond, sp.W_FLAGS)
    current = z3.Extract(bit, bit, word) == 1
    change = TRUE if rmw else (current != z3.BoolVal(on))
    return Store(z3.And(cond, change), page, _set_bit(word, bit, on), sp.W_FLAGS)


def op_optimize(st: Step) -> OpGen:
    s = st.before
    ok = st.u.remaps[st.t].optimize
    return (yield from _no_stores(Effect({"optimized": z3.Or(s["optimized"], ok)})))


def op_restore(st: Step) -> OpGen:
    s, a = st.before, st.args
    return (yield from _no_stores(Effect({"optimized": z3.And(s["optimized"], z3.Not(a["alloc_ok"]))})))


def _no_stores(effect: Effect) -> OpGen:
    """An operation that only changes scalar state (a generator that yields nothing)."""
    if False:
        yield  # pragma: no cover
    return effect


def op_alloc(st: Step) -> OpGen:
    u, s = st.u, st.before
    faults: list[B] = []
    head = u.head
    poisoned = u.flag(st.t, head, sp.PG_HWPOISON, faults, TRUE)
    go = z3.Not(poisoned)
    w = st.read(head + sp.W_COUNTS * WORD, faults, go, sp.W_COUNTS)
    yield Store(go, head + sp.W_COUNTS * WORD, _add_half(w, 1, True), sp.W_COUNTS)
    p1 = u.page(1) + sp.W_FOLIO_COUNTS * WORD
    w1 = st.read(p1, faults, go, sp.W_FOLIO_COUNTS)
    yield Store(go, p1, _add_half(w1, 1, False), sp.W_FOLIO_COUNTS)
    return Effect(
        {"pool": z3.If(go, bv(POOL[Pool.IN_USE]), s["pool"]), "mapped": z3.Or(go, s["mapped"]),
         "refs": z3.If(go, s["refs"] + 1, s["refs"])},
        faults,
    )  # fmt: skip


def _put_refs(st: Step, folio: BV, n: BV, cond: B, faults: list[B], pool: BV) -> Generator[Store, None, BV]:
    u = st.u
    addr = folio + sp.W_COUNTS * WORD
    w = st.read(addr, faults, cond, sp.W_COUNTS)
    new = _add_half(w, -n, True)
    yield Store(cond, addr, new, sp.W_COUNTS)
    zero = z3.Extract(63, 32, new) == 0
    freed = z3.And(cond, zero, folio == u.head, pool == POOL[Pool.IN_USE])
    return z3.If(freed, bv(POOL[Pool.FREE]), pool)


def op_folio_put(st: Step) -> OpGen:
    u, s = st.u, st.before
    faults: list[B] = []
    for valid, i in s["maps"]:
        yield from _unmap_subpage(st, i, valid, faults)
    p1 = u.page(1) + sp.W_FOLIO_COUNTS * WORD
    w1 = st.read(p1, faults, TRUE, sp.W_FOLIO_COUNTS)
    yield Store(TRUE, p1, _add_half(w1, -1, False), sp.W_FOLIO_COUNTS)
    pool = yield from _put_refs(st, u.head, bv(1), TRUE, faults, s["pool"])
    return Effect({"mapped": FALSE, "maps": [(FALSE, bv(0))] * u.depth, "refs": s["refs"] - 1, "pool": pool}, faults)


def _unmap_subpage(st: Step, i: BV, cond: B, faults: list[B]) -> Generator[Store, None, None]:
    u = st.u
    field = sp.W_COUNTS if u.pol.mapcount is Mapcount.PER_SUBPAGE else sp.W_FOLIO_COUNTS
    addr = (u.page(i) if field == sp.W_COUNTS else u.page(1)) + field * WORD
    w = st.read(addr, faults, cond, field)
    yield Store(cond, addr, _add_half(w, -1, False), field)


def op_dissolve(st: Step) -> OpGen:
    s, a = st.before, st.args
    hugetlb = FALSE if st.u.pol.hugetlb_clear is HugetlbClear.BEFORE_RESTORE else s["hugetlb"]
    return (yield from _no_stores(Effect({"pool": bv(POOL[Pool.REMOVED]), "hugetlb": hugetlb, "dissolve_i": a["i"],
                                          "dissolve_set": TRUE})))  # fmt: skip


def op_update_and_free(st: Step) -> OpGen:
    u, s, a = st.u, st.before, st.args
    pol = u.pol
    faults: list[B] = []
    leak = z3.And(z3.BoolVal(pol.hwpoison is Hwpoison.RAW_HWP_LIST), s["unreliable"])
    restore_failed = z3.And(z3.Not(leak), s["optimized"], z3.Not(a["alloc_ok"]))
    go = z3.And(z3.Not(leak), z3.Not(restore_failed))
    head = u.head
    head_poisoned = u.flag(st.t, head, sp.PG_HWPOISON, faults, go)
    moved = z3.And(go, head_poisoned)
    raw = s["raw"]
    if pol.hwpoison is Hwpoison.HEAD_INDEX:
        idx = st.read(u.page(4) + sp.W_PRIVATE * WORD, faults, moved, sp.W_PRIVATE)
        deliver = z3.And(moved, idx != 0)
        yield _flag_store(st, u.head + idx * u.size, sp.PG_HWPOISON, True, deliver, faults, True)
        yield _flag_store(st, head, sp.PG_HWPOISON, False, deliver, faults, True)
    elif pol.hwpoison is Hwpoison.HEAD_FLAG:
        page = u.page(s["dissolve_i"])
        deliver = z3.And(moved, s["dissolve_set"], page != head)
        yield _flag_store(st, page, sp.PG_HWPOISON, True, deliver, faults, True)
        yield _flag_store(st, head, sp.PG_HWPOISON, False, deliver, faults, True)
    elif pol.hwpoison is Hwpoison.RAW_HWP_LIST:
        yield _flag_store(st, head, sp.PG_HWPOISON, False, moved, faults, True)
        for valid, i in raw:
            yield _flag_store(st, u.page(i), sp.PG_HWPOISON, True, z3.And(moved, valid), faults, True)
        raw = [(z3.And(z3.Not(moved), v), i) for v, i in raw]
    pool = z3.If(leak, bv(POOL[Pool.LEAKED]), z3.If(restore_failed, bv(POOL[Pool.FREE]), bv(POOL[Pool.BUDDY])))
    optimized = z3.And(s["optimized"], z3.Not(go))
    hugetlb = z3.If(go, FALSE, z3.If(restore_failed, TRUE, s["hugetlb"]))
    return Effect({"pool": pool, "optimized": optimized, "hugetlb": hugetlb, "raw": raw}, faults, to_buddy=go)


def op_memory_failure(st: Step) -> OpGen:
    u, s, a = st.u, st.before, st.args
    pol = u.pol
    faults: list[B] = []
    i = a["i"]
    page = u.pfn_to_page(st.t, i, s["optimized"])
    injected = _insert(s["injected"], i)
    raw_path = z3.Or(z3.Not(s["hugetlb"]), z3.BoolVal(pol.hwpoison is Hwpoison.RAW_FLAG))
    if pol.hwpoison is Hwpoison.RAW_FLAG:
        yield _flag_store(st, page, sp.PG_HWPOISON, True, TRUE, faults, True)
        return Effect({"injected": injected}, faults)
    hpath = z3.Not(raw_path)
    head = u.compound_head(st.t, page, faults, hpath)
    already = u.flag(st.t, head, sp.PG_HWPOISON, faults, hpath)
    # slot 0: the raw flag (raw path) or the head flag (hugetlb path)
    target = z3.If(raw_path, page, head)
    first = _flag_store(st, target, sp.PG_HWPOISON, True, TRUE, faults, True)
    if pol.hwpoison in (Hwpoison.HEAD_INDEX, Hwpoison.HEAD_FLAG):
        first.active = z3.And(first.active, z3.Or(raw_path, z3.Not(already)))
        yield first
        if pol.hwpoison is Hwpoison.HEAD_INDEX:
            yield Store(z3.And(hpath, z3.Not(already)), head + 4 * u.size + sp.W_PRIVATE * WORD, i, sp.W_PRIVATE)
        return Effect({"injected": injected}, faults)
    yield first
    listed = z3.Or([z3.And(v, x == i) for v, x in s["raw"]] or [FALSE])
    add = z3.And(hpath, z3.Not(s["unreliable"]), z3.Not(listed))
    fail = z3.And(add, z3.Not(a["kmalloc_ok"]), z3.BoolVal(pol.kmalloc_may_fail))
    raw = _insert(s["raw"], i, z3.And(add, z3.Not(fail)))
    raw = [(z3.And(v, z3.Not(fail)), x) for v, x in raw]
    return Effect({"injected": injected, "raw": raw, "unreliable": z3.Or(s["unreliable"], fail)}, faults)


def _insert(slots: list[tuple[B, BV]], i: BV, cond: B = TRUE) -> list[tuple[B, BV]]:
    """Put i into the first free slot (an append to a bounded list)."""
    out = []
    placed: B = z3.Not(cond)
    for valid, x in slots:
        here = z3.And(z3.Not(placed), z3.Not(valid))
        out.append((z3.Or(valid, here), z3.If(here, i, x)))
        placed = z3.Or(placed, here)
    return out


def _gup(st: Step, pin: bool) -> OpGen:
    u, s, a = st.u, st.before, st.args
    faults: list[B] = []
    off, length = a["offset"], a["length"]
    idx = z3.LShR(off, u.shift)
    nr = z3.LShR(off + length - 1, u.shift) - idx + 1
    page = u.pfn_to_page(st.t, idx, s["optimized"])
    folio = u.compound_head(st.t, page, faults, TRUE) if u.pol.gup_refs is GupRefs.FOLIO else page
    addr = folio + sp.W_COUNTS * WORD
    w = st.read(addr, faults, TRUE, sp.W_COUNTS)
    yield Store(TRUE, addr, _add_half(w, nr, True), sp.W_COUNTS)
    pins = s["pins"]
    if pin:
        paddr = folio + u.size + sp.W_FOLIO_COUNTS * WORD
        w = st.read(paddr, faults, TRUE, sp.W_FOLIO_COUNTS)
        yield Store(TRUE, paddr, _add_half(w, nr, True), sp.W_FOLIO_COUNTS)
        pins = pins + nr
    return Effect(
        {"io": TRUE, "io_off": off, "io_len": length, "io_pin": z3.BoolVal(pin), "io_submitted": FALSE,
         "io_page0": page, "refs": s["refs"] + nr, "pins": pins},
        faults,
    )  # fmt: skip


def op_gup(st: Step) -> OpGen:
    return (yield from _gup(st, False))


def op_pin(st: Step) -> OpGen:
    return (yield from _gup(st, True))


def op_submit_bio(st: Step) -> OpGen:
    """Per page j of the buffer: bvec start page_to_phys(page0 + j) + offset_j must be the
    buffer's physical address at that point (merging only groups these; see kernel.py)."""
    u, s = st.u, st.before
    off, length, page0 = s["io_off"], s["io_len"], s["io_page0"]
    idx = z3.LShR(off, u.shift)
    nr = z3.LShR(off + length - 1, u.shift) - idx + 1
    head_phys = bv(u.m.folio.head_pfn << u.shift)
    bad = []
    for j in range(u.io_pages):
        page = page0 + j * u.size
        poff = z3.If(z3.BoolVal(j == 0), off & (u.ps - 1), bv(0))
        user_off = (idx + j) * u.ps + poff
        bad.append(z3.And(z3.ULT(bv(j), nr), u.page_to_phys(page) + poff != head_phys + user_off))
    return (yield from _no_stores(Effect({"io_submitted": TRUE}, dma_bad=z3.Or(bad))))


def _release(st: Step, pin: bool) -> OpGen:
    u, s = st.u, st.before
    faults: list[B] = []
    off, length, page0 = s["io_off"], s["io_len"], s["io_page0"]
    idx = z3.LShR(off, u.shift)
    nr = z3.LShR(off + length - 1, u.shift) - idx + 1
    pool = s["pool"]
    # Group consecutive pages by folio (gup_folio_range_next / put per page).
    folios = []
    for j in range(u.io_pages):
        page = page0 + j * u.size
        valid = z3.ULT(bv(j), nr)
        folio = u.compound_head(st.t, page, faults, valid) if u.pol.gup_refs is GupRefs.FOLIO else page
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
            paddr = folio + u.size + sp.W_FOLIO_COUNTS * WORD
            w = st.read(paddr, faults, cond, sp.W_FOLIO_COUNTS)
            yield Store(cond, paddr, _add_half(w, -count, True), sp.W_FOLIO_COUNTS)
            yield _flag_store(st, folio, sp.PG_DIRTY, True, cond, faults, False)
        pool = yield from _put_refs(st, folio, count, cond, faults, pool)
    return Effect({"io": FALSE, "refs": s["refs"] - nr, "pins": s["pins"] - (nr if pin else 0), "pool": pool}, faults)


def op_unpin(st: Step) -> OpGen:
    return (yield from _release(st, True))


def op_put_page(st: Step) -> OpGen:
    return (yield from _release(st, False))


def _arch1_target(st: Step, faults: list[B]) -> BV:
    u = st.u
    page = u.page(st.args["i"])
    if u.pol.pg_arch_1 is Arch1.HEAD:
        huge = u.page_huge(st.t, page, faults, TRUE)
        head = u.compound_head(st.t, page, faults, huge)
        return z3.If(huge, head, page)
    return page


def op_sync_icache(st: Step) -> OpGen:
    faults: list[B] = []
    page = _arch1_target(st, faults)
    yield _flag_store(st, page, sp.PG_ARCH_1, True, TRUE, faults, False)
    return Effect({}, faults)


def op_flush_dcache(st: Step) -> OpGen:
    faults: list[B] = []
    page = _arch1_target(st, faults)
    yield _flag_store(st, page, sp.PG_ARCH_1, False, TRUE, faults, False)
    return Effect({}, faults)


def op_rmap(st: Step) -> OpGen:
    u, s, a = st.u, st.before, st.args
    faults: list[B] = []
    field = sp.W_COUNTS if u.pol.mapcount is Mapcount.PER_SUBPAGE else sp.W_FOLIO_COUNTS
    addr = (u.page(a["i"]) if field == sp.W_COUNTS else u.page(1)) + field * WORD
    w = st.read(addr, faults, TRUE, field)
    yield Store(TRUE, addr, _add_half(w, 1, False), field)
    return Effect({"maps": _insert(s["maps"], a["i"])}, faults)


def op_write(st: Step) -> OpGen:
    u, a = st.u, st.args
    yield Store(TRUE, u.page(a["i"]) + a["word"] * WORD, bv(PROBE_VALUE))
    return Effect({})


OP_ENCODERS: dict[str, Callable[[Step], OpGen]] = {
    "hugetlb_vmemmap_optimize_folio": op_optimize,
    "hugetlb_vmemmap_restore_folio": op_restore,
    "alloc_hugetlb_folio": op_alloc,
    "folio_put": op_folio_put,
    "dissolve_free_hugetlb_folio": op_dissolve,
    "update_and_free_hugetlb_folio": op_update_and_free,
    "memory_failure": op_memory_failure,
    "get_user_pages_fast": op_gup,
    "pin_user_pages_fast": op_pin,
    "submit_bio": op_submit_bio,
    "unpin_user_pages_dirty_lock": op_unpin,
    "put_page": op_put_page,
    "sync_icache_dcache": op_sync_icache,
    "flush_dcache_page": op_flush_dcache,
    "page_add_file_rmap": op_rmap,
    "write_struct_page": op_write,
}
assert set(OP_ENCODERS) == set(OPS)


# -- which operations can be enabled at each step ----------------------------------------------
# An abstract interpretation of the preconditions over the scalar state (pool, flags,
# mapping, I/O), with every data-dependent outcome taken both ways.  It over-approximates
# the concrete reachable states, so pruning the operations it rules out loses no trace.


@dataclass(frozen=True)
class _Abs:
    pool: Pool
    optimized: bool
    hugetlb: bool
    mapped: bool
    io: int  # 0 none, 1 grabbed, 2 submitted
    pin: bool


def _abs_succ(m: Machine, s: _Abs, op: str) -> list[_Abs]:
    from dataclasses import replace as r

    free = s.pool is Pool.FREE and s.hugetlb
    hugetlb_kind = m.scheme.folio_kind is FolioKind.HUGETLB
    if OPS[op].hugetlb_only and not hugetlb_kind:
        return []
    match op:
        case "hugetlb_vmemmap_optimize_folio":
            return [r(s, optimized=True), s] if free and not s.optimized and m.scheme.optimizes else []
        case "hugetlb_vmemmap_restore_folio":
            return [r(s, optimized=False), s] if free and s.optimized else []
        case "alloc_hugetlb_folio":
            return [r(s, pool=Pool.IN_USE, mapped=True), s] if free else []
        case "folio_put":
            return [r(s, mapped=False, pool=p) for p in {s.pool, Pool.FREE}] if s.mapped else []
        case "dissolve_free_hugetlb_folio":
            clear = m.policies.hugetlb_clear is HugetlbClear.BEFORE_RESTORE
            return [r(s, pool=Pool.REMOVED, hugetlb=s.hugetlb and not clear)] if free else []
        case "update_and_free_hugetlb_folio":
            if s.pool is not Pool.REMOVED:
                return []
            return [r(s, pool=Pool.LEAKED), r(s, pool=Pool.FREE, hugetlb=True),
                    r(s, pool=Pool.BUDDY, hugetlb=False, optimized=False)]  # fmt: skip
        case "memory_failure":
            return [s]
        case "get_user_pages_fast" | "pin_user_pages_fast":
            return [r(s, io=1, pin=op.startswith("pin"))] if s.mapped and s.io == 0 else []
        case "submit_bio":
            return [r(s, io=2)] if s.io == 1 else []
        case "unpin_user_pages_dirty_lock" | "put_page":
            if s.io == 0 or s.pin != (op == "unpin_user_pages_dirty_lock"):
                return []
            return [r(s, io=0, pool=p) for p in {s.pool, Pool.FREE}]
        case _:
            return [s] if (s.mapped or not hugetlb_kind) else []


def possible_ops(m: Machine, alphabet: tuple[str, ...], depth: int) -> list[tuple[str, ...]]:
    """For each step 1..depth, the operations of `alphabet` some reachable state enables."""
    hugetlb = m.scheme.folio_kind is FolioKind.HUGETLB
    first = (
        _Abs(Pool.FREE, False, True, False, 0, False)
        if hugetlb
        else _Abs(Pool.IN_USE, m.scheme.optimizes, False, True, 0, False)
    )
    states = {first}
    out: list[tuple[str, ...]] = []
    for _ in range(depth):
        enabled: set[str] = set()
        nxt: set[_Abs] = set()
        for st in states:
            for op in alphabet:
                succ = _abs_succ(m, st, op)
                if succ:
                    enabled.add(op)
                    nxt.update(succ)
        out.append(tuple(op for op in alphabet if op in enabled))
        states = nxt
    return out
