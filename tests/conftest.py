# SPDX-License-Identifier: GPL-2.0-only
"""Shared pytest configuration."""

from __future__ import annotations

import importlib.util
import os
import pathlib
import sys
from collections.abc import Callable
from typing import Any

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent

# No test reads or writes the user's verdict cache (check/cache.py), nor inherits one
# (the subprocesses see this too): a test that patches the checker in-process must run
# it.  tests/unit/test_cache.py turns the cache on, in a temporary folder.
os.environ["HVO_VERIFY_NO_CACHE"] = "1"


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """pytest-xdist's `--dist loadgroup` (pyproject.toml addopts) names a grouped test
    `NODEID@GROUP` on the worker by setting `item._nodeid`, which pytest 9.2 no longer
    reads (its node ids live in `item._id`): without this, `xdist_group` is ignored,
    two QEMU guests boot at once and the tests that read what their module's other tests
    counted skip.  tests/unit/test_xdist_groups.py checks that grouping holds."""
    for item in items:
        renamed = getattr(item, "_nodeid", None)
        current = getattr(item, "_id", None)
        if isinstance(renamed, str) and current is not None and renamed != str(current):
            item._id = type(current).parse(renamed)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite tests/golden/*.out from the current output instead of comparing",
    )


# A small operation spec (one violated check with a trace, one proved) and a small static
# one (two counterexamples on a 56-byte struct page, two proofs on the 64-byte one): every
# kind of result in a few seconds, for the tests of the command line's options.
SMALL_OPS = """title = "t"
source = "s"
scheme = "rfc-2020"
configs = ["x86-64/4K/2M"]
invariants = ["alias-write", "ro-write"]
[ops]
run = ["hugetlb_vmemmap_optimize_folio", "memory_failure"]
hwpoison = "raw-flag"
depth = 2
[expect]
default = "proved"
alias-write = "violated"
"""
SMALL_STATIC = """title = "t"
source = "s"
scheme = "v5.14"
configs = ["x86-64/4K/2M@56", "x86-64/4K/2M"]
invariants = ["head-resolution", "layout-soundness"]
[expect]
default = "violated"
"*@x86-64/4K/2M" = "proved"
"""


@pytest.fixture
def small_ops_text() -> str:
    return SMALL_OPS


@pytest.fixture
def small_specs(tmp_path: pathlib.Path) -> pathlib.Path:
    """A folder with SMALL_STATIC (a-static.toml) and SMALL_OPS (b-ops.toml)."""
    folder = tmp_path / "small-specs"
    folder.mkdir()
    (folder / "a-static.toml").write_text(SMALL_STATIC)
    (folder / "b-ops.toml").write_text(SMALL_OPS)
    return folder


@pytest.fixture
def bench_script() -> Callable[[str], Any]:
    """Loads bench/<name>.py as module <name> (bench/ is not a package)."""

    def load(name: str) -> Any:
        spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True when the run was started with --update-golden."""
    return bool(request.config.getoption("--update-golden"))


# Conformance rows the model does not match yet, per upstream kernel version, each with
# what we know.  The recorded-run and the live kernel tests assert these exact sets: a
# row fixed or newly broken fails them.
KNOWN_DISAGREEMENTS: dict[str, frozenset[str]] = {
    # Issue 11's two rows are gone: the 1 GiB kpageflags reading is taken from the savings
    # step's folio (a 6.12.115+ restore leaves PGTY_hugetlb head copies in free memory,
    # which pfn_range_valid_contig() refuses), and the scenarios that optimize in the
    # HVO-off boot (sysctl, perfolio) run after hwpoison2 (whose folio had landed on the
    # pfns the sysctl scenario had optimized and restored).  See hvoguest.c savings_one()
    # and compare.py stale_struct_pages_rows().
    "6.12.117": frozenset(),
    # Debian 12's 6.1.192 (linux-image-6.1.0-57-amd64, the build linux-source-6.1 6.1.192-3
    # is): re-recorded on it, 215 rows agree.
    "6.1.192": frozenset(),
}  # fmt: skip


@pytest.fixture
def known_disagreements() -> dict[str, frozenset[str]]:
    return KNOWN_DISAGREEMENTS
