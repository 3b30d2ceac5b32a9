# SPDX-License-Identifier: GPL-2.0-only
"""Recorded conformance runs (Debian 12's 6.1.192 and 6.12.117 kernels under QEMU/TCG, HVO
on and off, saved with `hvo-verify conform --kernel ... --save-records`) compared with the
model, without QEMU.

Each must agree for the preset its kernel maps to, and must disagree, on the right
observations, when the model is another kernel's: conformance can fail.  The
discrimination report (conform/discrimination.py) says which rows tell the kernel apart
from which alternative model."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import pytest

from hvo_verify import cli
from hvo_verify.conform import ConformReport, load_records, predict, report_from_records
from hvo_verify.conform import compare as c
from hvo_verify.conform.kernelmap import KernelFacts, kernel_facts
from hvo_verify.model.facts import KPF_HUGE
from hvo_verify.report.conform_text import conform_document, conform_text

DATA = Path(__file__).resolve().parents[1] / "data"
RECORDED = DATA / "conform-debian-6.1.192.json.gz"
RECORDED_612 = DATA / "conform-debian-6.12.117.json.gz"


@pytest.fixture(scope="module")
def records() -> dict[str, list[dict[str, object]]]:
    return load_records(RECORDED)


def _rows_with(preset: str, records: dict[str, list[dict[str, object]]]) -> tuple[c.Row, ...]:
    """The recorded run against another preset's model (every record: the vmemmap ledger
    follows the 1 GiB folio too)."""
    boot = records["on"][0]
    facts = kernel_facts(str(boot["release"]), str(boot["version"]))
    assert facts is not None
    return c.compare_boots(dataclasses.replace(facts, preset=preset), records)


def test_recorded_run_agrees(records: dict[str, list[dict[str, object]]]) -> None:
    report = report_from_records(records)
    assert report.facts is not None and report.facts.preset == "v6.1.52"
    assert report.error is None and report.disagreements == 0, conform_text(report)
    assert len(report.rows) >= 60
    rows = {r.scenario: r for r in report.rows}
    between = rows["savings 2M x100: MemTotal HVO on - off"]
    assert between.predicts == between.shows == "+2800 kB"  # the 100 x 7 x 4 KiB
    assert rows["kpageflags 2M HVO on: fake heads"].shows == "head's flags at 64,128,...,448 (every 64th, 7)"
    assert rows["kpageflags 1G HVO on: fake heads"].shows == "head's flags at 64,128,...,262080 (every 64th, 4095)"
    assert rows["kpageflags 2M HVO off: fake heads"].shows == "head's flags at none"


def _failing(rows: tuple[c.Row, ...]) -> set[str]:
    return {r.scenario for r in rows if r.agree is False}


def test_head_copy_preset_disagrees_on_memtotal(records: dict[str, list[dict[str, object]]]) -> None:
    """v6.2 copies the head vmemmap page: one more boot frame freed per folio."""
    failing = _failing(_rows_with("v6.2", records))
    assert "savings 2M x100 HVO on: MemTotal after alloc" in failing
    assert "savings 2M x100: MemTotal HVO on - off" in failing
    assert not any(s.startswith(("kpageflags", "O_DIRECT", "hwpoison")) for s in failing), failing


def test_two_page_preset_disagrees_on_fake_heads(records: dict[str, list[dict[str, object]]]) -> None:
    """v5.14 keeps vmemmap pages 0 and 1: no fake heads, 24 KiB freed per 2 MiB folio."""
    failing = _failing(_rows_with("v5.14", records))
    assert {"kpageflags 2M HVO on: fake heads", "savings 2M x100 HVO on: dmesg"} <= failing
    assert "kpageflags 2M HVO off: fake heads" not in failing


def test_no_hvo_model_disagrees_on_savings(records: dict[str, list[dict[str, object]]]) -> None:
    failing = _failing(_rows_with("none", records))
    assert "savings 2M x100 HVO on: MemTotal after alloc" in failing
    assert "kpageflags 2M HVO on: fake heads" in failing


def test_misdirected_dma_in_the_model_is_a_disagreement(
    records: dict[str, list[dict[str, object]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """willy's fear, as a model bug: GUP hands out the representative struct page."""
    real = predict.predict_dma

    def wrong(*args: object, **kwargs: object) -> predict.DmaPrediction:
        pred = real(*args, **kwargs)  # type: ignore[arg-type]
        return predict.DmaPrediction(tuple((off % 0x1000, n) for off, n in pred.written), pred.lines)

    monkeypatch.setattr(predict, "predict_dma", wrong)
    failing = _failing(_rows_with("v6.1", records))
    assert "O_DIRECT read 0x800 at folio+0x5000 HVO on" in failing


