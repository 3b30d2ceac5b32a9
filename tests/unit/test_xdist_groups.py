# SPDX-License-Identifier: GPL-2.0-only
"""`xdist_group` holds under pytest-xdist's `--dist loadgroup` (pyproject.toml addopts):
the QEMU tests boot one guest at a time and tests/property/test_symbolic_vs_concrete.py's
last test reads what the module's other tests counted.  pytest 9.2 ignores the node id
xdist gives a grouped test; tests/conftest.py puts it where pytest reads it."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]

PROBE = """
import os
import pytest

pytestmark = pytest.mark.xdist_group("probe")


@pytest.mark.parametrize("n", range(8))
def test_grouped(n):
    with open(os.environ["PROBE_OUT"], "a") as f:
        f.write(f"{os.getpid()}\\n")
"""

CONFTEST = f"""
import importlib.util

_spec = importlib.util.spec_from_file_location("project_conftest", {str(ROOT / "tests" / "conftest.py")!r})
_project = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_project)
pytest_collection_modifyitems = _project.pytest_collection_modifyitems
"""


def _workers(tmp_path: pathlib.Path, probe: str = PROBE) -> set[str]:
    """The worker processes that ran the probe's eight tests, with the project's hook."""
    (tmp_path / "test_probe.py").write_text(probe)
    (tmp_path / "conftest.py").write_text(CONFTEST)
    out = tmp_path / "pids.txt"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "2", "--dist", "loadgroup", "-p", "no:cacheprovider",
         "--rootdir", str(tmp_path), str(tmp_path / "test_probe.py")],
        capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "PROBE_OUT": str(out)}, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    pids = out.read_text().split()
    assert len(pids) == 8, pids
    return set(pids)


def test_a_group_runs_in_one_worker(tmp_path: pathlib.Path) -> None:
    assert len(_workers(tmp_path)) == 1


def test_the_probe_can_see_two_workers(tmp_path: pathlib.Path) -> None:
    """Non-vacuity: without a group the eight tests spread over both workers (as grouped
    ones did under pytest 9.2 before the hook), which the probe sees."""
    ungrouped = PROBE.replace('pytestmark = pytest.mark.xdist_group("probe")', "")
    assert len(_workers(tmp_path, ungrouped)) == 2
