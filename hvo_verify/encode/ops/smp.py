# SPDX-License-Identifier: GPL-2.0-only
"""Several CPUs, as z3 terms: the twin of ops/smp.py, function for function.

Every function here has the name of its concrete twin and the same body, line for line,
with two differences a reader can check at a glance:

- A cell holds a z3 bit-vector (`W` bits, signed) instead of a Python int, and a test
  of cell values is a z3 Bool.  Where the concrete side branches on a cell (`if`), this
  side runs both arms under `with cpu.when(condition):`; a store to a cell inside it
  (`cpu.cells[name] = value`) becomes `If(condition, value, old)` (`Cells`).
- A cell the concrete side indexes by a value read from the state (the frame in
  register f, a translated frame, the frames a head copy went from and to) is an
  If-chain over the finite frame range (`Cells.get_at`, `Cells.set_at`).

The program counter of the CPU taking the step is a Python int here: the unrolling
(encode/ops/smp_unroll.py) builds one branch per value of it, so `cpu.ins` is a concrete
`Instr`, exactly as on the concrete side.  The TLB's nondeterministic choice is a free
Bool (`SymCpu.choice`); the notes a concrete step writes are not kept (the trace is the
concrete replay's, check/smp.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field

import z3

from hvo_verify.encode.terms import BV, and_, eq, ite
from hvo_verify.ops.smp import (
    BBM,
    FIELD_CELL,
    FREED_ACCESS,
    GRACE,
    HEAD_COPY,
    HEAD_PRESERVED,
    ONE_OWNER,
    ONLY_HUGETLB,
    PGTABLE,
    REMAP_FROZEN,
    RO_WRITE,
    STALE_STORE,
    VMEMMAP_FAULT,
    CpuProgram,
    Layout,
    System,
)
from hvo_verify.ops.smp_table import FREE, HUGETLB, LEAF, NULL, PG_HEAD, Cmp, Instr, Prim

W = 8  # bits per cell: every value of ops/smp.py fits in [-128, 127] (frames, PTE/TLB words, 100 + pmd, masks)
TRUE = z3.BoolVal(True)


_CONSTANTS: dict[int, BV] = {}


def _is_true(b: z3.BoolRef) -> bool:
    """z3.is_true(b), in one call to z3 (guards are tested on every store)."""
    return b is TRUE or b.eq(TRUE)


def _bv(value: int | BV) -> BV:
    """A cell value as a term (constants made once: the unrolling asks for them millions of times)."""
    if isinstance(value, z3.BitVecRef):
        return value
    term = _CONSTANTS.get(value)
    if term is None:
        term = _CONSTANTS[value] = z3.BitVecVal(value, W)
    return term


class Cells:
    """The cells of one state, read and written like ops/smp.py's dict: a store under a
    guard (`when()`) keeps the old value where the guard is false."""

    def __init__(self, values: dict[str, BV]) -> None:
        self.values = dict(values)
        self.guard: z3.BoolRef = TRUE
        self.written: set[str] = set()  # the cells a step stored to (the unrolling compares only these)
        self.reads: set[str] | None = None  # when a set: the names of the cells read (smp_unroll's memo)

    def __getitem__(self, name: str) -> BV:
        if self.reads is not None:
            self.reads.add(name)
        return self.values[name]

    def __setitem__(self, name: str, value: int | BV) -> None:
        new = _bv(value)
        self.values[name] = new if _is_true(self.guard) else ite(self.guard, new, self.values[name])
        self.written.add(name)

    @contextmanager
    def when(self, condition: z3.BoolRef) -> Iterator[None]:
        outer = self.guard
        self.guard = condition if _is_true(outer) else and_(outer, condition)
        try:
            yield
        finally:
            self.guard = outer

    def get_at(self, template: str, index: BV, count: int) -> BV:
        """cells[template.format(index)] for a symbolic index in [0, count): an If-chain
        (an index outside the range reads cell 0: the concrete side would raise KeyError)."""
        out = self[template.format(0)]
        for n in range(1, count):
            out = ite(eq(index, _bv(n)), self[template.format(n)], out)
        return out

    def set_at(self, template: str, index: BV, count: int, value: int | BV) -> None:
        for n in range(count):
            with self.when(eq(index, _bv(n))):
                self[template.format(n)] = value


@dataclass
class SymCpu:
    """One CPU taking one step at program counter `pc`: ops/smp.py `Cpu` as terms."""

    sys: System
    layout: Layout
    cells: Cells
    c: int
    pc: int  # the branch of the unrolling's If-chain over this CPU's program counter
    choice: z3.BoolRef
    chose: z3.BoolRef = z3.BoolVal(False)  # the step read `choice` (it had a real alternative)
    notes: list[str] = field(default_factory=list)

    @property
    def prog(self) -> CpuProgram:
        return self.sys.cpus[self.c]

    @property
    def ins(self) -> Instr:
        return self.prog.steps[self.pc]

    def when(self, condition: z3.BoolRef) -> AbstractContextManager[None]:
        """What the concrete side does under `if condition:`."""
        return self.cells.when(condition)

    def frame_cell(self, frame: BV, name: str) -> BV:
        """cells[f"m.{frame}.{name}"] for a symbolic frame."""
        return self.cells.get_at("m.{}." + name, frame, self.sys.nr_frames)

    def set_frame_cell(self, frame: BV, name: str, value: int | BV) -> None:
        self.cells.set_at("m.{}." + name, frame, self.sys.nr_frames, value)

    def vpage(self, ins: Instr) -> int:
        """The absolute vmemmap page an instruction addresses."""
        rel = self.prog.page if ins.page is None else ins.page
        return self.prog.folio * self.sys.nr_vpages + rel

    def reg(self, name: str) -> BV:
        return self.cells[f"r.{self.c}.{name}"]

    def set_reg(self, name: str, value: int | BV) -> None:
        self.cells[f"r.{self.c}.{name}"] = value

    def frame_of(self, ins: Instr) -> BV:
        """The frame an instruction's `frame` names."""
        if ins.frame == "reg":
            return self.reg("f")
        if ins.frame == "tail":
            return _bv(self.sys.tail_frame)
        return _bv(self.prog.folio * self.sys.nr_vpages + int(ins.frame.split(":")[1]))

    def bad(self, invariant: str, why: str) -> None:
        self.cells[f"bad.{invariant}"] = 1

    def event(self, name: str) -> None:
        self.cells[f"ev.{name}"] = 1

    def advance(self, to: int | None = None) -> None:
        """Go to the next step (or `to`), taking the branches on the way: a branch reads
        only this CPU's registers, so it is part of the step before it, not a step."""
        self.cells[f"pc.{self.c}"] = self.pc + 1 if to is None else to
        self.settle(self.pc + 1 if to is None else to)

    def settle(self, start: int) -> None:
        """The concrete loop over branches from a known pc, unfolded: each branch on the
        way is a guarded store of the pc (the pc here is a Python int per path)."""
        pc = start
        if pc < len(self.prog.steps) and self.prog.steps[pc].prim is Prim.BRANCH:
            at = SymCpu(self.sys, self.layout, self.cells, self.c, pc, self.choice)
            branch(at)

    def oops(self) -> None:
        """The access faults: this CPU oopses (its later steps do not run)."""
        self.cells[f"pc.{self.c}"] = len(self.prog.steps)

    # -- translation ----------------------------------------------------------------------
    def translate(self, v: int, *, write: bool) -> tuple[BV, z3.BoolRef]:
        """The frame an access to vmemmap page v goes to, and whether it goes anywhere
        (False where the concrete side returns None: the access faults)."""
        entry = self.cells[f"tlb.{self.c}.{v}"]
        pte = (self.cells[f"pte.{v}.f"], self.cells[f"pte.{v}.rw"], self.cells[f"pte.{v}.ok"])
        current = z3.If(pte[2] != 0, pte[0] * 2 + pte[1], _bv(-1))
        stale = z3.And(entry != -1, entry != current)
        self.chose = z3.Or(self.chose, z3.And(self.cells.guard, stale))
        refill = z3.Or(entry == -1, z3.And(stale, self.choice))
        fault = z3.And(refill, pte[2] == 0)
        with self.when(fault):
            self.bad(VMEMMAP_FAULT, f"vmemmap page {v} has no valid PTE: the access faults")
        with self.when(z3.And(refill, pte[2] != 0)):
            self.cells[f"tlb.{self.c}.{v}"] = current
        entry = z3.If(refill, current, entry)
        stale = z3.And(z3.Not(refill), stale)
        if write:
            # x86 spurious_kernel_fault(): a write fault through a stale read-only entry
            # whose PTE is now writable is retried with the current PTE.
            spurious = z3.And(entry & 1 == 0, stale, pte[2] != 0, pte[1] != 0)
            with self.when(spurious):
                self.cells[f"tlb.{self.c}.{v}"] = current
            entry = z3.If(spurious, current, entry)
            stale = z3.And(z3.Not(spurious), stale)
        frame, rw = entry >> 1, entry & 1
        with self.when(z3.And(z3.Not(fault), self.cells.get_at("fr.{}", frame, self.sys.nr_frames) == 1)):
            self.bad(FREED_ACCESS, f"an access to vmemmap page {v} reaches a freed frame")
        ro = z3.And(z3.Not(fault), rw == 0) if write else z3.BoolVal(False)
        with self.when(ro):
            self.bad(RO_WRITE, f"store to vmemmap page {v} through a read-only translation")
        if write:
            with self.when(z3.And(z3.Not(fault), z3.Not(ro), stale)):
                self.bad(STALE_STORE, f"store to vmemmap page {v} through a stale TLB entry")
        return frame, z3.And(z3.Not(fault), z3.Not(ro))


