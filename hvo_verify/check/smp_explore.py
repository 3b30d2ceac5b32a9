# SPDX-License-Identifier: GPL-2.0-only
"""Random schedules of an interleaving spec with Hypothesis, shrunk (no solver).

The schedule is a list of picks (which movable CPU goes next, for how many steps, and\nthe TLB choice);
Hypothesis searches for one that breaks the invariant and shrinks it to a short one, the
way check/explore.py shrinks operation sequences.  The result is a replayed schedule in
the same form as a BMC counterexample.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from hypothesis import HealthCheck, Phase, find, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from hvo_verify.check.smp_enumerate import Step, run_schedule, violated
from hvo_verify.ops.smp import System


@dataclass(frozen=True, slots=True)
class SmpExploration:
    invariant: str
    examples: int
    schedule: tuple[Step, ...] = ()  # the shrunk violating schedule; () when none was found

    @property
    def found(self) -> bool:
        return bool(self.schedule)


def explore_smp(system: System, invariant: str, examples: int = 200, seed: int = 0) -> SmpExploration:
    bound = sum(p.max_steps for p in system.cpus)
    picks = st.lists(st.tuples(st.integers(0, len(system.cpus) - 1), st.integers(1, 8), st.booleans()), max_size=bound)

    def breaks(schedule: list[tuple[int, int, bool]]) -> bool:
        _steps, state = run_schedule(system, schedule)
        return violated(system, state, invariant)

    conf = settings(max_examples=examples, database=None, deadline=None, phases=(Phase.generate, Phase.shrink),
                    suppress_health_check=list(HealthCheck))  # fmt: skip
    try:
        found = find(picks, breaks, settings=conf, random=random.Random(seed))
    except NoSuchExample:
        return SmpExploration(invariant, examples)
    steps, _state = run_schedule(system, found, stop_on=invariant)
    return SmpExploration(invariant, examples, steps)
