# SPDX-License-Identifier: GPL-2.0-only
"""Text rendering of operation traces: numbered states and steps in kernel terms, the
vmemmap diagram after every remap, and the verdict (at most 80 columns).

    state 0: folio in the hugetlb pool (free), vmemmap populated, refcount 0
    step 1: hugetlb_vmemmap_optimize_folio(alloc_ok=true)
            vmemmap pages 2..7 remapped (RO); their frames freed
    state 1: vmemmap optimized (HPG_vmemmap_optimized)
    ...
    => violated alias-write: store to head+64 ...

Also the text of `explain` for operation specs and of `explore`.
"""

from __future__ import annotations

import functools
import textwrap
from collections.abc import Sequence

from hvo_verify.check.explore import Exploration
from hvo_verify.check.result import CheckResult
from hvo_verify.errors import VmemmapFault
from hvo_verify.invariants.reachable import WITNESSES
from hvo_verify.invariants.replay import Replayed
from hvo_verify.model.facts import FrameKind
from hvo_verify.model.scheme import FolioKind
from hvo_verify.model.vmemmap import Pte, VmemmapState
from hvo_verify.ops.machine import Machine
from hvo_verify.ops.state import USER_BASE, Io, KState, Pool
from hvo_verify.ops.trace import Trace, TraceStep
from hvo_verify.report.text import diagram, explain_header
from hvo_verify.report.wrap import text_width, wrap, wrap_lines
from hvo_verify.specs.schema import Spec
from hvo_verify.verdict import Verdict


def frame_name(vm: VmemmapState, pte: Pte | None) -> str:
    """frame(k) = the frame vmemmap page k was populated with; new frame n = the n-th
    page HVO allocated (head copy, restore)."""
    if pte is None:
        return "unmapped"
    frame = pte.frame
    if frame.kind is FrameKind.SHARED_TAIL:
        name = "shared tail page"
    elif frame.kind is FrameKind.NEW:
        name = f"new frame {frame.n}"
    else:
        k = frame.n - vm.first_vpage
        name = f"frame({k})" if 0 <= k < vm.config.vmemmap_pages else f"frame of vmemmap page {k}"
    return f"{name} {'RW' if pte.writable else 'RO'}"


# ---------------------------------------------------------------- one state


def state_facts(m: Machine, state: KState) -> dict[str, str]:
    """What a reader wants to know about a state, in kernel terms, by topic."""
    hugetlb_kind = m.scheme.folio_kind is FolioKind.HUGETLB
    facts = {"pool": _pool(state.pool) if hugetlb_kind else "Device-DAX folio (ZONE_DEVICE)"}
    if state.optimized:
        facts["vmemmap"] = "vmemmap optimized (HPG_vmemmap_optimized)"
    else:
        facts["vmemmap"] = "vmemmap restored" if state.restored else "vmemmap populated"
    facts["hugetlb"] = "folio_test_hugetlb" if state.hugetlb else "not folio_test_hugetlb (dtor cleared)"
    facts["refcount"] = _refcount(m, state)
    facts["mapped"] = f"mapped at user address {USER_BASE:#x}" if state.mapped else "not mapped"
    facts["io"] = _io(m, state.io)
    facts["pins"] = f"{state.pins} page(s) pinned" if state.pins else "no pins"
    if state.raw_hwp_unreliable:
        facts["raw_hwp"] = "raw_hwp_unreliable (the raw error list was dropped)"
    elif state.raw_hwp:
        facts["raw_hwp"] = "raw_hwp list: " + ", ".join(_pfn(m, p) for p in state.raw_hwp)
    else:
        facts["raw_hwp"] = "raw_hwp list empty"
    if state.injected:
        facts["injected"] = "memory errors injected at " + ", ".join(_pfn(m, p) for p in sorted(state.injected))
    else:
        facts["injected"] = "no memory errors injected"
    return facts


# Shown in state 0 even at their initial value.
INITIAL_TOPICS = ("pool", "vmemmap", "refcount")


def _pool(pool: Pool) -> str:
    return {
        Pool.FREE: "folio in the hugetlb pool (free)",
        Pool.IN_USE: "folio allocated (in use)",
        Pool.REMOVED: "folio off the free list (remove_hugetlb_folio())",
        Pool.BUDDY: "folio's pages freed to buddy",
        Pool.LEAKED: "folio leaked intentionally (raw_hwp_unreliable)",
    }[pool]


def _refcount(m: Machine, state: KState) -> str:
    try:
        count = m.refcount(state, m.page(0))
    except VmemmapFault as exc:
        return f"refcount unreadable ({exc})"
    held = "" if count == state.refs else f" ({state.refs} reference(s) held)"
    return f"refcount {count}{held}"


