"""Text rendering of results, counterexamples, diagrams and savings (<= 80 columns
where a reviewer may paste it into a mailing-list reply)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from hvo_verify.check.result import CheckResult, Counterexample
from hvo_verify.model.accounting import Savings
from hvo_verify.model.vmemmap import Pte, VmemmapState, VmemmapView
from hvo_verify.report.diagram import page_runs
from hvo_verify.report.wrap import WIDTH, wrap
from hvo_verify.specs.schema import Spec
from hvo_verify.verdict import Verdict


def verdict_table(results: Sequence[CheckResult]) -> str:
    lines: list[str] = []
    spec = None
    for res in results:
        if res.spec != spec:
            spec = res.spec
            lines.append(f"{spec}")
        mark = "ok" if res.as_expected else f"MISMATCH (expected {res.expected.value if res.expected else 'nothing'})"
        lines.append(f"  {res.config:<18} {res.invariant:<18} {res.verdict.value:<15} {mark}")
        if res.verdict is Verdict.VIOLATED and res.counterexample:
            lines.append(f"      {res.counterexample.message}")
        elif res.verdict is Verdict.VIOLATED and res.trace is not None:
            lines.append(f"      {res.reason}")
            calls = " -> ".join(step.call() for step in res.trace.steps)
            lines += wrap(f"      trace: {calls}")
        elif res.verdict is Verdict.UNKNOWN:
            lines.append(f"      {res.reason}")
        elif res.verdict is Verdict.VACUOUS:
            lines += wrap(f"      {res.reason}")
    lines.append(summary_line(results))
    return "\n".join(lines) + "\n"


def summary_line(results: Sequence[CheckResult]) -> str:
    counts = {v: sum(1 for r in results if r.verdict is v) for v in Verdict}
    differ = sum(1 for r in results if not r.as_expected)
    specs = len({r.spec for r in results})
    # `vacuous` only when some proof was: the line keeps its shape otherwise.
    parts = ", ".join(f"{counts[v]} {v.value}" for v in Verdict if v is not Verdict.VACUOUS or counts[v])
    return f"{len(results)} checks in {specs} specs: {parts}; {differ} differ from expectation"


def counterexample_lines(cex: Counterexample) -> list[str]:
    where = ", ".join(f"{name}={value}" for name, value in cex.indices) or "the folio"
    out = [f"counterexample ({cex.invariant}, {where}), replayed on the concrete model:"]
    out += [f"  {line}" for line in cex.details]
    out.append(f"  => {cex.message}")
    return [wrapped for line in out for wrapped in wrap(line)]


def diagram(mem: VmemmapView, label: Callable[[Pte | None], str] | None = None, width: int = WIDTH) -> str:
    """willy's notation: one 8-letter group per vmemmap page, runs of identical pages
    written once with a count; then which frame backs each run.  `label` names frames
    (see page_runs); `width` is the row width (less than 80 when the caller indents)."""
    cfg = mem.config
    per_letter = max(1, cfg.page_size // cfg.struct_page_size // 8)
    runs = page_runs(mem, label)
    cells = [run.contents if run.first == run.last else f"{run.contents} x{run.last - run.first + 1}" for run in runs]
    if len(cells) > 12:
        cells = [*cells[:12], f"... {len(cells) - 12} more"]
    lines = [f"vmemmap of one {cfg.id} folio ({cfg.vmemmap_pages} pages; a letter = {per_letter} struct pages):"]
    row = ""
    for cell in cells:
        candidate = cell if not row else f"{row} | {cell}"
        if row and len(candidate) + 2 > width:
            lines.append(f"  {row} |")
            row = cell
        else:
            row = candidate
    lines.append(f"  {row}")
    for run in runs[:16]:
        pages = f"page {run.first}" if run.first == run.last else f"pages {run.first}-{run.last}"
        lines.append(f"  {pages:<14} -> {run.frame}")
    if len(runs) > 16:
        lines.append(f"  ... {len(runs) - 16} more runs")
    lines.append(f"  frames freed: {len(mem.freed)}, allocated: {len(mem.allocated)}")
    return "\n".join(lines) + "\n"


def savings_table(rows: Iterable[Savings]) -> str:
    out = [f"{'config':<18} {'scheme':<10} {'V':>5} {'freed':>6} {'alloc':>5} {'ptes':>4} {'net':>6}  pool saved"]
    for s in rows:
        if s.not_applicable:
            out.append(f"{s.config:<18} {s.scheme:<10} {s.vmemmap_pages:>5}  not applicable")
            continue
        pool = f"{_mib(s.pool_bytes_saved)} ({_mib(s.pool_bytes_saved_net)} net)" if s.pool_folios else "-"
        out.append(
            f"{s.config:<18} {s.scheme:<10} {s.vmemmap_pages:>5} {s.freed_pages:>6} {s.allocated_pages:>5} "
            f"{s.pagetable_pages:>4} {s.net_pages:>6}  {pool}"
        )
    return "\n".join(out) + "\n"


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB"


def explain_header(spec: Spec, *, break_on_hyphens: bool = True) -> list[str]:
    """The first lines of `explain`, static and operation specs alike: title, source,
    scheme, and the description wrapped (see wrap.wrap for `break_on_hyphens`)."""
    out = [
        spec.title,
        f"source: {spec.source}",
        f"scheme: {spec.scheme.name} ({spec.scheme.version}): {spec.scheme.summary}",
    ]
    if spec.description:
        out += wrap(spec.description, break_on_hyphens=break_on_hyphens)
    return out


def explain(
    spec: Spec, mem_by_config: Sequence[tuple[str, VmemmapState | None, str]], results: Sequence[CheckResult]
) -> str:
    out = explain_header(spec)
    for config, mem, na in mem_by_config:
        out.append("")
        if mem is None:
            out.append(f"{config}: not applicable: {na}")
            continue
        out += diagram(mem).rstrip("\n").splitlines()
    out.append("")
    shown: set[str] = set()
    for res in results:
        if res.verdict is Verdict.PROVED and res.config not in shown:
            shown.add(res.config)
            out.append(f"{res.config}: every proof below assumes")
            out += [f"  - {text}" for text in res.assumptions[:-1]]
        out.append(
            f"{res.config} {res.invariant}: {res.verdict.value}"
            + ("" if res.as_expected else f" (expected {res.expected.value if res.expected else '?'})")
        )
        if res.counterexample:
            out += counterexample_lines(res.counterexample)
        elif res.verdict is Verdict.PROVED and res.assumptions:
            out.append(f"  {res.assumptions[-1]}")
        elif res.reason:
            out.append(f"  {res.reason}")
    if spec.answer:
        out.append("")
        out.append("answer:")
        out += [f"  {line}" for para in spec.answer.strip().splitlines() for line in (wrap(para) if para else [""])]
    return "\n".join(_wrap_all(out)) + "\n"


def _wrap_all(lines: list[str]) -> list[str]:
    return [w for line in lines for w in (wrap(line) if len(line) > WIDTH else [line])]
