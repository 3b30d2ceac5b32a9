# SPDX-License-Identifier: GPL-2.0-only
"""`check --format ktap` and `--ksft`: the output parsed by our KTAP parser, held to
the line grammar of Documentation/dev-tools/ktap.rst, and (when installed) parsed by
tap.py; kselftest's exit codes (tools/testing/selftests/kselftest.h)."""

from __future__ import annotations

import io
import pathlib
import re
import textwrap

import pytest

from hvo_verify import cli, ktap

ROOT = pathlib.Path(__file__).resolve().parents[2]
VIOLATED = str(ROOT / "specs/must-catch/v6.2-vmemmap-not-page-aligned.toml")  # 2 checks, violated as expected
HEAD = 'title = "t"\nsource = "s"\nscheme = "v6.2"\n'
# v6.2 on arm64: no HVO there (060a2c92d1b6 disabled it): not applicable
NOTHING_APPLIES = (
    HEAD
    + 'configs = ["arm64/16K/2M"]\ninvariants = ["head-resolution", "accounting"]\n[expect]\ndefault = "not-applicable"\n'
)
MISMATCH = (
    HEAD
    + 'configs = ["x86-64/4K/2M"]\ninvariants = ["head-resolution", "accounting"]\n[expect]\ndefault = "proved"\naccounting = "violated"\n'
)

# ktap.rst "Test case result lines": <result> <number> [<description>][ # [<directive>] [<diagnostic data>]]
GRAMMAR = {
    "version": re.compile(r"KTAP version 1"),
    "plan": re.compile(r"1\.\.\d+"),
    "result": re.compile(r"(ok|not ok) [1-9]\d*( [^#]+)?( # ((SKIP|TODO|XFAIL|TIMEOUT|ERROR)( .*)?|[^A-Z].*))?"),
    "diagnostic": re.compile(r"# .*"),
}


def run(tmp_path: pathlib.Path, specs: dict[str, str], *extra: str) -> tuple[str, int]:
    paths = [VIOLATED]
    for name, text in specs.items():
        (tmp_path / name).write_text(text)
        paths.append(str(tmp_path / name))
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(["check", *paths, "--jobs", "1", "--format", "ktap", *extra], out, err)
    assert err.getvalue() == ""
    return out.getvalue(), code


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, int]:
    return run(tmp_path_factory.mktemp("ktap"), {"na.toml": NOTHING_APPLIES, "bad.toml": MISMATCH}, "--ksft")


def test_parsed_by_our_parser(mixed: tuple[str, int]) -> None:
    text, code = mixed
    doc = ktap.parse(text)
    assert (doc.version, doc.plan, doc.unparsed) == (1, 3, ())
    violated, na, bad = doc.results
    assert violated.ok and violated.name.endswith("v6.2-vmemmap-not-page-aligned.toml")
    assert [s.name for s in violated.subtests] == ["x86-64/4K/2M layout-soundness", "x86-64/4K/2M head-resolution"]
    assert na.ok and na.directive is ktap.Directive.SKIP
    assert all(
        s.ok and s.directive is ktap.Directive.SKIP and s.reason.startswith("arm64/16K/2M: ") for s in na.subtests
    )
    assert not bad.ok
    failed = [s for s in bad.subtests if not s.ok]
    assert [s.name for s in failed] == ["x86-64/4K/2M accounting"]
    assert failed[0].diagnostics[0] == "x86-64/4K/2M accounting: expected violated, got proved"
    assert text.splitlines()[-1] == "# Totals: pass:3 fail:1 xfail:0 xpass:0 skip:2 error:0"
    assert code == 1  # --ksft: KSFT_FAIL


def test_every_line_follows_the_ktap_grammar(mixed: tuple[str, int]) -> None:
    """Each line is one of ktap.rst's four kinds; a nested block starts with its version
    line, indented deeper than its parent; numbers count 1, 2, ... per level; a parent
    is `not ok` exactly when a subtest is."""
    lines = mixed[0].splitlines()
    assert lines[0] == "KTAP version 1" and GRAMMAR["plan"].fullmatch(lines[1])
    numbers: dict[int, int] = {}  # indent -> last number
    failed_below: dict[int, bool] = {}
    previous_indent = 0
    for line in lines:
        indent = len(line) - len(line.lstrip(" "))
        body = line.strip()
        kinds = [k for k, rx in GRAMMAR.items() if rx.fullmatch(body)]
        assert kinds, f"not a KTAP line: {line!r}"
        if kinds[0] == "version":
            assert indent == 0 or indent > previous_indent
            numbers[indent] = 0
        elif kinds[0] == "result":
            number = int(body.split()[2 if body.startswith("not") else 1])
            assert number == numbers[indent] + 1, line
            numbers[indent] = number
            deeper = [i for i in failed_below if i > indent]
            if deeper:
                assert body.startswith("not ok") == any(failed_below.pop(i) for i in deeper), line
            failed_below[indent] = failed_below.get(indent, False) or body.startswith("not ok")
        previous_indent = indent


def test_parsed_by_tap_py(mixed: tuple[str, int]) -> None:
    """tap.py (TAP 13) reads the top level; each subtest block, dedented, reads as TAP too."""
    parser_module = pytest.importorskip("tap.parser")
    text = mixed[0]
    top = [x for x in parser_module.Parser().parse_text(text) if x.category == "test"]
    ours = ktap.parse(text).results
    assert [(t.number, t.ok, t.skip) for t in top] == [
        (r.number, r.ok, r.directive is ktap.Directive.SKIP) for r in ours
    ]
    blocks = re.findall(r"((?:^    .*\n)+)", text, re.MULTILINE)
    assert len(blocks) == len(ours)
    for block, result in zip(blocks, ours, strict=True):
        subs = [x for x in parser_module.Parser().parse_text(textwrap.dedent(block)) if x.category == "test"]
        assert [(t.number, t.ok, t.skip) for t in subs] == [
            (s.number, s.ok, s.directive is ktap.Directive.SKIP) for s in result.subtests
        ]


@pytest.mark.parametrize(
    ("specs", "ksft", "plain"),
    [
        ({}, 0, 0),  # everything as expected: KSFT_PASS
        ({"na.toml": NOTHING_APPLIES}, 0, 0),  # something applied
        ({"bad.toml": MISMATCH}, 1, 1),  # KSFT_FAIL
    ],
)
def test_ksft_exit_codes(tmp_path: pathlib.Path, specs: dict[str, str], ksft: int, plain: int) -> None:
    assert run(tmp_path, specs, "--ksft")[1] == ksft
    assert run(tmp_path, specs)[1] == plain


def test_ksft_skip_when_nothing_applies(tmp_path: pathlib.Path) -> None:
    (tmp_path / "na.toml").write_text(NOTHING_APPLIES)
    out, err = io.StringIO(), io.StringIO()
    args = ["check", str(tmp_path / "na.toml"), "--jobs", "1", "--format", "ktap"]
    assert cli.run([*args, "--ksft"], out, err) == 4  # KSFT_SKIP
    assert cli.run(args, io.StringIO(), err) == 0
    assert ktap.parse(out.getvalue()).results[0].directive is ktap.Directive.SKIP


def test_ksft_spec_error_is_a_failure(tmp_path: pathlib.Path) -> None:
    (tmp_path / "broken.toml").write_text("title = ")
    err = io.StringIO()
    assert cli.run(["check", str(tmp_path / "broken.toml"), "--ksft"], io.StringIO(), err) == 1
    assert cli.run(["check", str(tmp_path / "broken.toml")], io.StringIO(), io.StringIO()) == 2
    assert err.getvalue().count("\n") == 1
