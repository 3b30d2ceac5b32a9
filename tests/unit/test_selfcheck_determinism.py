# SPDX-License-Identifier: GPL-2.0-only
"""Determinism in one process: the first model z3 finds differs between runs in one
process and between seeds, but the printed counterexamples and traces do not
(canonicalisation).  Fresh processes: tests/must_catch/test_trace_determinism.py and
the selfcheck `determinism` section."""

from __future__ import annotations

import pathlib

from hvo_verify.check.solver import SEED, set_seed
from hvo_verify.check.suite import check_specs
from hvo_verify.report.json_out import comparable, results_document
from hvo_verify.specs.loader import load_specs

ROOT = pathlib.Path(__file__).resolve().parents[2]
SPECS = [
    str(ROOT / "specs/must-catch/mask-2026-page-aligned-vmemmap.toml"),  # static, misaligned base
    str(ROOT / "specs/objections/hwpoison-raw-flag-v5.14.toml"),  # a 2-step trace, smallest subpage
]


def test_in_process_runs_and_another_seed_print_the_same_bytes() -> None:
    specs = load_specs(SPECS)
    first = comparable(results_document(check_specs(specs)))
    assert '"counterexample": {' in first and '"trace": {' in first
    assert comparable(results_document(check_specs(specs))) == first
    set_seed(SEED + 7)
    try:
        assert comparable(results_document(check_specs(specs))) == first
    finally:
        set_seed(SEED)
