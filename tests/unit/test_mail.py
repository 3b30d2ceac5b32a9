# SPDX-License-Identifier: GPL-2.0-only
"""Mail-ready output (issue 14 item 2): --width for text output, explain's provenance
line and --inline-spec (folded without changing what it parses to), and the one
clause that says whose bytes a counterexample's word is."""

from __future__ import annotations

import hashlib
import io
import pathlib
import re
import tomllib

import pytest

from hvo_verify import __version__, cli
from hvo_verify.check.solver import z3_version
from hvo_verify.model.config import parse_config_id
from hvo_verify.model.describe import struct_page_lines
from hvo_verify.model.remap import optimize
from hvo_verify.model.scheme import preset
from hvo_verify.model.structpage import Folio
from hvo_verify.report.mail import fold_toml
from hvo_verify.specs.loader import parse_sweep

ROOT = pathlib.Path(__file__).resolve().parents[2]
SPEC_FILES = sorted((ROOT / "specs").rglob("*.toml"))
V514_56 = "specs/must-catch/v5.14-struct-page-56.toml"  # static, a counterexample
RAW_FLAG = "specs/objections/hwpoison-raw-flag-v5.14.toml"  # operations, a trace


def run(*argv: str) -> tuple[str, str, int]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(list(argv), out, err)
    return out.getvalue(), err.getvalue(), code


@pytest.fixture(autouse=True)
def _at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


@pytest.mark.parametrize("spec", [V514_56, RAW_FLAG])
def test_explain_quoted_at_78_stays_within_80(spec: str) -> None:
    out, err, code = run("explain", spec, "--width", "78", "--inline-spec")
    assert (err, code) == ("", 0)
    quoted = [f"> {line}" for line in out.splitlines()]
    assert max(len(line) for line in quoted) <= 80, [line for line in quoted if len(line) > 80]


def test_provenance_line() -> None:
    out, _err, _code = run("explain", V514_56)
    first, blank = out.splitlines()[:2]
    digest = hashlib.sha256((ROOT / V514_56).read_bytes()).hexdigest()
    assert first == f"hvo-verify {__version__}, z3 {z3_version()}, spec sha256 {digest[:16]}" and blank == ""


def test_inline_spec_is_the_spec() -> None:
    out, _err, _code = run("explain", V514_56, "--inline-spec", "--width", "72")
    lines = out.splitlines()
    start, end = (
        lines.index("--- v5.14-struct-page-56.toml ---"),
        next(n for n, line in enumerate(lines) if line.startswith("--- end of spec")),
    )
    inline = "\n".join(lines[start + 1 : end]) + "\n"
    assert parse_sweep(inline, V514_56) == parse_sweep((ROOT / V514_56).read_bytes(), V514_56)
    assert max(len(line) for line in lines[start:end]) <= 72


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: str(p.relative_to(ROOT / "specs")))
def test_every_spec_folds_to_the_same_spec(path: pathlib.Path) -> None:
    text = path.read_text(encoding="utf-8")
    folded = fold_toml(text, 72)
    assert parse_sweep(folded, str(path)) == parse_sweep(text, str(path))


def test_folding_keeps_escapes_and_refuses_what_it_cannot_keep() -> None:
    long = 'description = "a \\"quoted\\" word, a backslash \\\\ and a tab\\t ' + "word " * 30 + 'end"\n'
    folded = fold_toml(long, 40)
    assert folded != long and all(len(line) <= 40 for line in folded.splitlines())
    assert tomllib.loads(folded) == tomllib.loads(long)
    literal = "source = '" + "x " * 60 + "'\n"  # a literal string: left as it is
    assert fold_toml(literal, 40) == literal


@pytest.mark.parametrize("width", [60, 100])
def test_width_applies_to_check_list_and_savings(width: int) -> None:
    outputs = [
        run("check", V514_56, "--jobs", "1", "--width", str(width))[0],
        run("list", "--width", str(width))[0],
        run("savings", "--scheme", "all", "--config", "x86-64/4K/1G", "--pool", "300G", "--width", str(width))[0],
    ]
    for out in outputs:
        assert max(len(line) for line in out.splitlines()) <= width


def test_width_out_of_range_is_one_line() -> None:
    out, err, code = run("list", "--width", "39")
    assert (out, code) == ("", 2) and err == "hvo-verify: --width: must be between 40 and 1000 columns\n"


# ---------------------------------------------------------------- why, in one clause


def lines_for(scheme: str, config_id: str, j: int) -> str:
    config = parse_config_id(config_id)[0]
    folio = Folio(config, preset(scheme), config.nr_pages, config.default_vmemmap_base)
    return "\n".join(struct_page_lines(optimize(folio), j))


def test_why_a_fake_head_reads_the_head() -> None:
    """v5.18 without page_fixed_fake_head(): vmemmap page 1 maps frame(0), whose first
    struct page is the head itself (4096 / 64 = 64 struct pages per page)."""
    text = lines_for("v5.18", "x86-64/4K/2M", 64)
    assert "reads 0x" in text and "(frame(0) holds head's flags here)" in text
    assert "(frame(0) holds head's compound_head here)" in text


def test_why_a_56_byte_struct_page_reads_another() -> None:
    """v5.14 at 56 bytes (tests/golden/test_golden.py works it out): head+147's
    compound_head is 0x30 into vmemmap page 2, which maps frame(1); there, at
    4096 + 0x30 = 4144 = 74 * 56 bytes from the head, are head+74's flags."""
    text = lines_for("v5.14", "x86-64/4K/2M@56", 147)
    assert "(frame(1) holds head+74's flags here)" in text


def test_why_the_shared_tail_page_names_another_folio() -> None:
    """The shared tail page with pointer encoding: its compound_head names the folio that
    initialised it, modelled as the next one (head pfn 0x200 + 512 pages = 0x400)."""
    spec = parse_sweep((ROOT / "specs/must-catch/shared-tail-pointer-encoding.toml").read_bytes(), "x.toml")[0]
    config = parse_config_id("x86-64/4K/2M")[0]
    folio = Folio(config, spec.scheme, config.nr_pages, config.default_vmemmap_base)
    text = "\n".join(struct_page_lines(optimize(folio), 64))
    assert "the shared tail page holds a tail of the folio at pfn 0x400, which initialised it" in text
    assert re.search(r"->flags at 0x[0-9a-f]+: vmemmap page 1 -> shared tail page RO; reads 0x[0-9a-f]+$", text, re.M)


@pytest.mark.parametrize("scheme", ["v5.14", "v6.2"])
def test_no_clause_for_a_word_that_is_its_own(scheme: str) -> None:
    """head+1 on vmemmap page 0: its own frame (v5.14), the head frame's copy of it (v6.2)."""
    assert "holds" not in lines_for(scheme, "x86-64/4K/2M", 1)
