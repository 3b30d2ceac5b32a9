"""The BMC of several CPUs (check/smp.py) against the explicit-state enumeration of
every interleaving (check/smp_enumerate.py), on the CPU pairs of issue 12 in every era.

Per invariant: violated by BMC iff the enumeration found a violating schedule, of the
same (shortest) length, and the BMC schedule replays on the concrete model; otherwise
proved iff some schedule completes and the invariant's event happens, else vacuous.
A few cases run by default (~1 min); the whole matrix is `slow`.
"""

from __future__ import annotations

import pytest

from hvo_verify.check.smp import EXAMPLES, example, run_smp
from hvo_verify.check.smp_enumerate import Step, enumerate_all
from hvo_verify.ops.smp import DEADLOCK, EVENT_OF, INVARIANT_IDS, System
from hvo_verify.ops.smp_table import PROTOCOLS
from hvo_verify.verdict import Verdict

# Violations and proofs of several kinds, in well under a minute.
FAST = {("v6.1", "walker-vs-prep"), ("v6.1", "dissolve-vs-hotplug"), ("v6.12.111", "dissolve-vs-hotplug")}
CASES = [
    pytest.param(era, name, id=f"{era}-{name}", marks=() if (era, name) in FAST else pytest.mark.slow)
    for era in PROTOCOLS
    for name in EXAMPLES
]


def replays(system: System, invariant: str, schedule: tuple[Step, ...]) -> bool:
    """Run the schedule on the concrete model: every step is a move, and it ends broken."""
    state = system.initial()
    for step in schedule:
        move = next((m for m in system.moves(state) if (m.cpu, m.step, m.choice) == (step.cpu, step.step, step.choice)),
                    None)  # fmt: skip
        if move is None:
            return False
        state = move.state
    if invariant == DEADLOCK:
        return system.deadlocked(state)
    return state[system.layout().index[f"bad.{invariant}"]] == 1


@pytest.mark.parametrize(("era", "name"), CASES)
def test_bmc_verdicts_are_the_enumeration_verdicts(era: str, name: str) -> None:
    system = example(name, era)
    found = enumerate_all(system)
    assert found.complete
    results = run_smp(system, INVARIANT_IDS, 300_000)
    assert [r.invariant for r in results] == list(INVARIANT_IDS)
    for r in results:
        assert r.verdict is not Verdict.UNKNOWN, (r.invariant, r.reason)
        if r.invariant in found.violations:
            assert r.verdict is Verdict.VIOLATED, (r.invariant, r.verdict, r.reason)
            assert len(r.schedule) == len(found.violations[r.invariant]), r.invariant  # both the shortest
            assert replays(system, r.invariant, r.schedule), r.invariant
            continue
        exercised = found.completes and EVENT_OF[r.invariant] in found.events
        assert r.verdict is (Verdict.PROVED if exercised else Verdict.VACUOUS), (r.invariant, r.verdict, r.reason)
        assert not r.schedule


def test_a_schedule_that_does_not_break_the_invariant_does_not_replay() -> None:
    """The replay check of this test can fail: the enumeration's schedule cut short does not break it."""
    system = example("walker-vs-prep", "v6.1")
    schedule = enumerate_all(system).violations["ro-write"]
    assert replays(system, "ro-write", schedule)
    assert not replays(system, "ro-write", schedule[:-1])
