# SPDX-License-Identifier: GPL-2.0-only
"""One step of the unrolling: the operation choice, its arguments, and the merged effect
of every operation that can run there (mirror of ops/machine.py `Machine.apply`).

Each operation runs its steps (ops/table.py) as functions of encode/ops/<subsystem>.py
on a `SymCpu`, the twin of ops/machine.py `Cpu`: the same primitives (read, store,
atomic add, flag test and update, remap, state update, early return), as z3 terms.  A
step function is a generator written without Python branching on symbolic values: it
yields the stores it makes one by one (reading memory as left by the stores before) and
changes the scalar state through `cpu.update()`.  An early return (`cpu.stop(when)`) is
the condition `cpu.running`, which guards everything the later steps do.

The operations of the alphabet run in lockstep; their stores become memory events
guarded by `op_t == id`, and their state updates are merged field by field.  PTE
changes come first: the steps of an operation up to its last remapping step
(Step.remaps) run before any store of the step, and must neither read nor store.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Generator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import z3

from hvo_verify.encode import readers
from hvo_verify.encode.memory import Page, Val
from hvo_verify.encode.ops import enabled, gup, hwpoison, pageflags, pool
from hvo_verify.encode.ops.memory import (
    NONE,
    SHARED,
    T_NONE,
    Event,
    EventKind,
    Remap,
    allocated_at,
    constant_frame,
    frame_tag,
    is_frame,
    new_frame,
)
from hvo_verify.encode.ops.state import POOL, SymIo, SymKState, merge, slots
from hvo_verify.encode.terms import BITS, BV, FALSE, TRUE, B, bv, conj
from hvo_verify.model.facts import MASK64, W_COUNTS, W_FLAGS, WORD
from hvo_verify.model.policy import Node, RestoreGfp, VmemmapFrames
from hvo_verify.model.scheme import FolioKind, HeadCopy, Target
from hvo_verify.ops.state import Pool
from hvo_verify.ops.table import OPS

if TYPE_CHECKING:
    from hvo_verify.encode.ops.unroll import StepMemory, Unrolling


@dataclass
class Store:
    """A store a step makes: active condition, address and value, and the struct page
    word it writes when that is a constant."""

    active: B
    vaddr: BV
    value: BV
    field: int | None = None
    bits: int = MASK64  # the bits it can change (a flag update: one)


StepGen = Generator[Store, None, None]
StepFn = Callable[["SymCpu"], StepGen]


def initial_state(u: Unrolling) -> SymKState:
    """ops/machine.py Machine.initial(), as terms."""
    hugetlb = u.scheme.folio_kind is FolioKind.HUGETLB
    return SymKState(
        optimized=z3.BoolVal(not hugetlb and u.scheme.optimizes), hugetlb=z3.BoolVal(hugetlb),
        pool=bv(POOL[Pool.FREE if hugetlb else Pool.IN_USE]), raw_hwp=slots(u.list_len), raw_hwp_unreliable=FALSE,
        mapped=z3.BoolVal(not hugetlb), dissolve_pfn=(FALSE, bv(0)),
        io=SymIo(FALSE, bv(0), bv(0), FALSE, FALSE, bv(0)), subpage_maps=slots(u.list_len),
        injected=slots(u.list_len), refs=bv(0), pins=bv(0),
    )  # fmt: skip


def add_half(word: BV, delta: BV | int, high: bool) -> BV:
    """`word` with delta added to one of its 32-bit halves."""
    d = bv(delta) if isinstance(delta, int) else delta
    if high:
        return (word & 0xFFFFFFFF) | ((z3.LShR(word, 32) + d) << 32)
    return (word & HI32) | ((word + d) & 0xFFFFFFFF)


HI32 = bv(0xFFFFFFFF00000000)


def with_bit(word: BV, bit: int, on: bool) -> BV:
    mask = bv(1 << bit)
    return word | mask if on else word & ~mask


@dataclass
class SymCpu:
    """One operation's run at one step of the unrolling (twin of ops/machine.py Cpu)."""

    st: Step
    op: str
    before: SymKState
    running: B = TRUE  # no early return so far
    updates: dict[str, Any] = field(default_factory=dict)
    faults: list[B] = field(default_factory=list)  # read faults on the operation's own path
    remap: Remap = field(default_factory=Remap)
    dma_bad: B = FALSE  # some DMA segment lands off the user's buffer
    to_buddy: B = FALSE
    unfreeable: B = FALSE  # freed vmemmap frames that are not free order-0 pages (Cpu.remap_free)
    restore_refused: B = FALSE  # a restore the gfp mask failed though pages were free (Cpu.remap_alloc)
    in_prefix: bool = False  # running the steps before the PTE changes: no memory access

    @property
    def u(self) -> Unrolling:
        return self.st.u

    @property
    def args(self) -> dict[str, Any]:
        return self.st.args

    @property
    def s(self) -> SymKState:
        """The scalar state as this operation's steps so far left it."""
        return replace(self.before, **self.updates) if self.updates else self.before

    # -- primitives ------------------------------------------------------------------------
    def read(self, vaddr: BV, field: int | None = None, cond: B = TRUE) -> BV:
        """READ_ONCE() of a vmemmap word; its fault counts where `cond` holds."""
        assert not self.in_prefix, f"{self.op}: a step before the PTE changes reads memory"
        value, fault = self.u.read(self.st.t, vaddr, field)
        self.faults.append(conj(self.running, cond, fault))
        return value

    def store(self, vaddr: BV, value: BV, field: int | None = None, cond: B = TRUE) -> Store:
        """WRITE_ONCE() of a vmemmap word (yield it)."""
        assert not self.in_prefix, f"{self.op}: a step before the PTE changes stores"
        return Store(conj(self.running, cond), vaddr, value, field)

    def atomic_add(self, vaddr: BV, field: int, delta: BV | int, high: bool, cond: B = TRUE) -> Store:
        """atomic_add() on one 32-bit half of a word (yield it)."""
        word = self.read(vaddr, field, cond)
        return self.store(vaddr, add_half(word, delta, high), field, cond)

    def test_flag(self, page: BV, bit: int, cond: B = TRUE) -> B:
        """test_bit(bit, &page->flags)."""
        return z3.Extract(bit, bit, self.read(page + W_FLAGS * WORD, W_FLAGS, cond)) == 1

    def set_flag(self, page: BV, bit: int, on: bool, cond: B = TRUE, *, rmw: bool = False) -> Store:
        """Set or clear a page flag (yield it): a plain update stores only on a change, an
        atomic read-modify-write always stores (Cpu.set_flag)."""
        word = self.read(page + W_FLAGS * WORD, W_FLAGS, cond)
        change = TRUE if rmw else (z3.Extract(bit, bit, word) == 1) != z3.BoolVal(on)
        store = self.store(page + W_FLAGS * WORD, with_bit(word, bit, on), W_FLAGS, conj(cond, change))
        store.bits = 1 << bit
        return store

    def remap_free(self, alloc_ok: B) -> B:
        """The scheme's vmemmap_remap_free(): whether it remapped (model/remap.py); none
        where PageVmemmapSelfHosted is checked and holds (B4); the frames it frees are
        `unfreeable` where self-hosted or pieces of an unsplit hot-added PMD block (B2)."""
        scheme, cfg, pol = self.u.scheme, self.u.cfg, self.u.pol
        hc = scheme.head_copy
        split_fails = hc is HeadCopy.NONE and cfg.vmemmap_pmd_mapped
        self_hosted = pol.vmemmap_frames is VmemmapFrames.MEMMAP_ON_MEMORY
        refused = z3.BoolVal(self_hosted and pol.self_hosted_check)
        failed = z3.And(z3.Not(alloc_ok), z3.BoolVal(split_fails or hc is HeadCopy.REQUIRED))
        ok = z3.And(z3.Not(refused), z3.Not(failed))
        copied = z3.And(ok, alloc_ok, z3.BoolVal(hc is not HeadCopy.NONE))
        self.remap = Remap(conj(self.running, ok), conj(self.running, copied), self.remap.restore)
        unsplit = pol.vmemmap_frames is VmemmapFrames.HOTPLUG and cfg.vmemmap_pmd_mapped and not pol.split_pmd_block
        self.unfreeable = conj(self.running, ok, z3.BoolVal(self_hosted or unsplit))
        return ok

    def remap_alloc(self, ok: B) -> B:
        """vmemmap_remap_alloc() where `ok` (the allocator has pages): every remapped PTE
        gets a new page, unless __GFP_THISNODE keeps a movable-only node's pages out (B7);
        whether it restored."""
        pol = self.u.pol
        refused = z3.BoolVal(pol.restore_gfp is RestoreGfp.THISNODE and pol.node is Node.MOVABLE_ONLY)
        self.restore_refused = conj(self.running, ok, refused)
        restored = z3.And(ok, z3.Not(refused))
        self.remap = Remap(self.remap.optimize, self.remap.head_copied, conj(self.running, restored))
        return restored

    def free_to_buddy(self, when: B = TRUE) -> None:
        """The folio's pages go back to the buddy allocator where `when` holds."""
        here = conj(self.running, when)
        self.to_buddy = here if z3.is_false(self.to_buddy) else z3.Or(self.to_buddy, here)

    def update(self, when: B = TRUE, **fields: Any) -> None:
        """Change scalar state where the operation is still running and `when` holds."""
        cond = conj(self.running, when)
        current = self.s
        for name, value in fields.items():
            self.updates[name] = value if z3.is_true(cond) else merge(cond, value, getattr(current, name))

    def stop(self, when: B = TRUE) -> None:
        """The kernel function returns early where `when` holds."""
        self.running = conj(self.running, z3.Not(when))

    # -- the readers (encode/readers.py) on this step's memory ----------------------------------
    def _reader(self, value: Val, cond: B) -> Any:
        self.faults.append(conj(self.running, cond, value.fault))
        return value.value

    def compound_head(self, page: BV, cond: B = TRUE) -> BV:
        """page_folio(page).  Every call records where what it reads is not the folio's
        head while the call counts (the step is reached, runs this operation, which is
        enabled and has not returned, and `cond` holds): Unrolling.head_obligations.  On
        an unrolling built on the head lemma (`on_head_lemma`, used only once those are
        proved: check/bmc.py head_lemma()) the call returns the head itself."""
        u = self.u
        value = self._reader(readers.compound_head(self.memory, Page(page)), cond)
        counts = conj(self.st.alive, self.st.is_op[self.op], enabled.precondition(u, self.op, self.before),
                      self.running, cond)  # fmt: skip
        u.head_obligations.append(z3.And(counts, value != u.head))
        return u.head if u.on_head_lemma else value

    def page_huge(self, page: BV, cond: B = TRUE) -> B:
        return self._reader(readers.page_huge(self.memory, Page(page)), cond)

    def pfn_to_page(self, i: BV) -> BV:
        return readers.pfn_to_page(self.memory, i).rel

    def page_to_phys(self, page: BV) -> BV:
        return self._reader(readers.page_to_phys(self.memory, Page(page)), TRUE)

    @property
    def memory(self) -> StepMemory:
        return self.u.memory(self.st.t, self.s.optimized)

    def folio_put_refs(self, folio: BV, n: BV, cond: B = TRUE) -> Generator[Store, None, None]:
        """folio_put_refs(): at 0 free_huge_folio() puts the folio back on the pool."""
        u = self.u
        addr = folio + W_COUNTS * WORD
        word = self.read(addr, W_COUNTS, cond)
        new = add_half(word, -n, True)
        yield self.store(addr, new, W_COUNTS, cond)
        zero = z3.Extract(63, 32, new) == 0
        freed = z3.And(cond, zero, folio == u.head, self.s.pool == POOL[Pool.IN_USE])
        self.update(pool=z3.If(conj(self.running, freed), bv(POOL[Pool.FREE]), self.s.pool))


