# SPDX-License-Identifier: GPL-2.0-only
"""Unknown: a solver timeout or unknown yields `unknown` with the solver's reason,
never `proved`.

The specs run again with a tiny per-query timeout (1 ms).  Every result must then be
`unknown` carrying z3's reason (`solver: timeout`, `solver: canceled`, ...), or the
verdict the spec expects (which the regression suite shows the checker reaches with its
normal timeouts): a query z3 finishes in under a millisecond is still earned.  A
`violated` must have replayed (the checker raises otherwise), and nothing may be
`vacuous` that the spec does not expect.  At least one result must be unknown, or the
timeout was not tiny enough to test anything.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence

from hvo_verify.check.suite import check_specs
from hvo_verify.errors import EncodingMismatch
from hvo_verify.selfcheck.explore_bmc import replay_counts, units
from hvo_verify.selfcheck.section import Section
from hvo_verify.specs.loader import load_specs
from hvo_verify.verdict import Verdict

NAME = "unknown"
TIMEOUT_MS = 1
# Under the spec folder: every preset (static; power-of-2 and 56/72-byte struct pages,
# the vacuous V = 0 proofs of `none`), the must-catch specs (static and operations) and
# an objection whose trace takes several canonicalisation queries.
SPECS = ("presets", "must-catch", "objections/b5-dissolve-window.toml")


def run_unknown(
    spec_paths: Sequence[str], jobs: int = 2, timeout_ms: int = TIMEOUT_MS, scheduler: str | None = None
) -> Section:
    specs = [dataclasses.replace(s, timeout_ms=timeout_ms) for s in load_specs(list(spec_paths))]
    try:
        results = check_specs(specs, workers=jobs, scheduler=scheduler)
    except EncodingMismatch as exc:
        return Section(
            NAME, False, (), (f"a counterexample found under a {timeout_ms} ms timeout did not replay: {exc}",)
        )
    failures: list[str] = []
    reasons: Counter[str] = Counter()
    for r in results:
        where = f"{r.spec} {r.config} {r.invariant}"
        if r.verdict is Verdict.UNKNOWN:
            if not r.reason.startswith("solver: ") or r.reason == "solver: ":
                failures.append(f"{where}: unknown without the solver's reason ({r.reason!r})")
            reasons[r.reason.removeprefix("solver: ").split(" (")[0]] += 1  # z3's words, not where
        elif not r.as_expected:
            failures.append(f"{where}: {r.verdict.value} under a {timeout_ms} ms timeout, expected {r.expected}")
    static, traces, replayed, replay_failures = replay_counts(results, units(specs))
    failures += replay_failures
    unknown = sum(reasons.values())
    if not unknown:
        failures.append(f"nothing was unknown under a {timeout_ms} ms timeout: the test tested nothing")
    count = Counter(r.verdict for r in results)
    figures: tuple[tuple[str, int | float | str], ...] = (
        ("checks under a tiny timeout", f"{len(results)} ({timeout_ms} ms per query)"),
        ("unknown, with the solver's reason", f"{unknown} ({', '.join(f'{n} {why}' for why, n in sorted(reasons.items()))})"),
        ("proved (earned in time, as expected)", count[Verdict.PROVED]),
        ("violated, replayed", f"{replayed}/{static + traces}"),
        ("not-applicable", count[Verdict.NOT_APPLICABLE]),
        ("vacuous", count[Verdict.VACUOUS]),
        ("verdicts differing, other than unknown", sum(
            r.verdict is not Verdict.UNKNOWN and not r.as_expected for r in results)),
    )  # fmt: skip
    return Section(NAME, not failures, figures, tuple(failures))
