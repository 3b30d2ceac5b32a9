# SPDX-License-Identifier: GPL-2.0-only
"""The static engine: one invariant on one (config, scheme), over every subpage, aligned
head pfn and vmemmap base.  Build the query (check/query.py), solve, and turn the answer
into a verdict.  A sat answer is made canonical (preferred base and pfn, minimal index),
decoded, and replayed on the concrete model before it becomes a counterexample.

Its twin for operation specs is check/bmc.py; check/suite.py runs both over specs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import z3

from hvo_verify.check.query import build, not_applicable
from hvo_verify.check.result import CheckResult, Counterexample, vacuity_verdict
from hvo_verify.check.solver import Status, contradiction, solve
from hvo_verify.encode.folio import SymFolio
from hvo_verify.encode.invariants.static import Query
from hvo_verify.errors import EncodingMismatch
from hvo_verify.invariants.static import INVARIANTS, Index
from hvo_verify.model import describe
from hvo_verify.model.config import MAX_PHYSMEM_BITS, KernelConfig
from hvo_verify.model.remap import optimize
from hvo_verify.model.scheme import HeadCopy, Scheme
from hvo_verify.model.structpage import Folio
from hvo_verify.verdict import Verdict

NEIGHBOUR_ASSUMPTION = "struct pages outside the folio describe in-use order-0 pages"


@dataclass(frozen=True)
class Job:
    config: KernelConfig
    scheme: Scheme
    invariant: str
    timeout_ms: int = 10_000
    base_align: int | None = None
    # Self-check only: names from encode.canaries.EXTRA_ASSUMPTIONS, added to the assumptions
    # (a contradictory one must turn a proof into `vacuous`).
    extra_assumptions: tuple[str, ...] = ()


def run(job: Job) -> CheckResult:
    config, inv = job.config, INVARIANTS[job.invariant]
    reason = not_applicable(config, job.scheme, inv.id)
    if reason:
        return CheckResult("", config.id, inv.id, Verdict.NOT_APPLICABLE, None, reason=reason)
    built = build(
        config,
        job.scheme,
        inv.id,
        base_align=job.base_align,
        timeout_ms=job.timeout_ms,
        extra_assumptions=job.extra_assumptions,
    )
    folio, query, solver, extras = built.folio, built.query, built.solver, built.extras
    status, why, seconds = solve(solver)
    assumptions = _assumption_texts(folio, inv.index) + tuple(text for text, _expr in extras)
    if status is Status.UNSAT:
        # Earned only if the assumptions alone are satisfiable (else nothing was checked).
        vacuity, why, core, took = _assumptions_sat(job, folio, query, extras)
        verdict, reason = vacuity_verdict(vacuity, why, core)
        return CheckResult("", config.id, inv.id, verdict, None, assumptions, reason=reason,
                           solver_seconds=seconds + took, queries=2)  # fmt: skip
    if status is Status.UNKNOWN:
        return CheckResult(
            "",
            config.id,
            inv.id,
            Verdict.UNKNOWN,
            None,
            assumptions,
            reason=f"solver: {why}",
            solver_seconds=seconds,
            queries=1,
        )
    model, extra_seconds, calls = _canonical_model(solver, folio, query)
    cex = _replay(job, folio, query, model)
    return CheckResult(
        "",
        config.id,
        inv.id,
        Verdict.VIOLATED,
        None,
        assumptions,
        cex,
        solver_seconds=seconds + extra_seconds,
        queries=1 + calls,
    )


def _assumptions_sat(
    job: Job, folio: SymFolio, query: Query, extras: Sequence[tuple[str, z3.BoolRef]]
) -> tuple[Status, str, tuple[str, ...], float]:
    """Everything the proof asserted except the violation: the folio's assumptions, the
    index domain and the auxiliary definitions.  (status, unknown reason, unsat core,
    seconds.)  Not cached: a few milliseconds per proof (about 3% of the suite), and
    few jobs repeat across specs."""
    groups: list[tuple[str, list[z3.BoolRef]]] = [(a.text, [a.expr]) for a in folio.assumptions]
    groups.append((f"the index domain: {_quantified(folio, INVARIANTS[job.invariant].index)}", list(query.domain)))
    groups.append(("definitions of auxiliary variables", list(folio.side)))
    groups += [(text, [expr]) for text, expr in extras]
    return contradiction(groups, job.timeout_ms)


def _assumption_texts(folio: SymFolio, index: Index) -> tuple[str, ...]:
    texts = [a.text for a in folio.assumptions]
    texts.append(NEIGHBOUR_ASSUMPTION)
    if folio.scheme.head_copy is not HeadCopy.NONE:
        texts.append("both outcomes of the head vmemmap page allocation")
    texts.append(f"for {_quantified(folio, index)}, every head pfn and vmemmap base satisfying the above")
    return tuple(texts)


def _quantified(folio: SymFolio, index: Index) -> str:
    return {
        Index.SUBPAGE: f"every subpage i in [0, {folio.nr})",
        Index.STRUCT_PAGE: "every struct page sharing a vmemmap page with the folio",
        Index.VMEMMAP_PAGE: f"every vmemmap page k in [0, {folio.nr_vmemmap})",
        Index.FOLIO: "the folio's frame counts",
    }[index]


def _canonical_model(solver: z3.Solver, folio: SymFolio, query: Query) -> tuple[z3.ModelRef, float, int]:
    model = solver.model()
    seconds, calls = 0.0, 0

    def attempt(constraint: z3.BoolRef) -> bool:
        nonlocal model, seconds, calls
        solver.push()
        solver.add(constraint)
        status, _why, took = solve(solver)
        seconds += took
        calls += 1
        if status is Status.SAT:
            model = solver.model()
            return True
        solver.pop()
        return False

    config = folio.config
    attempt(folio.alloc_ok == True)  # noqa: E712 (z3 term, not a Python bool)
    # The documented VMEMMAP_START, else the highest base the assumptions allow; each
    # also off by one page, for violations that need a misaligned vmemmap.
    span = (1 << (MAX_PHYSMEM_BITS - config.page_shift)) * config.struct_page_size
    highest = ((1 << 64) - span) & ~(max(folio.base_align, config.page_size) - 1)
    default = config.default_vmemmap_base
    candidates = [default, default + config.page_size, highest, highest - config.page_size]
    if folio.base_align < config.page_size:  # the smallest misalignment the assumptions allow
        candidates.insert(1, default + folio.base_align)
    if not any(attempt(folio.base == base) for base in candidates):
        _nearest(attempt, folio.base, default, folio.base_align)
    if not attempt(folio.head_pfn == config.nr_pages):
        _nearest(attempt, folio.head_pfn, config.nr_pages, folio.nr)
    for index in query.indices:
        current = _value(model, index.var, index.signed)
        low = index.low
        while low < current:
            mid = (low + current) // 2
            le = index.var <= mid if index.signed else z3.ULE(index.var, mid)
            if attempt(le):
                current = _value(model, index.var, index.signed)
                solver.pop()
            else:
                low = mid + 1
        attempt(index.var == current)
    return model, seconds, calls


def _nearest(attempt: Callable[[z3.BoolRef], bool], var: z3.BitVecRef, preferred: int, align: int) -> None:
    """Fix `var` bit by bit from the top, each bit as in `preferred` where the query
    allows it: without this a value no preferred candidate fits is the solver's choice,
    which depends on the terms the process built before (other checks in the same
    worker), and a shard, a Dask worker or another --jobs would print another address."""
    low = (align & -align).bit_length() - 1 if align > 0 else 0  # bits below are fixed by alignment
    for bit in range(var.size() - 1, low - 1, -1):
        attempt(z3.Extract(bit, bit, var) == (preferred >> bit) & 1)


def _value(model: z3.ModelRef, var: z3.BitVecRef, signed: bool) -> int:
    value = model.eval(var, model_completion=True)
    return value.as_signed_long() if signed else value.as_long()


def _replay(job: Job, folio: SymFolio, query: Query, model: z3.ModelRef) -> Counterexample:
    head_pfn = _value(model, folio.head_pfn, False)
    base = _value(model, folio.base, False)
    alloc_ok = z3.is_true(model.eval(folio.alloc_ok, model_completion=True))
    indices = tuple((ix.name, _value(model, ix.var, ix.signed)) for ix in query.indices)
    inv = INVARIANTS[job.invariant]
    mem = optimize(Folio(job.config, job.scheme, head_pfn, base), alloc_ok=alloc_ok)
    index = indices[0][1] if indices else 0
    message = inv.check(mem, index)
    if message is None:
        raise EncodingMismatch(
            f"{job.config.id} {job.scheme.name} {inv.id}: solver counterexample {dict(indices)} "
            f"(head pfn {head_pfn:#x}, base {base:#x}, alloc_ok={alloc_ok}) does not replay on the concrete model"
        )
    details = describe.folio_lines(mem)
    if inv.index in (Index.SUBPAGE, Index.STRUCT_PAGE):
        details += describe.struct_page_lines(mem, index)
    elif inv.index is Index.VMEMMAP_PAGE:
        details.append(describe.vmemmap_page_line(mem, index))
    return Counterexample(
        job.config.id, job.scheme.name, inv.id, head_pfn, base, alloc_ok, indices, message, tuple(details)
    )
