# SPDX-License-Identifier: GPL-2.0-only
"""Benchmark of the operation checks (bounded model checking): run from the repository root with

    python bench/bench_ops.py [--specs DIR] [--depths 2..8] [--quick] [--json FILE]

Everything is measured in ONE run: timings on a shared machine are noisy and only ratios
taken in the same run mean much.  Three parts:

1. BMC growth.  For every ops spec in DIR (default specs/objections) and every depth k,
   the wall time to reach the verdicts of all the spec's (config, invariant) checks, built
   exactly like `hvo_verify.check.suite.spec_jobs` but with depth k and a per-check solver
   timeout (default 60 s, so that growth shows instead of being cut at the spec's
   timeout).  growth = time(k) / time(k-1).  Issue target: every objection spec reaches
   its verdicts in <= 5 s at depth 6.

2. Explicit-state baseline.  A breadth-first search as TLC would do it over the same
   concrete model (hvo_verify/ops) and spec: from Machine.initial(), at each level
   every enabled operation of the alphabet with every argument combination (the cartesian
   product of Machine.arg_values(), filtered by args_ok()), states deduplicated by
   KState.key(), the spec's invariants checked after every transition with
   invariants/replay.py check_step() (a successor that violates or oopses is not explored).  Run on
   the GUP objection spec at depth 3 on x86-64/4K/2M (measured; bounded by --bfs-limit
   transitions and --bfs-seconds, then extrapolated) and compared with the symbolic BMC of
   the same spec and depth.  Issue target: symbolic >= 100x faster.  For x86-64/4K/1G the
   BFS is only counted: a "counting BFS" runs the same search with every large argument
   domain replaced by a few random values, each weighted by domain size / sample size; it
   gives the transition and state counts and, from the measured cost of each sampled
   transition on the 1 GiB machine times its weight, the explicit time.  The counting
   BFS is also run at 2 MiB and printed next to the measured figures as its validation.

3. A summary block with the headline figures, for an issue note.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import math
import pathlib
import random
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from hvo_verify.check import bmc
from hvo_verify.check.bmc import OpsJob, machine_for, run_ops
from hvo_verify.check.suite import spec_jobs
from hvo_verify.invariants.replay import check_step
from hvo_verify.model.config import KernelConfig, parse_config_id
from hvo_verify.ops.machine import Machine
from hvo_verify.ops.state import KState
from hvo_verify.ops.table import OPS
from hvo_verify.specs.loader import load_sweep
from hvo_verify.specs.schema import Spec

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_SPECS = ROOT / "specs" / "objections"
GUP_NAMES = ("gup-fifth-page.toml", "gup-fifth-page-v5.14.toml")  # then gup-fifth-page*.toml
CONFIG_2M = "x86-64/4K/2M"
CONFIG_1G = "x86-64/4K/1G"
TARGET_DEPTH = 6
TARGET_DEPTH_S = 5.0
TARGET_SPEEDUP = 100.0
EXACT_DOMAIN_MAX = 64  # argument products up to this size are enumerated by the counting BFS
WIDTH = 100


# -- helpers ------------------------------------------------------------------------------
def parse_depths(text: str) -> list[int]:
    """`2..8`, `2-8`, `3` or `2,4,6`."""
    for sep in ("..", "-"):
        if sep in text:
            lo, hi = text.split(sep, 1)
            return list(range(int(lo), int(hi) + 1))
    return sorted({int(part) for part in text.split(",")})


def fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 100:
        return f"{seconds:.2f}"
    if seconds < 1e5:
        return f"{seconds:.0f}"
    return f"{seconds:.2e}"


def human(seconds: float) -> str:
    """3.1e7 s -> '1.0 years'."""
    for unit, size in (("years", 365.25 * 86400), ("days", 86400), ("hours", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.2f} s"


def fmt_n(n: float) -> str:
    return f"{round(n):,}" if n < 1e12 else f"{n:.3e}"


def fmt_x(ratio: float | None) -> str:
    if ratio is None or math.isnan(ratio):
        return "-"
    return f"{ratio:.2f}x" if ratio < 100 else f"{ratio:.3g}x"


def geomean(values: Sequence[float]) -> float | None:
    values = [v for v in values if v > 0]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def config_like(config_id: str, like: KernelConfig) -> KernelConfig:
    """The config `config_id` with the struct page size of `like`."""
    return parse_config_id(config_id)[0].with_struct_page_size(like.struct_page_size)


def ops_jobs(spec: Spec, depth: int, timeout_ms: int, config: KernelConfig | None = None) -> list[OpsJob]:
    """spec_jobs() of an ops spec with the depth and timeout overridden; with `config`,
    the jobs of the spec's first config moved to that config (io_max as spec_jobs() sets it)."""
    jobs = [job for job in spec_jobs(spec) if isinstance(job, OpsJob)]
    jobs = [dataclasses.replace(job, depth=depth, timeout_ms=timeout_ms) for job in jobs]
    if config is None:
        return jobs
    assert spec.ops is not None
    first = jobs[0].config
    return [dataclasses.replace(job, config=config, io_max=spec.ops.io_max or config.page_size)
            for job in jobs if job.config == first]  # fmt: skip


