# SPDX-License-Identifier: GPL-2.0-only
"""The operation-trace commands end to end, in-process through `hvo_verify.cli.run`:
`check --save-traces`, `replay`, `explore`, and `explain` of an operation spec.
Exit codes: replay 1 when a violation is shown, explore 0 when it agrees with the
spec's expectations; bad input is one stderr line and exit 2."""

from __future__ import annotations

import hashlib
import io
import json
import pathlib

import pytest

from hvo_verify import cli

VIOLATING = """title = "PageHWPoison on a writable alias"
source = "s"
answer = "SetPageHWPoison(head+64) writes frame(1), which head+128.. read too."
scheme = "rfc-2020"
configs = ["x86-64/4K/2M"]
invariants = ["alias-write"]

[ops]
run = ["hugetlb_vmemmap_optimize_folio", "memory_failure"]
depth = 3
hwpoison = "raw-flag"

[expect]
default = "{expect}"
"""

PROVED = """title = "v5.14 DMA"
source = "s"
scheme = "v5.14"
configs = ["x86-64/4K/2M"]
invariants = ["dma-exact"]

[ops]
run = ["hugetlb_vmemmap_optimize_folio", "alloc_hugetlb_folio", "pin_user_pages_fast", "submit_bio"]
depth = 4

[expect]
default = "proved"
"""

STATIC = """title = "t"
source = "s"
scheme = "v5.14"
configs = ["x86-64/4K/2M"]
invariants = ["head-resolution"]
[expect]
default = "proved"
"""


def call(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(argv, out, err)
    assert "Traceback" not in err.getvalue() + out.getvalue()
    return code, out.getvalue(), err.getvalue()


def one_error_line(argv: list[str]) -> str:
    code, out, err = call(argv)
    assert (code, out) == (2, ""), (code, out, err)
    assert len(err.splitlines()) == 1 and err.endswith("\n"), err
    return err.rstrip("\n")


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(name: str, text: str) -> str:
    pathlib.Path(name).write_text(text)
    return name


def narrow(text: str) -> None:
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines), [line for line in lines if len(line) > 80]


def trace_file_name_of(spec: str, invariant: str) -> str:
    digest = hashlib.sha256(spec.encode("utf-8")).hexdigest()[:8]
    return f"{pathlib.Path(spec).stem}-{digest}.x86-64_4K_2M.{invariant}.json"


@pytest.fixture
def saved() -> pathlib.Path:
    """check --save-traces on a violating spec: the trace file it writes."""
    spec = write("alias.toml", VIOLATING.format(expect="violated"))
    code, out, err = call(["check", spec, "--jobs", "1", "--save-traces", "traces"])
    assert (code, err) == (0, "")
    files = sorted(pathlib.Path("traces").iterdir())
    assert [f.name for f in files] == [trace_file_name_of("alias.toml", "alias-write")]
    return files[0]


# ---------------------------------------------------------------- check --save-traces, replay


def test_saved_trace_is_the_json_of_check(saved: pathlib.Path) -> None:
    # (the same invocation: BMC's argument values are whatever z3's model holds)
    code, out, _err = call(["check", "alias.toml", "--jobs", "1", "--format", "json", "--save-traces", "again"])
    [result] = json.loads(out)["results"]
    again = pathlib.Path("again", saved.name)
    assert json.loads(again.read_text()) == result["trace"]
    assert again.read_text() == json.dumps(result["trace"], indent=2) + "\n"


def test_only_violations_are_saved(saved: pathlib.Path) -> None:
    spec = write("dma.toml", PROVED)
    assert call(["check", spec, "--jobs", "1", "--save-traces", "traces"])[0] == 0
    assert [f.name for f in pathlib.Path("traces").iterdir()] == [saved.name]


def test_save_traces_into_a_file_is_an_error() -> None:
    write("plain", "")
    line = one_error_line(["check", write("dma.toml", PROVED), "--save-traces", "plain"])
    assert line == "hvo-verify: --save-traces: plain is not a directory"


def test_replay_shows_the_violation(saved: pathlib.Path) -> None:
    code, out, err = call(["replay", str(saved)])
    assert (code, err) == (1, "")
    narrow(out)
    assert "checked after every step: alias-write" in out
    assert "step 1: hugetlb_vmemmap_optimize_folio(alloc_ok=true)" in out
    assert "\n=> violated alias-write: " in out
    code_all, out_all, _ = call(["replay", str(saved), "--all"])
    assert code_all == 1 and "checked after every step: dma-exact, alias-write" in out_all


