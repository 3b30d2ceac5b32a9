# SPDX-License-Identifier: GPL-2.0-only
"""Several CPUs, concretely: the atomic steps of ops/smp_table.py interleaved.

`System` is what a spec's `[smp]` table describes: the CPUs, the actor each runs (its
compiled step list), the folios and their vmemmap pages.  A state is a flat tuple of
small integers, one per named *cell* (`Layout`): each CPU's program counter and
registers, every vmemmap PTE (frame, writable, valid), every CPU's TLB entry for every
vmemmap page, the two fields of the representative struct page in every frame, the
frames' allocation state, the locks, RCU, the vmemmap PMD, and one `bad.<invariant>`
flag per invariant of invariants/smp.py.

`System.moves(state)` is every atomic step any CPU can take next, with its nondeterministic
choices (a TLB entry that differs from the PTE may have been evicted, or still be used);
check/smp.py enumerates them all (explicit state) and encode/ops/smp.py is the same
semantics as z3 terms, function for function, for BMC over a symbolic schedule.
Sequential consistency: a step's effects are visible to every CPU at once, except
through TLB entries (the one weak-memory effect modelled).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from hvo_verify.ops.smp_table import (
    FREE,
    HUGETLB,
    LEAF,
    LOCKS,
    NULL,
    PG_HEAD,
    POOL_NAMES,
    REGS,
    Cmp,
    CpuSpec,
    Field,
    Instr,
    Prim,
    Protocol,
    cpu_steps,
    optimize,
)

# The invariants each step can break (ids of invariants/smp.py SMP_INVARIANTS).
RO_WRITE = "ro-write"
STALE_STORE = "stale-store"
VMEMMAP_FAULT = "vmemmap-fault"
DEADLOCK = "deadlock-free"
ONLY_HUGETLB = "only-hugetlb-optimized"
REMAP_FROZEN = "remap-frozen"
PGTABLE = "pgtable-source"
BBM = "break-before-make"
HEAD_COPY = "head-copy-agrees"
GRACE = "grace-periods"
FREED_ACCESS = "freed-frame-access"
ONE_OWNER = "one-owner"
HEAD_PRESERVED = "head-preserved"
INVARIANT_IDS = (RO_WRITE, STALE_STORE, VMEMMAP_FAULT, DEADLOCK, ONLY_HUGETLB, REMAP_FROZEN, PGTABLE, BBM,
                 HEAD_COPY, GRACE, FREED_ACCESS, ONE_OWNER, HEAD_PRESERVED)  # fmt: skip
# The events whose reachability shows an invariant was exercised (check/smp.py).
EVENTS = ("store", "load", "set_pte", "populate", "lock", "copy_flush", "sync", "free", "claim")
EVENT_OF = {RO_WRITE: "store", STALE_STORE: "store", VMEMMAP_FAULT: "load", DEADLOCK: "lock",
            ONLY_HUGETLB: "set_pte", REMAP_FROZEN: "set_pte", PGTABLE: "populate", BBM: "set_pte",
            HEAD_COPY: "copy_flush", GRACE: "sync", FREED_ACCESS: "free", ONE_OWNER: "claim",
            HEAD_PRESERVED: "set_pte"}  # fmt: skip

FIELD_CELL = {Field.REFCOUNT: "ref", Field.FLAGS: "flags"}


@dataclass(frozen=True, slots=True)
class CpuProgram:
    """One CPU: the actor it runs, on which folio and page, as a compiled step list
    (labels resolved to indices; branches go forward only)."""

    name: str
    actor: str
    folio: int
    page: int  # vmemmap page (relative to the folio) the actor's page-less steps use
    steps: tuple[Instr, ...]
    targets: tuple[int, ...]  # per step: a BRANCH's target index (len(steps) = return), else -1

    @property
    def max_steps(self) -> int:
        """Atomic steps this CPU takes at most (synchronize_rcu() takes two: start, end;
        a branch is part of the step before it)."""
        return sum(1 + (s.prim is Prim.SYNCHRONIZE_RCU) for s in self.steps if s.prim is not Prim.BRANCH)


def compile_program(name: str, actor: str, folio: int, page: int, steps: list[Instr]) -> CpuProgram:
    """Resolve labels; ValueError on a branch to a missing or earlier label."""
    real: list[Instr] = []
    where: dict[str, int] = {}
    for ins in steps:
        if ins.prim is Prim.LABEL:
            where[ins.name] = len(real)
        else:
            where.setdefault(ins.name, len(real))
            real.append(ins)
    targets = []
    for n, ins in enumerate(real):
        if ins.prim is not Prim.BRANCH:
            targets.append(-1)
            continue
        if ins.label == "":
            targets.append(len(real))
            continue
        if ins.label not in where:
            raise ValueError(f"step {ins.name!r} branches to {ins.label!r}, which is not in the list")
        if where[ins.label] <= n:
            raise ValueError(f"step {ins.name!r} branches back to {ins.label!r}: step lists run forward only")
        targets.append(where[ins.label])
    return CpuProgram(name, actor, folio, page, tuple(real), tuple(targets))


@dataclass(frozen=True, slots=True)
class Layout:
    """Cell names -> indices of the state tuple."""

    names: tuple[str, ...]
    index: dict[str, int] = field(hash=False, compare=False, default_factory=dict)

    @classmethod
    def of(cls, names: list[str]) -> Layout:
        return cls(tuple(names), {n: i for i, n in enumerate(names)})


@dataclass(frozen=True, slots=True)
class System:
    """What `[smp]` describes.  Frames 0..F*V-1 back the folios' vmemmap pages at boot
    (frame k*V + v for page v of folio k); `spare_frames` more are free for
    alloc_pages_node().  `fresh` folios start as just-allocated pages (the actor's page
    an order-0 page with _refcount 1); the others as prepared HugeTLB folios."""

    cpus: tuple[CpuProgram, ...]
    folios: int
    nr_vpages: int
    spare_frames: int = 1
    fresh: tuple[int, ...] = ()
    head_refcount: int = 0  # _refcount of a folio being prepared (HVO at prep): 0 frozen (bd225530a4c7), 1 before
    bbm_required: bool = False  # the architecture forbids replacing a live valid PTE (arm64, s390): BBM_ARCHES
    max_grace_periods: int = 1  # per CPU (B9)
    # Programs run to completion, alone, before the CPUs start (the folios a spec says
    # start optimized): only their effect on memory is kept.
    setup: tuple[CpuProgram, ...] = ()
    shared_tail: bool = False  # one more frame: the 2026 shared page of tail struct pages

    @property
    def tail_frame(self) -> int:
        return self.folios * self.nr_vpages + self.spare_frames

    @property
    def nr_frames(self) -> int:
        return self.folios * self.nr_vpages + self.spare_frames + int(self.shared_tail)

    @property
    def nr_pages(self) -> int:
        """Vmemmap pages in all, every folio's (absolute indices)."""
        return self.folios * self.nr_vpages

    def layout(self) -> Layout:
        names: list[str] = []
        for c in range(len(self.cpus)):
            names += [f"pc.{c}", *(f"r.{c}.{r}" for r in REGS), f"rcu.{c}", f"gp.{c}", f"gpn.{c}",
                      f"cp.{c}.src", f"cp.{c}.dst"]  # fmt: skip
            names += [f"tlb.{c}.{v}" for v in range(self.nr_pages)]
        for v in range(self.nr_pages):
            names += [f"pte.{v}.f", f"pte.{v}.rw", f"pte.{v}.ok"]
        for f in range(self.nr_frames):
            names += [f"m.{f}.ref", f"m.{f}.flags", f"fr.{f}"]
        names += [f"lk.{lock}" for lock in LOCKS] + [f"rd.{lock}" for lock in LOCKS]
        names += [f"pool.{k}" for k in range(self.folios)]
        names += ["pmd"] + [f"bad.{i}" for i in INVARIANT_IDS] + [f"ev.{e}" for e in EVENTS]
        return Layout.of(names)

    def initial_cells(self) -> dict[str, int]:
        """The state before any CPU moves."""
        cells = dict.fromkeys(self.layout().names, 0)
        for c in range(len(self.cpus)):
            cells[f"r.{c}.ok"] = 0
            cells[f"gp.{c}"] = -1
            cells[f"cp.{c}.src"] = cells[f"cp.{c}.dst"] = -1
            for v in range(self.nr_pages):
                cells[f"tlb.{c}.{v}"] = -1
        for v in range(self.nr_pages):
            cells[f"pte.{v}.f"], cells[f"pte.{v}.rw"], cells[f"pte.{v}.ok"] = v, 1, 1
        for k in range(self.folios):
            head = k * self.nr_vpages
            if k in self.fresh:
                cells[f"m.{head}.ref"] = 1  # __folio_alloc(): the head's reference
                page = head + next(p.page for p in self.cpus if p.folio == k)
                cells[f"m.{page}.ref"] = 1  # the order-0 page still in use
            else:
                cells[f"m.{head}.flags"] = 1 | HUGETLB  # PG_head, hugetlb
                cells[f"m.{head}.ref"] = self.head_refcount
                cells[f"pool.{k}"] = FREE
        for f in range(self.nr_pages, self.nr_pages + self.spare_frames):
            cells[f"fr.{f}"] = 2
        for prog in self.setup:
            cells = self._run_alone(prog, cells)
            # an optimized folio waiting on the free list: _refcount 0 in every era (put
            # back by free_huge_folio(), or frozen from v6.10)
            cells[f"m.{cells[f'pte.{prog.folio * self.nr_vpages}.f']}.ref"] = 0
        layout = self.layout()
        for c in range(len(self.cpus)):  # a list that starts with a branch takes it first
            cpu = Cpu(self, layout, cells, c, choice=False)
            cpu.settle()
        return cells

    def _run_alone(self, prog: CpuProgram, cells: dict[str, int]) -> dict[str, int]:
        """Memory after `prog` ran alone from `cells` (its CPU's cells are dropped)."""
        alone = System((prog,), self.folios, self.nr_vpages, self.spare_frames, self.fresh, self.head_refcount,
                       shared_tail=self.shared_tail)  # fmt: skip
        layout = alone.layout()
        mine = dict.fromkeys(layout.names, 0) | {n: v for n, v in cells.items() if n in layout.index}
        mine |= {
            "pc.0": 0,
            "gp.0": -1,
            "cp.0.src": -1,
            "cp.0.dst": -1,
            **{f"tlb.0.{v}": -1 for v in range(self.nr_pages)},
        }
        Cpu(alone, layout, mine, 0, choice=False).settle()
        while mine["pc.0"] < len(prog.steps):
            cpu = Cpu(alone, layout, mine, 0, choice=False)
            run_step(cpu)
            mine = cpu.cells
        memory = ("pte.", "m.", "fr.", "pmd", "pool.")
        return cells | {n: v for n, v in mine.items() if n.startswith(memory)}

    def initial(self) -> tuple[int, ...]:
        cells = self.initial_cells()
        return tuple(cells[n] for n in self.layout().names)

    def done(self, state: tuple[int, ...], c: int) -> bool:
        return state[self.layout().index[f"pc.{c}"]] >= len(self.cpus[c].steps)

    def moves(self, state: tuple[int, ...]) -> Iterator[Move]:
        """Every step a CPU can take from `state` (none when every CPU is done or blocked)."""
        layout = self.layout()
        for c, prog in enumerate(self.cpus):
            pc = state[layout.index[f"pc.{c}"]]
            if pc >= len(prog.steps):
                continue
            cpu = Cpu(self, layout, dict(zip(layout.names, state, strict=True)), c, choice=False)
            if blocked(cpu):
                continue
            for choice in (False, True):
                cpu = Cpu(self, layout, dict(zip(layout.names, state, strict=True)), c, choice=choice)
                run_step(cpu)
                if choice and not cpu.chose:
                    break
                yield Move(c, prog.steps[pc].name, choice, tuple(cpu.cells[n] for n in layout.names),
                           tuple(cpu.notes))  # fmt: skip
                if not cpu.chose:
                    break

    def deadlocked(self, state: tuple[int, ...]) -> bool:
        """Some CPU is not done and every CPU that is not done is blocked."""
        layout = self.layout()
        cells = dict(zip(layout.names, state, strict=True))
        waiting = [c for c in range(len(self.cpus)) if not self.done(state, c)]
        return bool(waiting) and all(blocked(Cpu(self, layout, cells, c, choice=False)) for c in waiting)