def max_calls_of(job: OpsJob) -> dict[str, int]:
    return dict(getattr(job, "max_calls", ()) or ())


# -- 1. BMC growth -----------------------------------------------------------------------------
@dataclass
class DepthRun:
    depth: int
    seconds: float | None  # None: skipped
    solver_seconds: float = 0.0
    verdicts: dict[str, int] = field(default_factory=dict)  # verdict value -> count
    notes: list[str] = field(default_factory=list)


def forget_unrollings() -> None:
    """Drop what hvo_verify.check.bmc keeps between run_ops() calls of one process (the
    unrolling shared by a spec's invariants), so that each measurement starts cold, as
    `hvo-verify check` does for a spec.  Sharing inside one measurement is kept."""
    bmc.UNROLLINGS.clear()


def run_bmc(jobs: Sequence[OpsJob]) -> tuple[float, float, dict[str, int], list[str]]:
    """Wall seconds to reach every verdict, solver seconds, verdict counts, errors."""
    forget_unrollings()
    counts: dict[str, int] = {}
    notes: list[str] = []
    solver = 0.0
    start = time.perf_counter()
    for job in jobs:
        try:
            result = run_ops(job)
        except Exception as exc:  # noqa: BLE001 (the model is edited concurrently: report, go on)
            counts["error"] = counts.get("error", 0) + 1
            notes.append(f"{job.config.id} {job.invariant}: {type(exc).__name__}: {exc}"[:300])
            continue
        solver += result.solver_seconds
        counts[result.verdict.value] = counts.get(result.verdict.value, 0) + 1
        if result.verdict.value == "unknown":
            notes.append(f"{job.config.id} {job.invariant}: {result.reason}")
    return time.perf_counter() - start, solver, counts, notes


def verdict_text(counts: Mapping[str, int]) -> str:
    letters = (("proved", "P"), ("violated", "V"), ("unknown", "U"), ("not-applicable", "N"), ("error", "E"))
    text = "".join(f"{counts[v]}{c}" for v, c in letters if counts.get(v))
    return text or "-"


def bmc_growth(specs: Sequence[tuple[str, Spec]], depths: Sequence[int], timeout_s: float,
               stop_after: float, log: bool) -> dict[str, list[DepthRun]]:  # fmt: skip
    out: dict[str, list[DepthRun]] = {}
    for name, spec in specs:
        runs: list[DepthRun] = []
        stop = ""
        for depth in depths:
            if stop:
                runs.append(DepthRun(depth, None, notes=[stop]))
                continue
            jobs = ops_jobs(spec, depth, int(timeout_s * 1000))
            seconds, solver, counts, notes = run_bmc(jobs)
            runs.append(DepthRun(depth, seconds, solver, counts, notes))
            if log:
                print(f"  [bmc] {name} k={depth}: {seconds:.2f} s {verdict_text(counts)}", file=sys.stderr, flush=True)
            if counts.get("unknown", 0) + counts.get("error", 0) == len(jobs):
                stop = f"skipped: every check at depth {depth} was unknown"
            elif seconds > stop_after:
                stop = f"skipped: depth {depth} took {seconds:.0f} s > --stop-after {stop_after:g} s"
        out[name] = runs
    return out


def growth(runs: Sequence[DepthRun]) -> list[float | None]:
    factors: list[float | None] = [None]
    for prev, cur in itertools.pairwise(runs):
        if prev.seconds and cur.seconds is not None and cur.depth == prev.depth + 1:
            factors.append(cur.seconds / prev.seconds)
        else:
            factors.append(None)
    return factors


def print_growth(table: dict[str, list[DepthRun]], skipped: Sequence[str], depths: Sequence[int],
                 timeout_s: float) -> None:  # fmt: skip
    name_w = 24
    col = 8
    print("1. BMC growth: wall seconds to reach the verdicts of all (config, invariant) checks of a")
    print(f"   spec at depth k (in-process, 1 worker, per-check timeout {timeout_s:g} s); growth = t(k)/t(k-1);")
    print("   verdicts P/V/U/N/E = proved/violated/unknown/not-applicable/error.  All figures measured.")
    marks = {d: f"k={d}" + ("*" if d == TARGET_DEPTH else "") for d in depths}
    head = f"{'spec':<{name_w}} {'':<6}" + "".join(f"{marks[d]:>{col}}" for d in depths)
    show_target = TARGET_DEPTH in depths
    if show_target:
        head += f"  {'k=6<=5s':>7}"
    print(head)
    print("-" * min(WIDTH, len(head)))
    totals: dict[int, float] = {d: 0.0 for d in depths}
    complete = {d: True for d in depths}
    for name, runs in table.items():
        label = name if len(name) <= name_w else name[: name_w - 1] + "~"
        times = "".join(f"{fmt_s(r.seconds):>{col}}" for r in runs)
        target = ""
        if show_target:
            r6 = next(r for r in runs if r.depth == TARGET_DEPTH)
            ok = r6.seconds is not None and r6.seconds <= TARGET_DEPTH_S and not r6.verdicts.get("unknown")
            target = f"  {('PASS' if ok else 'MISS'):>7}"
        print(f"{label:<{name_w}} {'time':<6}{times}{target}")
        print(f"{'':<{name_w}} {'growth':<6}" + "".join(f"{fmt_x(g):>{col}}" for g in growth(runs)))
        print(f"{'':<{name_w}} {'verd.':<6}" + "".join(f"{verdict_text(r.verdicts):>{col}}" for r in runs))
        for r in runs:
            if r.seconds is None:
                complete[r.depth] = False
            else:
                totals[r.depth] += r.seconds
        notes = sorted({n for r in runs for n in r.notes})
        for note in notes[:4]:
            print(f"{'':<{name_w}}   note: {note}"[:WIDTH])
        if len(notes) > 4:
            print(f"{'':<{name_w}}   ({len(notes) - 4} more notes in --json)")
    if len(table) > 1:
        print("-" * min(WIDTH, len(head)))
        total_runs = [DepthRun(d, totals[d] if complete[d] else None) for d in depths]
        print(f"{'all specs':<{name_w}} {'time':<6}" + "".join(f"{fmt_s(r.seconds):>{col}}" for r in total_runs))
        print(f"{'':<{name_w}} {'growth':<6}" + "".join(f"{fmt_x(g):>{col}}" for g in growth(total_runs)))
    if show_target:
        print(
            f"* issue target: every objection spec reaches its verdicts in <= {TARGET_DEPTH_S:g} s at depth "
            f"{TARGET_DEPTH}"
        )
        print(f"  (PASS: t(k={TARGET_DEPTH}) <= {TARGET_DEPTH_S:g} s and no unknown verdict)")
    for line in skipped:
        print(f"not benchmarked: {line}"[:WIDTH])