def test_replay_without_violation_exits_0(saved: pathlib.Path) -> None:
    doc = json.loads(saved.read_text())
    doc["steps"] = doc["steps"][:1]  # optimize only
    path = write("short.json", json.dumps(doc))
    code, out, err = call(["replay", path])
    assert (code, err) == (0, "")
    assert out.endswith("=> no invariant violated\n")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda text: text[: len(text) // 2], "corrupt.json: not JSON: "),
        (
            lambda text: text.replace('"version": 2', '"version": 7'),
            "corrupt.json: version: expected one of 1, 2, got 7",
        ),
        (lambda text: text.replace('"memory_failure"', '"memory_failed"'), "corrupt.json: steps[1]: "),
        (lambda text: text.replace('"alloc_ok": true', '"alloc_ok": 3'), "corrupt.json: steps[0].args.alloc_ok: "),
        (lambda text: "\udcff", "corrupt.json: not JSON: not UTF-8 text"),
    ],
)
def test_replay_corrupt_file(saved: pathlib.Path, edit: object, message: str) -> None:
    text = edit(saved.read_text())  # type: ignore[operator]
    pathlib.Path("corrupt.json").write_bytes(text.encode("utf-8", "surrogateescape"))
    assert one_error_line(["replay", "corrupt.json"]).startswith(message)


def test_replay_missing_file() -> None:
    assert one_error_line(["replay", "nowhere.json"]) == "nowhere.json: cannot read: No such file or directory"


# ---------------------------------------------------------------- explore


def test_explore_finds_the_expected_violation() -> None:
    code, out, err = call(["explore", write("alias.toml", VIOLATING.format(expect="violated")), "--examples", "50"])
    assert (code, err) == (0, "")
    narrow(out)
    assert "x86-64/4K/2M alias-write: found violated; expected violated: ok" in out
    assert "step 2: memory_failure(i=0x40, kmalloc_ok=true)" in out  # shrunk
    assert "Falsifying" not in out and "state = " not in out  # nothing from Hypothesis itself
    assert out.endswith("1 explorations: 1 found violated; 0 differ from expectation\n")


def test_explore_exit_1_when_the_spec_expects_otherwise() -> None:
    code, out, err = call(["explore", write("alias.toml", VIOLATING.format(expect="proved")), "--examples", "50"])
    assert (code, err) == (1, "")
    assert "found violated; expected proved: MISMATCH" in out


def test_explore_proved_spec() -> None:
    code, out, err = call(["explore", write("dma.toml", PROVED), "--examples", "60", "--seed", "5"])
    assert (code, err) == (0, "")
    assert "(seed 5)" in out and "x86-64/4K/2M dma-exact: no violation in " in out


@pytest.mark.parametrize(
    ("argv", "start"),
    [
        (["explore", "static.toml"], "static.toml: ops: explore runs operation or interleaving specs"),
        (["explore", "dma.toml", "--examples", "0"], "hvo-verify: --examples: must be at least 1"),
        (["explore", "dma.toml", "--seed", "x"], "hvo-verify explore: argument --seed: invalid int"),
        (["explore", "dma.toml", "--config", "x86-64/4K/1G"], "hvo-verify: --config: unknown config of this spec"),
        (["explore", "missing.toml"], "missing.toml: file: cannot read"),
    ],
)
def test_explore_bad_input(argv: list[str], start: str) -> None:
    write("static.toml", STATIC)
    write("dma.toml", PROVED)
    line = one_error_line(argv)
    assert line.startswith(start), line


# ---------------------------------------------------------------- explain


def test_explain_operation_spec() -> None:
    code, out, err = call(["explain", write("alias.toml", VIOLATING.format(expect="violated"))])
    assert (code, err) == (0, "")
    narrow(out)
    lines = out.splitlines()
    assert lines[0].startswith("hvo-verify ") and lines[1] == ""  # the provenance line (test_mail.py)
    assert lines[2:4] == ["PageHWPoison on a writable alias", "source: s"]
    assert "answer:" in lines and "x86-64/4K/2M: every verdict below assumes" in lines
    assert any("kernel behaviour of RFC 2020-09: hwpoison=raw-flag" in line for line in lines)
    at = lines.index("x86-64/4K/2M alias-write: violated")
    assert lines[at + 1].startswith("shortest trace (2 steps), replayed on the concrete model")
    assert lines[at + 2].startswith("state 0: ")
    assert "=> violated alias-write: " in out


def test_explain_static_spec_unchanged_path() -> None:
    code, out, _err = call(["explain", write("static.toml", STATIC)])
    assert code == 0 and "vmemmap of one x86-64/4K/2M folio" in out and "shortest trace" not in out
