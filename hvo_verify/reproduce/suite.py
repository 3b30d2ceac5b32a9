# SPDX-License-Identifier: GPL-2.0-only
"""Reproducers for a folder of specs: one per distinct trace that user space can run,
and a one-line reason for every spec (or config) that gets none."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath

from hvo_verify.check.result import CheckResult
from hvo_verify.ops.trace import Trace
from hvo_verify.reproduce.emit import c_source
from hvo_verify.reproduce.plan import GUEST_CONFIGS, NotReproducible, plan
from hvo_verify.specs.schema import Spec
from hvo_verify.verdict import Verdict


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of the index: a spec (config, invariant) and its reproducer or the reason it has none."""

    spec: str
    config: str
    invariant: str
    file: str  # "" when there is none
    reason: str = ""

    def line(self) -> str:
        where = " ".join(x for x in (self.spec, self.config, self.invariant) if x)
        return f"{where}: {self.file}" if self.file else f"{where}: none: {self.reason}"


def name_for(spec_path: str, config: str, invariant: str, scheme: str = "") -> str:
    """A file name unique per (spec path, scheme of a sweep, config, invariant): the
    spec's folder and stem."""
    p = PurePath(spec_path)
    parts = [p.parent.name, p.stem, scheme, config.replace("x86-64/4K/", ""), invariant]
    return re.sub(r"[^A-Za-z0-9._-]+", "-", "--".join(x for x in parts if x))


def trace_of(result: CheckResult) -> Trace | None:
    """The trace a result carries: a replayed counterexample, or the witness of a proof
    (the shortest run reaching the situation the invariant is about, check/bmc.py)."""
    if result.verdict is Verdict.VIOLATED and result.trace is not None:
        return result.trace
    return result.witness if result.verdict is Verdict.PROVED else None


def reproducers(specs: Sequence[Spec], results: Sequence[CheckResult]) -> tuple[dict[str, str], list[Entry]]:
    """{file name: C source} and the index, for `results` of `specs` (check_specs order)."""
    sources: dict[str, str] = {}
    index: list[Entry] = []
    by_spec: dict[str, list[CheckResult]] = {}
    for r in results:
        by_spec.setdefault(r.spec, []).append(r)
    for spec in specs:
        if spec.smp is not None:
            index.append(Entry(spec.path, "", "", "", "an interleaving of kernel paths on several CPUs (its "
                               "[smp] actors): user space cannot place them in the window; no stress loop generated yet"))  # fmt: skip
            continue
        if spec.ops is None:
            index.append(Entry(spec.path, "", "", "", "static: a property of the layout, observed by "
                               "`hvo-verify conform` (kpageflags, savings) rather than by a trace"))  # fmt: skip
            continue
        seen: dict[tuple[str, tuple[str, ...]], str] = {}
        label = f"{spec.path} [{spec.scheme.name}]" if spec.sweep else spec.path
        untraced: dict[tuple[str, str], list[str]] = {}
        for r in by_spec.get(spec.path, []):
            if r.config not in GUEST_CONFIGS or r.scheme != spec.scheme.name:
                continue
            trace = trace_of(r)
            if trace is None:
                why = f"{r.verdict.value}: {r.reason or 'no trace (neither a counterexample nor a witness)'}"
                untraced.setdefault((r.config, why), []).append(r.invariant)
                continue
            key = (r.config, tuple(s.call() for s in trace.steps))
            if key in seen:
                index.append(Entry(label, r.config, r.invariant, seen[key]))
                continue
            name = name_for(spec.path, r.config, r.invariant, spec.scheme.name if spec.sweep else "")
            source = f"{spec.path} on {r.config}: {r.invariant} {r.verdict.value} ({spec.scheme.name})"
            try:
                sources[name + ".c"] = c_source(plan(trace, name, source))
            except NotReproducible as exc:
                index.append(Entry(label, r.config, r.invariant, "", str(exc)))
                continue
            seen[key] = name + ".c"
            index.append(Entry(label, r.config, r.invariant, name + ".c"))
        index += [Entry(label, config, ", ".join(invs), "", why) for (config, why), invs in untraced.items()]
        others = sorted({c.id for c in spec.configs} - set(GUEST_CONFIGS))
        if others:
            index.append(Entry(label, ", ".join(others), "", "", "the guest boots x86-64 kernels with 4K pages"))
    return sources, index
