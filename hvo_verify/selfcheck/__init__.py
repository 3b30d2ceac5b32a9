# SPDX-License-Identifier: GPL-2.0-only
"""`hvo-verify selfcheck`: the checker checking itself.

An application on top of the checker (below cli.py only).  Each part (mutation
testing, differential checks, malformed input, vacuity, unknown handling,
determinism, exploration against BMC) returns one frozen `Section`; `SECTIONS` maps
each part's name to its runner, in the order they run; selfcheck/report.py renders
the sections.  Nothing here prints.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from dataclasses import dataclass, field

from hvo_verify.check.cache import VerdictCache
from hvo_verify.check.result import CheckResult
from hvo_verify.check.suite import check_specs
from hvo_verify.selfcheck import (
    determinism,
    differential,
    explore_bmc,
    fuzz,
    mutants,
    onelayer,
    protocol,
    unbounded,
    unknown,
    vacuity,
)
from hvo_verify.selfcheck.fuzz import CliRun
from hvo_verify.selfcheck.section import Section
from hvo_verify.specs.loader import load_specs

__all__ = ["SECTIONS", "Options", "Section"]


@dataclass(frozen=True)
class Options:
    """What every section runner is given (the `selfcheck` command's options)."""

    specs: pathlib.Path  # the spec folder: the regression suite
    cli_run: CliRun  # the command line (cli.run), which the fuzz section drives; selfcheck never imports cli
    jobs: int = 2
    seed: int = 0  # of the fuzz and differential cases
    fuzz_cases: int = 2000
    diff_cases: int = 10_000
    full: bool = False  # mutation testing without early stop
    # the 138 one-layer mutants (selfcheck/onelayer.py) besides the 41 two-sided ones:
    # 136 killed and 2 named equivalents
    one_layer: bool = True
    # a Dask scheduler's address: the regression suite's checks (which vacuity,
    # explore-bmc and interleavings read) and the unknown section's run there
    scheduler: str | None = None
    # the verdict cache `hvo-verify check` filled for the suite (`selfcheck --suite-cache`):
    # suite() reads its results from there instead of checking the suite again
    suite_cache: VerdictCache | None = None
    _suite: list[CheckResult] = field(default_factory=list, repr=False, compare=False)

    def suite(self) -> list[CheckResult]:
        """The regression suite's results, checked once for the sections that read them."""
        if not self._suite:
            specs = load_specs([str(self.specs)])
            self._suite.extend(check_specs(specs, workers=self.jobs, scheduler=self.scheduler, cache=self.suite_cache))
        return self._suite


def _mutation(o: Options) -> Section:
    catalogue = onelayer.CATALOGUE if o.one_layer else mutants.MUTANTS
    return mutants.run_mutation(
        [str(o.specs)], jobs=o.jobs, full=o.full, mutants=catalogue, equivalent=onelayer.EQUIVALENT
    )


def _differential(o: Options) -> Section:
    return differential.run_differential(cases=o.diff_cases, seed=o.seed)


def _fuzz(o: Options) -> Section:
    return fuzz.run_fuzz(cases=o.fuzz_cases, seed=o.seed, cli_run=o.cli_run, specs=o.specs)


def _vacuity(o: Options) -> Section:
    return vacuity.run_vacuity([str(o.specs)], jobs=o.jobs, results=o.suite())


def _unknown(o: Options) -> Section:
    return unknown.run_unknown([str(o.specs / p) for p in unknown.SPECS], jobs=o.jobs, scheduler=o.scheduler)


def _determinism(o: Options) -> Section:
    return determinism.run_determinism([str(o.specs / p) for p in determinism.SPECS], jobs=o.jobs)


def _protocol(o: Options) -> Section:
    # the baselines come from the suite's results when they are at hand (checked before,
    # or in --suite-cache); otherwise only the mutants' specs are checked
    known = o.suite() if o._suite or o.suite_cache is not None else None
    return protocol.run_protocol(o.specs, jobs=o.jobs, suite=known)


def _interleavings(o: Options) -> Section:
    return protocol.run_interleavings([str(o.specs)], jobs=o.jobs, suite=o.suite())


def _unbounded(o: Options) -> Section:
    return unbounded.run_unbounded()


def _explore_bmc(o: Options) -> Section:
    return explore_bmc.run_explore_bmc([str(o.specs)], jobs=o.jobs, results=o.suite())


# name -> runner, in the order `hvo-verify selfcheck` runs them.  The runners call
# through the section modules, so a test can replace a section's entry point.
SECTIONS: dict[str, Callable[[Options], Section]] = {
    "mutation": _mutation,
    "differential": _differential,
    "fuzz": _fuzz,
    "vacuity": _vacuity,
    "unknown": _unknown,
    "determinism": _determinism,
    "explore-bmc": _explore_bmc,
    "protocol": _protocol,
    "interleavings": _interleavings,
    "unbounded": _unbounded,
}

# Rough CPU seconds of each section with the default options (`selfcheck --two-sided-only`
# on 2 cores), for dealing sections to shards (`selfcheck --shard K/N`): only the
# proportions matter.  A section is a shard's indivisible unit: the mutation section's
# verdict needs every mutant (an invariant that kills no mutant fails it).
COST: dict[str, float] = {
    "mutation": 600,
    "differential": 120,
    "fuzz": 60,
    "vacuity": 60,
    "unknown": 20,
    "determinism": 90,
    "explore-bmc": 120,
    "protocol": 60,
    "interleavings": 30,
    "unbounded": 60,
}
