# SPDX-License-Identifier: GPL-2.0-only
"""Smoke test of bench/bench_ops.py: one GUP spec, depths 2..3, a bounded explicit search."""

from __future__ import annotations

import json
import pathlib
import re
import shutil
from collections.abc import Callable
from typing import Any

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.slow  # the slow lane: a benchmark run, 13 s
def test_quick_run(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], bench_script: Callable[[str], Any]
) -> None:
    found = sorted((ROOT / "specs" / "objections").glob("gup-fifth-page*.toml"))
    assert found, "the quick run needs a gup-fifth-page objection spec (renamed?)"
    specs = tmp_path / "specs"
    specs.mkdir()
    shutil.copy(found[0], specs)
    one = specs / found[0].name  # a sweep over eras: its first scheme only (the bench times each unit)
    one.write_text(re.sub(r'^schemes = \["([^"]+)".*$', r'scheme = "\1"', one.read_text(), flags=re.MULTILINE))
    out_json = tmp_path / "figures.json"
    bench = bench_script("bench_ops")
    argv = ["--quick", "--specs", str(specs), "--depths", "2..3", "--bfs-limit", "200", "--skip-1g",
            "--json", str(out_json), "-q"]  # fmt: skip
    assert bench.main(argv) == 0
    text = capsys.readouterr().out
    assert all(len(line) <= 100 for line in text.splitlines())
    assert re.search(r"time\s+\d+\.\d+\s+\d+\.\d+", text)  # both depths timed
    assert re.search(r"explicit / symbolic\s+\d", text)
    figures = json.loads(out_json.read_text())
    runs = figures["bmc"][found[0].stem]
    assert [r["depth"] for r in runs] == [2, 3] and all(r["seconds"] > 0 for r in runs)
    base = figures["baseline"]
    assert base["bfs_2m_measured"]["transitions"] == 200  # bounded
    assert base["bfs_2m_counted"]["transitions"] > 200
    assert base["symbolic_2m_seconds"] > 0


def test_counting_matches_execution_on_a_small_domain(bench_script: Callable[[str], Any]) -> None:
    """The counting BFS reproduces the executed one exactly when nothing is sampled away."""
    bench = bench_script("bench_ops")
    from hvo_verify.check.bmc import OpsJob, machine_for
    from hvo_verify.model.config import parse_config_id
    from hvo_verify.model.policy import default_policies
    from hvo_verify.model.scheme import preset

    scheme = preset("v5.14")
    alphabet = ("hugetlb_vmemmap_optimize_folio", "alloc_hugetlb_folio", "pin_user_pages_fast", "submit_bio",
                "unpin_user_pages_dirty_lock")  # fmt: skip
    config = parse_config_id("x86-64/4K/2M")[0]
    # io_align 32 KiB: 64 offsets x 2 lengths, sampled by the counter (128 > its exact limit)
    job = OpsJob(config, scheme, default_policies(scheme), "dma-exact", alphabet, 3, 1000, 0x10000, 0x8000)
    m = machine_for(job)
    invariants = ("dma-exact", "read-fault")
    measured = bench.bfs(m, alphabet, invariants, 3, {}, None, None)
    import random

    counted = bench.Counter(m, 4, random.Random(0), False).run(alphabet, invariants, 3, {})
    assert measured.complete and measured.transitions > 0
    assert round(counted.transitions) == measured.transitions
    assert round(counted.states) == measured.states
