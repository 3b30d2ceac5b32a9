# SPDX-License-Identifier: GPL-2.0-only
"""A solver timeout yields `unknown` with z3's reason, never a wrong verdict (the
selfcheck `unknown` section's claim).

With a 1 ms timeout per query, queries z3 cannot finish in time (operation specs, a
56-byte struct page) come back `unknown` carrying the solver's reason, in the result,
the text table and the JSON, and the exit code is 3.  A query z3 does finish in time
(on a fast machine, in a process whose z3 context is warm) must give the verdict the
spec expects, never `vacuous`.  Over a broad set, the same holds."""

from __future__ import annotations

import dataclasses
import io
import json
import pathlib
import re

from hvo_verify import cli
from hvo_verify.check.result import vacuity_verdict
from hvo_verify.check.solver import Status
from hvo_verify.check.suite import check_specs
from hvo_verify.selfcheck.unknown import run_unknown
from hvo_verify.specs.loader import load_specs
from hvo_verify.verdict import Verdict

ROOT = pathlib.Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"
# Nearly every query here takes longer than 1 ms: BMC unrollings, and division by 56.
SLOW = [
    "must-catch/ops-gup-returns-representative.toml",
    "must-catch/ops-restore-without-reset.toml",
    "objections/hwpoison-raw-flag-v5.14.toml",
    "objections/b5-dissolve-window.toml",
    "must-catch/v5.14-struct-page-56.toml",
]
Z3_REASONS = ("timeout", "canceled")


def test_tiny_timeout_gives_unknown_with_the_solvers_reason() -> None:
    specs = [dataclasses.replace(s, timeout_ms=1) for s in load_specs([str(SPECS / p) for p in SLOW])]
    results = [r for r in check_specs(specs, workers=2) if r.verdict is not Verdict.NOT_APPLICABLE]
    assert len(results) >= 10
    unknown = [r for r in results if r.verdict is Verdict.UNKNOWN]
    assert len(unknown) >= 10
    for r in results:
        if r.verdict is not Verdict.UNKNOWN:  # finished within 1 ms: earned, and as expected
            assert r.as_expected and r.verdict is not Verdict.VACUOUS, r
            continue
        assert r.reason.startswith("solver: ") and r.reason.removeprefix("solver: ").split()[0] in Z3_REASONS, r


def test_unknown_reaches_text_json_and_exit_code() -> None:
    path = str(SPECS / SLOW[0])
    out, err = io.StringIO(), io.StringIO()
    assert cli.run(["check", path, "--timeout", "0.001"], out, err) == cli.EXIT_UNKNOWN
    assert re.search(r" unknown +MISMATCH \(expected violated\)", out.getvalue())
    assert "      solver: timeout" in out.getvalue() or "      solver: canceled" in out.getvalue()
    out = io.StringIO()
    assert cli.run(["check", path, "--timeout", "0.001", "--format", "json"], out, err) == cli.EXIT_UNKNOWN
    docs = json.loads(out.getvalue())["results"]
    assert docs and all(d["verdict"] == "unknown" and d["reason"].startswith("solver: ") for d in docs)


def test_unknown_while_checking_assumptions_is_never_proved() -> None:
    assert vacuity_verdict(Status.SAT, "", ()) == (Verdict.PROVED, "")
    verdict, reason = vacuity_verdict(Status.UNKNOWN, "timeout", ())
    assert verdict is Verdict.UNKNOWN and reason.startswith("solver: timeout")
    assert vacuity_verdict(Status.UNSAT, "", ("a", "b"))[0] is Verdict.VACUOUS


def test_what_finishes_in_time_is_as_expected() -> None:
    """The selfcheck section over presets and must-catch specs: every verdict other than
    unknown is the expected one, every violation replayed, and something was unknown."""
    section = run_unknown([str(SPECS / "must-catch"), str(SPECS / "presets" / "v5.18.toml")], jobs=2)
    assert section.ok, section.failures
    figures = dict(section.figures)
    assert figures["verdicts differing, other than unknown"] == 0
    assert figures["vacuous"] == 0
