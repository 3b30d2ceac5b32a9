# SPDX-License-Identifier: GPL-2.0-only
"""Preconditions of the operations (ops/table.py Guard), symbolically and abstractly.

The concrete interpreter is ops/machine.py `Machine.holds`; here the same guards are read
as z3 terms over a `SymKState` (`precondition`), and over an abstract scalar state
(`possible_ops`): an abstract interpretation of the preconditions with every step's
abstract effects (ops/table.py Step.outcomes) taken all ways.  It over-approximates the
concrete reachable states, so pruning the operations it rules out loses no trace.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import z3

from hvo_verify.encode.ops.state import POOL, SymKState
from hvo_verify.encode.terms import TRUE, B
from hvo_verify.model.scheme import FolioKind
from hvo_verify.ops.machine import Machine
from hvo_verify.ops.state import Pool
from hvo_verify.ops.table import OPS, Abs, Guard, IoStage

if TYPE_CHECKING:
    from hvo_verify.encode.ops.unroll import Unrolling


def holds(u: Unrolling, guard: Guard, s: SymKState) -> B:
    """One guard as a term (Machine.holds)."""
    hugetlb_kind = u.scheme.folio_kind is FolioKind.HUGETLB
    match guard:
        case Guard.HUGETLB_FOLIO:
            return z3.BoolVal(hugetlb_kind)
        case Guard.SCHEME_OPTIMIZES:
            return z3.BoolVal(u.scheme.optimizes)
        case Guard.IN_FREE_POOL:
            return z3.And(s.pool == POOL[Pool.FREE], s.hugetlb)
        case Guard.NOT_OPTIMIZED:
            return z3.Not(s.optimized)
        case Guard.OPTIMIZED:
            return s.optimized
        case Guard.REMOVED:
            return s.pool == POOL[Pool.REMOVED]
        case Guard.MAPPED:
            return s.mapped
        case Guard.MAPPED_IF_HUGETLB:
            return s.mapped if hugetlb_kind else TRUE
        case Guard.NO_IO:
            return z3.Not(s.io.present)
        case Guard.IO_UNSUBMITTED:
            return z3.And(s.io.present, z3.Not(s.io.submitted))
        case Guard.IO_PINNED:
            return z3.And(s.io.present, s.io.pin)
        case Guard.IO_GOT:
            return z3.And(s.io.present, z3.Not(s.io.pin))


def precondition(u: Unrolling, op: str, s: SymKState) -> B:
    """The operation's precondition (Machine.enabled) as a term."""
    terms = [holds(u, g, s) for g in OPS[op].guard]
    constant = [t for t in terms if z3.is_false(t)]
    if constant:
        return constant[0]
    kept = [t for t in terms if not z3.is_true(t)]
    if not kept:
        return TRUE
    return kept[0] if len(kept) == 1 else z3.And(kept)


@dataclass(frozen=True)
class _Abs:
    """The abstract scalar state."""

    pool: Pool
    optimized: bool
    hugetlb: bool
    mapped: bool
    io: IoStage
    pin: bool


def _abs_holds(m: Machine, guard: Guard, s: _Abs) -> bool:
    match guard:
        case Guard.HUGETLB_FOLIO:
            return m.scheme.folio_kind is FolioKind.HUGETLB
        case Guard.SCHEME_OPTIMIZES:
            return m.scheme.optimizes
        case Guard.IN_FREE_POOL:
            return s.pool is Pool.FREE and s.hugetlb
        case Guard.NOT_OPTIMIZED:
            return not s.optimized
        case Guard.OPTIMIZED:
            return s.optimized
        case Guard.REMOVED:
            return s.pool is Pool.REMOVED
        case Guard.MAPPED:
            return s.mapped
        case Guard.MAPPED_IF_HUGETLB:
            return s.mapped or m.scheme.folio_kind is not FolioKind.HUGETLB
        case Guard.NO_IO:
            return s.io is IoStage.NONE
        case Guard.IO_UNSUBMITTED:
            return s.io is IoStage.GRABBED
        case Guard.IO_PINNED:
            return s.io is not IoStage.NONE and s.pin
        case Guard.IO_GOT:
            return s.io is not IoStage.NONE and not s.pin


