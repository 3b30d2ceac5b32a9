"""`hvo-verify conform` output: the kernel, the preset it maps to, the boots, and the table
`scenario | model predicts | kernel shows | agree`, as text or versioned JSON."""

from __future__ import annotations

import json
from dataclasses import asdict

from hvo_verify.conform import ConformReport
from hvo_verify.conform.compare import Row
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


def conform_text(report: ConformReport) -> str:
    lines: list[str] = []
    facts = report.facts
    if facts is not None:
        lines.append(f"kernel {facts.release} (upstream {facts.version}) -> model preset {facts.preset}: {facts.why}")
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


def conform_document(report: ConformReport) -> str:
    facts = report.facts
    doc = {
        "version": VERSION,
        "conform": {
            "kernel": None
            if facts is None
            else {"release": facts.release, "upstream": facts.version, "preset": facts.preset, "why": facts.why},
            "boots": [asdict(b) for b in report.boots],
            "rows": [asdict(r) for r in report.rows],
            "disagreements": report.disagreements,
            "ok": report.ok,
            "seconds": round(report.seconds, 1),
            "error": report.error,
        },
    }
    return json.dumps(doc, indent=2) + "\n"
