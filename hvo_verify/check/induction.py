# SPDX-License-Identifier: GPL-2.0-only
"""Unbounded proofs of operation invariants by k-induction over the BMC's transition
relation (encode/ops/step.py, the same Step for both).

A bounded proof (check/bmc.py) says: no sequence of at most `depth` operations from the
initial state violates the invariant.  k-induction adds the inductive step: from an
*arbitrary* state (encode/ops/induction.py ArbitraryStart: fresh variables, only their
domains and the lemmas), if the lemmas hold in states 0..k-1 and steps 1..k-1 do not
violate the invariant, then step k does not violate it and the lemmas hold in state k.
With the base case (the bounded proof covers steps 1..depth >= k-1, and `_lemma_base()`
shows the lemmas in every state of those runs, and on Machine.initial() concretely), the
invariant holds after any number of steps.  Lemmas are assumptions only once proved: the
spec's own (specs/lemmas.py) and the built-in ones (BUILTIN_LEMMAS) go through the same
base case and inductive step as the invariant.

When the step fails for every k tried, the verdict stays the bounded one (`bound: N`)
and the model of the last step is the counterexample to induction: the arbitrary state
in kernel terms and the operations that break the invariant from it.
"""

from __future__ import annotations

import dataclasses
import time

import z3

from hvo_verify.check.bmc import UNROLLINGS, OpsJob, machine_for
from hvo_verify.check.result import CheckResult
from hvo_verify.check.solver import Status, new_solver, solve
from hvo_verify.encode.invariants.reachable import violation_at
from hvo_verify.encode.lemmas import compile_lemma
from hvo_verify.encode.ops.induction import (
    BUILTIN_LEMMAS,
    LIST_WRITERS,
    UNLIMITED_SLOTS,
    ArbitraryStart,
    builtin_terms,
    list_caps,
    reached,
)
from hvo_verify.encode.ops.state import SymKState
from hvo_verify.encode.ops.unroll import Unrolling
from hvo_verify.encode.terms import BITS, B
from hvo_verify.model.facts import W_COUNTS, W_FLAGS, W_FOLIO_COUNTS, WORD
from hvo_verify.ops.state import Pool
from hvo_verify.ops.table import OPS
from hvo_verify.specs.lemmas import every, holds
from hvo_verify.verdict import Verdict

MAX_K = 2  # the longest window tried (each k builds an unrolling of k steps); every unbounded proof of
# the shipped specs needs k <= 2, and k = 3 only cost time on the ones that fail (CI budget)


def run_unbounded(job: OpsJob, bounded: CheckResult, max_k: int = MAX_K) -> CheckResult:
    """`bounded` (run_ops(job)) with its bound; for a proved one, tried for every length."""
    result = dataclasses.replace(bounded, bound=job.depth)
    if bounded.verdict is not Verdict.PROVED:
        return result
    caps = list_caps(job.alphabet, job.max_calls)
    lemma_names = tuple(lm.name for lm in BUILTIN_LEMMAS) + tuple(lm.text for lm in job.lemmas)
    base, seconds, queries = _lemma_base(job)
    if base:
        return _bounded(result, f"unbounded proof refused: {base}", (), seconds, queries, lemma_names)
    cti: tuple[str, ...] = ()
    why = ""
    for k in range(1, min(max_k, job.depth + 1) + 1):
        status, detail, took = _step(job, caps, k)
        seconds += took
        queries += 1
        if status is Status.UNSAT and detail == ("vacuous",):
            why = f"the inductive step's assumptions (domains, lemmas) are contradictory at k={k}: nothing was checked"
            break
        if status is Status.UNSAT:
            return dataclasses.replace(result, unbounded=True, bound=None, induction_k=k, lemmas=lemma_names,
                                       solver_seconds=result.solver_seconds + seconds,
                                       queries=result.queries + queries)  # fmt: skip
        if status is Status.UNKNOWN:
            why = detail[0] if detail[0].startswith("not attempted") else f"solver: {detail[0]} at k={k}"
            break
        cti, why = detail, f"the inductive step fails at k={k} (up to {min(max_k, job.depth + 1)} tried)"
    return _bounded(result, f"not proved for every length: {why}", cti, seconds, queries, lemma_names)


def _bounded(result: CheckResult, why: str, cti: tuple[str, ...], seconds: float = 0.0, queries: int = 0,
             lemmas: tuple[str, ...] = ()) -> CheckResult:  # fmt: skip
    reason = f"{result.reason}; {why}" if result.reason else why
    return dataclasses.replace(result, reason=reason, cti=cti, lemmas=lemmas,
                               solver_seconds=result.solver_seconds + seconds, queries=result.queries + queries)  # fmt: skip


