# SPDX-License-Identifier: GPL-2.0-only
"""check/lockstep.py: the concrete model and the pinned unrolling agree on the seed
cases, and a disagreement planted in one layer is reported."""

from __future__ import annotations

import dataclasses

from hvo_verify.check import lockstep
from hvo_verify.ops.table import OPS
from hvo_verify.selfcheck import onelayer


def test_the_seed_cases_run_every_operation_and_reach_fake_heads() -> None:
    ops = {op for c in lockstep.CASES for op, _args in c.steps}
    assert ops == set(OPS)
    assert any(c.scheme == "v5.18" and c.steps[0][0] == "hugetlb_vmemmap_optimize_folio" for c in lockstep.CASES)


def test_a_cheap_case_agrees_unmutated() -> None:
    assert lockstep.compare(lockstep.CASES[0]) is None


def test_a_one_layer_mutant_is_told_apart() -> None:
    mutant = next(m for m in onelayer.ONE_LAYER if m.name == "z3-only-pool-dequeue-hugetlb-folio-node-exact")
    dequeue = next(c for c in lockstep.CASES if c.steps[-1][0] == "alloc_hugetlb_folio" and len(c.steps) == 3)
    with mutant.apply():
        problem = lockstep.compare(dequeue)
    assert problem is not None and "after step 3 (alloc_hugetlb_folio)" in problem, problem


def test_a_case_names_its_machine() -> None:
    c = dataclasses.replace(lockstep.CASES[0], steps=lockstep.CASES[0].steps[:1])
    assert c.describe().startswith("[x86-64/4K/2M rfc-2020 hwpoison=HEAD_INDEX] memory_failure(")


def test_every_case_names_a_preset() -> None:
    """A case naming a preset that was renamed would crash every mutant it serves."""
    from hvo_verify.model.scheme import PRESETS

    missing = [c.scheme for c in lockstep.CASES if isinstance(c.scheme, str) and c.scheme not in PRESETS]
    assert not missing, missing