@dataclass(frozen=True, slots=True)
class Move:
    cpu: int
    step: str
    choice: bool  # the nondeterministic choice this move took (a stale TLB entry: used / evicted)
    state: tuple[int, ...]
    notes: tuple[str, ...]


@dataclass
class Cpu:
    """One CPU taking one step: the cells it reads and writes, what it noticed."""

    sys: System
    layout: Layout
    cells: dict[str, int]
    c: int
    choice: bool
    chose: bool = False  # the step read `choice` (it had a real alternative)
    notes: list[str] = field(default_factory=list)

    @property
    def prog(self) -> CpuProgram:
        return self.sys.cpus[self.c]

    @property
    def pc(self) -> int:
        return self.cells[f"pc.{self.c}"]

    @property
    def ins(self) -> Instr:
        return self.prog.steps[self.pc]

    def vpage(self, ins: Instr) -> int:
        """The absolute vmemmap page an instruction addresses."""
        rel = self.prog.page if ins.page is None else ins.page
        return self.prog.folio * self.sys.nr_vpages + rel

    def reg(self, name: str) -> int:
        return self.cells[f"r.{self.c}.{name}"]

    def set_reg(self, name: str, value: int) -> None:
        self.cells[f"r.{self.c}.{name}"] = value

    def frame_of(self, ins: Instr) -> int:
        """The frame an instruction's `frame` names."""
        if ins.frame == "reg":
            return self.reg("f")
        if ins.frame == "tail":
            return self.sys.tail_frame
        return self.prog.folio * self.sys.nr_vpages + int(ins.frame.split(":")[1])

    def bad(self, invariant: str, why: str) -> None:
        self.cells[f"bad.{invariant}"] = 1
        self.notes.append(f"VIOLATION {invariant}: {why}")

    def event(self, name: str) -> None:
        self.cells[f"ev.{name}"] = 1

    def advance(self, to: int | None = None) -> None:
        """Go to the next step (or `to`), taking the branches on the way: a branch reads
        only this CPU's registers, so it is part of the step before it, not a step."""
        self.cells[f"pc.{self.c}"] = self.pc + 1 if to is None else to
        self.settle()

    def settle(self) -> None:
        while self.pc < len(self.prog.steps) and self.ins.prim is Prim.BRANCH:
            branch(self)

    def oops(self) -> None:
        """The access faults: this CPU oopses (its later steps do not run)."""
        self.cells[f"pc.{self.c}"] = len(self.prog.steps)

    # -- translation ----------------------------------------------------------------------
    def translate(self, v: int, *, write: bool) -> int | None:
        """The frame an access to vmemmap page v goes to, through this CPU's TLB: a cached
        entry that differs from the PTE is used or (evicted) refilled, as `choice` says.
        None: the access faults (invalid PTE; a store through a read-only entry)."""
        entry = self.cells[f"tlb.{self.c}.{v}"]
        pte = (self.cells[f"pte.{v}.f"], self.cells[f"pte.{v}.rw"], self.cells[f"pte.{v}.ok"])
        current = pte[0] * 2 + pte[1] if pte[2] else -1
        stale = entry != -1 and entry != current
        if stale:
            self.chose = True
        if entry == -1 or (stale and self.choice):
            if not pte[2]:
                self.bad(VMEMMAP_FAULT, f"vmemmap page {v} has no valid PTE: the access faults")
                return None
            entry = current
            self.cells[f"tlb.{self.c}.{v}"] = entry
            stale = False
        frame, rw = entry >> 1, entry & 1
        if write and not rw and stale and pte[2] and pte[1]:
            # x86 spurious_kernel_fault(): a write fault through a stale read-only entry
            # whose PTE is now writable is retried with the current PTE.
            self.notes.append(f"spurious write fault on vmemmap page {v}: retried with the new PTE")
            entry, stale = current, False
            self.cells[f"tlb.{self.c}.{v}"] = entry
            frame, rw = entry >> 1, entry & 1
        if self.cells[f"fr.{frame}"] == 1:
            self.bad(FREED_ACCESS, f"{'store to' if write else 'load from'} vmemmap page {v} reaches frame {frame}, "
                                   "which was freed: a TLB entry outlived free_vmemmap_page_list()")  # fmt: skip
        if write and not rw:
            self.bad(RO_WRITE, f"store to vmemmap page {v} through a read-only translation (frame {frame})")
            return None
        if write and stale:
            self.bad(STALE_STORE, f"store to vmemmap page {v} lands in frame {frame} through a stale TLB entry; "
                                  f"the PTE maps frame {pte[0]}")  # fmt: skip
        elif stale:
            self.notes.append(f"reads vmemmap page {v} through a stale TLB entry (frame {frame})")
        return frame


