"""Every invariant can fail: each must-catch spec comes back violated, with a
counterexample (static) or trace (operations) that replayed on the concrete model, and
every invariant is violated by at least one must-catch spec (for the operation
invariants: a must-catch or an objection spec)."""

from __future__ import annotations

import pathlib

import pytest

from hvo_verify.check.result import CheckResult
from hvo_verify.check.suite import check_specs
from hvo_verify.invariants.reachable import OP_INVARIANTS
from hvo_verify.invariants.replay import replay
from hvo_verify.invariants.static import INVARIANTS
from hvo_verify.specs.loader import load_specs
from hvo_verify.verdict import Verdict

ROOT = pathlib.Path(__file__).resolve().parents[2]
MUST_CATCH = sorted((ROOT / "specs" / "must-catch").glob("*.toml"))
OBJECTIONS = sorted((ROOT / "specs" / "objections").glob("*.toml"))


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
    assert violated, f"{path.name}: nothing violated"
    for res in mine:
        assert res.as_expected, (
            f"{path.name} {res.config} {res.invariant}: {res.verdict.value}, expected {res.expected}"
        )
    for res in violated:
        _assert_replayed(res)


def _assert_replayed(res: CheckResult) -> None:
    if res.trace is not None:  # an operation trace: replays to the same violation
        replayed = replay(res.trace, (res.invariant,))
        assert replayed[-1].violation is not None and replayed[-1].violation[0] == res.invariant, res
        assert res.trace.config == res.config and res.reason == replayed[-1].violation[1]
        return
    cex = res.counterexample
    assert cex is not None and cex.message and cex.details, res
    assert cex.config == res.config and cex.invariant == res.invariant


def test_every_invariant_is_caught_by_some_must_catch_spec(results: dict[str, list[CheckResult]]) -> None:
    caught = {r.invariant for rs in results.values() for r in rs if r.verdict is Verdict.VIOLATED}
    assert set(INVARIANTS) <= caught, f"never violated: {set(INVARIANTS) - caught}"


def test_every_operation_invariant_is_caught_by_a_replayed_trace(results: dict[str, list[CheckResult]]) -> None:
    objections = check_specs(load_specs([str(p) for p in OBJECTIONS]), workers=2)
    everything = [r for rs in results.values() for r in rs] + objections
    caught: set[str] = set()
    for res in everything:
        if res.verdict is Verdict.VIOLATED and res.invariant in OP_INVARIANTS:
            _assert_replayed(res)
            caught.add(res.invariant)
    assert caught == set(OP_INVARIANTS), f"never violated: {set(OP_INVARIANTS) - caught}"
    assert all(r.as_expected for r in objections), [
        (r.spec, r.invariant, r.verdict) for r in objections if not r.as_expected
    ]


def test_whole_regression_suite_matches_expectations() -> None:
    results = check_specs(load_specs([str(ROOT / "specs")]), workers=2)
    differ = [
        f"{r.spec} {r.config} {r.invariant}: {r.verdict.value} != {r.expected}" for r in results if not r.as_expected
    ]
    assert not differ, "\n".join(differ)
    assert len(results) > 500
