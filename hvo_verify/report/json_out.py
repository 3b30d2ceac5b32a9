"""Versioned JSON documents (`{"version": 1, ...}`) for tools."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict

from hvo_verify.check.result import CheckResult
from hvo_verify.model.accounting import Savings
from hvo_verify.selfcheck import Section

VERSION = 1


def results_document(results: Sequence[CheckResult]) -> str:
    return json.dumps({"version": VERSION, "results": [r.to_json() for r in results]}, indent=2, sort_keys=False) + "\n"


def savings_document(rows: Sequence[Savings]) -> str:
    items = [asdict(s) for s in rows]
    body: object = items[0] if len(items) == 1 else items
    return json.dumps({"version": VERSION, "savings": body}, indent=2) + "\n"


def selfcheck_document(sections: Sequence[tuple[Section, float]]) -> str:
    """`hvo-verify selfcheck --format json`: `{"version": 1, "ok", "seconds", "sections":
    [{"name", "ok", "seconds", "figures", "failures", "details"}]}`, figures as an
    object in the section's order, details as [what, value] pairs."""
    doc = {
        "version": VERSION,
        "ok": all(s.ok for s, _t in sections),
        "seconds": round(sum(t for _s, t in sections), 3),
        "sections": [
            {
                "name": s.name,
                "ok": s.ok,
                "seconds": round(t, 3),
                "figures": dict(s.figures),
                "failures": list(s.failures),
                "details": [list(row) for row in s.details],
            }
            for s, t in sections
        ],
    }
    return json.dumps(doc, indent=2) + "\n"
