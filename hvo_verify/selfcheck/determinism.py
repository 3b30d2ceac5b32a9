# SPDX-License-Identifier: GPL-2.0-only
"""Determinism: the same specs give byte-identical output, run after run.

`hvo-verify check --format json` runs on a set of specs `runs` times, each in a fresh
process, and the outputs' SHA-256 must all be equal; then the same check runs in this
process, twice, and must print the same bytes again; and once more with another z3
random seed.  Fixed seeds (check/solver.py) make solver times reproducible, but the
output does not rest on them: the first model z3 finds does differ between runs in one
process (the context keeps every term made before), and between seeds; counterexamples
are canonicalised (documented VMEMMAP_START, head pfn = nr_pages, smallest index) and
traces too (first operation in `run` order, smallest arguments).  The set covers
counterexamples of static and of operation specs.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Sequence

from hvo_verify.check.solver import SEED, set_seed
from hvo_verify.check.suite import check_specs
from hvo_verify.report.json_out import comparable, results_document
from hvo_verify.selfcheck.section import Section
from hvo_verify.specs.loader import load_specs

NAME = "determinism"

# Under the spec folder: static counterexamples (power-of-2 and 56-byte struct pages, a
# misaligned vmemmap base) and operation traces (two of them use max_calls / policies).
SPECS = (
    "must-catch/v5.18-without-fake-head-fix.toml",
    "must-catch/mask-2026-page-aligned-vmemmap.toml",
    "must-catch/v5.14-struct-page-56.toml",
    "must-catch/ops-gup-returns-representative.toml",
    "objections/b5-dissolve-window.toml",
    "objections/hwpoison-head-index-two-errors.toml",
)


def _digest(text: str) -> str:
    """The digest of a results document without its timings (json_out.comparable)."""
    return hashlib.sha256(comparable(text).encode("utf-8")).hexdigest()[:16]


OTHER_SEED = 7


def run_determinism(spec_paths: Sequence[str], runs: int = 3, jobs: int = 2, in_process: int = 2) -> Section:
    """`spec_paths`: the spec files to check (see SPECS for the default set)."""
    paths = list(spec_paths)
    command = [
        sys.executable,
        "-m",
        "hvo_verify",
        "check",
        *paths,
        "--format",
        "json",
        "--jobs",
        str(jobs),
        "--no-cache",
    ]
    failures: list[str] = []
    digests: list[str] = []
    first = ""
    for n in range(runs):
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode not in (0, 1, 3):
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            failures.append(f"run {n + 1}: exit {done.returncode}: {tail}")
            continue
        first = first or done.stdout
        digests.append(_digest(done.stdout))
    if len(set(digests)) > 1:
        failures.append(f"fresh processes printed different bytes: {', '.join(digests)}")
    specs = load_specs(paths)
    # In this process, one worker: the z3 context keeps every term of the runs before.
    inner = [_digest(results_document(check_specs(specs, workers=1))) for _ in range(in_process)]
    if digests and any(d != digests[0] for d in inner):
        failures.append(f"in-process runs printed {', '.join(inner)}, fresh processes {digests[0]}")
    set_seed(OTHER_SEED)
    try:
        seeded = _digest(results_document(check_specs(specs, workers=jobs)))
    finally:
        set_seed(SEED)
    if digests and seeded != digests[0]:
        failures.append(f"z3 random seed {OTHER_SEED} printed {seeded}, seed {SEED} {digests[0]}")
    cex = first.count('"counterexample": {')
    traces = first.count('"trace": {')
    if first and not (cex and traces):
        failures.append(f"the set covers {cex} static counterexamples and {traces} traces: it needs both")
    figures: tuple[tuple[str, int | float | str], ...] = (
        ("specs", len(paths)),
        ("fresh-process runs, distinct outputs", f"{len(digests)}, {len(set(digests))}"),
        ("in-process runs, distinct outputs", f"{len(inner)}, {len(set(inner))}"),
        (f"same output with z3 seed {OTHER_SEED}", "yes" if digests and seeded == digests[0] else "no"),
        ("sha256 of the output", digests[0] if digests else "-"),
        ("counterexamples covered", f"{cex} static, {traces} traces"),
    )
    return Section(NAME, not failures, figures, tuple(failures))
