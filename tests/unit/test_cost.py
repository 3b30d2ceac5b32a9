# SPDX-License-Identifier: GPL-2.0-only
"""The cost of a spec up front (check/cost.py, issue 15 item 3): the estimate grows with
depth and operations, a spec over ten times the budget is refused with one line naming
the estimate and the knobs, a spec over the budget runs within it (unknown, never a
verdict, once it is spent), and no shipped spec is budgeted or refused."""

from __future__ import annotations

import dataclasses
import io
import pathlib

import pytest

from hvo_verify import cli
from hvo_verify.check import bmc, cost
from hvo_verify.check.suite import check_specs, spec_jobs
from hvo_verify.errors import SpecError
from hvo_verify.specs.loader import load_specs, parse_spec
from hvo_verify.verdict import Verdict

ROOT = pathlib.Path(__file__).resolve().parents[2]

# The spec of issue 15 that ran 11 minutes and 11.7 GB before it was killed ([ops] last).
EVERY_OP = (ROOT / "bench" / "every-op.toml").read_text(encoding="utf-8")


def every_op(extra: str = "") -> str:
    return f"{EVERY_OP}{extra}\n"


def test_no_shipped_spec_is_budgeted_or_refused() -> None:
    """The estimate is an upper envelope of the shipped specs' cost: none of them runs
    under a budget (their verdicts cannot depend on the clock)."""
    specs = load_specs([str(ROOT / "specs")])
    costs = {spec.unit: cost.estimate(spec) for spec in specs}
    assert max(c.seconds for c in costs.values()) < cost.TARGET_S
    assert not any(c.budgeted or c.refused for c in costs.values())
    assert all(job.budget_s == 0 for spec in specs for job in spec_jobs(spec) if isinstance(job, bmc.OpsJob))


def test_estimate_grows_with_depth_operations_and_invariants() -> None:
    base = cost.estimate(parse_spec(every_op(), "every.toml")).seconds
    assert cost.estimate(parse_spec(every_op("depth = 8"), "every.toml")).seconds > 2 * base
    fewer = every_op().replace('run = ["all"]', 'run = ["hugetlb_vmemmap_optimize_folio", "memory_failure"]')
    assert cost.estimate(parse_spec(fewer, "every.toml")).seconds < base / 10
    bounded = cost.estimate(parse_spec(every_op("max_calls = {memory_failure = 1, page_add_file_rmap = 1}"), "e.toml"))
    assert bounded.seconds < base
    one_inv = every_op().replace("[expect]", 'invariants = ["refcount"]\n[expect]')
    assert cost.estimate(parse_spec(one_inv, "every.toml")).seconds == pytest.approx(base / 11)


def test_the_issue_spec_is_budgeted_and_deeper_ones_are_refused() -> None:
    six = cost.estimate(parse_spec(every_op(), "every.toml"))
    assert six.budgeted and not six.refused
    deep = parse_spec(every_op("depth = 12"), "deep.toml")
    assert cost.estimate(deep).refused
    with pytest.raises(SpecError) as caught:
        check_specs([deep], workers=1)
    line = caught.value.line()
    assert "\n" not in line and line.startswith("deep.toml: ops: estimated cost ")
    for knob in ("ops.depth", "ops.run", "ops.max_calls"):
        assert knob in line


def test_refusal_is_one_line_from_the_cli(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "deep.toml"
    path.write_text(every_op("depth = 12"), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    assert cli.run(["check", str(path)], out, err) == cli.EXIT_ERROR
    assert out.getvalue() == "" and err.getvalue().count("\n") == 1 and "estimated cost" in err.getvalue()


def test_a_spent_budget_gives_unknown_with_the_knobs_never_a_verdict() -> None:
    """A spec that is proved without a budget (quickly) comes back unknown with a spent
    one: the budget is enforced, and it never turns into a verdict."""
    spec = load_specs([str(ROOT / "specs/regressions/2025-page3-reset-fixed.toml")])[0]
    job = spec_jobs(spec)[0]
    assert isinstance(job, bmc.OpsJob)
    bmc.UNROLLINGS.clear()
    assert bmc.run_ops(job).verdict is Verdict.PROVED
    spent = bmc.run_ops(dataclasses.replace(job, budget_s=1e-9))
    assert spent.verdict is Verdict.UNKNOWN
    assert "cost budget" in spent.reason and "ops.depth" in spent.reason
    bmc.UNROLLINGS.clear()