def run_step(cpu: Cpu) -> None:
    """Run the CPU's next instruction (ops/smp_table.py Prim -> the function of that name)."""
    STEPS[cpu.ins.prim](cpu)
    check_state(cpu)


def blocked(cpu: Cpu) -> bool:
    """The CPU waits: a lock held by another (or by itself), a writer for a reader, a
    grace period whose pre-existing readers have not all left."""
    ins, cells, c = cpu.ins, cpu.cells, cpu.c
    if ins.prim is Prim.LOCK:
        return cells[f"lk.{ins.lock}"] != 0 or cells[f"rd.{ins.lock}"] != 0
    if ins.prim is Prim.DOWN_READ:
        return cells[f"lk.{ins.lock}"] != 0
    if ins.prim is Prim.SYNCHRONIZE_RCU:
        return cells[f"gp.{c}"] > 0
    return False


def check_state(cpu: Cpu) -> None:
    """State invariants after every step: a folio whose vmemmap is remapped is a HugeTLB
    folio (B5, B6: at every instant)."""
    cells, sys = cpu.cells, cpu.sys
    for k in range(sys.folios):
        base = k * sys.nr_vpages
        remapped = any(cells[f"pte.{base + v}.f"] != base + v or not cells[f"pte.{base + v}.rw"]
                       for v in range(sys.nr_vpages))  # fmt: skip
        head = cells[f"pte.{base}.f"]
        if remapped and not cells[f"m.{head}.flags"] & HUGETLB and not cells[f"bad.{ONLY_HUGETLB}"]:
            cpu.bad(ONLY_HUGETLB, f"folio {k}'s vmemmap is remapped but the folio is not a HugeTLB folio")