def _all_lemmas(job: OpsJob, u: Unrolling, start: ArbitraryStart | None, t: int, s: SymKState,
                *, assumed: bool = False) -> list[tuple[str, B]]:  # fmt: skip
    """The lemmas after step t.  A lemma over every subpage (`i`) is a ForAll where it is
    assumed, and an instance at a fresh index where its violation is sought."""
    out = builtin_terms(u, start, t, s)
    for n, lm in enumerate(job.lemmas):
        if not every(lm.expr):
            out.append((lm.text, compile_lemma(lm.expr, u, t, s)))
            continue
        i = z3.BitVec(f"lemma{n}_i_{t}{'_all' if assumed else ''}", BITS)
        term = compile_lemma(lm.expr, u, t, s, i)
        out.append((lm.text, z3.ForAll([i], term) if assumed else term))
    return out


def _lemma_base(job: OpsJob) -> tuple[str, float, int]:
    """Do the lemmas hold in Machine.initial() (concretely, the spec's own) and in every
    state of the bounded runs (z3)?  Returns what fails, or ''."""
    machine = machine_for(job)
    init = machine.initial()
    for lm in job.lemmas:
        if not holds(lm.expr, init, machine):
            return f"lemma {lm.text!r} is false in the initial state", 0.0, 0
    _m, u, _sat = UNROLLINGS.get(job)
    states = [u.state0, *(st.after for st in u.steps)]
    bad = []
    for t, s in enumerate(states):
        for name, term in _all_lemmas(job, u, None, t, s):
            bad.append((name, t, z3.And(reached(u, t), z3.Not(term))))
    solver = new_solver(job.timeout_ms)
    solver.add(*u.placement, *u.side, *u.sym.side, z3.Or([b for _n, _t, b in bad]))
    status, why, seconds = solve(solver)
    if status is Status.UNSAT:
        return "", seconds, 1
    if status is Status.UNKNOWN:
        return f"solver: {why} while checking the lemmas on the bounded runs", seconds, 1
    model = solver.model()
    name, t = next((n, t) for n, t, b in bad if z3.is_true(model.eval(b, model_completion=True)))
    ops = [job.alphabet[model.eval(st.op, model_completion=True).as_long()] for st in u.steps[:t]]
    return f"lemma {name!r} is false after {' -> '.join(ops) or 'no step'} (not inductive-initial)", seconds, 1


def _step(job: OpsJob, caps: dict[str, int | None], k: int) -> tuple[Status, tuple[str, ...], float]:
    """The inductive step with a window of k steps: (status, CTI lines or the unknown reason, seconds)."""
    machine = machine_for(job)
    start = ArbitraryStart(caps, job.max_calls)
    longest = max((UNLIMITED_SLOTS if c is None else c for c in caps.values()), default=0)
    u = Unrolling(machine, job.alphabet, k, job.max_calls, start=start, list_len=longest + k)
    havoc = [h == bits for h, bits in zip(u.havoc, u.stored_bits(), strict=True)]
    states = [u.state0, *(st.after for st in u.steps)]
    domain = start.domain(u)
    assume: list[B] = [*u.placement, *u.side, *u.sym.side, *havoc]
    assume += [term for _n, term in _all_lemmas(job, u, start, 0, states[0], assumed=True)]
    for t in range(1, k):
        assume.append(_nowhere(u, job.invariant, t, k))
        assume += [z3.Implies(reached(u, t), term)
                   for _n, term in _all_lemmas(job, u, start, t, states[t], assumed=True)]  # fmt: skip
    lemmas_k = _all_lemmas(job, u, start, k, states[k])
    unlimited = [name for name, cap in caps.items() if cap is None]
    if unlimited:  # such a list's contents must influence nothing the step asserts
        used = _mentions([*assume, *(t for _n, t in lemmas_k), violation_at(u, job.invariant, k)],
                         tuple(f"start_{name}" for name in unlimited))  # fmt: skip
        if used:
            name = next(n for n in unlimited if used.startswith(f"start_{n}"))
            return Status.UNKNOWN, (f"not attempted: {name} grows with every call of "
                                    f"{'/'.join(LIST_WRITERS[name])}() (no max_calls limits it) and the step reads "
                                    "it: k-induction needs a finite list (add max_calls)",), 0.0  # fmt: skip
    assume += domain
    broken = lemma_broken(reached(u, k), [term for _n, term in lemmas_k])
    violation = violation_at(u, job.invariant, k)
    solver = new_solver(job.timeout_ms)
    solver.add(*assume, z3.Or(violation, broken))
    t0 = time.perf_counter()
    status, why, _s = solve(solver)
    took = time.perf_counter() - t0
    if status is Status.UNSAT:  # earned only if some arbitrary state satisfies the assumptions
        check = new_solver(job.timeout_ms)
        check.add(*assume)
        sat, why, _s = solve(check)
        took = time.perf_counter() - t0
        return (status, ("vacuous",), took) if sat is Status.UNSAT else (sat if sat is Status.UNKNOWN else status,
                                                                         (why,), took)  # fmt: skip
    if status is not Status.SAT:
        return status, (why,), took
    model = solver.model()
    return status, _cti(job, u, start, model, violation, lemmas_k, k), took


