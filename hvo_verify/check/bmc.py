# SPDX-License-Identifier: GPL-2.0-only
"""Bounded model checking of one operation invariant: unroll, solve, and turn a sat
answer into the shortest trace, replayed on the concrete model before it is reported."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import z3

from hvo_verify.check.result import CheckResult, vacuity_verdict
from hvo_verify.check.solver import Status, contradiction, new_solver, solve
from hvo_verify.encode.canaries import EXTRA_ASSUMPTIONS
from hvo_verify.encode.invariants.reachable import violation_at, witness_at
from hvo_verify.encode.ops.unroll import Unrolling
from hvo_verify.errors import EncodingMismatch
from hvo_verify.invariants.reachable import OP_INVARIANTS, WITNESSES
from hvo_verify.invariants.replay import replay
from hvo_verify.model.config import KernelConfig
from hvo_verify.model.policy import Policies
from hvo_verify.model.scheme import Scheme
from hvo_verify.model.vmemmap import not_applicable_reason
from hvo_verify.ops.machine import Machine
from hvo_verify.ops.table import OPS, ArgKind, prerequisites
from hvo_verify.ops.trace import Trace, TraceStep
from hvo_verify.specs.lemmas import Lemma
from hvo_verify.verdict import Verdict


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
    extra_assumptions: tuple[str, ...] = ()  # self-check only: names from encode.canaries.EXTRA_ASSUMPTIONS
    unbounded: bool = False  # a proved verdict is also tried for every length (check/induction.py)
    lemmas: tuple[Lemma, ...] = ()  # the spec's lemmas for that (specs/lemmas.py)
    witness: bool = True  # a proof also asks for the invariant's witness (`check --no-witness`: not)
    budget_s: float = 0.0  # check/cost.py: wall seconds per check; unspent seconds pass to the next (0: none)


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
        pol.describe(kmalloc=False),  # stated below, as an assumption of its own
        "one folio, one user mapping, one I/O in flight, operations atomic (no concurrent PFN walkers)",
    ]
    texts += [f"at most {n} call(s) of {op}" for op, n in job.max_calls]
    if not pol.kmalloc_may_fail:
        texts.append("kmalloc(GFP_ATOMIC) in folio_set_hugetlb_hwpoison() succeeds")
    return tuple(texts)


# The satisfiability of an unrolling's assumptions by (extra assumptions, number of
# auxiliary definitions: that list only grows, so equal lengths are equal lists).
_Satisfiable = dict[tuple[tuple[str, ...], int], tuple[Status, tuple[str, ...]]]


@dataclass(frozen=True)
class Reached:
    """The witness query of one unrolling: its status, the shortest replayed run reaching
    the witness (sat), the solver's reason (unknown), its cost."""

    status: Status
    trace: Trace | None
    why: str
    seconds: float
    queries: int


