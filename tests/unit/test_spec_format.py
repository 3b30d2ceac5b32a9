# SPDX-License-Identifier: GPL-2.0-only
"""The spec format version (`format = N`, optional, default 1): every spec of today
reads the same with `format = 1` written out, and an unknown version is one line."""

from __future__ import annotations

import pathlib

import pytest

from hvo_verify import __version__
from hvo_verify.errors import SpecError
from hvo_verify.specs.loader import SPEC_FORMATS, parse_sweep

ROOT = pathlib.Path(__file__).resolve().parents[2]
SPEC_FILES = sorted((ROOT / "specs").rglob("*.toml"))


def test_there_are_specs_to_compare() -> None:
    assert len(SPEC_FILES) > 40 and SPEC_FORMATS == (1,)


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: str(p.relative_to(ROOT / "specs")))
def test_todays_specs_read_the_same_as_format_1(path: pathlib.Path) -> None:
    """Parsed objects compared, not verdicts (cheaper than solving, and the same thing:
    a check is a function of its Spec)."""
    text = path.read_text(encoding="utf-8")
    assert not text.lstrip().startswith("format"), "a spec of today has no format key"
    assert parse_sweep(f"format = 1\n{text}", str(path)) == parse_sweep(text, str(path))


BASE = 'title = "t"\nsource = "s"\nscheme = "v6.2"\nconfigs = ["x86-64/4K/2M"]\n[expect]\ndefault = "proved"\n'


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2", f"unknown spec format 2 (this hvo-verify {__version__} reads 1: upgrade it)"),
        ("0", "unknown spec format 0"),
        ('"1"', "expected an integer spec format version such as 1, got '1'"),
        ("true", "expected an integer spec format version such as 1, got True"),
    ],
)
def test_unknown_format_is_one_line(value: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_sweep(f"format = {value}\n{BASE}", "x.toml")
    line = info.value.line()
    assert line.startswith("x.toml: format: ") and message in line and "\n" not in line


def test_a_newer_format_is_refused_before_its_new_keys() -> None:
    """A format-2 file with a key format 1 does not know: the message is the version, not the key."""
    with pytest.raises(SpecError, match="unknown spec format 2"):
        parse_sweep(f"format = 2\nbound = 3\n{BASE}", "x.toml")
