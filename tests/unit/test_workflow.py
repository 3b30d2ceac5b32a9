# SPDX-License-Identifier: GPL-2.0-only
"""The reviewer's workflow (issue 14 item 1): a spec without `[expect]` (exploration
mode), globs in `configs`, every error of a file at once, `--keep-going`, `explain
--config all --invariant`, `savings --spec`, `list --specs`, the vacuous hint, `run =
["all"]` without the adversary, and `check --suggest-expect` back into `[expect]`."""

from __future__ import annotations

import io
import pathlib
import shutil
import subprocess

import pytest

from hvo_verify import cli
from hvo_verify.check.result import CheckResult
from hvo_verify.errors import SpecError
from hvo_verify.ops.table import OPS
from hvo_verify.specs.loader import parse_spec
from hvo_verify.verdict import Outcome, Verdict

ROOT = pathlib.Path(__file__).resolve().parents[2]

# The shipped must-catch spec with its [expect] left out: head-resolution and
# kpageflags violated, the other invariants proved (x86-64/4K/2M, static, ~1 s).
SHARED_TAIL = (ROOT / "specs/must-catch/shared-tail-pointer-encoding.toml").read_text().split("[expect]")[0]


def call(argv: list[str]) -> tuple[int, str, str]:
    """`hvo-verify ARGV` in-process, in the test's own folder: (exit code, stdout, stderr)."""
    streams = io.StringIO(), io.StringIO()
    code = cli.run(argv, *streams)
    out, err = (s.getvalue() for s in streams)
    assert "Traceback" not in err + out
    return code, out, err


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def write(name: str, text: str) -> str:
    path = pathlib.Path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return name


def static_spec(configs: str = '["x86-64/4K/2M"]', scheme: str = '"v6.2"', extra: str = "") -> str:
    return f'title = "t"\nsource = "s"\nscheme = {scheme}\nconfigs = {configs}\n{extra}'


# ---------------------------------------------------------------- exploration mode


@pytest.mark.parametrize(
    ("verdict", "outcome"),
    [
        (Verdict.PROVED, Outcome.AS_EXPECTED),
        (Verdict.NOT_APPLICABLE, Outcome.AS_EXPECTED),
        (Verdict.UNKNOWN, Outcome.UNKNOWN),
        (Verdict.VIOLATED, Outcome.DIFFERS),
        (Verdict.VACUOUS, Outcome.DIFFERS),
    ],
)
def test_without_expectation_a_verdict_is_judged_on_its_own(verdict: Verdict, outcome: Outcome) -> None:
    assert Outcome.of(verdict, None) is outcome
    result = CheckResult("s.toml", "x86-64/4K/2M", "head-resolution", verdict, None)
    assert cli.exit_code([result]) == {Outcome.AS_EXPECTED: 0, Outcome.DIFFERS: 1, Outcome.UNKNOWN: 3}[outcome]


def test_with_an_expectation_nothing_changed() -> None:
    """The regression suite's semantics: only the expected verdict is fine."""
    assert Outcome.of(Verdict.PROVED, Verdict.VIOLATED) is Outcome.DIFFERS
    assert Outcome.of(Verdict.NOT_APPLICABLE, Verdict.PROVED) is Outcome.DIFFERS
    assert Outcome.of(Verdict.VIOLATED, Verdict.VIOLATED) is Outcome.AS_EXPECTED


def test_a_spec_without_expect_loads_as_exploring() -> None:
    spec = parse_spec(static_spec(), "x.toml")
    assert spec.exploring and spec.expect.expected("head-resolution", "x86-64/4K/2M") is None
    assert not parse_spec(static_spec(extra='[expect]\ndefault = "proved"\n'), "y.toml").exploring