@dataclass
class UnrollingCache:
    """The last unrolling a process built, with the satisfiability of its assumptions.
    The unrolling is the same for every invariant of a spec and config (invariant
    witnesses are fresh variables named after their invariant), so a spec's checks on
    one config share it.  `clear()` drops it: a patched model (the self-check's mutants)
    or a cold measurement (bench/bench_ops.py) must not reuse it."""

    key: OpsJob | None = None
    entry: tuple[Machine, Unrolling, _Satisfiable] | None = None
    # the witness queries of this unrolling: (extra assumptions, witness id) -> Reached
    witnesses: dict[tuple[tuple[str, ...], str], Reached] = dataclasses.field(default_factory=dict)
    started: float = 0.0  # when this run of the spec's invariants began (the budget's clock)
    ran: set[str] = dataclasses.field(default_factory=set)  # invariants run since `started`
    # the head lemma's solver seconds and queries, not yet charged to a result (take_lemma_cost())
    lemma_cost: tuple[float, int] = (0.0, 0)

    def get(self, job: OpsJob) -> tuple[Machine, Unrolling, _Satisfiable]:
        key = dataclasses.replace(job, invariant="", timeout_ms=0, extra_assumptions=(), witness=True)
        if self.entry is None or self.key != key or job.invariant in self.ran:  # a new run: restart the clock
            self.started, self.ran = time.perf_counter(), set()
        if self.entry is None or self.key != key:
            machine = machine_for(job)
            u, self.lemma_cost = head_lemma(job, machine)
            self.key, self.entry = key, (machine, u, {})
            self.witnesses = {}
        self.ran.add(job.invariant)
        return self.entry

    def deadline(self, job: OpsJob) -> float | None:
        """When `job`'s budget runs out (perf_counter), or None: the n-th check of a
        spec and config ends n budgets after the first began (what one leaves, the
        next may use)."""
        return self.started + job.budget_s * len(self.ran) if job.budget_s else None

    def take_lemma_cost(self) -> tuple[float, int]:
        """The head lemma's cost, once: the first result on the unrolling carries it."""
        cost, self.lemma_cost = self.lemma_cost, (0.0, 0)
        return cost

    def clear(self) -> None:
        self.key, self.entry, self.witnesses, self.ran = None, None, {}, set()
        self.lemma_cost = (0.0, 0)


# The head lemma's query: it took at most 1.3 s on every unrolling of the suite.
HEAD_LEMMA_TIMEOUT_MS = 20_000


def head_lemma(job: OpsJob, machine: Machine) -> tuple[Unrolling, tuple[float, int]]:
    """The unrolling of `job`, and the solver seconds and queries spent on the head lemma.

    The lemma: in every run of at most `job.depth` steps, each compound_head() call that
    counts reads the folio's head (SymCpu.compound_head records the obligation where it
    counts: the step is reached, runs that operation, which is enabled and has not
    returned, and the call's own condition holds).  The unrolling is built on it
    (`on_head_lemma`: each call returns the head itself), and its obligations, recorded
    on that unrolling, are proved in one query (their disjunction unsat under its
    assumptions); if they are not (a scheme whose compound_head() can miss the head,
    such as unmapped tails; unknown), the plain unrolling is built and used instead.

    Why the two have the same runs once the obligations are proved: fix the free
    variables (operations, arguments, placement).  By induction over the calls in the
    order they are built, the calls before call k return the same values in both, so
    call k reads the same value and counts or not alike in both; where it counts, the
    proof says that value is the head, which is what the lemma's unrolling returns;
    where it does not count, its value reaches nothing (every store, state update and
    read fault of a step function is guarded by the operation's selection, `running` and
    the call's condition).  So every violation, witness and fault term has the same
    value, and the verdicts, the shortest traces and their canonical arguments are the
    same (tests/unit/test_head_lemma.py).  What it saves: the solver no longer shows,
    query by query, that a pointer read through the remapped vmemmap at a symbolic
    subpage is the head (gup-fifth-page refcount v6.2: 10.7 s on the plain unrolling,
    0.9 s + 2.9 s on the lemma)."""
    u = Unrolling(machine, job.alphabet, job.depth, job.max_calls, on_head_lemma=True)
    if not u.head_obligations:
        return u, (0.0, 0)  # no call: nothing was replaced
    solver = new_solver(min(job.timeout_ms, HEAD_LEMMA_TIMEOUT_MS))
    solver.add(*u.placement, *u.side, *u.sym.side, z3.Or(u.head_obligations))
    status, _why, seconds = solve(solver)
    if status is Status.UNSAT:
        return u, (seconds, 1)
    return Unrolling(machine, job.alphabet, job.depth, job.max_calls), (seconds, 1)


UNROLLINGS = UnrollingCache()


def run_ops(job: OpsJob) -> CheckResult:
    result = _run_ops(job)
    seconds, queries = UNROLLINGS.take_lemma_cost()  # a new unrolling's head lemma
    if not queries:
        return result
    return dataclasses.replace(result, solver_seconds=result.solver_seconds + seconds,
                               queries=result.queries + queries)  # fmt: skip


