# SPDX-License-Identifier: GPL-2.0-only
"""`hvo-verify conform`: boot the installed kernel under QEMU with HVO on and off, run the
scenarios in the guest, and set what the kernel shows beside what the model predicts.

`guest.py` builds and boots the guest, `kernelmap.py` maps the kernel to a preset,
`predict.py` runs the model, `compare.py` makes the rows.  Nothing here prints.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hvo_verify.conform import guest
from hvo_verify.conform.compare import Row, compare_boots
from hvo_verify.conform.kernelmap import KernelFacts, kernel_facts

# The guest's default order (hvoguest.c load_opts()).  sysctl and perfolio write
# vm.hugetlb_optimize_vmemmap=1, so they optimize folios in the HVO-off boot too: they run
# after every scenario that reads struct pages (compare.py stale_struct_pages_rows()).
SCENARIOS = ("savings", "kpageflags", "hwpoison", "dma", "hwpoison2", "sysctl", "perfolio")


@dataclass(frozen=True, slots=True)
class BootSummary:
    hvo: str  # "on" / "off"
    seconds: float
    accel: str
    exit_reason: str
    records: int
    console_tail: str = ""  # the last lines of the console when the guest did not finish


@dataclass(frozen=True, slots=True)
class ConformReport:
    facts: KernelFacts | None
    boots: tuple[BootSummary, ...]
    rows: tuple[Row, ...]
    seconds: float
    error: str | None = None  # set when nothing could be compared (no kernel version, ...)
    records: Mapping[str, Sequence[Mapping[str, Any]]] = field(
        default_factory=dict
    )  # per HVO mode, as the guest printed
    kernel: str = ""  # the release of the kernel image booted (or named by the recording)

    @property
    def disagreements(self) -> int:
        return sum(1 for r in self.rows if r.agree is False)

    @property
    def ok(self) -> bool:
        return self.error is None and self.disagreements == 0 and bool(self.rows)


def report_from_records(
    boots: Mapping[str, Sequence[Mapping[str, Any]]], summaries: tuple[BootSummary, ...] = (), seconds: float = 0.0
) -> ConformReport:
    """Compare recorded guest output with the model (used by `conform` and by the tests
    that replay a recorded run without QEMU)."""
    boot = next((r for records in boots.values() for r in records if r.get("kind") == "boot"), None)
    if boot is None:
        return ConformReport(None, summaries, (), seconds, "no guest reported its kernel version")
    facts = kernel_facts(str(boot.get("release", "")), str(boot.get("version", "")))
    if facts is None:
        return ConformReport(None, summaries, (), seconds, f"cannot read a version from {boot.get('release')!r}")
    return ConformReport(facts, summaries, compare_boots(facts, boots), seconds)


def boot_all(
    modes: Sequence[str] = ("on", "off"),
    scenarios: Sequence[str] = SCENARIOS,
    timeout_s: float = 90.0,
    n2m: int = 100,
    kernel: guest.Kernel | None = None,
) -> dict[str, guest.BootResult]:
    """Boot `kernel` (default: the newest installed) once per HVO mode ("on", "off") and
    run the scenarios.  Raises errors.GuestUnavailable when QEMU, the kernel, busybox or
    gcc are missing."""
    cmdline = f"hvoguest.scenarios={','.join(scenarios)} hvoguest.n2m={n2m}"
    return {hvo: guest.boot(hvo == "on", cmdline, timeout_s, kernel=kernel) for hvo in modes}


def report_for_boots(
    results: Mapping[str, guest.BootResult], seconds: float, kernel: guest.Kernel | None = None
) -> ConformReport:
    summaries = tuple(
        BootSummary(
            hvo,
            r.seconds,
            r.accel,
            r.exit_reason,
            len(r.records),
            "" if r.of_kind("done") else r.console_tail,
        )
        for hvo, r in results.items()
    )
    boots = {hvo: r.records for hvo, r in results.items()}
    report = replace(report_from_records(boots, summaries, seconds), records=boots)
    release = kernel.release if kernel is not None else ""
    if report.facts is None:
        # A kernel that does not boot (or whose guest never reports) is a row, not a skip.
        ends = ", ".join(f"HVO {s.hvo}: {s.exit_reason}" for s in summaries) or "no boot"
        row = Row(f"kernel {release or '?'}: boot", "the guest reports its kernel", ends, False)
        report = replace(report, rows=(row,))
    return replace(report, kernel=release)


def run_conformance(
    modes: Sequence[str] = ("on", "off"),
    scenarios: Sequence[str] = SCENARIOS,
    timeout_s: float = 90.0,
    n2m: int = 100,
    kernel: guest.Kernel | None = None,
) -> ConformReport:
    start = time.monotonic()
    results = boot_all(modes, scenarios, timeout_s, n2m, kernel)
    return report_for_boots(results, time.monotonic() - start, kernel)


def kernel_failed(kernel: guest.Kernel, why: str) -> ConformReport:
    """The report of a kernel whose guest could not be built or started: one row."""
    row = Row(f"kernel {kernel.release}: boot", "the guest boots", why.splitlines()[0] if why else "?", False)
    return ConformReport(
        None, (), (row,), 0.0, f"kernel {kernel.release} could not be booted: {why}", kernel=kernel.release
    )


def save_records(path: Path, records: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
    """The guests' records, gzipped JSON `{"on": [...], "off": [...]}` (a recorded run)."""
    path.write_bytes(gzip.compress(json.dumps(records, sort_keys=True).encode(), mtime=0))


def load_records(path: Path) -> dict[str, list[dict[str, Any]]]:
    value: dict[str, list[dict[str, Any]]] = json.loads(gzip.decompress(path.read_bytes()))
    return value
