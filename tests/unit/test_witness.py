# SPDX-License-Identifier: GPL-2.0-only
"""Proofs that say what they covered (issue 13, item 1): every operation invariant names
its witness, a proof carries the shortest replayed run reaching it, and a proof whose
witness cannot happen within the depth is `unreached`, not `proved`.

The spec is specs/must-catch/unreached-dma-depth-2.toml: willy's fifth-page DMA under
v6.2 at depth 2, where no DMA can happen but alloc_hugetlb_folio() stores to the
optimized folio's head."""

from __future__ import annotations

import dataclasses
import io
import json
import pathlib
from unittest import mock

import pytest

from hvo_verify import cli
from hvo_verify.check.bmc import UNROLLINGS, OpsJob
from hvo_verify.check.suite import check_specs, run_any, spec_jobs
from hvo_verify.encode.invariants import reachable as sym
from hvo_verify.encode.terms import FALSE, TRUE
from hvo_verify.errors import EncodingMismatch
from hvo_verify.invariants.reachable import OP_INVARIANTS, WITNESSES
from hvo_verify.invariants.replay import replay
from hvo_verify.specs.loader import load_specs
from hvo_verify.verdict import Verdict

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEPTH_2 = ROOT / "specs" / "must-catch" / "unreached-dma-depth-2.toml"


def _jobs(witness: bool = True) -> dict[str, OpsJob]:
    [spec] = load_specs([str(DEPTH_2)])
    jobs = spec_jobs(spec, witness)
    assert all(isinstance(j, OpsJob) for j in jobs)
    return {j.invariant: j for j in jobs if isinstance(j, OpsJob)}


def test_every_invariant_names_a_witness_written_on_both_sides() -> None:
    assert set(WITNESSES) == set(sym.WITNESSES)
    used = {inv.witness for inv in OP_INVARIANTS.values()}
    assert used == set(WITNESSES), "every invariant has a witness, every witness an invariant"
    assert OP_INVARIANTS["ro-write"].witness == OP_INVARIANTS["alias-write"].witness
    for w in WITNESSES.values():
        assert w.summary and w.kernel_ref, w.id


def test_depth_2_dma_is_unreached_and_the_store_proof_shows_its_witness() -> None:
    UNROLLINGS.clear()
    results = {r.invariant: r for r in check_specs(load_specs([str(DEPTH_2)]))}
    for inv in ("dma-exact", "refcount", "read-fault"):
        res = results[inv]
        assert res.verdict is Verdict.UNREACHED and res.as_expected, res
        assert res.reason.startswith("no run of at most 2 operations reaches the witness: "), res.reason
        assert WITNESSES[OP_INVARIANTS[inv].witness].summary in res.reason
        assert res.witness is None
    store = results["ro-write"]
    assert store.verdict is Verdict.PROVED and store.witness is not None
    assert [s.op for s in store.witness.steps] == ["hugetlb_vmemmap_optimize_folio", "alloc_hugetlb_folio"]
    # The witness replays, and the concrete predicate holds at its last step.
    last = replay(store.witness, ())[-1]
    assert last.outcome is not None
    assert WITNESSES["store-optimized"].check(store.witness.machine(), last.before, last.step, last.outcome)
    doc = store.to_json()
    assert doc["witness"] == [
        {"op": "hugetlb_vmemmap_optimize_folio", "args": {"alloc_ok": True}},
        {"op": "alloc_hugetlb_folio", "args": {}},
    ]
    assert "witness" not in results["dma-exact"].to_json()


def test_depth_4_reaches_willys_dma() -> None:
    """At depth 4 the DMA happens: optimize, allocate, pin, submit."""
    UNROLLINGS.clear()
    job = dataclasses.replace(_jobs()["dma-exact"], depth=4)
    res = run_any(job)
    assert res.verdict is Verdict.PROVED and res.witness is not None, res
    assert [s.op for s in res.witness.steps] == [
        "hugetlb_vmemmap_optimize_folio", "alloc_hugetlb_folio", "pin_user_pages_fast", "submit_bio"
    ]  # fmt: skip


def test_no_witness_reports_the_proof_as_before_and_says_so() -> None:
    UNROLLINGS.clear()
    res = run_any(_jobs(witness=False)["dma-exact"])
    assert res.verdict is Verdict.PROVED and res.witness is None
    assert any(a.startswith("witness not checked (a DMA completion") for a in res.assumptions), res.assumptions


def test_invariants_sharing_a_witness_ask_once() -> None:
    jobs, plain = _jobs(), _jobs(witness=False)
    UNROLLINGS.clear()
    run_any(jobs["ro-write"])
    shared = run_any(dataclasses.replace(jobs["ro-write"], invariant="alias-write"))
    UNROLLINGS.clear()
    run_any(plain["ro-write"])
    alone = run_any(dataclasses.replace(plain["ro-write"], invariant="alias-write"))
    assert shared.verdict is Verdict.PROVED and shared.witness is not None
    assert shared.queries == alone.queries  # the witness came from the cache