def _run_ops(job: OpsJob) -> CheckResult:
    cfg = job.config
    reason = not_applicable_reason(cfg, job.scheme)
    if reason:
        return CheckResult("", cfg.id, job.invariant, Verdict.NOT_APPLICABLE, None, reason=reason)
    machine, u, satisfiable = UNROLLINGS.get(job)
    deadline = UNROLLINGS.deadline(job)
    if deadline is not None and time.perf_counter() >= deadline:
        return CheckResult("", cfg.id, job.invariant, Verdict.UNKNOWN, None, assumptions(job, machine),
                           reason=_spent(job))  # fmt: skip
    violations = [violation_at(u, job.invariant, t) for t in range(1, job.depth + 1)]
    extras = [(EXTRA_ASSUMPTIONS[name][0], EXTRA_ASSUMPTIONS[name][1](u.sym)) for name in job.extra_assumptions]
    base = [*u.placement, *u.side, *u.sym.side, *(expr for _text, expr in extras)]
    texts = assumptions(job, machine) + tuple(text for text, _expr in extras)

    def query(goal: z3.BoolRef) -> tuple[Status, str, float, z3.Solver]:
        # A fresh solver per query: push/pop would switch z3 to its incremental mode,
        # which skips the preprocessing these formulas need (10x slower).
        timeout_ms = _timeout_ms(job, deadline)
        solver = new_solver(timeout_ms)
        if not timeout_ms:
            return Status.UNKNOWN, _spent(job), 0.0, solver
        solver.add(*base, goal)
        return (*solve(solver), solver)

    status, why, seconds, solver = query(z3.Or(violations))
    if status is Status.UNSAT:
        # Earned only if the assumptions and the unrolling admit some run (else nothing was checked).
        timed = dataclasses.replace(job, timeout_ms=_timeout_ms(job, deadline) or 1)
        vacuity, why, core, took = _assumptions_sat(timed, texts, u, extras, satisfiable)
        verdict, reason = vacuity_verdict(vacuity, why, core)
        if verdict is Verdict.VACUOUS:
            reason += vacuous_hint(job.alphabet, core)
        never = tuple(op for op in job.alphabet if not any(op in ops for ops in u.possible))
        proof = CheckResult("", cfg.id, job.invariant, verdict, None, texts, reason=reason,
                            solver_seconds=seconds + (took or 0.0), queries=1 if took is None else 2,
                            never_enabled=never)  # fmt: skip
        return with_witness(job, proof, machine, u, base) if verdict is Verdict.PROVED else proof
    if status is Status.UNKNOWN:
        return CheckResult("", cfg.id, job.invariant, Verdict.UNKNOWN, None, texts,
                           reason=_unknown(job, deadline, why), solver_seconds=seconds, queries=1)  # fmt: skip
    queries = 1
    for t in range(1, job.depth + 1):  # the shortest trace
        status, _why, took, solver = query(violations[t - 1])
        seconds += took
        queries += 1
        if status is Status.SAT:
            break
    if status is not Status.SAT:  # the disjunction was sat: a per-length query timed out
        return CheckResult("", cfg.id, job.invariant, Verdict.UNKNOWN, None, texts,
                           reason=_unknown(job, deadline, "timeout while shortening the trace"), solver_seconds=seconds,
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


def vacuous_hint(alphabet: Sequence[str], core: Sequence[str]) -> str:
    """What a vacuous operation check should add: the operations of OPS that the ones of
    `run` need before them (`ops/table.py` `prerequisites()`), or more depth.

    >>> vacuous_hint(("submit_bio",), ["some operation of {submit_bio} is enabled in the initial state"])
    '; add to [ops] run: alloc_hugetlb_folio, get_user_pages_fast (submit_bio needs alloc_hugetlb_folio, get_user_pages_fast first)'
    """
    needs = {name: prerequisites(name, alphabet) for name in alphabet}
    if all(needs.values()):
        missing = list(dict.fromkeys(n for ops in needs.values() for n in ops))
        why = "; ".join(f"{name} needs {', '.join(ops)}" for name, ops in needs.items())
        return f"; add to [ops] run: {', '.join(missing)} ({why} first)"
    if any("can run at step" in text for text in core):
        return "; raise [ops] depth, or add the operations that enable the others to run"
    return ""


def _timeout_ms(job: OpsJob, deadline: float | None) -> int:
    """The query timeout: the spec's, or less where the budget ends sooner (0: spent)."""
    if deadline is None:
        return job.timeout_ms
    left = int((deadline - time.perf_counter()) * 1000)
    return max(0, min(job.timeout_ms, left))


def _unknown(job: OpsJob, deadline: float | None, why: str) -> str:
    return _spent(job) if deadline is not None and time.perf_counter() >= deadline else f"solver: {why}"


def _spent(job: OpsJob) -> str:
    return (f"cost budget spent ({job.budget_s:.0f} s per check, check/cost.py): "
            "lower ops.depth, list fewer operations in ops.run or bound them with ops.max_calls")  # fmt: skip


def _assumptions_sat(
    job: OpsJob,
    texts: tuple[str, ...],
    u: Unrolling,
    extras: Sequence[tuple[str, z3.BoolRef]],
    cache: _Satisfiable,
) -> tuple[Status, str, tuple[str, ...], float | None]:
    """Everything the proof asserted except the violation (the placement, the operation
    and argument domains of every step, max_calls, auxiliary definitions), and that some
    operation of `run` is enabled in the initial state: (status, unknown reason, unsat
    core, seconds or None when cached).  Cached per unrolling: the invariants of one spec
    and config share it (and, with a power-of-2 struct page, add no definitions)."""
    key = (tuple(t for t, _e in extras), len(u.sym.side))
    if key in cache:
        status, core = cache[key]
        return status, "", core, None
    limits = len(job.max_calls)
    domains = u.side[: len(u.side) - limits]
    empty = [t for t, ops in enumerate(u.possible, start=1) if not ops]
    domain_text = f"the operation and argument domains of steps 1..{job.depth}"
    if empty:
        domain_text += f" (no operation of {{{', '.join(job.alphabet)}}} can run at step {empty[0]})"
    groups: list[tuple[str, Sequence[z3.BoolRef]]] = [
        (texts[0], u.placement),
        (domain_text, domains),
        *(
            (f"at most {n} call(s) of {op}", [c])
            for (op, n), c in zip(job.max_calls, u.side[len(domains) :], strict=True)
        ),
        ("definitions of auxiliary variables", u.sym.side),
        (f"some operation of {{{', '.join(job.alphabet)}}} is enabled in the initial state", [u.steps[0].enabled]),
        *((text, [expr]) for text, expr in extras),
    ]
    status, why, core, took = contradiction(groups, job.timeout_ms)
    if status is not Status.UNKNOWN:
        cache[key] = (status, core)
    return status, why, core, took


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
            if arg.kind is ArgKind.BOOL:  # prefer the allocation that succeeds
                if queries < MAX_CANONICAL_QUERIES and not z3.is_true(model.eval(var, model_completion=True)):
                    status, _why, took, solver = query(z3.And(goal, *fixed, var))
                    seconds += took
                    queries += 1
                    if status is Status.SAT:
                        model = solver.model()
                fixed.append(var == model.eval(var, model_completion=True))
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
            args.append((arg.name, z3.is_true(value) if arg.kind is ArgKind.BOOL else value.as_long()))
        steps.append(TraceStep(name, tuple(args)))
    return Trace(job.config.id, job.scheme, job.policies, machine.folio.head_pfn, machine.folio.vmemmap_base,
                 job.io_max, job.io_align, tuple(steps), job.invariant)  # fmt: skip


def with_witness(
    job: OpsJob, proof: CheckResult, machine: Machine, u: Unrolling, base: list[z3.BoolRef]
) -> CheckResult:
    """A proof, with what it covered: the shortest run of at most `depth` operations whose
    last step reaches the invariant's witness (invariants/reachable.py WITNESSES),
    replayed on the concrete model; `unreached` when no run reaches it, `unknown` when the
    solver cannot tell.  Cached per (unrolling, extra assumptions, witness): invariants
    sharing a witness (ro-write, alias-write) ask once.  `job.witness` False: the proof
    as it is, saying that the witness was not checked."""
    wid = OP_INVARIANTS[job.invariant].witness
    summary = WITNESSES[wid].summary
    if not job.witness:
        return dataclasses.replace(proof, assumptions=(*proof.assumptions, f"witness not checked ({summary})"))
    key = (job.extra_assumptions, wid)
    reached = UNROLLINGS.witnesses.get(key) if UNROLLINGS.entry is not None and UNROLLINGS.entry[1] is u else None
    cost = 0.0, 0
    if reached is None:
        reached = _reach(job, machine, u, base, wid)
        if reached.status is not Status.UNKNOWN and UNROLLINGS.entry is not None and UNROLLINGS.entry[1] is u:
            UNROLLINGS.witnesses[key] = reached
        cost = reached.seconds, reached.queries
    seconds, queries = proof.solver_seconds + cost[0], proof.queries + cost[1]
    if reached.status is Status.UNKNOWN:
        return dataclasses.replace(proof, verdict=Verdict.UNKNOWN, solver_seconds=seconds, queries=queries,
                                   reason=f"solver: {reached.why} (while looking for the witness: {summary})")  # fmt: skip
    if reached.status is Status.UNSAT:
        reason = (
            f"no run of at most {job.depth} operations reaches the witness: {summary}; nothing relevant was checked"
        )
        return dataclasses.replace(proof, verdict=Verdict.UNREACHED, reason=reason, solver_seconds=seconds,
                                   queries=queries, witness_id=wid)  # fmt: skip
    assert reached.trace is not None
    trace = dataclasses.replace(reached.trace, invariant=job.invariant)
    return dataclasses.replace(proof, witness=trace, witness_id=wid, solver_seconds=seconds, queries=queries)


def _reach(job: OpsJob, machine: Machine, u: Unrolling, base: list[z3.BoolRef], wid: str) -> Reached:
    """The shortest run reaching witness `wid`: one query per length 1..depth, the first
    sat one made canonical, decoded and replayed (the concrete witness must hold at its
    last step, else EncodingMismatch, as for counterexamples)."""

    def query(goal: z3.BoolRef) -> tuple[Status, str, float, z3.Solver]:
        solver = new_solver(job.timeout_ms)
        solver.add(*base, goal)
        return (*solve(solver), solver)

    seconds, queries = 0.0, 0
    for t in range(1, job.depth + 1):
        goal = witness_at(u, wid, t)
        if z3.is_false(z3.simplify(goal)):
            continue
        status, why, took, solver = query(goal)
        seconds += took
        queries += 1
        if status is Status.UNKNOWN:
            return Reached(status, None, why, seconds, queries)
        if status is Status.SAT:
            break
    else:
        return Reached(Status.UNSAT, None, "", seconds, queries)
    model, extra_seconds, extra_queries = _canonical(job, u, query, goal, solver.model(), t)
    trace = _decode(job, machine, u, model, t)
    replayed = replay(trace, ())
    last = replayed[-1]
    if (
        len(replayed) != t
        or last.outcome is None
        or not WITNESSES[wid].check(machine, last.before, last.step, last.outcome)
    ):
        got = "not enabled" if last.outcome is None else "the witness does not hold"
        raise EncodingMismatch(
            f"{job.config.id} {job.scheme.name} {job.invariant}: BMC witness run "
            f"{'; '.join(s.call() for s in trace.steps)} does not replay on the concrete model "
            f"(step {len(replayed)}: {got}: {WITNESSES[wid].summary})"
        )
    return Reached(Status.SAT, trace, "", seconds + extra_seconds, queries + extra_queries)
