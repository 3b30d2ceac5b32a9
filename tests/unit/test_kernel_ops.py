# SPDX-License-Identifier: GPL-2.0-only
"""The concrete kernel operations (hvo_verify/ops) against the facts of the reference
(kernel-hvo.md 4, 5, 6) and the thread: one scenario per rule the model encodes."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import pytest

from hvo_verify.invariants.reachable import OP_INVARIANTS, raw_flag
from hvo_verify.invariants.replay import check_step
from hvo_verify.model import readers as r
from hvo_verify.model.config import parse_config_id
from hvo_verify.model.facts import DEFAULT_FACTS
from hvo_verify.model.policy import (
    PRESET_POLICIES,
    Arch1,
    HugetlbClear,
    Hwpoison,
    Node,
    RestoreGfp,
    VmemmapFrames,
    default_policies,
)
from hvo_verify.model.scheme import PRESETS, MemoryModel
from hvo_verify.model.structpage import Folio
from hvo_verify.ops.machine import Machine
from hvo_verify.ops.state import USER_BASE, FaultKind, KState, Pool

Call = tuple[str, Mapping[str, int | bool]]

OPT: Call = ("hugetlb_vmemmap_optimize_folio", {"alloc_ok": True})
ALLOC: Call = ("alloc_hugetlb_folio", {})


def machine(preset: str, config: str = "x86-64/4K/2M", **policy: object) -> Machine:
    cfg = parse_config_id(config)[0]
    scheme = PRESETS[preset]
    if "memory_model" in policy:
        scheme = dataclasses.replace(scheme, memory_model=policy.pop("memory_model"))  # type: ignore[arg-type]
    pol = dataclasses.replace(default_policies(scheme), **policy)  # type: ignore[arg-type]
    return Machine(Folio(cfg, scheme, cfg.nr_pages, cfg.default_vmemmap_base), pol, io_max=cfg.page_size)


def run(m: Machine, *steps: Call) -> tuple[KState, list[str], tuple[str, str] | None]:
    state, lines = m.initial(), list[str]()
    for op, args in steps:
        assert m.enabled(state, op), op
        out = m.apply(state, op, args)
        lines += out.lines
        violation = check_step(m, state, out, tuple(OP_INVARIANTS))
        if violation is not None or out.fault is not None:
            return out.state, lines, violation
        state = out.state
    return state, lines, None


def test_willys_fifth_page_io_goes_to_the_fifth_page() -> None:
    for preset in ("rfc-2020", "v5.14", "v5.18", "v6.2", "mask-2026"):
        m = machine(preset)
        state, lines, violation = run(m, OPT, ALLOC, ("pin_user_pages_fast", {"offset": 0x5000, "length": 0x800}),
                                      ("submit_bio", {}), ("unpin_user_pages_dirty_lock", {}))  # fmt: skip
        assert violation is None, (preset, violation)
        assert any("{head+5, 0x0, 0x800}" in line for line in lines), lines
        head_phys = m.folio.head_pfn << 12
        assert state.dma == ((head_phys + 0x5000, 0x800, 0x5000),)
        assert state.refs == 1 and state.pins == 0 and m.refcount(state, m.page(0)) == 1


def test_a_buffer_across_two_subpages_is_one_merged_bio_vec() -> None:
    m = machine("v5.18")
    state, lines, violation = run(m, OPT, ALLOC, ("pin_user_pages_fast", {"offset": 0x5800, "length": 0x1000}),
                                  ("submit_bio", {}))  # fmt: skip
    assert violation is None
    assert [line for line in lines if line.startswith("bio_vec")] == [
        f"bio_vec {{head+5, 0x800, 0x1000}} -> sg_phys = {(m.folio.head_pfn << 12) + 0x5800:#x}; DMA writes 0x1000 bytes"
    ]
    assert m.pincount(state) == 2 and state.pins == 2


def test_gup_handing_out_the_representative_sends_dma_elsewhere() -> None:
    m = machine("v5.14", memory_model=MemoryModel.DEDUP_POINTERS)
    _, _, violation = run(m, OPT, ALLOC, ("pin_user_pages_fast", {"offset": 0x80000, "length": 0x800}),
                          ("submit_bio", {}))  # fmt: skip
    assert violation is not None and violation[0] == "dma-exact"


def test_raw_poison_flag_leaks_through_writable_aliases() -> None:
    m = machine("rfc-2020", hwpoison=Hwpoison.RAW_FLAG)
    state, _, violation = run(m, OPT, ("memory_failure", {"i": 200, "kmalloc_ok": True}))
    assert violation is not None and violation[0] == "alias-write"
    assert "head+72" in violation[1]
    assert m.test_flag(state, m.page(136), DEFAULT_FACTS.pg_hwpoison)  # a page that never failed


def test_raw_poison_flag_on_a_read_only_alias_oopses() -> None:
    m = machine("v5.14", hwpoison=Hwpoison.RAW_FLAG)
    state = run(m, OPT)[0]
    out = m.apply(state, "memory_failure", {"i": 200, "kmalloc_ok": True})
    assert out.fault is not None and out.fault.kind is FaultKind.RO_WRITE
    # head+100 is on the kept page 1: no oops there, but the flag shows on its aliases
    out = m.apply(state, "memory_failure", {"i": 100, "kmalloc_ok": True})
    assert out.fault is None and check_step(m, state, out, ("alias-write",)) is not None


def test_head_index_remembers_one_error_and_loses_the_second() -> None:
    m = machine("rfc-2020", hwpoison=Hwpoison.HEAD_INDEX, hugetlb_clear=HugetlbClear.AFTER_RESTORE)
    one = run(m, OPT, ("memory_failure", {"i": 5, "kmalloc_ok": True}), ("dissolve_free_hugetlb_folio", {"i": 5}),
              ("update_and_free_hugetlb_folio", {"alloc_ok": True}))  # fmt: skip
    assert one[2] is None and one[0].pool is Pool.BUDDY
    assert raw_flag(m, one[0], m.folio.head_pfn + 5) and not raw_flag(m, one[0], m.folio.head_pfn)
    two = run(
        m, OPT, ("memory_failure", {"i": 5, "kmalloc_ok": True}), ("memory_failure", {"i": 9, "kmalloc_ok": True})
    )
    assert two[2] is not None and two[2][0] == "hwpoison-exact" and "head_pfn+9" in two[2][1]
    assert any("already hwpoisoned" in line for line in two[1])


def _poisoned(m: Machine, state: KState) -> set[int]:
    head = m.folio.head_pfn
    return {pfn - head for pfn in range(head, head + m.nr) if raw_flag(m, state, pfn)}


def test_the_rfc_marks_every_alias_in_dissolve_and_clears_them_after_the_restore() -> None:
    """RFC 18/24: dissolve moves PG_hwpoison to head+0x45 through the writable alias of
    frame(1), so head+5+64k reads as poisoned for every k; __free_hugepage() clears all
    but the recorded index."""
    m = machine("rfc-2020")
    mf, dissolve = ("memory_failure", {"i": 0x45, "kmalloc_ok": True}), ("dissolve_free_hugetlb_folio", {"i": 0x45})
    state, _lines, violation = run(m, OPT, mf)
    assert violation is not None and violation[0] == "hwpoison-exact"  # the head flag alone (as v5.14)
    out = m.apply(state, *dissolve)
    assert _poisoned(m, out.state) == {5 + 64 * k for k in range(1, 8)}
    assert check_step(m, state, out, ("alias-write",)) is not None
    freed = m.apply(out.state, "update_and_free_hugetlb_folio", {"alloc_ok": True})
    assert freed.state.pool is Pool.BUDDY and _poisoned(m, freed.state) == {0x45}


def test_devdax_memory_failure_marks_the_compound_head() -> None:
    """mf_generic_kill_procs(): page = compound_head(page) (6.1), the folio (6.12)."""
    mf = {"i": 0xC8, "kmalloc_ok": True}
    for pol, poisoned, stores_to_alias in ((Hwpoison.RAW_HWP_LIST, {0}, False), (Hwpoison.RAW_FLAG, None, True)):
        m = machine("devdax", hwpoison=pol)
        state = m.initial()
        out = m.apply(state, "memory_failure", mf)
        assert (check_step(m, state, out, ("alias-write", "ro-write")) is not None) is stores_to_alias, pol
        assert poisoned is None or _poisoned(m, out.state) == poisoned


def test_raw_hwp_list_moves_every_flag_after_restore() -> None:
    m = machine("mask-2026")
    state, lines, violation = run(m, OPT, ("memory_failure", {"i": 5, "kmalloc_ok": True}),
                                  ("memory_failure", {"i": 300, "kmalloc_ok": True}),
                                  ("dissolve_free_hugetlb_folio", {"i": 5}),
                                  ("update_and_free_hugetlb_folio", {"alloc_ok": True}))  # fmt: skip
    assert violation is None and state.pool is Pool.BUDDY and not state.optimized
    poisoned = {
        pfn - m.folio.head_pfn for pfn in range(m.folio.head_pfn, m.folio.head_pfn + m.nr) if raw_flag(m, state, pfn)
    }
    assert poisoned == {5, 300}


def test_failed_restore_leaves_the_folio_optimized_in_the_pool() -> None:
    m = machine("v6.2", hugetlb_clear=HugetlbClear.AFTER_RESTORE)
    state, lines, violation = run(m, OPT, ("dissolve_free_hugetlb_folio", {"i": 0}),
                                  ("update_and_free_hugetlb_folio", {"alloc_ok": False}))  # fmt: skip
    assert violation is None
    assert state.pool is Pool.FREE and state.optimized and state.hugetlb


def test_b5_window_is_optimized_but_not_hugetlb_before_v6_5() -> None:
    m = machine("v6.2")
    assert m.policies.hugetlb_clear is HugetlbClear.BEFORE_RESTORE
    state, _, violation = run(m, OPT, ("dissolve_free_hugetlb_folio", {"i": 0}))
    assert state.optimized and not state.hugetlb
    assert violation is not None and violation[0] == "only-hugetlb-optimized"
    # memory_failure() in the window takes the ordinary-page path: SetPageHWPoison on a tail
    out = m.apply(state, "memory_failure", {"i": 200, "kmalloc_ok": True})
    assert out.fault is not None and out.fault.kind is FaultKind.RO_WRITE


@pytest.mark.parametrize("reset", [True, False])
def test_restore_resets_the_first_struct_pages_of_copies(reset: bool) -> None:
    m = machine("v5.18", restore_reset=reset)
    state, _, violation = run(m, OPT, ("hugetlb_vmemmap_restore_folio", {"alloc_ok": True}))
    if reset:
        assert violation is None and not state.optimized
        assert not r.test_page_head(state.vmemmap, m.page(64))
    else:
        assert violation is not None and violation[0] == "restore-identity" and "head+64" in violation[1]


def test_pg_arch_1_redirected_to_the_head_leaves_tails_alone() -> None:
    m = machine("v5.18", "arm64/4K/2M")
    state, lines, violation = run(m, OPT, ALLOC, ("sync_icache_dcache", {"i": 200}))
    assert violation is None and "set PG_arch_1 on head" in lines[-1]
    assert m.test_flag(state, m.page(0), DEFAULT_FACTS.pg_arch_1)


def test_gup_on_a_fake_head_finds_the_real_head() -> None:
    m = machine("v5.18")
    state, lines, violation = run(m, OPT, ALLOC, ("get_user_pages_fast", {"offset": 64 << 12, "length": 512}))
    assert violation is None and "folio head: refcount += 1" in lines[-1]
    assert r.page_is_fake_head(state.vmemmap, m.page(64))


def test_policies_carry_the_kernel_version() -> None:
    assert default_policies(PRESETS["v5.14"]).hwpoison is Hwpoison.HEAD_FLAG
    assert default_policies(PRESETS["v5.14"]).restore_reset is False
    assert default_policies(PRESETS["v5.18"]).restore_reset is True
    assert default_policies(PRESETS["v6.2"]).hwpoison is Hwpoison.RAW_HWP_LIST
    assert default_policies(PRESETS["v6.2"]).hugetlb_clear is HugetlbClear.BEFORE_RESTORE
    assert default_policies(PRESETS["mask-2026"]).hugetlb_clear is HugetlbClear.AFTER_RESTORE
    assert default_policies(PRESETS["rfc-2020"]).hwpoison is Hwpoison.SUBPAGE_HWPOISON
    assert default_policies(PRESETS["rfc-2020"]).hugetlb_clear is HugetlbClear.AFTER_RESTORE
    assert default_policies(PRESETS["v6.5"]).pg_arch_1 is Arch1.HEAD
    assert default_policies(PRESETS["v6.12.111"]).pg_arch_1 is Arch1.FOLIO


def test_user_base_is_aligned_for_every_folio_size() -> None:
    assert USER_BASE % (16 << 30) == 0


RESTORE: Call = ("hugetlb_vmemmap_restore_folio", {"alloc_ok": True})


@pytest.mark.parametrize(
    ("preset", "optimized"),
    [("v6.2", True), ("v6.8", True), ("v6.12.111", True), ("v6.12.115", False), ("mask-2026", False)],
)
def test_a_failed_head_page_allocation_per_era(preset: str, optimized: bool) -> None:
    """v6.2..6.12.114 fall back to reusing frame(0) in place (11aad2631bf7); Debian
    6.12.115+ (linux-source-6.12 mm/hugetlb_vmemmap.c:536-539) and 2026 leave the folio
    unoptimized."""
    m = machine(preset)
    state, lines, violation = run(m, ("hugetlb_vmemmap_optimize_folio", {"alloc_ok": False}))
    assert violation is None and state.optimized is optimized, lines
    pte0 = state.vmemmap.pte(m.first_vpage)
    assert pte0 is not None and pte0.frame.kind.name == "ORIG"  # page 0 keeps its frame either way
    assert len(state.vmemmap.freed) == (m.config.vmemmap_pages - 1 if optimized else 0)


@pytest.mark.parametrize(("preset", "frames", "bad"), [
    ("v5.18", VmemmapFrames.HOTPLUG, True),  # B2 pre-fix: no split_page()
    ("v5.19", VmemmapFrames.HOTPLUG, False),  # 39d35edee453
    ("v5.18", VmemmapFrames.BOOTMEM, False),  # PageReserved frames are freed one by one
    ("v5.18", VmemmapFrames.MEMMAP_ON_MEMORY, True),  # B4 pre-fix
])  # fmt: skip
def test_freed_vmemmap_frames_must_be_free_order_0_pages(preset: str, frames: VmemmapFrames, bad: bool) -> None:
    _state, lines, violation = run(machine(preset, vmemmap_frames=frames), OPT)
    assert (violation is not None and violation[0] == "vmemmap-frame-freeable") is bad, (violation, lines)


def test_self_hosted_vmemmap_makes_hvo_a_no_op_from_v6_0() -> None:
    for preset in ("v6.1", "v6.12.115"):
        m = machine(preset, vmemmap_frames=VmemmapFrames.MEMMAP_ON_MEMORY)
        state, lines, violation = run(m, OPT)
        assert violation is None and not state.optimized and not state.vmemmap.freed
        assert any("PageVmemmapSelfHosted" in line for line in lines), lines


def test_thisnode_restore_on_a_movable_only_node_never_succeeds() -> None:
    m = machine("v6.5", node=Node.MOVABLE_ONLY)
    _state, lines, violation = run(m, OPT, RESTORE)
    assert violation is not None and violation[0] == "restore-progress", lines
    # The failed free path leaves the folio on the free list, optimized and hugetlb.
    state, lines, violation = run(m, OPT, ("dissolve_free_hugetlb_folio", {"i": 0}),
                                  ("update_and_free_hugetlb_folio", {"alloc_ok": False}))  # fmt: skip
    assert violation is None and state.optimized and state.hugetlb and state.pool is Pool.FREE, lines
    for preset, node in (("v6.8", Node.MOVABLE_ONLY), ("v6.1", Node.NORMAL)):
        state, lines, violation = run(machine(preset, node=node), OPT, RESTORE)
        assert violation is None and not state.optimized, (preset, lines)


def test_pre_fix_kernels_of_b2_b4_b7() -> None:
    """The era data: which presets' kernels predate each fix (model/policy.py)."""
    pre = {
        name: (p.split_pmd_block, p.self_hosted_check, p.restore_gfp is RestoreGfp.THISNODE)
        for name, p in PRESET_POLICIES.items()
    }
    assert pre["v5.18"] == (False, False, True)
    assert pre["v5.19"] == (True, True, True)
    assert pre["v6.1"] == (True, True, True)  # Debian 6.1.192 still has __GFP_THISNODE
    assert pre["v6.5"] == (True, True, True)
    assert pre["v6.8"] == pre["v6.12.115"] == pre["linux-mm 2026"] == (True, True, False)