def run_step(cpu: SymCpu) -> None:
    """Run the CPU's next instruction (ops/smp_table.py Prim -> the function of that name).
    The unrolling runs these two lines itself (encode/ops/smp_unroll.py `_run_step()`),
    building check_state()'s terms once for the branches of a step that share its inputs."""
    STEPS[cpu.ins.prim](cpu)
    check_state(cpu)


def blocked(cpu: SymCpu) -> z3.BoolRef:
    """The CPU waits: a lock held by another (or by itself), a writer for a reader, a
    grace period whose pre-existing readers have not all left."""
    ins, cells, c = cpu.ins, cpu.cells, cpu.c
    if ins.prim is Prim.LOCK:
        return z3.Or(cells[f"lk.{ins.lock}"] != 0, cells[f"rd.{ins.lock}"] != 0)
    if ins.prim is Prim.DOWN_READ:
        return cells[f"lk.{ins.lock}"] != 0
    if ins.prim is Prim.SYNCHRONIZE_RCU:
        return cells[f"gp.{c}"] > 0
    return z3.BoolVal(False)


def check_state(cpu: SymCpu) -> None:
    """State invariants after every step: a folio whose vmemmap is remapped is a HugeTLB
    folio (B5, B6: at every instant)."""
    cells, sys = cpu.cells, cpu.sys
    for k in range(sys.folios):
        base = k * sys.nr_vpages
        remapped = z3.Or([z3.Or(cells[f"pte.{base + v}.f"] != base + v, cells[f"pte.{base + v}.rw"] == 0)
                          for v in range(sys.nr_vpages)])  # fmt: skip
        head = cells[f"pte.{base}.f"]
        with cpu.when(
            z3.And(remapped, cpu.frame_cell(head, "flags") & HUGETLB == 0, cells[f"bad.{ONLY_HUGETLB}"] == 0)
        ):
            cpu.bad(ONLY_HUGETLB, f"folio {k}'s vmemmap is remapped but the folio is not a HugeTLB folio")


