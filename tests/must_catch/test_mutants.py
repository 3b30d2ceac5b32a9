# SPDX-License-Identifier: GPL-2.0-only
"""Mutation testing of the model (hvo_verify.selfcheck.mutants): every mutant is killed
by the spec suite, by a verdict that differs from its expectation; every invariant kills
at least one mutant; the same procedure with no mutant finds no difference; and every
mutant's patches are undone when its context exits."""

from __future__ import annotations

import pathlib
import re
import sys
from typing import Any

import pytest

from hvo_verify.check.suite import check_specs
from hvo_verify.invariants.reachable import OP_INVARIANTS
from hvo_verify.invariants.static import INVARIANTS
from hvo_verify.selfcheck import Section, onelayer
from hvo_verify.selfcheck import mutants as m
from hvo_verify.selfcheck.mirror import mirrored
from hvo_verify.specs.loader import load_specs
from hvo_verify.verdict import Verdict

ROOT = pathlib.Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"
MUTANTS = {mutant.name: mutant for mutant in m.MUTANTS}
ONE_LAYER = {mutant.name: mutant for mutant in onelayer.ONE_LAYER}

Run = tuple[list[m.MutantRun], list[m.BaselineRun], Section]


@pytest.fixture(scope="module")
def mutation() -> Run:
    """The whole mutation run (every mutant, early stop) and the unmutated baseline."""
    runs, baseline, wall = m.run_all([str(SPECS)], jobs=2)
    return runs, baseline, m.section(runs, baseline, wall)


@pytest.mark.slow
@pytest.mark.xdist_group("mutation-run")  # one worker runs the module fixture, once
def test_every_mutant_is_killed_by_a_verdict(mutation: Run) -> None:
    runs, _baseline, section = mutation
    assert [r.name for r in runs] == list(MUTANTS)
    survivors = [(r.name, r.error or "survived") for r in runs if not r.killed or r.error]
    assert not survivors, survivors
    figures = dict(section.figures)
    assert figures["kill rate %"] == 100.0 and figures["killed"] == len(m.MUTANTS)
    # consistent mutations: the concrete model and the encoding see the same bug, so the
    # kill is a verdict, never only a counterexample that does not replay
    assert all(r.kind == "verdict" for r in runs), [(r.name, r.kind) for r in runs]


@pytest.mark.slow
@pytest.mark.xdist_group("mutation-run")  # one worker runs the module fixture, once
def test_every_invariant_kills_some_mutant(mutation: Run) -> None:
    runs, _baseline, section = mutation
    figures = dict(section.figures)
    for inv in [*INVARIANTS, *OP_INVARIANTS]:
        kills = figures[f"kills: {inv}"]
        assert isinstance(kills, int) and kills >= 1, f"{inv} kills no mutant"
    killed = {k.invariant for r in runs for k in r.kills}
    assert killed == set(INVARIANTS) | set(OP_INVARIANTS)


@pytest.mark.slow
@pytest.mark.xdist_group("mutation-run")  # one worker runs the module fixture, once
def test_no_mutant_means_no_difference(mutation: Run) -> None:
    """The same checks with no mutant applied all match their expectations, so every kill
    is a difference the mutant made."""
    runs, baseline, section = mutation
    used = {(m.short_path(path), inv, config) for r in runs for path, inv, config in r.checks}
    assert sum(b.checks_run for b in baseline) == len(used)
    assert {b.spec for b in baseline} == {spec for spec, _inv, _config in used}
    killers = {k.check for r in runs for k in r.kills}
    assert killers <= {f"{spec}:{inv}@{config}" for spec, inv, config in used}
    assert all(not b.error for b in baseline), [(b.spec, b.error) for b in baseline if b.error]
    assert [d for b in baseline for d in b.differences] == []
    assert dict(section.figures)["baseline differences"] == 0
    assert section.ok, section.failures


def test_catalogue() -> None:
    assert len(m.MUTANTS) >= 25
    assert len(MUTANTS) == len(m.MUTANTS), "mutant names must be unique"
    assert len({mutant.name for mutant in onelayer.CATALOGUE}) == len(onelayer.CATALOGUE), "names must be unique"
    assert all(mutant.layer == "both" and not mutant.mirrors for mutant in m.MUTANTS)
    specs = {m.short_path(name): s for s in load_specs([str(SPECS)]) for name in (s.path, s.unit)}
    for mutant in onelayer.CATALOGUE:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9.]+)*", mutant.name), mutant.name
        assert mutant.summary and "\n" not in mutant.summary, mutant.name
        assert re.search(r"\w+\(\)|[0-9a-f]{12}", mutant.summary), f"{mutant.name}: cite the kernel function"
        assert mutant.hint, mutant.name
        for hint in mutant.hint:
            name, invariants = m.parse_hint(hint)
            assert name in specs, (mutant.name, hint)
            assert set(invariants) <= set(specs[name].invariants), (mutant.name, hint)


