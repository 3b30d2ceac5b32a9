# SPDX-License-Identifier: GPL-2.0-only
"""Bounded model checking of several CPUs over a symbolic schedule (issue 12).

`run_smp()` unrolls a `System` (encode/ops/smp_unroll.py) to depth K = the sum of the
CPUs' `CpuProgram.max_steps`: the step lists run forward only, so every complete
interleaving has at most K steps, and every shorter run extends to K by stutters.  For
each invariant of invariants/smp.py (ids: ops/smp.py INVARIANT_IDS):

- violated iff `bad.<invariant>` can be 1 after K steps (`deadlock-free`: some state
  within K steps is deadlocked).  The shortest such schedule is searched for (the flags
  never clear, so "violated within k steps" is monotone in k: binary search), decoded
  (cpu and TLB choice per step, stutters skipped) and replayed on the concrete model
  (ops/smp.py `System.moves()`), state by state; a replay that disagrees raises
  EncodingMismatch (our bug, never a verdict from the solver alone);
- proved only if that query is unsat and the situation is reachable: some schedule runs
  every CPU to its end (else vacuous), and the invariant's witness, its event (ops/smp.py
  EVENT_OF, invariants/smp.py SMP_WITNESSES), can happen (else unreached); a proof
  carries the witness schedule, replayed on the concrete model up to the event;
- unknown when the solver gives up (never proved).

check/smp_enumerate.py is the independent explicit-state check of the same verdicts
(tests/property/test_smp_bmc_vs_enumeration.py).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import z3

from hvo_verify.check.result import CheckResult
from hvo_verify.check.smp_enumerate import Step, first_violation
from hvo_verify.check.solver import Status, new_tactic_solver, solve
from hvo_verify.encode.ops.smp_unroll import SmpUnrolling
from hvo_verify.errors import EncodingMismatch
from hvo_verify.invariants.smp import SMP_WITNESSES
from hvo_verify.ops.smp import DEADLOCK, EVENT_OF, Move, System, build
from hvo_verify.ops.smp_table import PROTOCOLS, CpuSpec
from hvo_verify.verdict import Verdict

CONFIG = "smp"
# Bit-blast after propagating the constants of the initial state and dropping the cells
# no query reads (bench/bench_smp.py measured it against the QF_BV default: 5-20x faster).
TACTICS = ("simplify", "propagate-values", "elim-uncnstr", "simplify", "bit-blast", "sat")


def depth(system: System) -> int:
    """K: every complete interleaving has at most this many steps."""
    return sum(prog.max_steps for prog in system.cpus)


def describe(system: System) -> str:
    return "; ".join(f"{prog.name}: {prog.actor} on folio {prog.folio} page {prog.page}"
                     for prog in system.cpus)  # fmt: skip


def assumptions(system: System) -> tuple[str, ...]:
    k = depth(system)
    fresh = f", folio(s) {', '.join(map(str, system.fresh))} just allocated" if system.fresh else ""
    return (
        describe(system),
        f"every interleaving of at most {k} atomic steps (K = the sum of the CPUs' step bounds "
        f"{' + '.join(str(p.max_steps) for p in system.cpus)}: the step lists run forward only, so K covers "
        "every complete interleaving)",
        f"{system.folios} folio(s) of {system.nr_vpages} vmemmap pages, {system.spare_frames} spare frame(s){fresh}; "
        f"a prepared folio's _refcount is {system.head_refcount}",
        "sequential consistency except through the TLB: a cached entry that differs from the PTE is "
        "either used or refilled (both choices explored)",
        "alloc_pages_node() does not fail",
        f"at most {system.max_grace_periods} grace period(s) per batch"
        + (
            "; a live valid PTE changes only through an invalid one (break-before-make: arm64, s390)"
            if system.bbm_required
            else ""
        ),
    )


@dataclass
class _Queries:
    """One unrolling's queries: a fresh solver each (as check/bmc.py), timed and counted."""

    u: SmpUnrolling
    timeout_ms: int
    seconds: float = 0.0
    count: int = 0
    cache: dict[str, tuple[Status, str, z3.ModelRef | None]] = field(default_factory=dict)
    joint: dict[tuple[str, ...], Status] = field(default_factory=dict)

    def ask(self, goal: z3.BoolRef, k: int) -> tuple[Status, str, z3.ModelRef | None]:
        solver = new_tactic_solver(self.timeout_ms, TACTICS)
        solver.add(*self.u.prefix(k), goal)
        status, why, took = solve(solver)
        self.seconds += took
        self.count += 1
        return status, why, solver.model() if status is Status.SAT else None

    def reachable(self, name: str, goal: z3.BoolRef) -> tuple[Status, str, z3.ModelRef | None]:
        """Cached per unrolling: the invariants share "every CPU ends" and their events.
        A concrete schedule that reaches `goal` is tried first: the unrolling pinned to it
        is one quick query (the z3 side must admit the run, or the proof would be vacuous);
        the open query only when no such schedule is at hand."""
        if name not in self.cache:
            pinned = witness(self.u.system, name)
            status, why, model = self.ask(z3.And(goal, *self.u.pin(pinned)) if pinned else goal, self.u.depth)
            if pinned and status is not Status.SAT:
                status, why, model = self.ask(goal, self.u.depth)
            self.cache[name] = (status, why, model)
        return self.cache[name]


