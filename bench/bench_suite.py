# SPDX-License-Identifier: GPL-2.0-only
"""The benchmark of issue 15 in one run: run from the repository root with

    python bench/bench_suite.py [--quick] [--json FILE] [--depths 2..8] [--spin-memlim MB]

Everything is measured in ONE run (timings on a shared machine are noisy: compare the
ratios of one run) and printed as one table; CPU time (user+sys of the child process or
of this process) is printed beside every wall time.  Rows:

  suite               `hvo-verify check specs/` (default --jobs): wall, CPU, differ; then
                      check_specs() in this process with 2 workers: wall, CPU and the solver
                      seconds its results carry (the sum over checks).
  cache cold / warm   the same run twice with a fresh cache directory (XDG_CACHE_HOME):
                      the first fills the verdict cache, the second reads it.  Skipped,
                      with a note, while `check` has no --no-cache option (issue 15 item 2).
  coverage cost       the suite with --no-witness (and --no-cache: cold, and the user's
                      cache untouched) against the cold suite: skipped, with a note, while
                      `check` has no --no-witness option.
  deep spec           the spec of issue 15 (every operation at the default depth) on its
                      cost budget (check/cost.py): wall, CPU, max RSS; and depth 12 refused.
  depth growth        for --growth-spec at depths 2..8: the BMC of its checks (wall, CPU,
                      verdicts) against the explicit-state baselines on the same concrete
                      model: check/explore.py (Hypothesis, DEFAULT_EXAMPLES sequences) and
                      bench/bench_ops.py bfs() (every enabled operation and argument, states
                      deduplicated; cut at --bfs-seconds).
  SPIN                /work/shared/bench/spin-hwpoison.pml (two memory_failure() calls on
                      any subpages, then PageHWPoison of every subpage), POLICY 1 at 2 MiB
                      (N=512) and 16 MiB (N=4096) and POLICY 0 at 2 MiB, each pan capped at
                      --spin-memlim MB, against specs/bench/spin-hwpoison-*.toml (2 MiB and
                      1 GiB) as a ratio (wall and CPU; the BMC row is one `check` of both
                      specs, start-up included).  Skipped, with a note, when `spin` is not
                      installed.
  targets             each figure issue 15 names (TARGETS), "met" or "NOT met", from the
                      rows above; a run that did not end as the target needs (its exit
                      code) is "NOT met" whatever its time.

Every row is charged the CPU of its own children (ChildClock): the in-process pool's
workers are reaped by that row, not by the next.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import os
import pathlib
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hvo_verify.check.explore import explore_spec
from hvo_verify.check.suite import check_specs
from hvo_verify.specs.loader import load_specs
from hvo_verify.verdict import Outcome

ROOT = pathlib.Path(__file__).resolve().parent.parent
SPIN_MODEL = pathlib.Path("/work/shared/bench/spin-hwpoison.pml")
SPIN_SPECS = ("specs/bench/spin-hwpoison-raw-hwp-list.toml", "specs/bench/spin-hwpoison-raw-flag.toml")
GROWTH_SPEC = "specs/objections/double-mapping-per-subpage.toml"
T = TypeVar("T")
EVERY_OP = ROOT / "bench" / "every-op.toml"  # the deep spec of issue 15; [ops] last


@dataclass
class Row:
    name: str
    wall: float | None = None
    cpu: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    note: str = ""


def _bench_ops() -> Any:
    spec = importlib.util.spec_from_file_location("bench_ops", ROOT / "bench" / "bench_ops.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_ops"] = module
    spec.loader.exec_module(module)
    return module


class ChildClock:
    """CPU seconds of each row: RUSAGE_CHILDREN differences, one row at a time.  Every
    row that starts children, the in-process pool's workers too, goes through lap(), so a
    worker reaped late is charged to the row that started it, not to the next one."""

    def __init__(self) -> None:
        self.before = resource.getrusage(resource.RUSAGE_CHILDREN)

    def lap(self) -> float:
        """The children's CPU seconds since the last lap."""
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - self.before.ru_utime) + (after.ru_stime - self.before.ru_stime)
        self.before = after
        return cpu

    def run(self, command: Sequence[str], env: dict[str, str] | None = None, cwd: pathlib.Path = ROOT,
            ) -> tuple[float, float, int, str, str]:  # fmt: skip
        self.lap()
        start = time.perf_counter()
        proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - start
        return wall, self.lap(), proc.returncode, proc.stdout, proc.stderr

    def call(self, fn: Callable[[], T]) -> tuple[float, float, T]:
        """fn() in this process: wall, and CPU of this process and of its children."""
        self.lap()
        c0, w0 = time.process_time(), time.perf_counter()
        result = fn()
        wall = time.perf_counter() - w0
        return wall, time.process_time() - c0 + self.lap(), result


