# SPDX-License-Identifier: GPL-2.0-only
"""Benchmark of the SMP checks (issue 12): run from the repository root with

    python bench/bench_smp.py [--eras v6.1,v6.12.111] [--sizes 2,3,4,5,6,8] [--limit 60] [--json FILE]
    python bench/bench_smp.py --specs specs/regressions [--json FILE]

1. For each CPU pair of check/smp.py EXAMPLES and each era: the states and seconds of
   the explicit-state enumeration (check/smp_enumerate.py) against the seconds of the
   BMC (check/smp.py run_smp(), every invariant, build included).
2. Growth: the two-optimizers pair in --growth-era with nr_vpages = each size (more
   steps per CPU): the largest size whose enumeration finishes within --limit seconds,
   and the BMC/explicit time ratio there (the BMC of every invariant, per-query timeout
   --limit); stops after a BMC run longer than --bmc-budget seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from hvo_verify.check.smp import EXAMPLES, clear_cache, example, run_smp
from hvo_verify.check.smp_enumerate import enumerate_all
from hvo_verify.check.suite import check_specs
from hvo_verify.ops.smp import INVARIANT_IDS, System
from hvo_verify.specs.loader import load_specs
from hvo_verify.verdict import Verdict


def measure(system: System, timeout_ms: int) -> dict[str, object]:
    e = enumerate_all(system)
    start = time.perf_counter()
    results = run_smp(system, INVARIANT_IDS, timeout_ms)
    bmc = time.perf_counter() - start
    return {
        "states": e.states,
        "explicit_s": round(e.seconds, 3),
        "bmc_s": round(bmc, 2),
        "ratio": round(bmc / max(e.seconds, 1e-6), 1),
        "violated": sorted(r.invariant for r in results if r.verdict is Verdict.VIOLATED),
        "unknown": sorted(r.invariant for r in results if r.verdict is Verdict.UNKNOWN),
        "agrees": sorted(e.violations) == sorted(r.invariant for r in results if r.verdict is Verdict.VIOLATED),
    }


def bench_specs(folder: str, out: str) -> int:
    """Wall time of `hvo-verify check` on each [smp] spec (cold: a fresh unrolling each),
    one worker; then the whole folder's [smp] specs with two workers."""
    specs = [s for s in load_specs([folder]) if s.smp is not None]
    rows: list[dict[str, object]] = []
    walls: list[float] = []
    print(f"{'spec':58} {'checks':>6} {'wall s':>7}  as expected")
    for spec in specs:
        clear_cache()
        start = time.perf_counter()
        results = check_specs([spec], workers=1)
        wall = time.perf_counter() - start
        ok = all(r.as_expected for r in results)
        rows.append({"spec": spec.unit, "checks": len(results), "wall_s": round(wall, 2), "as_expected": ok})
        walls.append(wall)
        print(f"{spec.unit[-58:]:58} {len(results):>6} {wall:>7.2f}  {ok}", flush=True)
    clear_cache()
    start = time.perf_counter()
    check_specs(specs, workers=2)
    both = time.perf_counter() - start
    print(f"{len(specs)} [smp] specs: sum {sum(walls):.1f} s on one worker, {both:.1f} s with 2 workers; "
          f"slowest {max(walls, default=0.0):.1f} s")  # fmt: skip
    if out:
        with open(out, "w", encoding="utf-8") as fh:
            json.dump({"specs": rows, "two_workers_s": round(both, 1)}, fh, indent=2)
    return 0


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--eras", default="v6.1,v6.12.111")
    ap.add_argument("--sizes", default="2,3,4,5,6,8")
    ap.add_argument("--limit", type=float, default=60.0)
    ap.add_argument("--growth-era", default="v6.1")
    ap.add_argument("--bmc-budget", type=float, default=600.0, help="stop the growth after a BMC run this long (s)")
    ap.add_argument("--skip-pairs", action="store_true")
    ap.add_argument("--skip-growth", action="store_true")
    ap.add_argument("--json", default="")
    ap.add_argument("--specs", default="", help="time each [smp] spec of this folder (targets: <= 10 s each, <= 60 s "
                    "for specs/regressions/ with 2 workers), then stop")  # fmt: skip
    args = ap.parse_args(argv)
    if args.specs:
        return bench_specs(args.specs, args.json)
    timeout_ms = int(args.limit * 1000)
    rows: list[dict[str, object]] = []
    print(f"{'pair':28} {'era':10} {'states':>7} {'explicit s':>10} {'bmc s':>8} {'ratio':>7}  agrees")
    for era in [] if args.skip_pairs else args.eras.split(","):
        for name in EXAMPLES:
            row = {"pair": name, "era": era, "nr_vpages": 2, **measure(example(name, era), timeout_ms)}
            rows.append(row)
            print(f"{name:28} {era:10} {row['states']:>7} {row['explicit_s']:>10} {row['bmc_s']:>8} "
                  f"{row['ratio']:>7}  {row['agrees']}", flush=True)  # fmt: skip
    growth: list[dict[str, object]] = []
    if not args.skip_growth:
        era = args.growth_era
        print(f"\ngrowth: two-optimizers, {era}")
        print(f"{'nr_vpages':>9} {'K':>4} {'states':>8} {'explicit s':>10} {'bmc s':>8} {'ratio':>7}")
        for size in (int(s) for s in args.sizes.split(",")):
            system = example("two-optimizers", era, size)
            e = enumerate_all(system)
            grow: dict[str, object] = {"nr_vpages": size, "K": sum(p.max_steps for p in system.cpus),
                                      "states": e.states, "explicit_s": round(e.seconds, 2)}  # fmt: skip
            if e.seconds > args.limit or not e.complete:
                growth.append(grow)
                print(f"{size:>9} {grow['K']:>4} {e.states:>8} {e.seconds:>10.2f}  (enumeration over the limit: stop)")
                break
            start = time.perf_counter()
            run_smp(system, INVARIANT_IDS, timeout_ms)
            bmc = time.perf_counter() - start
            grow["bmc_s"], grow["ratio"] = round(bmc, 2), round(bmc / max(e.seconds, 1e-6), 1)
            growth.append(grow)
            print(
                f"{size:>9} {grow['K']:>4} {e.states:>8} {e.seconds:>10.2f} {grow['bmc_s']:>8} {grow['ratio']:>7}",
                flush=True,
            )
            if bmc > args.bmc_budget:
                print(f"(BMC took over the {args.bmc_budget:.0f} s budget: stop)")
                break
        done = [g for g in growth if "bmc_s" in g]
        if done:
            print(
                f"largest size enumerated within {args.limit:.0f} s and checked by BMC: nr_vpages "
                f"{done[-1]['nr_vpages']} (BMC/explicit {done[-1]['ratio']}x)"
            )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"pairs": rows, "growth": growth}, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
