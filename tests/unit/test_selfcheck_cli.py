# SPDX-License-Identifier: GPL-2.0-only
"""`hvo-verify selfcheck`: options, exit codes, text and JSON.  The sections
themselves are tested where they are cheap (tests/must_catch/test_vacuity.py,
tests/unit/test_unknown.py); here a small spec folder keeps the runs short."""

from __future__ import annotations

import io
import json
import pathlib

import pytest

from hvo_verify import cli
from hvo_verify.selfcheck import Section
from hvo_verify.selfcheck.explore_bmc import run_explore_bmc
from hvo_verify.selfcheck.report import selfcheck_document, selfcheck_text

ROOT = pathlib.Path(__file__).resolve().parents[2]

SMALL_STATIC = """title = "t"
source = "s"
scheme = "v5.18"
configs = ["x86-64/4K/2M"]
invariants = ["head-resolution", "layout-soundness"]
[expect]
default = "proved"
"""


@pytest.fixture
def specs(tmp_path: pathlib.Path, small_ops_text: str) -> pathlib.Path:
    (tmp_path / "ops.toml").write_text(small_ops_text)
    (tmp_path / "static.toml").write_text(SMALL_STATIC)
    return tmp_path


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(["selfcheck", *argv], out, err)
    return code, out.getvalue(), err.getvalue()


def test_unknown_section_name_is_a_usage_error() -> None:
    code, out, err = run("--only", "vacuty")
    assert code == cli.EXIT_ERROR and out == ""
    assert "unknown selfcheck section 'vacuty' (did you mean 'vacuity'?)" in err


def test_bad_options(tmp_path: pathlib.Path) -> None:
    assert run("--specs", str(tmp_path / "missing"), "--only", "vacuity")[0] == cli.EXIT_ERROR
    assert run("--fuzz-cases", "0", "--only", "fuzz")[0] == cli.EXIT_ERROR


def test_vacuity_and_explore_bmc_sections(specs: pathlib.Path) -> None:
    code, out, err = run("--specs", str(specs), "--only", "vacuity,explore-bmc", "--jobs", "1")
    assert code == cli.EXIT_OK, out + err
    lines = out.splitlines()
    assert lines[0].startswith("vacuity") and " ok " in lines[0]
    assert lines[-1].startswith("selfcheck: 2 sections, 2 ok, 0 failed; ")
    assert all(len(line) <= 80 for line in lines)
    assert "explore violations of BMC-proved pairs" in out and "proofs, assumptions satisfiable" in out
    code, out, err = run("--specs", str(specs), "--only", "explore-bmc", "--format", "json", "--jobs", "1")
    assert code == cli.EXIT_OK, err
    doc = json.loads(out)
    assert doc["version"] == 2 and doc["ok"] is True
    [section] = doc["sections"]
    assert section["name"] == "explore-bmc" and section["failures"] == []
    assert section["figures"]["explore violations of BMC-proved pairs"] == 0
    assert section["figures"]["counterexamples replayed"].startswith("1/1")


def test_explore_finding_what_bmc_proved_is_a_failure(specs: pathlib.Path) -> None:
    """Feed the section a BMC result that (wrongly) says proved where exploration finds
    a violation: the disagreement is reported."""
    from hvo_verify.check.suite import check_specs
    from hvo_verify.specs.loader import load_specs
    from hvo_verify.verdict import Verdict

    path = str(specs / "ops.toml")
    results = check_specs(load_specs([path]))
    lie = [
        r
        if r.verdict is not Verdict.VIOLATED
        else type(r)(r.spec, r.config, r.invariant, Verdict.PROVED, r.expected, scheme=r.scheme)
        for r in results
    ]
    section = run_explore_bmc([path], results=lie)
    assert not section.ok
    assert any("BMC proved at depth 2, exploration found" in f for f in section.failures), section.failures
    assert dict(section.figures)["explore violations of BMC-proved pairs"] == 1


