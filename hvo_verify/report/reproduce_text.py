# SPDX-License-Identifier: GPL-2.0-only
"""The reproducers' outcomes per kernel, as a table (conform --reproducers)."""

from __future__ import annotations

from collections.abc import Sequence

from hvo_verify.reproduce.run import Outcome


def outcomes_text(outcomes: Sequence[Outcome]) -> str:
    """One line per (reproducer, kernel): what it did, what was expected, and for a
    failure the first failing KTAP line; then a summary."""
    lines = []
    for o in outcomes:
        mark = "ok  " if o.as_expected else "DIFF"
        expected = o.expected or "pass"
        lines.append(f"{mark} {o.kernel:<22} {o.status:<5} (expected {expected:<4}) {o.name}")
        if o.document is not None and not o.as_expected:
            for r in o.document.results:
                if not r.ok:
                    lines.append(f"       not ok {r.number} {r.name}")
                    break
    differ = sum(not o.as_expected for o in outcomes)
    lines.append(f"{len(outcomes)} reproducer runs, {differ} differ from their expectation")
    return "\n".join(lines) + "\n"