# The step functions, by subsystem file (ops/table.py Step.subsystem).
SUBSYSTEMS = {"pool": pool, "hwpoison": hwpoison, "gup": gup, "pageflags": pageflags}


def step_function(subsystem: str, name: str) -> StepFn:
    fn: StepFn = getattr(SUBSYSTEMS[subsystem], name)
    return fn


class Step:
    """Step t: the operation choice, its arguments, the merged effect, and the facts the
    invariants' violations at this step are stated over."""

    def __init__(self, u: Unrolling, t: int, before: SymKState, alive: B) -> None:
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
        folio_bytes = u.nr * u.page_size
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
        cpus = {name: SymCpu(self, name, self.before) for name in self.is_op}
        # PTE changes first: each operation's steps up to its last remapping step.
        rest: dict[str, list[StepGen]] = {}
        remap = Remap()
        for name, cpu in cpus.items():
            steps = OPS[name].steps
            last_remap = max((n for n, s in enumerate(steps) if s.remaps), default=-1)
            cpu.in_prefix = True
            for s in steps[: last_remap + 1]:
                for _store in step_function(s.subsystem, s.name)(cpu):
                    raise AssertionError(f"{name}: {s.name} stores before the PTE changes")
            cpu.in_prefix = False
            rest[name] = [step_function(s.subsystem, s.name)(cpu) for s in steps[last_remap + 1 :]]
            sel = self.is_op[name]
            remap = Remap(
                z3.Or(remap.optimize, z3.And(sel, cpu.remap.optimize)),
                z3.Or(remap.head_copied, z3.And(sel, cpu.remap.head_copied)),
                z3.Or(remap.restore, z3.And(sel, cpu.remap.restore)),
            )
        u.remaps.append(remap)
        target = u.scheme.target_page if u.scheme.target is Target.PAGE else 0
        prev_target = u.frame(t - 1, bv(target))[0]
        if u.scheme.target is Target.PAGE:
            reuse = z3.If(z3.And(remap.head_copied, z3.BoolVal(target == 0)), new_frame(t, 0), prev_target)
        elif u.scheme.target is Target.SHARED_TAIL:
            reuse = SHARED
        else:
            reuse = NONE
        u.reuse.append(reuse)
        head_frame = u.frame(t - 1, bv(0))[0]
        if not remap.static:
            u.events.append(Event(EventKind.COPY, z3.And(remap.optimize, remap.head_copied),
                                  is_new=functools.partial(is_frame, target=new_frame(t, 0)),
                                  source=functools.partial(constant_frame, value=head_frame)))  # fmt: skip
        remapped_k = bv(next((k for k in range(u.nr_vmemmap) if k not in u.scheme.private), 0))
        reuse_k = bv(target)
        src_k = reuse_k if u.scheme.target is Target.UNMAPPED else remapped_k
        src_frame = u.frame(t - 1, src_k)[0]
        reset = u.facts.nr_reset_struct_page * u.size if u.pol.restore_reset else 0
        if not remap.static:
            u.events.append(Event(EventKind.COPY, remap.restore, reset=reset,
                                  is_new=functools.partial(allocated_at, step=t),
                                  source=functools.partial(constant_frame, value=src_frame)))  # fmt: skip
        # Each operation runs to completion; its stores are events guarded by op_t == id
        # (the reads of one operation see its own earlier stores, never another's).
        self.stores: list[tuple[Event, BV, BV]] = []  # (event, old value, vmemmap page k)
        write_faults: list[B] = []
        for name, gens in rest.items():
            for gen in gens:
                for store in gen:
                    active = z3.And(self.is_op[name], store.active)
                    k, f, off, w = u.locate(t, store.vaddr)
                    old = u.read_frame(f, off, field=store.field)
                    bad = z3.Or(frame_tag(f) == T_NONE, z3.Not(w), z3.Not(u.in_vmemmap(store.vaddr)))
                    write_faults.append(z3.And(active, bad))
                    ev = Event(
                        EventKind.STORE, active, f, off, store.value, store.vaddr, field=store.field, bits=store.bits
                    )
                    u.events.append(ev)
                    self.stores.append((ev, old, k))
        self.level = len(u.events)
        self.write_fault = z3.Or(write_faults) if write_faults else FALSE
        self.read_fault = z3.Or(
            [z3.And(self.is_op[n], z3.Or(c.faults)) for n, c in cpus.items() if c.faults] or [FALSE]
        )
        self.fault = z3.Or(self.write_fault, self.read_fault)
        self.enabled = z3.Or([z3.And(sel, enabled.precondition(u, n, self.before)) for n, sel in self.is_op.items()]
                             or [FALSE])  # fmt: skip
        self.dma_bad = z3.Or([z3.And(self.is_op[n], c.dma_bad) for n, c in cpus.items()] or [FALSE])
        self.to_buddy = z3.Or([z3.And(self.is_op[n], c.to_buddy) for n, c in cpus.items()] or [FALSE])
        self.unfreeable = z3.Or([z3.And(self.is_op[n], c.unfreeable) for n, c in cpus.items()] or [FALSE])
        self.restore_refused = z3.Or([z3.And(self.is_op[n], c.restore_refused) for n, c in cpus.items()] or [FALSE])
        self.restored = u.remaps[t].restore
        after = self.before
        for field_ in SymKState.__dataclass_fields__:
            value = getattr(self.before, field_)
            for n, cpu in cpus.items():
                if field_ in cpu.updates:
                    value = merge(self.is_op[n], cpu.updates[field_], value)
            after = replace(after, **{field_: value})
        self.after = after