def hvo(*args: str) -> list[str]:
    return [shutil.which("hvo-verify") or "hvo-verify", *args]


def check_help() -> str:
    return subprocess.run(hvo("check", "--help"), capture_output=True, text=True, check=False).stdout


def suite_in_process(clock: ChildClock, target: Sequence[str]) -> Row:
    """check_specs() with 2 workers in this process: wall, CPU (this process and its
    workers), and the solver seconds the results carry (the CLI's JSON has none)."""
    wall, cpu, results = clock.call(lambda: check_specs(load_specs([str(ROOT / t) for t in target]), workers=2))
    solver = sum(r.solver_seconds for r in results)
    return Row("  in process, 2 workers", wall, cpu, {"solver_s": round(solver, 1), "queries": sum(r.queries for r in results),
               "differ": sum(not r.as_expected for r in results)})  # fmt: skip


def suite_rows(clock: ChildClock, quick: bool) -> list[Row]:
    helptext = check_help()
    target = ["specs/bench"] if quick else ["specs/"]
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "XDG_CACHE_HOME": cache}
        wall, cpu, code, out, _err = clock.run(hvo("check", *target, "--format", "json"), env)
        rows.append(Row("suite: hvo-verify check " + " ".join(target), wall, cpu,
                        {"exit": code, "checks": _count(out), "differ": _differ(out)}))  # fmt: skip
        if "--no-cache" in helptext:
            wall2, cpu2, code2, _o, _e = clock.run(hvo("check", *target), env)
            rows.append(Row("  cache warm (2nd run)", wall2, cpu2, {"exit": code2, "warm/cold": _ratio(wall2, wall)}))
            wall3, cpu3, _c, _o, _e = clock.run(hvo("check", *target, "--no-cache"), env)
            rows.append(Row("  --no-cache", wall3, cpu3))
        else:
            rows.append(
                Row("  cache warm", note="skipped: `check` has no --no-cache (the verdict cache is not merged)")
            )
    rows.append(suite_in_process(clock, target))
    if "--no-witness" in helptext:
        wall4, cpu4, _c, _o, _e = clock.run(hvo("check", *target, "--no-witness", "--no-cache"))
        rows.append(Row("  --no-witness", wall4, cpu4, {"coverage cost (wall)": _ratio(wall, wall4)}))
    else:
        rows.append(
            Row("  coverage cost", note="skipped: `check` has no --no-witness (the witness query is not merged)")
        )
    return rows


def _count(json_text: str) -> int | None:
    try:
        return len(json.loads(json_text)["results"])
    except (ValueError, KeyError, TypeError):
        return None


def _differ(json_text: str) -> int | None:
    try:
        docs = json.loads(json_text)["results"]
    except (ValueError, KeyError, TypeError):
        return None
    return sum(1 for d in docs if not d.get("as_expected", True))


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


def deep_rows(clock: ChildClock) -> list[Row]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, extra in (("deep spec (all ops, depth 6)", ""), ("deep spec (depth 12)", "depth = 12")):
            path = pathlib.Path(tmp) / "deep.toml"
            path.write_text(EVERY_OP.read_text(encoding="utf-8") + extra + "\n", encoding="utf-8")
            timer = shutil.which("time") and pathlib.Path("/usr/bin/time").exists()
            command = ["/usr/bin/time", "-f", "maxrss_kb=%M", *hvo("check", str(path), "--jobs", "1")] if timer else \
                hvo("check", str(path), "--jobs", "1")  # fmt: skip
            wall, cpu, code, out, err = clock.run(command)
            rss = re.search(r"maxrss_kb=(\d+)", err)
            summary = (out.strip().splitlines() or err.strip().splitlines() or [""])[-1]
            if "estimated cost" in err:
                summary = err.strip().splitlines()[0][-160:]
            rows.append(Row(name, wall, cpu, {"exit": code, "max_rss_mb": int(rss.group(1)) // 1024 if rss else None,
                                              "result": summary}))  # fmt: skip
    return rows


