# SPDX-License-Identifier: GPL-2.0-only
"""Versioned JSON documents (`{"version": 1, ...}`) for tools, and the trace files of
`check --save-traces` (their names and text; `replay` reads them, specs/tracefile.py)."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Sequence
from dataclasses import asdict

from hvo_verify.check.result import CheckResult
from hvo_verify.model.accounting import Savings
from hvo_verify.verdict import Verdict

VERSION = 1


def results_document(results: Sequence[CheckResult]) -> str:
    return json.dumps({"version": VERSION, "results": [r.to_json() for r in results]}, indent=2, sort_keys=False) + "\n"


def trace_file_name(result: CheckResult) -> str:
    """`<spec-stem>.<config id, / -> _>.<invariant>.json`; for a spec that sweeps
    schemes, `<spec-stem>.<scheme>.<config id, / -> _>.<invariant>.json`."""
    stem = pathlib.PurePath(result.spec).stem
    scheme = f".{result.scheme}" if result.sweep else ""
    return f"{stem}{scheme}.{result.config.replace('/', '_')}.{result.invariant}.json"


def traces_to_save(results: Sequence[CheckResult]) -> list[tuple[str, str]]:
    """(file name, JSON text) of every violated operation result's trace."""
    return [
        (trace_file_name(r), json.dumps(r.trace.to_json(), indent=2) + "\n")
        for r in results
        if r.verdict is Verdict.VIOLATED and r.trace is not None
    ]


def savings_document(rows: Sequence[Savings]) -> str:
    items = [asdict(s) for s in rows]
    body: object = items[0] if len(items) == 1 else items
    return json.dumps({"version": VERSION, "savings": body}, indent=2) + "\n"
