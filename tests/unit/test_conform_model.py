"""Conformance, the model side: kernel version -> preset, and the predictions the model
makes for each scenario (no QEMU needed)."""

from __future__ import annotations

import dataclasses

import pytest

from hvo_verify.conform import predict as p
from hvo_verify.conform.kernelmap import KernelFacts, kernel_facts, upstream_version

DEBIAN_12 = ("6.1.0-50-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.176-1 (2026-10-20)")


def facts(preset: str = "v6.1") -> KernelFacts:
    f = kernel_facts(*DEBIAN_12)
    assert f is not None
    return dataclasses.replace(f, preset=preset)


@pytest.mark.parametrize(
    ("release", "version", "upstream", "preset"),
    [
        (*DEBIAN_12, (6, 1, 176), "v6.1.52"),
        ("6.1.0-9-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.27-1", (6, 1, 27), "v6.1"),
        ("5.10.0-30-amd64", "#1 SMP Debian 5.10.218-1", (5, 10, 218), "none"),
        ("5.15.0-91-generic", "#101-Ubuntu SMP", (5, 15, 0), "v5.14"),
        ("5.18.3", "#1 SMP", (5, 18, 3), "v5.18"),
        ("6.0.12", "#1 SMP", (6, 0, 12), "v5.19"),
        ("6.4.0-1-amd64", "#1 SMP Debian 6.4.4-1", (6, 4, 4), "v6.2"),
        ("6.5.0-1-amd64", "#1 SMP Debian 6.5.3-1", (6, 5, 3), "v6.5"),
        ("6.8.12", "#1 SMP", (6, 8, 12), "v6.8"),
        ("6.12.48+deb13-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.12.48-1", (6, 12, 48), "v6.10"),
        ("6.12.112+deb13-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.12.112-1", (6, 12, 112), "v6.12.111"),
        ("6.12.117+deb12-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.12.117-1~deb12u1", (6, 12, 117), "v6.12.115"),
        ("6.13.2", "#1 SMP", (6, 13, 2), "v6.10"),
        ("6.16.1", "#1 SMP", (6, 16, 1), "v6.15"),
    ],
)
def test_kernel_version_maps_to_preset(release: str, version: str, upstream: tuple[int, ...], preset: str) -> None:
    assert upstream_version(release, version) == upstream
    f = kernel_facts(release, version)
    assert f is not None and f.preset == preset and f.upstream == upstream


def test_unreadable_version() -> None:
    assert kernel_facts("custom", "#1 SMP") is None


def test_debian_facts() -> None:
    f = facts()
    assert f.has_sysctl and not f.dio_pins


def test_savings_issue_figure() -> None:
    """The issue's figure: 100 x 2 MiB folios, HVO on vs off: 100 x 7 x 4 KiB of MemTotal."""
    on = p.predict_savings(facts(), 2048, 100, True, fresh=True)
    off = p.predict_savings(facts(), 2048, 100, False, fresh=True)
    assert on.freeable_kb == off.freeable_kb == 28  # printed whether or not HVO is on
    assert on.memtotal_alloc_kb == p.Range(2800, 2800) and off.memtotal_alloc_kb == p.Range(0, 0)
    # 100 folios' vmemmap is 100 x 32 KiB: at least 2, at most 100 PMDs split
    assert on.memfree_alloc_kb == p.Range(-204800 + 2800 - 400, -204800 + 2800 - 8)
    assert on.memfree_free_kb == 100 * (2048 - 28)
    assert p.predict_savings(facts(), 1048576, 1, True).freeable_kb == 16380


def test_savings_depend_on_preset() -> None:
    """v6.2 copies the head vmemmap page: one more boot frame freed, one buddy page taken."""
    v62 = p.predict_savings(facts("v6.2"), 2048, 100, True, fresh=True)
    assert v62.memtotal_alloc_kb == p.Range(3200, 3200)
    assert p.predict_savings(facts("v5.14"), 2048, 1, True).memtotal_alloc_kb == p.Range(24, 24)


def test_restored_vmemmap_is_not_boot_memory() -> None:
    """A folio whose vmemmap was restored before frees buddy pages: MemTotal may not move."""
    pred = p.predict_savings(facts(), 2048, 3, True, boot_vmemmap=False)
    assert pred.memtotal_alloc_kb == p.Range(0, 84)


def test_kpageflags_fake_heads() -> None:
    on = p.predict_kpageflags(facts(), 2048, 0x40000, True)
    off = p.predict_kpageflags(facts(), 2048, 0x40000, False)
    assert on.compound == off.compound
    assert on.compound[0] == (1 << 15) | (1 << 17) and set(on.compound[1:]) == {(1 << 16) | (1 << 17)}
    assert on.flags_alias_head == frozenset(range(64, 512, 64)) and not off.flags_alias_head


