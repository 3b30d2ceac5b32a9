# SPDX-License-Identifier: GPL-2.0-only
"""dma-exact compares where the device writes (from the bio_vecs the block layer builds)
with the user's bytes (from the running byte count): a wrong bio_vec offset for the
second page of a buffer is visible to it, in either layer alone.

Before, the z3 formula had the offset on both sides of the comparison: a z3-only bug in
the offset was an equivalent mutant (test-audit.md, finding 1)."""

from __future__ import annotations

import pathlib
from typing import Any
from unittest import mock

import pytest

from hvo_verify.check import bmc
from hvo_verify.check.suite import check_specs
from hvo_verify.encode.ops import gup as sym_gup
from hvo_verify.errors import EncodingMismatch
from hvo_verify.specs.loader import load_specs
from hvo_verify.verdict import Verdict

SPEC = pathlib.Path(__file__).resolve().parents[2] / "specs" / "objections" / "gup-fifth-page.toml"


def _dma_exact() -> Verdict:
    [spec] = [s for s in load_specs([str(SPEC)]) if s.scheme.name == "v5.14"]
    bmc.UNROLLINGS.clear()
    try:
        [result] = [r for r in check_specs([spec], workers=1) if r.invariant == "dma-exact"]
    finally:
        bmc.UNROLLINGS.clear()
    return result.verdict


def test_the_real_block_layer_is_proved() -> None:
    assert _dma_exact() is Verdict.PROVED


def test_a_z3_only_offset_bug_is_caught_by_the_replay() -> None:
    """The z3 side alone gives every segment the first page's offset: BMC finds a
    violation the concrete model does not reproduce, which is our bug, reported as such."""

    def first_page_offset(cpu: Any, uaddr: Any, done: Any) -> Any:
        return uaddr & (cpu.u.page_size - 1)

    with mock.patch.object(sym_gup, "bio_vec_offset", first_page_offset), pytest.raises(EncodingMismatch):
        _dma_exact()
