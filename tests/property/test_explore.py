# SPDX-License-Identifier: GPL-2.0-only
"""Hypothesis exploration of operation specs (hvo_verify.check.explore): it finds and shrinks
violations, finds none where BMC proves, honours `max_calls`, is deterministic, and
prints nothing and leaves no files."""

from __future__ import annotations

import pathlib

import pytest

from hvo_verify.check.explore import explore_spec, machine_for
from hvo_verify.invariants.replay import check_step, replay
from hvo_verify.specs.loader import parse_spec
from hvo_verify.specs.schema import Spec
from hvo_verify.verdict import Verdict

DMA_RUN = '["hugetlb_vmemmap_optimize_folio", "alloc_hugetlb_folio", "pin_user_pages_fast", "submit_bio"]'


def ops_spec(scheme: str, invariant: str, run: str, expect: str, ops: str = "", depth: int = 3) -> Spec:
    scheme_line = f'scheme = "{scheme}"\n' if not scheme.startswith("[") else ""
    scheme_table = scheme if scheme.startswith("[") else ""
    text = (
        f'title = "t"\nsource = "s"\n{scheme_line}configs = ["x86-64/4K/2M"]\ninvariants = ["{invariant}"]\n'
        f'{scheme_table}\n[ops]\nrun = {run}\ndepth = {depth}\n{ops}\n[expect]\ndefault = "{expect}"\n'
    )
    return parse_spec(text, "inline.toml")


# rfc-2020 maps the tails writable; PageHWPoison on the raw page stores into frame(1).
ALIAS = ops_spec("rfc-2020", "alias-write", '["hugetlb_vmemmap_optimize_folio", "memory_failure"]', "violated",
                 'hwpoison = "raw-flag"\n')  # fmt: skip
# v5.14 as merged: GUP's pages are pmd_page() + idx, DMA lands where the user's buffer is.
DMA = ops_spec("v5.14", "dma-exact", DMA_RUN, "proved", depth=4)
# The same with struct pages that have no address of their own (willy's GUP objection).
DMA_DEDUP = ops_spec('[scheme]\nbase = "v5.14"\nname = "dedup-pointers"\nmemory_model = "dedup-pointers"\n',
                     "dma-exact", DMA_RUN, "violated", depth=4)  # fmt: skip


def smallest_violating_subpage(spec: Spec) -> int:
    """Brute force: the first i for which optimize; memory_failure(i) violates."""
    assert spec.ops is not None
    m = machine_for(spec.configs[0], spec)
    optimized = m.apply(m.initial(), "hugetlb_vmemmap_optimize_folio", {"alloc_ok": True}).state
    for i in range(m.nr):
        out = m.apply(optimized, "memory_failure", {"i": i, "kmalloc_ok": True})
        if check_step(m, optimized, out, spec.invariants):
            return i
    raise AssertionError("no violating subpage")


def test_finds_and_shrinks_a_violation() -> None:
    [found] = explore_spec(ALIAS, examples=100)
    assert found.found and found.as_expected and found.expected is Verdict.VIOLATED
    assert found.trace is not None and found.trace.invariant == "alias-write"
    replayed = replay(found.trace, ("alias-write",))
    assert replayed[-1].violation == ("alias-write", found.message)
    # Shrunk to the shortest sequence and the first struct page on a shared frame.
    assert [s.op for s in found.trace.steps] == ["hugetlb_vmemmap_optimize_folio", "memory_failure"]
    assert dict(found.trace.steps[1].args)["i"] == smallest_violating_subpage(ALIAS) > 0


def test_no_violation_where_bmc_proves() -> None:
    [explored] = explore_spec(DMA, examples=100)
    assert not explored.found and explored.trace is None
    assert explored.as_expected and explored.runs >= 100 and explored.distinct > 10


def test_the_same_search_catches_a_dma_mutant() -> None:
    """Non-vacuity of the test above: with the same operations and budget, a GUP that
    returns the representative struct page is caught, shrunk to the first remapped page."""
    [explored] = explore_spec(DMA_DEDUP, examples=100)
    assert explored.found and explored.as_expected, explored
    assert explored.trace is not None
    assert [s.op for s in explored.trace.steps][-2:] == ["pin_user_pages_fast", "submit_bio"]
    pin = dict(explored.trace.steps[-2].args)
    assert pin == {"offset": 2 * 64 * 4096, "length": 512}  # head+128: the first page of vmemmap page 2


def test_max_calls_is_honoured() -> None:
    two_errors = '["memory_failure"]'
    policy = 'hwpoison = "head-index"\n'
    unlimited = ops_spec("rfc-2020", "hwpoison-exact", two_errors, "violated", policy)
    once = ops_spec("rfc-2020", "hwpoison-exact", two_errors, "proved", policy + "max_calls = { memory_failure = 1 }\n")
    [lost] = explore_spec(unlimited, examples=100)
    assert lost.found and lost.trace is not None and len(lost.trace.steps) == 2  # the second error is lost
    [kept] = explore_spec(once, examples=100)
    assert not kept.found and kept.as_expected


def test_deterministic_and_seeded() -> None:
    first = explore_spec(ALIAS, examples=50)
    assert explore_spec(ALIAS, examples=50) == first
    seeded = explore_spec(ALIAS, examples=50, seed=7)
    assert explore_spec(ALIAS, examples=50, seed=7) == seeded
    assert seeded[0].found


def test_expectation_mismatch() -> None:
    wrong = ops_spec("rfc-2020", "alias-write", '["hugetlb_vmemmap_optimize_folio", "memory_failure"]', "proved",
                     'hwpoison = "raw-flag"\n')  # fmt: skip
    [explored] = explore_spec(wrong, examples=50)
    assert explored.found and not explored.as_expected


def test_silent_and_leaves_no_files(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    explore_spec(ALIAS, examples=30)
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")
    assert list(tmp_path.iterdir()) == []


ROOT = pathlib.Path(__file__).resolve().parents[2]
OPS_SPECS = sorted(p for p in (ROOT / "specs").rglob("*.toml") if "[ops]" in p.read_text())


# The slow lane: the pytest twin of `selfcheck --only explore-bmc` (about 100 CPU s over
# every operation spec); CI runs it there and leaves that section out of its selfcheck.
@pytest.mark.slow
@pytest.mark.parametrize("path", OPS_SPECS, ids=[p.stem for p in OPS_SPECS])
def test_random_runs_find_exactly_the_violations_bmc_expects(path: pathlib.Path) -> None:
    """The issue's 'explore finds the same violations': every operation spec's expected
    verdicts (which BMC reproduces, tests/must_catch) are what exploration finds."""
    from hvo_verify.specs.loader import load_sweep

    results = [r for unit in load_sweep(path) for r in explore_spec(unit)]  # each era of a sweep
    assert results
    wrong = [(r.config, r.invariant, r.expected, r.found) for r in results if not r.as_expected]
    assert not wrong, wrong
    for r in results:
        if r.found:
            assert r.trace is not None and replay(r.trace, (r.invariant,))[-1].violation is not None
