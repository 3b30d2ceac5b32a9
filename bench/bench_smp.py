"""Benchmark of the SMP checks (issue 12): run from the repository root with

    python bench/bench_smp.py [--eras v6.1,v6.12.111] [--sizes 2,3,4,5,6,8] [--limit 60] [--json FILE]

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

from hvo_verify.check.smp import EXAMPLES, example, run_smp
from hvo_verify.check.smp_enumerate import enumerate_all
from hvo_verify.ops.smp import INVARIANT_IDS, System
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
    args = ap.parse_args(argv)
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
