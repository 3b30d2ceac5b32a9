# SPDX-License-Identifier: GPL-2.0-only
"""Suite orchestration: specs -> jobs for the two engines (check/static.py and
check/bmc.py) -> results with their expectations, in spec order, in parallel when asked.

`check_specs()` is what `hvo-verify check`, `explain` and the self-check run.  A spec
here is one unit: a file that sweeps several schemes is one Spec per scheme (the loader
expands it), so nothing below knows about sweeps but the label on each result.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
from collections.abc import Callable, Sequence

from hvo_verify.check.bmc import OpsJob, machine_for, run_ops
from hvo_verify.check.cost import BUDGET_S, SMP_S, STATIC_S, estimate, ops_seconds, refuse_costly, weight
from hvo_verify.check.induction import run_unbounded
from hvo_verify.check.result import CheckResult
from hvo_verify.check.runctl import Interrupted, interrupts_only, run_in_pool
from hvo_verify.check.smp_job import SmpJob, run_smp_job
from hvo_verify.check.static import Job, run
from hvo_verify.specs.schema import Spec

AnyJob = Job | OpsJob | SmpJob
Progress = Callable[[int, int, str], None]  # (done, total, spec path)


def spec_jobs(spec: Spec, witness: bool = True) -> list[AnyJob]:
    """One job per (config, invariant) of `spec`, in spec order: interleaving jobs for an
    `[smp]` spec, BMC jobs for an operation spec, static jobs otherwise.  `witness` False:
    operation proofs do not ask for their witness (`check --no-witness`)."""
    if spec.smp is not None:
        return [SmpJob(config, spec.scheme, spec.smp, inv, spec.timeout_ms, spec.invariants)
                for config in spec.configs for inv in spec.invariants]  # fmt: skip
    if spec.ops is not None:
        ops = spec.ops
        # a spec estimated over TARGET_S shares BUDGET_S of wall time among its checks (check/cost.py)
        budget = BUDGET_S / (len(spec.configs) * len(spec.invariants)) if estimate(spec).budgeted else 0.0
        return [
            OpsJob(config, spec.scheme, ops.policies, inv, ops.alphabet, ops.depth, spec.timeout_ms,
                   ops.io_max or config.page_size, ops.io_align, ops.max_calls, unbounded=ops.unbounded,
                   lemmas=ops.lemmas, witness=witness, budget_s=budget)
            for config in spec.configs
            for inv in spec.invariants
        ]  # fmt: skip
    return [
        Job(config, spec.scheme, inv, spec.timeout_ms, spec.vmemmap_base_align)
        for config in spec.configs
        for inv in spec.invariants
    ]


def run_any(job: AnyJob) -> CheckResult:
    """Run a job on its engine (its result names no spec and no expectation)."""
    if isinstance(job, SmpJob):
        return run_smp_job(job)
    if isinstance(job, OpsJob):
        result = run_ops(job)
        return run_unbounded(job, result) if job.unbounded else dataclasses.replace(result, bound=job.depth)
    return run(job)


def run_batch(jobs: Sequence[AnyJob]) -> list[CheckResult]:
    return [run_any(job) for job in jobs]


def _batches(jobs: Sequence[AnyJob]) -> list[list[int]]:
    """Job indices in the units one worker runs, the costliest first (longest processing
    time first: two workers finish together).  BMC jobs of one spec and config share
    their unrolling (check/bmc.py `UNROLLINGS`), interleaving jobs theirs: one batch
    each, costed by check/cost.py.  Static jobs take milliseconds: batches of 8."""
    ops: dict[OpsJob, list[int]] = {}
    static: list[int] = []
    smp: dict[SmpJob, list[int]] = {}
    for n, job in enumerate(jobs):
        if isinstance(job, SmpJob):  # a spec's invariants on one config share an unrolling
            smp.setdefault(dataclasses.replace(job, invariant=""), []).append(n)
        elif isinstance(job, OpsJob):
            ops.setdefault(dataclasses.replace(job, invariant=""), []).append(n)
        else:
            static.append(n)
    costed = [(ops_seconds(weight(machine_for(key), key.alphabet, key.depth, key.max_calls), len(group)), group)
              for key, group in ops.items()]  # fmt: skip
    costed += [(SMP_S * len(group), group) for group in smp.values()]
    costed += [(STATIC_S * 8, static[i : i + 8]) for i in range(0, len(static), 8)]
    return [group for _cost, group in sorted(costed, key=lambda cg: -cg[0])]  # stable: spec order among equals


def check_specs(
    specs: Sequence[Spec], workers: int = 1, progress: Progress | None = None, witness: bool = True
) -> list[CheckResult]:
    """Every (config, invariant) of every spec, in spec order.  With workers > 1 the
    jobs run in that many processes; results and their order do not depend on it.
    `progress(done, total, spec path)` is called as jobs finish (done = 0: started).
    When the run is stopped (check/runctl.py) the `Interrupted` raised carries the
    results that had finished, in spec order, as `partial`.  A spec whose estimated
    cost is far over the limit is refused first (check/cost.py)."""
    refuse_costly(specs)  # before any work: a one-line SpecError with the estimate and the knobs
    jobs = [(spec, job) for spec in specs for job in spec_jobs(spec, witness)]
    results: dict[int, CheckResult] = {}
    tick = progress or (lambda done, total, path: None)
    try:
        with interrupts_only():
            if workers > 1 and len(jobs) > 1:
                batches = _batches([job for _spec, job in jobs])
                work = [[jobs[n][1] for n in batch] for batch in batches]
                tick(0, len(jobs), jobs[batches[0][0]][0].path)
                for b, batch_results in run_in_pool(run_batch, work, workers, multiprocessing.get_context("fork")):
                    results.update(zip(batches[b], batch_results, strict=True))
                    tick(len(results), len(jobs), jobs[batches[b][-1]][0].path)
            else:
                for n, (spec, job) in enumerate(jobs):
                    tick(n, len(jobs), spec.path)
                    results[n] = run_any(job)
                tick(len(jobs), len(jobs), jobs[-1][0].path if jobs else "")
    except Interrupted as stop:
        stop.partial = tuple(_with_expectation(results[n], jobs[n][0]) for n in sorted(results))
        stop.total = len(jobs)
        raise
    return [_with_expectation(results[n], spec) for n, (spec, _job) in enumerate(jobs)]


def _with_expectation(result: CheckResult, spec: Spec) -> CheckResult:
    name = spec.scheme.name
    expected = spec.expect.expected(result.invariant, result.config, name)
    return dataclasses.replace(result, spec=spec.path, expected=expected, scheme=name, sweep=bool(spec.sweep))