# -- the primitives (ops/smp_table.py Prim), mirrored from ops/smp.py ------------------------


def lock(cpu: SymCpu) -> None:
    cpu.cells[f"lk.{cpu.ins.lock}"] = cpu.c + 1
    cpu.event("lock")
    cpu.advance()


def unlock(cpu: SymCpu) -> None:
    cpu.cells[f"lk.{cpu.ins.lock}"] = 0
    cpu.advance()


def down_read(cpu: SymCpu) -> None:
    cpu.cells[f"rd.{cpu.ins.lock}"] = cpu.cells[f"rd.{cpu.ins.lock}"] | 1 << cpu.c
    cpu.event("lock")
    cpu.advance()


def up_read(cpu: SymCpu) -> None:
    cpu.cells[f"rd.{cpu.ins.lock}"] = cpu.cells[f"rd.{cpu.ins.lock}"] & ~(1 << cpu.c)
    cpu.advance()


def rcu_read_lock(cpu: SymCpu) -> None:
    cpu.cells[f"rcu.{cpu.c}"] = 1
    cpu.advance()


def rcu_read_unlock(cpu: SymCpu) -> None:
    """Leaving a read section ends it for every grace period that waits for it."""
    cpu.cells[f"rcu.{cpu.c}"] = 0
    for d in range(len(cpu.sys.cpus)):
        with cpu.when(cpu.cells[f"gp.{d}"] > 0):
            cpu.cells[f"gp.{d}"] = cpu.cells[f"gp.{d}"] & ~(1 << cpu.c)
    cpu.advance()