def witness(system: System, name: str) -> list[tuple[int, bool]] | None:
    """A concrete schedule (cpu, TLB choice per step) that runs every CPU to its end and
    makes `name` ("every CPU ends" or an event cell `ev.*`) true: each CPU in turn to its
    end, in every order of the CPUs, then round robin."""
    n = len(system.cpus)
    orders = [list(p) for p in itertools.permutations(range(n))]
    for order in [*orders, None]:
        state = system.initial()
        steps: list[tuple[int, bool]] = []
        turn = 0
        while True:
            moves = list(system.moves(state))
            if not moves:
                break
            movable = sorted({m.cpu for m in moves})
            if order is None:
                cpu = movable[turn % len(movable)]
                turn += 1
            else:
                cpu = next(c for c in order if c in movable)
            move = next(m for m in moves if m.cpu == cpu)
            steps.append((move.cpu, move.choice))
            state = move.state
        index = system.layout().index
        if all(system.done(state, c) for c in range(n)) and (name not in index or state[index[name]] == 1):
            return steps
    return None


_LAST: dict[System, tuple[SmpUnrolling, _Queries]] = {}


def run_smp(
    system: System, invariants: Sequence[str], timeout_ms: int, siblings: Sequence[str] = ()
) -> tuple[CheckResult, ...]:
    """The verdicts of `invariants`; the unrolling and its reachability answers are kept
    for the next call on the same system (the suite checks a spec's invariants one job
    each).  `siblings`: all the invariants the spec checks on this system; one query asks
    whether any of them breaks, and when none can, each is unsat without its own query."""
    if system not in _LAST:
        _LAST.clear()
        u = SmpUnrolling(system, depth(system))
        _LAST[system] = (u, _Queries(u, timeout_ms))
    u, q = _LAST[system]
    q.timeout_ms = timeout_ms
    group = tuple(sorted(set(siblings) | set(invariants)))
    if len(group) > 1 and group not in q.joint:
        status, _why, _model = q.ask(z3.Or([_goal(u, inv, u.depth) for inv in group]), u.depth)
        q.joint[group] = status
    none_breaks = len(group) > 1 and q.joint[group] is Status.UNSAT
    return tuple(_check(u, q, inv, none_breaks) for inv in invariants)


def clear_cache() -> None:
    """Drop the kept unrolling (a patched model must not reuse it)."""
    _LAST.clear()


def _goal(u: SmpUnrolling, invariant: str, k: int) -> z3.BoolRef:
    """The invariant is broken within k steps."""
    if invariant == DEADLOCK:
        return z3.Or([u.deadlocked(t) for t in range(k + 1)])
    return u.states[k][f"bad.{invariant}"] == 1


