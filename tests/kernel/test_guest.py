# SPDX-License-Identifier: GPL-2.0-only
"""The guest side of `hvo-verify conform`: one real boot with HVO on, checked for the
presence and shape of every record (not their values: comparing them with the model is
`conform`'s job), plus the host-side pieces that need no QEMU.

Skipped, with `available()`'s message, where QEMU, a kernel, busybox or gcc is missing.
`HVO_CONFORM_ACCEL=tcg` forces TCG."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from hvo_verify.conform import guest

pytestmark = [pytest.mark.kernel, pytest.mark.xdist_group("qemu")]

UNAVAILABLE = guest.available()
needs_guest = pytest.mark.skipif(UNAVAILABLE is not None, reason=UNAVAILABLE or "")

MEMINFO_KEYS = {"MemTotal", "MemFree", "HugePages_Total", "HugePages_Free", "Hugepagesize", "HardwareCorrupted"}
SUBPAGES = {0, 1, 64, 65, 511}
KB_1G = 1048576


# ---------------------------------------------------------------- without QEMU


def test_record_split_by_a_kernel_line_is_reassembled() -> None:
    console = (
        "SeaBIOS noise\r\n"
        '@@HVO {"kind":"boot","dmesg_vmemmap":["HugeTLB: 28 KiB vmemmap \\u005b x\\u005d"]}\r\n'
        '@@HVO {"kind":"dma","ca[   12.345678] virtio_blk virtio0: something\r\n'
        'ses":[{"rc":2048}]}\r\n'
        "[   13.000000] reboot: Power down\r\n"
        '@@HVO {"kind":"done"\r\n'
    )
    records, bad = guest.parse_records(console)
    assert [r["kind"] for r in records] == ["boot", "dma"]
    assert records[0]["dmesg_vmemmap"] == ["HugeTLB: 28 KiB vmemmap [ x]"]
    assert records[1]["cases"] == [{"rc": 2048}]
    assert bad == ('@@HVO {"kind":"done"',)


def test_disk_image_is_the_pattern_and_every_sector_differs() -> None:
    image = guest.disk_image()
    assert len(image) == guest.DISK_BYTES
    assert all(image[x] == guest.pattern(x) for x in range(0, len(image), 509))
    sectors = {image[i : i + guest.SECTOR] for i in range(0, len(image), guest.SECTOR)}
    assert len(sectors) == len(image) // guest.SECTOR


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not found")
def test_c_pattern_equals_python_pattern(tmp_path: Path) -> None:
    source = guest.HELPER_SOURCE.read_text()
    match = re.search(r"static unsigned char pattern\(uint64_t x\)\n\{.*?\n\}\n", source, re.S)
    assert match, "pattern() not found in hvoguest.c"
    offsets = [0, 1, 511, 512, 0x3E00, 0x5000, 0x1FF000, (1 << 17) - 1, 1 << 17, (4 << 20) - 1, 123456789]
    program = tmp_path / "pattern.c"
    program.write_text(
        "#include <stdint.h>\n#include <stdio.h>\n#include <stdlib.h>\n"
        + match.group(0)
        + "int main(int argc, char **argv) {\n"
        + '  for (int i = 1; i < argc; i++) printf("%u\\n", pattern(strtoull(argv[i], 0, 0)));\n'
        + "  return 0;\n}\n"
    )
    exe = tmp_path / "pattern"
    subprocess.run(["gcc", "-O2", "-o", str(exe), str(program)], check=True, capture_output=True, timeout=120)
    out = subprocess.run([str(exe), *map(str, offsets)], check=True, capture_output=True, text=True, timeout=30)
    assert [int(v) for v in out.stdout.split()] == [guest.pattern(x) for x in offsets]


def test_cpio_members_are_newc(tmp_path: Path) -> None:
    archive = tmp_path / "a.cpio"
    guest.write_cpio(archive, [("etc", 0o40755, b"", (0, 0)), ("etc/x", 0o100644, b"hello", (0, 0))])
    blob = archive.read_bytes()
    assert blob.startswith(b"070701") and b"etc/x\0" in blob and b"hello" in blob and b"TRAILER!!!\0" in blob
    assert len(blob) % 512 == 0
    if shutil.which("cpio"):
        listing = subprocess.run(["cpio", "-it"], input=blob, capture_output=True, check=True, timeout=30)
        assert listing.stdout.decode().split() == ["etc", "etc/x"]


def test_unavailable_message_ends_with_the_install_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(guest, "QEMU", "qemu-system-does-not-exist")
    reason = guest.available()
    assert reason is not None and reason.endswith(guest.INSTALL_LINE)


# ---------------------------------------------------------------- one boot


@pytest.fixture(scope="module")
def hvo_on(boots: dict[str, guest.BootResult]) -> guest.BootResult:
    """The session's HVO-on boot (tests/kernel/conftest.py)."""
    return boots["on"]


