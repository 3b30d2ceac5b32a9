# SPDX-License-Identifier: GPL-2.0-only
"""The BMC of several CPUs (check/smp.py) against the explicit-state enumeration of
every interleaving (check/smp_enumerate.py), on the CPU pairs of issue 12 in every era.

Per invariant: violated by BMC iff the enumeration found a violating schedule, of the
same (shortest) length, and the BMC schedule replays on the concrete model; otherwise
proved iff some schedule completes and the invariant's event happens, else vacuous.
A few cases run by default (~30 s), two more eras are `slow`, the whole matrix is
opt-in (HVO_SMP_MATRIX=1).
"""

from __future__ import annotations

import os

import pytest

from hvo_verify.check.smp import EXAMPLES, example, run_smp
from hvo_verify.check.smp_enumerate import Step, enumerate_all
from hvo_verify.encode.ops import smp as sym_smp
from hvo_verify.errors import EncodingMismatch
from hvo_verify.ops.smp import DEADLOCK, EVENT_OF, INVARIANT_IDS, System
from hvo_verify.ops.smp_table import PROTOCOLS, Prim
from hvo_verify.verdict import Verdict

# Violations and proofs of several kinds, in well under a minute.
FAST = {
    ("v6.1", "walker-vs-prep"),
    ("v6.1", "dissolve-vs-hotplug"),
    ("v6.1", "reader-vs-optimizer-arm64"),
    ("v6.12.111", "dissolve-vs-hotplug"),
    ("01b1d0ffb6f7", "walker-llsc-vs-prep"),
    ("01b1d0ffb6f7", "optimize-rollback"),
    ("mask-2026", "optimize-rollback"),
}
# `slow` (the full suite, a few minutes): every pair in two more eras of other protocols.
SLOW_ERAS = ("v5.14", "v6.8")
# The whole matrix (every era, ~30 min on a quiet machine: up to 4 min a case) only
# with HVO_SMP_MATRIX=1.
MATRIX = os.environ.get("HVO_SMP_MATRIX") == "1"


def _marks(era: str, name: str) -> tuple[pytest.MarkDecorator, ...]:
    if (era, name) in FAST:
        return ()
    if era in SLOW_ERAS:
        return (pytest.mark.slow,)
    return (pytest.mark.slow, pytest.mark.skipif(not MATRIX, reason="the whole matrix: HVO_SMP_MATRIX=1"))


CASES = [pytest.param(era, name, id=f"{era}-{name}", marks=_marks(era, name)) for era in PROTOCOLS for name in EXAMPLES]


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
        event = EVENT_OF[r.invariant] in found.events
        want = Verdict.VACUOUS if not found.completes else Verdict.PROVED if event else Verdict.UNREACHED
        assert r.verdict is want, (r.invariant, r.verdict, r.reason)
        assert not r.schedule
        # a proof carries its witness schedule, replayed up to the event (check/smp.py replay_witness())
        assert bool(r.witness_schedule) is (want is Verdict.PROVED), r.invariant


def test_a_schedule_that_does_not_break_the_invariant_does_not_replay() -> None:
    """The replay check of this test can fail: the enumeration's schedule cut short does not break it."""
    system = example("walker-vs-prep", "v6.1")
    schedule = enumerate_all(system).violations["ro-write"]
    assert replays(system, "ro-write", schedule)
    assert not replays(system, "ro-write", schedule[:-1])


def test_a_z3_side_that_misses_a_violation_disagrees_with_the_enumeration(monkeypatch: pytest.MonkeyPatch) -> None:
    """A z3-only mutant (set_pte() without its remap checks) proves what the enumeration breaks."""
    system = example("walker-vs-prep", "v6.1")
    assert "remap-frozen" in enumerate_all(system).violations

    def set_pte_unchecked(cpu: sym_smp.SymCpu) -> None:
        ins = cpu.ins
        v, frame = cpu.vpage(ins), cpu.frame_of(ins)
        cpu.cells[f"pte.{v}.f"], cpu.cells[f"pte.{v}.rw"], cpu.cells[f"pte.{v}.ok"] = frame, int(ins.rw), 1
        cpu.event("set_pte")
        cpu.advance()

    monkeypatch.setitem(sym_smp.STEPS, Prim.SET_PTE, set_pte_unchecked)
    (result,) = run_smp(system, ("remap-frozen",), 300_000)
    assert result.verdict is Verdict.PROVED


def test_a_z3_side_that_invents_a_violation_does_not_replay(monkeypatch: pytest.MonkeyPatch) -> None:
    """A z3-only mutant (build_ptes() always sees a PTE-table page) finds a schedule the
    concrete model does not break: EncodingMismatch, never a verdict."""
    system = example("reader-vs-optimizer-arm64", "v6.12.111")
    assert "pgtable-source" not in enumerate_all(system).violations

    def build_ptes_always_bad(cpu: sym_smp.SymCpu) -> None:
        cpu.bad("pgtable-source", "mutant")
        cpu.advance()

    monkeypatch.setitem(sym_smp.STEPS, Prim.BUILD_PTES, build_ptes_always_bad)
    with pytest.raises(EncodingMismatch, match="differ"):
        run_smp(system, ("pgtable-source",), 300_000)


def test_a_system_whose_cells_overflow_the_bit_width_is_refused() -> None:
    with pytest.raises(ValueError, match="overflow"):
        run_smp(example("two-optimizers", "v6.1", nr_vpages=40), INVARIANT_IDS, 1_000)
