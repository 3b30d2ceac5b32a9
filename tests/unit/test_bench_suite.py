# SPDX-License-Identifier: GPL-2.0-only
"""bench/bench_suite.py's accounting: each row is charged the CPU its own children spent
(a process pool's workers reaped after the row are not charged to the next row), and the
targets line says "met" only of a run that ended as the target needs."""

from __future__ import annotations

import concurrent.futures
import sys
import time
from collections.abc import Callable
from typing import Any


def _burn(seconds: float) -> float:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass
    return seconds


def test_pool_workers_are_charged_to_their_own_row(bench_script: Callable[[str], Any]) -> None:
    bench = bench_script("bench_suite")
    clock = bench.ChildClock()

    def in_a_pool() -> float:  # as suite_in_process() runs check_specs()
        with concurrent.futures.ProcessPoolExecutor(max_workers=1) as pool:
            return pool.submit(_burn, 0.6).result()

    _wall, pool_cpu, result = clock.call(in_a_pool)
    assert result == 0.6
    _wall, cpu, code, _out, _err = clock.run([sys.executable, "-c", "pass"])
    assert code == 0
    assert pool_cpu >= 0.5
    assert cpu < 0.4, f"the next row was charged {cpu:.2f} s: the pool's workers leaked into it"


def _row(bench: Any, name: str, wall: float, **extra: Any) -> Any:
    return bench.Row(name, wall, wall, extra)


def test_targets_read_figures_and_exit_codes(bench_script: Callable[[str], Any]) -> None:
    bench = bench_script("bench_suite")
    parts = {
        "suite": [_row(bench, "suite: hvo-verify check specs/", 98.0, exit=0),
                  _row(bench, "  cache warm (2nd run)", 2.3, exit=0)],
        "deep": [_row(bench, "deep spec (all ops, depth 6)", 86.0, exit=3, max_rss_mb=1007),
                 _row(bench, "deep spec (depth 12)", 1.1, exit=0)],
    }  # fmt: skip
    got = {t.what: met for t, _value, met in bench.target_results(parts)}
    assert got == {
        "suite cold, wall <= 20 s on 2 cores": False,
        "unchanged rerun (cache warm), wall <= 3 s": True,
        "deep spec, wall <= 120 s": True,
        "deep spec, max RSS <= 2 GB": True,
        # fast, but not refused: a depth-12 run that ran is not the target
        "depth 12 refused up front (exit 2), wall <= 10 s": False,
    }
    assert sum("NOT met" in line for line in bench.target_lines(parts)) == 2
    parts["deep"][1] = _row(bench, "deep spec (depth 12)", 1.1, exit=2)
    parts["suite"][0] = _row(bench, "suite: hvo-verify check specs/", 19.5, exit=0)
    assert all(met for _t, _v, met in bench.target_results(parts))
    assert bench.target_results({"spin": []}) == []
