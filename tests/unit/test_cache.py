# SPDX-License-Identifier: GPL-2.0-only
"""The verdict cache (check/cache.py): a cached run prints what a fresh one prints; the
key holds the job, the options, the checker's sources and z3's version; `unknown` is
never stored; a corrupt file is a miss, never a traceback."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import pathlib
import shutil

import pytest

from hvo_verify import cli
from hvo_verify.check import cache, suite
from hvo_verify.check.result import CheckResult
from hvo_verify.check.static import Job
from hvo_verify.model.config import parse_config_id
from hvo_verify.model.scheme import preset
from hvo_verify.report import json_out
from hvo_verify.selfcheck import SECTIONS, Section
from hvo_verify.specs.loader import load_specs
from hvo_verify.verdict import Verdict

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture
def specs(small_specs: pathlib.Path) -> pathlib.Path:
    """tests/conftest.py SMALL_STATIC and SMALL_OPS: counterexamples, a trace, proofs."""
    return small_specs


@pytest.fixture
def cache_dir(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    """The cache on, in a fresh folder (tests/conftest.py turns it off elsewhere)."""
    monkeypatch.delenv(cache.ENV_OFF, raising=False)
    monkeypatch.setenv(cache.ENV_DIR, str(tmp_path / "cache"))
    return tmp_path / "cache"


def check(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(["check", "--jobs", "1", *argv], out, err)
    return code, out.getvalue(), err.getvalue()


def engine_must_not_run(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(job: object) -> CheckResult:
        raise AssertionError(f"ran {job} although it is cached")

    monkeypatch.setattr(suite, "run_any", fail)


def same(run: tuple[int, str, str], fmt: str) -> tuple[int, str, str]:
    """What two runs must agree on: JSON without its timings (report/json_out.py comparable())."""
    code, out, err = run
    return (code, json_out.comparable(out) if fmt == "json" else out, err)


def stored(cache_dir: pathlib.Path) -> list[pathlib.Path]:
    return sorted(cache_dir.rglob("*.pickle"))


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_cached_run_prints_what_a_fresh_run_prints(
    fmt: str, specs: pathlib.Path, cache_dir: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = check("--no-cache", "--format", fmt, str(specs))
    assert stored(cache_dir) == []  # --no-cache writes nothing
    cold = check("--format", fmt, str(specs))
    assert len(stored(cache_dir)) == 6
    engine_must_not_run(monkeypatch)
    warm = check("--format", fmt, str(specs))
    assert same(fresh, fmt) == same(cold, fmt) == same(warm, fmt)
    assert fresh[0] == cli.EXIT_OK and "violated" in fresh[1]
    if fmt == "json":
        results = json.loads(warm[1])["results"]
        assert sum(r["counterexample"] is not None for r in results) == 2
        assert sum(r["trace"] is not None for r in results) == 1


def test_the_same_job_in_another_spec_file_is_a_hit(
    specs: pathlib.Path, cache_dir: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    check(str(specs / "a-static.toml"))
    (specs / "renamed.toml").write_text((specs / "a-static.toml").read_text())
    engine_must_not_run(monkeypatch)
    code, out, _err = check(str(specs / "renamed.toml"))
    assert code == cli.EXIT_OK and "renamed.toml" in out  # the path is the new file's


def test_an_edited_model_file_changes_the_source_digest(tmp_path: pathlib.Path) -> None:
    copy = tmp_path / "hvo_verify"
    shutil.copytree(cache.PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = cache.digest_sources(copy)
    assert before == cache.sources_digest()
    with (copy / "report" / "text.py").open("a") as f:  # output only: not in the key
        f.write("\n# a comment\n")
    assert cache.digest_sources(copy) == before
    for part in ("model/remap.py", "encode/ops/gup.py", "invariants/static.py", "check/bmc.py", "specs/loader.py"):
        with (copy / part).open("a") as f:
            f.write("\n# a comment\n")
        after = cache.digest_sources(copy)
        assert after != before, part
        before = after


def test_other_sources_miss_the_cache(
    specs: pathlib.Path, cache_dir: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = check(str(specs / "a-static.toml"))
    monkeypatch.setattr(cache, "sources_digest", lambda: "an edited model")
    ran: list[object] = []
    real = suite.run_any

    def counting(job: suite.AnyJob) -> CheckResult:
        ran.append(job)
        return real(job)

    monkeypatch.setattr(suite, "run_any", counting)
    assert check(str(specs / "a-static.toml")) == first
    assert len(ran) == 4  # every check ran again
    assert len(stored(cache_dir)) == 8  # and were stored under the new key


def test_the_key_holds_every_field_and_option() -> None:
    config = parse_config_id("x86-64/4K/2M")[0]
    job = Job(config, preset("v6.2"), "head-resolution")
    base = cache.key(job, {})
    assert cache.key(Job(config, preset("v6.2"), "head-resolution"), {}) == base  # equal jobs, equal keys
    for changed in (
        dataclasses.replace(job, invariant="layout-soundness"),
        dataclasses.replace(job, timeout_ms=job.timeout_ms + 1),
        dataclasses.replace(job, base_align=4096),
        dataclasses.replace(job, scheme=preset("v6.1")),
        dataclasses.replace(job, config=parse_config_id("arm64/4K/2M")[0]),
        dataclasses.replace(job, extra_assumptions=("x",)),
    ):
        assert cache.key(changed, {}) != base, changed
    assert cache.key(job, {"unbounded": True}) != base
    assert cache.key(job, {}, sources="other") != base
    with pytest.raises(TypeError, match="cannot key a object"):
        cache.canonical((1, object()))


def test_every_job_of_the_suite_has_a_key() -> None:
    jobs = [job for spec in load_specs([str(ROOT / "specs")]) for job in suite.spec_jobs(spec)]
    keys = {cache.key(job, {}) for job in jobs}
    assert len(keys) == len(set(jobs))  # distinct jobs, distinct keys


def test_every_result_changing_option_of_check_is_in_the_key() -> None:
    args = cli.build_parser().parse_args(["check"])
    options = cli.cache_options(args)
    assert "timeout" in options
    assert set(options) == set(vars(args)) - cli.NOT_IN_CACHE_KEY
    assert cli.NOT_IN_CACHE_KEY <= set(vars(args))  # no stale names
    changed = cli.build_parser().parse_args(["check", "--timeout", "5"])
    assert cli.cache_options(changed) != options


def _result(verdict: Verdict) -> CheckResult:
    return CheckResult("", "x86-64/4K/2M", "head-resolution", verdict, None, reason="r")


def test_unknown_is_never_cached(tmp_path: pathlib.Path) -> None:
    c = cache.VerdictCache(tmp_path)
    job = Job(parse_config_id("x86-64/4K/2M")[0], preset("v6.2"), "head-resolution")
    calls: list[int] = []

    def compute(jobs: list[Job]) -> list[CheckResult]:
        calls.append(len(jobs))
        return [_result(Verdict.UNKNOWN) for _ in jobs]

    assert c.run([job], compute)[0].verdict is Verdict.UNKNOWN
    assert c.run([job], compute)[0].verdict is Verdict.UNKNOWN
    assert calls == [1, 1] and stored(tmp_path) == []
    assert c.put(job, _result(Verdict.PROVED)) and c.get(job) == _result(Verdict.PROVED)
    assert c.stats() == cache.Stats(hits=0, misses=2, stored=0)


@pytest.mark.parametrize("damage", [b"", b"not a pickle", b"\x80\x05\x95garbage"])
def test_a_corrupt_cache_file_is_a_miss(
    damage: bytes, specs: pathlib.Path, cache_dir: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = check(str(specs / "a-static.toml"))
    files = stored(cache_dir)
    for path in files:
        path.write_bytes(damage)
    assert check(str(specs / "a-static.toml")) == first
    assert all(path.read_bytes() != damage for path in files)  # rewritten
    engine_must_not_run(monkeypatch)
    assert check(str(specs / "a-static.toml")) == first


def test_an_unwritable_cache_is_no_error(
    specs: pathlib.Path, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(cache.ENV_OFF, raising=False)
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv(cache.ENV_DIR, str(blocker / "cache"))  # under a file: cannot be created
    code, out, err = check(str(specs / "a-static.toml"))
    assert code == cli.EXIT_OK and err == "" and "violated" in out


def test_the_default_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    monkeypatch.delenv(cache.ENV_DIR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.default_dir() == tmp_path / "hvo-verify"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache.default_dir() == tmp_path / ".cache" / "hvo-verify"


def test_the_selfcheck_never_uses_the_cache(
    cache_dir: pathlib.Path, monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    """Its mutants patch the checker in memory, which the source digest cannot see: every
    section (and each `check` it runs, in process or not) runs with the cache off."""
    seen: list[str | None] = []

    def section(_options: object) -> Section:
        seen.append(os.environ.get(cache.ENV_OFF))
        return Section("vacuity", True, (), ())

    monkeypatch.setitem(SECTIONS, "vacuity", section)
    cli.run(["selfcheck", "--only", "vacuity", "--specs", str(tmp_path)], io.StringIO(), io.StringIO())
    assert seen == ["1"] and cache.ENV_OFF not in os.environ
