"""Versioned JSON documents (`{"version": 1, ...}`) for tools."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict

from hvo_verify.check.result import CheckResult
from hvo_verify.model.accounting import Savings

VERSION = 1


def results_document(results: Sequence[CheckResult]) -> str:
    return json.dumps({"version": VERSION, "results": [r.to_json() for r in results]}, indent=2, sort_keys=False) + "\n"


def savings_document(rows: Sequence[Savings]) -> str:
    items = [asdict(s) for s in rows]
    body: object = items[0] if len(items) == 1 else items
    return json.dumps({"version": VERSION, "savings": body}, indent=2) + "\n"
