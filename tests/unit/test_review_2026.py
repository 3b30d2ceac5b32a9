# SPDX-License-Identifier: GPL-2.0-only
"""docs/reviews/2026-hvo-shared-tail.txt: a plain-text mail of at most 72 columns whose
every spec reference ("Spec PATH" then "verdict (SCHEME, CONFIG): VERDICT") names a
spec that exists and expects that verdict for every invariant it checks there; and it
names every spec of specs/reviews/2026-shared-tail."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hvo_verify.specs.loader import load_sweep
from hvo_verify.verdict import Verdict

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / "docs/reviews/2026-hvo-shared-tail.txt"
FOLDER = ROOT / "specs/reviews/2026-shared-tail"
REF = re.compile(r"^\s*Spec (\S+)\n\s*verdict \(([^,]+), ([^)]+)\): (\w+)$", re.M)


def references(text: str) -> list[tuple[str, str, str, str]]:
    return [(m[1], m[2], m[3], m[4]) for m in REF.finditer(text)]


def test_the_report_is_72_columns_of_plain_text() -> None:
    text = REPORT.read_text(encoding="ascii")
    wide = [n for n, line in enumerate(text.splitlines(), 1) if len(line) > 72 or "\t" in line]
    assert not wide, f"lines over 72 columns or with tabs: {wide}"


@pytest.mark.parametrize(("path", "scheme", "config", "verdict"), references(REPORT.read_text(encoding="ascii")))
def test_every_spec_the_report_names_expects_its_verdict(path: str, scheme: str, config: str, verdict: str) -> None:
    units = [u for u in load_sweep(ROOT / "specs" / f"{path}.toml") if u.scheme.name == scheme]
    assert units, f"{path}: no scheme {scheme}"
    (unit,) = units
    assert config in [c.id for c in unit.configs], f"{path}: no config {config}"
    for invariant in unit.invariants:
        assert unit.expect.expected(invariant, config, scheme) is Verdict(verdict), (path, invariant)


def test_the_report_names_every_review_spec() -> None:
    named = {p for p, *_ in references(REPORT.read_text(encoding="ascii"))}
    folder = {f"reviews/2026-shared-tail/{f.stem}" for f in FOLDER.glob("*.toml")}
    assert folder <= named, sorted(folder - named)


def test_the_reference_parser_sees_a_wrong_verdict() -> None:
    """The check can fail: a reference with the other verdict does not match the spec."""
    text = "  Spec reviews/2026-shared-tail/c1-speculative-refcount\n    verdict (v6.15, x86-64/4K/2M): violated\n"
    ((path, scheme, config, verdict),) = references(text)
    (unit,) = [u for u in load_sweep(ROOT / "specs" / f"{path}.toml") if u.scheme.name == scheme]
    assert unit.expect.expected("ro-write", config, scheme) is not Verdict(verdict)