def synchronize_rcu(cpu: SymCpu) -> None:
    """Two atomic steps: start (the CPUs now in a read section are the ones to wait for),
    then return once each of them has left it (blocked() until then)."""
    gp = f"gp.{cpu.c}"
    starting = cpu.cells[gp] == -1
    with cpu.when(starting):
        waits = _bv(0)
        for d in range(len(cpu.sys.cpus)):
            if d != cpu.c:
                waits = z3.If(cpu.cells[f"rcu.{d}"] != 0, waits | 1 << d, waits)
        cpu.cells[gp] = waits
        cpu.cells[f"gpn.{cpu.c}"] = cpu.cells[f"gpn.{cpu.c}"] + 1
        cpu.event("sync")
        with cpu.when(cpu.cells[f"gpn.{cpu.c}"] > cpu.sys.max_grace_periods):
            cpu.bad(GRACE, f"more than {cpu.sys.max_grace_periods} grace periods in one batch")
    with cpu.when(z3.Not(starting)):
        cpu.cells[gp] = -1
        cpu.advance()


def load(cpu: SymCpu) -> None:
    ins = cpu.ins
    frame, ok = cpu.translate(cpu.vpage(ins), write=False)
    with cpu.when(z3.Not(ok)):
        cpu.oops()
    with cpu.when(ok):
        cpu.set_reg(ins.reg, cpu.frame_cell(frame, FIELD_CELL[ins.field]))
        cpu.event("load")
        cpu.advance()


def _rmw(cpu: SymCpu, update: Callable[[BV], BV]) -> None:
    ins = cpu.ins
    frame, ok = cpu.translate(cpu.vpage(ins), write=True)
    with cpu.when(z3.Not(ok)):
        cpu.oops()
    with cpu.when(ok):
        name = FIELD_CELL[ins.field]
        cpu.set_frame_cell(frame, name, update(cpu.frame_cell(frame, name)))
        cpu.event("store")
        cpu.advance()


def store(cpu: SymCpu) -> None:
    _rmw(cpu, lambda _old: _bv(cpu.ins.value))


def set_bits(cpu: SymCpu) -> None:
    _rmw(cpu, lambda old: old | cpu.ins.value)


def clear_bits(cpu: SymCpu) -> None:
    _rmw(cpu, lambda old: old & ~cpu.ins.value)