def growth_rows(spec_path: str, depths: Sequence[int], bfs_seconds: float) -> list[Row]:
    bo = _bench_ops()
    spec = load_specs([str(ROOT / spec_path)])[0]
    assert spec.ops is not None
    rows = []
    for depth in depths:
        jobs = bo.ops_jobs(spec, depth, 120_000)
        c0 = time.process_time()
        wall, solver, counts, _notes = bo.run_bmc(jobs)
        bmc_cpu = time.process_time() - c0
        deeper = dataclasses.replace(spec, ops=dataclasses.replace(spec.ops, depth=depth))
        c0, w0 = time.process_time(), time.perf_counter()
        found = explore_spec(deeper)
        ex_wall, ex_cpu = time.perf_counter() - w0, time.process_time() - c0
        machine = bo.machine_for(jobs[0])
        search = bo.bfs(machine, spec.ops.alphabet, spec.invariants, depth, dict(spec.ops.max_calls), None, bfs_seconds)
        rows.append(Row(f"depth {depth}", wall, bmc_cpu, {
            "bmc verdicts": bo.verdict_text(counts), "solver_s": round(solver, 2),
            "explore wall": round(ex_wall, 2), "explore cpu": round(ex_cpu, 2),
            "explore found": sum(e.found for e in found),
            "bfs wall": round(search.seconds, 2), "bfs states": search.states, "bfs transitions": int(search.transitions),
            "bfs complete": search.complete}))  # fmt: skip
    return rows


def spin_rows(clock: ChildClock, memlim_mb: int) -> list[Row]:
    if shutil.which("spin") is None or shutil.which("gcc") is None:
        return [Row("SPIN", note="skipped: `spin` is not installed (apt-get install spin)")]
    if not SPIN_MODEL.exists():
        return [Row("SPIN", note=f"skipped: {SPIN_MODEL} is missing")]
    rows = []
    wall_b, cpu_b, code, out, _e = clock.run(hvo("check", *SPIN_SPECS, "--jobs", "1"))
    rows.append(Row("BMC specs/bench/spin-hwpoison-* (2 MiB + 1 GiB, both policies)", wall_b, cpu_b,
                    {"exit": code, "result": (out.strip().splitlines() or [""])[-1]}))  # fmt: skip
    for n, policy in ((512, 1), (4096, 1), (512, 0)):
        with tempfile.TemporaryDirectory() as tmp:
            work = pathlib.Path(tmp)
            shutil.copy(SPIN_MODEL, work / "model.pml")
            w1, c1, code, _o, err = clock.run(["spin", "-a", f"-DN={n}", f"-DPOLICY={policy}", "model.pml"], cwd=work)
            if code:
                rows.append(Row(f"SPIN N={n} POLICY={policy}", note=f"spin -a failed: {err.strip()[:120]}"))
                continue
            vector = f"-DVECTORSZ={2 * n + 1024}"  # the state vector holds the N-byte and N-bit arrays
            w2, c2, code, _o, err = clock.run(["gcc", "-O2", f"-DMEMLIM={memlim_mb}", "-DSAFETY", vector, "-o", "pan",
                                               "pan.c"], cwd=work)  # fmt: skip
            if code:
                rows.append(Row(f"SPIN N={n} POLICY={policy}", note=f"gcc failed: {err.strip()[:120]}"))
                continue
            w3, c3, code, out, err = clock.run(["./pan"], cwd=work)
            text = out + err
            states = re.search(r"([\d.e+]+) states, stored", text)
            errors = re.search(r"errors: (\d+)", text)
            memory = re.search(r"([\d.]+)\s+total actual memory usage", text)
            failed = re.search(r"pan:? ?\d*:? error[^\n]*", text)
            outcome = "incomplete: reached -DMEMLIM" if "reached -DMEMLIM" in text else \
                "out of memory" if "out of memory" in text else \
                "counterexample (assertion violated)" if "assertion violated" in text else \
                failed.group(0)[:80] if failed else f"errors {errors.group(1)}" if errors else "no result"  # fmt: skip
            size = f"{n * 4 // 1024} MiB"
            rows.append(Row(f"SPIN {size} N={n} POLICY={policy}", w1 + w2 + w3, c1 + c2 + c3, {
                "pan wall": round(w3, 2), "states": states.group(1) if states else None,
                "pan cpu": round(c3, 2), "memory MB": memory.group(1) if memory else None, "outcome": outcome,
                "SPIN/BMC wall": _ratio(w1 + w2 + w3, wall_b), "SPIN/BMC cpu": _ratio(c1 + c2 + c3, cpu_b)}))  # fmt: skip
    return rows


@dataclass(frozen=True)
class Target:
    """One figure issue 15 names, and the row and measure it is read from."""

    what: str
    part: str
    row: str  # the row's name, without its indent
    measure: str  # "wall", "cpu" or a key of Row.extra
    limit: float
    exits: tuple[int, ...]  # the exit codes of a run that ended as the target needs


