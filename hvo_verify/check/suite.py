"""Suite orchestration: specs -> jobs for the two engines (check/static.py and
check/bmc.py) -> results with their expectations, in spec order, in parallel when asked.

`check_specs()` is what `hvo-verify check`, `explain` and the self-check run.  A spec
here is one unit: a file that sweeps several schemes is one Spec per scheme (the loader
expands it), so nothing below knows about sweeps but the label on each result.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from hvo_verify.check.bmc import OpsJob, machine_for, run_ops
from hvo_verify.check.cost import BUDGET_S, SMP_S, STATIC_S, estimate, ops_seconds, refuse_costly, weight
from hvo_verify.check.result import CheckResult
from hvo_verify.check.smp_job import SmpJob, run_smp_job
from hvo_verify.check.static import Job, run
from hvo_verify.specs.schema import Spec

AnyJob = Job | OpsJob | SmpJob


def spec_jobs(spec: Spec) -> list[AnyJob]:
    """One job per (config, invariant) of `spec`, in spec order: interleaving jobs for an
    `[smp]` spec, BMC jobs for an operation spec, static jobs otherwise."""
    if spec.smp is not None:
        return [SmpJob(config, spec.scheme, spec.smp, inv, spec.timeout_ms, spec.invariants)
                for config in spec.configs for inv in spec.invariants]  # fmt: skip
    if spec.ops is not None:
        ops = spec.ops
        # a spec estimated over TARGET_S shares BUDGET_S of wall time among its checks (check/cost.py)
        budget = BUDGET_S / (len(spec.configs) * len(spec.invariants)) if estimate(spec).budgeted else 0.0
        return [
            OpsJob(config, spec.scheme, ops.policies, inv, ops.alphabet, ops.depth, spec.timeout_ms,
                   ops.io_max or config.page_size, ops.io_align, ops.max_calls, budget_s=budget)
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
    return run_ops(job) if isinstance(job, OpsJob) else run(job)


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


def check_specs(specs: Sequence[Spec], workers: int = 1) -> list[CheckResult]:
    """Every (config, invariant) of every spec, in spec order.  With workers > 1 the
    jobs run in that many processes; results and their order do not depend on it."""
    refuse_costly(specs)  # before any work: a one-line SpecError with the estimate and the knobs
    jobs = [(spec, job) for spec in specs for job in spec_jobs(spec)]
    if workers > 1 and len(jobs) > 1:
        ctx = multiprocessing.get_context("fork")
        batches = _batches([job for _spec, job in jobs])
        results: dict[int, CheckResult] = {}
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            done = pool.map(run_batch, [[jobs[n][1] for n in batch] for batch in batches])
            for batch, batch_results in zip(batches, done, strict=True):
                results.update(zip(batch, batch_results, strict=True))
        raw = [results[n] for n in range(len(jobs))]
    else:
        raw = [run_any(job) for _spec, job in jobs]
    return [_with_expectation(result, spec) for (spec, _job), result in zip(jobs, raw, strict=True)]


def _with_expectation(result: CheckResult, spec: Spec) -> CheckResult:
    name = spec.scheme.name
    expected = spec.expect.expected(result.invariant, result.config, name)
    return dataclasses.replace(result, spec=spec.path, expected=expected, scheme=name, sweep=bool(spec.sweep))
