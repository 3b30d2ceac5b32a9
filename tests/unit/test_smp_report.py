# SPDX-License-Identifier: GPL-2.0-only
"""The per-CPU trace of an interleaving violation: one column per CPU, inside 80
columns, the breaking step marked, a legend of exactly the step ids used."""

from __future__ import annotations

from hvo_verify.check.result import CheckResult
from hvo_verify.check.smp_enumerate import enumerate_all
from hvo_verify.check.smp_job import describe
from hvo_verify.ops.smp import build
from hvo_verify.ops.smp_table import PROTOCOLS, CpuSpec
from hvo_verify.report.smp_text import explain_smp, schedule_table
from hvo_verify.verdict import Verdict

CPUS = (
    CpuSpec("CPU0", "get_page_unless_zero", page=1),
    CpuSpec("CPU1", "prep_new_hugetlb_folio", page=1),
    CpuSpec("CPU2", "memory_failure", page=1),
)


def violation(n: int, era: str = "v6.8", invariant: str = "ro-write") -> CheckResult:
    system = build(CPUS[:n], PROTOCOLS[era], folios=1, nr_vpages=2)
    schedule = enumerate_all(system).violations[invariant]
    cpus, legend = describe(system)
    return CheckResult("s.toml", "x86-64/4K/2M", invariant, Verdict.VIOLATED, Verdict.VIOLATED, schedule=schedule,
                       cpus=cpus, legend=legend)  # fmt: skip


def test_two_and_three_cpus_fit_80_columns_with_the_breaking_step_marked() -> None:
    for n in (2, 3):
        res = violation(n)
        table = schedule_table(res.schedule, res.cpus)
        assert all(len(line) <= 80 for line in table), table
        assert table[0].split() == [f"CPU{k}" for k in range(n)]
        assert len(table) == 2 + len(res.schedule)
        assert table[-1].rstrip().endswith("<-") and sum("<-" in line for line in table) == 1
        last = res.schedule[-1]
        column = table[-1].index(last.step)
        assert column == table[0].index(f"CPU{last.cpu}")


def test_the_explanation_names_the_cpus_the_violation_and_only_the_steps_used() -> None:
    res = violation(2)
    text = explain_smp(["title"], [res])
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "CPU0: get_page_unless_zero(folio 0, page 1)" in text
    assert "VIOLATION ro-write" in text
    legend = text[text.index("legend:") :].splitlines()[1:]
    ids = {line.split(":", 1)[0].strip() for line in legend if line.startswith("  ") and not line.startswith("    ")}
    assert ids - {"*"} == {s.step for s in res.schedule}