# -- 2. explicit-state search ------------------------------------------------------------------
def arg_names(op: str) -> tuple[str, ...]:
    return tuple(a.name for a in OPS[op].args)


def all_combos(m: Machine, op: str) -> list[dict[str, int | bool]]:
    """Every valid argument combination of `op` (the BFS's inner loop)."""
    names = arg_names(op)
    domains = [m.arg_values(a) for a in OPS[op].args]
    out = []
    for values in itertools.product(*domains):
        args = dict(zip(names, values, strict=True))
        if m.args_ok(op, args):
            out.append(args)
    return out


@dataclass
class Search:
    """Figures of one breadth-first search (measured) or counting search (estimated)."""

    config: str
    depth: int
    transitions: float = 0
    states: float = 1  # distinct states reached, the initial one included
    per_level: list[list[float]] = field(default_factory=list)  # [transitions, new states]
    per_op: dict[str, float] = field(default_factory=dict)  # transitions per operation
    violations: dict[str, float] = field(default_factory=dict)  # invariant (or "oops") -> transitions
    seconds: float = 0.0  # measured wall (BFS) / estimated explicit time (counting)
    complete: bool = True
    stopped: str = ""
    executed: int = 0  # transitions actually executed
    executed_seconds: float = 0.0  # wall of those (counting BFS: apply + check_step + key)
    first_violation: str = ""


def _enabled(m: Machine, state: KState, op: str, calls: tuple[int, ...], limits: list[tuple[str, int]]) -> bool:
    for j, (name, limit) in enumerate(limits):
        if name == op and calls[j] >= limit:
            return False
    return m.enabled(state, op)


def _bump(op: str, calls: tuple[int, ...], limits: list[tuple[str, int]]) -> tuple[int, ...]:
    return tuple(c + (1 if name == op else 0) for c, (name, _l) in zip(calls, limits, strict=True))


def bfs(m: Machine, alphabet: Sequence[str], invariants: tuple[str, ...], depth: int,
        max_calls: Mapping[str, int], limit: int | None, budget_s: float | None) -> Search:  # fmt: skip
    """The explicit-state search, executed: every transition is applied and checked."""
    limits = sorted(max_calls.items())
    result = Search(m.config.id, depth)
    start = time.perf_counter()
    combos = {op: all_combos(m, op) for op in alphabet}
    init = m.initial()
    calls0 = tuple(0 for _ in limits)
    seen = {(init.key(), calls0)}
    frontier: list[tuple[KState, tuple[int, ...]]] = [(init, calls0)]
    for _level in range(depth):
        level: list[float] = [0, 0]
        result.per_level.append(level)
        nxt: list[tuple[KState, tuple[int, ...]]] = []
        for state, calls in frontier:
            for op in alphabet:
                if not _enabled(m, state, op, calls, limits):
                    continue
                calls2 = _bump(op, calls, limits) if limits else calls
                for args in combos[op]:
                    if (limit is not None and result.transitions >= limit) or (
                        budget_s is not None and time.perf_counter() - start > budget_s
                    ):
                        result.complete = False
                        why = f"{limit:,} transitions" if limit is not None and result.transitions >= limit else \
                            f"{budget_s:g} s"  # fmt: skip
                        result.stopped = f"stopped at level {len(result.per_level)} after {why}"
                        result.seconds = time.perf_counter() - start
                        result.states = len(seen)
                        return result
                    out = m.apply(state, op, args)
                    result.transitions += 1
                    level[0] += 1
                    result.per_op[op] = result.per_op.get(op, 0) + 1
                    bad = check_step(m, state, out, invariants)
                    if bad is not None or out.fault is not None:
                        what = bad[0] if bad is not None else "oops"
                        result.violations[what] = result.violations.get(what, 0) + 1
                        if not result.first_violation:
                            message = bad[1] if bad is not None else out.fault.message if out.fault else ""
                            where = f"{op}({args}) at level {len(result.per_level)}"
                            result.first_violation = f"{what}: {where}: {message}"
                        continue
                    key = (out.state.key(), calls2)
                    if key not in seen:
                        seen.add(key)
                        level[1] += 1
                        nxt.append((out.state, calls2))
        frontier = nxt
    result.seconds = time.perf_counter() - start
    result.states = len(seen)
    result.executed = int(result.transitions)
    result.executed_seconds = result.seconds
    return result


