# SPDX-License-Identifier: GPL-2.0-only
"""The one place that calls Solver.check(): maps sat/unsat/unknown, times the call;
also checks groups of assumptions for satisfiability (vacuity)."""

from __future__ import annotations

import enum
import time
from collections.abc import Sequence

import z3

from hvo_verify.check.runctl import raise_if_stopped

# Fixed seeds: the same spec gives the same verdicts and counterexamples run after run.
SEED = 0
_seed = [SEED]


def z3_version() -> str:
    """The z3 library's version, as the JSON documents and explain's provenance line name it."""
    return str(z3.get_version_string())


def set_seed(seed: int) -> None:
    """z3's random seeds (global and per solver).  Output must not depend on them:
    counterexamples and traces are canonicalised (the self-check runs with another
    seed to show it); the default, SEED, is fixed for reproducible solver times."""
    z3.set_param("smt.random_seed", seed)
    z3.set_param("sat.random_seed", seed)
    _seed[0] = seed


set_seed(SEED)


class Status(enum.Enum):
    SAT = "sat"
    UNSAT = "unsat"
    UNKNOWN = "unknown"


def new_solver(timeout_ms: int) -> z3.Solver:
    solver = z3.SolverFor("QF_BV")
    solver.set("timeout", timeout_ms)
    solver.set("random_seed", _seed[0])
    return solver


def new_tactic_solver(timeout_ms: int, tactics: Sequence[str]) -> z3.Solver:
    """A solver running the named z3 tactics in order (check/smp.py: an unrolled
    transition system, bit-blasted after constant propagation, is 5-20x faster this way
    than with the QF_BV default, whose equation solving re-inlines every state)."""
    solver = z3.Then(*tactics).solver()
    solver.set("timeout", timeout_ms)
    return solver


def solve(solver: z3.Solver) -> tuple[Status, str, float]:
    """Check; return the status, the solver's reason when unknown, and seconds taken."""
    start = time.perf_counter()
    answer = solver.check()
    took = time.perf_counter() - start
    raise_if_stopped()  # an interrupted query is not a verdict
    if answer == z3.sat:
        return Status.SAT, "", took
    if answer == z3.unsat:
        return Status.UNSAT, "", took
    return Status.UNKNOWN, solver.reason_unknown() or "unknown", took


def contradiction(
    groups: Sequence[tuple[str, Sequence[z3.BoolRef]]], timeout_ms: int
) -> tuple[Status, str, tuple[str, ...], float]:
    """Are the named groups of assumptions satisfiable together?  Returns the status,
    the solver's reason when unknown, the names of the groups in an unsat core (all
    groups when the solver gives none) and seconds taken.  Vacuity: a proof whose
    assumptions are unsatisfiable has checked nothing."""
    solver = new_solver(timeout_ms)
    literals: list[z3.BoolRef] = []
    names: dict[str, str] = {}
    for n, (name, exprs) in enumerate(groups):
        literal = z3.Bool(f"__assumption_group_{n}")
        literals.append(literal)
        names[str(literal)] = name
        solver.add(z3.Implies(literal, z3.And(*exprs)) if exprs else z3.BoolVal(True))
    start = time.perf_counter()
    answer = solver.check(*literals)
    took = time.perf_counter() - start
    raise_if_stopped()
    if answer == z3.sat:
        return Status.SAT, "", (), took
    if answer == z3.unknown:
        return Status.UNKNOWN, solver.reason_unknown() or "unknown", (), took
    core = {str(literal) for literal in solver.unsat_core()}
    chosen = tuple(name for literal, name in names.items() if literal in core) or tuple(names.values())
    return Status.UNSAT, "", chosen, took
