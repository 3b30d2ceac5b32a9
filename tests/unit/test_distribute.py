# SPDX-License-Identifier: GPL-2.0-only
"""`--shard K/N` and `--scheduler ADDRESS` (check/distribute.py): the N shards of a run
are disjoint and make the whole run, each a valid document, their exit codes combining
as the worst; on a Dask cluster the output is the bytes of a local run."""

from __future__ import annotations

import io
import json
import pathlib

import pytest

from hvo_verify import cli
from hvo_verify.check import distribute, suite
from hvo_verify.errors import UsageError
from hvo_verify.report import json_out
from hvo_verify.selfcheck import COST, SECTIONS, Section
from hvo_verify.specs.loader import load_specs
from hvo_verify.specs.schema import Spec

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture
def specs(small_specs: pathlib.Path) -> pathlib.Path:
    """Static and operation checks, one spec on two configs; the ops spec expects
    ro-write violated (it is proved), so the exit codes of the shards differ."""
    ops = small_specs / "b-ops.toml"
    ops.write_text(
        ops.read_text().replace('alias-write = "violated"', 'alias-write = "violated"\nro-write = "violated"')
    )
    return small_specs


def check(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(["check", "--no-cache", "--jobs", "1", *argv], out, err)
    return code, out.getvalue(), err.getvalue()


def test_partition_is_a_balanced_deal() -> None:
    costs = [5.0, 1.0, 1.0, 3.0, 2.0, 2.0]
    owner = distribute.partition(costs, 2)
    assert owner == distribute.partition(costs, 2)  # deterministic
    loads = [sum(c for c, o in zip(costs, owner, strict=True) if o == s) for s in range(2)]
    assert sorted(loads) == [7.0, 7.0]
    assert distribute.partition(costs, 1) == [0] * 6
    assert sorted(set(distribute.partition(costs, 10))) == list(range(6))  # more shards than units: some empty


@pytest.mark.parametrize("bad", ["0/3", "4/3", "1/0", "a/b", "1", "1/2/3", ""])
def test_a_bad_shard_is_a_one_line_usage_error(bad: str) -> None:
    with pytest.raises(UsageError, match=r"--shard: .*(K/N|K <= N)"):
        distribute.Shard.parse(bad)
    code, out, err = check("--shard", bad, str(ROOT / "specs/presets/v6.2.toml"))
    assert code == cli.EXIT_ERROR and out == "" and err.count("\n") == 1 and "--shard" in err


@pytest.fixture(scope="module")
def suite_jobs() -> list[tuple[Spec, suite.AnyJob]]:
    return [(spec, job) for spec in load_specs([str(ROOT / "specs")]) for job in suite.spec_jobs(spec)]


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_the_shards_make_the_whole_run(count: int, suite_jobs: list[tuple[Spec, suite.AnyJob]]) -> None:
    """Without running anything: the jobs of the N shards of the whole suite are the
    suite's jobs, each once, in order within a shard; a spec's checks on one config
    stay together."""
    jobs = suite_jobs
    shards = [suite.shard_jobs(jobs, distribute.Shard(k, count)) for k in range(1, count + 1)]
    position = {id(job): n for n, (_spec, job) in enumerate(jobs)}
    seen = [position[id(job)] for shard in shards for _spec, job in shard]
    assert sorted(seen) == list(range(len(jobs)))
    for shard in shards:
        places = [position[id(job)] for _spec, job in shard]
        assert places == sorted(places)
        units = {(id(spec), job.config.id) for spec, job in shard}
        others = {(id(spec), job.config.id) for s in shards if s is not shard for spec, job in s}
        assert not units & others
    if count == 2:  # the deal is balanced by estimated cost
        loads = [sum(suite.job_cost(job) for _spec, job in shard) for shard in shards]
        assert max(loads) < 1.2 * min(loads)


def test_shard_outputs_are_documents_whose_union_is_the_run(specs: pathlib.Path) -> None:
    whole_code, whole, _err = check("--format", "json", str(specs))
    rows = json.loads(whole)["results"]
    got, codes = [], []
    for k in (1, 2, 3):
        code, out, err = check("--format", "json", "--shard", f"{k}/3", str(specs))
        assert err == ""
        got += json.loads(out)["results"]  # each a valid document
        codes.append(code)
        text_code, text, _ = check("--shard", f"{k}/3", str(specs))
        summary = " ".join(text.rstrip().splitlines()[-2:])  # the summary may wrap onto two lines
        assert text_code == code and f"{len(json.loads(out)['results'])} checks" in summary
    assert sorted(got, key=rows.index) == rows and len(got) == len(rows)
    severity = [cli.EXIT_OK, cli.EXIT_UNKNOWN, cli.EXIT_DIFFER, cli.EXIT_ERROR]  # README: the worst code
    assert max(codes, key=severity.index) == whole_code == cli.EXIT_DIFFER
    assert min(codes) == cli.EXIT_OK  # the shard without the differing check


def test_selfcheck_shards_deal_whole_sections(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    ran: list[str] = []

    def stub(name: str) -> object:
        def run(_options: object) -> Section:
            ran.append(name)
            return Section(name, name != "fuzz", (("cases", 1),), () if name != "fuzz" else ("broken",))

        return run

    for name in SECTIONS:
        monkeypatch.setitem(SECTIONS, name, stub(name))
    assert set(COST) == set(SECTIONS)
    codes = []
    for k in (1, 2, 3):
        out, err = io.StringIO(), io.StringIO()
        codes.append(
            cli.run(["selfcheck", "--specs", str(tmp_path), "--shard", f"{k}/3", "--format", "json"], out, err)
        )
        doc = json.loads(out.getvalue())
        assert [s["name"] for s in doc["sections"]] == ran[len(ran) - len(doc["sections"]) :]
    assert sorted(ran) == sorted(SECTIONS)  # each section in exactly one shard
    assert max(codes) == cli.EXIT_DIFFER and min(codes) == cli.EXIT_OK


def test_scheduler_without_dask_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch, specs: pathlib.Path) -> None:
    monkeypatch.setattr(
        distribute, "available", lambda: "--scheduler needs Dask distributed: pip install 'hvo-verify[dask]'"
    )
    code, out, err = check("--scheduler", "tcp://127.0.0.1:1", str(specs))
    assert code == cli.EXIT_ERROR and out == ""
    assert err == "hvo-verify: --scheduler needs Dask distributed: pip install 'hvo-verify[dask]'\n"


def test_a_dask_cluster_prints_the_bytes_of_a_local_run(specs: pathlib.Path) -> None:
    distributed = pytest.importorskip("distributed", reason="the [dask] extra is not installed")
    suite_files = [str(specs), str(ROOT / "specs/regressions/2024-b9-synchronize-rcu-per-folio.toml")]

    def same(run: tuple[int, str, str], fmt: str) -> tuple[int, str, str]:  # timings aside (comparable())
        return (run[0], json_out.comparable(run[1]) if fmt == "json" else run[1], run[2])

    local = {fmt: same(check("--jobs", "2", "--format", fmt, *suite_files), fmt) for fmt in ("text", "json")}
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        for fmt in ("text", "json"):
            assert (
                same(check("--scheduler", cluster.scheduler_address, "--format", fmt, *suite_files), fmt) == local[fmt]
            )
        shard = check("--scheduler", cluster.scheduler_address, "--shard", "1/2", "--format", "json", *suite_files)
    assert same(shard, "json") == same(check("--shard", "1/2", "--format", "json", *suite_files), "json")
    assert '"schedule": [' in local["json"][1] and '"trace": {' in local["json"][1]  # every engine ran there