@dataclass
class _Node:
    state: KState
    calls: tuple[int, ...]
    groups: dict[int, int]  # sampled choice group -> which sample

    def weight(self, factors: Mapping[int, float]) -> float:
        w = 1.0
        for g in self.groups:
            w *= factors[g]
        return w


class Counter:
    """The counting BFS: same search, large argument domains sampled and weighted."""

    def __init__(self, m: Machine, sample: int, rng: random.Random, log: bool) -> None:
        self.m = m
        self.sample = max(2, sample)
        self.rng = rng
        self.log = log
        self._exact: dict[str, list[dict[str, int | bool]] | None] = {}
        self._count: dict[str, int] = {}
        self.count_seconds = 0.0  # time spent counting valid argument combinations

    def exact(self, op: str) -> list[dict[str, int | bool]] | None:
        """Every combination when the product is small, else None (sampled)."""
        if op not in self._exact:
            size = math.prod(len(self.m.arg_values(a)) for a in OPS[op].args)
            self._exact[op] = all_combos(self.m, op) if size <= EXACT_DOMAIN_MAX else None
        return self._exact[op]

    def count(self, op: str) -> int:
        """How many combinations args_ok() accepts: counted, none applied."""
        if op not in self._count:
            start = time.perf_counter()
            names = arg_names(op)
            domains = [self.m.arg_values(a) for a in OPS[op].args]
            args: dict[str, int | bool] = {}
            ok = self.m.args_ok
            n = 0
            for values in itertools.product(*domains):
                for name, value in zip(names, values, strict=True):
                    args[name] = value
                if ok(op, args):
                    n += 1
            self._count[op] = n
            self.count_seconds += time.perf_counter() - start
            if self.log:
                print(f"  [count] {self.m.config.id} {op}: {n:,} valid argument combinations "
                      f"({time.perf_counter() - start:.1f} s)", file=sys.stderr, flush=True)  # fmt: skip
        return self._count[op]

    def draw(self, op: str, n: int) -> list[dict[str, int | bool]]:
        names = arg_names(op)
        domains = [self.m.arg_values(a) for a in OPS[op].args]
        picked: dict[tuple[object, ...], dict[str, int | bool]] = {}
        tries = 0
        while len(picked) < n and tries < 10_000:
            tries += 1
            values = tuple(self.rng.choice(d) for d in domains)
            args = dict(zip(names, values, strict=True))
            if values not in picked and self.m.args_ok(op, args):
                picked[values] = args
        return list(picked.values())

    def run(self, alphabet: Sequence[str], invariants: tuple[str, ...], depth: int,
            max_calls: Mapping[str, int]) -> Search:  # fmt: skip
        m = self.m
        limits = sorted(max_calls.items())
        result = Search(m.config.id, depth)
        factors: dict[int, float] = {}
        init = m.initial()
        calls0 = tuple(0 for _ in limits)
        seen: set[tuple[object, ...]] = {(init.key(), calls0)}
        frontier = [_Node(init, calls0, {})]
        group_ids = itertools.count()
        for _level in range(depth):
            level = [0.0, 0.0]
            result.per_level.append(level)
            arriving: dict[tuple[object, ...], list[_Node]] = {}
            for node in frontier:
                w = node.weight(factors)
                for op in alphabet:
                    if not _enabled(m, node.state, op, node.calls, limits):
                        continue
                    calls2 = _bump(op, node.calls, limits) if limits else node.calls
                    combos = self.exact(op)
                    group = None
                    if combos is None:
                        total = self.count(op)
                        combos = self.draw(op, min(self.sample, total))
                        group = next(group_ids)
                        factors[group] = total / len(combos)
                        n_op = total
                    else:
                        n_op = len(combos)
                    per = w * n_op / len(combos)  # concrete transitions each executed one stands for
                    result.transitions += w * n_op
                    level[0] += w * n_op
                    result.per_op[op] = result.per_op.get(op, 0) + w * n_op
                    for index, args in enumerate(combos):
                        t0 = time.perf_counter()
                        out = m.apply(node.state, op, args)
                        bad = check_step(m, node.state, out, invariants)
                        key: tuple[object, ...] | None = None
                        if bad is None and out.fault is None:
                            key = (out.state.key(), calls2)
                        took = time.perf_counter() - t0
                        result.executed += 1
                        result.executed_seconds += took
                        result.seconds += took * per
                        if key is None:
                            what = bad[0] if bad is not None else "oops"
                            result.violations[what] = result.violations.get(what, 0) + per
                            continue
                        if key in seen:
                            continue
                        groups = dict(node.groups)
                        if group is not None:
                            groups[group] = index
                        arriving.setdefault(key, []).append(_Node(out.state, calls2, groups))
            frontier = []
            for key, nodes in arriving.items():
                # Samples of one group reaching the same state: the group's choice is gone
                # from the state (all its values collapse).  Otherwise the biggest class.
                choices: dict[int, set[int]] = {}
                for node in nodes:
                    for g, index in node.groups.items():
                        choices.setdefault(g, set()).add(index)
                collapsed = {g for g, seen_idx in choices.items() if len(seen_idx) > 1}
                for node in nodes:
                    node.groups = {g: i for g, i in node.groups.items() if g not in collapsed}
                best = max(nodes, key=lambda n: n.weight(factors))
                seen.add(key)
                frontier.append(best)
                level[1] += best.weight(factors)
                result.states += best.weight(factors)
        return result