def _io(m: Machine, io: Io | None) -> str:
    if io is None:
        return "no I/O in flight"
    pages = m.name(io.pages[0]) + ("" if len(io.pages) == 1 else f"..{m.name(io.pages[-1])}")
    what = "FOLL_PIN" if io.pin else "FOLL_GET"
    offset = io.uaddr - USER_BASE
    return f"{what} buffer +{offset:#x} len {io.length:#x} -> {pages}" + (", bio submitted" if io.submitted else "")


def _pfn(m: Machine, pfn: int) -> str:
    return f"head_pfn+{pfn - m.folio.head_pfn}"


# ---------------------------------------------------------------- a trace


def header_lines(trace: Trace) -> list[str]:
    m = trace.machine()
    scheme = trace.scheme
    return [
        f"{trace.config}, scheme {scheme.name} ({scheme.version}): head pfn {trace.head_pfn:#x}, "
        f"vmemmap base {trace.vmemmap_base:#x}, head struct page {m.folio.head:#x}",
        trace.policies.describe(),
    ]


def render_trace(
    trace: Trace, replayed: Sequence[Replayed], invariants: Sequence[str] = (), *, header: bool = True
) -> str:
    """The replayed trace (hvo_verify/invariants/replay.py replay()) as numbered states and steps;
    `invariants`, if given, are named as those checked after every step; `header`: the
    config, placement and policies first (explain prints those once, as assumptions)."""
    m = trace.machine()
    out = header_lines(trace) if header else []
    if invariants:
        out.append(f"checked after every step: {', '.join(invariants)}")
    if not replayed:
        out.append("state 0: " + ", ".join(_initial(m, m.initial())))
        out.append("=> no invariant violated (the trace has no steps)")
        return _finish(out)
    out.append("state 0: " + ", ".join(_initial(m, replayed[0].before)))
    ending = "=> no invariant violated"
    for n, rep in enumerate(replayed, 1):
        prefix = f"step {n}: "
        indent = " " * len(prefix)
        out.append(prefix + rep.step.call())
        outcome = rep.outcome
        if outcome is None:
            out.append(f"{indent}not enabled in this state: the replay stops here")
            ending = f"=> no invariant violated (step {n} cannot run in the state it reaches)"
            break
        out += [indent + line for line in outcome.lines]
        if outcome.fault is not None:
            ending = f"=> no invariant violated (the kernel oopses at step {n}: {outcome.fault.kind.value})"
        else:
            vm = outcome.state.vmemmap
            if vm.ptes != rep.before.vmemmap.ptes:
                drawn = diagram(vm, functools.partial(frame_name, vm), width=text_width() - len(indent))
                out += [indent + line for line in drawn.rstrip("\n").splitlines()]
            changed = _changes(m, rep.before, outcome.state)
            out.append(f"state {n}: " + (", ".join(changed) if changed else "unchanged"))
        if rep.violation is not None:
            inv, message = rep.violation
            ending = f"=> violated {inv}: {message}"
            break
    out.append(ending)
    return _finish(out)


def _initial(m: Machine, state: KState) -> list[str]:
    start = state_facts(m, m.initial())
    facts = state_facts(m, state)
    return [text for topic, text in facts.items() if topic in INITIAL_TOPICS or text != start[topic]]


def _changes(m: Machine, before: KState, after: KState) -> list[str]:
    old, new = state_facts(m, before), state_facts(m, after)
    return [text for topic, text in new.items() if text != old[topic]]


def _paragraphs(text: str, indent: str) -> list[str]:
    """Text with hard line breaks (TOML strings) refilled, blank lines between paragraphs kept."""
    out: list[str] = []
    for para in text.strip().split("\n\n"):
        if out:
            out.append("")
        out += textwrap.wrap(" ".join(para.split()), text_width(), initial_indent=indent, subsequent_indent=indent,
                             break_long_words=False, break_on_hyphens=False)  # fmt: skip
    return out


def _finish(lines: list[str]) -> str:
    """The text, lines over text_width() wrapped, never at a hyphen (config ids, policy values)."""
    return "\n".join(wrap_lines(lines, break_on_hyphens=False)) + "\n"


# ---------------------------------------------------------------- explain, explore


