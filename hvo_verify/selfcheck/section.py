# SPDX-License-Identifier: GPL-2.0-only
"""`Section`: what one part of the self-check returns (selfcheck/report.py prints it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Section:
    """One part of the self-check: its figures and, when it failed, why."""

    name: str  # e.g. "mutation", "differential", "fuzz"
    ok: bool
    figures: tuple[tuple[str, int | float | str], ...]  # ("kill rate", "27/27 (100%)"), ...
    failures: tuple[str, ...] = ()  # one line each, in kernel/checker terms
    details: tuple[tuple[str, str], ...] = ()  # optional rows for --verbose/json (e.g. mutant -> killer)