def test_a_crashing_section_fails_in_one_line(specs: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hvo_verify.selfcheck.vacuity as vacuity

    def boom(*_args: object, **_kwargs: object) -> Section:
        raise RuntimeError("solver exploded\nsecond line")

    monkeypatch.setattr(vacuity, "run_vacuity", boom)
    code, out, _err = run("--specs", str(specs), "--only", "vacuity", "--jobs", "1")
    assert code == cli.EXIT_DIFFER
    assert "  ! crashed: RuntimeError: solver exploded" in out and "second line" not in out


def test_report_rendering() -> None:
    sections = [
        (Section("mutation", True, (("kill rate", "27/27 (100%)"),), details=(("m1", "killed by x"),)), 12.5),
        (Section("fuzz", False, (("cases", 2000), ("tracebacks", 1)), ("case 17: KeyError: 'x'",)), 3.25),
    ]
    text = selfcheck_text(sections)
    assert text.splitlines()[0].split() == ["mutation", "ok", "12.5", "s"]
    assert "  ! case 17: KeyError: 'x'" in text and "m1" not in text
    assert "m1: killed by x" in selfcheck_text(sections, verbose=True)
    assert text.splitlines()[-1] == "selfcheck: 2 sections, 1 ok, 1 failed (fuzz); 15.8 s"
    doc = json.loads(selfcheck_document(sections))
    assert doc["version"] == 2 and doc["ok"] is False and doc["seconds"] == 15.75
    assert doc["sections"][0]["figures"] == {"kill rate": "27/27 (100%)"}
    assert doc["sections"][0]["details"] == [["m1", "killed by x"]]
    assert doc["sections"][1]["failures"] == ["case 17: KeyError: 'x'"]


def test_suite_cache_reads_what_check_stored(
    specs: pathlib.Path, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`selfcheck --suite-cache DIR` (CI: once per run): the suite's results come from
    the cache `hvo-verify check` filled, every one a hit, and the sections print what
    they print without it (timings aside)."""
    from hvo_verify.check import cache as verdict_cache
    from hvo_verify.selfcheck import Options

    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    monkeypatch.setenv(verdict_cache.ENV_DIR, str(cache_dir))
    monkeypatch.delenv(verdict_cache.ENV_OFF, raising=False)
    assert cli.run(["check", str(specs), "--jobs", "1"], io.StringIO(), io.StringIO()) == cli.EXIT_OK
    monkeypatch.setenv(verdict_cache.ENV_OFF, "1")  # what the rest of the test suite sees
    suite_cache = cli._suite_cache(str(cache_dir), specs)
    assert suite_cache is not None
    results = Options(specs, cli.run, jobs=1, suite_cache=suite_cache).suite()
    assert results and suite_cache.hits == len(results) and suite_cache.misses == 0
    fresh = Options(specs, cli.run, jobs=1).suite()
    assert [(r.spec, r.config, r.invariant, r.verdict, r.trace) for r in results] == [
        (r.spec, r.config, r.invariant, r.verdict, r.trace) for r in fresh
    ]
    code, out, err = run("--specs", str(specs), "--only", "vacuity", "--jobs", "1", "--suite-cache", str(cache_dir))
    assert code == cli.EXIT_OK and out.splitlines()[0].startswith("vacuity"), out + err
    # Another directory has nothing: every result is a miss, checked again.
    other = cli._suite_cache(str(specs), specs)
    assert other is not None
    Options(specs, cli.run, jobs=1, suite_cache=other).suite()
    assert other.hits == 0 and other.misses == len(results)


def test_suite_cache_must_be_a_directory(specs: pathlib.Path, tmp_path: pathlib.Path) -> None:
    code, out, err = run("--specs", str(specs), "--only", "vacuity", "--suite-cache", str(tmp_path / "none"))
    assert code == cli.EXIT_ERROR and out == ""
    assert err.count("\n") == 1 and "--suite-cache" in err and "HVO_VERIFY_CACHE_DIR=" in err