def test_an_expect_table_that_leaves_a_check_out_is_still_an_error() -> None:
    """A regression spec must not become an exploration by accident."""
    text = static_spec('["x86-64/4K/2M", "arm64/4K/2M"]', extra='[expect]\n"*@x86-64/*" = "proved"\n')
    with pytest.raises(SpecError, match="no expected verdict for head-resolution on arm64/4K/2M"):
        parse_spec(text, "z.toml")


def test_exploring_a_violation_exits_1_without_mismatch_marks() -> None:
    code, out, err = call(["check", write("p.toml", SHARED_TAIL), "--jobs", "1"])
    assert (code, err) == (1, "")
    assert "MISMATCH" not in out
    assert "head-resolution    violated" in out and "without [expect] (exploring)" in out


def test_exploring_proofs_and_not_applicable_exits_0() -> None:
    path = write("ok.toml", static_spec('["x86-64/4K/2M", "arm64/4K/2M"]', extra='invariants = ["head-resolution"]\n'))
    code, out, _err = call(["check", path, "--jobs", "1"])
    assert code == 0
    assert "proved" in out and "not-applicable" in out and "0 differ from expectation" in out


def test_suggest_expect_round_trips_into_a_regression_spec() -> None:
    code, out, _err = call(["check", write("p.toml", SHARED_TAIL), "--jobs", "1", "--suggest-expect"])
    assert code == 1
    table = out[out.index("\n[expect]\n") :]
    assert 'default = "proved"' in table and '"head-resolution@x86-64/4K/2M" = "violated"' in table
    write("p.toml", SHARED_TAIL + table)
    code, out, _err = call(["check", "p.toml", "--jobs", "1"])
    assert code == 0 and "0 differ from expectation" in out and "exploring" not in out


def test_suggest_expect_writes_a_whole_config_once() -> None:
    """A config where every check is not-applicable is one `*@CONFIG` key."""
    text = CUSTOM.replace('configs = ["x86-64/4K/2M", "x86-64/4K/1G"]', 'configs = ["x86-64/4K/2M", "arm64/4K/2M"]')
    code, out, _err = call(["check", write("k.toml", text), "--jobs", "1", "--suggest-expect"])
    assert code == 0
    table = out[out.index("\n[expect]\n") :]
    assert table.splitlines()[1:] == ["[expect]", 'default = "proved"', '"*@arm64/4K/2M" = "not-applicable"']
    write("k.toml", text + table)
    code, out, _err = call(["check", "k.toml", "--jobs", "1"])
    assert code == 0 and "0 differ from expectation" in out and "16 checks" in out


# ---------------------------------------------------------------- configs


def test_globs_in_configs() -> None:
    spec = parse_spec(static_spec('["arm64/16K/*", "x86-64/4K/2M"]'), "g.toml")
    assert [c.id for c in spec.configs] == ["arm64/16K/2M", "arm64/16K/32M", "arm64/16K/1G", "x86-64/4K/2M"]


def test_a_glob_that_matches_no_config_is_an_error() -> None:
    with pytest.raises(SpecError, match=r"configs\[0\]: the glob 'arm65/\*' matches no config"):
        parse_spec(static_spec('["arm65/*"]'), "g.toml")


# ---------------------------------------------------------------- errors


BAD = """title = ""
source = "x"
configs = ["x86_64/4K/2M"]
invariants = ["head_resolution"]
timeout = -1
[scheme]
base = "v5.19"
"""


def test_every_error_of_a_file_at_once() -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(BAD, "bad.toml")
    lines = info.value.lines()
    assert lines[0] == info.value.line() == "bad.toml: title: 'title' must be a non-empty string (got '')"
    assert [line.split(": ")[1] for line in lines] == ["title", "configs[0]", "invariants[0]", "timeout"]
    code, out, err = call(["check", write("bad.toml", BAD)])
    assert (code, out) == (2, "") and err.splitlines() == lines


