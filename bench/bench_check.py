# SPDX-License-Identifier: GPL-2.0-only
"""Benchmark of `hvo-verify check`: run from the repository root with

    python bench/bench_check.py [--json PATH]

Everything is measured in ONE run, because timings on a shared machine are noisy and
only ratios taken in the same run mean much.  Figures:

  suite wall (CLI)     wall time of `hvo-verify check specs/` as a subprocess, default
                       --jobs (2 workers), interpreter start-up included.  Target <= 20 s.
  suite wall (1 proc)  wall time of check_specs(load_specs(["specs"]), workers=1) in
                       this process (specs loading included).
  solver time          sum of CheckResult.solver_seconds of that run: seconds spent
                       inside z3 Solver.check().
  wall / solver        overhead factor of the single-process run: encoding, canonical
                       counterexamples, replay, not-applicable checks.  Target <= 2.
  proof time <config>  for schemes v5.18, v6.2, mask-2026 x invariants head-resolution,
                       head-tail-exact, kpageflags: the median of 3 wall times of
                       run(Job(config, scheme, invariant)), summed over the 9 jobs.
  16G/2M, 1G/2M        proof time of the 16 GiB (arm64/64K/16G) and 1 GiB (x86-64/4K/1G)
                       folio over the 2 MiB one (x86-64/4K/2M).  Proof cost must not grow
                       with folio size: target 16G/2M <= 1.5 (1G/2M is reported only).
  witness share        CPU seconds (user+sys of the workers) of `check specs/` minus those
                       of `check specs/ --no-witness`, over the former: what looking for
                       each operation proof's witness costs (issue 13).  Target <= 0.30.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import resource
import shutil
import statistics
import subprocess
import sys
import time

from hvo_verify.check.static import Job, run
from hvo_verify.check.suite import check_specs
from hvo_verify.model.config import parse_config_id
from hvo_verify.model.scheme import preset
from hvo_verify.specs.loader import load_specs

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCHEMES = ("v5.18", "v6.2", "mask-2026")
INVARIANTS = ("head-resolution", "head-tail-exact", "kpageflags")
CONFIGS = ("x86-64/4K/2M", "x86-64/4K/1G", "arm64/64K/16G")
REPEATS = 3
SUITE_TARGET_S = 20.0
OVERHEAD_TARGET = 2.0
SIZE_TARGET = 1.5
WITNESS_TARGET = 0.30


def suite_cli() -> tuple[float, int]:
    """Wall seconds and exit code of `hvo-verify check specs/` (default --jobs)."""
    start = time.perf_counter()
    command = [shutil.which("hvo-verify") or "hvo-verify", "check", "specs/"]
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, check=False)
    return time.perf_counter() - start, proc.returncode


def suite_cli_cpu(*flags: str) -> tuple[float, float, int]:
    """Wall and CPU seconds (user+sys of the process and its workers) and exit code of
    `hvo-verify check specs/ FLAGS`: CPU time, because wall time on a shared machine
    says little."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    command = [shutil.which("hvo-verify") or "hvo-verify", "check", "specs/", *flags]
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.returncode


def suite_in_process() -> tuple[float, float, int, int]:
    """Wall seconds, solver seconds, checks and solver queries of a 1-worker run."""
    start = time.perf_counter()
    results = check_specs(load_specs([str(ROOT / "specs")]), workers=1)
    wall = time.perf_counter() - start
    return wall, sum(r.solver_seconds for r in results), len(results), sum(r.queries for r in results)