@pytest.mark.parametrize("target", ["in-use", "free"])
@pytest.mark.parametrize("k", [0, 1, 64, 511])
def test_hwpoison_moves_to_raw_page(target: str, k: int) -> None:
    pred = p.predict_hwpoison(facts(), 2048, 0x40000, k, target, True)
    assert pred.poisoned == {k} and not any(pred.compound) and pred.pool_delta == -1 and pred.corrupted_kb == 4


def test_kpageflags_reads_the_folio_from_6_12() -> None:
    """6.12 stable_page_flags(): `k = folio->flags`, so every tail reports the head's
    raw flags, HVO on or off (the 6.1 fake-head signal is gone)."""
    for preset in ("v6.10", "v6.12.111", "v6.12.115"):
        on = p.predict_kpageflags(facts(preset), 2048, 0x40000, True)
        off = p.predict_kpageflags(facts(preset), 2048, 0x40000, False)
        assert on.flags_alias_head == off.flags_alias_head == frozenset(range(1, 512))
        assert on.compound == off.compound


@pytest.mark.parametrize("k", [0, 65, 511])
def test_verbatim_restore_leaves_head_copies_at_every_64th_pfn(k: int) -> None:
    """Debian 6.12.115+: the restored vmemmap has a byte copy of the head struct page
    (PG_hwpoison, PGTY_hugetlb) at pfns 64*m; after the free they still report HWPOISON,
    and KPF_HUGE where __SetPageBuddy() did not overwrite the page type.  With the reset
    (v6.12.111, before 6.12.115) only the raw page is poisoned and nothing is HUGE."""
    copies = frozenset(range(64, 512, 64))
    pred = p.predict_hwpoison(facts("v6.12.115"), 2048, 0x40000, k, "free", True)
    assert pred.poisoned == copies | {k}
    heads = p.take_page_off_buddy(512, k)
    assert {i for i, bits in enumerate(pred.compound) if bits} == copies - heads
    assert all(bits == 1 << 17 for bits in pred.compound if bits)
    fixed = p.predict_hwpoison(facts("v6.12.111"), 2048, 0x40000, k, "free", True)
    assert fixed.poisoned == {k} and not any(fixed.compound)
    off = p.predict_hwpoison(facts("v6.12.115"), 2048, 0x40000, k, "free", False)
    assert off.poisoned == {k} and not any(off.compound)


def test_take_page_off_buddy_splits_around_the_target() -> None:
    """break_down_buddy_pages(): the free-block heads left when pfn 65 is taken out of
    an order-9 block: 256, 128, 0, 96, 80, 72, 68, 66, 64."""
    assert p.take_page_off_buddy(512, 65) == {256, 128, 0, 96, 80, 72, 68, 66, 64}
    assert p.take_page_off_buddy(512, 0) == {256, 128, 64, 32, 16, 8, 4, 2, 1}
    assert p.take_page_off_buddy(8, 3, 5) == {0, 2, 4, 6}


def test_hwpoison_head_flag_era_moves_the_flag_to_the_dissolved_page() -> None:
    """v5.18 (v5.14..v6.0, before the raw_hwp list of 6.1): memory_failure() sets
    PG_hwpoison on the head only (TestSetPageHWPoison(head) in
    memory_failure_hugetlb()), and mm/hugetlb.c dissolve_free_huge_page(page) hands it over:
    `if (PageHWPoison(head) && page != head) { SetPageHWPoison(page);
    ClearPageHWPoison(head); }`.  memory_failure() dissolves the folio at the raw error
    page, so with this scenario's single error at subpage 65 the flag ends on head+65
    and nowhere else: the raw page is not lost.  (It is lost when a second error hits
    another subpage, which this one-error scenario cannot show: the objection spec
    hwpoison-head-index-two-errors does.)"""
    pred = p.predict_hwpoison(facts("v5.18"), 2048, 0x40000, 65, "in-use", True)
    assert pred.poisoned == {65}


def test_dma_exact() -> None:
    pred = p.predict_dma(facts(), 0x40000, 0x5000, 0x800, True)
    assert pred.written == ((0x5000, 0x800),)
    assert any("head+5" in line for line in pred.lines)


def test_sysctl_affects_later_folios_only() -> None:
    steps = p.predict_sysctl(facts(), False, [(1, "alloc", 1), (0, "alloc", 2), (1, "free", 0)])
    assert [s.memtotal_kb for s in steps] == [p.Range(28, 28), p.Range(0, 0), p.Range(0, 0)]
    assert steps[2].memfree_kb == p.Range(2 * 2048 - 28, 2 * 2048 - 28)
    no_sysctl = p.predict_sysctl(dataclasses.replace(facts("v5.18"), has_sysctl=False), False, [(1, "alloc", 1)])
    assert no_sysctl[0].memtotal_kb == p.Range(0, 0) and not no_sysctl[0].write_ok