def test_search_plan_runs_every_check_once_hinted_first() -> None:
    specs = load_specs([str(SPECS)])
    plan = m.search_plan(specs, ("objections/double-mapping-folio.toml:refcount", "presets/none.toml"))
    assert [(m.short_path(s.path), invs) for s, invs in plan[:3]] == [
        ("objections/double-mapping-folio.toml", ("refcount",)),
        ("presets/none.toml", tuple(INVARIANTS)),
        ("objections/double-mapping-folio.toml", ("ro-write", "alias-write")),
    ]
    planned = [(s.unit, inv) for s, invs in plan for inv in invs]
    assert sorted(planned) == sorted((s.unit, inv) for s in specs for inv in s.invariants)


def test_search_plan_names_one_scheme_of_a_sweep() -> None:
    """`file#scheme` hints one unit of a spec that sweeps schemes; the file alone, all."""
    specs = load_specs([str(SPECS)])
    plan = m.search_plan(specs, ("objections/gup-fifth-page.toml#v5.14:refcount",))
    assert [(m.short_path(s.unit), invs) for s, invs in plan[:2]] == [
        ("objections/gup-fifth-page.toml#v5.14", ("refcount",)),
        ("objections/gup-fifth-page.toml#v5.14", ("dma-exact", "read-fault", "ro-write")),
    ]
    sweep = [s.scheme.name for s, _invs in m.search_plan(specs, ("objections/gup-fifth-page.toml",))[:5]]
    assert sweep == ["rfc-2020", "v5.14", "v5.18", "v6.2", "mask-2026"]


def _snapshot() -> dict[tuple[str, ...], object]:
    """Every module attribute, class attribute and module-level dict entry of the loaded
    hvo_verify modules, as the objects themselves (compared by identity)."""
    out: dict[tuple[str, ...], object] = {}
    for modname, module in list(sys.modules.items()):
        if modname.split(".")[0] != "hvo_verify":
            continue
        for attr, value in list(vars(module).items()):
            out[(modname, attr)] = value
            if isinstance(value, dict):
                for key, item in list(value.items()):
                    out[(modname, attr, repr(key))] = item
            if isinstance(value, type) and value.__module__ == modname:
                for name, member in list(vars(value).items()):
                    out[(modname, attr, "." + name)] = member
    return out


def _changed(before: dict[tuple[str, ...], Any], after: dict[tuple[str, ...], Any]) -> list[tuple[str, ...]]:
    return sorted(k for k in before.keys() | after.keys() if before.get(k, before) is not after.get(k, before))


def test_every_mirrored_function_has_a_mutant_per_layer() -> None:
    """A mirrored function (selfcheck/mirror.py, the table tests/unit/test_pairing.py
    holds the two sides to) without a concrete-only and a z3-only mutant fails here."""
    layers: dict[str, set[str]] = {}
    for mutant in onelayer.ONE_LAYER:
        assert mutant.layer in ("concrete", "z3"), mutant.name
        assert mutant.mirrors in mirrored(), mutant.name
        layers.setdefault(mutant.mirrors, set()).add(mutant.layer)
    assert {key: {"concrete", "z3"} for key in mirrored()} == layers
    assert set(onelayer.EQUIVALENT) <= set(ONE_LAYER), "a named equivalent is a one-layer mutant"
    assert all(why.strip() for why in onelayer.EQUIVALENT.values())


def _sides(mutant: m.Mutant) -> tuple[set[str], dict[str, set[int]]]:
    """The packages of the code `mutant` replaces, and its replacements per side of the
    mirror (`z3`: encode/; `concrete`: model/, ops/, invariants/)."""
    before = _snapshot()
    with mutant.apply():
        inside = _snapshot()
    changed = _changed(before, inside)
    packages: set[str] = set()
    sides: dict[str, set[int]] = {}
    for key in changed:
        # a function or registry (BUILDERS, INVARIANTS, ...) is seen from every module that
        # imports it: a binding counts for the package of the code it held
        package = _package(key, before[key])
        packages.add(package)
        value = inside[key]
        if (callable(value) and not isinstance(value, type)) or hasattr(value, "check"):  # or an invariant record
            side = "z3" if package == "encode" else "concrete"
            sides.setdefault(side, set()).add(id(getattr(value, "__func__", value)))
    assert _changed(before, _snapshot()) == []
    return packages, sides


