# SPDX-License-Identifier: GPL-2.0-only
"""Exploration against BMC, and replay of every counterexample.

For every operation spec (an `[ops]` table), Hypothesis exploration on the concrete
model (hvo_verify/check/explore.py, the spec's depth, derandomized) must not find a violation of
an invariant that BMC at the same depth calls `proved`: that would be a proof of
something false.  (Exploration missing a violation BMC found is counted, not a failure:
random runs are not exhaustive.)  A `vacuous` BMC verdict says no run exists at all:
exploration finding one is a failure too.

Every counterexample the suite reports is replayed again here, independently of the
replay inside the checker: a static counterexample on the literal vmemmap
(`optimize()` + the invariant's concrete check at its index), an operation trace with
`invariants/replay.py` `replay()`.  A counterexample that does not replay is a failure (inside
the checker it raises EncodingMismatch, which fails the section the same way).
"""

from __future__ import annotations

import multiprocessing
import pathlib
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor

from hvo_verify.check.explore import DEFAULT_EXAMPLES, Exploration, explore_spec
from hvo_verify.check.result import CheckResult
from hvo_verify.check.suite import check_specs
from hvo_verify.errors import EncodingMismatch
from hvo_verify.invariants.replay import replay
from hvo_verify.invariants.static import INVARIANTS
from hvo_verify.model import remap  # remap.optimize at call time: a mutant patches the module's binding
from hvo_verify.model.config import parse_config_id
from hvo_verify.model.structpage import Folio
from hvo_verify.selfcheck.protocol import explore_interleavings, smp_replay_failure
from hvo_verify.selfcheck.section import Section
from hvo_verify.specs.loader import load_specs
from hvo_verify.specs.schema import Spec
from hvo_verify.verdict import Verdict

NAME = "explore-bmc"


def replay_failure(result: CheckResult, spec: Spec) -> str | None:
    """None when a violated result's counterexample or trace replays on the concrete
    model to a violation of the same invariant; else one line saying what went wrong."""
    where = f"{spec.unit} {result.config} {result.invariant}"
    if result.schedule:
        return smp_replay_failure(result, spec)
    if result.trace is not None:
        replayed = replay(result.trace, (result.invariant,))
        last = replayed[-1] if replayed else None
        if last is None or last.violation is None or last.violation[0] != result.invariant:
            return f"{where}: the BMC trace does not replay to a violation of {result.invariant}"
        if len(replayed) != len(result.trace.steps):
            return f"{where}: the BMC trace stops at step {len(replayed)} of {len(result.trace.steps)}"
        return None
    cex = result.counterexample
    if cex is None:
        return f"{where}: violated without a counterexample or trace"
    config = next((c for c in parse_config_id(cex.config) if c.id == cex.config), None)
    if config is None or cex.scheme != spec.scheme.name:
        return f"{where}: the counterexample names {cex.config} {cex.scheme}, not the spec's"
    mem = remap.optimize(Folio(config, spec.scheme, cex.head_pfn, cex.vmemmap_base), alloc_ok=cex.head_page_alloc_ok)
    index = cex.indices[0][1] if cex.indices else 0
    if INVARIANTS[cex.invariant].check(mem, index) is None:
        return f"{where}: the counterexample {dict(cex.indices)} does not replay on the concrete model"
    return None


def replay_counts(
    results: Sequence[CheckResult], specs: Mapping[tuple[str, str], Spec]
) -> tuple[int, int, int, list[str]]:
    """(static counterexamples, operation traces, replayed, failures) over `results`;
    `specs` by (path, scheme name), as `units()` makes it."""
    static = traces = ok = 0
    failures: list[str] = []
    for res in results:
        if res.verdict is not Verdict.VIOLATED:
            continue
        if res.trace is not None or res.schedule:
            traces += 1
        else:
            static += 1
        problem = replay_failure(res, specs[(res.spec, res.scheme)])
        if problem is None:
            ok += 1
        else:
            failures.append(problem)
    return static, traces, ok, failures


def units(specs: Sequence[Spec]) -> dict[tuple[str, str], Spec]:
    """Specs by (path, scheme name): a spec that sweeps schemes is one Spec per scheme."""
    return {(s.path, s.scheme.name): s for s in specs}


