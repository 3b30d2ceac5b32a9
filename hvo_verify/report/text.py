# SPDX-License-Identifier: GPL-2.0-only
"""Text rendering of results, counterexamples, diagrams and savings (<= 80 columns
where a reviewer may paste it into a mailing-list reply)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from hvo_verify.check.result import CheckResult, Counterexample
from hvo_verify.model.accounting import Savings
from hvo_verify.model.vmemmap import Pte, VmemmapState, VmemmapView
from hvo_verify.report.diagram import page_runs
from hvo_verify.report.wrap import text_width, wrap, wrap_lines
from hvo_verify.specs.schema import Spec
from hvo_verify.verdict import Verdict


def verdict_table(results: Sequence[CheckResult], summary: Sequence[CheckResult] | None = None) -> str:
    """One block per spec file, in result order: a row per (config, invariant), or for a
    spec that sweeps schemes, a table with one column of verdicts per scheme; then the
    summary line of `summary` (default: `results`; `check --quiet` shows only some)."""
    lines: list[str] = []
    for group in _by_spec(results):
        if group[0].sweep:
            lines += sweep_table(group)
            continue
        lines.append(f"{group[0].spec}")
        for res in group:
            mark = "ok" if res.as_expected else f"MISMATCH (expected {_expected(res)})" if differs(res) else ""
            row = f"  {res.config:<18} {res.invariant:<18} {res.verdict.value:<15} {mark}"
            if len(row) > text_width():  # the columns' padding goes first, then it wraps
                row = f"  {res.config} {res.invariant} {res.verdict.value} {mark}"
            lines.append(row.rstrip())
            lines += _details(res, "      ")
        lines += never_enabled_lines(group)
    counts, rest = summary_line(results if summary is None else summary).split("; ", 1)
    lines += [f"{counts}; {rest}"] if len(counts) + len(rest) + 2 <= text_width() else [f"{counts};", f"    {rest}"]
    return "\n".join(wrap_lines(lines, break_on_hyphens=False)) + "\n"


def _by_spec(results: Sequence[CheckResult]) -> list[list[CheckResult]]:
    """Runs of consecutive results of one spec file."""
    groups: list[list[CheckResult]] = []
    for res in results:
        if groups and groups[-1][0].spec == res.spec and groups[-1][0].sweep == res.sweep:
            groups[-1].append(res)
        else:
            groups.append([res])
    return groups


def differs(res: CheckResult) -> bool:
    """The verdict differs from an expectation; a spec without [expect] (exploring)
    expects nothing, and its verdicts are reported as they are."""
    return res.expected is not None and not res.as_expected


def _expected(res: CheckResult) -> str:
    return res.expected.value if res.expected else "nothing"


def _details(res: CheckResult, indent: str) -> list[str]:
    """What a verdict needs said under it: the counterexample's message, the violating
    trace, why unknown or vacuous."""
    if res.verdict is Verdict.VIOLATED and res.counterexample:
        return [f"{indent}{res.counterexample.message}"]
    if res.verdict is Verdict.VIOLATED and res.schedule:
        steps = " -> ".join(f"{res.cpus[s.cpu].split(':', 1)[0]}:{s.step}" for s in res.schedule)
        return [*wrap(f"{indent}{res.reason}"), *wrap(f"{indent}schedule: {steps}")]
    if res.verdict is Verdict.VIOLATED and res.trace is not None:
        calls = " -> ".join(step.call() for step in res.trace.steps)
        return [f"{indent}{res.reason}", *wrap(f"{indent}trace: {calls}")]
    if res.verdict is Verdict.UNKNOWN:
        return [f"{indent}{res.reason}"]
    if res.verdict in (Verdict.VACUOUS, Verdict.UNREACHED):
        return wrap(f"{indent}{res.reason}")
    if res.verdict is Verdict.PROVED and (res.unbounded or res.lemmas):  # an unbounded proof was tried
        return wrap(f"{indent}{res.bound_text()}" + (f"; {res.reason}" if res.reason else ""), break_on_hyphens=False)
    return []


def never_enabled_lines(group: Sequence[CheckResult]) -> list[str]:
    """Per spec (and scheme of a sweep): the operations of its `run` that no step can
    enable within its depth, where there are any (nothing: every operation can run)."""
    lines: list[str] = []
    for scheme in dict.fromkeys(r.scheme for r in group):
        never = sorted({op for r in group if r.scheme == scheme for op in r.never_enabled})
        if never:
            label = f" ({scheme})" if group[0].sweep else ""
            lines += wrap(f"  never enabled within the depth{label}: {', '.join(never)}")
    return lines


SWEEP_MARK = "!"  # after a verdict in a sweep table: it differs from its expectation


def sweep_table(results: Sequence[CheckResult]) -> list[str]:
    """The results of one spec that sweeps schemes: rows config x invariant, one column
    of verdicts per scheme (split into blocks of columns that fit in text_width()), a verdict
    that differs from its expectation marked `!`; then, per scheme, what the verdicts
    need said (MISMATCH lines, counterexamples, reasons)."""
    schemes = list(dict.fromkeys(r.scheme for r in results))
    rows = list(dict.fromkeys((r.config, r.invariant) for r in results))
    cell = {(r.scheme, r.config, r.invariant): r for r in results}

    def text_of(scheme: str, row: tuple[str, str]) -> str:
        res = cell.get((scheme, *row))
        if res is None:
            return "-"
        return res.verdict.value + (SWEEP_MARK if differs(res) else "")

    config_w = max(len(c) for c, _i in rows)
    inv_w = max(len(i) for _c, i in rows)
    label_w = 2 + config_w + 2 + inv_w
    widths = {s: max(len(s), *(len(text_of(s, row)) for row in rows)) for s in schemes}
    blocks: list[list[str]] = [[]]
    used = label_w
    for scheme in schemes:
        if blocks[-1] and used + 2 + widths[scheme] > text_width():
            blocks.append([])
            used = label_w
        blocks[-1].append(scheme)
        used += 2 + widths[scheme]
    legend = f"(one column per scheme; {SWEEP_MARK} differs from its expectation)"
    header = f"{results[0].spec}  {legend}"
    lines = [header] if len(header) <= text_width() else [results[0].spec, legend]
    for block in blocks:
        lines.append(" " * label_w + "".join(f"  {s:<{widths[s]}}" for s in block).rstrip())
        previous = ""
        for config, inv in rows:
            shown = config if config != previous else ""
            previous = config
            cells = "".join(f"  {text_of(s, (config, inv)):<{widths[s]}}" for s in block)
            lines.append(f"  {shown:<{config_w}}  {inv:<{inv_w}}{cells}".rstrip())
    for res in results:
        details = _details(res, "      ")
        if details or differs(res):
            mark = f" MISMATCH (expected {_expected(res)})" if differs(res) else ""
            lines.append(f"  {res.scheme} {res.config} {res.invariant}: {res.verdict.value}{mark}")
            lines += details
    return lines + never_enabled_lines(results)


_RARE = (Verdict.VACUOUS, Verdict.UNREACHED)  # in the summary line only when some check has it


def summary_line(results: Sequence[CheckResult]) -> str:
    counts = {v: sum(1 for r in results if r.verdict is v) for v in Verdict}
    differ = sum(1 for r in results if differs(r))
    specs = len({r.spec for r in results})
    # `vacuous` and `unreached` only when some proof was: the line keeps its shape otherwise.
    parts = ", ".join(f"{counts[v]} {v.value}" for v in Verdict if v not in _RARE or counts[v])
    explored = sum(1 for r in results if r.expected is None)
    more = f"; {explored} without [expect] (exploring)" if explored else ""
    return f"{len(results)} checks in {specs} specs: {parts}; {differ} differ from expectation{more}"


def counterexample_lines(cex: Counterexample) -> list[str]:
    where = ", ".join(f"{name}={value}" for name, value in cex.indices) or "the folio"
    out = [f"counterexample ({cex.invariant}, {where}), replayed on the concrete model:"]
    out += [f"  {line}" for line in cex.details]
    out.append(f"  => {cex.message}")
    return [wrapped for line in out for wrapped in wrap(line)]


def diagram(mem: VmemmapView, label: Callable[[Pte | None], str] | None = None, width: int | None = None) -> str:
    """willy's notation: one 8-letter group per vmemmap page, runs of identical pages
    written once with a count; then which frame backs each run.  `label` names frames
    (see page_runs); `width` is the row width (default text_width(); less when the caller indents)."""
    width = width or text_width()
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
    return "\n".join(wrap_lines(out, break_on_hyphens=False)) + "\n"


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB"


def explain_header(spec: Spec, *, break_on_hyphens: bool = False) -> list[str]:
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
            + (f" (expected {_expected(res)})" if differs(res) else "")
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
    return wrap_lines(lines, break_on_hyphens=False)
