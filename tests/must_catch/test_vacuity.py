# SPDX-License-Identifier: GPL-2.0-only
"""Vacuity can fire (the selfcheck `vacuity` section): a proof whose assumptions are
unsatisfiable is reported `vacuous`, never `proved`, with the contradictory
assumptions named.

Two ways in: the self-check-only hook `extra_assumptions` (encode.canaries.EXTRA_ASSUMPTIONS)
adds a contradictory assumption to a job that is proved without it, static and
operations; and a spec whose assumptions are contradictory as written: an `[ops]` spec
whose `run` list has no operation a folio just added to the pool allows (`folio_put`
alone), so the unrolling admits no trace."""

from __future__ import annotations

import dataclasses
import io
import json
import pathlib

import pytest

from hvo_verify import cli
from hvo_verify.check.bmc import OpsJob
from hvo_verify.check.static import Job
from hvo_verify.check.suite import check_specs, run_any, spec_jobs
from hvo_verify.encode.canaries import EXTRA_ASSUMPTIONS
from hvo_verify.report import text
from hvo_verify.selfcheck.vacuity import OPS_CANARY, STATIC_CANARY, VACUOUS_SPEC, run_vacuity
from hvo_verify.specs.loader import parse_spec
from hvo_verify.verdict import Verdict


def job(source: str) -> Job | OpsJob:
    [only] = spec_jobs(parse_spec(source, "canary.toml"))
    assert isinstance(only, Job | OpsJob)
    return only


@pytest.mark.parametrize("source", [STATIC_CANARY, OPS_CANARY], ids=["static", "operations"])
@pytest.mark.parametrize("extra", sorted(EXTRA_ASSUMPTIONS))
def test_contradictory_assumption_makes_a_proof_vacuous(source: str, extra: str) -> None:
    plain = job(source)
    assert run_any(plain).verdict is Verdict.PROVED
    res = run_any(dataclasses.replace(plain, extra_assumptions=(extra,)))
    assert res.verdict is Verdict.VACUOUS, res
    assert res.reason.startswith("the assumptions are contradictory, nothing was checked: ")
    # The unsat core names the hook's assumption and what it contradicts.
    assert EXTRA_ASSUMPTIONS[extra][0] in res.reason
    assert res.reason.count(";") >= 1
    assert EXTRA_ASSUMPTIONS[extra][0] in res.assumptions


def test_a_spec_with_contradictory_assumptions_is_vacuous() -> None:
    results = check_specs([parse_spec(VACUOUS_SPEC, "folio-put-only.toml")])
    assert [r.verdict for r in results] == [Verdict.VACUOUS, Verdict.VACUOUS]
    assert all(r.as_expected for r in results)  # the spec expects it
    # Either the operation domain of step 1 is empty, or nothing is enabled at step 1.
    assert all("{folio_put}" in r.reason for r in results), results


def test_vacuous_is_reported_and_differs_from_proved(tmp_path: pathlib.Path) -> None:
    spec = tmp_path / "folio-put-only.toml"
    spec.write_text(VACUOUS_SPEC.replace('default = "vacuous"', 'default = "proved"'))
    out, err = io.StringIO(), io.StringIO()
    assert cli.run(["check", str(spec)], out, err) == cli.EXIT_DIFFER
    table = out.getvalue()
    flat = " ".join(table.split())  # rows and the summary wrap at 80 columns
    assert "vacuous MISMATCH (expected proved)" in flat
    assert "the assumptions are contradictory" in flat
    assert flat.endswith("0 not-applicable, 2 vacuous; 2 differ from expectation")
    out = io.StringIO()
    assert cli.run(["check", str(spec), "--format", "json"], out, err) == cli.EXIT_DIFFER
    [first, _] = json.loads(out.getvalue())["results"]
    assert first["verdict"] == "vacuous" and first["expected"] == "proved" and not first["as_expected"]
    assert first["reason"].startswith("the assumptions are contradictory")


def test_summary_line_shows_vacuous_only_when_there_is_one() -> None:
    res = run_any(job(STATIC_CANARY))
    assert "vacuous" not in text.summary_line([res])


def test_the_selfcheck_section_fires_on_its_canaries() -> None:
    section = run_vacuity([], results=[])  # the canaries alone (the suite is checked by the CLI)
    assert section.ok, section.failures
    figures = dict(section.figures)
    assert figures["contradictory canaries reported vacuous"] == "6/6"
    assert figures["canaries proved as written"] == "3/3"  # with the unreached canaries' control
    assert figures["canaries whose witness cannot happen reported unreached"] == "2/2"


def test_an_unreached_canary_that_is_proved_is_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    """The section can fail: with every z3 witness always true (and the concrete check
    agreeing), the too-shallow canary is `proved`, which the section reports."""
    from hvo_verify.check.bmc import UNROLLINGS
    from hvo_verify.encode.invariants import reachable as sym
    from hvo_verify.encode.terms import TRUE
    from hvo_verify.invariants import reachable as concrete
    from hvo_verify.selfcheck import vacuity

    monkeypatch.setattr(vacuity, "UNREACHED_CANARIES", vacuity.UNREACHED_CANARIES[:1])
    monkeypatch.setitem(sym.WITNESSES, "dma-optimized", lambda u, st: TRUE)
    always = dataclasses.replace(concrete.WITNESSES["dma-optimized"], check=lambda m, before, step, out: True)
    monkeypatch.setitem(concrete.WITNESSES, "dma-optimized", always)
    UNROLLINGS.clear()
    section = run_vacuity([], results=[])
    UNROLLINGS.clear()
    assert not section.ok
    assert any("too shallow" in f and "proved, expected unreached" in f for f in section.failures), section.failures