def symbolic(spec: Spec, depth: int, timeout_s: float, config: KernelConfig,
             repeats: int) -> tuple[float, dict[str, int]]:  # fmt: skip
    """Median wall of `repeats` cold runs of all the spec's checks on `config`."""
    jobs = ops_jobs(spec, depth, int(timeout_s * 1000), config)
    walls = []
    counts: dict[str, int] = {}
    for _ in range(max(1, repeats)):
        seconds, _solver, counts, _notes = run_bmc(jobs)
        walls.append(seconds)
    return statistics.median(walls), counts


@dataclass
class Baseline:
    spec: str
    depth: int
    measured: Search  # 2 MiB, executed
    counted_2m: Search  # 2 MiB, counting BFS (validation)
    symbolic_2m: float
    symbolic_2m_verdicts: dict[str, int]
    counted_1g: Search | None = None
    symbolic_1g: float | None = None
    symbolic_1g_verdicts: dict[str, int] = field(default_factory=dict)
    count_1g_seconds: float = 0.0

    @property
    def explicit_2m(self) -> float:
        """Measured when the BFS finished; else the counting BFS's estimate (the sampled cost
        of each kind of transition times how many there are: the bounded run's own rate is
        biased by the cheap transitions BFS order puts first)."""
        return self.measured.seconds if self.measured.complete else self.counted_2m.seconds

    @property
    def ratio_2m(self) -> float:
        return self.explicit_2m / self.symbolic_2m if self.symbolic_2m else float("inf")

    @property
    def ratio_1g(self) -> float | None:
        if self.counted_1g is None or not self.symbolic_1g:
            return None
        return self.counted_1g.seconds / self.symbolic_1g


def baseline(path: pathlib.Path, depth: int, timeout_s: float, limit: int | None, budget_s: float | None,
             sample: int, do_1g: bool, repeats: int, log: bool) -> Baseline:  # fmt: skip
    units = load_sweep(path)  # a sweep over eras: its v5.14 unit, as before the sweep
    spec = next((u for u in units if u.scheme.name == "v5.14"), units[0])
    assert spec.ops is not None, f"{path}: not an ops spec"
    config = next((c for c in spec.configs if c.id.split("@")[0] == CONFIG_2M), spec.configs[0])
    job = ops_jobs(spec, depth, int(timeout_s * 1000), config)[0]
    m = machine_for(job)
    invariants = tuple(spec.invariants)
    limits = max_calls_of(job)
    if log:
        print(f"  [bfs] {config.id} depth {depth} ...", file=sys.stderr, flush=True)
    measured = bfs(m, job.alphabet, invariants, depth, limits, limit, budget_s)
    if log:
        print(f"  [bfs] {measured.transitions:,} transitions, {measured.seconds:.1f} s {measured.stopped}",
              file=sys.stderr, flush=True)  # fmt: skip
    counted_2m = Counter(m, sample, random.Random(1), log).run(job.alphabet, invariants, depth, limits)
    sym_2m, sym_2m_v = symbolic(spec, depth, timeout_s, config, repeats)
    out = Baseline(path.stem, depth, measured, counted_2m, sym_2m, sym_2m_v)
    if do_1g:
        big = config_like(CONFIG_1G, config)
        job_1g = ops_jobs(spec, depth, int(timeout_s * 1000), big)[0]
        counter = Counter(machine_for(job_1g), sample, random.Random(1), log)
        start = time.perf_counter()
        out.counted_1g = counter.run(job_1g.alphabet, invariants, depth, limits)
        out.count_1g_seconds = time.perf_counter() - start
        if log:
            print(f"  [count] {big.id}: {out.count_1g_seconds:.1f} s", file=sys.stderr, flush=True)
        out.symbolic_1g, out.symbolic_1g_verdicts = symbolic(spec, depth, timeout_s, big, repeats)
    return out


