# SPDX-License-Identifier: GPL-2.0-only
"""Malformed spec files through `hvo-verify check` (the selfcheck `fuzz` section):
run_fuzz with 2,000 cases, each rejected one giving exit 2 and one line
`PATH: KEY: message`; the check itself can fail; a folder with bad files among good
ones; the loader fixes it found."""

from __future__ import annotations

import io
import pathlib
import shutil
import sys

import pytest

from hvo_verify import cli
from hvo_verify.errors import SpecError
from hvo_verify.selfcheck import Section, fuzz
from hvo_verify.selfcheck.fuzz import CATEGORIES, SPECIAL, STATIC_SEED, toml_doc
from hvo_verify.specs import loader
from hvo_verify.specs.loader import parse_spec

ROOT = pathlib.Path(__file__).resolve().parents[2]
CASES = 2000


def figures(section: Section) -> dict[str, int]:
    """The counts among the figures (seconds are floats)."""
    return {name: value for name, value in section.figures if isinstance(value, int)}


def run_fuzz(cases: int, seed: int, categories: tuple[str, ...] | None = None) -> Section:
    """The fuzz section through this repository's command line, mutating its specs/."""
    return fuzz.run_fuzz(cases, seed, cli_run=cli.run, specs=ROOT / "specs", categories=categories)


def judge(data: bytes, path: pathlib.Path, expected_keys: tuple[str, ...] | None) -> tuple[str, str]:
    return fuzz.judge(data, path, expected_keys, cli.run)


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(list(args), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.slow
def test_two_thousand_malformed_files() -> None:
    section = run_fuzz(CASES, seed=0)
    got = figures(section)
    assert section.ok, section.failures
    assert got["cases"] == CASES
    assert got["tracebacks"] == got["wrong exit codes"] == got["malformed error lines"] == 0
    assert got["error names another key"] == got["payloads run"] == 0
    assert got["rejected with one-line error"] + got["valid (not run)"] == CASES
    assert got["rejected with one-line error"] >= 0.9 * CASES
    assert got["distinct inputs"] >= 0.7 * CASES
    per_category = {name.removeprefix("category "): int(text.split()[0]) for name, text in section.details}
    assert set(per_category) == {*CATEGORIES, *SPECIAL}
    assert min(per_category.values()) >= CASES // len(per_category)  # every category, evenly


def test_the_seeds_are_valid() -> None:
    spec = parse_spec(toml_doc(STATIC_SEED), "seed.toml")
    assert spec.scheme.name == "seed-scheme" and len(spec.configs) == 2


def test_same_seed_same_cases() -> None:
    a, b = run_fuzz(60, seed=3), run_fuzz(60, seed=3)
    assert [f for f in a.figures if "seconds" not in f[0]] == [f for f in b.figures if "seconds" not in f[0]]


# ---------------------------------------------------------------- the check can fail


def test_a_bare_exception_in_the_loader_is_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(doc: object, path: str) -> object:
        raise RuntimeError("loader bug")

    monkeypatch.setattr(loader, "_specs", broken)
    section = run_fuzz(30, seed=0, categories=("wrong-type", "unknown-key"))
    assert not section.ok
    assert figures(section)["tracebacks"] == 30
    assert "parse_sweep raised RuntimeError: loader bug" in section.failures[0]


def test_a_wrong_exit_code_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "EXIT_ERROR", 1)
    section = run_fuzz(20, seed=0, categories=("expectation",))
    assert not section.ok and figures(section)["wrong exit codes"] == 20