# -- the primitives (ops/smp_table.py Prim), mirrored in encode/ops/smp.py -------------------


def lock(cpu: Cpu) -> None:
    cpu.cells[f"lk.{cpu.ins.lock}"] = cpu.c + 1
    cpu.event("lock")
    cpu.advance()


def unlock(cpu: Cpu) -> None:
    cpu.cells[f"lk.{cpu.ins.lock}"] = 0
    cpu.advance()


def down_read(cpu: Cpu) -> None:
    cpu.cells[f"rd.{cpu.ins.lock}"] |= 1 << cpu.c
    cpu.event("lock")
    cpu.advance()


def up_read(cpu: Cpu) -> None:
    cpu.cells[f"rd.{cpu.ins.lock}"] &= ~(1 << cpu.c)
    cpu.advance()


def rcu_read_lock(cpu: Cpu) -> None:
    cpu.cells[f"rcu.{cpu.c}"] = 1
    cpu.advance()


def rcu_read_unlock(cpu: Cpu) -> None:
    """Leaving a read section ends it for every grace period that waits for it."""
    cpu.cells[f"rcu.{cpu.c}"] = 0
    for d in range(len(cpu.sys.cpus)):
        if cpu.cells[f"gp.{d}"] > 0:
            cpu.cells[f"gp.{d}"] &= ~(1 << cpu.c)
    cpu.advance()