def print_baseline(b: Baseline, sample: int, repeats: int) -> None:
    meas, c2, c1 = b.measured, b.counted_2m, b.counted_1g
    big = c1.config if c1 is not None else CONFIG_1G
    print(f"2. Explicit-state baseline (BFS as TLC would) vs symbolic BMC: {b.spec}, depth {b.depth}")
    print("   [m] measured in this run  [c] counted (counting BFS, nothing else applied)")
    print("   [e] extrapolated: counted transitions x measured/sampled cost per transition")
    w1, w2 = 34, 32
    print(f"{'':<{w1}}{meas.config:<{w2}}{big}")
    print("-" * WIDTH)

    def row(label: str, left: str, right: str) -> None:
        print(f"{label:<{w1}}{left:<{w2}}{right}".rstrip()[:WIDTH])

    if meas.complete:
        row("transitions", f"{fmt_n(meas.transitions)} [m]", f"{fmt_n(c1.transitions)} [c]" if c1 else "-")
        row("distinct states", f"{fmt_n(meas.states)} [m]", f"{fmt_n(c1.states)} [c]" if c1 else "-")
    else:
        row("transitions", f"{fmt_n(c2.transitions)} [c]", f"{fmt_n(c1.transitions)} [c]" if c1 else "-")
        row("  executed before the bound", f"{fmt_n(meas.transitions)} [m]", "")
        row("distinct states", f"{fmt_n(c2.states)} [c]", f"{fmt_n(c1.states)} [c]" if c1 else "-")
    levels = " / ".join(fmt_n(t) for t, _n in (meas.per_level if meas.complete else c2.per_level))
    row("  transitions per level", levels + (" [m]" if meas.complete else " [c]"),
        (" / ".join(fmt_n(t) for t, _n in c1.per_level) + " [c]") if c1 else "")  # fmt: skip
    viol_m = ", ".join(f"{k} {fmt_n(v)}" for k, v in sorted(meas.violations.items())) or "none"
    viol_c = ", ".join(f"{k} ~{fmt_n(v)}" for k, v in sorted(c1.violations.items())) or "none" if c1 else "-"
    row("violating transitions", viol_m + " [m]", viol_c + (" [c]" if c1 else ""))
    if meas.complete:
        row("explicit BFS wall", f"{fmt_s(meas.seconds)} s [m]",
            f"{fmt_s(c1.seconds)} s = {human(c1.seconds)} [e]" if c1 else "-")  # fmt: skip
        per = meas.seconds / meas.transitions if meas.transitions else 0.0
        row("  per transition", f"{per * 1e3:.3f} ms [m]",
            f"{c1.seconds / c1.transitions * 1e3:.3f} ms [e]" if c1 and c1.transitions else "")  # fmt: skip
    else:
        per = meas.seconds / meas.transitions if meas.transitions else 0.0
        row("explicit BFS wall", f"{fmt_s(b.explicit_2m)} s [e]",
            f"{fmt_s(c1.seconds)} s = {human(c1.seconds)} [e]" if c1 else "-")  # fmt: skip
        row("  per transition (bounded run)", f"{per * 1e3:.3f} ms [m]",
            f"{c1.seconds / c1.transitions * 1e3:.3f} ms [e]" if c1 and c1.transitions else "")  # fmt: skip
        row("  bounded run", f"{fmt_s(meas.seconds)} s [m], {meas.stopped}", "")
    if c1 is not None:
        row("  transitions executed to count", f"{c2.executed} [m]", f"{c1.executed} [m], {b.count_1g_seconds:.1f} s")
    label = f"symbolic BMC wall ({'median of ' + str(repeats) if repeats > 1 else 'all checks'})"
    row(
        label,
        f"{fmt_s(b.symbolic_2m)} s [m] {verdict_text(b.symbolic_2m_verdicts)}",
        f"{fmt_s(b.symbolic_1g)} s [m] {verdict_text(b.symbolic_1g_verdicts)}" if b.symbolic_1g is not None else "-",
    )
    tag = "[m]" if meas.complete else "[e]"
    row("explicit / symbolic", f"{fmt_x(b.ratio_2m)} {tag}", f"{fmt_x(b.ratio_1g)} [e]" if b.ratio_1g else "-")
    ok = b.ratio_2m >= TARGET_SPEEDUP
    row(f"target (2M): >= {TARGET_SPEEDUP:g}x", "PASS" if ok else "MISS", "")
    print("-" * WIDTH)
    # validation of the counting BFS against the measured one (same machine)
    if meas.complete:
        agree = "agrees" if round(c2.transitions) == meas.transitions and round(c2.states) == meas.states else \
            "DIFFERS"  # fmt: skip
        print(
            f"counting BFS at 2M (validation): {fmt_n(c2.transitions)} transitions, {fmt_n(c2.states)} states "
            f"({agree} with the measured BFS);"
        )
        print(
            f"  its time estimate {fmt_s(c2.seconds)} s = {c2.seconds / meas.seconds:.2f} x the measured "
            f"{fmt_s(meas.seconds)} s ({c2.executed} sampled, {sample} per big domain)"
        )
    else:
        print(
            f"counting BFS at 2M: {fmt_n(c2.transitions)} transitions; its own time estimate {fmt_s(c2.seconds)} s "
            f"(from {c2.executed} sampled transitions)"
        )
    if meas.first_violation:
        print(f"first violation: {meas.first_violation}"[:WIDTH])


# -- main ---------------------------------------------------------------------------------------
def find_gup_spec(specs_dir: pathlib.Path) -> pathlib.Path | None:
    for directory in (specs_dir, DEFAULT_SPECS):
        for name in GUP_NAMES:
            if (directory / name).is_file():
                return directory / name
        found = sorted(directory.glob("gup-fifth-page*.toml"))
        if found:
            return found[0]
    return None