def _ints(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_meminfo(m: Any) -> None:
    assert isinstance(m, dict) and MEMINFO_KEYS <= set(m), m
    assert all(_ints(m[k]) for k in MEMINFO_KEYS), m


def _check_rle(rle: Any, nr: int) -> None:
    """Runs [first, count, flags] tiling [0, nr) in order."""
    assert isinstance(rle, list) and rle
    at = 0
    for run in rle:
        assert isinstance(run, list) and len(run) == 3 and all(_ints(v) for v in run), run
        first, count, flags = run
        assert first == at and count > 0 and flags >= 0, run
        at += count
    assert at == nr


def _check_pool(pool: Any) -> None:
    assert isinstance(pool, dict) and set(pool) >= {"total", "free", "surplus", "HardwareCorrupted"}
    assert all(_ints(pool[k]) for k in ("total", "free", "surplus", "HardwareCorrupted")), pool


@needs_guest
def test_boot_ends_with_done_and_every_record_parses(hvo_on: guest.BootResult) -> None:
    assert hvo_on.ok, (hvo_on.exit_reason, hvo_on.notes, hvo_on.console_tail)
    assert hvo_on.bad_records == ()
    assert hvo_on.accel in ("kvm", "tcg")
    assert hvo_on.records[0]["kind"] == "boot" and hvo_on.records[-1]["kind"] == "done"
    # The 1 GiB page included: one allocation per boot, in the savings step (hvoguest.c
    # savings_one(); a second one failed on 6.12.115+, see there).
    assert hvo_on.of_kind("error") == ()


@needs_guest
def test_boot_record(hvo_on: guest.BootResult) -> None:
    (boot,) = hvo_on.of_kind("boot")
    assert isinstance(boot["release"], str) and boot["release"]
    assert isinstance(boot["version"], str)
    assert "hugetlb_free_vmemmap=on" in boot["cmdline"]
    assert boot["hvo_sysctl"] in (0, 1, None)
    _check_meminfo(boot["meminfo"])
    assert all(isinstance(line, str) and "vmemmap" in line.lower() for line in boot["dmesg_vmemmap"])


@needs_guest
def test_savings_records(hvo_on: guest.BootResult) -> None:
    savings = {r["hugepage_kb"]: r for r in hvo_on.of_kind("savings")}
    assert 2048 in savings and set(savings) <= {2048, KB_1G}
    for r in savings.values():
        assert _ints(r["n"]) and _ints(r["nr_hugepages"])
        for key in ("before", "after", "freed"):
            _check_meminfo(r[key])
    assert savings[2048]["nr_hugepages"] == savings[2048]["n"]


@needs_guest
def test_kpageflags_records(hvo_on: guest.BootResult) -> None:
    records = {r["hugepage_kb"]: r for r in hvo_on.of_kind("kpageflags")}
    assert 2048 in records and "pool" not in records[2048]
    if any(r["hugepage_kb"] == KB_1G for r in hvo_on.of_kind("savings")):
        (saving,) = [r for r in hvo_on.of_kind("savings") if r["hugepage_kb"] == KB_1G]
        assert records[KB_1G]["pool"] == "savings" and saving["heads"] == [records[KB_1G]["head_pfn"]]
    for kb, r in records.items():
        assert r["nr"] == kb // 4 and _ints(r["head_pfn"]) and r["head_pfn"] % r["nr"] == 0
        _check_rle(r["rle"], r["nr"])


@needs_guest
def test_hwpoison_records(hvo_on: guest.BootResult) -> None:
    records = hvo_on.of_kind("hwpoison")
    by_target = {t: [r for r in records if r["target"] == t] for t in ("in-use", "free")}
    expected_stages = {
        "in-use": ["after_poison", "after_munmap", "after_shrink"],
        "free": ["after_poison", "after_shrink"],
    }
    for target, rs in by_target.items():
        assert {r["subpage"] for r in rs} == SUBPAGES, target
        for r in rs:
            assert _ints(r["head_pfn"]) and r["head_pfn"] % 512 == 0
            assert _ints(r["madvise_rc" if target == "in-use" else "inject_rc"])
            assert [s["stage"] for s in r["stages"]] == expected_stages[target]
            for s in r["stages"]:
                _check_rle(s["rle"], 512)
                _check_pool(s["pool"])


@needs_guest
def test_dma_record(hvo_on: guest.BootResult) -> None:
    (dma,) = hvo_on.of_kind("dma")
    cases = dma["cases"]
    assert {(c["buf_offset"], c["length"]) for c in cases} == {
        (0x5000, 0x800),
        (0x3E00, 0x400),
        (0x3200, 0x3000),
        (0x1FF000, 0x1000),
        (0x3F800, 0x1000),
    }
    for c in cases:
        keys = ("disk_offset", "buf_offset", "length", "head_pfn", "rc", "landed", "outside_changed", "first_bad")
        assert all(_ints(c[k]) for k in keys), c
        assert c["disk_offset"] % 512 == 0 and 0 <= c["landed"] <= c["length"]


@needs_guest
def test_sysctl_record(hvo_on: guest.BootResult) -> None:
    (sysctl,) = hvo_on.of_kind("sysctl")
    steps = sysctl["steps"]
    assert [(s["action"], s["nr"]) for s in steps] == [("alloc", 1), ("alloc", 2), ("alloc", 3), ("free", 0)]
    for s in steps:
        assert s["sysctl"] in (0, 1) and (s["write_rc"] is None or _ints(s["write_rc"]))
        assert _ints(s["delta_kb"]["MemTotal"]) and _ints(s["delta_kb"]["MemFree"])


@needs_guest
def test_no_qemu_left_behind(hvo_on: guest.BootResult) -> None:
    assert hvo_on.command and hvo_on.returncode is not None
    ours = "\0".join(hvo_on.command).encode()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes()
        except OSError:
            continue
        assert not text.startswith(ours), f"{cmdline.parent.name} still runs the guest"
