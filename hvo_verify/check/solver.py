"""The one place that calls Solver.check(): maps sat/unsat/unknown, times the call."""

from __future__ import annotations

import enum
import time

import z3

# Fixed seeds: the same spec gives the same verdicts and counterexamples run after run.
z3.set_param("smt.random_seed", 0)
z3.set_param("sat.random_seed", 0)


class Status(enum.Enum):
    SAT = "sat"
    UNSAT = "unsat"
    UNKNOWN = "unknown"


def new_solver(timeout_ms: int) -> z3.Solver:
    solver = z3.SolverFor("QF_BV")
    solver.set("timeout", timeout_ms)
    solver.set("random_seed", 0)
    return solver


def solve(solver: z3.Solver) -> tuple[Status, str, float]:
    """Check; return the status, the solver's reason when unknown, and seconds taken."""
    start = time.perf_counter()
    answer = solver.check()
    took = time.perf_counter() - start
    if answer == z3.sat:
        return Status.SAT, "", took
    if answer == z3.unsat:
        return Status.UNSAT, "", took
    return Status.UNKNOWN, solver.reason_unknown() or "unknown", took
