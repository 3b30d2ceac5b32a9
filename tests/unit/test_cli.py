# SPDX-License-Identifier: GPL-2.0-only
"""Exit codes and one-line errors of the CLI, through `hvo_verify.cli.run` in-process.

0 every verdict as expected, 1 a verdict differs, 2 usage/spec error (one stderr line),
3 a verdict is unknown.  No traceback text ever reaches stderr."""

from __future__ import annotations

import io
import json
import pathlib

import pytest

from hvo_verify import cli
from hvo_verify.check.result import CheckResult
from hvo_verify.verdict import Outcome, Verdict

ROOT = pathlib.Path(__file__).resolve().parents[2]


def spec_text(scheme: str, config: str, invariant: str, expect: str, extra: str = "") -> str:
    return (
        f'title = "t"\nsource = "s"\nscheme = "{scheme}"\nconfigs = ["{config}"]\n'
        f'invariants = ["{invariant}"]\n{extra}[expect]\ndefault = "{expect}"\n'
    )


def call(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(argv, out, err)
    assert "Traceback" not in err.getvalue()
    assert "Traceback" not in out.getvalue()
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(name: str, text: str) -> str:
    pathlib.Path(name).write_text(text)
    return name


# ---------------------------------------------------------------- 0, 1, 3


def test_exit_0_when_verdicts_match() -> None:
    path = write("ok.toml", spec_text("v5.14", "x86-64/4K/2M", "head-resolution", "proved"))
    code, out, err = call(["check", path, "--jobs", "1"])
    assert (code, err) == (0, "")
    assert "proved" in out and "0 differ from expectation" in out


def test_exit_0_on_a_shipped_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    code, _out, err = call(["check", "specs/must-catch/no-net-saving.toml", "--jobs", "1"])
    assert (code, err) == (0, "")


def test_exit_1_when_a_verdict_differs() -> None:
    path = write("differ.toml", spec_text("v5.14", "x86-64/4K/2M", "head-resolution", "violated"))
    code, out, err = call(["check", path, "--jobs", "1"])
    assert (code, err) == (1, "")
    assert "MISMATCH (expected violated)" in out


def test_exit_3_when_unknown() -> None:
    text = spec_text("v5.18", "x86-64/4K/2M@56", "kpageflags", "violated", extra="timeout = 0.001\n")
    path = write("unknown.toml", text)
    code, out, err = call(["check", path, "--jobs", "1", "--format", "json"])
    [result] = json.loads(out)["results"]
    assert result["verdict"] == "unknown", result  # a 1 ms budget must not be enough
    assert result["reason"].startswith("solver:")
    assert (code, err) == (3, "")


def _result(verdict: Verdict, expected: Verdict) -> CheckResult:
    return CheckResult("s.toml", "x86-64/4K/2M", "head-resolution", verdict, expected)


def test_differ_wins_over_unknown() -> None:
    unknown = _result(Verdict.UNKNOWN, Verdict.PROVED)
    differ = _result(Verdict.VIOLATED, Verdict.PROVED)
    ok = _result(Verdict.PROVED, Verdict.PROVED)
    assert cli.exit_code([ok]) == 0
    assert cli.exit_code([ok, unknown]) == 3
    assert cli.exit_code([unknown, differ]) == 1
    assert cli.exit_code([]) == 0


def test_outcome_severity_order() -> None:
    """A run ends as its worst check: as expected < unreached < unknown < differs <
    error, with the documented exit codes 0, 4, 3, 1, 2."""
    assert sorted(Outcome, reverse=True) == [
        Outcome.ERROR, Outcome.DIFFERS, Outcome.UNKNOWN, Outcome.UNREACHED, Outcome.AS_EXPECTED
    ]  # fmt: skip
    assert [o.exit_code for o in Outcome] == [0, 4, 3, 1, 2]
    assert Outcome.of(Verdict.UNKNOWN, Verdict.UNKNOWN) is Outcome.AS_EXPECTED
    assert Outcome.of(Verdict.UNKNOWN, Verdict.PROVED) is Outcome.UNKNOWN
    # no [expect] (exploring): the verdict on its own (tests/unit/test_workflow.py)
    assert Outcome.of(Verdict.PROVED, None) is Outcome.AS_EXPECTED
    assert Outcome.of(Verdict.VIOLATED, None) is Outcome.DIFFERS
    assert Outcome.of(Verdict.UNREACHED, Verdict.PROVED) is Outcome.UNREACHED
    assert Outcome.of(Verdict.UNREACHED, Verdict.UNREACHED) is Outcome.AS_EXPECTED
    assert Outcome.of(Verdict.PROVED, Verdict.UNREACHED) is Outcome.DIFFERS


def test_unreached_exits_4_unless_something_is_worse() -> None:
    unreached = _result(Verdict.UNREACHED, Verdict.PROVED)
    unknown = _result(Verdict.UNKNOWN, Verdict.PROVED)
    ok = _result(Verdict.PROVED, Verdict.PROVED)
    assert cli.exit_code([ok, unreached]) == 4
    assert cli.exit_code([unreached, unknown]) == 3
    assert "4  some proof is unreached" in cli.exit_codes_text("check")


# ---------------------------------------------------------------- 2: one line


def one_error_line(argv: list[str]) -> str:
    code, out, err = call(argv)
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert err.endswith("\n")
    return lines[0]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("title = \n", "toml"),
        ('title = "t"\nscheme = "v6.2"\nconfigs = ["x86-64/4K/2M"]\n', "source"),
        (spec_text("v6.2", "x86-64/4K/2M", "kpageflags", "proved") + "colour = 1\n", "expect.colour"),
        (spec_text("v6.2", "x86-64/4K/3M", "kpageflags", "proved"), "configs[0]"),
        (spec_text("v6.2", "x86-64/4K/2M", "kpageflag", "proved"), "invariants[0]"),
        (spec_text("v6.2", "x86-64/4K/2M", "kpageflags", "maybe"), "expect.default"),
    ],
)
@pytest.mark.parametrize("command", ["check", "explain"])
def test_malformed_spec(text: str, key: str, command: str) -> None:
    path = write("bad.toml", text)
    line = one_error_line([command, path])
    assert line.startswith(f"bad.toml: {key}: "), line


