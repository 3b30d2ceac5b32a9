# SPDX-License-Identifier: GPL-2.0-only
"""JSON version 2 (report/json_out.py): addresses as hex strings that a reader of
doubles keeps, tool versions, timings apart and ignored by comparisons, one shape for
`savings`, trace file names unique per spec path."""

from __future__ import annotations

import dataclasses
import io
import json
import pathlib

import pytest

from hvo_verify import __version__, cli
from hvo_verify.check.result import CheckResult
from hvo_verify.model.config import parse_config_id
from hvo_verify.model.policy import default_policies
from hvo_verify.model.scheme import preset
from hvo_verify.ops.trace import Trace, TraceStep
from hvo_verify.report.json_out import comparable, results_document, trace_file_name, traces_to_save
from hvo_verify.verdict import Verdict

ROOT = pathlib.Path(__file__).resolve().parents[2]
# vmemmap_base_align = 64: the counterexample's base 0xffd4000000000040 needs 58 bits
UNALIGNED = str(ROOT / "specs/must-catch/v6.2-vmemmap-not-page-aligned.toml")


def run(*argv: str) -> tuple[str, int]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(list(argv), out, err)
    assert err.getvalue() == ""
    return out.getvalue(), code


@pytest.fixture(scope="module")
def unaligned() -> str:
    return run("check", UNALIGNED, "--jobs", "1", "--format", "json")[0]


def test_addresses_round_trip_through_a_parser_of_doubles(unaligned: str) -> None:
    exact, doubles = json.loads(unaligned), json.loads(unaligned, parse_int=float)
    cex = exact["results"][0]["counterexample"]
    assert cex["vmemmap_base"] == "0xffd4000000000040" and cex["head_pfn"] == "0x200"
    assert float(0xFFD4000000000040) != 0xFFD4000000000040  # what version 1's number lost
    for a, b in zip(exact["results"], doubles["results"], strict=True):
        assert a["counterexample"] == b["counterexample"]
    # nothing else in the document is a number a double cannot hold
    assert doubles == exact


def test_version_tool_and_timings(unaligned: str) -> None:
    doc = json.loads(unaligned)
    assert list(doc)[:2] == ["version", "tool"] and doc["version"] == 2
    assert doc["tool"]["hvo-verify"] == __version__ and doc["tool"]["z3"].count(".") >= 2
    assert len(doc["timings"]["solver_seconds"]) == len(doc["results"])
    assert all("seconds" not in key for res in doc["results"] for key in res)


def test_comparable_ignores_timings_and_nothing_else(unaligned: str) -> None:
    doc = json.loads(unaligned)
    slower = json.dumps({**doc, "timings": {"solver_seconds": [99.0] * len(doc["results"])}}, indent=2)
    assert comparable(slower) == comparable(unaligned)
    assert "timings" not in json.loads(comparable(unaligned))
    changed = json.loads(unaligned)
    changed["results"][0]["verdict"] = "proved"
    assert comparable(json.dumps(changed)) != comparable(unaligned)


@pytest.mark.parametrize("config", ["x86-64/4K/1G", "all"])
def test_savings_is_always_a_list(config: str) -> None:
    out, code = run("savings", "--scheme", "rfc-2020", "--config", config, "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["version"] == 2 and isinstance(doc["savings"], list) and doc["savings"]


def _violated(spec: str) -> CheckResult:
    config = parse_config_id("x86-64/4K/2M")[0]
    scheme = preset("v6.2")
    trace = Trace(config.id, scheme, default_policies(scheme), config.nr_pages, config.default_vmemmap_base,
                  config.page_size, 512, (TraceStep("hugetlb_vmemmap_optimize_folio", (("alloc_ok", True),)),),
                  "refcount")  # fmt: skip
    return CheckResult(spec, config.id, "refcount", Verdict.VIOLATED, Verdict.VIOLATED, trace=trace, scheme="v6.2")


def test_trace_names_are_unique_per_spec_path() -> None:
    """ux-review.md §4: two x.toml in different folders wrote one file, the second over the first."""
    a, b = _violated("one/x.toml"), _violated("two/x.toml")
    assert trace_file_name(a) != trace_file_name(b)
    assert trace_file_name(a).startswith("x-") and trace_file_name(a).endswith(".x86-64_4K_2M.refcount.json")
    assert len(traces_to_save([a, b])) == 2
    assert len(traces_to_save([a, a])) == 1  # the same spec given twice: one file
    assert a.trace is not None
    other = dataclasses.replace(a, trace=dataclasses.replace(a.trace, invariant="dma-exact"))
    with pytest.raises(ValueError, match="two different traces"):
        traces_to_save([a, other])


def test_results_document_of_nothing() -> None:
    doc = json.loads(results_document([]))
    assert doc["results"] == [] and doc["timings"] == {"solver_seconds": [], "queries": []}
