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
from collections.abc import Callable, Iterator, Sequence

from hvo_verify.check import distribute
from hvo_verify.check.bmc import OpsJob, machine_for, run_ops
from hvo_verify.check.cache import VerdictCache
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
    specs: Sequence[Spec],
    workers: int = 1,
    progress: Progress | None = None,
    witness: bool = True,
    *,
    cache: VerdictCache | None = None,
    shard: distribute.Shard | None = None,
    scheduler: str | None = None,
) -> list[CheckResult]:
    """Every (config, invariant) of every spec, in spec order.  With workers > 1 the
    jobs run in that many processes; results and their order do not depend on it.
    `progress(done, total, spec path)` is called as jobs finish (done = 0: started).
    When the run is stopped (check/runctl.py) the `Interrupted` raised carries the
    results that had finished, in spec order, as `partial`.  A spec whose estimated
    cost is far over the limit is refused first (check/cost.py).  `cache`: results read
    from and stored in the verdict cache (check/cache.py); `shard`: only that shard's
    jobs (`shard_jobs()`); `scheduler`: the jobs run on that Dask cluster instead of
    local processes (check/distribute.py)."""
    refuse_costly(specs)  # before any work: a one-line SpecError with the estimate and the knobs
    jobs = [(spec, job) for spec in specs for job in spec_jobs(spec, witness)]
    if shard is not None:
        jobs = shard_jobs(jobs, shard)
    plain = [job for _spec, job in jobs]
    results: dict[int, CheckResult] = {}
    if cache is not None:
        for n, job in enumerate(plain):
            hit = cache.get(job)
            if hit is not None:
                results[n] = hit
        cache.hits += len(results)
        cache.misses += len(plain) - len(results)
    missing = [n for n in range(len(plain)) if n not in results]
    tick = progress or (lambda done, total, path: None)
    try:
        with interrupts_only():
            tick(len(results), len(jobs), jobs[missing[0]][0].path if missing else "")
            for local, result in _run_jobs([plain[n] for n in missing], workers, scheduler):
                n = missing[local]
                results[n] = result
                if cache is not None:
                    cache.stored += cache.put(plain[n], result)
                tick(len(results), len(jobs), jobs[n][0].path)
    except Interrupted as stop:
        stop.partial = tuple(_with_expectation(results[n], jobs[n][0]) for n in sorted(results))
        stop.total = len(jobs)
        raise
    return [_with_expectation(results[n], spec) for n, (spec, _job) in enumerate(jobs)]


def _run_jobs(jobs: list[AnyJob], workers: int, scheduler: str | None = None) -> Iterator[tuple[int, CheckResult]]:
    """(index, result) of each of `jobs` as it finishes: in this process, or batch by
    batch (`_batches()`) in `workers` local processes (check/runctl.py run_in_pool(),
    which a stop kills) or on the Dask cluster at `scheduler` (all at the end)."""
    if not jobs or (scheduler is None and (workers <= 1 or len(jobs) == 1)):
        for n, job in enumerate(jobs):
            yield n, run_any(job)
        return
    batches = _batches(jobs)
    work = [[jobs[n] for n in batch] for batch in batches]
    if scheduler is not None:
        for batch, rs in zip(batches, distribute.dask_map(scheduler, run_batch, work), strict=True):
            yield from zip(batch, rs, strict=True)
        return
    for b, rs in run_in_pool(run_batch, work, workers, multiprocessing.get_context("fork")):
        yield from zip(batches[b], rs, strict=True)


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
