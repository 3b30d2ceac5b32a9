# SPDX-License-Identifier: GPL-2.0-only
"""The interleaving checks checking themselves.

`protocol` section: one mutant per protocol element (the synchronize_rcu(), the RCU
read side, the refcount freeze, the fake-head test, the TLB flush, each lock and lock
order, the split's re-check, the hugetlb flag's place, break-before-make): each is an
edit to one CPU's step list of one shipped spec, the same edits a reviewer writes in a
spec, and each must change a verdict of that spec (killed).

`interleavings` section: for every `[smp]` spec, the BMC verdict of each invariant
against exhaustive enumeration of every interleaving on the concrete model
(check/smp_enumerate.py): 0 disagreements.
"""

from __future__ import annotations

import dataclasses
import pathlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hvo_verify.check.result import CheckResult
from hvo_verify.check.smp_enumerate import enumerate_all, run_schedule, violated
from hvo_verify.check.smp_explore import explore_smp
from hvo_verify.check.smp_job import SmpJob, system_for
from hvo_verify.check.suite import check_specs
from hvo_verify.ops.smp_table import Edit
from hvo_verify.selfcheck.section import Section
from hvo_verify.specs.loader import load_specs, load_sweep
from hvo_verify.specs.schema import Spec
from hvo_verify.verdict import Verdict


@dataclass(frozen=True, slots=True)
class ProtocolMutant:
    element: str  # the protocol element the mutant removes or breaks
    spec: str  # relative to the spec folder
    cpu: str
    edits: tuple[Edit, ...]


def _drop(*steps: str) -> tuple[Edit, ...]:
    return tuple(Edit("drop", s) for s in steps)


REG = "regressions/"
REVIEW = "reviews/2026-shared-tail/"
MUTANTS = (
    ProtocolMutant("synchronize_rcu() before the remap", REG + "2024-b8-speculative-pfn-walker-fixed.toml", "CPU1",
                   _drop("synchronize_rcu")),
    ProtocolMutant("rcu_read_lock() in page_ref_add_unless()", REG + "2024-b8-speculative-pfn-walker-fixed.toml",
                   "CPU0", _drop("rcu_read_lock")),
    ProtocolMutant("folio_ref_freeze() before HVO", REG + "2024-b8-speculative-pfn-walker-fixed.toml", "CPU1",
                   _drop("folio_ref_freeze", "if_freeze_failed")),
    ProtocolMutant("page_is_fake_head() test", REG + "2024-b8-fake-head-refcount-fixed.toml", "CPU0",
                   _drop("if_fake_head")),
    ProtocolMutant("TLB flush before the frees", "protocols/tlb-flush-before-free.toml", "CPU1", _drop("flush_tlb")),
    ProtocolMutant("init_mm.page_table_lock around the PMD install", REG + "2023-b3-vmemmap-pmd-split-race-fixed.toml",
                   "CPU0", _drop("ptl_lock2", "ptl_unlock2")),
    ProtocolMutant("pmd_leaf() re-check before pmd_populate_kernel()",
                   REG + "2023-b3-vmemmap-pmd-split-race-fixed.toml", "CPU0", _drop("if_split_raced")),
    ProtocolMutant("pcp_batch_high_lock outside the dissolve (B12 lock order)",
                   REG + "2024-b12-memory-failure-hotplug-deadlock-fixed.toml", "CPU0",
                   (Edit("move", "drain_all_pages", "before", "static_branch_dec"),
                    Edit("move", "drain_all_pages_done", "after", "static_branch_dec_done"))),
    ProtocolMutant("cpu_hotplug_lock taken by static_branch_dec()",
                   REG + "2024-b12-memory-failure-hotplug-deadlock.toml", "CPU0",
                   _drop("static_branch_dec", "static_branch_dec_done")),
    ProtocolMutant("hugetlb flag set before the remap (B6)", REG + "2023-b6-optimize-before-hugetlb-flag-fixed.toml",
                   "CPU1", (Edit("move", "folio_set_hugetlb", "after", "flush_tlb"),)),
    ProtocolMutant("hugetlb_lock around taking a folio off the free list",
                   "protocols/hugetlb-lock-dissolve-vs-alloc.toml", "CPU1", _drop("hugetlb_lock", "hugetlb_unlock")),
    ProtocolMutant("folio_try_get()'s zero test in GUP-fast", "protocols/gup-fast-vs-dissolve.toml", "CPU0",
                   _drop("gup_if_zero")),
    ProtocolMutant("pte_clear() of break-before-make", REG + "2023-b13-arm64-break-before-make-variant.toml", "CPU1",
                   _drop("pte_clear_1")),
    # the fixes proposed in the 2026 review (docs/reviews/2026-hvo-shared-tail.txt)
    ProtocolMutant("synchronize_rcu() back before the remap (2026, candidate 1)",
                   REVIEW + "c1-speculative-refcount-fixed.toml", "CPU1", _drop("synchronize_rcu")),
    ProtocolMutant("rcu_read_lock() back in page_ref_add_unless() (2026, candidate 1)",
                   REVIEW + "c1-speculative-refcount-fixed.toml", "CPU0", _drop("rcu_read_lock")),
    ProtocolMutant("memory_failure()'s raw-page path as one read section (2026, candidate 8)",
                   REVIEW + "c8-memory-failure-raw-vs-prep-fixed.toml", "CPU0", _drop("rcu_read_lock")),
    ProtocolMutant("the rollback leaves PTE 0 alone (Fixes: c0b495b91a47)",
                   REG + "2026-rollback-head-from-tail-template-fixed.toml", "CPU0",
                   tuple(Edit("add", f"rollback_{s}_0", "before", "rollback_alloc_1") for s in ("alloc", "copy", "pte"))),
)  # fmt: skip