def test_a_witness_that_always_holds_on_the_z3_side_does_not_replay() -> None:
    UNROLLINGS.clear()
    with mock.patch.dict(sym.WITNESSES, {"store-optimized": lambda u, st: TRUE}):
        with pytest.raises(EncodingMismatch, match="witness run .* does not replay"):
            run_any(_jobs()["ro-write"])
    UNROLLINGS.clear()


def test_a_witness_that_never_holds_on_the_z3_side_is_unreached() -> None:
    UNROLLINGS.clear()
    with mock.patch.dict(sym.WITNESSES, {"store-optimized": lambda u, st: FALSE}):
        assert run_any(_jobs()["ro-write"]).verdict is Verdict.UNREACHED
    UNROLLINGS.clear()


def test_check_and_explain_show_unreached_and_the_witness() -> None:
    text_out, text_err = io.StringIO(), io.StringIO()
    code = cli.run(["check", str(DEPTH_2), "--jobs", "1"], text_out, text_err)
    assert code == 0, text_err.getvalue()
    table = text_out.getvalue()
    assert "dma-exact          unreached       ok" in table
    assert "never enabled within the depth: submit_bio, unpin_user_pages_dirty_lock" in table
    assert "3 unreached" in " ".join(table.split())  # the summary wraps at 80 columns
    ex = io.StringIO()
    assert cli.run(["explain", str(DEPTH_2)], ex, io.StringIO()) == 0
    assert "reached: hugetlb_vmemmap_optimize_folio(true) -> alloc_hugetlb_folio" in ex.getvalue()
    js = io.StringIO()
    assert cli.run(["check", str(DEPTH_2), "--jobs", "1", "--format", "json"], js, io.StringIO()) == 0
    verdicts = {r["invariant"]: r["verdict"] for r in json.loads(js.getvalue())["results"]}
    assert verdicts["dma-exact"] == "unreached"


@pytest.mark.parametrize(("name", "kind"), [("z3-only-witness-always", "replay"), ("z3-only-witness-never", "verdict")])
def test_witness_mutants_are_killed(name: str, kind: str) -> None:
    """selfcheck/onelayer.py WITNESS_MUTANTS: a z3 witness that always holds does not
    replay; one that never holds turns a proof into `unreached`."""
    from hvo_verify.selfcheck import mutants, onelayer

    mutant = next(mu for mu in onelayer.WITNESS_MUTANTS if mu.name == name)
    assert mutant in onelayer.CATALOGUE
    run = mutants.run_mutant(mutant, [str(ROOT / "specs")])
    assert not run.error, run.error
    assert run.killed and run.kind == kind, (name, run.kind, run.kills)


def test_explore_has_no_verdict_where_check_is_vacuous(tmp_path: pathlib.Path) -> None:
    """ux-review: explore said "ok" for a spec check calls vacuous."""
    spec = tmp_path / "folio-put-only.toml"
    spec.write_text(
        'title = "t"\nsource = "s"\nscheme = "v5.18"\nconfigs = ["x86-64/4K/2M"]\ninvariants = ["ro-write"]\n'
        '[ops]\nrun = ["folio_put"]\ndepth = 2\n[expect]\ndefault = "proved"\n'
    )
    out = io.StringIO()
    assert cli.run(["explore", str(spec), "--examples", "10"], out, io.StringIO()) == 1
    assert "no verdict (warning: check calls it vacuous: no run exists)" in out.getvalue()


def test_explore_reaching_a_witness_check_calls_unreached_is_our_bug() -> None:
    from hvo_verify.check.explore import Exploration, against_check
    from hvo_verify.check.result import CheckResult
    from hvo_verify.ops.trace import TraceStep

    submit = (TraceStep("submit_bio", ()),)
    explored = Exploration("s.toml", "x86-64/4K/2M", "dma-exact", Verdict.PROVED, 1, 1, reached=submit)
    unreached = CheckResult("s.toml", "x86-64/4K/2M", "dma-exact", Verdict.UNREACHED, Verdict.PROVED)
    with pytest.raises(EncodingMismatch, match="exploration reached the witness .* BMC calls unreached"):
        against_check([explored], [unreached])
    proved = dataclasses.replace(unreached, verdict=Verdict.PROVED)
    [quiet] = against_check([dataclasses.replace(explored, reached=None)], [proved])
    assert quiet.no_verdict == "check reached the invariant's witness, exploration did not"
    assert not quiet.as_expected
    [agrees] = against_check([explored], [proved])
    assert agrees.as_expected and not agrees.no_verdict