def _check(u: SmpUnrolling, q: _Queries, invariant: str, none_breaks: bool = False) -> CheckResult:
    texts = assumptions(u.system)
    seconds0, count0 = q.seconds, q.count

    def result(verdict: Verdict, reason: str, schedule: tuple[Step, ...] = (),
               reached: tuple[Step, ...] = ()) -> CheckResult:  # fmt: skip
        return CheckResult("", CONFIG, invariant, verdict, None, texts, reason=reason,
                           solver_seconds=q.seconds - seconds0, queries=q.count - count0,
                           schedule=schedule, witness_schedule=reached, witness_id=EVENT_OF[invariant])  # fmt: skip

    if none_breaks:  # unsat(any of the spec's invariants breaks) covers this one
        status, why, model = Status.UNSAT, "", None
    else:
        status, why, model = q.ask(_goal(u, invariant, u.depth), u.depth)
    if status is Status.UNKNOWN:
        return result(Verdict.UNKNOWN, f"solver: {why}")
    if status is Status.UNSAT:
        end = z3.And(u.all_done(u.depth))
        event = EVENT_OF[invariant]
        model = None
        # Not every CPU can end: vacuous; the invariant's witness (its event) cannot
        # happen: unreached (the same notion as the operation checks, check/bmc.py).
        for name, goal, verdict, missing in (
            ("every CPU ends", end, Verdict.VACUOUS,
             "the invariant holds, but vacuously: no schedule runs every CPU to its end"),
            (f"ev.{event}", u.states[u.depth][f"ev.{event}"] == 1, Verdict.UNREACHED,
             f"the invariant's witness never happens within {u.depth} steps: {SMP_WITNESSES[event]} "
             f"(event `{event}`); nothing relevant was checked"),
        ):  # fmt: skip
            reach, why, model = q.reachable(name, goal)
            if reach is Status.UNKNOWN:
                return result(Verdict.UNKNOWN, f"solver: {why} (while checking that {name} is reachable)")
            if reach is Status.UNSAT:
                return result(verdict, missing)
        assert model is not None
        return result(Verdict.PROVED, "", reached=replay_witness(u, invariant, model, f"ev.{event}"))
    assert model is not None
    # The solver's schedule is replayed (a disagreement is our bug); the schedule printed
    # is the canonical one of the concrete model, which is also the shortest: no query
    # searches for it, unless the state space is too large to walk.
    first = next(k for k in range(u.depth + 1) if z3.is_true(model.eval(_goal(u, invariant, k), model_completion=True)))
    solvers, _reason, _state = replay(u, invariant, model, first)
    canonical = first_violation(u.system, invariant, len(solvers))
    if canonical is not None:
        schedule, state = canonical
        return result(Verdict.VIOLATED, violation_reason(u.system, invariant, schedule, state), schedule)
    k, model, shortest = _shortest(u, q, invariant, model)
    schedule, reason, _state = replay(u, invariant, model, k)
    if not shortest:
        reason += " (a query timed out: maybe not the shortest schedule)"
    return result(Verdict.VIOLATED, reason, schedule)


def _shortest(u: SmpUnrolling, q: _Queries, invariant: str, model: z3.ModelRef) -> tuple[int, z3.ModelRef, bool]:
    """The fewest steps that break the invariant (binary search below the step at which
    the first model breaks it; a model at `high` is kept; a query that gives up counts as
    unsat and the result may not be the shortest)."""
    first = next(k for k in range(u.depth + 1) if z3.is_true(model.eval(_goal(u, invariant, k), model_completion=True)))
    low, high, exact = 1, first, True
    while low < high:
        mid = (low + high) // 2
        status, _why, found = q.ask(_goal(u, invariant, mid), mid)
        if found is not None:
            high, model = mid, found
        else:
            exact = exact and status is Status.UNSAT
            low = mid + 1
    return high, model, exact


def replay_witness(u: SmpUnrolling, invariant: str, model: z3.ModelRef, cell: str) -> tuple[Step, ...]:
    """The witness schedule of a proof: the solver's schedule replayed on the concrete
    model up to the first step that sets `cell` (the invariant's event); a schedule that
    does not reach it there raises EncodingMismatch."""
    system = u.system
    state = system.initial()
    steps: list[Step] = []
    index = u.layout.index.get(cell)
    for t, cpu, choice in decode(u, model, u.depth):
        move = _move(system, state, cpu, choice, f"{invariant}: witness step {t}")
        state = move.state
        steps.append(Step(move.cpu, move.step, move.choice, move.notes))
        if index is not None and state[index] == 1:
            return tuple(steps)
    if index is None:
        return tuple(steps)
    raise EncodingMismatch(f"{describe(system)}: {invariant}: the witness schedule does not reach {cell} "
                           "on the concrete model")  # fmt: skip


def _move(system: System, state: tuple[int, ...], cpu: int, choice: bool, what: str) -> Move:
    """The concrete move of `cpu` with TLB `choice` from `state` (the only one if it has
    one); none: the solver's step is not one the concrete model can take (our bug)."""
    moves = [m for m in system.moves(state) if m.cpu == cpu]
    move = next((m for m in moves if m.choice == choice), moves[0] if len(moves) == 1 else None)
    if move is None:
        raise EncodingMismatch(f"{describe(system)}: {what} runs CPU{cpu}, which cannot move in the concrete model")
    return move


def decode(u: SmpUnrolling, model: z3.ModelRef, k: int) -> list[tuple[int, int, bool]]:
    """The schedule of the first k steps: (step index, cpu, choice), stutters skipped."""
    out = []
    for t in range(k):
        if z3.is_true(model.eval(u.moved[t], model_completion=True)):
            cpu = model.eval(u.sched[t], model_completion=True).as_long()
            out.append((t, cpu, z3.is_true(model.eval(u.choice[t], model_completion=True))))
    return out


