# SPDX-License-Identifier: GPL-2.0-only
"""Interleaving traces: one column per CPU, like an LKMM witness, pasteable into a reply.

Each row is one atomic step, numbered, in the column of the CPU that took it; the step
that breaks the invariant is marked `<-`.  Step ids are short; the legend below the
table gives the kernel statement each stands for.  Everything fits `width` columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hvo_verify.check.result import CheckResult
from hvo_verify.check.smp_enumerate import Step
from hvo_verify.invariants.smp import SMP_WITNESSES
from hvo_verify.report.wrap import text_width, wrap, wrap_lines
from hvo_verify.verdict import Verdict

STALE = "*"  # after a step id: the step went through a stale TLB entry (the choice the hardware made)


def schedule_table(schedule: Sequence[Step], cpus: Sequence[str], width: int | None = None) -> list[str]:
    """A replayed schedule, one column per CPU (`cpus`: "NAME: what it runs"), `width`
    columns (default text_width())."""
    width = width or text_width()
    n = len(cpus)
    if not n or not schedule:
        return []
    number = len(str(len(schedule))) + 1
    col = max(12, (width - number - 2) // n)
    names = [label.split(":", 1)[0] for label in cpus]
    out = [" " * number + " " + "".join(name.ljust(col) for name in names).rstrip()]
    out.append(" " * number + " " + "".join(("-" * (col - 2)).ljust(col) for _ in names).rstrip())
    last = len(schedule) - 1
    for k, step in enumerate(schedule):
        cell = step.step + (STALE if any("stale" in note for note in step.notes) else "")
        mark = " <-" if k == last else ""
        cells = ["" for _ in names]
        cells[step.cpu] = (cell + mark)[: col - 1]
        out.append(f"{k + 1:>{number}} " + "".join(c.ljust(col) for c in cells).rstrip())
    return out


def witness(
    schedule: Sequence[Step], cpus: Sequence[str], legend: Sequence[tuple[str, str]], width: int | None = None
) -> list[str]:
    """The table, what the last step broke, and the legend of the step ids it uses."""
    out = schedule_table(schedule, cpus, width)
    for note in schedule[-1].notes:
        out += wrap(f"  {note}")
    used = {s.step for s in schedule}
    out.append("legend:")
    for step, cite in legend:
        if step in used:
            out += wrap(f"  {step}: {cite}")
    if any(STALE in line for line in out[: len(schedule) + 2]):
        out.append(f"  {STALE}: the step used a TLB entry that no longer matches the PTE")
    return out


def explore_report(title: Sequence[str], rows: Sequence[ExploreRow], examples: int, seed: int) -> str:
    """`explore` of an interleaving spec: per (config, invariant), the shrunk schedule
    Hypothesis found, or that none was found (exploration is not exhaustive)."""
    out = [*title, f"explored {examples} random schedules per invariant (seed {seed}), shrunk"]
    for row in rows:
        out.append("")
        expected = row.expected.value if row.expected else "nothing"
        if row.not_applicable:
            out += wrap(f"{row.config} {row.invariant}: not applicable: {row.not_applicable}")
        elif row.schedule:
            out.append(
                f"{row.config} {row.invariant}: violation found ({len(row.schedule)} steps; expected {expected})"
            )
            out += witness(row.schedule, row.cpus, row.legend)
        else:
            out.append(f"{row.config} {row.invariant}: none found (expected {expected}; `check` proves or refutes)")
    return "\n".join(out) + "\n"


@dataclass(frozen=True, slots=True)
class ExploreRow:
    config: str
    invariant: str
    expected: Verdict | None
    schedule: tuple[Step, ...] = ()
    cpus: tuple[str, ...] = ()
    legend: tuple[tuple[str, str], ...] = ()
    not_applicable: str = ""


def explain_smp(title: Sequence[str], results: Sequence[CheckResult], width: int | None = None) -> str:
    """`explain` of an interleaving spec: per invariant its verdict, and for a violation
    the per-CPU table, what broke, and the legend of the step ids used."""
    out = wrap_lines(list(title), break_on_hyphens=False)
    shown_cpus = False
    for res in results:
        out.append("")
        expected = "" if res.as_expected or res.expected is None else f" (expected {res.expected.value})"
        out.append(f"{res.config} {res.invariant}: {res.verdict.value}{expected}")
        if res.cpus and not shown_cpus:
            shown_cpus = True
            out += [f"  {label}" for label in res.cpus]
        if res.verdict is Verdict.VIOLATED and res.schedule:
            table = witness(res.schedule, res.cpus, res.legend)
            if res.reason and not any("VIOLATION" in note for note in res.schedule[-1].notes):
                at = table.index("legend:")
                table[at:at] = wrap(f"  {res.reason}")
            out += table
        elif res.verdict is Verdict.PROVED:
            out += [line for a in res.assumptions for line in wrap(f"  - {a}")]
            out += smp_witness_lines(res)
        elif res.reason:
            out += wrap(f"  {res.reason}")
    return "\n".join(out) + "\n"


def smp_witness_lines(res: CheckResult) -> list[str]:
    """Under a proved interleaving check: its witness (the invariant's event) and the
    schedule that reaches it, replayed (check/smp.py replay_witness())."""
    if not res.witness_schedule:
        return []
    steps = " -> ".join(f"{res.cpus[s.cpu].split(':', 1)[0]}:{s.step}" for s in res.witness_schedule)
    summary = SMP_WITNESSES.get(res.witness_id, res.witness_id)
    return [*wrap(f"  witness: {summary}"), *wrap(f"  reached: {steps}")]
