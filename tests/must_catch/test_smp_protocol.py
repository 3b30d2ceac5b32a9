# SPDX-License-Identifier: GPL-2.0-only
"""Every protocol element is needed, on the concrete model alone (no solver): each
shipped `[smp]` spec's expectations are what exhaustive enumeration of every
interleaving finds, and each protocol mutant of selfcheck/protocol.py (a reviewer's
edit that drops, moves or reorders one element) changes an expected verdict."""

from __future__ import annotations

import pathlib

import pytest

from hvo_verify.check.smp_enumerate import Enumeration, enumerate_all
from hvo_verify.check.smp_job import SmpJob, system_for
from hvo_verify.selfcheck.protocol import MUTANTS, ProtocolMutant, mutate
from hvo_verify.specs.loader import load_sweep
from hvo_verify.specs.schema import Spec

SPECS = pathlib.Path(__file__).resolve().parents[2] / "specs"
SMP_SPECS = [s for p in sorted(SPECS.rglob("*.toml")) for s in load_sweep(p) if s.smp is not None]


def verdicts(spec: Spec) -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {}
    for config in spec.configs:
        assert spec.smp is not None
        system = system_for(SmpJob(config, spec.scheme, spec.smp, spec.invariants[0], spec.timeout_ms))
        if isinstance(system, str):
            out.update({(config.id, i): "not-applicable" for i in spec.invariants})
            continue
        e: Enumeration = enumerate_all(system)
        assert e.complete and e.completes, spec.unit
        out.update({(config.id, i): "violated" if i in e.violations else "proved" for i in spec.invariants})
    return out


def expected(spec: Spec) -> dict[tuple[str, str], str]:
    return {
        (c.id, i): spec.expect.expected(i, c.id, spec.scheme.name).value  # type: ignore[union-attr]
        for c in spec.configs
        for i in spec.invariants
    }


def test_there_are_interleaving_specs_for_every_race_of_the_catalogue() -> None:
    names = {pathlib.Path(s.path).name for s in SMP_SPECS}
    for bug in ("b3", "b6", "b8", "b9", "b12", "b13", "b16"):
        assert any(f"-{bug}-" in n and n.endswith("-fixed.toml") for n in names), bug
        assert any(f"-{bug}-" in n and not n.endswith("-fixed.toml") for n in names), bug


@pytest.mark.parametrize("spec", SMP_SPECS, ids=[s.unit.rsplit("/", 1)[-1] for s in SMP_SPECS])
def test_enumeration_earns_every_expected_verdict(spec: Spec) -> None:
    assert verdicts(spec) == expected(spec)


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.element for m in MUTANTS])
def test_every_protocol_element_is_needed(mutant: ProtocolMutant) -> None:
    units = load_sweep(SPECS / mutant.spec)
    for spec in units:
        assert verdicts(spec) == expected(spec)
    assert any(verdicts(mutate(s, mutant)) != expected(s) for s in units), f"{mutant.element}: the mutant survives"
