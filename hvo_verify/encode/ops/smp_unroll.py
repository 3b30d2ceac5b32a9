# SPDX-License-Identifier: GPL-2.0-only
"""Several CPUs unrolled over a symbolic schedule: ops/smp.py `System.moves()` as z3 terms.

State t is one bit-vector per cell of `System.layout()` (encode/ops/smp.py `W` bits).
Step t has a schedule variable `sched[t]` in [0, ncpu) and a free Bool `choice[t]` (the
TLB choice of ops/smp.py `Cpu.translate`).  The CPU `sched[t]` names runs the
instruction at its program counter: an If-chain over the program counters that CPU can
have after t steps, each branch built by encode/ops/smp.py `run_step()` on a copy of the
cells (`_run_step()`: the same two calls, check_state() shared between branches).  A
CPU that is done or `blocked()` leaves the state unchanged (a stutter); since some CPU
can always move or stutter, every run of fewer steps extends to `depth`, and the
`bad.*` and `ev.*` cells, which are never cleared, say at step `depth` whether anything
within `depth` steps set them.
"""

from __future__ import annotations

from dataclasses import dataclass

import z3

from hvo_verify.encode.ops import smp as sym  # STEPS and check_state at call time: tests patch them
from hvo_verify.encode.ops.smp import Cells, SymCpu, W, blocked
from hvo_verify.encode.terms import BV
from hvo_verify.ops.smp import CpuProgram, Layout, System
from hvo_verify.ops.smp_table import Prim

SCHED_BITS = 8


def reachable_pcs(prog: CpuProgram, depth: int) -> list[frozenset[int]]:
    """The program counters a CPU can have after t of its own steps or fewer, t = 0..depth
    (a step goes to the next step or a branch target, past the branches on the way
    (ops/smp.py Cpu.settle()), to the end (an oops), or stays (synchronize_rcu() starting))."""
    end = len(prog.steps)

    def settled(p: int) -> set[int]:
        if p >= end or prog.steps[p].prim is not Prim.BRANCH:
            return {min(p, end)}
        return settled(p + 1) | settled(prog.targets[p])

    out = [frozenset(settled(0))]
    for _ in range(depth):
        now = set(out[-1])
        for p in out[-1]:
            if p < end:
                now |= settled(p + 1) | {end}
        out.append(frozenset(now))
    return out