def _load(spec_paths: Sequence[str]) -> list[Spec]:
    """The specs of `spec_paths`; a `file#scheme` entry is that one unit of a sweep."""
    units = {p for p in spec_paths if "#" in p and not pathlib.Path(p).exists()}
    partial = {p.rpartition("#")[0] for p in units} - set(spec_paths)  # files named only by a unit
    files = dict.fromkeys(p.rpartition("#")[0] if p in units else p for p in spec_paths)
    return [s for s in load_specs(list(files)) if s.path not in partial or s.unit in units]


def _explore(spec: Spec, examples: int) -> list[Exploration] | str:
    try:
        return explore_spec(spec, examples=examples)
    except EncodingMismatch as exc:
        return f"{spec.path}: exploration: {exc}"


def run_explore_bmc(
    spec_paths: Sequence[str],
    jobs: int = 2,
    results: Sequence[CheckResult] | None = None,
    examples: int = DEFAULT_EXAMPLES,
) -> Section:
    """Explore every operation spec of `spec_paths` (files, folders, or `file#scheme`: one
    scheme of a sweep, `Spec.unit`); compare with the BMC verdicts in `results` (the
    suite's, checked here when not given); replay every counterexample."""
    specs = _load(spec_paths)
    by_unit = units(specs)
    failures: list[str] = []
    if results is None:
        try:
            results = check_specs(specs, workers=jobs)
        except EncodingMismatch as exc:
            return Section(NAME, False, (), (f"a counterexample did not replay: {exc}",))
    static, traces, replayed, replay_failures = replay_counts(results, by_unit)
    failures += replay_failures
    bmc = {(r.spec, r.scheme, r.config, r.invariant): r for r in results if by_unit[(r.spec, r.scheme)].ops is not None}
    ops_specs = [s for s in specs if s.ops is not None]
    pairs = proved = found_on_proved = bmc_violated = also_found = 0
    if jobs > 1 and len(ops_specs) > 1:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("fork")) as pool:
            outcomes = list(pool.map(_explore, ops_specs, [examples] * len(ops_specs)))
    else:
        outcomes = [_explore(spec, examples) for spec in ops_specs]
    for spec, explored in zip(ops_specs, outcomes, strict=True):
        if isinstance(explored, str):
            failures.append(explored)
            continue
        for e in explored:
            if e.not_applicable:
                continue
            pairs += 1
            verdict = bmc[(spec.path, spec.scheme.name, e.config, e.invariant)].verdict
            if verdict is Verdict.PROVED:
                proved += 1
                if e.found:
                    found_on_proved += 1
                    steps = "; ".join(s.call() for s in e.trace.steps) if e.trace else ""
                    failures.append(
                        f"{spec.unit} {e.config} {e.invariant}: BMC proved at depth {spec.ops.depth if spec.ops else 0}, "
                        f"exploration found {steps}: {e.message}"
                    )
            elif verdict is Verdict.VIOLATED:
                bmc_violated += 1
                also_found += e.found
            elif verdict is Verdict.VACUOUS and e.found:  # BMC admits no run, yet one ran
                failures.append(f"{spec.unit} {e.config} {e.invariant}: BMC vacuous, exploration found {e.message}")
    smp_specs = [s for s in specs if s.smp is not None]
    smp = explore_interleavings(smp_specs, {(r.spec, r.scheme, r.config, r.invariant): r for r in results}, examples)
    failures += smp.failures
    found_on_proved += smp.found_on_proved
    figures: tuple[tuple[str, int | float | str], ...] = (
        ("operation specs explored", len(ops_specs)),
        ("interleaving specs explored", len(smp_specs)),
        ("interleaving explore violations of BMC-proved pairs", smp.found_on_proved),
        ("interleaving BMC violations explore also found", f"{smp.also_found}/{smp.bmc_violated}"),
        ("(config, invariant) pairs", pairs),
        ("BMC proved", proved),
        ("explore violations of BMC-proved pairs", found_on_proved),
        ("BMC violations explore also found", f"{also_found}/{bmc_violated}"),
        ("counterexamples replayed", f"{replayed}/{static + traces} ({static} static, {traces} traces)"),
    )
    return Section(NAME, not failures and found_on_proved == 0, figures, tuple(failures))
