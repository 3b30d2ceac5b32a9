# SPDX-License-Identifier: GPL-2.0-only
"""Interleaving specs as jobs: one per (config, invariant), like check/bmc.py OpsJob.

The era's protocol (ops/smp_table.py PROTOCOLS) and the architecture decide the system;
where the era has no HVO on the config's architecture (or no pool protocol at all) the
verdict is not-applicable with the reason.  check/smp.py does the solving.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from hvo_verify.check.result import CheckResult
from hvo_verify.check.smp import run_smp
from hvo_verify.model.config import Arch, KernelConfig
from hvo_verify.model.scheme import Scheme
from hvo_verify.model.vmemmap import not_applicable_reason
from hvo_verify.ops.smp import System, build
from hvo_verify.ops.smp_table import NO_PROTOCOL, protocol
from hvo_verify.specs.schema import SmpSpec
from hvo_verify.verdict import Verdict

# The architectures on which a valid kernel PTE may not be replaced by another valid one
# without an invalid entry in between: arm64 (the Arm ARM's break-before-make; 060a2c92d1b6
# "deemed UNPREDICTABLE by the Arm architecture without a break-before-make sequence") and
# s390 (64e2f60f355e, Nov 2025: s390 "does not allow" replacing a valid page-table entry
# by another valid one, which vmemmap_remap_pte() does; in Debian 6.12.63-1).
BBM_ARCHES = (Arch.ARM64, Arch.S390X)


@dataclass(frozen=True, slots=True)
class SmpJob:
    config: KernelConfig
    scheme: Scheme
    smp: SmpSpec
    invariant: str
    timeout_ms: int
    siblings: tuple[str, ...] = ()  # every invariant the spec checks on this system (one joint query)


def system_for(job: SmpJob) -> System | str:
    """The system to check, or why the check does not apply."""
    era = protocol(job.scheme.name)
    if era is None:
        return NO_PROTOCOL.get(
            job.scheme.name, f"{job.scheme.name} has no pool protocol (a custom scheme: name an era)"
        )
    reason = not_applicable_reason(job.config, job.scheme)
    if reason is not None:
        return reason
    s = job.smp
    return build(s.cpus, era, folios=s.folios, nr_vpages=nr_vpages(job), bbm_required=job.config.arch in BBM_ARCHES,
                 max_grace_periods=s.max_grace_periods, optimized=s.optimized)  # fmt: skip


def nr_vpages(job: SmpJob) -> int:
    """Representative vmemmap pages per folio: the spec's, at least one past the pages the
    era keeps (5.14 and the RFC keep two), at most the config's V."""
    era = protocol(job.scheme.name)
    keep = era.reuse_vpage + 1 if era is not None else 1
    return min(max(job.smp.nr_vpages, keep + 1), max(job.config.vmemmap_pages, 2))


def geometry(job: SmpJob) -> str:
    """The assumption that says what the representative pages stand for."""
    v, n = job.config.vmemmap_pages, nr_vpages(job)
    if n >= v:
        return f"{job.config.id}: each of the folio's {v} vmemmap pages is one PTE step"
    return (f"{job.config.id}: the folio's {v} vmemmap pages are represented by {n}, pages 0..{n - 2} one PTE step "
            f"each and page {n - 1} for pages {n - 1}..{v - 1} (remapped alike: one PTE step for the block), "
            "each by its first struct page")  # fmt: skip


def describe(system: System) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """CPU labels and the legend of step ids (the kernel statement each stands for)."""
    cpus = tuple(f"{p.name}: {p.actor}(folio {p.folio}, page {p.page})" for p in system.cpus)
    legend: dict[str, str] = {}
    for p in system.cpus:
        for ins in p.steps:
            legend.setdefault(ins.name, ins.cite)
    return cpus, tuple(legend.items())


def run_smp_job(job: SmpJob) -> CheckResult:
    system = system_for(job)
    if isinstance(system, str):
        return CheckResult("", job.config.id, job.invariant, Verdict.NOT_APPLICABLE, None, reason=system)
    result = run_smp(system, (job.invariant,), job.timeout_ms, job.siblings)[0]
    cpus, legend = describe(system)
    return dataclasses.replace(
        result, config=job.config.id, cpus=cpus, legend=legend, assumptions=(geometry(job), *result.assumptions)
    )
