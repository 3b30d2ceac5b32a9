# SPDX-License-Identifier: GPL-2.0-only
"""The head lemma (check/bmc.py head_lemma()): an operation unrolling whose compound_head()
calls are proved to return the head wherever they count is rebuilt with the head itself.

- It changes no result: verdicts, shortest traces with their canonical arguments, and
  reasons equal those of the plain unrolling, on proved and violated checks of three eras.
- The proof gates it: a z3-side compound_head() that misses the head (a one-layer
  mutant) leaves the lemma unproved, the plain unrolling is used and the mutant is caught;
  the same mutant under an ungated substitution would be proved.
- Its query is charged to the first result on the unrolling (the others' query counts
  may differ either way: a canonical search can take another path to the same answer)."""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Iterator
from unittest import mock

import pytest

from hvo_verify.check import bmc
from hvo_verify.check.bmc import UNROLLINGS, OpsJob, run_ops
from hvo_verify.check.result import CheckResult
from hvo_verify.check.suite import spec_jobs
from hvo_verify.encode import readers
from hvo_verify.encode.memory import Page, SymMemory, Val
from hvo_verify.encode.ops.unroll import Unrolling
from hvo_verify.errors import EncodingMismatch
from hvo_verify.ops.machine import Machine
from hvo_verify.specs.loader import load_specs
from hvo_verify.verdict import Verdict

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _jobs(path: str, scheme: str, depth: int | None = None) -> list[OpsJob]:
    found = [s for s in load_specs([str(ROOT / path)]) if s.scheme.name == scheme]
    assert found, f"{path} has no column {scheme} (renamed?)"
    jobs = [j for j in spec_jobs(found[0]) if isinstance(j, OpsJob)]
    return [dataclasses.replace(j, depth=depth) if depth else j for j in jobs]


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    UNROLLINGS.clear()
    yield
    UNROLLINGS.clear()


def _plain(job: OpsJob, machine: Machine) -> tuple[Unrolling, tuple[float, int]]:
    return Unrolling(machine, job.alphabet, job.depth, job.max_calls), (0.0, 0)


def _ungated(job: OpsJob, machine: Machine) -> tuple[Unrolling, tuple[float, int]]:
    return Unrolling(machine, job.alphabet, job.depth, job.max_calls, on_head_lemma=True), (0.0, 0)


def _outcome(r: CheckResult) -> tuple[object, ...]:
    steps = None if r.trace is None else tuple(s.call() for s in r.trace.steps)
    return r.invariant, r.verdict, steps, r.reason, r.assumptions


def _run_all(jobs: list[OpsJob]) -> list[CheckResult]:
    UNROLLINGS.clear()
    return [run_ops(j) for j in jobs]


# (spec, era, depth): proved and violated checks; each unrolling's lemma is proved.
CASES = [
    ("specs/objections/b5-dissolve-window.toml", "v6.2", None),
    ("specs/objections/hwpoison-head-index-two-errors.toml", "rfc-2020", None),
    ("specs/objections/gup-fifth-page.toml", "mask-2026", 3),
]


@pytest.mark.parametrize(("path", "scheme", "depth"), CASES, ids=[c[0].split("/")[-1] for c in CASES])
def test_same_results_as_the_plain_unrolling(path: str, scheme: str, depth: int | None) -> None:
    jobs = _jobs(path, scheme, depth)
    with_lemma = _run_all(jobs)
    assert UNROLLINGS.entry is not None and UNROLLINGS.entry[1].on_head_lemma, "the lemma should be proved here"
    with mock.patch.object(bmc, "head_lemma", _plain):
        plain = _run_all(jobs)
    assert not UNROLLINGS.entry[1].on_head_lemma
    assert [_outcome(r) for r in with_lemma] == [_outcome(r) for r in plain]
    # b5 and two-errors compare counterexample traces, gup-fifth-page proofs and witnesses
    wanted = Verdict.PROVED if "gup-fifth-page" in path else Verdict.VIOLATED
    assert wanted in {r.verdict for r in plain}


_COMPOUND_HEAD = readers.compound_head


def _misses_the_head(mem: SymMemory, page: Page) -> Val:
    """A z3-side compound_head() that returns the page it is given (the concrete side
    is untouched): GUP then takes its references on the subpage."""
    return Val(page.rel, _COMPOUND_HEAD(mem, page).fault)


def test_the_proof_gates_the_substitution() -> None:
    [job] = [j for j in _jobs("specs/objections/gup-fifth-page.toml", "v6.2", 3) if j.invariant == "refcount"]
    assert run_ops(job).verdict is Verdict.PROVED
    with mock.patch.object(readers, "compound_head", _misses_the_head):
        UNROLLINGS.clear()
        with pytest.raises(EncodingMismatch):  # gated: the plain unrolling, the mutant caught by replay
            run_ops(job)
        assert UNROLLINGS.entry is not None and not UNROLLINGS.entry[1].on_head_lemma
        UNROLLINGS.clear()
        with mock.patch.object(bmc, "head_lemma", _ungated):  # what the gate prevents
            assert run_ops(job).verdict is Verdict.PROVED


def test_the_lemma_query_is_charged_once() -> None:
    jobs = _jobs("specs/objections/gup-fifth-page.toml", "v6.2", 2)[:2]

    def costly(job: OpsJob, machine: Machine) -> tuple[Unrolling, tuple[float, int]]:
        return _plain(job, machine)[0], (1000.0, 100)

    with mock.patch.object(bmc, "head_lemma", costly):
        UNROLLINGS.clear()
        first, second = (run_ops(j) for j in jobs)
    assert first.solver_seconds >= 1000.0 and first.queries >= 100
    assert second.solver_seconds < 1000.0 and second.queries < 100
    assert UNROLLINGS.take_lemma_cost() == (0.0, 0)