def mutate(spec: Spec, m: ProtocolMutant) -> Spec:
    assert spec.smp is not None, m.spec
    cpus = tuple(dataclasses.replace(c, edits=c.edits + m.edits) if c.name == m.cpu else c for c in spec.smp.cpus)
    assert any(c.name == m.cpu for c in cpus), (m.spec, m.cpu)
    return dataclasses.replace(spec, smp=dataclasses.replace(spec.smp, cpus=cpus))


def killed_by(results: Sequence[CheckResult]) -> str | None:
    """The first check whose verdict differs from its expectation (the kill), or None."""
    for r in results:
        if r.verdict is not r.expected:
            return f"{r.invariant}@{r.config}: {r.verdict.value} (expected {r.expected.value if r.expected else '?'})"
    return None


def run_protocol(
    specs: pathlib.Path,
    jobs: int = 2,
    mutants: Sequence[ProtocolMutant] = MUTANTS,
    suite: Sequence[CheckResult] | None = None,
) -> Section:
    """Each mutant's spec must match its expectations as written (the baseline: each
    spec once, read from `suite`, the regression suite's results, when given) and differ
    once mutated.  The mutated specs are data (edits of the CPU programs), so they run in
    one batch on `jobs` workers."""
    start = time.perf_counter()
    failures: list[str] = []
    details: list[tuple[str, str]] = []
    units = {m.spec: load_sweep(specs / m.spec) for m in mutants}
    baseline = _baselines(units, jobs, suite)
    mutated = [(n, mutate(u, m)) for n, m in enumerate(mutants) if baseline[m.spec] is None for u in units[m.spec]]
    by_mutant: dict[int, list[CheckResult]] = {}
    checked = check_specs([u for _n, u in mutated], workers=jobs)
    owner = [n for n, u in mutated for _check in range(len(u.configs) * len(u.invariants))]
    for n, result in zip(owner, checked, strict=True):
        by_mutant.setdefault(n, []).append(result)
    baseline_bad = 0
    for n, m in enumerate(mutants):
        base = baseline[m.spec]
        if base is not None:
            baseline_bad += 1
            failures.append(f"{m.spec}: differs before any mutation: {base}")
            continue
        kill = killed_by(by_mutant.get(n, []))
        if kill is None:
            failures.append(f"mutant survives: {m.element} ({m.spec}, {m.cpu})")
        details.append((m.element, kill or "SURVIVED"))
    killed = sum(1 for _e, k in details if k != "SURVIVED")
    figures = (("protocol mutants killed", f"{killed}/{len(mutants)}"), ("baseline differences", baseline_bad),
               ("seconds", round(time.perf_counter() - start, 1)))  # fmt: skip
    return Section("protocol", not failures, figures, tuple(failures), tuple(details))


def _baselines(
    units: dict[str, tuple[Spec, ...]], jobs: int, suite: Sequence[CheckResult] | None
) -> dict[str, str | None]:
    """killed_by() of each spec as written: from `suite` where it holds the spec's
    results, else checked (every such spec in one batch)."""
    known: dict[str, list[CheckResult]] = {}
    for r in suite or ():
        known.setdefault(r.spec, []).append(r)
    out: dict[str, str | None] = {}
    missing = []
    for path, spec_units in units.items():
        mine = [r for u in spec_units for r in known.get(u.path, []) if r.scheme == u.scheme.name]
        if mine and len(mine) == sum(len(u.configs) * len(u.invariants) for u in spec_units):
            out[path] = killed_by(mine)
        else:
            missing.append(path)
    results = check_specs([u for path in missing for u in units[path]], workers=jobs)
    for path in missing:
        count = sum(len(u.configs) * len(u.invariants) for u in units[path])
        out[path], results = killed_by(results[:count]), results[count:]
    return out


