# SPDX-License-Identifier: GPL-2.0-only
"""Versioned JSON documents for tools, and the trace files of `check --save-traces`
(their names and text; `replay` reads them, specs/tracefile.py).

Version 2 (README "JSON documents"): `"version": 2` first, `"tool"` (hvo-verify and z3
versions), the payload, and any wall or solver times only in `"timings"`, which
`comparable()` drops: every comparison of two documents (the determinism self-check,
the golden files) compares what `comparable()` leaves.  Addresses and pfns are hex
strings (a double keeps 53 bits); `savings` is always a list.  Version 1 readers: the
payload keys are the same ones.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
from collections.abc import Sequence
from dataclasses import asdict

from hvo_verify import __version__
from hvo_verify.check.result import CheckResult
from hvo_verify.check.solver import z3_version
from hvo_verify.model.accounting import Savings
from hvo_verify.verdict import Verdict

VERSION = 2
TIMINGS = "timings"  # the one key comparisons ignore


def tool() -> dict[str, str]:
    """What wrote the document: the versions a reader needs to rerun it."""
    return {"hvo-verify": __version__, "z3": z3_version()}


def _document(payload: dict[str, object], timings: dict[str, object] | None = None) -> str:
    doc: dict[str, object] = {"version": VERSION, "tool": tool(), **payload}
    if timings is not None:
        doc[TIMINGS] = timings
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"


def results_document(results: Sequence[CheckResult]) -> str:
    """`check --format json`; `timings.solver_seconds[n]` is the solver time of `results[n]`."""
    timings: dict[str, object] = {
        "solver_seconds": [round(r.solver_seconds, 3) for r in results],
        "queries": [r.queries for r in results],
    }
    return _document({"results": [r.to_json() for r in results]}, timings)


def comparable(text: str) -> str:
    """A JSON document without its timings: what two runs must agree on byte for byte."""
    doc = json.loads(text)
    if isinstance(doc, dict):
        doc.pop(TIMINGS, None)
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"


def trace_file_name(result: CheckResult) -> str:
    """`<spec-stem>-<8 hex digits of the spec path's sha256>.<config id, / -> _>.<invariant>.json`
    (with `.<scheme>` after the digits for a spec that sweeps schemes): two specs of the
    same file name in different folders get different names."""
    path = pathlib.PurePath(result.spec)
    digest = hashlib.sha256(path.as_posix().encode("utf-8")).hexdigest()[:8]
    scheme = f".{result.scheme}" if result.sweep else ""
    return f"{path.stem}-{digest}{scheme}.{result.config.replace('/', '_')}.{result.invariant}.json"


def traces_to_save(results: Sequence[CheckResult]) -> list[tuple[str, str]]:
    """(file name, JSON text) of every violated operation result's trace, each name once
    (the same spec given twice saves its trace once; two different traces under one
    name would silently overwrite each other: that raises ValueError instead)."""
    saved: dict[str, str] = {}
    for r in results:
        if r.verdict is not Verdict.VIOLATED or r.trace is None:
            continue
        name, doc = trace_file_name(r), json.dumps(r.trace.to_json(), indent=2) + "\n"
        if saved.setdefault(name, doc) != doc:
            raise ValueError(f"two different traces would be saved as {name}")
    return list(saved.items())


def savings_document(rows: Sequence[Savings]) -> str:
    """`savings --format json`: `savings` is a list, one object per (scheme, config), however many."""
    return _document({"savings": [asdict(s) for s in rows]})