def cli_depth_walls(specs: Sequence[tuple[str, Spec]], jobs: int) -> dict[str, float]:
    """Wall time of check_specs() (what `hvo-verify check SPEC --jobs N` runs) per spec."""
    from hvo_verify.check.suite import check_specs

    out: dict[str, float] = {}
    for name, spec in specs:
        forget_unrollings()
        start = time.perf_counter()
        check_specs([spec], workers=jobs)
        out[name] = time.perf_counter() - start
    return out


def load_ops_specs(directory: pathlib.Path) -> tuple[list[tuple[str, Spec]], list[str]]:
    specs, skipped = [], []
    for path in sorted(directory.glob("*.toml")):
        try:
            units = load_sweep(path)
        except Exception as exc:  # noqa: BLE001 (specs are edited concurrently)
            skipped.append(f"{path.name}: {exc}")
            continue
        if units[0].ops is None:
            skipped.append(f"{path.name}: not an ops spec")
            continue
        specs += [(f"{path.stem}#{u.scheme.name}" if u.sweep else path.stem, u) for u in units]
    return specs, skipped


def wrap(items: Sequence[str], indent: str, sep: str = "; ") -> list[str]:
    """Items joined by `sep` into lines of at most WIDTH characters."""
    lines: list[str] = []
    line = ""
    for item in items:
        candidate = item if not line else line + sep + item
        if line and len(indent + candidate) > WIDTH:
            lines.append(indent + line)
            line = item
        else:
            line = candidate
    if line:
        lines.append(indent + line)
    return lines


