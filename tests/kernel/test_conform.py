# SPDX-License-Identifier: GPL-2.0-only
"""`hvo-verify conform` against each installed kernel: every observation of both boots
agrees with the model's prediction for the preset the kernel maps to, within the time
targets (a boot <= 30 s, the whole run <= 3 min; the bounds asserted here are
looser because CI machines are shared)."""

from __future__ import annotations

import pytest

from hvo_verify.conform import guest, report_for_boots
from hvo_verify.conform.kernelmap import kernel_facts
from hvo_verify.report.conform_text import conform_text

pytestmark = [pytest.mark.kernel, pytest.mark.xdist_group("qemu")]


def test_kernel_agrees_with_the_model(
    boots: dict[str, guest.BootResult], known_disagreements: dict[str, frozenset[str]]
) -> None:
    report = report_for_boots(boots, sum(b.seconds for b in boots.values()))
    text = conform_text(report)
    assert report.error is None, text
    boot = next(r for b in boots.values() for r in b.records if r.get("kind") == "boot")
    expected = kernel_facts(str(boot["release"]), str(boot["version"]))  # from the booted release
    assert expected is not None and report.facts is not None and report.facts.preset == expected.preset, text
    failing = {r.scenario for r in report.rows if r.agree is False}
    assert failing == known_disagreements.get(report.facts.version, frozenset()), text
    assert len(report.rows) >= 60, text
    scenarios = {row.scenario.split()[0] for row in report.rows}
    assert {"savings", "kpageflags", "hwpoison", "O_DIRECT", "sysctl=1", "boot"} <= scenarios, scenarios


def test_boot_times(boots: dict[str, guest.BootResult]) -> None:
    for hvo, result in boots.items():
        assert result.ok, (hvo, result.exit_reason, result.console_tail)
        assert result.seconds <= 60, (hvo, result.seconds, result.notes)