# The exit codes are hvo_verify.verdict.Outcome's (cli.py EXIT_CODES).  The deep spec
# "finishes" with any but ERROR (bad input, or refused up front): it runs on its cost
# budget (check/cost.py), and a check that spends it is unknown, with the knob to turn.
OK, REFUSED = Outcome.AS_EXPECTED.exit_code, Outcome.ERROR.exit_code
FINISHED = tuple(o.exit_code for o in Outcome if o is not Outcome.ERROR)
TARGETS = (
    Target("suite cold, wall <= 20 s on 2 cores", "suite", "suite: hvo-verify check", "wall", 20.0, (OK,)),
    Target("unchanged rerun (cache warm), wall <= 3 s", "suite", "cache warm (2nd run)", "wall", 3.0, (OK,)),
    Target("deep spec, wall <= 120 s", "deep", "deep spec (all ops, depth 6)", "wall", 120.0, FINISHED),
    Target("deep spec, max RSS <= 2 GB", "deep", "deep spec (all ops, depth 6)", "max_rss_mb", 2048.0, FINISHED),
    Target(
        "depth 12 refused up front (exit 2), wall <= 10 s", "deep", "deep spec (depth 12)", "wall", 10.0, (REFUSED,)
    ),
)


def target_results(parts: dict[str, list[Row]]) -> list[tuple[Target, float | None, bool]]:
    """Each target whose part ran, its figure (None: no row, or the run did not end as
    the target needs) and whether it is met."""
    results = []
    for t in TARGETS:
        if t.part not in parts:
            continue
        row = next((r for r in parts[t.part] if r.name.strip().startswith(t.row)), None)
        value = None
        if row is not None and row.extra.get("exit") in t.exits:
            value = getattr(row, t.measure) if t.measure in ("wall", "cpu") else row.extra.get(t.measure)
        results.append((t, value, value is not None and float(value) <= t.limit))
    return results


def target_lines(parts: dict[str, list[Row]]) -> list[str]:
    lines = []
    for t, value, met in target_results(parts):
        figure = "no figure: the run did not end as the target needs" if value is None else \
            f"{float(value):.2f} against {t.limit:g}"  # fmt: skip
        lines.append(f"  {t.what:52} {'met' if met else 'NOT met'} ({figure})")
    return lines


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:8.2f}"


def print_rows(title: str, rows: Sequence[Row]) -> None:
    print(f"\n{title}")
    print(f"  {'row':58} {'wall s':>8} {'cpu s':>8}  details")
    for r in rows:
        details = ", ".join(f"{k} {v}" for k, v in r.extra.items() if v is not None)
        print(f"  {r.name[:58]:58} {fmt(r.wall):>8} {fmt(r.cpu):>8}  {r.note or details}", flush=True)


def parse_depths(text: str) -> list[int]:
    if ".." in text:
        lo, hi = text.split("..")
        return list(range(int(lo), int(hi) + 1))
    return [int(x) for x in text.split(",")]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="suite rows on specs/bench only; depths 2..3")
    ap.add_argument("--depths", default="2..8")
    ap.add_argument("--growth-spec", default=GROWTH_SPEC)
    ap.add_argument("--bfs-seconds", type=float, default=30.0)
    ap.add_argument("--spin-memlim", type=int, default=2048, help="pan's -DMEMLIM, MB")
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: suite,deep,growth,spin")
    ap.add_argument("--json", default="")
    args = ap.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                            check=False).stdout.strip()  # fmt: skip
    print(f"bench_suite at {commit or '?'}: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    clock = ChildClock()
    parts: dict[str, list[Row]] = {}
    if "suite" not in skip:
        parts["suite"] = suite_rows(clock, args.quick)
        print_rows("suite (target <= 20 s wall on 2 cores)", parts["suite"])
    if "deep" not in skip:
        parts["deep"] = deep_rows(clock)
        print_rows("deep spec (target <= 120 s, <= 2 GB; depth 12 refused up front)", parts["deep"])
    if "growth" not in skip:
        depths = [2, 3] if args.quick else parse_depths(args.depths)
        parts["growth"] = growth_rows(args.growth_spec, depths, args.bfs_seconds)
        print_rows(f"depth growth: BMC vs explicit state, {args.growth_spec}", parts["growth"])
    if "spin" not in skip:
        parts["spin"] = spin_rows(clock, args.spin_memlim)
        print_rows(f"SPIN vs BMC (pan -DMEMLIM={args.spin_memlim})", parts["spin"])
    lines = target_lines(parts)
    if lines:
        print("\ntargets (issue 15)", *lines, sep="\n")
    print(f"\nload at the end {os.getloadavg()[0]:.1f}")
    if args.json:
        doc = {k: [dataclasses.asdict(r) for r in rows] for k, rows in parts.items()}
        pathlib.Path(args.json).write_text(json.dumps({"commit": commit, **doc}, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
