# SPDX-License-Identifier: GPL-2.0-only
"""`hvo-verify conform` output: per kernel, the preset it maps to, the boots, and the table
`scenario | model predicts | kernel shows | agree`, and with --discrimination which
alternative models each row rejects; as text or versioned JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from hvo_verify.conform import ConformReport
from hvo_verify.conform.compare import Row
from hvo_verify.conform.discrimination import Discrimination
from hvo_verify.report.json_out import VERSION

AGREE = {True: "yes", False: "NO", None: "n/a"}


def _table(rows: tuple[Row, ...]) -> list[str]:
    head = ("scenario", "model predicts", "kernel shows", "agree")
    cells = [(r.scenario, r.predicts, r.shows, AGREE[r.agree] + (f" ({r.note})" if r.note and r.agree is not True else ""))
             for r in rows]  # fmt: skip
    widths = [max(len(c[i]) for c in [head, *cells]) for i in range(3)]
    lines = []
    for c in [head, *cells]:
        lines.append(" | ".join(c[i].ljust(widths[i]) for i in range(3)) + " | " + c[3])
        if c is head:
            lines.append("-+-".join("-" * w for w in widths) + "-+------")
    return lines


def _report_text(report: ConformReport) -> str:
    lines: list[str] = []
    facts = report.facts
    if facts is not None:
        lines.append(f"kernel {facts.release} (upstream {facts.version}) -> model preset {facts.preset}: {facts.why}")
    elif report.kernel:
        lines.append(f"kernel {report.kernel}")
    for b in report.boots:
        lines.append(
            f"boot hugetlb_free_vmemmap={b.hvo}: {b.seconds:.1f} s ({b.accel}), {b.records} records, {b.exit_reason}"
        )
        if b.console_tail:
            lines += ["  console (last lines):", *("    " + t for t in b.console_tail.splitlines()[-12:])]
    if report.error is not None:
        lines.append(f"error: {report.error}")
    if report.rows:
        lines.append("")
        lines += _table(report.rows)
        lines.append("")
    agree = sum(1 for r in report.rows if r.agree is True)
    na = sum(1 for r in report.rows if r.agree is None)
    lines.append(
        f"{len(report.rows)} observations: {agree} agree, {report.disagreements} disagree, {na} not observable; "
        f"{report.seconds:.1f} s"
    )
    return "\n".join(lines) + "\n"


def discrimination_text(d: Discrimination) -> str:
    """Per row the alternatives it rejects ("sanity" when none), then per alternative
    how many rows reject it."""
    lines = [f"discrimination: kernel {d.facts.release} -> {d.facts.preset}, against "
             + ", ".join(a.name for a in d.alternatives)]  # fmt: skip
    width = max((len(r.row.scenario) for r in d.rows), default=8)
    lines.append(f"{'scenario'.ljust(width)} | rejects")
    lines.append("-" * width + "-+--------")
    for r in d.rows:
        lines.append(f"{r.row.scenario.ljust(width)} | {', '.join(r.rejects) if r.rejects else 'sanity row'}")
    lines.append("")
    for a in d.alternatives:
        lines.append(f"  {a.name:<22} ({a.kind}): rejected by {len(d.rejecting(a.name))} row(s)")
    lines.append(
        f"{d.discriminating} of {len(d.rows)} rows ({100 * d.fraction:.0f}%) reject at least one alternative; "
        f"{len(d.rows) - d.discriminating} sanity rows"
        + (f"; no row rejects {', '.join(d.unrejected)}" if d.unrejected else "")
    )
    return "\n".join(lines) + "\n"


def conform_text(
    reports: ConformReport | Sequence[ConformReport], discrimination: Sequence[Discrimination | None] | None = None
) -> str:
    """One table per kernel (and its discrimination report when given)."""
    many = [reports] if isinstance(reports, ConformReport) else list(reports)
    parts = []
    for i, report in enumerate(many):
        text = _report_text(report)
        d = discrimination[i] if discrimination is not None else None
        if d is not None:
            text += "\n" + discrimination_text(d)
        parts.append(text)
    return "\n".join(parts)


def _discrimination_doc(d: Discrimination) -> dict[str, Any]:
    return {
        "alternatives": [
            {"name": a.name, "kind": a.kind, "rejected_by": list(d.rejecting(a.name))} for a in d.alternatives
        ],  # fmt: skip
        "rows": [{"scenario": r.row.scenario, "rejects": list(r.rejects), "sanity": r.sanity} for r in d.rows],
        "discriminating": d.discriminating,
        "fraction": round(d.fraction, 4),
    }


def _report_doc(report: ConformReport, d: Discrimination | None) -> dict[str, Any]:
    facts = report.facts
    doc: dict[str, Any] = {
        "kernel": None
        if facts is None
        else {"release": facts.release, "upstream": facts.version, "preset": facts.preset, "why": facts.why},
        "boots": [asdict(b) for b in report.boots],
        "rows": [asdict(r) for r in report.rows],
        "disagreements": report.disagreements,
        "ok": report.ok,
        "seconds": round(report.seconds, 1),
        "error": report.error,
    }
    if d is not None:
        doc["discrimination"] = _discrimination_doc(d)
    return doc


def conform_document(
    reports: ConformReport | Sequence[ConformReport], discrimination: Sequence[Discrimination | None] | None = None
) -> str:
    """`{"version": 1, "kernels": [...]}`, and `"conform"`: the only kernel's, when one."""
    many = [reports] if isinstance(reports, ConformReport) else list(reports)
    kernels = [_report_doc(r, discrimination[i] if discrimination is not None else None) for i, r in enumerate(many)]
    doc: dict[str, Any] = {"version": VERSION, "kernels": kernels}
    if len(kernels) == 1:
        doc["conform"] = kernels[0]
    return json.dumps(doc, indent=2) + "\n"