@dataclass
class SmpUnrolling:
    system: System
    layout: Layout
    depth: int
    states: list[dict[str, BV]]  # states[t]: the cells after t steps, t = 0..depth
    sched: list[BV]  # sched[t]: the CPU that takes step t
    choice: list[z3.BoolRef]  # choice[t]: a stale TLB entry is refilled (True) or used
    moved: list[z3.BoolRef]  # moved[t]: step t is a real step (not a stutter)
    side: list[list[z3.BoolRef]]  # side[t]: the definitions of step t (sched range, state t + 1)

    def prefix(self, k: int) -> list[z3.BoolRef]:
        """The constraints of the first k steps."""
        return [expr for t in range(k) for expr in self.side[t]]

    def pin(self, schedule: list[tuple[int, bool]]) -> list[z3.BoolRef]:
        """The schedule fixed to a concrete one, (cpu, TLB choice) per step; stutters after."""
        out: list[z3.BoolRef] = []
        for t in range(self.depth):
            if t < len(schedule):
                cpu, choice = schedule[t]
                out += [self.sched[t] == cpu, self.choice[t] == choice, self.moved[t]]
            else:
                out.append(z3.Not(self.moved[t]))
        return out

    def done(self, t: int, c: int) -> z3.BoolRef:
        return self.states[t][f"pc.{c}"] >= len(self.system.cpus[c].steps)

    def all_done(self, t: int) -> z3.BoolRef:
        return z3.And([self.done(t, c) for c in range(len(self.system.cpus))])

    def blocked_at(self, t: int, c: int) -> z3.BoolRef:
        """ops/smp.py blocked() of CPU c in state t, over the program counters it can have."""
        pcs = sorted(p for p in self._pcs[c][t] if p < len(self.system.cpus[c].steps))
        return z3.Or([z3.And(self.states[t][f"pc.{c}"] == p, blocked(self._cpu(t, c, p))) for p in pcs] or [False])

    def deadlocked(self, t: int) -> z3.BoolRef:
        """ops/smp.py System.deadlocked(): some CPU is not done and every CPU that is not done is blocked."""
        ncpu = len(self.system.cpus)
        return z3.And(
            z3.Or([z3.Not(self.done(t, c)) for c in range(ncpu)]),
            *(z3.Or(self.done(t, c), self.blocked_at(t, c)) for c in range(ncpu)),
        )

    def _cpu(self, t: int, c: int, p: int) -> SymCpu:
        choice = self.choice[t] if t < len(self.choice) else z3.BoolVal(False)  # (blocked() reads no choice)
        return SymCpu(self.system, self.layout, Cells(self.states[t]), c, p, choice)

    def __init__(self, system: System, depth: int) -> None:
        # The largest cell values: a TLB entry (frame * 2 + rw), 100 + pmd, a CPU mask.
        if system.nr_frames * 2 + 1 >= 1 << (W - 1) or len(system.cpus) > W - 2:
            raise ValueError(f"{system.nr_frames} frames, {len(system.cpus)} CPUs: cells overflow {W} bits")
        self.system, self.layout, self.depth = system, system.layout(), depth
        initial = system.initial_cells()
        self.states = [{name: z3.BitVecVal(initial[name], W) for name in self.layout.names}]
        self.sched, self.choice, self.moved, self.side = [], [], [], []
        self._pcs = [reachable_pcs(prog, depth) for prog in system.cpus]
        # check_state() after each branch of a step: (the cells it reads, by name) and its
        # result by the terms in them (kept alive with it: a freed term's id can be reused)
        self._state_reads: tuple[str, ...] | None = None
        self._state_memo: dict[tuple[int, ...], tuple[list[BV], dict[str, BV]]] = {}
        for t in range(depth):
            self._step(t)

    def _run_step(self, cpu: SymCpu) -> None:
        """encode/ops/smp.py run_step(), with check_state() built once per combination of
        the terms it reads: most branches of a step leave the page tables and the struct
        pages' flags as they were, and it reads nothing else (its read set is fixed by
        the system: found on its first call)."""
        sym.STEPS[cpu.ins.prim](cpu)
        cells = cpu.cells
        if self._state_reads is None:
            cells.reads = set()  # the first call: record what check_state() reads
        else:
            hit = self._state_memo.get(self._state_key(cells.guard, cells.values))
            if hit is not None:
                for name, value in hit[1].items():
                    cells[name] = value
                return
        before = dict(cells.values)
        sym.check_state(cpu)
        if self._state_reads is None:
            assert cells.reads is not None
            self._state_reads, cells.reads = tuple(sorted(cells.reads)), None
        alive = [cells.guard, *(before[n] for n in self._state_reads)]
        changed = {n: cells[n] for n in cells.written if not cells[n].eq(before[n])}
        self._state_memo[self._state_key(cells.guard, before)] = (alive, changed)

    def _state_key(self, guard: z3.BoolRef, values: dict[str, BV]) -> tuple[int, ...]:
        assert self._state_reads is not None
        return (guard.get_id(), *(values[n].get_id() for n in self._state_reads))

    def _step(self, t: int) -> None:
        sched, choice = z3.BitVec(f"sched_{t}", SCHED_BITS), z3.Bool(f"choice_{t}")
        self.sched.append(sched)
        self.choice.append(choice)
        now = self.states[t]
        changes: dict[str, list[tuple[z3.BoolRef, BV]]] = {}
        moves: list[z3.BoolRef] = []
        able: list[z3.BoolRef] = []  # some CPU can move
        chose: list[z3.BoolRef] = []
        for c, prog in enumerate(self.system.cpus):
            for p in sorted(self._pcs[c][t]):
                if p >= len(prog.steps):
                    continue
                cpu = self._cpu(t, c, p)
                waits = blocked(cpu)
                self._run_step(cpu)
                go = z3.And(sched == c, now[f"pc.{c}"] == p, z3.Not(waits))
                moves.append(go)
                able.append(z3.And(now[f"pc.{c}"] == p, z3.Not(waits)))
                if not z3.is_false(cpu.chose):
                    chose.append(z3.And(go, cpu.chose))
                for name in sorted(cpu.cells.written, key=self.layout.index.__getitem__):
                    value = cpu.cells[name]
                    if not value.eq(now[name]):
                        changes.setdefault(name, []).append((go, value))
        self.moved.append(z3.Or(moves) if moves else z3.BoolVal(False))
        # Symmetry: a stutter only when no CPU can move (a concrete run never stutters; it
        # ends when System.moves() is empty), and choice[t] is False unless the step had a
        # real alternative (Move.choice: the concrete side offers True only then).
        side = [z3.ULT(sched, len(self.system.cpus)), z3.Implies(z3.Or(able), self.moved[t]),
                z3.Implies(choice, z3.Or(chose) if chose else z3.BoolVal(False))]  # fmt: skip
        after: dict[str, BV] = {}
        for name in self.layout.names:
            if name not in changes:
                after[name] = now[name]
                continue
            value = now[name]
            for go, new in reversed(changes[name]):
                value = z3.If(go, new, value)
            after[name] = z3.BitVec(f"s{t + 1}.{name}", W)
            side.append(after[name] == value)
        self.side.append(side)
        self.states.append(after)
