# SPDX-License-Identifier: GPL-2.0-only
"""A package that works outside a checkout (issue 14 item 4): the license and its SPDX
lines, the metadata, the spec suite installed from the one copy in git, `check`'s
default folder, and a wheel installed into a fresh virtual environment."""

from __future__ import annotations

import io
import os
import pathlib
import subprocess
import sys
import tomllib

import pytest

from hvo_verify import __version__, cli
from hvo_verify.specs import bundled

ROOT = pathlib.Path(__file__).resolve().parents[2]
SPDX = "SPDX-License-Identifier: GPL-2.0-only"


def source_files() -> list[pathlib.Path]:
    """Every source file of the project: Python, the CI script, the guest's sources."""
    files = [p for d in ("hvo_verify", "tests", "bench") for p in (ROOT / d).rglob("*.py")]
    files = [p for p in files if "_specs" not in p.relative_to(ROOT).parts]
    return [*files, ROOT / ".ci/run", *(ROOT / "hvo_verify/conform/guest").iterdir()]


def test_every_source_file_has_an_spdx_line() -> None:
    """In the first two lines (after a #! line), as the kernel writes it."""
    missing = [
        str(p.relative_to(ROOT)) for p in source_files() if SPDX not in "".join(p.read_text().splitlines(True)[:2])
    ]
    assert len(source_files()) > 100
    assert missing == []


def test_the_license_is_gpl_2() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert "GNU GENERAL PUBLIC LICENSE" in text and "Version 2, June 1991" in text
    assert "TERMS AND CONDITIONS FOR COPYING, DISTRIBUTION AND MODIFICATION" in text


def test_pyproject_metadata() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    # PEP 639: an SPDX expression and the license file (a License :: classifier beside it
    # is an error for setuptools >= 77; the table form stops building on 2027-02-18)
    assert project["license"] == "GPL-2.0-only" and project["license-files"] == ["LICENSE"]
    assert not [c for c in project["classifiers"] if c.startswith("License ::")]
    assert project["urls"] and project["dynamic"] == ["version"]


def test_the_bundled_suite_is_the_top_level_specs_folder() -> None:
    """One copy in git: hvo_verify/_specs is a symlink to specs/, not a second copy."""
    link = ROOT / "hvo_verify/_specs"
    assert link.is_symlink() and os.readlink(link) == "../specs"
    assert bundled.BUNDLED.resolve() == (ROOT / "specs").resolve()


def test_check_defaults_to_local_specs_then_the_bundled_suite(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert bundled.default_specs()[0] == bundled.BUNDLED
    (tmp_path / "specs").mkdir()
    assert bundled.default_specs()[0] == bundled.BUNDLED  # an empty ./specs is not a suite
    (tmp_path / "specs/one.toml").write_text(
        'title = "t"\nsource = "s"\nscheme = "v6.2"\nconfigs = ["x86-64/4K/2M"]\ninvariants = ["accounting"]\n'
    )
    assert bundled.default_specs()[0] == bundled.LOCAL
    out, err = io.StringIO(), io.StringIO()
    assert cli.run(["check", "--jobs", "1"], out, err) == 0
    assert err.getvalue() == "hvo-verify: checking ./specs (a spec folder here)\n"
    assert "specs/one.toml" in out.getvalue()


@pytest.mark.slow
def test_a_wheel_installed_outside_the_checkout_checks_its_bundled_specs(tmp_path: pathlib.Path) -> None:
    """pip wheel (no network: the build backend comes from the configured local index),
    a fresh venv with --system-site-packages and --no-deps (z3 and Hypothesis seen
    through a .pth file naming this environment's site-packages), run from a folder
    outside the checkout."""
    wheels = tmp_path / "wheels"
    run = subprocess.run
    run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(wheels)], check=True,
        capture_output=True, cwd=tmp_path)  # fmt: skip
    [wheel] = wheels.glob("hvo_verify-*.whl")
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    python = venv / "bin/python"
    run([python, "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True, capture_output=True)
    import z3  # only to find this environment's site-packages

    site = run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], check=True,
               capture_output=True, text=True).stdout.strip()  # fmt: skip
    pathlib.Path(site, "dev-deps.pth").write_text(str(pathlib.Path(z3.__file__).parents[1]) + "\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    hvo = [str(venv / "bin/hvo-verify")]

    def hvo_verify(*args: str) -> subprocess.CompletedProcess[str]:
        return run([*hvo, *args], capture_output=True, text=True, cwd=elsewhere, env={**os.environ, "PYTHONPATH": ""})

    version = hvo_verify("--version")
    assert (version.returncode, version.stdout) == (0, f"hvo-verify {__version__}\n")
    where = run([python, "-c", "from hvo_verify.specs.bundled import default_specs; print(default_specs()[0])"],
                capture_output=True, text=True, cwd=elsewhere, check=True).stdout.strip()  # fmt: skip
    suite = pathlib.Path(where)
    assert suite.is_relative_to(venv) and not suite.is_symlink()
    installed = sorted(p.relative_to(suite).as_posix() for p in suite.rglob("*.toml"))
    assert installed == sorted(p.relative_to(ROOT / "specs").as_posix() for p in (ROOT / "specs").rglob("*.toml"))
    checked = hvo_verify("check", "--jobs", "1", str(suite / "examples"), str(suite / "must-catch/no-net-saving.toml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "0 differ from expectation" in checked.stdout and str(suite) in checked.stdout
    listed = hvo_verify("list", "--specs", "shared tail")
    assert "examples/devdax-shared-tail-2026.toml" in listed.stdout