def test_an_error_that_depends_on_a_failed_part_is_not_reported() -> None:
    """A bad `scheme` leaves the expect keys naming its schemes unjudged (no noise)."""
    text = static_spec(scheme='"v5.19x"', extra='[expect]\n"v5.19x:*" = "proved"\n')
    with pytest.raises(SpecError) as info:
        parse_spec(text, "s.toml")
    assert [line.split(": ")[1] for line in info.value.lines()] == ["scheme"]


def test_keep_going_checks_the_good_files_and_fails_on_the_bad() -> None:
    write("dir/good.toml", static_spec(extra='invariants = ["head-resolution"]\n'))
    write("dir/bad.toml", BAD)
    code, out, err = call(["check", "dir", "--jobs", "1"])
    assert (code, out) == (2, "")
    code, out, err = call(["check", "dir", "--jobs", "1", "--keep-going"])
    assert code == 2
    assert "dir/good.toml" in out and "head-resolution    proved" in out
    assert err.startswith("dir/bad.toml: title:") and len(err.splitlines()) == 4


# ---------------------------------------------------------------- explain


MIXED = static_spec('["arm64/4K/2M", "arm64/16K/2M", "x86-64/4K/2M", "x86-64/4K/1G"]')


def test_explain_does_not_default_to_a_not_applicable_config() -> None:
    code, out, _err = call(["explain", write("m.toml", MIXED), "--invariant", "head-resolution"])
    assert code == 0
    assert "vmemmap of one x86-64/4K/2M folio" in out and "x86-64/4K/2M head-resolution: proved" in out
    assert "arm64" not in out and "1G" not in out


def test_explain_all_configs_one_invariant_each_reason_once() -> None:
    code, out, _err = call(["explain", "m.toml" if pathlib.Path("m.toml").exists() else write("m.toml", MIXED),
                            "--config", "all", "--invariant", "head-resolution,kpageflags"])  # fmt: skip
    assert code == 0
    assert out.count("x86-64/4K/1G head-resolution: proved") == 1 and "x86-64/4K/2M kpageflags: proved" in out
    assert "head-tail-exact" not in out
    assert out.count("not applicable on") == 1 and "arm64/4K/2M, arm64/16K/2M" in out.replace("\n    ", " ")


def test_explain_config_glob_and_bad_names() -> None:
    write("m.toml", MIXED)
    code, out, _err = call(["explain", "m.toml", "--config", "x86-64/*", "--invariant", "accounting"])
    assert code == 0 and "x86-64/4K/1G accounting: proved" in out and "not applicable" not in out
    code, _out, err = call(["explain", "m.toml", "--invariant", "head_resolution"])
    assert code == 2 and "did you mean 'head-resolution'" in err
    code, _out, err = call(["explain", "m.toml", "--config", "riscv64/*"])
    assert code == 2 and "matches none of this spec's configs" in err


def test_explain_where_nothing_applies_says_why_once() -> None:
    path = write("na.toml", static_spec('["arm64/4K/2M", "arm64/64K/512M"]'))
    code, out, _err = call(["explain", path])
    assert code == 0
    assert out.count("has no HVO on arm64") == 1 and "arm64/4K/2M, arm64/64K/512M" in out


# ---------------------------------------------------------------- savings, list


CUSTOM = """title = "keep pages 0 and 1"
source = "s"
configs = ["x86-64/4K/2M", "x86-64/4K/1G"]
[scheme]
base = "v6.2"
name = "keep-0-1"
private = [0, 1]
remap_to = "page:1"
writable = false
"""


def test_savings_of_a_custom_scheme_with_its_legend() -> None:
    code, out, _err = call(["savings", "--spec", write("c.toml", CUSTOM), "--pool", "64G"])
    assert code == 0
    rows = [line.split() for line in out.splitlines() if line.startswith("x86-64/")]
    # v6.2 copies the head page: 8 - 2 private + 1 copied = 7 freed, 1 allocated, 1 PTE table
    assert rows[0][:7] == ["x86-64/4K/2M", "keep-0-1", "8", "7", "1", "1", "5"]
    assert [r[0] for r in rows] == ["x86-64/4K/2M", "x86-64/4K/1G"]
    assert "ptes   PTE tables" in out and "pool net > folios x net" in out
    code, out, _err = call(["savings", "--spec", "c.toml", "--config", "x86-64/4K/1G", "--no-legend"])
    assert code == 0 and "PTE tables" not in out and "2M" not in out