def proof_times() -> dict[str, dict[str, float]]:
    """Per config: summed medians of wall and solver seconds over SCHEMES x INVARIANTS."""
    figures: dict[str, dict[str, float]] = {}
    for config_id in CONFIGS:
        config = parse_config_id(config_id)[0]
        wall_total = solver_total = 0.0
        for scheme in SCHEMES:
            for inv in INVARIANTS:
                walls, solvers = [], []
                for _ in range(REPEATS):
                    start = time.perf_counter()
                    result = run(Job(config, preset(scheme), inv))
                    walls.append(time.perf_counter() - start)
                    solvers.append(result.solver_seconds)
                wall_total += statistics.median(walls)
                solver_total += statistics.median(solvers)
        figures[config_id] = {"wall_s": wall_total, "solver_s": solver_total}
    return figures


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args()

    cli_wall, cli_rc = suite_cli()
    with_wall, with_cpu, _rc = suite_cli_cpu()
    without_wall, without_cpu, _rc = suite_cli_cpu("--no-witness")
    witness_share = (with_cpu - without_cpu) / with_cpu if with_cpu else 0.0
    wall, solver, checks, queries = suite_in_process()
    proofs = proof_times()
    base = proofs[CONFIGS[0]]["wall_s"]
    ratio_1g = proofs["x86-64/4K/1G"]["wall_s"] / base
    ratio_16g = proofs["arm64/64K/16G"]["wall_s"] / base
    overhead = wall / solver if solver else float("inf")

    rows = [
        (
            "suite wall, CLI --jobs default",
            f"{cli_wall:7.2f} s",
            f"<= {SUITE_TARGET_S:g} s",
            verdict(cli_wall <= SUITE_TARGET_S),
        ),
        ("  exit code of that run", f"{cli_rc:7d}", "== 0", verdict(cli_rc == 0)),
        (
            "suite wall, in-process 1 worker",
            f"{wall:7.2f} s",
            f"<= {SUITE_TARGET_S:g} s",
            verdict(wall <= SUITE_TARGET_S),
        ),
        (f"  solver time ({checks} checks, {queries} queries)", f"{solver:7.2f} s", "", ""),
        ("  wall / solver", f"{overhead:7.2f} x", f"<= {OVERHEAD_TARGET:g}", verdict(overhead <= OVERHEAD_TARGET)),
    ]
    for config_id, fig in proofs.items():
        rows.append((f"proof time {config_id} (solver {fig['solver_s']:.2f} s)", f"{fig['wall_s']:7.2f} s", "", ""))
    rows.append(("  1G / 2M", f"{ratio_1g:7.2f} x", "(info)", ""))
    rows.append(("  16G / 2M", f"{ratio_16g:7.2f} x", f"<= {SIZE_TARGET:g}", verdict(ratio_16g <= SIZE_TARGET)))
    rows.append((f"suite CPU with witnesses (wall {with_wall:.1f} s)", f"{with_cpu:7.2f} s", "", ""))
    rows.append((f"suite CPU --no-witness (wall {without_wall:.1f} s)", f"{without_cpu:7.2f} s", "", ""))
    rows.append(("  witness share of the suite's CPU", f"{witness_share:7.2f}", f"<= {WITNESS_TARGET:g}",
                 verdict(witness_share <= WITNESS_TARGET)))  # fmt: skip

    print(f"{'figure':<46} {'value':>10}  {'target':<9} result")
    print("-" * 76)
    for name, value, target, ok in rows:
        print(f"{name:<46} {value:>10}  {target:<9} {ok}".rstrip())
    print(f"proof times: median of {REPEATS} per job, schemes {', '.join(SCHEMES)} x {', '.join(INVARIANTS)}")

    if args.json:
        document = {
            "suite_cli_wall_s": cli_wall,
            "suite_cli_exit": cli_rc,
            "suite_inprocess_wall_s": wall,
            "suite_inprocess_solver_s": solver,
            "suite_checks": checks,
            "suite_queries": queries,
            "wall_over_solver": overhead,
            "proof_times": proofs,
            "ratio_1g_over_2m": ratio_1g,
            "ratio_16g_over_2m": ratio_16g,
            "suite_cpu_with_witness_s": with_cpu,
            "suite_cpu_no_witness_s": without_cpu,
            "witness_share": witness_share,
            "targets": {
                "witness_share": WITNESS_TARGET,
                "suite_s": SUITE_TARGET_S,
                "wall_over_solver": OVERHEAD_TARGET,
                "ratio_16g_over_2m": SIZE_TARGET,
            },
        }
        pathlib.Path(args.json).write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