def reset_page(cpu: SymCpu) -> None:
    """reset_struct_pages(): the representative in the register's frame is a tail again."""
    frame = cpu.reg(cpu.ins.reg)
    cpu.set_frame_cell(frame, "flags", 0)
    cpu.set_frame_cell(frame, "ref", 0)
    cpu.advance()


def add(cpu: SymCpu) -> None:
    """atomic_add_return(): the new value also lands in the instruction's register."""

    def update(old: BV) -> BV:
        cpu.set_reg(cpu.ins.reg, old + cpu.ins.value)
        return old + cpu.ins.value

    _rmw(cpu, update)


def freeze(cpu: SymCpu) -> None:
    """page_ref_freeze(page, count): atomic_cmpxchg(&page->_refcount, count, 0) == count."""

    def update(old: BV) -> BV:
        cpu.set_reg("ok", z3.If(old == cpu.ins.value, _bv(1), _bv(0)))
        return z3.If(old == cpu.ins.value, _bv(0), old)

    _rmw(cpu, update)


def cmpxchg(cpu: SymCpu) -> None:
    """x86 `lock cmpxchg`: the write happens whether or not the compare succeeds (the
    old value is written back), so a read-only PTE faults either way."""
    expected = cpu.reg(cpu.ins.reg)

    def update(old: BV) -> BV:
        with cpu.when(old == expected):
            cpu.set_reg("ok", 1)
        with cpu.when(old != expected):
            cpu.set_reg("ok", 0)
            cpu.set_reg(cpu.ins.reg, old)
        return z3.If(old == expected, old + cpu.ins.value, old)

    _rmw(cpu, update)


def cmpxchg_llsc(cpu: SymCpu) -> None:
    """arm64 LL/SC cmpxchg: the load-exclusive reads; only an equal compare reaches the
    store-exclusive (one atomic step: a store in between would make the stlxr fail and
    the loop reload)."""
    ins = cpu.ins
    frame, ok = cpu.translate(cpu.vpage(ins), write=False)
    with cpu.when(z3.Not(ok)):
        cpu.oops()
    with cpu.when(ok):
        old = cpu.frame_cell(frame, FIELD_CELL[ins.field])
        differs = old != cpu.reg(ins.reg)
        with cpu.when(differs):
            cpu.set_reg("ok", 0)
            cpu.set_reg(ins.reg, old)
            cpu.event("load")
            cpu.advance()
        with cpu.when(z3.Not(differs)):
            cmpxchg(cpu)


def branch(cpu: SymCpu) -> None:
    """if (register test) goto label: taken by SymCpu.settle() as part of the step before."""
    ins = cpu.ins
    r = cpu.reg(ins.reg)
    taken = {Cmp.EQ: r == ins.value, Cmp.NE: r != ins.value, Cmp.ANY: r & ins.value != 0,
             Cmp.NONE: r & ins.value == 0}[ins.cmp]  # fmt: skip
    with cpu.when(taken):
        cpu.cells[f"pc.{cpu.c}"] = cpu.prog.targets[cpu.pc]
        cpu.settle(cpu.prog.targets[cpu.pc])
    with cpu.when(z3.Not(taken)):
        cpu.cells[f"pc.{cpu.c}"] = cpu.pc + 1
        cpu.settle(cpu.pc + 1)


def _remap_checks(cpu: SymCpu, v: int, frame: BV, rw: int | BV, valid: int) -> None:
    cells = cpu.cells
    folio = v // cpu.sys.nr_vpages
    head = cells[f"pte.{folio * cpu.sys.nr_vpages}.f"]
    with cpu.when(cpu.frame_cell(head, "ref") != 0):
        cpu.bad(REMAP_FROZEN, f"vmemmap page {v} remapped while folio {folio}'s _refcount is not frozen at 0")
    old = (cells[f"pte.{v}.f"], cells[f"pte.{v}.rw"], cells[f"pte.{v}.ok"])
    if cpu.sys.bbm_required and valid:
        with cpu.when(z3.And(old[2] != 0, z3.Or(old[0] != frame, old[1] != rw))):
            cpu.bad(BBM, f"the live valid PTE of vmemmap page {v} changes without break-before-make")
    if v % cpu.sys.nr_vpages == 0 and valid:
        was_head = cpu.frame_cell(old[0], "flags") & PG_HEAD != 0
        with cpu.when(z3.And(old[2] != 0, was_head, cpu.frame_cell(_bv(frame), "flags") & PG_HEAD == 0)):
            cpu.bad(HEAD_PRESERVED, f"folio {folio}'s head vmemmap page is remapped to a frame with no head")
    cpu.event("set_pte")


