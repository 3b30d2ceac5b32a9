# SPDX-License-Identifier: GPL-2.0-only
"""The static query of one (config, scheme, invariant, vmemmap base alignment), built in
one place for the two engines that ask it: check/static.py proves it over every
placement, check/pinned.py asks it at pinned placements (the differential self-check).

`not_applicable()` is the rule that answers without a query.  `build()` asserts, in
this order, the folio's assumptions, the auxiliary definitions, the index domain, any
extra (self-check) assumptions and the violation: the same solver state for both
engines, so a differential disagreement can only be about the placement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import z3

from hvo_verify.check.solver import new_solver
from hvo_verify.encode.canaries import EXTRA_ASSUMPTIONS
from hvo_verify.encode.folio import SymFolio
from hvo_verify.encode.invariants.static import BUILDERS, Query
from hvo_verify.invariants.static import INVARIANTS
from hvo_verify.model.config import KernelConfig
from hvo_verify.model.scheme import Scheme
from hvo_verify.model.vmemmap import fit_error, not_applicable_reason


def not_applicable(config: KernelConfig, scheme: Scheme, invariant: str) -> str | None:
    """Why the check answers NOT_APPLICABLE without a query: the kernel would not
    optimize this folio, or the invariant does not apply to the scheme (None: ask)."""
    return not_applicable_reason(config, scheme) or INVARIANTS[invariant].not_applicable(scheme)


@dataclass(frozen=True)
class StaticQuery:
    """The folio's variables, the invariant's query, and a solver holding all of it."""

    folio: SymFolio
    query: Query
    solver: z3.Solver
    extras: tuple[tuple[str, z3.BoolRef], ...]  # (text, term) of each extra assumption


def build(
    config: KernelConfig,
    scheme: Scheme,
    invariant: str,
    *,
    base_align: int | None = None,
    timeout_ms: int = 10_000,
    extra_assumptions: Sequence[str] = (),
) -> StaticQuery:
    """The query of an applicable check (see `not_applicable()`); `extra_assumptions`
    names entries of encode.canaries.EXTRA_ASSUMPTIONS (self-check only)."""
    misfit = fit_error(config, scheme)
    if misfit is not None:  # specs are rejected by the loader; API callers get the same words
        raise ValueError(f"scheme.{misfit[0]}: {misfit[1]}")
    folio = SymFolio(config, scheme, base_align=base_align)
    query = BUILDERS[invariant](folio)
    extras = tuple((EXTRA_ASSUMPTIONS[name][0], EXTRA_ASSUMPTIONS[name][1](folio)) for name in extra_assumptions)
    solver = new_solver(timeout_ms)
    for assumption in folio.assumptions:
        solver.add(assumption.expr)
    solver.add(*folio.side)
    solver.add(*query.domain)
    solver.add(*(expr for _text, expr in extras))
    solver.add(query.violation)
    return StaticQuery(folio, query, solver, extras)