def test_malformed_spec_among_good_ones() -> None:
    write("a.toml", spec_text("v5.14", "x86-64/4K/2M", "head-resolution", "proved"))
    write("b.toml", "scheme = [\n")
    assert one_error_line(["check", "."]).startswith("b.toml: toml: ")


def test_unknown_preset_in_spec() -> None:
    path = write("preset.toml", spec_text("v5.188", "x86-64/4K/2M", "kpageflags", "proved"))
    line = one_error_line(["check", path])
    assert line == "preset.toml: scheme: unknown scheme preset 'v5.188' (did you mean 'v5.18'?)"


def test_unknown_preset_in_savings() -> None:
    line = one_error_line(["savings", "--scheme", "v6.3", "--config", "x86-64/4K/2M"])
    assert line.startswith("hvo-verify: unknown scheme preset 'v6.3'"), line


def test_unknown_config_in_savings() -> None:
    line = one_error_line(["savings", "--scheme", "v6.2", "--config", "x86-64/4K/3M"])
    assert line.startswith("hvo-verify: unknown config 'x86-64/4K/3M'"), line


def test_bad_pool_size() -> None:
    line = one_error_line(["savings", "--scheme", "v6.2", "--config", "x86-64/4K/2M", "--pool", "12Q"])
    assert line.startswith("hvo-verify: --pool: "), line


@pytest.mark.parametrize("command", ["check", "explain"])
def test_missing_file(command: str) -> None:
    line = one_error_line([command, "missing.toml"])
    assert line.startswith("missing.toml: file: cannot read"), line


def test_empty_folder() -> None:
    pathlib.Path("empty").mkdir()
    assert one_error_line(["check", "empty"]).startswith("empty: path: ")


def test_explain_unknown_config() -> None:
    path = write("ok.toml", spec_text("v5.14", "x86-64/4K/2M", "head-resolution", "proved"))
    line = one_error_line(["explain", path, "--config", "x86-64/4K/1G"])
    assert line.startswith("hvo-verify: --config: "), line


@pytest.mark.parametrize("jobs", ["0", "-1"])
def test_jobs_below_one(jobs: str) -> None:
    path = write("ok.toml", spec_text("v5.14", "x86-64/4K/2M", "head-resolution", "proved"))
    assert one_error_line(["check", path, "--jobs", jobs]) == "hvo-verify: --jobs: must be at least 1"


def test_argparse_error_is_one_line_on_err(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = call(["check", "--jobs", "x"])
    assert code == 2
    assert capsys.readouterr().err == ""
    assert len(err.splitlines()) == 1