def synchronize_rcu(cpu: Cpu) -> None:
    """Two atomic steps: start (the CPUs now in a read section are the ones to wait for),
    then return once each of them has left it (blocked() until then)."""
    gp = f"gp.{cpu.c}"
    if cpu.cells[gp] == -1:
        waits = 0
        for d in range(len(cpu.sys.cpus)):
            if d != cpu.c and cpu.cells[f"rcu.{d}"]:
                waits |= 1 << d
        cpu.cells[gp] = waits
        cpu.cells[f"gpn.{cpu.c}"] += 1
        cpu.event("sync")
        if cpu.cells[f"gpn.{cpu.c}"] > cpu.sys.max_grace_periods:
            cpu.bad(GRACE, f"{cpu.cells[f'gpn.{cpu.c}']} grace periods in one batch (at most "
                           f"{cpu.sys.max_grace_periods})")  # fmt: skip
        return
    cpu.cells[gp] = -1
    cpu.advance()


def load(cpu: Cpu) -> None:
    ins = cpu.ins
    frame = cpu.translate(cpu.vpage(ins), write=False)
    if frame is None:
        cpu.oops()
        return
    cpu.set_reg(ins.reg, cpu.cells[f"m.{frame}.{FIELD_CELL[ins.field]}"])
    cpu.event("load")
    cpu.advance()


def _rmw(cpu: Cpu, update: Callable[[int], int]) -> None:
    ins = cpu.ins
    frame = cpu.translate(cpu.vpage(ins), write=True)
    if frame is None:
        cpu.oops()
        return
    cell = f"m.{frame}.{FIELD_CELL[ins.field]}"
    cpu.cells[cell] = update(cpu.cells[cell])
    cpu.event("store")
    cpu.advance()


