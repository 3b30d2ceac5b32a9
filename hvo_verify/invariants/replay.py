# SPDX-License-Identifier: GPL-2.0-only
"""Replaying an operation trace on the concrete model against the invariants over
reachable states: what BMC counterexamples, exploration and `hvo-verify replay` run."""

from __future__ import annotations

from dataclasses import dataclass

from hvo_verify.invariants.reachable import FAULT_INVARIANTS, OP_INVARIANTS
from hvo_verify.ops.machine import Machine
from hvo_verify.ops.state import KState, Outcome
from hvo_verify.ops.trace import Trace, TraceStep


def check_step(m: Machine, before: KState, out: Outcome, invariants: tuple[str, ...]) -> tuple[str, str] | None:
    """The first violated invariant after one step: (id, message).  A step that oopsed
    leaves no state to judge: only the fault invariants apply to it (as in the BMC)."""
    for inv_id in invariants:
        if out.fault is not None and inv_id not in FAULT_INVARIANTS:
            continue
        message = OP_INVARIANTS[inv_id].check(m, before, out)
        if message is not None:
            return inv_id, message
    return None


@dataclass(frozen=True, slots=True)
class Replayed:
    """One replayed step: the call, its outcome, and the violations it shows."""

    step: TraceStep
    before: KState
    outcome: Outcome | None  # None: the operation was not enabled in this state
    violation: tuple[str, str] | None


def replay(trace: Trace, invariants: tuple[str, ...]) -> list[Replayed]:
    """Run the trace on the concrete model; stop after a disabled step, an oops, or the
    first violation of one of `invariants`."""
    m = trace.machine()
    state = m.initial()
    out: list[Replayed] = []
    for step in trace.steps:
        args = dict(step.args)
        if not m.enabled(state, step.op) or not m.args_ok(step.op, args):
            out.append(Replayed(step, state, None, None))
            break
        outcome = m.apply(state, step.op, args)
        violation = check_step(m, state, outcome, invariants)
        out.append(Replayed(step, state, outcome, violation))
        if violation is not None or outcome.fault is not None:
            break
        state = outcome.state
    return out