def _apply(m: Machine, s: _Abs, effect: Abs) -> list[_Abs]:
    """The abstract states one alternative of a step leads to."""
    if effect.when is not None and getattr(m.policies, effect.when[0]) != effect.when[1]:
        return []
    changes = {
        name: getattr(effect, name)
        for name in ("pool", "optimized", "hugetlb", "mapped", "io", "pin")
        if getattr(effect, name) is not None
    }
    out = replace(s, **changes)
    if effect.pool_may_free:
        return [out, replace(out, pool=Pool.FREE)] if out.pool is not Pool.FREE else [out]
    return [out]


def _successors(m: Machine, s: _Abs, op: str) -> set[_Abs]:
    """Every abstract state `op` can leave `s` in (empty: not enabled)."""
    if not all(_abs_holds(m, g, s) for g in OPS[op].guard):
        return set()
    running: set[_Abs] = {s}
    done: set[_Abs] = set()
    for step in OPS[op].steps:
        nxt: set[_Abs] = set()
        for state in running:
            for effect in step.outcomes:
                for out in _apply(m, state, effect):
                    (done if effect.stop else nxt).add(out)
        running = nxt
    return running | done


def possible_ops(m: Machine, alphabet: tuple[str, ...], depth: int) -> list[tuple[str, ...]]:
    """For each step 1..depth, the operations of `alphabet` some reachable state enables."""
    hugetlb = m.scheme.folio_kind is FolioKind.HUGETLB
    first = (
        _Abs(Pool.FREE, False, True, False, IoStage.NONE, False)
        if hugetlb
        else _Abs(Pool.IN_USE, m.scheme.optimizes, False, True, IoStage.NONE, False)
    )
    states = {first}
    out: list[tuple[str, ...]] = []
    for _ in range(depth):
        enabled: set[str] = set()
        nxt: set[_Abs] = set()
        for st in states:
            for op in alphabet:
                succ = _successors(m, st, op)
                if succ:
                    enabled.add(op)
                    nxt.update(succ)
        out.append(tuple(op for op in alphabet if op in enabled))
        states = nxt
    return out


def _first(m: Machine) -> _Abs:
    """Machine.initial() abstractly."""
    if m.scheme.folio_kind is FolioKind.HUGETLB:
        return _Abs(Pool.FREE, False, True, False, IoStage.NONE, False)
    return _Abs(Pool.IN_USE, m.scheme.optimizes, False, True, IoStage.NONE, False)


def reachable_abstract(m: Machine, alphabet: tuple[str, ...]) -> frozenset[_Abs]:
    """Every abstract state some sequence of any length reaches (the fixpoint of
    possible_ops()'s exploration; the domain is finite)."""
    seen = {_first(m)}
    todo = list(seen)
    while todo:
        st = todo.pop()
        for op in alphabet:
            for nxt in _successors(m, st, op) - seen:
                seen.add(nxt)
                todo.append(nxt)
    return frozenset(seen)


def possible_anywhere(m: Machine, alphabet: tuple[str, ...]) -> tuple[str, ...]:
    """The operations of `alphabet` some reachable state enables, at any depth."""
    states = reachable_abstract(m, alphabet)
    return tuple(op for op in alphabet if any(_successors(m, st, op) for st in states))


def abstractly_reachable(m: Machine, alphabet: tuple[str, ...], s: SymKState) -> B:
    """The scalar state is one of reachable_abstract()'s: an over-approximation of the
    reachable states, so a lemma (encode/ops/induction.py BUILTIN_LEMMAS)."""
    terms = []
    for a in sorted(reachable_abstract(m, alphabet), key=repr):
        io = {
            IoStage.NONE: z3.Not(s.io.present),
            IoStage.GRABBED: z3.And(s.io.present, z3.Not(s.io.submitted)),
            IoStage.SUBMITTED: z3.And(s.io.present, s.io.submitted),
        }[a.io]
        pin = TRUE if a.io is IoStage.NONE else s.io.pin == a.pin
        terms.append(z3.And(s.pool == POOL[a.pool], s.optimized == a.optimized, s.hugetlb == a.hugetlb,
                            s.mapped == a.mapped, io, pin))  # fmt: skip
    return z3.Or(terms)