def store(cpu: Cpu) -> None:
    _rmw(cpu, lambda _old: cpu.ins.value)


def set_bits(cpu: Cpu) -> None:
    _rmw(cpu, lambda old: old | cpu.ins.value)


def clear_bits(cpu: Cpu) -> None:
    _rmw(cpu, lambda old: old & ~cpu.ins.value)


def reset_page(cpu: Cpu) -> None:
    """reset_struct_pages(): the representative in the register's frame is a tail again."""
    frame = cpu.reg(cpu.ins.reg)
    cpu.cells[f"m.{frame}.flags"], cpu.cells[f"m.{frame}.ref"] = 0, 0
    cpu.advance()


def add(cpu: Cpu) -> None:
    """atomic_add_return(): the new value also lands in the instruction's register."""

    def update(old: int) -> int:
        cpu.set_reg(cpu.ins.reg, old + cpu.ins.value)
        return old + cpu.ins.value

    _rmw(cpu, update)


def freeze(cpu: Cpu) -> None:
    """page_ref_freeze(page, count): atomic_cmpxchg(&page->_refcount, count, 0) == count."""

    def update(old: int) -> int:
        cpu.set_reg("ok", int(old == cpu.ins.value))
        return 0 if old == cpu.ins.value else old

    _rmw(cpu, update)


def cmpxchg(cpu: Cpu) -> None:
    """x86 `lock cmpxchg`: the write happens whether or not the compare succeeds (the
    old value is written back), so a read-only PTE faults either way."""
    expected = cpu.reg(cpu.ins.reg)

    def update(old: int) -> int:
        if old == expected:
            cpu.set_reg("ok", 1)
            return old + cpu.ins.value
        cpu.set_reg("ok", 0)
        cpu.set_reg(cpu.ins.reg, old)
        return old

    _rmw(cpu, update)


def cmpxchg_llsc(cpu: Cpu) -> None:
    """arm64 LL/SC cmpxchg: the load-exclusive reads; only an equal compare reaches the
    store-exclusive (one atomic step: a store in between would make the stlxr fail and
    the loop reload)."""
    ins = cpu.ins
    frame = cpu.translate(cpu.vpage(ins), write=False)
    if frame is None:
        cpu.oops()
        return
    old = cpu.cells[f"m.{frame}.{FIELD_CELL[ins.field]}"]
    if old != cpu.reg(ins.reg):
        cpu.set_reg("ok", 0)
        cpu.set_reg(ins.reg, old)
        cpu.event("load")
        cpu.advance()
        return
    cmpxchg(cpu)


def branch(cpu: Cpu) -> None:
    """if (register test) goto label: taken by Cpu.settle() as part of the step before."""
    ins = cpu.ins
    r = cpu.reg(ins.reg)
    taken = {Cmp.EQ: r == ins.value, Cmp.NE: r != ins.value, Cmp.ANY: r & ins.value != 0,
             Cmp.NONE: r & ins.value == 0}[ins.cmp]  # fmt: skip
    cpu.cells[f"pc.{cpu.c}"] = cpu.prog.targets[cpu.pc] if taken else cpu.pc + 1


def _remap_checks(cpu: Cpu, v: int, frame: int, rw: int, valid: int) -> None:
    cells = cpu.cells
    folio = v // cpu.sys.nr_vpages
    head = cells[f"pte.{folio * cpu.sys.nr_vpages}.f"]
    if cells[f"m.{head}.ref"] != 0:
        cpu.bad(REMAP_FROZEN, f"vmemmap page {v} remapped while folio {folio}'s _refcount is "
                              f"{cells[f'm.{head}.ref']}, not frozen at 0")  # fmt: skip
    old = (cells[f"pte.{v}.f"], cells[f"pte.{v}.rw"], cells[f"pte.{v}.ok"])
    if cpu.sys.bbm_required and old[2] and valid and (old[0], old[1]) != (frame, rw):
        cpu.bad(BBM, f"the live valid PTE of vmemmap page {v} changes from frame {old[0]} "
                     f"{'RW' if old[1] else 'RO'} to frame {frame} {'RW' if rw else 'RO'} without break-before-make")  # fmt: skip
    if v % cpu.sys.nr_vpages == 0 and old[2] and valid:
        if cells[f"m.{old[0]}.flags"] & PG_HEAD and not cells[f"m.{frame}.flags"] & PG_HEAD:
            cpu.bad(HEAD_PRESERVED, f"folio {folio}'s head vmemmap page is remapped from frame {old[0]} (the head) "
                                    f"to frame {frame}, which holds no head struct page")  # fmt: skip
    cpu.event("set_pte")


