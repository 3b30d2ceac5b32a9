# SPDX-License-Identifier: GPL-2.0-only
"""What a spec will cost before it runs (issue 15 item 3): an estimate in CPU seconds from
the size of its unrolling, a refusal up front beyond REFUSE_FACTOR x TARGET_S, and the
time budget (BUDGET_S) of a spec whose estimate exceeds TARGET_S.

The BMC of an operation spec grows with the unrolling: step t runs every operation the
abstract pruning (encode/ops/enabled.py `possible_ops()`) leaves possible there, each a
sequence of kernel steps (ops/table.py), and every read at step t walks the memory events
of the t steps before it.  `weight()` is that size: the sum over steps t of t times the
kernel steps of the operations possible at t.  A check's solver time grows faster than
the unrolling; calibrated on the shipped specs (profile of `hvo-verify check specs/` at
c20c800, CPU seconds per (spec, config), the upper envelope of the ratio):
CPU seconds per invariant <= OPS_SCALE * weight ** OPS_EXPONENT.  Static and
interleaving checks are a flat cost per check (their mean there).

Nothing here solves: `estimate()` runs the abstract pruning only (no z3 query).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hvo_verify.encode.ops.enabled import possible_ops
from hvo_verify.errors import SpecError
from hvo_verify.ops.machine import Machine
from hvo_verify.ops.table import OPS
from hvo_verify.specs.schema import Spec

TARGET_S = 120.0  # what a spec may cost: one estimated above this runs on a budget
BUDGET_S = 100.0  # the wall its checks share then (TARGET_S less start-up, loading, replay)
REFUSE_FACTOR = 10  # a spec estimated above REFUSE_FACTOR * TARGET_S is refused up front
OPS_SCALE = 0.005  # CPU seconds per invariant = OPS_SCALE * weight ** OPS_EXPONENT
OPS_EXPONENT = 1.5
STATIC_S = 0.03  # per static check (mean 0.022 s over 2,309 checks)
SMP_S = 1.2  # per interleaving check (mean 1.1 s over 47 checks)


@dataclass(frozen=True, slots=True)
class Cost:
    """The estimate of one spec unit: CPU seconds, and per config the unrolling weight."""

    seconds: float
    weights: tuple[tuple[str, int], ...] = ()  # (config id, weight()) of an operation spec

    @property
    def budgeted(self) -> bool:
        """Runs within a wall budget of BUDGET_S, shared by its checks (check/bmc.py)."""
        return self.seconds > TARGET_S

    @property
    def refused(self) -> bool:
        return self.seconds > REFUSE_FACTOR * TARGET_S


def weight(machine: Machine, alphabet: tuple[str, ...], depth: int, max_calls: tuple[tuple[str, int], ...] = ()) -> int:
    """The unrolling's size: sum over steps t of t x the kernel steps of the operations
    possible at step t (a read at step t walks the events of the steps before it).  An
    operation bounded by `max_calls` to n calls counts n / (steps where it is possible)
    of its share (0 calls: it never runs)."""
    possible = possible_ops(machine, alphabet, depth)
    limits = dict(max_calls)
    total = 0.0
    for name in alphabet:
        at = [t for t, ops in enumerate(possible, start=1) if name in ops]
        share = min(1.0, limits[name] / len(at)) if name in limits and at else 1.0
        total += share * len(OPS[name].steps) * sum(at)
    return round(total)


def ops_seconds(w: int, invariants: int) -> float:
    return invariants * OPS_SCALE * w**OPS_EXPONENT


def estimate(spec: Spec) -> Cost:
    """The estimated CPU seconds of checking `spec` (every config and invariant)."""
    n = len(spec.invariants) * len(spec.configs)
    if spec.smp is not None:
        return Cost(n * SMP_S)
    if spec.ops is None:
        return Cost(n * STATIC_S)
    ops = spec.ops
    weights = []
    for config in spec.configs:
        machine = Machine.canonical(config, spec.scheme, ops.policies, ops.io_max or config.page_size, ops.io_align)
        weights.append((config.id, weight(machine, ops.alphabet, ops.depth, ops.max_calls)))
    return Cost(sum(ops_seconds(w, len(spec.invariants)) for _id, w in weights), tuple(weights))


def refuse_costly(specs: Sequence[Spec]) -> None:
    """Raise a one-line SpecError for the first spec whose estimate is beyond
    REFUSE_FACTOR x TARGET_S, naming the estimate and the knobs that lower it."""
    for spec in specs:
        cost = estimate(spec)
        if not cost.refused:
            continue
        assert spec.ops is not None  # only an operation spec can be estimated this high
        ops = spec.ops
        limit = REFUSE_FACTOR * TARGET_S
        raise SpecError(
            spec.unit,
            "ops",
            f"estimated cost {cost.seconds:,.0f} CPU s is over the limit of {limit:,.0f} s "
            f"({len(spec.invariants)} invariant(s) x {len(spec.configs)} config(s), depth {ops.depth}, "
            f"{len(ops.alphabet)} operations in run): lower ops.depth, list fewer operations in ops.run, "
            "or bound them with ops.max_calls (or check fewer invariants)",
        )