def replay(
    u: SmpUnrolling, invariant: str, model: z3.ModelRef, k: int
) -> tuple[tuple[Step, ...], str, tuple[int, ...]]:
    """Run the decoded schedule on the concrete model, comparing every state with the
    solver's; return the replayed steps, what the concrete model says went wrong and
    the final state."""
    system, names = u.system, u.layout.names
    state = system.initial()
    steps: list[Step] = []
    for t, cpu, choice in decode(u, model, k):
        move = _move(system, state, cpu, choice, f"{invariant}: BMC step {t}")
        state = move.state
        steps.append(Step(move.cpu, move.step, move.choice, move.notes))
        solver_state = tuple(model.eval(u.states[t + 1][n], model_completion=True).as_signed_long() for n in names)
        if solver_state != state:
            differ = [
                f"{n}: z3 {a}, concrete {b}" for n, a, b in zip(names, solver_state, state, strict=True) if a != b
            ]
            raise EncodingMismatch(f"{describe(system)}: {invariant}: after BMC step {t} (CPU{cpu} {move.step}) "
                                   f"the z3 and the concrete states differ: {'; '.join(differ)}")  # fmt: skip
    if invariant == DEADLOCK and not system.deadlocked(state):
        raise EncodingMismatch(
            f"{describe(system)}: the BMC deadlock does not replay: the final state is not deadlocked"
        )
    if invariant != DEADLOCK and state[u.layout.index[f"bad.{invariant}"]] != 1:
        raise EncodingMismatch(
            f"{describe(system)}: {invariant}: the BMC schedule does not break it on the concrete model"
        )
    return tuple(steps), violation_reason(system, invariant, tuple(steps), state), state


def violation_reason(system: System, invariant: str, steps: tuple[Step, ...], state: tuple[int, ...]) -> str:
    """What the concrete model says went wrong at the end of `steps` (in `state`)."""
    if invariant == DEADLOCK:
        cells = dict(zip(system.layout().names, state, strict=True))
        waiting = [f"CPU{c} waits at {p.steps[cells[f'pc.{c}']].name}"
                   for c, p in enumerate(system.cpus) if not system.done(state, c)]  # fmt: skip
        return "deadlock: " + ", ".join(waiting)
    mark = f"VIOLATION {invariant}: "
    notes = [n[len(mark) :] for s in steps for n in s.notes if n.startswith(mark)]
    return notes[0] if notes else invariant


def system(era: str, cpus: Sequence[tuple[str, int, int]], *, folios: int, nr_vpages: int,
           bbm_required: bool = False) -> System:  # fmt: skip
    """The system of `cpus` (actor, folio, page) under era `era` (ops/smp_table.py
    PROTOCOLS), as a spec would describe it (ops/smp.py build())."""
    specs = tuple(CpuSpec(f"CPU{c}", actor, folio, page) for c, (actor, folio, page) in enumerate(cpus))
    return build(specs, PROTOCOLS[era], folios=folios, nr_vpages=nr_vpages, bbm_required=bbm_required)


# The CPU pairs of issue 12 (tests/property/test_smp_bmc_vs_enumeration.py,
# bench/bench_smp.py): name -> ((actor, folio, page) per CPU, folios, bbm_required).
EXAMPLES: dict[str, tuple[tuple[tuple[str, int, int], ...], int, bool]] = {
    "walker-vs-prep": ((("get_page_unless_zero", 0, 1), ("prep_new_hugetlb_folio", 0, 1)), 1, False),
    "two-optimizers": ((("hugetlb_vmemmap_optimize_folio", 0, 0), ("hugetlb_vmemmap_optimize_folio", 1, 0)), 2, False),
    "dissolve-vs-hotplug": ((("memory_failure_dissolve", 0, 0), ("cpu_hotplug", 0, 0)), 1, False),
    "poison-vs-prep": ((("memory_failure", 0, 1), ("prep_new_hugetlb_folio", 0, 1)), 1, False),
    "reader-vs-optimizer-arm64": ((("vmemmap_reader", 0, 1), ("hugetlb_vmemmap_optimize_folio", 0, 0)), 1, True),
    # the 2026 review (specs/reviews/2026-shared-tail): arm64's LL/SC cmpxchg, a failed remap's rollback
    "walker-llsc-vs-prep": ((("get_page_unless_zero_llsc", 0, 1), ("prep_new_hugetlb_folio", 0, 1)), 1, False),
    "optimize-rollback": ((("hugetlb_vmemmap_optimize_folio_fail", 0, 0),), 1, False),
}


def example(name: str, era: str, nr_vpages: int = 2) -> System:
    cpus, folios, bbm_required = EXAMPLES[name]
    return system(era, cpus, folios=folios, nr_vpages=nr_vpages, bbm_required=bbm_required)