def set_pte(cpu: Cpu) -> None:
    ins = cpu.ins
    v, frame = cpu.vpage(ins), cpu.frame_of(ins)
    _remap_checks(cpu, v, frame, int(ins.rw), 1)
    cpu.cells[f"pte.{v}.f"], cpu.cells[f"pte.{v}.rw"], cpu.cells[f"pte.{v}.ok"] = frame, int(ins.rw), 1
    cpu.advance()


def clear_pte(cpu: Cpu) -> None:
    v = cpu.vpage(cpu.ins)
    _remap_checks(cpu, v, cpu.cells[f"pte.{v}.f"], cpu.cells[f"pte.{v}.rw"], 0)
    cpu.cells[f"pte.{v}.ok"] = 0
    cpu.advance()


def flush_tlb(cpu: Cpu) -> None:
    """flush_tlb_kernel_range() over the folio's vmemmap: every CPU drops its entries
    (the IPIs are waited for: one atomic step).  With a head copy pending, the old and the
    new head frame must agree here: a store that reached only one of them is lost."""
    base = cpu.prog.folio * cpu.sys.nr_vpages
    pages = range(cpu.sys.nr_pages) if cpu.ins.value else range(base, base + cpu.sys.nr_vpages)
    for d in range(len(cpu.sys.cpus)):
        for v in pages:
            cpu.cells[f"tlb.{d}.{v}"] = -1
    src, dst = cpu.cells[f"cp.{cpu.c}.src"], cpu.cells[f"cp.{cpu.c}.dst"]
    if src != -1:
        cpu.event("copy_flush")
        for name in FIELD_CELL.values():
            if cpu.cells[f"m.{src}.{name}"] != cpu.cells[f"m.{dst}.{name}"]:
                cpu.bad(HEAD_COPY, f"the old head frame {src} and its copy {dst} disagree on {name} "
                                   f"({cpu.cells[f'm.{src}.{name}']} != {cpu.cells[f'm.{dst}.{name}']}): a store was lost")  # fmt: skip
                break
    cpu.advance()


def alloc_page(cpu: Cpu) -> None:
    """alloc_pages_node(): the first spare frame (allocation failure is not modelled here)."""
    for f in range(cpu.sys.nr_pages, cpu.sys.nr_frames):
        if cpu.cells[f"fr.{f}"] == 2:
            cpu.cells[f"fr.{f}"] = 0
            cpu.set_reg(cpu.ins.reg, f)
            break
    cpu.advance()


def copy_page(cpu: Cpu) -> None:
    ins = cpu.ins
    src = cpu.translate(cpu.vpage(ins), write=False)
    if src is None:
        cpu.oops()
        return
    dst = cpu.reg(ins.reg)
    for name in FIELD_CELL.values():
        cpu.cells[f"m.{dst}.{name}"] = cpu.cells[f"m.{src}.{name}"]
    if (cpu.prog.page if ins.page is None else ins.page) == 0:  # the head vmemmap page (optimize's head copy)
        cpu.cells[f"cp.{cpu.c}.src"], cpu.cells[f"cp.{cpu.c}.dst"] = src, dst
    cpu.advance()


def free_page(cpu: Cpu) -> None:
    cpu.cells[f"fr.{cpu.frame_of(cpu.ins)}"] = 1
    cpu.event("free")
    cpu.advance()


def pool_state(cpu: Cpu) -> None:
    cpu.set_reg(cpu.ins.reg, cpu.cells[f"pool.{cpu.prog.folio}"])
    cpu.advance()


def claim(cpu: Cpu) -> None:
    """list_del() off the free list: only a folio that is on it (else two paths own it)."""
    cell = f"pool.{cpu.prog.folio}"
    if cpu.cells[cell] != FREE:
        cpu.bad(ONE_OWNER, f"folio {cpu.prog.folio} is taken off the free list while it is "
                           f"{POOL_NAMES[cpu.cells[cell]]}: two paths own it")  # fmt: skip
    cpu.cells[cell] = cpu.ins.value
    cpu.event("claim")
    cpu.advance()