def run_interleavings(spec_paths: Sequence[str], jobs: int = 2, suite: Sequence[CheckResult] | None = None) -> Section:
    """BMC against every interleaving, for every `[smp]` spec, config and invariant (the
    BMC verdicts: `suite`, the regression suite's results, when given)."""
    start = time.perf_counter()
    specs = [s for s in load_specs(spec_paths) if s.smp is not None]
    results = list(suite) if suite is not None else check_specs(specs, workers=jobs)
    by_key = {(r.spec, r.scheme, r.config, r.invariant): r for r in results}
    failures: list[str] = []
    compared = states = 0
    enum_seconds = 0.0
    for spec in specs:
        assert spec.smp is not None
        for config in spec.configs:
            system = system_for(SmpJob(config, spec.scheme, spec.smp, spec.invariants[0], spec.timeout_ms))
            if isinstance(system, str):
                continue
            e = enumerate_all(system)
            states += e.states
            enum_seconds += e.seconds
            for inv in spec.invariants:
                r = by_key[(spec.path, spec.scheme.name, config.id, inv)]
                want = Verdict.VIOLATED if inv in e.violations else Verdict.PROVED
                got = r.verdict if r.verdict not in (Verdict.VACUOUS, Verdict.UNREACHED) else Verdict.PROVED
                compared += 1
                if got is not want:
                    failures.append(f"{spec.unit} {config.id} {inv}: BMC {r.verdict.value}, enumeration {want.value}")
    bmc_seconds = sum(r.solver_seconds for r in results if r.cpus)
    figures = (("checks compared", compared), ("disagreements", len(failures)), ("states enumerated", states),
               ("enumeration seconds", round(enum_seconds, 2)), ("BMC solver seconds", round(bmc_seconds, 2)),
               ("seconds", round(time.perf_counter() - start, 1)))  # fmt: skip
    return Section("interleavings", not failures, figures, tuple(failures))


def smp_replay_failure(result: CheckResult, spec: Spec) -> str | None:
    """None when a violated interleaving result's schedule replays, step by step, on the
    concrete model to a state that breaks the same invariant; else what went wrong."""
    where = f"{spec.unit} {result.config} {result.invariant}"
    config = next((c for c in spec.configs if c.id == result.config), None)
    if spec.smp is None or config is None:
        return f"{where}: a schedule on a spec without [smp] or for a config it does not have"
    system = system_for(SmpJob(config, spec.scheme, spec.smp, result.invariant, spec.timeout_ms))
    if isinstance(system, str):
        return f"{where}: violated where the check does not apply ({system})"
    steps, state = run_schedule(system, [(s.cpu, 1, s.choice) for s in result.schedule], stop_on=result.invariant)
    if [(s.cpu, s.step) for s in steps] != [(s.cpu, s.step) for s in result.schedule]:
        return f"{where}: the schedule replays as {len(steps)} different steps"
    if not violated(system, state, result.invariant):
        return f"{where}: the schedule does not replay to a violation of {result.invariant}"
    return None


@dataclass(frozen=True, slots=True)
class InterleavingExploration:
    failures: tuple[str, ...]
    found_on_proved: int
    bmc_violated: int
    also_found: int


def explore_interleavings(
    specs: Sequence[Spec], bmc: Mapping[tuple[str, str, str, str], CheckResult], examples: int
) -> InterleavingExploration:
    """Random shrunk schedules (check/smp_explore.py) against the BMC verdicts: exploration
    must not break what BMC proved (nor find a run where BMC says none exists)."""
    failures: list[str] = []
    found_on_proved = bmc_violated = also_found = 0
    for spec in specs:
        assert spec.smp is not None
        for config in spec.configs:
            for inv in spec.invariants:
                system = system_for(SmpJob(config, spec.scheme, spec.smp, inv, spec.timeout_ms))
                if isinstance(system, str):
                    continue
                e = explore_smp(system, inv, examples)
                verdict = bmc[(spec.path, spec.scheme.name, config.id, inv)].verdict
                if verdict is Verdict.VIOLATED:
                    bmc_violated += 1
                    also_found += e.found
                elif e.found:
                    found_on_proved += verdict is Verdict.PROVED
                    steps = " ".join(f"CPU{s.cpu}:{s.step}" for s in e.schedule)
                    failures.append(f"{spec.unit} {config.id} {inv}: BMC {verdict.value}, exploration found {steps}")
    return InterleavingExploration(tuple(failures), found_on_proved, bmc_violated, also_found)
