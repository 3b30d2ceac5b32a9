# SPDX-License-Identifier: GPL-2.0-only
"""Every invariant can fail: each must-catch spec comes back violated (or, for a proof
that covers nothing, unreached: `unreached-dma-depth-2`), with a
counterexample (static) or trace (operations) that reproduces on the concrete model, and
every invariant is violated by at least one must-catch spec (for the operation
invariants: a must-catch or an objection spec).

The engines replay every witness before reporting it (check/static.py `_replay`,
check/bmc.py through invariants/replay.py); redoing that replay here would test nothing
new.  `_assert_reproduced()` checks what the engines do not: that the reported witness
describes the spec (config, scheme, policies, alphabet, depth) at a placement the
kernel allows, that a static counterexample's index is the first violating one (brute
force; the engine minimises it with the solver but never checks it), and that a trace
reproduces from its saved JSON form (what `--save-traces` writes and `hvo-verify
replay` reads)."""

from __future__ import annotations

import json
import pathlib

import pytest

from hvo_verify.check.result import CheckResult
from hvo_verify.check.suite import check_specs
from hvo_verify.invariants.reachable import OP_INVARIANTS
from hvo_verify.invariants.replay import replay
from hvo_verify.invariants.static import INVARIANTS, Index
from hvo_verify.model.config import parse_config_id
from hvo_verify.model.remap import optimize
from hvo_verify.model.structpage import Folio
from hvo_verify.selfcheck.differential import first_violation, kernel_vmemmap_align
from hvo_verify.specs.loader import load_specs
from hvo_verify.specs.schema import Spec
from hvo_verify.specs.tracefile import load_trace
from hvo_verify.verdict import Verdict

ROOT = pathlib.Path(__file__).resolve().parents[2]
MUST_CATCH = sorted((ROOT / "specs" / "must-catch").glob("*.toml"))
OBJECTIONS = sorted((ROOT / "specs" / "objections").glob("*.toml"))


SPECS = {(spec.path, spec.scheme.name): spec for spec in load_specs([str(p) for p in MUST_CATCH + OBJECTIONS])}


@pytest.fixture(scope="module")
def results() -> dict[str, list[CheckResult]]:
    specs = load_specs([str(p) for p in MUST_CATCH])
    out: dict[str, list[CheckResult]] = {}
    for res in check_specs(specs, workers=2):
        out.setdefault(res.spec, []).append(res)
    return out


@pytest.mark.parametrize("path", MUST_CATCH, ids=[p.stem for p in MUST_CATCH])
def test_must_catch_spec_is_violated_with_replayed_counterexample(
    path: pathlib.Path, results: dict[str, list[CheckResult]]
) -> None:
    mine = results[str(path)]
    violated = [r for r in mine if r.verdict is Verdict.VIOLATED]
    # A spec of proofs that cover nothing (unreached-*) catches by `unreached` instead.
    assert violated or any(r.verdict is Verdict.UNREACHED for r in mine), f"{path.name}: nothing violated"
    for res in mine:
        assert res.as_expected, (
            f"{path.name} {res.config} {res.invariant}: {res.verdict.value}, expected {res.expected}"
        )
    for res in violated:
        _assert_reproduced(res, SPECS[(res.spec, res.scheme)])


def _assert_reproduced(res: CheckResult, spec: Spec) -> None:
    """See the module docstring."""
    config = parse_config_id(res.config)[0]
    assert config in spec.configs and res.invariant in spec.invariants, res
    if spec.ops is not None:
        ops, trace = spec.ops, res.trace
        assert trace is not None, res
        assert (trace.config, trace.scheme, trace.policies, trace.invariant) == (
            res.config, spec.scheme, ops.policies, res.invariant)  # fmt: skip
        assert (trace.io_max, trace.io_align) == (ops.io_max or config.page_size, ops.io_align)
        assert trace.head_pfn % config.nr_pages == 0 and trace.vmemmap_base % config.page_size == 0
        assert 0 < len(trace.steps) <= ops.depth and {s.op for s in trace.steps} <= set(ops.alphabet), trace
        replayed = replay(load_trace(json.dumps(trace.to_json())), (res.invariant,))
        assert replayed[-1].violation == (res.invariant, res.reason), replayed[-1]
        return
    cex = res.counterexample
    assert cex is not None and cex.details, res
    assert (cex.config, cex.scheme, cex.invariant) == (res.config, spec.scheme.name, res.invariant)
    align = spec.vmemmap_base_align or kernel_vmemmap_align(config, spec.scheme)
    assert cex.head_pfn % config.nr_pages == 0 and cex.vmemmap_base % align == 0, cex
    inv = INVARIANTS[res.invariant]
    mem = optimize(Folio(config, spec.scheme, cex.head_pfn, cex.vmemmap_base), alloc_ok=cex.head_page_alloc_ok)
    index = cex.indices[0][1] if cex.indices else 0
    assert inv.check(mem, index) == cex.message, cex
    if inv.index is not Index.FOLIO:
        first = first_violation(inv, mem, stop=index)
        assert first is not None and first[0] == index, f"{cex}: index {first} violates first"


def test_every_invariant_is_caught_by_some_must_catch_spec(results: dict[str, list[CheckResult]]) -> None:
    caught = {r.invariant for rs in results.values() for r in rs if r.verdict is Verdict.VIOLATED}
    assert set(INVARIANTS) <= caught, f"never violated: {set(INVARIANTS) - caught}"


def _expects_a_violation(spec: Spec) -> bool:
    return any(
        spec.expect.expected(inv, config.id, spec.scheme.name) is Verdict.VIOLATED
        for config in spec.configs
        for inv in spec.invariants
    )


def test_every_operation_invariant_is_caught_by_a_replayed_trace(results: dict[str, list[CheckResult]]) -> None:
    # The objection specs (each era of a sweep) that expect a violation somewhere: the
    # all-proved ones cannot catch anything, and their proofs are the specs lane's.
    objections = check_specs([s for s in load_specs([str(p) for p in OBJECTIONS]) if _expects_a_violation(s)])
    everything = [r for rs in results.values() for r in rs] + objections
    caught: set[str] = set()
    for res in everything:
        if res.verdict is Verdict.VIOLATED and res.invariant in OP_INVARIANTS:
            _assert_reproduced(res, SPECS[(res.spec, res.scheme)])
            caught.add(res.invariant)
    assert caught == set(OP_INVARIANTS), f"never violated: {set(OP_INVARIANTS) - caught}"
    assert all(r.as_expected for r in objections), [
        (r.spec, r.invariant, r.verdict) for r in objections if not r.as_expected
    ]


# The whole regression suite against its expectations is the `specs` lane of CI
# (`hvo-verify check --no-cache specs/`, README "Test lanes"), not a test here.