def set_pte(cpu: SymCpu) -> None:
    ins = cpu.ins
    v, frame = cpu.vpage(ins), cpu.frame_of(ins)
    _remap_checks(cpu, v, frame, int(ins.rw), 1)
    cpu.cells[f"pte.{v}.f"], cpu.cells[f"pte.{v}.rw"], cpu.cells[f"pte.{v}.ok"] = frame, int(ins.rw), 1
    cpu.advance()


def clear_pte(cpu: SymCpu) -> None:
    v = cpu.vpage(cpu.ins)
    _remap_checks(cpu, v, cpu.cells[f"pte.{v}.f"], cpu.cells[f"pte.{v}.rw"], 0)
    cpu.cells[f"pte.{v}.ok"] = 0
    cpu.advance()


def flush_tlb(cpu: SymCpu) -> None:
    """flush_tlb_kernel_range() over the folio's vmemmap (or flush_tlb_all() when the
    instruction's value says so): every CPU drops its entries.  With a head copy
    pending, the old and the new head frame must agree here."""
    base = cpu.prog.folio * cpu.sys.nr_vpages
    pages = range(cpu.sys.nr_pages) if cpu.ins.value else range(base, base + cpu.sys.nr_vpages)
    for d in range(len(cpu.sys.cpus)):
        for v in pages:
            cpu.cells[f"tlb.{d}.{v}"] = -1
    src, dst = cpu.cells[f"cp.{cpu.c}.src"], cpu.cells[f"cp.{cpu.c}.dst"]
    with cpu.when(src != -1):
        cpu.event("copy_flush")
        differ = z3.Or([cpu.frame_cell(src, name) != cpu.frame_cell(dst, name) for name in FIELD_CELL.values()])
        with cpu.when(differ):
            cpu.bad(HEAD_COPY, "the old head frame and its copy disagree: a store was lost")
    cpu.advance()


def alloc_page(cpu: SymCpu) -> None:
    """alloc_pages_node(): the first spare frame (allocation failure is not modelled here)."""
    found = z3.BoolVal(False)
    for f in range(cpu.sys.nr_pages, cpu.sys.nr_frames):
        first = z3.And(z3.Not(found), cpu.cells[f"fr.{f}"] == 2)
        with cpu.when(first):
            cpu.cells[f"fr.{f}"] = 0
            cpu.set_reg(cpu.ins.reg, f)
        found = z3.Or(found, first)
    cpu.advance()


def copy_page(cpu: SymCpu) -> None:
    ins = cpu.ins
    src, ok = cpu.translate(cpu.vpage(ins), write=False)
    with cpu.when(z3.Not(ok)):
        cpu.oops()
    with cpu.when(ok):
        dst = cpu.reg(ins.reg)
        for name in FIELD_CELL.values():
            cpu.set_frame_cell(dst, name, cpu.frame_cell(src, name))
        if (cpu.prog.page if ins.page is None else ins.page) == 0:  # the head vmemmap page (optimize's head copy)
            cpu.cells[f"cp.{cpu.c}.src"], cpu.cells[f"cp.{cpu.c}.dst"] = src, dst
        cpu.advance()


def free_page(cpu: SymCpu) -> None:
    cpu.cells.set_at("fr.{}", cpu.frame_of(cpu.ins), cpu.sys.nr_frames, 1)
    cpu.event("free")
    cpu.advance()


