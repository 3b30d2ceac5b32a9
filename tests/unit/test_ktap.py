# SPDX-License-Identifier: GPL-2.0-only
"""The KTAP writer and parser (hvo_verify/ktap.py) against each other and against
kselftest's own output shape."""

from __future__ import annotations

from hvo_verify import ktap

NESTED = (
    ktap.Result(1, True, "spec a", subtests=(
        ktap.Result(1, True, "x86-64/4K/2M dma-exact"),
        ktap.Result(2, True, "arm64/64K/512M ro-write", ktap.Directive.SKIP, "not applicable"),
    )),
    ktap.Result(2, False, "spec b # with a hash", diagnostics=("expected proved, got violated",)),
)  # fmt: skip


def test_write_then_parse_round_trips() -> None:
    text = "\n".join(ktap.write(NESTED))
    doc = ktap.parse(text)
    assert doc.version == 1 and doc.plan == 2 and not doc.unparsed
    assert doc.results[0] == NESTED[0]
    assert doc.results[1].name == "spec b - with a hash" and not doc.results[1].ok
    assert doc.results[1].diagnostics == ("expected proved, got violated",)


def test_parses_kselftest_header_and_console_noise() -> None:
    text = "[    1.2] random: crng init done\nTAP version 13\n1..2\nok 1 first\n[ 3.4] console\nnot ok 2 second # SKIP no hugetlb\n"
    doc = ktap.parse(text)
    assert doc.version == 13 and doc.plan == 2
    assert [(r.number, r.ok, r.name, r.directive) for r in doc.results] == [
        (1, True, "first", ktap.Directive.NONE),
        (2, False, "second", ktap.Directive.SKIP),
    ]
    assert doc.results[1].reason == "no hugetlb"
    assert len(doc.unparsed) == 2


def test_skip_line_format_matches_ktap_spec() -> None:
    assert ktap.result_line(3, True, "x", ktap.Directive.SKIP, "why") == "ok 3 x # SKIP why"
    assert ktap.result_line(4, False, "y") == "not ok 4 y"
