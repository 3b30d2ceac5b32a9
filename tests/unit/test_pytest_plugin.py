# SPDX-License-Identifier: GPL-2.0-only
"""The pytest plugin (hvo_verify/pytest_plugin.py, entry point `pytest11`), run in
subprocesses on a small spec folder: JUnit XML with a testcase per check and a failure
for a changed expectation, pytest-xdist, `--lf`, `-k`; and that it collects nothing
without `--hvo-specs` or `hvo_specs`, so the project's own suite collects as before."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
VIOLATED = ROOT / "specs/must-catch/v6.2-vmemmap-not-page-aligned.toml"  # 2 checks, violated as expected
SWEEP = ROOT / "tests/golden/sweep-eras.toml"  # 3 schemes x 2 configs x 2 invariants
NA = 'title = "t"\nsource = "s"\nscheme = "v6.2"\nconfigs = ["arm64/16K/2M"]\ninvariants = ["head-resolution", "accounting"]\n[expect]\ndefault = "not-applicable"\n'


def pytest_run(folder: pathlib.Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest in `folder` (its own rootdir: none of this project's ini options)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_"))}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:randomly", *args],
        cwd=folder, capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip


@pytest.fixture
def folder(tmp_path: pathlib.Path) -> pathlib.Path:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    shutil.copy(VIOLATED, tmp_path / "a/x.toml")
    text = VIOLATED.read_text()
    assert 'default = "violated"' in text
    (tmp_path / "b/changed.toml").write_text(text.replace('default = "violated"', 'default = "proved"'))
    (tmp_path / "b/x.toml").write_text(NA)  # the same file name in another folder
    (tmp_path / "a/pyproject-like.toml").write_text('[tool.x]\nname = "not a spec"\n')
    (tmp_path / "a/broken.toml").write_text(NA.replace("configs", "config = 1\nconfigs"))
    return tmp_path


@pytest.mark.slow
def test_junit_xdist_lf(folder: pathlib.Path) -> None:
    done = pytest_run(folder, "--hvo-specs", ".", "-n", "2", "--junitxml", "out.xml")
    assert done.returncode == 1, done.stdout + done.stderr
    root = ET.parse(folder / "out.xml").getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    assert suite is not None
    counts = {k: int(suite.attrib[k]) for k in ("tests", "failures", "skipped", "errors")}
    # 2 + 2 + 2 checks; a changed expectation fails twice; not-applicable skips; the broken spec is an error
    assert counts == {"tests": 7, "failures": 2, "skipped": 2, "errors": 1}, counts
    cases = {(c.attrib["classname"], c.attrib["name"]): c for c in suite.iter("testcase")}
    assert ("a.x.toml", "head-resolution[x86-64_4K_2M]") in cases
    failure = cases[("b.changed.toml", "head-resolution[x86-64_4K_2M]")].find("failure")
    assert failure is not None
    assert "x86-64/4K/2M head-resolution: expected proved, got violated" in (failure.text or "")
    assert "=> compound_head(head+63)" in (failure.text or "")
    error = next(c for c in suite.iter("testcase") if c.find("error") is not None)
    assert "config: unknown key 'config' (did you mean 'configs'?)" in (error.find("error").text or "")  # type: ignore[union-attr]
    (folder / "a/broken.toml").unlink()  # a collection error interrupts a run
    again = pytest_run(folder, "--hvo-specs", ".", "--lf", "-q", "-p", "no:xdist")
    assert "2 failed" in again.stdout and "passed" not in again.stdout, again.stdout


def test_k_picks_checks_and_sweeps_are_named(folder: pathlib.Path) -> None:
    shutil.copy(SWEEP, folder / "a/sweep.toml")
    (folder / "a/broken.toml").unlink()
    # the config id is a keyword ("@" is not a -k character: "56" matches the name)
    done = pytest_run(folder, "--hvo-specs", "a", "--collect-only", "-q", "-k", "x86-64/4K/2M and 56 and head-res")
    assert done.stdout.split("\n\n")[0].splitlines() == [
        f"a/sweep.toml::head-resolution[{scheme}-x86-64_4K_2M@56]" for scheme in ("v5.14", "v5.18", "v6.2")
    ], done.stdout
    done = pytest_run(folder, "--hvo-specs", "a", "--collect-only", "-q", "-k", "v6.2 and not 56 and tail")
    assert done.stdout.split("\n\n")[0].splitlines() == ["a/sweep.toml::head-tail-exact[v6.2-x86-64_4K_2M]"], (
        done.stdout
    )


def test_inactive_without_the_option_or_ini(folder: pathlib.Path) -> None:
    done = pytest_run(folder, "--collect-only", "-q", ".")
    assert done.returncode == 5 and "no tests collected" in done.stdout, done.stdout
    (folder / "pytest.ini").write_text("[pytest]\nhvo_specs = b\n")
    done = pytest_run(folder, "--collect-only", "-q", ".")
    assert done.stdout.split("\n\n")[0].splitlines() == [
        "b/changed.toml::layout-soundness[x86-64_4K_2M]",
        "b/changed.toml::head-resolution[x86-64_4K_2M]",
        "b/x.toml::head-resolution[arm64_16K_2M]",
        "b/x.toml::accounting[arm64_16K_2M]",
    ], done.stdout


def test_the_projects_suite_collects_the_same() -> None:
    """With the plugin loaded (the installed entry point) and without it."""
    args = [
        "--collect-only",
        "-q",
        "-p",
        "no:cacheprovider",
        "-o",
        "addopts=",
        "tests/unit/test_ktap.py",
        "specs/examples",
    ]
    loaded = pytest_run(ROOT, *args)
    unloaded = pytest_run(ROOT, *args, "-p", "no:hvo_verify")
    assert loaded.stdout.splitlines()[:-1] == unloaded.stdout.splitlines()[:-1]
    assert "test_ktap.py::" in loaded.stdout and ".toml" not in loaded.stdout
    assert "hvo-verify" in pytest_run(ROOT, "--co", "-p", "no:cacheprovider", "tests/unit/test_ktap.py").stdout
