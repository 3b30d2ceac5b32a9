# SPDX-License-Identifier: GPL-2.0-only
"""The committed reproducers (tests/reproducers/, `hvo-verify reproduce --suite`) in a
real guest of each installed kernel: every outcome as recorded in
tests/reproducers/expected.toml, one of them with a prediction changed failing there (so
the assertions assert something), and regenerating them from the specs gives the same
files.  One boot per kernel runs all of them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hvo_verify.check.suite import check_specs
from hvo_verify.conform import guest
from hvo_verify.reproduce.run import Outcome, load_expectations, run_reproducers
from hvo_verify.reproduce.suite import reproducers
from hvo_verify.specs.loader import load_spec_files

pytestmark = [pytest.mark.kernel, pytest.mark.xdist_group("qemu")]

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "tests" / "reproducers"
# The reproducer whose prediction the test changes: a memory error on a free optimized
# folio; the model predicts KPF_HWPOISON at subpage 128 once it is freed (6.1) and at
# 64, 128, ..., 448 (6.12.115+, the head copies): moving the first range to 129 must fail.
MUTATED = "objections--hwpoison-raw-flag-v5.14--2M--ro-write"


def _mutated(tmp: Path) -> Path:
    text = (FOLDER / f"{MUTATED}.c").read_text()
    changed, n = re.subn(r"(static const struct hvo_expect expect\d\[\] = \{\n\t\{[^\n]*\n\t\{\d+, \d+, \d+, \{\{)(\d+)",
                         lambda m: m.group(1) + str(int(m.group(2)) + 1), text)  # fmt: skip
    assert n == 2, "the expectation tables of the reproducer changed shape"
    out = tmp / f"mutated--{MUTATED}.c"
    out.write_text(changed)
    return out


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> list[Outcome]:
    reason = guest.available()
    if reason is not None:
        pytest.skip(reason)
    kernels = guest.installed_kernels()
    sources = [*sorted(FOLDER.glob("*.c")), _mutated(tmp_path_factory.mktemp("mutated"))]
    return run_reproducers(sources, kernels, load_expectations(FOLDER / "expected.toml"))


def test_every_reproducer_runs_as_recorded_on_every_kernel(outcomes: list[Outcome]) -> None:
    differ = [f"{o.name} on {o.kernel}: {o.status}, expected {o.expected or 'pass'}"
              for o in outcomes if not o.name.startswith("mutated--") and not o.as_expected]  # fmt: skip
    assert not differ, "\n".join(differ)
    assert {o.kernel for o in outcomes} == {k.release for k in guest.installed_kernels()}


def test_a_changed_prediction_fails_in_the_real_boot(outcomes: list[Outcome]) -> None:
    for o in (o for o in outcomes if o.name == f"mutated--{MUTATED}"):
        assert o.status == "fail", f"{o.kernel}: {o.status}"
        assert o.document is not None
        failed = [r for r in o.document.results if not r.ok]
        assert failed and "KPF_HWPOISON" in failed[0].name, failed


# Regenerating every program means checking both folders (minutes of solving, which the
# specs lane already does); these specs cover each kind of program: a violation with an
# O_DIRECT read, memory errors on a free and a mapped folio, a proof's witness, a
# regression pair and an interleaving spec (INDEX reason only).
REGENERATED = (
    "specs/objections/hwpoison-raw-flag-v5.14.toml",
    "specs/objections/b5-dissolve-window.toml",
    "specs/objections/double-mapping-per-subpage.toml",
    "specs/regressions/2025-page3-reset.toml",
    "specs/regressions/2025-page3-reset-fixed.toml",
    "specs/regressions/2024-b8-speculative-pfn-walker.toml",
)


def test_regenerating_reproducers_gives_the_committed_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the INDEX names specs by their paths from the checkout
    specs, errors = load_spec_files(list(REGENERATED))
    assert not errors
    sources, index = reproducers(specs, check_specs(specs, workers=2))
    assert sources, "no program generated"
    for name, text in sources.items():
        assert (FOLDER / name).read_text() == text, f"{name} differs from the committed file: regenerate"
    committed = (FOLDER / "INDEX").read_text().splitlines()
    for entry in index:
        assert entry.line() in committed, f"INDEX lacks {entry.line()!r}: regenerate"
