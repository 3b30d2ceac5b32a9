# SPDX-License-Identifier: GPL-2.0-only
"""The 2026 series as eras (ops/smp_table.py PROTOCOLS): what each era's step lists
hold, read from the series' mails (v7, 01b1d0ffb6f7) and linux-mm @0454b15e
(mask-2026), and the proposed fix (01b1d0ffb6f7+rcu)."""

from __future__ import annotations

from hvo_verify.ops.smp_table import ACTORS, PROTOCOLS, Prim


def names(era: str, actor: str, nr_vpages: int = 3) -> list[str]:
    return [i.name for i in ACTORS[actor](PROTOCOLS[era], nr_vpages)]


def test_v7_drops_the_grace_period_and_the_read_section() -> None:
    """v7 14/18 (01b1d0ffb6f7): no synchronize_rcu(); 13/18 (32c440d67e6c): a bare
    atomic_add_unless(): read, compare, cmpxchg."""
    for era in ("01b1d0ffb6f7", "mask-2026"):
        assert "synchronize_rcu" not in names(era, "prep_new_hugetlb_folio")
        assert names(era, "get_page_unless_zero") == ["page_ref_count", "if_zero", "try_cmpxchg", "if_not_got",
                                                      "put_page", "out"]  # fmt: skip
    assert "synchronize_rcu" in names("v6.15", "prep_new_hugetlb_folio")
    assert "rcu_read_lock" in names("v6.15", "get_page_unless_zero")


def test_the_fix_has_the_read_section_without_a_fake_head_test() -> None:
    walker = names("01b1d0ffb6f7+rcu", "get_page_unless_zero")
    assert walker[:4] == ["rcu_read_lock", "page_ref_count", "if_zero", "try_cmpxchg"]
    assert "page_is_fake_head" not in walker
    assert "synchronize_rcu" in names("01b1d0ffb6f7+rcu", "prep_new_hugetlb_folio")


def test_linux_mm_runs_v7s_step_lists_for_candidate_1() -> None:
    """specs/reviews/2026-shared-tail/c1-speculative-refcount checks v7 only: linux-mm's
    walker and folio preparation are the same lists, so its verdict is the same."""
    for actor in ("get_page_unless_zero", "prep_new_hugetlb_folio", "get_page_unless_zero_llsc"):
        v7 = ACTORS[actor](PROTOCOLS["01b1d0ffb6f7"], 2)
        assert v7 == ACTORS[actor](PROTOCOLS["mask-2026"], 2), actor


def test_the_rollback_walks_pte_0_only_before_the_fix() -> None:
    """c0b495b91a47 (v7 10/18) restores PTE 0 from the tail template; linux-mm
    @0454b15e restores only the PTEs that map the shared tail."""
    v7 = names("01b1d0ffb6f7", "hugetlb_vmemmap_optimize_folio_fail")
    mm = names("mask-2026", "hugetlb_vmemmap_optimize_folio_fail")
    assert "rollback_pte_0" in v7 and "rollback_pte_1" in v7
    assert "rollback_pte_0" not in mm and "rollback_pte_1" in mm
    # the walk fails at the last vmemmap page: no remap of it, in either era
    assert "remap_pte_2" not in v7 and "remap_pte_2" not in mm


def test_the_llsc_walker_differs_only_in_its_cmpxchg() -> None:
    x86 = ACTORS["get_page_unless_zero"](PROTOCOLS["mask-2026"], 2)
    arm = ACTORS["get_page_unless_zero_llsc"](PROTOCOLS["mask-2026"], 2)
    assert [i.prim for i in x86 if i.prim is not Prim.CMPXCHG] == [
        i.prim for i in arm if i.prim is not Prim.CMPXCHG_LLSC
    ]
    assert [i.prim for i in arm].count(Prim.CMPXCHG_LLSC) == 1 and Prim.CMPXCHG not in [i.prim for i in arm]