def test_savings_needs_one_of_scheme_and_spec() -> None:
    assert call(["savings", "--config", "all"])[0] == 2
    assert call(["savings", "--scheme", "v6.2"])[0] == 2
    assert call(["savings", "--scheme", "v6.2", "--spec", write("c.toml", CUSTOM)])[0] == 2


def test_list_specs_is_searchable() -> None:
    code, out, _err = call(["list", "--specs", "fifth page"])
    assert code == 0 and "objections/gup-fifth-page.toml" in out and "presets/" not in out
    code, out, _err = call(["list", "--specs"])
    assert out.count(".toml") == len(list((ROOT / "specs").rglob("*.toml")))
    assert call(["list", "--specs", "no such words anywhere"])[1].endswith("(none match)\n")


# ---------------------------------------------------------------- operations


def ops_spec(run: str, depth: int = 2, invariant: str = "dma-exact") -> str:
    return static_spec(extra=f'invariants = ["{invariant}"]\n[ops]\nrun = {run}\ndepth = {depth}\n')


def test_run_all_is_the_kernels_operations_and_the_adversary_only_by_name() -> None:
    everything = parse_spec(ops_spec('"all"'), "a.toml")
    assert everything.ops is not None and "write_struct_page" not in everything.ops.alphabet
    assert set(everything.ops.alphabet) == {n for n, op in OPS.items() if not op.adversary}
    named = parse_spec(ops_spec('["alloc_hugetlb_folio", "write_struct_page"]'), "b.toml")
    assert named.ops is not None and "write_struct_page" in named.ops.alphabet


def test_a_vacuous_check_says_what_to_add() -> None:
    code, out, _err = call(["check", write("bio.toml", ops_spec('["submit_bio"]')), "--jobs", "1"])
    assert code == 1
    flat = " ".join(out.split())
    assert "vacuous" in flat and "add to [ops] run: alloc_hugetlb_folio, get_user_pages_fast" in flat


# ---------------------------------------------------------------- --help, --version, completion


def test_version_is_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    from hvo_verify import __version__

    code, _out, _err = call(["--version"])
    assert (code, capsys.readouterr().out) == (0, f"hvo-verify {__version__}\n")


@pytest.mark.parametrize("command", list(cli.HELP))
def test_every_subcommand_has_a_description_and_examples(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, _err = call([command, "--help"])  # argparse prints --help itself
    out = capsys.readouterr().out
    assert code == 0 and "examples:\n  " in out and "exit codes" in out
    assert cli.HELP[command][0].splitlines()[0] in out


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_bash_completion_completes_subcommands_options_and_config_ids() -> None:
    code, script, _err = call(["completion", "bash"])
    assert code == 0
    probe = (
        f"{script}\n"
        'complete_words() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _hvo_verify; echo "${COMPREPLY[*]}"; }\n'
        "complete_words hvo-verify ex\n"
        "complete_words hvo-verify explain s.toml --config arm64/16K/\n"
        "complete_words hvo-verify check --keep\n"
        "complete_words hvo-verify savings --scheme v6.1\n"
    )
    lines = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, check=True).stdout.splitlines()
    assert lines[0].split() == ["explain", "explore"]
    assert lines[1].split() == ["arm64/16K/2M", "arm64/16K/32M", "arm64/16K/1G"]
    assert lines[2] == "--keep-going"
    assert "v6.1.52" in lines[3].split()
    code, zsh, _err = call(["completion", "zsh"])
    assert code == 0 and "bashcompinit" in zsh and "_hvo_verify" in zsh
