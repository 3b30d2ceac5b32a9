# SPDX-License-Identifier: GPL-2.0-only
"""The scalar state of the kernel operations as z3 terms: `SymKState`, the twin of
ops/state.py `KState` with the same field names (tests/unit/test_pairing.py), less the
memory (the unrolling's event chain holds it) and the per-step facts (DMA, restores).

Bounded lists (the raw_hwp list, the subpage mappings, the injected pfns) are `Slots`:
one (valid, value) pair per step of the unrolling, enough for one entry per operation.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, TypeAlias

import z3

from hvo_verify.encode.terms import BV, B, bv
from hvo_verify.ops.state import Pool

# Pool members as 64-bit constants.
POOL = {p: i for i, p in enumerate(Pool)}

Slot: TypeAlias = tuple[B, BV]  # (valid, value)
Slots: TypeAlias = tuple[Slot, ...]


@dataclass(frozen=True)
class SymIo:
    """The I/O in flight (KState.io): its presence, the user buffer, FOLL_PIN or
    FOLL_GET, whether it was submitted, and the first struct page GUP returned (the
    others follow it: GUP hands out page + j)."""

    present: B
    offset: BV
    length: BV
    pin: B
    submitted: B
    page0: BV


@dataclass(frozen=True)
class SymKState:
    optimized: B  # KState.optimized (a property of its vmemmap there)
    hugetlb: B
    pool: BV  # POOL[...]
    raw_hwp: Slots  # subpage indexes on folio->_hugetlb_hwpoison
    raw_hwp_unreliable: B
    mapped: B
    dissolve_pfn: Slot  # (called, subpage index) of dissolve_free_hugetlb_folio()
    io: SymIo
    subpage_maps: Slots
    injected: Slots  # ghost: subpage indexes memory_failure() was called on
    refs: BV  # ghost: what the folio refcount should be
    pins: BV  # ghost: what folio->_pincount should be


def slots(depth: int) -> Slots:
    return ((z3.BoolVal(False), bv(0)),) * depth


def listed(entries: Slots, i: BV) -> B:
    """Is i one of the valid entries?"""
    return z3.Or([z3.And(v, x == i) for v, x in entries] or [z3.BoolVal(False)])


def insert(entries: Slots, i: BV, cond: B | None = None) -> Slots:
    """Put i into the first free slot (an append to a bounded list) where `cond` holds."""
    out = []
    placed: B = z3.BoolVal(False) if cond is None else z3.Not(cond)
    for valid, x in entries:
        here = z3.And(z3.Not(placed), z3.Not(valid))
        out.append((z3.Or(valid, here), z3.If(here, i, x)))
        placed = z3.Or(placed, here)
    return tuple(out)


def merge(cond: B, new: Any, old: Any) -> Any:
    """`new` where cond holds, else `old`, field by field (the same term stays as is)."""
    if new is old:
        return old
    if isinstance(new, tuple):
        return tuple(merge(cond, n, o) for n, o in zip(new, old, strict=True))
    if dataclasses.is_dataclass(new) and not isinstance(new, type):
        return dataclasses.replace(
            old, **{f.name: merge(cond, getattr(new, f.name), getattr(old, f.name)) for f in dataclasses.fields(new)}
        )
    if z3.is_expr(new) and new.eq(old):
        return old
    return z3.If(cond, new, old)
