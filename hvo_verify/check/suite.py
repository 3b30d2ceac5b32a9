"""Suite orchestration: specs -> jobs for the two engines (check/static.py and
check/bmc.py) -> results with their expectations, in spec order, in parallel when asked.

`check_specs()` is what `hvo-verify check`, `explain` and the self-check run.  A spec
here is one unit: a file that sweeps several schemes is one Spec per scheme (the loader
expands it), so nothing below knows about sweeps but the label on each result.
"""

from __future__ import annotations

import dataclasses
import functools
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from hvo_verify.check import distribute
from hvo_verify.check.bmc import OpsJob, run_ops
from hvo_verify.check.cache import VerdictCache
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
        return [
            OpsJob(config, spec.scheme, ops.policies, inv, ops.alphabet, ops.depth, spec.timeout_ms,
                   ops.io_max or config.page_size, ops.io_align, ops.max_calls)
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
    """Job indices in the units one worker runs.  BMC jobs of one spec and config share
    their unrolling (check/bmc.py `UNROLLINGS`): one batch each, the longest first (depth x
    invariants), so that two workers finish together.  Static jobs take milliseconds:
    batches of 8, after the BMC ones."""
    ops: dict[OpsJob, list[int]] = {}
    static: list[int] = []
    smp: dict[SmpJob, list[int]] = {}
    for n, job in enumerate(jobs):
        if isinstance(job, SmpJob):  # a spec's invariants on one config share an unrolling
            smp.setdefault(dataclasses.replace(job, invariant=""), []).append(n)
    for n, job in enumerate(jobs):
        if isinstance(job, SmpJob):
            continue
        if isinstance(job, OpsJob):
            ops.setdefault(dataclasses.replace(job, invariant=""), []).append(n)
        else:
            static.append(n)
    groups = sorted(ops.items(), key=lambda kv: -len(kv[1]) * kv[0].depth)
    return [g for _key, g in groups] + list(smp.values()) + [static[i : i + 8] for i in range(0, len(static), 8)]


def check_specs(
    specs: Sequence[Spec],
    workers: int = 1,
    *,
    cache: VerdictCache | None = None,
    shard: distribute.Shard | None = None,
    scheduler: str | None = None,
) -> list[CheckResult]:
    """Every (config, invariant) of every spec, in spec order.  With workers > 1 the
    jobs run in that many processes; results and their order do not depend on it.
    `cache`: results read from and stored in the verdict cache (check/cache.py);
    `shard`: only that shard's jobs (`shard_jobs()`); `scheduler`: the jobs run on that
    Dask cluster instead of local processes (check/distribute.py)."""
    jobs = [(spec, job) for spec in specs for job in spec_jobs(spec)]
    if shard is not None:
        jobs = shard_jobs(jobs, shard)
    compute = functools.partial(_run_jobs, workers=workers, scheduler=scheduler)
    plain = [job for _spec, job in jobs]
    raw = cache.run(plain, compute) if cache is not None else compute(plain)
    return [_with_expectation(result, spec) for (spec, _job), result in zip(jobs, raw, strict=True)]


def _run_jobs(jobs: list[AnyJob], workers: int, scheduler: str | None = None) -> list[CheckResult]:
    """The results of `jobs`, in order: in this process, or batch by batch (`_batches()`)
    in `workers` local processes or on the Dask cluster at `scheduler`."""
    if not jobs or (scheduler is None and (workers <= 1 or len(jobs) == 1)):
        return [run_any(job) for job in jobs]
    batches = _batches(jobs)
    work = [[jobs[n] for n in batch] for batch in batches]
    if scheduler is not None:
        done = distribute.dask_map(scheduler, run_batch, work)
    else:
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
            done = list(pool.map(run_batch, work))
    results = {n: r for batch, rs in zip(batches, done, strict=True) for n, r in zip(batch, rs, strict=True)}
    return [results[n] for n in range(len(jobs))]


def job_cost(job: AnyJob) -> float:
    """A rough estimate of a job's solver time, for dealing shards: static queries take
    milliseconds, a BMC check grows with its depth, an interleaving check is a joint
    query over every schedule."""
    if isinstance(job, OpsJob):
        return 10.0 * job.depth
    return 100.0 if isinstance(job, SmpJob) else 1.0


def shard_jobs(jobs: list[tuple[Spec, AnyJob]], shard: distribute.Shard) -> list[tuple[Spec, AnyJob]]:
    """The jobs of `shard`, in their order.  The unit is a spec's checks on one config
    (a BMC or interleaving unrolling is built once for them), dealt by estimated cost
    (`distribute.partition()`); every shard of the same arguments agrees on the deal."""
    units: dict[tuple[int, str], float] = {}
    index: dict[int, int] = {}  # spec -> its place among the specs
    for spec, job in jobs:
        index.setdefault(id(spec), len(index))
        unit = (index[id(spec)], job.config.id)
        units[unit] = units.get(unit, 0.0) + job_cost(job)
    mine = distribute.select(list(units), list(units.values()), shard)
    return [(spec, job) for spec, job in jobs if (index[id(spec)], job.config.id) in mine]


def _with_expectation(result: CheckResult, spec: Spec) -> CheckResult:
    name = spec.scheme.name
    expected = spec.expect.expected(result.invariant, result.config, name)
    return dataclasses.replace(result, spec=spec.path, expected=expected, scheme=name, sweep=bool(spec.sweep))