def test_kpageflags_hwpoison_row_is_the_models(
    records: dict[str, list[dict[str, object]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The mapped folio's HWPOISON row is the model's prediction, not a constant: a model
    that reports a poisoned subpage on a clean folio disagrees with the kernel."""
    monkeypatch.setattr(predict, "kpageflags_hwpoison", lambda m, state: frozenset({5}))
    predict._KPAGEFLAGS.clear()
    try:
        failing = _failing(_rows_with("v6.1.52", records))
    finally:
        predict._KPAGEFLAGS.clear()
    assert "kpageflags 2M HVO on: HWPOISON" in failing and "kpageflags 2M HVO off: HWPOISON" in failing


def test_malformed_record_is_a_row_not_a_traceback(records: dict[str, list[dict[str, object]]]) -> None:
    broken: dict[str, list[dict[str, object]]] = {
        "on": [records["on"][0], {"kind": "dma", "cases": [{"buf_offset": "x"}]}, {"kind": "done"}]
    }
    report = report_from_records(broken)
    assert report.disagreements == 1 and "malformed" in conform_text(report)


def test_no_boot_record_is_an_error() -> None:
    report = report_from_records({"on": [{"kind": "done"}]})
    assert report.error is not None and not report.ok


def _cli(monkeypatch: pytest.MonkeyPatch, report: ConformReport, *argv: str) -> tuple[int, str, str]:
    import hvo_verify.conform as conform
    from hvo_verify.conform import guest

    monkeypatch.setattr(guest, "available", lambda: None)
    monkeypatch.setattr(guest, "installed_kernels", lambda: (guest.Kernel("6.1.0-57-amd64", Path("/"), Path("/")),))
    monkeypatch.setattr(conform, "run_conformance", lambda *a, **k: report)
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(["conform", *argv], out, err)
    return code, out.getvalue(), err.getvalue()


def test_cli_text_and_json(records: dict[str, list[dict[str, object]]], monkeypatch: pytest.MonkeyPatch) -> None:
    report = report_from_records(records)
    code, out, err = _cli(monkeypatch, report)
    assert code == 0 and err == "" and "model predicts" in out and "0 disagree" in out
    code, out, _ = _cli(monkeypatch, report, "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["version"] == 2 and doc["conform"]["kernel"]["preset"] == "v6.1.52"
    assert doc["conform"]["disagreements"] == 0 and doc["conform"]["rows"][0].keys() == {
        "scenario",
        "predicts",
        "shows",
        "agree",
        "note",
    }
    assert json.loads(conform_document(report)) == doc


def test_cli_exit_1_on_disagreement(
    records: dict[str, list[dict[str, object]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    report = dataclasses.replace(report_from_records(records), rows=_rows_with("v6.2", records))
    code, out, _ = _cli(monkeypatch, report)
    assert code == 1 and "| NO" in out


def test_cli_unavailable_is_one_line_with_the_install_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from hvo_verify.conform import guest

    monkeypatch.setattr(guest, "QEMU", "qemu-system-does-not-exist")
    out, err = io.StringIO(), io.StringIO()
    assert cli.run(["conform"], out, err) == 2
    assert out.getvalue() == "" and len(err.getvalue().splitlines()) == 1
    abi = "linux-image-6.1.0-57-amd64 linux-image-6.12.117+deb12-amd64"
    assert err.getvalue().rstrip().endswith(f"apt-get install -y qemu-system-x86 {abi} busybox-static")


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["--scenarios", "savings,bogus"], "bogus"), (["--timeout", "1"], "--timeout"), (["--n2m", "0"], "--n2m")],
)
def test_cli_bad_arguments(argv: list[str], message: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert cli.run(["conform", *argv], out, err) == 2
    assert message in err.getvalue() and len(err.getvalue().splitlines()) == 1


def test_pinned_two_errors_tell_v6_1_from_v5_18(records: dict[str, list[dict[str, object]]]) -> None:
    """Two errors in one pinned folio, dissolved at the head by the pool shrink: v6.1's
    raw_hwp list flags both raw pages; v5.18 (head flag only, moved by
    dissolve_free_huge_page() to the page it is called with) leaves it on the head."""
    failing = _failing(_rows_with("v5.18", records))
    assert {f"hwpoison2 pinned head+3,+130 HVO {hvo}: after_shrink" for hvo in ("on", "off")} <= failing, failing
    assert not any(s.startswith(("savings", "kpageflags", "O_DIRECT", "sysctl")) for s in failing), failing


def test_cli_kernel_unknown_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from hvo_verify.conform import guest

    monkeypatch.setattr(guest, "available", lambda: None)
    out, err = io.StringIO(), io.StringIO()
    assert cli.run(["conform", "--kernel", "9.9.9-nope"], out, err) == 2
    assert "--kernel" in err.getvalue() and "installed:" in err.getvalue() and len(err.getvalue().splitlines()) == 1


def test_cli_records_missing_file_is_one_line(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert cli.run(["conform", "--records", str(tmp_path / "none.json.gz")], out, err) == 2
    assert "--records" in err.getvalue() and len(err.getvalue().splitlines()) == 1


def test_kernel_that_cannot_boot_is_a_row() -> None:
    from hvo_verify.conform import guest, kernel_failed

    report = kernel_failed(guest.Kernel("6.99.0-x", Path("/"), Path("/")), "qemu exploded")
    assert not report.ok and report.disagreements == 1 and "6.99.0-x" in conform_text(report)


# The rows on which the previous era's preset must disagree with each recording.
PREVIOUS_ERA = {
    "6.12.117": (
        "v6.12.111",  # reset_struct_pages() kept: the restored copies are tails, nothing stale
        {
            *(f"hwpoison {t} head+{k} HVO on ({stages})" for k in (0, 1, 64, 65, 511)
              for t, stages in (("in-use", "after_poison, after_munmap, after_shrink"),
                                ("free", "after_poison, after_shrink"))),
            "hwpoison2 pinned head+3,+130 HVO on: after_shrink",
        },
    ),
    "6.1.192": (
        "v5.18",  # the head flag moved to the page dissolved at, no raw_hwp list
        {"hwpoison2 pinned head+3,+130 HVO off: after_shrink", "hwpoison2 pinned head+3,+130 HVO on: after_shrink"},
    ),
}  # fmt: skip


@pytest.fixture(scope="module")
def report_612() -> ConformReport:
    return report_from_records(load_records(RECORDED_612))


def test_recorded_612_disagrees_exactly_on_the_known_rows(
    report_612: ConformReport, known_disagreements: dict[str, frozenset[str]]
) -> None:
    assert report_612.facts is not None and report_612.facts.version == "6.12.117"
    assert report_612.facts.preset == "v6.12.115"
    failing = {r.scenario for r in report_612.rows if r.agree is False}
    assert failing == known_disagreements["6.12.117"], sorted(failing ^ known_disagreements["6.12.117"])


@pytest.mark.parametrize("path", [RECORDED, RECORDED_612], ids=["6.1", "6.12"])
def test_previous_era_disagrees_on_its_rows(path: Path) -> None:
    records = load_records(path)
    report = report_from_records(records)
    assert report.facts is not None
    previous, rows = PREVIOUS_ERA[report.facts.version]
    own = {r.scenario for r in report.rows if r.agree is False}
    other = c.compare_boots(dataclasses.replace(report.facts, preset=previous), records)
    assert {r.scenario for r in other if r.agree is False} - own == rows


# Era presets that differ from the booted kernel's only where no conformance scenario can
# look: v6.1 clears the hugetlb dtor before the restore, v6.1.52 after it (32c877191e02);
# only a memory error inside that window (bug B5, a race) shows the difference.
UNOBSERVABLE = {"v6.1.52": ("v6.1",)}


# The slow lane: 45 s per recording (every alternative model predicts /proc/kpageflags
# for a 1 GiB folio, 262,144 subpages).
@pytest.mark.slow
@pytest.mark.parametrize("path", [RECORDED, RECORDED_612], ids=["6.1", "6.12"])
def test_discrimination_target(path: Path) -> None:
    """Issue 18 item 2's target: at least 75% of a recording's rows reject some other
    model, and every other era preset a conformance kernel can map to is rejected by at
    least one row."""
    from hvo_verify.conform.discrimination import discriminate
    from hvo_verify.conform.kernelmap import _ERAS

    records = load_records(path)
    report = report_from_records(records)
    assert report.facts is not None
    d = discriminate(report.facts, records, report.rows)
    assert d.fraction >= 0.75, (d.discriminating, len(d.rows))
    eras = {preset for _first, preset, _why in _ERAS} - {report.facts.preset, "none"}
    assert eras <= {a.name for a in d.alternatives if a.kind == "era"}
    assert d.era_presets_unrejected() == UNOBSERVABLE.get(report.facts.preset, ())
    assert "none" not in d.unrejected


# -- issue 11: the 6.12.117 recording made with the old scenario order (sysctl before
# hwpoison2, a second 1 GiB allocation for kpageflags), kept as the kernel's evidence.
RECORDED_612_SYSCTL_FIRST = DATA / "conform-debian-6.12.117-sysctl-first.json.gz"


@pytest.mark.parametrize("path", [RECORDED, RECORDED_612], ids=["6.1", "6.12"])
def test_one_1g_folio_per_boot_read_by_savings_and_kpageflags(path: Path) -> None:
    """The 1 GiB kpageflags reading is the savings step's folio (hvoguest.c savings_one()):
    both kernels, both boots, no guest error, and the kpageflags rows compare it."""
    records = load_records(path)
    for hvo, recs in records.items():
        assert not [r for r in recs if r.get("kind") == "error"], hvo
        (saving,) = [r for r in recs if r.get("kind") == "savings" and r.get("hugepage_kb") == 1048576]
        (kpf,) = [r for r in recs if r.get("kind") == "kpageflags" and r.get("hugepage_kb") == 1048576]
        assert kpf["pool"] == "savings" and saving["heads"] == [kpf["head_pfn"]], hvo
        assert recs.index(kpf) == recs.index(saving) + 1
    rows = {r.scenario for r in report_from_records(records).rows}
    assert {f"kpageflags 1G HVO {hvo}: HEAD/TAIL/HUGE" for hvo in ("on", "off")} <= rows


def test_default_order_runs_the_optimizing_scenarios_last() -> None:
    """sysctl and perfolio write vm.hugetlb_optimize_vmemmap=1 (they optimize in the HVO-off
    boot too): after every scenario whose rows read struct pages; hvoguest.c's default is
    the same list."""
    from hvo_verify.conform import SCENARIOS, guest

    readers = [SCENARIOS.index(s) for s in ("kpageflags", "hwpoison", "hwpoison2")]
    writers = [SCENARIOS.index(s) for s in ("sysctl", "perfolio")]
    assert max(readers) < min(writers)
    assert f'"{",".join(SCENARIOS)}"' in guest.HELPER_SOURCE.read_text()


def test_sysctl_first_recording_shows_the_stale_head_copies() -> None:
    """The kernel's side of both issue-11 rows.  HVO-off boot: the sysctl scenario's first
    folio (sysctl=1) was optimized and restored at the pfns hwpoison2's folio later got;
    after that folio was dissolved its pfns 64*m read KPF_HUGE alone (the stale
    PGTY_hugetlb of the restore's head copies) where a never-optimized folio reads
    nothing; the guard row names the earlier folio.  HVO-on boot: the second 1 GiB
    allocation failed."""
    records = load_records(RECORDED_612_SYSCTL_FIRST)
    off = records["off"]
    kinds = [str(r.get("kind")) for r in off]
    assert kinds.index("sysctl") < kinds.index("hwpoison2")
    sysctl = next(r for r in off if r.get("kind") == "sysctl")
    hw2 = next(r for r in off if r.get("kind") == "hwpoison2")
    first = sysctl["steps"][0]
    assert first["sysctl"] == 1 and first["heads"] == [hw2["head_pfn"]]
    shrink = next(s for s in hw2["stages"] if s["stage"] == "after_shrink")
    huge_alone = {i for i, f in enumerate(c.expand(shrink["rle"], 512)) if f & predict.KPF_COMPOUND == 1 << KPF_HUGE}
    assert huge_alone == set(range(64, 512, 64))
    report = report_from_records(records)
    failing = {r.scenario for r in report.rows if r.agree is False}
    assert failing == {
        "guest kpageflags HVO on",
        "hwpoison2 pinned head+3,+130 HVO off: after_shrink",
        f"hwpoison2 at pfn {hw2['head_pfn']} HVO off: struct pages",
    }


def _facts_612(preset: str) -> KernelFacts:
    facts = kernel_facts("6.12.117+deb12-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.12.117-1~deb12u1 (2026-11-14)")
    assert facts is not None
    return dataclasses.replace(facts, preset=preset)


@pytest.mark.parametrize(
    ("preset", "hvo", "head", "fires"),
    [
        ("v6.12.115", "off", 1024, True),  # the restored folio's own pfns, not optimized now
        ("v6.12.115", "off", 1536, False),  # the next 2 MiB: no restored folio there
        ("v6.12.115", "on", 1024, False),  # optimized again: the restore rewrites the copies
        ("v6.12.111", "off", 1024, False),  # reset_struct_pages(): nothing stale
        ("v6.1.52", "off", 1024, False),
    ],
)
def test_stale_struct_pages_guard(preset: str, hvo: str, head: int, fires: bool) -> None:
    """compare.stale_struct_pages_rows(): only a not-optimized folio on pfns an earlier folio
    was optimized and restored on, by a restore without reset_struct_pages()."""
    facts = _facts_612(preset)
    ledger = predict.VmemmapLedger()
    ledger.prepare(facts, 2048, 1024, True)
    ledger.dissolve(facts, 2048, 1024)
    rows = c.stale_struct_pages_rows(facts, hvo, {"kind": "hwpoison", "head_pfn": head}, ledger)
    assert [r.agree for r in rows] == ([False] if fires else [])
    if fires:
        assert "1024" in rows[0].shows


# -- issue 11 item 2: the cited kernels, by ABI package name.


def test_ci_installs_the_cited_kernels_by_abi_name() -> None:
    """.ci/run installs each cited build by its ABI package, the meta package as fallback:
    the same pairs as kernelmap.CITED_KERNELS, and each ABI package names the release
    uname -r reports (/boot/vmlinuz-RELEASE)."""
    import re

    from hvo_verify.conform.kernelmap import CITED_KERNELS

    ci = (Path(__file__).resolve().parents[2] / ".ci" / "run").read_text()
    m = re.search(r'^CITED_KERNELS="([^"]*)"$', ci, re.M)
    assert m is not None
    assert m.group(1).split() == [f"{k.package}:{k.meta}" for k in CITED_KERNELS]
    for k in CITED_KERNELS:
        release = k.package.removeprefix("linux-image-")
        facts = kernel_facts(release, f"#1 SMP PREEMPT_DYNAMIC Debian {'.'.join(map(str, k.upstream))}-1")
        assert facts is not None and facts.upstream == k.upstream and c.cited_source_rows(facts) == []


@pytest.mark.parametrize(
    ("release", "version", "shows"),
    [
        ("6.1.0-60-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.199-1 (2027-02-01)", "6.1.199"),  # the meta's later build
        ("6.1.0-50-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.176-1 (2026-10-20)", "6.1.176"),  # an earlier build
        ("6.15.0-1-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.15.2-1 (2026-06-01)", "6.15.2"),  # no cited series
    ],
)
def test_other_build_than_the_cited_is_a_warning_row(release: str, version: str, shows: str) -> None:
    """A kernel that is not the cited build: one row, agree None (a warning: exit code 0
    when every other row agrees), naming the version booted."""
    facts = kernel_facts(release, version)
    assert facts is not None
    (row,) = c.cited_source_rows(facts)
    assert row.agree is None and row.shows == shows and row.note.startswith("warning:")
    records = load_records(RECORDED)
    boot = dict(records["on"][0], release=release, version=version)
    report = report_from_records({"on": [boot, {"kind": "done"}]})
    assert report.ok and report.rows[0] == row