def fake_head(cpu: SymCpu) -> None:
    """page_is_fake_head(): the page is not its folio's head, yet its struct page says PG_head
    (it reads the head's through a remapped tail vmemmap page)."""
    ins = cpu.ins
    frame, ok = cpu.translate(cpu.vpage(ins), write=False)
    with cpu.when(z3.Not(ok)):
        cpu.oops()
    with cpu.when(ok):
        rel = cpu.prog.page if ins.page is None else ins.page
        head_bit = cpu.frame_cell(frame, "flags") & PG_HEAD != 0
        cpu.set_reg(ins.reg, z3.If(z3.And(rel != 0, head_bit), _bv(1), _bv(0)))
        cpu.event("load")
        cpu.advance()


def pool_state(cpu: SymCpu) -> None:
    cpu.set_reg(cpu.ins.reg, cpu.cells[f"pool.{cpu.prog.folio}"])
    cpu.advance()


def claim(cpu: SymCpu) -> None:
    """list_del() off the free list: only a folio that is on it (else two paths own it)."""
    cell = f"pool.{cpu.prog.folio}"
    with cpu.when(cpu.cells[cell] != FREE):
        cpu.bad(ONE_OWNER, f"folio {cpu.prog.folio} is taken off the free list while it is not on it")
    cpu.cells[cell] = cpu.ins.value
    cpu.event("claim")
    cpu.advance()


def pmd_head(cpu: SymCpu) -> None:
    cpu.set_reg(cpu.ins.reg, z3.If(cpu.cells["pmd"] == 0, _bv(LEAF), _bv(NULL)))
    cpu.advance()


def pmd_page(cpu: SymCpu) -> None:
    """pmd_page(*pmd): the leaf's block, or, after a split, the PTE table page."""
    cpu.set_reg(cpu.ins.reg, z3.If(cpu.cells["pmd"] == 0, _bv(LEAF), 100 + cpu.cells["pmd"]))
    cpu.advance()


def build_ptes(cpu: SymCpu) -> None:
    p = cpu.reg(cpu.ins.reg)
    with cpu.when(p != LEAF):
        cpu.bad(PGTABLE, "the new PTE table is built from a PTE-table page, not the PMD leaf's block")
    cpu.advance()


def pmd_populate(cpu: SymCpu) -> None:
    with cpu.when(cpu.cells["pmd"] != 0):
        cpu.bad(PGTABLE, "a second PTE table is installed over another CPU's")
    cpu.cells["pmd"] = cpu.c + 1
    cpu.event("populate")
    cpu.advance()


STEPS: dict[Prim, Callable[[SymCpu], None]] = {
    Prim.LOCK: lock, Prim.UNLOCK: unlock, Prim.DOWN_READ: down_read, Prim.UP_READ: up_read,
    Prim.RCU_READ_LOCK: rcu_read_lock, Prim.RCU_READ_UNLOCK: rcu_read_unlock,
    Prim.SYNCHRONIZE_RCU: synchronize_rcu, Prim.LOAD: load, Prim.STORE: store, Prim.SET_BITS: set_bits,
    Prim.ADD: add, Prim.CLEAR_BITS: clear_bits, Prim.RESET_PAGE: reset_page, Prim.FREEZE: freeze, Prim.FAKE_HEAD: fake_head, Prim.POOL_STATE: pool_state, Prim.CLAIM: claim, Prim.CMPXCHG: cmpxchg, Prim.CMPXCHG_LLSC: cmpxchg_llsc, Prim.BRANCH: branch, Prim.SET_PTE: set_pte, Prim.CLEAR_PTE: clear_pte,
    Prim.FLUSH_TLB: flush_tlb, Prim.ALLOC_PAGE: alloc_page, Prim.COPY_PAGE: copy_page, Prim.FREE_PAGE: free_page,
    Prim.PMD_HEAD: pmd_head, Prim.PMD_PAGE: pmd_page, Prim.BUILD_PTES: build_ptes, Prim.PMD_POPULATE: pmd_populate,
}  # fmt: skip