def fake_head(cpu: Cpu) -> None:
    """page_is_fake_head(): the page is not its folio's head, yet its struct page says PG_head
    (it reads the head's through a remapped tail vmemmap page)."""
    ins = cpu.ins
    frame = cpu.translate(cpu.vpage(ins), write=False)
    if frame is None:
        cpu.oops()
        return
    rel = cpu.prog.page if ins.page is None else ins.page
    cpu.set_reg(ins.reg, int(rel != 0 and cpu.cells[f"m.{frame}.flags"] & PG_HEAD != 0))
    cpu.event("load")
    cpu.advance()


def pmd_head(cpu: Cpu) -> None:
    cpu.set_reg(cpu.ins.reg, LEAF if cpu.cells["pmd"] == 0 else NULL)
    cpu.advance()


def pmd_page(cpu: Cpu) -> None:
    """pmd_page(*pmd): the leaf's block, or, after a split, the PTE table page."""
    cpu.set_reg(cpu.ins.reg, LEAF if cpu.cells["pmd"] == 0 else 100 + cpu.cells["pmd"])
    cpu.advance()


def build_ptes(cpu: Cpu) -> None:
    p = cpu.reg(cpu.ins.reg)
    if p != LEAF:
        cpu.bad(PGTABLE, f"the new PTE table is built from page {p} (a PTE-table page), not the PMD leaf's block: "
                         "set_pte_at() of a bogus page")  # fmt: skip
    cpu.advance()


def pmd_populate(cpu: Cpu) -> None:
    if cpu.cells["pmd"] != 0:
        cpu.bad(PGTABLE, f"a second PTE table is installed over CPU{cpu.cells['pmd'] - 1}'s")
    cpu.cells["pmd"] = cpu.c + 1
    cpu.event("populate")
    cpu.advance()


STEPS: dict[Prim, Callable[[Cpu], None]] = {
    Prim.LOCK: lock, Prim.UNLOCK: unlock, Prim.DOWN_READ: down_read, Prim.UP_READ: up_read,
    Prim.RCU_READ_LOCK: rcu_read_lock, Prim.RCU_READ_UNLOCK: rcu_read_unlock,
    Prim.SYNCHRONIZE_RCU: synchronize_rcu, Prim.LOAD: load, Prim.STORE: store, Prim.SET_BITS: set_bits,
    Prim.ADD: add, Prim.CLEAR_BITS: clear_bits, Prim.RESET_PAGE: reset_page, Prim.FREEZE: freeze, Prim.FAKE_HEAD: fake_head, Prim.POOL_STATE: pool_state, Prim.CLAIM: claim, Prim.CMPXCHG: cmpxchg, Prim.CMPXCHG_LLSC: cmpxchg_llsc, Prim.BRANCH: branch, Prim.SET_PTE: set_pte, Prim.CLEAR_PTE: clear_pte,
    Prim.FLUSH_TLB: flush_tlb, Prim.ALLOC_PAGE: alloc_page, Prim.COPY_PAGE: copy_page, Prim.FREE_PAGE: free_page,
    Prim.PMD_HEAD: pmd_head, Prim.PMD_PAGE: pmd_page, Prim.BUILD_PTES: build_ptes, Prim.PMD_POPULATE: pmd_populate,
}  # fmt: skip


def build(
    cpus: tuple[CpuSpec, ...],
    p: Protocol,
    *,
    folios: int,
    nr_vpages: int,
    bbm_required: bool = False,
    max_grace_periods: int = 1,
    optimized: tuple[int, ...] = (),
) -> System:
    """The system a spec describes under era `p` (PatchError / ValueError on bad steps);
    the `optimized` folios start with their vmemmap optimized by the era's remap."""
    programs = tuple(compile_program(c.name, c.actor, c.folio, c.page, cpu_steps(c, p, nr_vpages)) for c in cpus)
    setup = tuple(
        compile_program("setup", "hugetlb_vmemmap_optimize_folio", k, 0, optimize(p, nr_vpages)) for k in optimized
    )
    fresh = tuple(sorted({c.folio for c in cpus if c.actor == "prep_new_hugetlb_folio"}))
    spare = sum(1 for prog in programs + setup for s in prog.steps if s.prim is Prim.ALLOC_PAGE) or 1
    return System(
        programs,
        folios,
        nr_vpages,
        spare_frames=spare,
        fresh=fresh,
        head_refcount=0 if p.refcount_frozen else 1,
        shared_tail=p.shared_tail,
        bbm_required=bbm_required,
        max_grace_periods=max_grace_periods,
        setup=setup,
    )
