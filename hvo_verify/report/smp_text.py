"""Interleaving traces: one column per CPU, like an LKMM witness, pasteable into a reply.

Each row is one atomic step, numbered, in the column of the CPU that took it; the step
that breaks the invariant is marked `<-`.  Step ids are short; the legend below the
table gives the kernel statement each stands for.  Everything fits `width` columns.
"""

from __future__ import annotations

from collections.abc import Sequence

from hvo_verify.check.result import CheckResult
from hvo_verify.report.wrap import WIDTH, wrap
from hvo_verify.verdict import Verdict

STALE = "*"  # after a step id: the step went through a stale TLB entry (the choice the hardware made)


def schedule_table(res: CheckResult, width: int = WIDTH) -> list[str]:
    """The replayed schedule of a violated interleaving check, one column per CPU."""
    n = len(res.cpus)
    if not n or not res.schedule:
        return []
    number = len(str(len(res.schedule))) + 1
    col = max(12, (width - number - 2) // n)
    names = [label.split(":", 1)[0] for label in res.cpus]
    out = [" " * number + " " + "".join(name.ljust(col) for name in names).rstrip()]
    out.append(" " * number + " " + "".join(("-" * (col - 2)).ljust(col) for _ in names).rstrip())
    last = len(res.schedule) - 1
    for k, step in enumerate(res.schedule):
        cell = step.step + (STALE if any("stale" in note for note in step.notes) else "")
        mark = " <-" if k == last else ""
        cells = ["" for _ in names]
        cells[step.cpu] = (cell + mark)[: col - 1]
        out.append(f"{k + 1:>{number}} " + "".join(c.ljust(col) for c in cells).rstrip())
    return out


def explain_smp(title: Sequence[str], results: Sequence[CheckResult], width: int = WIDTH) -> str:
    """`explain` of an interleaving spec: per invariant its verdict, and for a violation
    the per-CPU table, what broke, and the legend of the step ids used."""
    out = list(title)
    shown_cpus = False
    for res in results:
        out.append("")
        expected = "" if res.as_expected else f" (expected {res.expected.value if res.expected else 'nothing'})"
        out.append(f"{res.config} {res.invariant}: {res.verdict.value}{expected}")
        if res.cpus and not shown_cpus:
            shown_cpus = True
            out += [f"  {label}" for label in res.cpus]
        if res.verdict is Verdict.VIOLATED and res.schedule:
            out += schedule_table(res)
            for note in res.schedule[-1].notes:
                out += wrap(f"  {note}")
            used = {s.step for s in res.schedule}
            stale = any(STALE in line for line in out)
            out.append("legend:")
            for step, cite in res.legend:
                if step in used:
                    out += wrap(f"  {step}: {cite}")
            if stale:
                out.append(f"  {STALE}: the step used a TLB entry that no longer matches the PTE")
        elif res.verdict is Verdict.PROVED:
            out += [line for a in res.assumptions for line in wrap(f"  - {a}")]
        elif res.reason:
            out += wrap(f"  {res.reason}")
    return "\n".join(out) + "\n"
