# SPDX-License-Identifier: GPL-2.0-only
"""Pinned queries for the differential self-check (hvo_verify.selfcheck.differential).

`PinnedQuery` is the static engine's query for one (config, scheme, invariant, vmemmap
base alignment), built once by check/query.py exactly as check/static.py builds it
(the same assumptions, auxiliary definitions, index domain and violation).  `ask()`
solves it with the folio's placement pinned to concrete values (head pfn, vmemmap
base, head-page allocation outcome): is there a violating index (any, one outside
given ranges, or one given index)?  The self-check compares the answers with
brute-force enumeration of every index on the concrete model at the same placement.

Why pinned: an unpinned proof costs 20-200 ms (seconds with a non-power-of-2
`struct page`), too slow for 10,000 cases; pinned, the head address is a constant.  One
solver per query, push/pop per placement: about 2 ms a question (tens of ms for odd
`struct page` sizes), 2-4 times faster than a fresh solver each time (measured).  With
the index pinned too, the auxiliary divisions of an odd size get their values as hints
(`_hints()`), 1 s -> 40 ms for the slowest (kpageflags, 56-byte struct page).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import z3

from hvo_verify.check.query import build, not_applicable
from hvo_verify.check.solver import Status, solve
from hvo_verify.encode.folio import SymFolio
from hvo_verify.encode.invariants.static import IndexVar
from hvo_verify.model.config import KernelConfig
from hvo_verify.model.scheme import Scheme
from hvo_verify.verdict import Verdict


@dataclass(frozen=True, slots=True)
class Placement:
    """Where the folio sits: what the static query leaves symbolic, made concrete."""

    head_pfn: int
    vmemmap_base: int
    alloc_ok: bool = True  # the head vmemmap page allocation (schemes that copy the head)


@dataclass(frozen=True, slots=True)
class PinnedAnswer:
    """PROVED: no index violates at this placement; VIOLATED: `indices` do; UNKNOWN:
    the solver gave up (`reason`)."""

    verdict: Verdict
    indices: tuple[tuple[str, int], ...] = ()
    reason: str = ""
    seconds: float = 0.0


class PinnedQuery:
    """The static query for one (config, scheme, invariant, base alignment), asked at
    concrete placements.  `not_applicable` is the static engine's rule (check/query.py;
    check/static.py answers NOT_APPLICABLE without solving when it is set); then
    nothing is built."""

    def __init__(
        self,
        config: KernelConfig,
        scheme: Scheme,
        invariant: str,
        *,
        base_align: int | None = None,
        timeout_ms: int = 10_000,
    ) -> None:
        self.config, self.scheme, self.invariant = config, scheme, invariant
        self.not_applicable = not_applicable(config, scheme, invariant)
        self._folio: SymFolio | None = None
        self._solver: z3.Solver | None = None
        if self.not_applicable:
            return
        built = build(config, scheme, invariant, base_align=base_align, timeout_ms=timeout_ms)
        self._folio, self._query, self._solver = built.folio, built.query, built.solver
        self._divisions = _divisions(built.folio)

    @property
    def base_align(self) -> int:
        """The alignment the query assumes of the vmemmap base (the scheme's default when
        none was given)."""
        assert self._folio is not None, "not-applicable: no query"
        return self._folio.base_align

    def _pins(self, where: Placement) -> list[z3.BoolRef]:
        f = self._folio
        assert f is not None, "not-applicable: no query"
        return [f.head_pfn == where.head_pfn, f.base == where.vmemmap_base, f.alloc_ok == where.alloc_ok]

    def broken_assumptions(self, where: Placement) -> list[str]:
        """The texts of the query's assumptions that this placement does not satisfy
        (a placement outside them would make any pinned query unsat)."""
        f = self._folio
        assert f is not None, "not-applicable: no query"
        pins = [
            (f.head_pfn, z3.BitVecVal(where.head_pfn, 64)),
            (f.base, z3.BitVecVal(where.vmemmap_base, 64)),
            (f.alloc_ok, z3.BoolVal(where.alloc_ok)),
        ]
        return [a.text for a in f.assumptions if not z3.is_true(z3.simplify(z3.substitute(a.expr, *pins)))]

    def _hints(self, where: Placement, index: z3.BitVecRef, value: int) -> list[z3.BoolRef]:
        """With the placement and the index pinned, every auxiliary division of a
        non-power-of-2 `struct page` has a constant dividend: its quotient and remainder
        are then the unique solution of its definition (|q| < 2^55), computed here so the
        solver does not search 64-bit products (1 s -> 40 ms per query, measured).  A
        value that did not satisfy the definition would only make the query unsat."""
        f = self._folio
        assert f is not None
        known: list[tuple[z3.ExprRef, z3.ExprRef]] = [
            (f.head_pfn, z3.BitVecVal(where.head_pfn, 64)),
            (f.base, z3.BitVecVal(where.vmemmap_base, 64)),
            (f.alloc_ok, z3.BoolVal(where.alloc_ok)),
            (index, z3.BitVecVal(value, 64)),
        ]
        hints: list[z3.BoolRef] = []
        todo = self._divisions
        while todo:
            left = []
            for rel, q, r in todo:
                dividend = z3.simplify(z3.substitute(rel, *known))
                if not z3.is_bv_value(dividend):
                    left.append((rel, q, r))
                    continue
                quotient, remainder = divmod(dividend.as_signed_long(), f.size)  # floor: 0 <= remainder < size
                known += [(q, z3.BitVecVal(quotient, 64)), (r, z3.BitVecVal(remainder, 64))]
                hints += [q == quotient, r == remainder]
            if len(left) == len(todo):
                break
            todo = left
        return hints

    def ask(self, where: Placement, *, at: int | None = None, outside: Sequence[tuple[int, int]] = ()) -> PinnedAnswer:
        """Solve with the placement pinned: is there a violation (at index `at`, or at an
        index outside the inclusive `outside` ranges)?  Only the first index variable is
        constrained (`j` of layout-soundness; its alias page `k2` stays free)."""
        solver = self._solver
        assert solver is not None, "not-applicable: no query"
        start = time.perf_counter()
        solver.push()
        try:
            solver.add(*self._pins(where))
            if self._query.indices and (at is not None or outside):
                ix = self._query.indices[0]
                if at is not None:
                    solver.add(ix.var == at)
                    solver.add(*self._hints(where, ix.var, at))
                for low, high in outside:
                    solver.add(z3.Or(_less(ix, ix.var, low), _less(ix, high, ix.var)))
            status, why, _took = solve(solver)
            if status is Status.UNSAT:
                return PinnedAnswer(Verdict.PROVED, seconds=time.perf_counter() - start)
            if status is Status.UNKNOWN:
                return PinnedAnswer(Verdict.UNKNOWN, reason=f"solver: {why}", seconds=time.perf_counter() - start)
            model = solver.model()
            indices = tuple((ix.name, _value(model, ix.var, ix.signed)) for ix in self._query.indices)
            return PinnedAnswer(Verdict.VIOLATED, indices, seconds=time.perf_counter() - start)
        finally:
            solver.pop()


def _divisions(folio: SymFolio) -> list[tuple[z3.BitVecRef, z3.BitVecRef, z3.BitVecRef]]:
    """(rel, q, r) of each auxiliary division among `folio.side`: an equality
    `rel == q * size + r` (encode.folio.divmod_size(); each side may be sign- or
    zero-extended, as in a wider exact form).  Terms of another shape give no hint:
    slower, never wrong."""
    out = []
    for term in folio.side:
        if not (z3.is_eq(term) and z3.is_app_of(term.arg(1), z3.Z3_OP_BADD) and term.arg(1).num_args() == 2):
            continue
        product, r = term.arg(1).arg(0), _unextended(term.arg(1).arg(1))
        if not (z3.is_app_of(product, z3.Z3_OP_BMUL) and product.num_args() == 2):
            continue
        q, size = _unextended(product.arg(0)), product.arg(1)
        if _is_var(q) and _is_var(r) and z3.is_bv_value(size) and size.as_long() == folio.size:
            out.append((_unextended(term.arg(0)), q, r))
    return out


def _unextended(term: z3.ExprRef) -> z3.ExprRef:
    """x for SignExt(n, x) or ZeroExt(n, x); else the term itself."""
    if z3.is_app_of(term, z3.Z3_OP_SIGN_EXT) or z3.is_app_of(term, z3.Z3_OP_ZERO_EXT):
        return term.arg(0)
    return term


def _is_var(term: z3.ExprRef) -> bool:
    return z3.is_const(term) and term.decl().kind() == z3.Z3_OP_UNINTERPRETED


def _less(ix: IndexVar, a: z3.BitVecRef | int, b: z3.BitVecRef | int) -> z3.BoolRef:
    return a < b if ix.signed else z3.ULT(a, b)


def _value(model: z3.ModelRef, var: z3.BitVecRef, signed: bool) -> int:
    value = model.eval(var, model_completion=True)
    return int(value.as_signed_long() if signed else value.as_long())
