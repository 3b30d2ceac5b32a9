"""Golden tests of the CLI's text and JSON output, run in-process through
`hvo_verify.cli.run`.  Each `tests/golden/NAME.out` holds stdout followed by a line
`# exit: N`.  After an intended change of output, rewrite them with

    python -m pytest tests/golden --update-golden

and read the diff before committing it."""

from __future__ import annotations

import io
import json
import pathlib

import pytest

from hvo_verify import cli

ROOT = pathlib.Path(__file__).resolve().parents[2]
GOLDEN = pathlib.Path(__file__).resolve().parent
WIDTH = 80

V518 = "specs/must-catch/v5.18-without-fake-head-fix.toml"
V514_56 = "specs/must-catch/v5.14-struct-page-56.toml"
WILLY = "specs/must-catch/willy-misreading-unmapped.toml"
SAVINGS = ["savings", "--scheme", "rfc-2020", "--config", "x86-64/4K/1G", "--pool", "300G"]

CASES: dict[str, list[str]] = {
    "check-v5.18-without-fake-head-fix": ["check", V518, "--jobs", "1"],
    "check-v5.18-without-fake-head-fix.json": ["check", V518, "--jobs", "1", "--format", "json"],
    "explain-v5.14-struct-page-56": ["explain", V514_56],
    "explain-willy-misreading-unmapped": ["explain", WILLY],
    "savings-rfc-2020-1G-300G": SAVINGS,
    "savings-rfc-2020-1G-300G.json": [*SAVINGS, "--format", "json"],
    "list": ["list"],
    "check-objection-willy-misreading": [
        "check",
        "specs/objections/willy-misreading-compound-head.toml",
        "--jobs",
        "1",
    ],
    "explain-objection-hwpoison-raw-flag-v5.14": ["explain", "specs/objections/hwpoison-raw-flag-v5.14.toml"],
    "explain-objection-b5-dissolve-window": ["explain", "specs/objections/b5-dissolve-window.toml"],
}

# Cases whose current output is wrong: never written as golden until the bug is fixed.
NOT_BLESSED: dict[str, str] = {}


def cli_output(argv: list[str]) -> tuple[str, str, int]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(argv, out, err)
    return out.getvalue(), err.getvalue(), code


def check_sanity(name: str, stdout: str) -> None:
    """What any golden file must show, whatever its exact text."""
    if name.startswith("explain-"):
        lines = stdout.splitlines()
        wide = [line for line in lines if len(line) > WIDTH]
        assert not wide, f"explain lines over {WIDTH} columns: {wide}"
        for n, line in enumerate(lines):
            if line.endswith(": violated"):
                assert lines[n + 1].startswith(("counterexample (", "shortest trace (")), f"nothing after {line!r}"
                assert "replayed on the concrete model" in lines[n + 1]
    if name.startswith("check-") and name.endswith(".json"):
        results = json.loads(stdout)["results"]
        for res in results:
            if res["verdict"] == "violated":
                assert res["counterexample"] and res["counterexample"]["details"], res
    elif name.startswith("check-"):
        lines = stdout.splitlines()
        for n, line in enumerate(lines):
            if " violated " in line:
                assert lines[n + 1].startswith("      "), f"no counterexample message after {line!r}"


@pytest.mark.parametrize("name", list(CASES))
def test_golden(name: str, update_golden: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    stdout, stderr, code = cli_output(CASES[name])
    assert stderr == ""
    assert code == 0
    check_sanity(name, stdout)
    actual = f"{stdout}# exit: {code}\n"
    path = GOLDEN / f"{name}.out"
    if name in NOT_BLESSED:
        pytest.xfail(f"not blessed: {NOT_BLESSED[name]}")
    if update_golden:
        path.write_text(actual)
        return
    assert path.exists(), f"{path.name} missing: run pytest tests/golden --update-golden"
    assert actual == path.read_text()


def test_custom_scheme_line_describes_the_custom_scheme(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    stdout, _stderr, _code = cli_output(["explain", WILLY])
    scheme_line = next(line for line in stdout.splitlines() if line.startswith("scheme:"))
    assert "keep pages 0,1" not in scheme_line


def test_no_stale_golden_files() -> None:
    """Every .out file belongs to a case (a renamed case must not leave its old file)."""
    expected = {f"{name}.out" for name in CASES}
    assert {p.name for p in GOLDEN.glob("*.out")} <= expected