def summary(table: dict[str, list[DepthRun]], base: Baseline | None, depths: Sequence[int]) -> list[str]:
    lines = ["Summary (figures from one run on a shared 2-core machine; compare ratios)"]
    if TARGET_DEPTH in depths and table:
        passed = 0
        lines.append(f"- BMC wall to all verdicts at depth {TARGET_DEPTH} (target <= {TARGET_DEPTH_S:g} s per spec):")
        items = []
        for name, runs in table.items():
            r6 = next(r for r in runs if r.depth == TARGET_DEPTH)
            ok = r6.seconds is not None and r6.seconds <= TARGET_DEPTH_S and not r6.verdicts.get("unknown")
            passed += ok
            items.append(f"{name} {fmt_s(r6.seconds)} s{'' if ok else ' MISS'}")
        lines += wrap(items, "    ")
        lines.append(f"    {passed}/{len(table)} specs meet the target")
    if table:
        per_depth: dict[int, list[float]] = {}
        gms = []
        for _name, runs in table.items():
            factors = growth(runs)
            for r, g in zip(runs, factors, strict=True):
                if g is not None:
                    per_depth.setdefault(r.depth, []).append(g)
            gm = geomean([g for g in factors if g is not None])
            if gm is not None:
                gms.append(gm)
        lines.append("- BMC growth t(k)/t(k-1), median over specs:")
        lines += wrap([f"k{d} {statistics.median(v):.2f}x" for d, v in sorted(per_depth.items())], "    ")
        if gms:
            lines.append(f"    per-spec geometric mean: min {min(gms):.2f}x, median {statistics.median(gms):.2f}x, "
                         f"max {max(gms):.2f}x per extra step")  # fmt: skip
    if base is not None:
        meas = base.measured
        tag = "measured" if meas.complete else "extrapolated"
        trans = meas.transitions if meas.complete else base.counted_2m.transitions
        lines.append(f"- explicit BFS vs symbolic, {base.spec} depth {base.depth}, {meas.config}: "
                     f"{fmt_n(trans)} transitions")  # fmt: skip
        lines.append(f"    {fmt_s(base.explicit_2m)} s ({tag}) vs {fmt_s(base.symbolic_2m)} s (measured) = "
                     f"{fmt_x(base.ratio_2m)} (target >= {TARGET_SPEEDUP:g}x: "
                     f"{'PASS' if base.ratio_2m >= TARGET_SPEEDUP else 'MISS'})")  # fmt: skip
        c1 = base.counted_1g
        if c1 is not None and base.symbolic_1g is not None:
            per = c1.seconds / c1.transitions if c1.transitions else 0.0
            lines.append(f"- same at {c1.config}: {fmt_n(c1.transitions)} transitions (counted) x {per * 1e3:.1f} ms "
                         "per transition (sampled)")  # fmt: skip
            lines.append(f"    = {c1.seconds:.3g} s = {human(c1.seconds)} (extrapolated) vs symbolic "
                         f"{fmt_s(base.symbolic_1g)} s (measured): {fmt_x(base.ratio_1g)}")  # fmt: skip
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs", default=str(DEFAULT_SPECS), help="directory of ops specs (default %(default)s)")
    parser.add_argument("--depths", default=None, help="depths of part 1, e.g. 2..8 (default; --quick: 2..4)")
    parser.add_argument("--quick", action="store_true", help="smoke run: depths 2..4, BFS bounded, small samples")
    parser.add_argument("--timeout", type=float, default=60.0, help="per-check solver timeout, s (default 60)")
    parser.add_argument(
        "--stop-after",
        type=float,
        default=900.0,
        help="skip deeper depths of a spec once one depth took longer, s (default 900)",
    )
    parser.add_argument("--bfs-spec", default=None, help="spec of part 2 (default: the GUP objection spec)")
    parser.add_argument("--bfs-depth", type=int, default=3, help="depth of part 2 (default 3)")
    parser.add_argument(
        "--bfs-limit",
        type=int,
        default=None,
        help="bound the executed BFS to this many transitions, then extrapolate (--quick: 2000)",
    )
    parser.add_argument(
        "--bfs-seconds",
        type=float,
        default=900.0,
        help="bound the executed BFS to this much time, then extrapolate (default 900)",
    )
    parser.add_argument(
        "--sample",
        type=int,
        default=None,
        help="argument values sampled per large domain by the counting BFS (default 12; --quick 3)",
    )
    parser.add_argument(
        "--repeats", type=int, default=None, help="part 2: median of this many symbolic runs (default 3; --quick 1)"
    )
    parser.add_argument("--skip-bmc", action="store_true", help="skip part 1")
    parser.add_argument(
        "--jobs", type=int, default=2, help="workers of part 1b, as `check --jobs` (default 2; 1 skips it)"
    )
    parser.add_argument("--skip-bfs", action="store_true", help="skip part 2")
    parser.add_argument("--skip-1g", action="store_true", help=f"part 2 without {CONFIG_1G}")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)

    depths = parse_depths(args.depths or ("2..4" if args.quick else "2..8"))
    limit = args.bfs_limit if args.bfs_limit is not None else (2000 if args.quick else None)
    sample = args.sample or (3 if args.quick else 12)
    repeats = args.repeats or (1 if args.quick else 3)
    log = not args.quiet
    specs_dir = pathlib.Path(args.specs)
    started = time.perf_counter()

    table: dict[str, list[DepthRun]] = {}
    skipped: list[str] = []
    if not args.skip_bmc:
        specs, skipped = load_ops_specs(specs_dir)
        table = bmc_growth(specs, depths, args.timeout, args.stop_after, log)
        print_growth(table, skipped, depths, args.timeout)
        print()

    cli_walls: dict[str, float] = {}
    if not args.skip_bmc and args.jobs > 1:
        specs, _skipped = load_ops_specs(specs_dir)
        cli_walls = cli_depth_walls(specs, args.jobs)
        print(f"1b. As `hvo-verify check SPEC --jobs {args.jobs}` runs it: wall seconds to all verdicts at each")
        print(f"    spec's own depth (default {TARGET_DEPTH}), {args.jobs} worker processes (fork), cold.")
        for name, wall in cli_walls.items():
            mark = "PASS" if wall <= TARGET_DEPTH_S else "MISS"
            print(f"  {name:<40} {wall:6.2f} s  {mark}")
        met = sum(1 for w in cli_walls.values() if w <= TARGET_DEPTH_S)
        print(f"  {met}/{len(cli_walls)} specs within {TARGET_DEPTH_S:g} s")
        print()

    base = None
    if not args.skip_bfs:
        path = pathlib.Path(args.bfs_spec) if args.bfs_spec else find_gup_spec(specs_dir)
        if path is None:
            print("2. Explicit-state baseline: no gup-fifth-page*.toml spec found (use --bfs-spec)")
        else:
            base = baseline(path, args.bfs_depth, args.timeout, limit, args.bfs_seconds, sample,
                            not args.skip_1g, repeats, log)  # fmt: skip
            print_baseline(base, sample, repeats)
        print()

    for line in summary(table, base, depths):
        print(line)
    print(f"(benchmark wall {time.perf_counter() - started:.0f} s)")

    if args.json:
        document = {
            "depths": depths,
            "timeout_s": args.timeout,
            "targets": {"depth": TARGET_DEPTH, "depth_seconds": TARGET_DEPTH_S, "speedup_2m": TARGET_SPEEDUP},
            "bmc": {
                name: [
                    {
                        "depth": r.depth,
                        "seconds": r.seconds,
                        "solver_seconds": r.solver_seconds,
                        "growth": g,
                        "verdicts": r.verdicts,
                        "notes": r.notes,
                    }
                    for r, g in zip(runs, growth(runs), strict=True)
                ]
                for name, runs in table.items()
            },  # fmt: skip
            "not_benchmarked": skipped,
            "cli_walls": cli_walls,
            "baseline": None
            if base is None
            else {
                "spec": base.spec,
                "depth": base.depth,
                "bfs_2m_measured": dataclasses.asdict(base.measured),
                "bfs_2m_counted": dataclasses.asdict(base.counted_2m),
                "explicit_2m_seconds": base.explicit_2m,
                "explicit_2m_is_measured": base.measured.complete,
                "symbolic_2m_seconds": base.symbolic_2m,
                "symbolic_2m_verdicts": base.symbolic_2m_verdicts,
                "ratio_2m": base.ratio_2m,
                "bfs_1g_counted": None if base.counted_1g is None else dataclasses.asdict(base.counted_1g),
                "symbolic_1g_seconds": base.symbolic_1g,
                "symbolic_1g_verdicts": base.symbolic_1g_verdicts,
                "ratio_1g": base.ratio_1g,
            },  # fmt: skip
        }
        pathlib.Path(args.json).write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
