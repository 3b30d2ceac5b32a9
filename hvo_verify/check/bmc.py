"""Bounded model checking of one operation invariant: unroll, solve, and turn a sat
answer into the shortest trace, replayed on the concrete model before it is reported."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import z3

from hvo_verify.check.result import CheckResult
from hvo_verify.check.solver import Status, new_solver, solve
from hvo_verify.encode.op_invariants import violation_at
from hvo_verify.encode.ops import Unrolling
from hvo_verify.errors import EncodingMismatch
from hvo_verify.model.config import KernelConfig
from hvo_verify.model.kernel import OPS, Machine
from hvo_verify.model.policy import Policies
from hvo_verify.model.scheme import Scheme
from hvo_verify.model.trace import Trace, TraceStep
from hvo_verify.model.vmemmap import not_applicable_reason
from hvo_verify.op_invariants import replay
from hvo_verify.specs.schema import Verdict


@dataclass(frozen=True)
class OpsJob:
    config: KernelConfig
    scheme: Scheme
    policies: Policies
    invariant: str
    alphabet: tuple[str, ...]
    depth: int = 6
    timeout_ms: int = 10_000
    io_max: int = 0x4000
    io_align: int = 512
    max_calls: tuple[tuple[str, int], ...] = ()


def machine_for(job: OpsJob) -> Machine:
    """The canonical placement: head pfn = nr_pages, the documented VMEMMAP_START."""
    return Machine.canonical(job.config, job.scheme, job.policies, job.io_max, job.io_align)


def assumptions(job: OpsJob, machine: Machine) -> tuple[str, ...]:
    cfg, pol = job.config, job.policies
    texts = [
        f"folio at head pfn {machine.folio.head_pfn:#x}, vmemmap base {machine.folio.vmemmap_base:#x} "
        "(the static invariants cover every placement)",
        f"every sequence of at most {job.depth} operations from {{{', '.join(job.alphabet)}}}, "
        "starting from a folio just added to the pool (not yet optimized)",
        f"every argument: subpage i in [0, {cfg.nr_pages}), buffer offset/length multiples of "
        f"{job.io_align} with length <= {job.io_max:#x} inside the folio, both allocation outcomes",
        f"kernel behaviour of {pol.kernel}: hwpoison={pol.hwpoison.value}, pg_arch_1={pol.pg_arch_1.value}, "
        f"mapcount={pol.mapcount.value}, gup_refs={pol.gup_refs.value}, hugetlb_clear={pol.hugetlb_clear.value}, "
        f"restore_reset={str(pol.restore_reset).lower()}",
        "one folio, one user mapping, one I/O in flight, operations atomic (no concurrent PFN walkers)",
    ]
    texts += [f"at most {n} call(s) of {op}" for op, n in job.max_calls]
    if not pol.kmalloc_may_fail:
        texts.append("kmalloc(GFP_ATOMIC) in folio_set_hugetlb_hwpoison() succeeds")
    return tuple(texts)


_LAST: list[tuple[OpsJob, Machine, Unrolling]] = []


def _unrolling(job: OpsJob) -> tuple[Machine, Unrolling]:
    """The unrolling is the same for every invariant of a spec and config: build it once
    per process (invariant witnesses are fresh variables named after their invariant)."""
    key = dataclasses.replace(job, invariant="", timeout_ms=0)
    if _LAST and _LAST[0][0] == key:
        return _LAST[0][1], _LAST[0][2]
    machine = machine_for(job)
    u = Unrolling(machine, job.alphabet, job.depth, job.max_calls)
    _LAST[:] = [(key, machine, u)]
    return machine, u


def run_ops(job: OpsJob) -> CheckResult:
    cfg = job.config
    reason = not_applicable_reason(cfg, job.scheme)
    if reason:
        return CheckResult("", cfg.id, job.invariant, Verdict.NOT_APPLICABLE, None, reason=reason)
    machine, u = _unrolling(job)
    violations = [violation_at(u, job.invariant, t) for t in range(1, job.depth + 1)]
    base = [*u.placement, *u.side, *u.sym.side]
    texts = assumptions(job, machine)

    def query(goal: z3.BoolRef) -> tuple[Status, str, float, z3.Solver]:
        # A fresh solver per query: push/pop would switch z3 to its incremental mode,
        # which skips the preprocessing these formulas need (10x slower).
        solver = new_solver(job.timeout_ms)
        solver.add(*base, goal)
        return (*solve(solver), solver)

    status, why, seconds, solver = query(z3.Or(violations))
    if status is Status.UNSAT:
        return CheckResult("", cfg.id, job.invariant, Verdict.PROVED, None, texts, solver_seconds=seconds, queries=1)
    if status is Status.UNKNOWN:
        return CheckResult("", cfg.id, job.invariant, Verdict.UNKNOWN, None, texts,
                           reason=f"solver: {why}", solver_seconds=seconds, queries=1)  # fmt: skip
    queries = 1
    for t in range(1, job.depth + 1):  # the shortest trace
        status, _why, took, solver = query(violations[t - 1])
        seconds += took
        queries += 1
        if status is Status.SAT:
            break
    if status is not Status.SAT:  # the disjunction was sat: a per-length query timed out
        return CheckResult("", cfg.id, job.invariant, Verdict.UNKNOWN, None, texts,
                           reason="solver: timeout while shortening the trace", solver_seconds=seconds,
                           queries=queries)  # fmt: skip
    model, extra_seconds, extra_queries = _canonical(job, u, query, violations[t - 1], solver.model(), t)
    seconds += extra_seconds
    queries += extra_queries
    trace = _decode(job, machine, u, model, t)
    replayed = replay(trace, (job.invariant,))
    last = replayed[-1]
    if len(replayed) != t or last.violation is None:
        got = "not enabled" if last.outcome is None else "no violation"
        raise EncodingMismatch(
            f"{cfg.id} {job.scheme.name} {job.invariant}: BMC trace "
            f"{'; '.join(s.call() for s in trace.steps)} does not replay on the concrete model "
            f"(step {len(replayed)}: {got})"
        )
    return CheckResult("", cfg.id, job.invariant, Verdict.VIOLATED, None, texts, trace=trace,
                       reason=last.violation[1], solver_seconds=seconds, queries=queries)  # fmt: skip


MAX_CANONICAL_QUERIES = 40


def _canonical(
    job: OpsJob, u: Unrolling, query: Any, goal: z3.BoolRef, model: z3.ModelRef, t: int
) -> tuple[z3.ModelRef, float, int]:
    """Make the trace canonical, step by step: the first operation of `run` that still
    violates, then its arguments: allocations succeed where they can, and the subpage,
    word, offset and length are the smallest that still violate (binary search; at most
    MAX_CANONICAL_QUERIES queries, an inconclusive query keeps the value found so far).
    The same spec then gives the same trace in any process, and the index says where the
    problem starts."""
    fixed: list[z3.BoolRef] = []
    seconds, queries = 0.0, 0
    for st in u.steps[:t]:  # the first operation in `run` order that still violates
        current = model.eval(st.op, model_completion=True).as_long()
        for n in range(current):
            if queries >= MAX_CANONICAL_QUERIES or job.alphabet[n] not in u.possible[st.t - 1]:
                continue
            status, _why, took, solver = query(z3.And(goal, *fixed, st.op == n))
            seconds += took
            queries += 1
            if status is Status.SAT:
                model = solver.model()
                break
        fixed.append(st.op == model.eval(st.op, model_completion=True))
    for st in u.steps[:t]:
        name = job.alphabet[model.eval(st.op, model_completion=True).as_long()]
        for arg in OPS[name].args:
            var = st.args[arg.name]
            if arg.kind == "bool":  # prefer the allocation that succeeds
                if queries < MAX_CANONICAL_QUERIES and not z3.is_true(model.eval(var, model_completion=True)):
                    status, _why, took, solver = query(z3.And(goal, *fixed, var))
                    seconds += took
                    queries += 1
                    if status is Status.SAT:
                        model = solver.model()
                fixed.append(var == model.eval(var, model_completion=True))
                continue
            if arg.kind not in ("subpage", "word", "offset", "length"):
                continue
            low, high = 0, model.eval(var, model_completion=True).as_long()
            while low < high and queries < MAX_CANONICAL_QUERIES:
                mid = (low + high) // 2
                status, _why, took, solver = query(z3.And(goal, *fixed, z3.ULE(var, mid)))
                seconds += took
                queries += 1
                if status is Status.SAT:
                    model = solver.model()
                    high = model.eval(var, model_completion=True).as_long()
                else:
                    low = mid + 1
            fixed.append(var == model.eval(var, model_completion=True))
    return model, seconds, queries


def _decode(job: OpsJob, machine: Machine, u: Unrolling, model: z3.ModelRef, t: int) -> Trace:
    steps = []
    for st in u.steps[:t]:
        name = job.alphabet[model.eval(st.op, model_completion=True).as_long()]
        args: list[tuple[str, int | bool]] = []
        for arg in OPS[name].args:
            value = model.eval(st.args[arg.name], model_completion=True)
            args.append((arg.name, z3.is_true(value) if arg.kind == "bool" else value.as_long()))
        steps.append(TraceStep(name, tuple(args)))
    return Trace(job.config.id, job.scheme, job.policies, machine.folio.head_pfn, machine.folio.vmemmap_base,
                 job.io_max, job.io_align, tuple(steps), job.invariant)  # fmt: skip