def explain_ops(spec: Spec, results: Sequence[tuple[CheckResult, Sequence[Replayed] | None]]) -> str:
    """`hvo-verify explain` of an operation spec: what it asks, the answer, what the
    checks assume, and every violation as a replayed trace."""
    assert spec.ops is not None
    out = explain_header(spec, break_on_hyphens=False)
    if spec.answer:
        out += ["", "answer:", *_paragraphs(spec.answer, "  ")]
    if not any(res.assumptions for res, _ in results):
        out += ["", spec.ops.policies.describe()]
    shown: set[str] = set()
    for res, replayed in results:
        if res.assumptions and res.config not in shown:
            shown.add(res.config)
            out += ["", f"{res.config}: every verdict below assumes"]
            out += [f"  - {text}" for text in res.assumptions]
        out.append("")
        mismatch = "" if res.as_expected or res.expected is None else f" (expected {res.expected.value})"
        out.append(f"{res.config} {res.invariant}: {res.verdict.value}{mismatch}")
        if res.verdict is Verdict.VIOLATED and res.trace is not None and replayed is not None:
            out.append(f"shortest trace ({len(res.trace.steps)} steps), replayed on the concrete model:")
            out += render_trace(res.trace, replayed, header=False).rstrip("\n").splitlines()
        elif res.reason:
            out.append(f"  {res.reason}")
        if res.verdict is Verdict.PROVED:
            out += witness_lines(res)
        out += induction_lines(res, "  ")
    return _finish(out)


def induction_lines(res: CheckResult, indent: str) -> list[str]:
    """`bound:` of an operation check, and the counterexample to induction where the
    unbounded proof failed (check/induction.py)."""
    if res.verdict is not Verdict.PROVED:  # a violation's trace says how long it is
        return []
    out = [f"{indent}{res.bound_text()}"] if res.bound_text() else []
    if res.cti:
        out.append(f"{indent}counterexample to induction (an arbitrary state the lemmas allow):")
        out += [f"{indent}  {line}" for line in res.cti]
    return out


def witness_lines(res: CheckResult) -> list[str]:
    """Under a proved operation check: the shortest run reaching its witness (what the
    proof covered), or that the witness was not checked (`check --no-witness`)."""
    if res.witness is None:
        return []
    summary = WITNESSES[res.witness_id].summary
    calls = " -> ".join(witness_call(st) for st in res.witness.steps)
    return [*wrap(f"  witness: {summary}", break_on_hyphens=False), *wrap(f"  reached: {calls}")]


def witness_call(step: TraceStep) -> str:
    """A step of a witness run, short: the operation, and its arguments' values (if any)."""
    if not step.args:
        return step.op
    values = ", ".join(("true" if v else "false") if isinstance(v, bool) else f"{v:#x}" for _k, v in step.args)
    return f"{step.op}({values})"


def explore_report(
    spec: Spec, explorations: Sequence[tuple[Exploration, Sequence[Replayed] | None]], examples: int, seed: int | None
) -> str:
    """`hvo-verify explore`: per (config, invariant) what Hypothesis found, against the
    spec's expectation; every violation as its shrunk, replayed trace."""
    assert spec.ops is not None
    how = "derandomized" if seed is None else f"seed {seed}"
    limits = "".join(f", at most {n} call(s) of {op}" for op, n in spec.ops.max_calls)
    sweep = [f"scheme: {spec.scheme.name} (of {', '.join(spec.sweep)})"] if spec.sweep else []
    out = [
        spec.title,
        *sweep,
        f"explore: up to {examples} random sequences of at most {spec.ops.depth} operations from "
        f"{{{', '.join(spec.ops.alphabet)}}}{limits} per check ({how}), shrunk by Hypothesis",
    ]
    for exp, replayed in explorations:
        out.append("")
        expected = exp.expected.value if exp.expected else "nothing"
        if exp.not_applicable:
            found = f"not applicable ({exp.not_applicable})"
        elif exp.found:
            found = "found violated"
        else:
            found = f"no violation in {exp.runs} runs ({exp.distinct} distinct sequences)"
        mark = "ok" if exp.as_expected else "MISMATCH"
        if exp.no_verdict:  # a warning, not a verdict of exploration's own
            mark = f"no verdict (warning: {exp.no_verdict})"
        out.append(f"{exp.config} {exp.invariant}: {found}; expected {expected}: {mark}")
        if exp.trace is not None and replayed is not None:
            out.append(f"shrunk trace ({len(exp.trace.steps)} steps), replayed on the concrete model:")
            out += render_trace(exp.trace, replayed, (exp.invariant,)).rstrip("\n").splitlines()
    found_n = sum(1 for e, _ in explorations if e.found)
    differ = sum(1 for e, _ in explorations if not e.as_expected)
    out += ["", f"{len(explorations)} explorations: {found_n} found violated; {differ} differ from expectation"]
    return _finish(out)
