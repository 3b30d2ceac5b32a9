# SPDX-License-Identifier: GPL-2.0-only
"""Reproducers (hvo_verify/reproduce/): what user space can do of a trace, the
predictions per kernel, and the C program (compiled where gcc is installed)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from hvo_verify import ktap
from hvo_verify.model.config import CONFIG_IDS
from hvo_verify.model.policy import default_policies
from hvo_verify.model.scheme import PRESETS
from hvo_verify.ops.machine import Machine
from hvo_verify.ops.trace import Trace, TraceStep
from hvo_verify.reproduce.emit import c_source
from hvo_verify.reproduce.plan import NotReproducible, actions, plan
from hvo_verify.reproduce.run import outcomes_from_records

CONFIG = "x86-64/4K/2M"
Step = tuple[str, dict[str, int | bool]]


def _trace(*steps: Step, config: str = CONFIG, scheme: str = "v5.14") -> Trace:
    cfg, sch = CONFIG_IDS[config], PRESETS[scheme]
    m = Machine.canonical(cfg, sch, default_policies(sch), cfg.page_size, 512)
    return Trace(config, sch, default_policies(sch), m.folio.head_pfn, m.folio.vmemmap_base, cfg.page_size, 512,
                 tuple(TraceStep(op, tuple(args.items())) for op, args in steps), "ro-write")  # fmt: skip


OPT: Step = ("hugetlb_vmemmap_optimize_folio", {"alloc_ok": True})


def test_gup_submit_release_is_one_o_direct_read() -> None:
    io: dict[str, int | bool] = {"offset": 0x5000, "length": 0x800}
    acts = actions(_trace(OPT, ("alloc_hugetlb_folio", {}), ("pin_user_pages_fast", io), ("submit_bio", {}),
                          ("unpin_user_pages_dirty_lock", {})))  # fmt: skip
    assert [a.kind for a in acts] == ["pool_add", "mmap", "dio_read"]
    assert acts[0].arg("optimize") == 1 and acts[2].arg("offset") == 0x5000 and len(acts[2].covers) == 3


def test_unreachable_steps_are_skipped_with_the_option_that_reaches_them() -> None:
    acts = actions(_trace(OPT, ("memory_failure", {"i": 3, "kmalloc_ok": False}), ("folio_put", {})))
    assert acts[-1].kind == "skip" and "CONFIG_FAILSLAB" in acts[-1].reason
    assert len(acts[-1].covers) == 2  # every later step follows a state the guest never had
    late = actions(_trace(("alloc_hugetlb_folio", {}), ("folio_put", {}), OPT))
    assert late[0].arg("optimize") == 0 and late[-1].kind == "skip" and "prep_new_hugetlb_folio" in late[-1].reason


def test_predictions_follow_each_kernels_era() -> None:
    """A memory error on a free optimized folio: 6.1.192 shows the one raw page poisoned
    once the folio is freed; Debian 6.12.115+ restores by copying the head copy, so the
    head's PG_hwpoison shows at head+64*k too (docs/debian-fixes.md)."""
    p = plan(_trace(OPT, ("memory_failure", {"i": 128, "kmalloc_ok": True})), "t", "test")
    by = {k.release.split(".")[0] + "." + k.release.split(".")[1]: k for k in p.kernels}
    assert [a.kind for a in p.actions] == ["pool_add", "corrupt_pfn"]
    six1, six12 = by["6.1"].steps[-1], by["6.12"].steps[-1]
    assert six1.hugepages_total == 0 and six1.hwpoison == ((128, 1),)
    assert six12.hwpoison == tuple((64 * k, 1) for k in range(1, 8))


def test_arm64_trace_is_not_reproducible_in_the_x86_guest() -> None:
    with pytest.raises(NotReproducible, match="x86-64"):
        plan(_trace(OPT, config="arm64/4K/2M"), "t", "test")


def test_guest_records_become_outcomes_against_expectations() -> None:
    lines = ("TAP version 13", "1..1", "not ok 1 step")
    recs: list[dict[str, object]] = [{"kind": "reproducer-begin", "name": "a"}]
    recs += [{"kind": "ktap", "name": "a", "line": line} for line in lines]
    recs.append({"kind": "reproducer-end", "name": "a", "status": 1})
    (o,) = outcomes_from_records("6.12.117+deb12-amd64", recs, {"a": {"6.12.117+deb12-amd64": "fail"}})
    assert o.status == "fail" and o.as_expected and o.document is not None and not o.document.results[0].ok
    (o,) = outcomes_from_records("6.12.117+deb12-amd64", recs, {})
    assert not o.as_expected


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")
def test_program_compiles_warning_free_and_skips_on_an_unknown_kernel(tmp_path: Path) -> None:
    io: dict[str, int | bool] = {"offset": 0x200, "length": 0x200}
    p = plan(_trace(OPT, ("alloc_hugetlb_folio", {}), ("get_user_pages_fast", io), ("submit_bio", {}),
                    ("put_page", {})), "t", "test")  # fmt: skip
    src = tmp_path / "t.c"
    src.write_text(c_source(p))
    assert src.read_text().startswith("// SPDX-License-Identifier: GPL-2.0-only\n")
    exe = tmp_path / "t"
    cc = subprocess.run(["gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(exe), str(src)],
                        capture_output=True, text=True, check=False)  # fmt: skip
    assert cc.returncode == 0, cc.stderr
    env = {"HVO_REPRODUCER_RELEASE": "none"}  # never touch this host's pool, whatever it runs
    done = subprocess.run([str(exe)], capture_output=True, text=True, check=False, timeout=30, env=env)
    doc = ktap.parse(done.stdout)
    # A kernel with no prediction: every step skips, exit 4 (KSFT_SKIP).
    assert done.returncode == 4 and doc.plan == 3 and len(doc.results) == 3
    assert all(r.directive is ktap.Directive.SKIP for r in doc.results)
