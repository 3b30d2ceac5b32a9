# SPDX-License-Identifier: GPL-2.0-only
"""Every example in a docstring of hvo_verify runs (`>>>` lines, via doctest)."""

from __future__ import annotations

import doctest
import importlib
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "hvo_verify"
WITH_EXAMPLES = sorted(
    ".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts)
    for p in PACKAGE.rglob("*.py")
    if ">>>" in p.read_text(encoding="utf-8")
)


def test_some_module_has_examples() -> None:
    assert "hvo_verify.model.config" in WITH_EXAMPLES


@pytest.mark.parametrize("module", WITH_EXAMPLES)
def test_docstring_examples(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), report=True)
    assert result.attempted > 0 and result.failed == 0, result