def test_a_multi_line_error_is_caught(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    monkeypatch.setattr(loader, "_one_line", lambda text, limit=0: text)  # no escaping
    data = toml_doc({**STATIC_SEED, "a\nb": 1}).encode()  # an unknown key: the key is in the line
    outcome, why = judge(data, tmp_path / "spec.toml", None)
    assert outcome == "line", why


def test_an_error_naming_another_key_is_caught(tmp_path: pathlib.Path) -> None:
    data = toml_doc({**STATIC_SEED, "timeout": -1}).encode()
    assert judge(data, tmp_path / "a.toml", ("timeout",)) == ("rejected", "")
    outcome, why = judge(data, tmp_path / "a.toml", ("configs",))
    assert outcome == "key" and "'timeout'" in why


# ---------------------------------------------------------------- a folder with bad files


def test_folder_with_bad_files_among_good_ones(tmp_path: pathlib.Path) -> None:
    """Every error of each bad file, one line each, in file order; exit 2; nothing
    checked, nothing on stdout."""
    folder = tmp_path / "specs"
    (folder / "sub").mkdir(parents=True)
    for name in ("v5.18.toml", "none.toml"):
        shutil.copy(ROOT / "specs" / "presets" / name, folder / name)
    shutil.copy(ROOT / "specs" / "must-catch" / "no-net-saving.toml", folder / "sub" / "good.toml")
    (folder / "b-bad.toml").write_text('title = "t"\n', encoding="utf-8")
    (folder / "sub" / "worse.toml").write_bytes(b"\xff")
    code, out, err = run_cli("check", str(folder))
    assert code == 2 and out == ""
    assert err.splitlines() == [
        f"{folder / 'b-bad.toml'}: source: missing required key 'source'",
        f"{folder / 'b-bad.toml'}: scheme: missing required key 'scheme' (or 'schemes', a list of presets)",
        f"{folder / 'b-bad.toml'}: configs: missing required key 'configs'",
        f"{folder / 'sub' / 'worse.toml'}: file: not UTF-8 text: byte 0xff at offset 0",
    ]


def test_bad_files_and_a_missing_one_each_get_a_line(tmp_path: pathlib.Path) -> None:
    (tmp_path / "a.toml").write_text("x = 1\n", encoding="utf-8")
    (tmp_path / "empty").mkdir()
    code, out, err = run_cli("check", str(tmp_path / "a.toml"), str(tmp_path / "nope.toml"), str(tmp_path / "empty"))
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert [line.split(": ")[1] for line in lines] == ["x", "title", "source", "scheme", "configs", "file", "path"]


# ---------------------------------------------------------------- loader fixes found here


DEEP = "title = {}\nsource = 's'\nscheme = 'v5.14'\nconfigs = ['x86-64/4K/2M']\n[expect]\ndefault = 'proved'\n"


def _error_at_stack_depth(text: str, frames: int) -> str:
    if frames:
        return _error_at_stack_depth(text, frames - 1)
    try:
        parse_spec(text, "deep.toml")
    except SpecError as exc:
        return exc.line()
    return "valid"


@pytest.mark.parametrize("depth", [300, 420, 480, 1000])
def test_deep_nesting_gives_the_same_error_from_any_caller(depth: int) -> None:
    """tomllib recurses per level: the loader parses in a fresh thread, so the answer
    does not depend on the caller's stack depth (it did: `title: ...` vs `toml: ...`)."""
    text = DEEP.format("[" * depth + "]" * depth)
    shallow = _error_at_stack_depth(text, 0)
    assert shallow == _error_at_stack_depth(text, sys.getrecursionlimit() - 150)
    assert shallow.startswith(("deep.toml: title: ", "deep.toml: toml: values nested too deeply"))


@pytest.mark.parametrize("name", ["new\nline.toml", "bell\x07.toml", "\x1b[31mred.toml"])
def test_unprintable_file_names_stay_on_one_line(tmp_path: pathlib.Path, name: str) -> None:
    (tmp_path / name).write_text("title = 1\n", encoding="utf-8")
    code, out, err = run_cli("check", str(tmp_path / name), str(tmp_path / ("missing-" + name)))
    lines = err.splitlines()
    assert code == 2 and out == "" and len(lines) == 5, err  # every error of the file, then the missing one
    assert all(line.isprintable() for line in lines)
    assert lines[0].endswith(": source: missing required key 'source'")
    assert lines[3].endswith(": title: 'title' must be a non-empty string (got 1)")
    assert lines[4].endswith(": file: cannot read: No such file or directory")


def test_python_code_in_strings_is_plain_data(tmp_path: pathlib.Path) -> None:
    sentinel = tmp_path / "ran"
    payload = f"__import__('pathlib').Path({str(sentinel)!r}).touch()"
    spec = parse_spec(toml_doc({**STATIC_SEED, "title": payload, "description": f"eval({payload!r})"}), "c.toml")
    assert spec.title == payload and spec.description == f"eval({payload!r})"
    with pytest.raises(SpecError, match=r"^c\.toml: scheme: unknown scheme preset"):
        parse_spec(toml_doc({**STATIC_SEED, "scheme": payload}), "c.toml")
    assert not sentinel.exists()