def _package(key: tuple[str, ...], value: object) -> str:
    """The hvo_verify package that defined `value` (else the one holding `key`)."""
    module = str(getattr(value, "__module__", None) or type(value).__module__).split(".")
    return module[1] if module[0] == "hvo_verify" and len(module) > 1 else key[0].split(".")[1]


@pytest.mark.parametrize("name", list(ONE_LAYER))
def test_one_layer_mutant_patches_one_side(name: str) -> None:
    mutant = ONE_LAYER[name]
    packages, sides = _sides(mutant)
    assert packages, f"{name} patches nothing"
    if mutant.layer == "z3":
        assert packages == {"encode"}, (name, packages)
    else:
        assert packages <= {"model", "ops", "invariants"} and packages, (name, packages)
    assert set(sides) == {mutant.layer}, (name, sides)
    assert len(sides[mutant.layer]) == 1, f"{name}: more than one patch on its side: {sides}"


# A sample of one-layer mutants, one per kind of mirrored function and layer, each with
# the killer it needs: replay (z3-only: a counterexample the concrete model does not
# reproduce), a verdict, or the direct comparison of the two sides.
SAMPLE = {
    "z3-only-readers-page-to-pfn": "replay",
    "concrete-only-readers-page-to-pfn": "compare",
    "z3-only-static-accounting": "verdict",
    "concrete-only-static-accounting": "replay",
    "concrete-only-pool-hugetlb-vmemmap-restore-folio": "replay",
    "z3-only-reachable-refcount": "verdict",
    "z3-only-cpu-stop": "compare",  # check/lockstep.py: dequeue skips a hwpoisoned folio on one side only
    "concrete-only-gup-submit-bio": "compare",  # check/lockstep.py: dma-exact on a bio
}


@pytest.mark.parametrize("name", list(SAMPLE))
def test_one_layer_mutants_are_killed(name: str) -> None:
    run = m.run_mutant(ONE_LAYER[name], [str(SPECS)])
    assert not run.error, run.error
    assert run.killed and run.kind == SAMPLE[name], (name, run.kind, run.kills)


@pytest.mark.parametrize("name", list(MUTANTS))
def test_mutant_changes_the_model_and_is_undone(name: str) -> None:
    mutant = MUTANTS[name]
    before = _snapshot()
    layers, sides = _sides(mutant)
    assert layers, f"{name} patches nothing"
    assert layers & {"model", "ops", "encode"}, f"{name} must change the model, the operations or their encoding"
    # One patch per side of the mirror: at most one replacement function for the concrete
    # side (model/, ops/) and one for the z3 side (encode/), however many names bind it.
    assert all(len(fns) == 1 for fns in sides.values()), f"{name}: more than one patch on one side: {sides}"
    with pytest.raises(RuntimeError), mutant.apply():
        raise RuntimeError("an exception inside the mutant")
    assert _changed(before, _snapshot()) == []


def test_forked_check_specs_workers_see_the_patch() -> None:
    """check_specs(workers=2) forks its pool after the patch: the workers see it."""
    specs = load_specs([str(SPECS / "must-catch" / "no-net-saving.toml")])
    with MUTANTS["pte-table-not-counted"].apply():
        mutated = check_specs(specs, workers=2)
    clean = check_specs(specs, workers=2)
    accounting = [r for r in mutated if r.invariant == "accounting"]
    assert accounting and accounting[0].verdict is Verdict.PROVED  # the spec expects violated
    assert all(r.as_expected for r in clean)


def test_a_survivor_and_a_gap_are_reported() -> None:
    """The procedure itself: a mutant that changes nothing survives, and the section says so."""
    idle = m.Mutant("does-nothing", "nothing()", ("must-catch/no-net-saving.toml",), lambda: [])
    run = m.run_mutant(idle, [str(SPECS / "must-catch" / "no-net-saving.toml")])
    assert not run.killed and not run.error and len(run.checks) == len(INVARIANTS)
    section = m.section([run], [], 0.0)
    assert not section.ok
    assert any("does-nothing survived" in f for f in section.failures)
    assert any("kills no mutant" in f for f in section.failures)
