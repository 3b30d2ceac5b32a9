# SPDX-License-Identifier: GPL-2.0-only
"""Every interleaving of a `System`, by explicit-state breadth-first search.

The independent check of the BMC verdicts (check/smp.py): it runs only the concrete
semantics (ops/smp.py), visits every reachable state once, and keeps for each invariant
the shortest schedule that breaks it.  Deadlock is a state in which some CPU is not done
and every such CPU is blocked.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from hvo_verify.ops.smp import DEADLOCK, INVARIANT_IDS, Move, System


@dataclass(frozen=True, slots=True)
class Step:
    """One atomic step of a schedule, with what the concrete model noticed."""

    cpu: int
    step: str
    choice: bool
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Enumeration:
    states: int
    violations: dict[str, tuple[Step, ...]]  # invariant -> the shortest schedule breaking it
    events: frozenset[str]  # ev.* cells set in some reachable state
    completes: bool  # some schedule runs every CPU to its end
    complete: bool  # False: stopped at max_states (nothing may be concluded from the rest)
    seconds: float


class TooManyStates(Exception):
    pass


def enumerate_all(system: System, max_states: int = 2_000_000) -> Enumeration:
    start = time.perf_counter()
    layout = system.layout()
    init = system.initial()
    parent: dict[tuple[int, ...], tuple[tuple[int, ...], Move] | None] = {init: None}
    queue = deque([init])
    found: dict[str, tuple[Step, ...]] = {}
    bad_cells = [(i, layout.index[f"bad.{i}"]) for i in INVARIANT_IDS]
    event_cells = [(n.split(".", 1)[1], i) for n, i in layout.index.items() if n.startswith("ev.")]
    events: set[str] = set()
    completes = False
    ncpu = len(system.cpus)
    complete = True

    def path(state: tuple[int, ...]) -> tuple[Step, ...]:
        return _path(parent, state)

    while queue:
        state = queue.popleft()
        events.update(name for name, i in event_cells if state[i])
        if all(system.done(state, c) for c in range(ncpu)):
            completes = True
        elif DEADLOCK not in found and system.deadlocked(state):
            found[DEADLOCK] = path(state)
        for move in system.moves(state):
            nxt = move.state
            if nxt in parent:
                continue
            parent[nxt] = (state, move)
            for name, i in bad_cells:
                if nxt[i] and not state[i] and name not in found:
                    found[name] = path(nxt)
            if len(parent) > max_states:
                complete = False
                queue.clear()
                break
            queue.append(nxt)
    return Enumeration(len(parent), found, frozenset(events), completes, complete, time.perf_counter() - start)


def run_schedule(
    system: System, picks: Sequence[tuple[int, int, bool]], stop_on: str = ""
) -> tuple[tuple[Step, ...], tuple[int, ...]]:
    """Run a schedule of bursts: each pick (cpu, n, choice) runs the CPU at index
    (cpu mod the number that can move) of those that can move, for up to n steps, with
    that TLB choice; after the picks run out the CPUs that can move go in order.  Stops
    when no CPU can move, or as soon as invariant `stop_on` breaks."""
    state = system.initial()
    out: list[Step] = []
    queue = [(cpu, choice) for cpu, n, choice in picks for _ in range(max(1, n))]
    k = 0
    while True:
        moves = list(system.moves(state))
        if not moves or (stop_on and violated(system, state, stop_on)):
            return tuple(out), state
        cpus = sorted({m.cpu for m in moves})
        cpu, choice = (cpus[queue[k][0] % len(cpus)], queue[k][1]) if k < len(queue) else (cpus[0], False)
        k += 1
        move = next((m for m in moves if m.cpu == cpu and m.choice == choice), None) or next(
            m for m in moves if m.cpu == cpu
        )
        out.append(Step(move.cpu, move.step, move.choice, move.notes))
        state = move.state


def violated(system: System, state: tuple[int, ...], invariant: str) -> bool:
    """Whether `state` (a state no CPU can move from, for deadlock) breaks the invariant."""
    if invariant == DEADLOCK:
        return system.deadlocked(state)
    return bool(state[system.layout().index[f"bad.{invariant}"]])


_Parents = dict[tuple[int, ...], tuple[tuple[int, ...], Move] | None]


def first_violation(
    system: System, invariant: str, max_moves: int, max_states: int = 200_000
) -> tuple[tuple[Step, ...], tuple[int, ...]] | None:
    """The canonical schedule breaking `invariant`: the first, in breadth-first order of
    `System.moves()` (CPU order, then TLB choice), of the shortest schedules of at most
    `max_moves` moves that break it, and its final state.  It depends on the concrete
    semantics only (not on z3's model, the hash seed or what a process checked before):
    check/smp.py prints it instead of the solver's schedule of the same length.  None
    when no such schedule exists or more than `max_states` states would be visited."""
    init = system.initial()
    parent: _Parents = {init: None}
    frontier = [init]
    for depth in range(max_moves + 1):
        for state in frontier:
            if violated(system, state, invariant):
                return _path(parent, state), state
        if depth == max_moves:
            break
        following: list[tuple[int, ...]] = []
        for state in frontier:
            for move in system.moves(state):
                if move.state in parent:
                    continue
                parent[move.state] = (state, move)
                following.append(move.state)
                if len(parent) > max_states:
                    return None
        frontier = following
    return None


def _path(parent: _Parents, state: tuple[int, ...]) -> tuple[Step, ...]:
    """The schedule from the initial state to `state` along the search's parent links."""
    out: list[Step] = []
    link = parent[state]
    while link is not None:
        prev, move = link
        out.append(Step(move.cpu, move.step, move.choice, move.notes))
        link = parent[prev]
    return tuple(reversed(out))
