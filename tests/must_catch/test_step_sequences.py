# SPDX-License-Identifier: GPL-2.0-only
"""An operation's steps are data (ops/table.py): change the sequence there and both the
concrete model and the z3 encoding run the changed kernel, with nothing else patched.

Dropping folio_clear_hugetlb_hwpoison() from the free path is the kernel bug the raw_hwp
list exists to prevent: the head's PG_hwpoison is never handed to the raw page, and a
poisoned pfn reaches the buddy allocator.  The spec that proves the real sequence safe
must find that, with a counterexample that replays on the concrete model (a replay that
disagreed would raise EncodingMismatch)."""

from __future__ import annotations

import dataclasses
import pathlib
from unittest import mock

from hvo_verify.check import bmc
from hvo_verify.check.suite import check_specs
from hvo_verify.ops.table import OPS
from hvo_verify.specs.loader import load_specs
from hvo_verify.verdict import Verdict

SPEC = pathlib.Path(__file__).resolve().parents[2] / "specs" / "objections" / "hwpoison-raw-hwp-list.toml"
FREE = "update_and_free_hugetlb_folio"


def _verdicts(invariant: str) -> dict[str, Verdict]:
    [spec] = load_specs([str(SPEC)])
    spec = dataclasses.replace(spec, invariants=(invariant,))
    bmc.UNROLLINGS.clear()
    try:
        return {r.invariant: r.verdict for r in check_specs([spec], workers=1)}
    finally:
        bmc.UNROLLINGS.clear()


def test_the_real_free_path_hands_the_poison_over() -> None:
    assert _verdicts("hwpoison-freed") == {"hwpoison-freed": Verdict.PROVED}


def test_a_free_path_without_the_hand_over_is_caught_on_both_sides() -> None:
    steps = tuple(s for s in OPS[FREE].steps if s.name != "folio_clear_hugetlb_hwpoison")
    assert len(steps) == len(OPS[FREE].steps) - 1
    with mock.patch.dict(OPS, {FREE: dataclasses.replace(OPS[FREE], steps=steps)}):
        got = _verdicts("hwpoison-freed")
    assert got == {"hwpoison-freed": Verdict.VIOLATED}
