# SPDX-License-Identifier: GPL-2.0-only
"""The mirror is structural (the table: hvo_verify/selfcheck/mirror.py): every concrete kernel function has its z3 twin under the
same name, in the file of the same name, and the two state types have the same fields.

A function added on one side only, or renamed on one side, fails here before any
differential test has to find the disagreement."""

from __future__ import annotations

import dataclasses
import pathlib
from types import ModuleType

import pytest

from hvo_verify.encode import readers as sym_readers
from hvo_verify.encode.invariants.reachable import VIOLATIONS
from hvo_verify.encode.invariants.static import BUILDERS
from hvo_verify.encode.ops.smp import SymCpu as SmpSymCpu
from hvo_verify.encode.ops.state import SymKState
from hvo_verify.encode.ops.step import SUBSYSTEMS as SYM_SUBSYSTEMS
from hvo_verify.encode.ops.step import SymCpu
from hvo_verify.invariants.reachable import OP_INVARIANTS
from hvo_verify.invariants.static import INVARIANTS
from hvo_verify.model import readers
from hvo_verify.ops.machine import SUBSYSTEMS, Cpu
from hvo_verify.ops.smp import Cpu as SmpCpu
from hvo_verify.ops.smp_table import Prim as SMP_PRIMS
from hvo_verify.ops.state import KState
from hvo_verify.ops.table import OPS
from hvo_verify.selfcheck.mirror import (
    CONCRETE_ONLY_READERS,
    PAIRS,
    PRIMITIVES,
    SMP_CONCRETE_ONLY,
    SMP_CPU_SYM_ONLY,
    SMP_PAIR,
    functions,
)


@pytest.mark.parametrize(("concrete", "symbolic"), PAIRS, ids=[c.__name__.rsplit(".", 1)[1] for c, _ in PAIRS])
def test_every_kernel_function_has_its_twin_of_the_same_name(concrete: ModuleType, symbolic: ModuleType) -> None:
    assert concrete.__name__.rsplit(".", 1)[1] == symbolic.__name__.rsplit(".", 1)[1]
    assert functions(concrete) == functions(symbolic)


def test_the_subsystem_tables_name_the_same_files() -> None:
    assert {k: v.__name__.rsplit(".", 1)[1] for k, v in SUBSYSTEMS.items()} == {
        k: v.__name__.rsplit(".", 1)[1] for k, v in SYM_SUBSYSTEMS.items()
    }


def test_every_step_of_every_operation_exists_on_both_sides() -> None:
    for op in OPS.values():
        assert op.steps, op.name
        for step in op.steps:
            for table in (SUBSYSTEMS, SYM_SUBSYSTEMS):
                assert callable(getattr(table[step.subsystem], step.name, None)), (op.name, step.subsystem, step.name)


def test_the_primitives_exist_on_both_cpus() -> None:
    for name in PRIMITIVES:
        assert callable(getattr(Cpu, name, None)), name
        assert callable(getattr(SymCpu, name, None)), name


def test_the_symbolic_state_has_the_concrete_state_fields() -> None:
    concrete = {f.name for f in dataclasses.fields(KState)} - KState.MEMORY_FIELDS
    symbolic = {f.name for f in dataclasses.fields(SymKState)}
    assert symbolic == concrete | {"optimized"}  # a property of KState's vmemmap, a field of SymKState
    assert isinstance(vars(KState)["optimized"], property)
    assert KState.MEMORY_FIELDS <= {f.name for f in dataclasses.fields(KState)}


def test_the_readers_are_mirrored() -> None:
    concrete, symbolic = functions(readers), functions(sym_readers)
    assert symbolic <= concrete
    assert concrete - symbolic == set(CONCRETE_ONLY_READERS)


def test_the_invariants_have_z3_builders_with_the_same_ids() -> None:
    assert set(INVARIANTS) == set(BUILDERS)
    assert set(OP_INVARIANTS) == set(VIOLATIONS)


def test_the_kernel_index_names_every_step_and_reader() -> None:
    """ARCHITECTURE.md's kernel index has a row for every step of every operation (with
    both of its functions) and every reader: a newcomer finds any kernel rule in one hop."""
    text = (pathlib.Path(__file__).resolve().parents[2] / "ARCHITECTURE.md").read_text(encoding="utf-8")
    index = text[text.index("## Kernel index") : text.index("## Modules")]
    for op in OPS.values():
        for step in op.steps:
            assert f"`ops/{step.subsystem}.py` `{step.name}`" in index, step.name
            assert f"`encode/ops/{step.subsystem}.py` `{step.name}`" in index, step.name
            assert step.cite in index, step.name
    for name in functions(readers):
        assert f"`{name}`" in index or f" {name}" in index, name


def test_the_smp_twins_have_the_concrete_names() -> None:
    """ops/smp.py and encode/ops/smp.py (issue 12): the same functions, and SymCpu has Cpu's methods."""
    concrete, symbolic = SMP_PAIR
    assert functions(concrete) - set(SMP_CONCRETE_ONLY) == functions(symbolic)
    assert set(SMP_CONCRETE_ONLY) <= functions(concrete)
    assert {p.value for p in SMP_PRIMS} - {"label"} <= functions(symbolic)
    cpu = {n for n, v in vars(SmpCpu).items() if not n.startswith("_") and (callable(v) or isinstance(v, property))}
    sym = {n for n, v in vars(SmpSymCpu).items() if not n.startswith("_") and (callable(v) or isinstance(v, property))}
    fields = {f.name for f in dataclasses.fields(SmpSymCpu)}
    assert cpu <= sym | fields, cpu - sym - fields
    assert sym - cpu == set(SMP_CPU_SYM_ONLY)
    assert {"translate", "reg", "set_reg", "frame_of", "bad", "event", "advance", "oops", "vpage"} <= cpu
