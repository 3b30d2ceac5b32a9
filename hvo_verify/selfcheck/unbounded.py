# SPDX-License-Identifier: GPL-2.0-only
"""Unbounded proofs against bounded ones (issue 13 item 4).

An operation invariant proved for every length (check/induction.py, `bound: none`)
must never meet a bounded violation: every case below is checked with k-induction at
a small depth, and each `bound: none` is compared with BMC at depths 1..depth+EXTRA.
The section also shows the comparison can fail: in the B5 window (v6.2:
remove_hugetlb_folio() clears the hugetlb flag before the restore) ro-write is proved
at depths 1 and 2 and violated at 3 (optimize, dissolve, memory_failure on a tail).
Two false lemmas would hide it: "pool != removed or not optimized" holds on every run
of one step but is not preserved, "pool == buddy" is preserved but false initially.
The engine must refuse both; two mutants of it, one that never checks that the lemmas
are preserved and one that never checks them on the bounded runs, accept one each and
must be caught as disagreements.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from hvo_verify.check import induction
from hvo_verify.check.bmc import UNROLLINGS
from hvo_verify.check.result import CheckResult
from hvo_verify.check.suite import run_any, spec_jobs
from hvo_verify.encode.terms import FALSE
from hvo_verify.selfcheck.section import Section
from hvo_verify.specs.loader import parse_sweep
from hvo_verify.verdict import Verdict

NAME = "unbounded"
EXTRA = 2  # bounded depths beyond the spec's


def _spec(scheme: str, run: str, invariants: str, depth: int, lemmas: str = "") -> str:
    return f"""title = "self-check: unbounded against bounded"
source = "hvo-verify selfcheck"
scheme = "{scheme}"
configs = ["x86-64/4K/2M"]
invariants = [{invariants}]
[ops]
run = [{run}]
depth = {depth}
unbounded = true
{lemmas}
[expect]
default = "proved"
"""


B5 = (
    '"hugetlb_vmemmap_optimize_folio", "memory_failure", "dissolve_free_hugetlb_folio", "update_and_free_hugetlb_folio"'
)
CASES: tuple[tuple[str, str], ...] = (
    ("gup v6.2", _spec("v6.2", '"hugetlb_vmemmap_optimize_folio", "alloc_hugetlb_folio", "pin_user_pages_fast", '
                       '"submit_bio", "unpin_user_pages_dirty_lock"', '"dma-exact", "read-fault"', 2)),
    ("pg_arch_1 v6.2", _spec("v6.2", '"hugetlb_vmemmap_optimize_folio", "alloc_hugetlb_folio", "sync_icache_dcache", '
                             '"flush_dcache_page"', '"ro-write", "alias-write"', 2)),
    ("b5 window, depth 1", _spec("v6.2", B5, '"ro-write"', 1, 'max_calls = { memory_failure = 1 }\n'
                                 'lemmas = ["pool != removed or not optimized"]')),
    ("b5 window, depth 2", _spec("v6.2", B5, '"ro-write"', 2, 'max_calls = { memory_failure = 1 }\n'
                                 'lemmas = ["pool == buddy"]')),
)  # fmt: skip


@contextmanager
def _patched(name: str, value: Any) -> Iterator[None]:
    saved = getattr(induction, name)
    setattr(induction, name, value)
    try:
        yield
    finally:
        setattr(induction, name, saved)


def _no_preservation(_reached: Any, _lemmas: Any) -> Any:
    return FALSE


def _no_base(_job: Any) -> tuple[str, float, int]:
    return "", 0.0, 0


MUTANTS: dict[str, tuple[str, Callable[..., Any]]] = {
    "lemmas never checked for preservation": ("lemma_broken", _no_preservation),
    "lemmas never checked on the bounded runs": ("_lemma_base", _no_base),
}


def _disagreements(results: list[tuple[str, CheckResult, Any]]) -> list[str]:
    """Each `bound: none` against BMC at depths 1..depth+EXTRA."""
    out = []
    for label, res, job in results:
        if not res.unbounded:
            continue
        for depth in range(1, job.depth + EXTRA + 1):
            bounded = run_any(dataclasses.replace(job, depth=depth, unbounded=False))
            if bounded.verdict is Verdict.VIOLATED:
                out.append(f"{label} {res.invariant}: bound: none, but violated at depth {depth}")
                break
    return out


def _run_cases() -> list[tuple[str, CheckResult, Any]]:
    UNROLLINGS.clear()
    out = []
    for label, text in CASES:
        for spec in parse_sweep(text, f"<selfcheck {label}>"):
            for job in spec_jobs(spec):
                out.append((label, run_any(job), job))
    return out


def run_unbounded() -> Section:
    results = _run_cases()
    proved = sum(1 for _l, r, _j in results if r.unbounded)
    failures = _disagreements(results)
    refused = [f"{label} {r.invariant}" for label, r, _j in results if r.verdict is Verdict.PROVED and not r.unbounded]
    caught = 0
    for mutant, (name, value) in MUTANTS.items():
        with _patched(name, value):
            found = _disagreements(_run_cases())
        UNROLLINGS.clear()
        if found:
            caught += 1
        else:
            failures.append(f"mutant survived: {mutant} (no unbounded proof met a bounded violation)")
    figures: tuple[tuple[str, int | float | str], ...] = (
        ("unbounded proofs", proved),
        ("bounded only", len(refused)),
        ("disagreements", len([f for f in failures if not f.startswith("mutant")])),
        ("engine mutants caught", f"{caught}/{len(MUTANTS)}"),
    )
    return Section(NAME, not failures, figures, tuple(failures), tuple(("bounded only", r) for r in refused))
