# SPDX-License-Identifier: GPL-2.0-only
"""Vacuity: a proof whose assumptions are unsatisfiable is `vacuous`.

The checker asks, after every unsat negation, whether everything it asserted except
the violation is satisfiable (check/static.py, check/bmc.py).  This section counts the
suite's proofs (each one's assumptions were found satisfiable, or it would not be
`proved`) and shows that the check fires:

* canaries: a static and an operation job that are proved, run again with a
  contradictory extra assumption (encode.canaries.EXTRA_ASSUMPTIONS, a self-check-only hook),
  must come back `vacuous`, never `proved`;
* a spec whose assumptions are contradictory as written: an `[ops]` spec whose `run`
  list has no operation a free HugeTLB folio allows (`folio_put` alone), so the
  unrolling admits no trace at all;
* unreached canaries (issue 13): proofs whose assumptions are satisfiable but whose
  witness cannot happen must come back `unreached`, one per way a spec can miss it: a
  depth too shallow for willy's DMA (alloc, pin and submit_bio on an optimized folio
  need four operations; depth 3), and a `run` without the operation the witness needs
  (no `submit_bio`); the same spec at depth 4 with `submit_bio` is the control, proved.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from hvo_verify.check.result import CheckResult
from hvo_verify.check.smp_job import SmpJob
from hvo_verify.check.suite import check_specs, run_any, spec_jobs
from hvo_verify.selfcheck.section import Section
from hvo_verify.specs.loader import load_specs, parse_spec
from hvo_verify.verdict import Verdict

NAME = "vacuity"

STATIC_CANARY = """title = "self-check: vacuity canary (static)"
source = "hvo-verify selfcheck"
scheme = "v5.18"
configs = ["x86-64/4K/2M"]
invariants = ["head-resolution"]
[expect]
default = "proved"
"""

OPS_CANARY = """title = "self-check: vacuity canary (operations)"
source = "hvo-verify selfcheck"
scheme = "v5.18"
configs = ["x86-64/4K/2M"]
invariants = ["ro-write"]
[ops]
run = ["hugetlb_vmemmap_optimize_folio", "memory_failure"]
depth = 2
[expect]
default = "proved"
"""

# No operation of `run` is enabled on a folio just added to the pool: no trace exists.
VACUOUS_SPEC = """title = "self-check: a spec with contradictory assumptions"
source = "hvo-verify selfcheck"
scheme = "v5.18"
configs = ["x86-64/4K/2M"]
invariants = ["ro-write", "refcount"]
[ops]
run = ["folio_put"]
depth = 2
[expect]
default = "vacuous"
"""

CONTRADICTIONS = ("odd-head-pfn", "user-vmemmap")

# willy's fifth-page DMA (objections/gup-fifth-page.toml) under v6.2, dma-exact only.
DMA_CANARY = """title = "self-check: unreached canary ({what})"
source = "hvo-verify selfcheck"
scheme = "v6.2"
configs = ["x86-64/4K/2M"]
invariants = ["dma-exact"]
[ops]
run = [{run}]
depth = {depth}
[expect]
default = "{verdict}"
"""
_GUP = '"hugetlb_vmemmap_optimize_folio", "alloc_hugetlb_folio", "pin_user_pages_fast"'
UNREACHED_CANARIES = (
    ("too shallow: depth 3", f'{_GUP}, "submit_bio"', 3, Verdict.UNREACHED),
    ("without the operation: no submit_bio", f'{_GUP}, "unpin_user_pages_dirty_lock"', 4, Verdict.UNREACHED),
    ("control: depth 4 with submit_bio", f'{_GUP}, "submit_bio"', 4, Verdict.PROVED),
)


def canaries() -> tuple[list[tuple[str, CheckResult, Verdict]], float]:
    """(what, result, the verdict it must have) for every canary run; and solver seconds."""
    out: list[tuple[str, CheckResult, Verdict]] = []
    for name, text in (("static", STATIC_CANARY), ("operations", OPS_CANARY)):
        [job] = spec_jobs(parse_spec(text, f"<{name} canary>"))
        assert not isinstance(job, SmpJob)
        out.append((f"{name} canary as written", run_any(job), Verdict.PROVED))
        for extra in CONTRADICTIONS:
            res = run_any(dataclasses.replace(job, extra_assumptions=(extra,)))
            out.append((f"{name} canary + {extra}", res, Verdict.VACUOUS))
    for res in check_specs([parse_spec(VACUOUS_SPEC, "<run = [folio_put]>")]):
        out.append((f"spec with run = [folio_put]: {res.invariant}", res, Verdict.VACUOUS))
    for what, run, depth, verdict in UNREACHED_CANARIES:
        text = DMA_CANARY.format(what=what, run=run, depth=depth, verdict=verdict.value)
        for res in check_specs([parse_spec(text, f"<{what}>")]):
            out.append((f"dma-exact canary, {what}", res, verdict))
    return out, sum(r.solver_seconds for _w, r, _v in out)


def run_vacuity(spec_paths: Sequence[str], jobs: int = 2, results: Sequence[CheckResult] | None = None) -> Section:
    """The suite's proofs (checked here when `results` is not given) and the canaries."""
    if results is None:
        results = check_specs(load_specs(list(spec_paths)), workers=jobs)
    failures: list[str] = []
    proved = sum(r.verdict is Verdict.PROVED for r in results)
    vacuous = [r for r in results if r.verdict is Verdict.VACUOUS]
    failures += [f"{r.spec} {r.config} {r.invariant}: vacuous ({r.reason})" for r in vacuous if not r.as_expected]
    unreached = [r for r in results if r.verdict is Verdict.UNREACHED]
    failures += [f"{r.spec} {r.config} {r.invariant}: unreached ({r.reason})" for r in unreached if not r.as_expected]
    runs, _seconds = canaries()
    details: list[tuple[str, str]] = []
    must_vacuous = caught = must_prove = proved_canaries = must_unreach = unreach_caught = 0
    for what, res, want in runs:
        details.append((what, res.verdict.value))
        if want is Verdict.VACUOUS:
            must_vacuous += 1
            caught += res.verdict is Verdict.VACUOUS
        elif want is Verdict.UNREACHED:
            must_unreach += 1
            unreach_caught += res.verdict is Verdict.UNREACHED
        else:
            must_prove += 1
            proved_canaries += res.verdict is Verdict.PROVED
        if res.verdict is not want:
            failures.append(f"{what}: {res.verdict.value}, expected {want.value} {res.reason}".rstrip())
        if res.verdict is Verdict.VACUOUS and "contradictory" not in res.reason:
            failures.append(f"{what}: vacuous without saying which assumptions contradict")
    figures: tuple[tuple[str, int | float | str], ...] = (
        ("proofs, assumptions satisfiable", proved),
        ("vacuous in the suite", f"{len(vacuous)} ({sum(not r.as_expected for r in vacuous)} unexpected)"),
        ("contradictory canaries reported vacuous", f"{caught}/{must_vacuous}"),
        ("unreached in the suite", f"{len(unreached)} ({sum(not r.as_expected for r in unreached)} unexpected)"),
        ("canaries whose witness cannot happen reported unreached", f"{unreach_caught}/{must_unreach}"),
        ("canaries proved as written", f"{proved_canaries}/{must_prove}"),
    )
    return Section(NAME, not failures, figures, tuple(failures), tuple(details))
