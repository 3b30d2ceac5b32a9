# SPDX-License-Identifier: GPL-2.0-only
"""The invariants over every interleaving of several CPUs (ops/smp.py): what each says
and where the kernel states it.  The concrete check of each is a `bad.<id>` cell set by
the step that breaks it (ops/smp.py); its z3 form is the same cell in
encode/ops/smp.py; check/smp.py asks whether any interleaving sets it.
"""

from __future__ import annotations

from dataclasses import dataclass

from hvo_verify.ops import smp


@dataclass(frozen=True, slots=True)
class SmpInvariant:
    id: str
    summary: str
    kernel_ref: str

    @property
    def witness(self) -> str:
        """The event whose happening is this invariant's witness (ops/smp.py EVENT_OF):
        a proof where it cannot happen is `unreached` (check/smp.py)."""
        return smp.EVENT_OF[self.id]


# What each event cell of ops/smp.py records: the situation an invariant is about.
SMP_WITNESSES: dict[str, str] = {
    "store": "a store to a struct page through the vmemmap",
    "load": "a load from a vmemmap page",
    "lock": "a CPU takes a lock (spin lock or rwsem read side)",
    "set_pte": "a vmemmap PTE changes",
    "populate": "a PMD split populates a PTE table",
    "copy_flush": "a copied head vmemmap page reaches its TLB flush",
    "sync": "a synchronize_rcu()",
    "free": "a vmemmap frame is freed",
    "claim": "a free folio is taken off the hstate free list",
}


SMP_INVARIANTS: dict[str, SmpInvariant] = {
    i.id: i
    for i in (
        SmpInvariant(smp.RO_WRITE, "no store to a struct page through a read-only vmemmap PTE (an x86 locked "
                     "cmpxchg stores even when the compare fails)",
                     "bd225530a4c7 (B8): get_page_unless_zero() \"can still try to modify this read-only field\""),
        SmpInvariant(smp.STALE_STORE, "no store through a TLB entry that no longer matches the vmemmap PTE",
                     "mm/hugetlb_vmemmap.c __hugetlb_vmemmap_optimize_folio() \"Very Subtle\" comment (6.10+)"),
        SmpInvariant(smp.VMEMMAP_FAULT, "no access to a vmemmap page whose PTE is invalid",
                     "060a2c92d1b6 (B13): \"the vmemmap may be concurrently accessed\""),
        SmpInvariant(smp.DEADLOCK, "some CPU can always move until every CPU is done (no lock cycle, no grace "
                     "period waiting for a blocked reader)",
                     "CVE-2024-26987 (B12): pcp_batch_high_lock vs cpu_hotplug_lock"),
        SmpInvariant(smp.ONLY_HUGETLB, "at every instant, a folio whose vmemmap is remapped is a HugeTLB folio",
                     "32c877191e02 (B5), d8f5f7e445f0 (B6): VM_WARN_ON_ONCE(!folio_test_hugetlb(folio))"),
        SmpInvariant(smp.REMAP_FROZEN, "a folio's vmemmap mapping changes only while its _refcount is frozen at 0",
                     "bd225530a4c7 (B16): VM_WARN_ON_ONCE_FOLIO(folio_ref_count(folio), folio)"),
        SmpInvariant(smp.PGTABLE, "the PMD split builds its PTE table from the leaf observed under "
                     "init_mm.page_table_lock, and installs at most one table per PMD",
                     "B3: \"mm: hugetlb_vmemmap: fix a race between vmemmap pmd split\" (Jul 2023)"),
        SmpInvariant(smp.BBM, "on arm64 and s390, a live valid kernel PTE changes its output address or permission only "
                     "through break-before-make",
                     "060a2c92d1b6 (B13): \"deemed UNPREDICTABLE by the Arm architecture without a "
                     "break-before-make sequence\""),
        SmpInvariant(smp.HEAD_COPY, "after a head vmemmap page copy, the old and the new frame agree at the TLB "
                     "flush (no store reached only one of them)",
                     "mm/hugetlb_vmemmap.c \"keeps the old and new struct pages in sync\" (6.10+)"),
        SmpInvariant(smp.GRACE, "at most max_grace_periods synchronize_rcu() per CPU's batch",
                     "B9: \"mm/hugetlb_vmemmap: don't synchronize_rcu() without HVO\" (Jul 2024); "
                     "hugetlb_vmemmap_optimize_folios(): \"only need to synchronize_rcu() once for each batch\""),
        SmpInvariant(smp.FREED_ACCESS, "no access to a vmemmap frame after it was freed (the TLB flush comes "
                     "before free_vmemmap_page_list())",
                     "mm/hugetlb_vmemmap.c vmemmap_remap_range(): flush_tlb_kernel_range() before the caller frees "
                     "the pages (linux-source-6.12 :171, :582)"),
        SmpInvariant(smp.ONE_OWNER, "a free folio is taken off the hstate free list by one path only "
                     "(allocation or dissolve, under hugetlb_lock)",
                     "mm/hugetlb.c dequeue_hugetlb_folio_node_exact(), dissolve_free_hugetlb_folio(): "
                     "lockdep_assert_held(&hugetlb_lock) in remove_hugetlb_folio()"),
        SmpInvariant(smp.HEAD_PRESERVED, "a folio's head vmemmap page is never remapped from a frame holding its "
                     "head struct page to one that holds none (a failed optimize keeps the head)",
                     "mm/hugetlb_vmemmap.c vmemmap_remap_pte(): VM_WARN_ON_ONCE(!PageHead(addr)) on the head "
                     "PTE; \"mm/hugetlb_vmemmap: fix incorrect vmemmap restore in rollback\" (Muchun Song, "
                     "May 2026, Fixes: c0b495b91a47)"),
    )
}  # fmt: skip
assert set(SMP_INVARIANTS) == set(smp.INVARIANT_IDS)
assert {inv.witness for inv in SMP_INVARIANTS.values()} == set(SMP_WITNESSES)