def _mentions(terms: list[B], prefixes: tuple[str, ...]) -> str:
    """The first variable named with one of `prefixes` in `terms` ('' if none)."""
    seen: set[int] = set()
    todo: list[z3.ExprRef] = list(terms)
    while todo:
        e = todo.pop()
        if e.get_id() in seen:
            continue
        seen.add(e.get_id())
        if z3.is_const(e) and e.decl().kind() == z3.Z3_OP_UNINTERPRETED and e.decl().name().startswith(prefixes):
            return e.decl().name()
        todo.extend(e.children())
    return ""


def lemma_broken(reached_k: B, lemmas_k: list[B]) -> B:
    """The inductive step's second goal: the state after step k is reached and some lemma
    fails there (a lemma is an assumption only while this is unsat; the self-check's
    `unbounded` section removes it and must see a bounded violation met)."""
    return z3.And(reached_k, z3.Not(z3.And(lemmas_k)))


def _nowhere(u: Unrolling, invariant: str, t: int, k: int) -> B:
    """Step t does not violate `invariant`, for the witness values step k's violation
    uses (a violation term is existential in its witness variables,
    encode/invariants/reachable.py _witness(); "no violation for every witness" is a
    quantifier z3 times out on, and this instance of it is the one the step needs)."""
    names = ["tail", "pfn", "freed", "rk", "roff", *(f"alias_k{n}" for n in range(len(u.steps[t - 1].stores)))]
    pairs = [(z3.BitVec(f"{name}_{t}", BITS), z3.BitVec(f"{name}_{k}", BITS)) for name in names]
    return z3.substitute(z3.Not(violation_at(u, invariant, t)), *pairs)


def _cti(job: OpsJob, u: Unrolling, start: ArbitraryStart, model: z3.ModelRef, violation: B,
         lemmas_k: list[tuple[str, B]], k: int) -> tuple[str, ...]:  # fmt: skip
    """The counterexample to induction in kernel terms: the arbitrary state's fields,
    the words the readers see, and the operations from it."""

    def ev(term: z3.ExprRef) -> z3.ExprRef:
        return model.eval(term, model_completion=True)

    def num(term: z3.ExprRef) -> int:
        return int(ev(term).as_long())

    def yes(term: z3.ExprRef) -> bool:
        return z3.is_true(ev(term))

    s = u.state0
    lines = []
    layout = "optimized" if yes(s.optimized) else "restored" if yes(u.remaps[0].restore) else "not optimized"
    if yes(u.remaps[0].head_copied):
        layout += " (head vmemmap page copied)"
    lines.append(f"state: vmemmap {layout}, folio_test_hugetlb={yes(s.hugetlb)}, pool={list(Pool)[num(s.pool)].value}"
                 f", mapped={yes(s.mapped)}, refs={_signed(num(s.refs))}, pins={_signed(num(s.pins))}")  # fmt: skip
    io = s.io
    if yes(io.present):
        lines.append(f"io: {'pin' if yes(io.pin) else 'get'} offset {num(io.offset):#x} length {num(io.length):#x}"
                     f"{', submitted' if yes(io.submitted) else ''}")  # fmt: skip
    for name in ("raw_hwp", "injected", "subpage_maps"):
        entries = [num(x) for v, x in getattr(s, name) if yes(v)]
        if entries:
            lines.append(f"{name}: {', '.join(str(i) for i in entries)}")
    if yes(s.raw_hwp_unreliable):
        lines.append("raw_hwp_unreliable")
    with u.at_level(0):
        words = [("page_ref_count(head)", u.head + W_COUNTS * WORD, True),
                 ("folio->_pincount", u.page(1) + W_FOLIO_COUNTS * WORD, True),
                 ("head->flags", u.head + W_FLAGS * WORD, False)]  # fmt: skip
        shown = []
        for label, addr, high in words:
            value, _f = u.read(0, addr)
            v = num(value)
            shown.append(f"{label}={v >> 32 if high else v:#x}")
    lines.append("struct pages: " + ", ".join(shown))
    ops = []
    for st in u.steps:
        name = job.alphabet[num(st.op)]
        args = ", ".join(f"{a.name}={num(st.args[a.name]) if a.kind.value != 'bool' else yes(st.args[a.name])}"
                         for a in OPS[name].args)  # fmt: skip
        ops.append(f"{name}({args})")
    lines.append("then: " + " -> ".join(ops))
    if yes(violation):
        lines.append(f"step {k} violates {job.invariant}")
    else:
        failed = [n for n, term in lemmas_k if not yes(term)]
        lines.append(f"after step {k} the lemma(s) {', '.join(failed)} no longer hold")
    return tuple(lines)


def _signed(v: int) -> int:
    return v - (1 << 64) if v >> 63 else v
