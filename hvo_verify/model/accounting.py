# SPDX-License-Identifier: GPL-2.0-only
"""Memory accounting: vmemmap pages per folio, frames freed, PTE-table pages needed to
split a PMD-mapped vmemmap, net saving (reference kernel-hvo.md 1.a and 3.1).

Mike Kravetz's figures (<9d220de0-f06d-cb5b-363f-6ae97d5b4146@oracle.com>): 2 MiB folio
saves 6 - 1 PTE table = 5; 1 GiB saves 4096 - 2 - 8 = 4086.
"""

from __future__ import annotations

from dataclasses import dataclass

from hvo_verify.model.config import KernelConfig
from hvo_verify.model.scheme import HeadCopy, Scheme
from hvo_verify.model.vmemmap import not_applicable_reason


@dataclass(frozen=True, slots=True)
class Savings:
    config: str
    scheme: str
    vmemmap_pages: int  # V: vmemmap pages per folio
    freed_pages: int  # frames returned to the buddy allocator
    allocated_pages: int  # frames HVO allocated (new head page)
    pagetable_pages: int  # PTE tables allocated to split PMD-mapped vmemmap
    net_pages: int  # freed - allocated - pagetable, per folio
    pool_folios: int
    pool_bytes_saved: int  # pool_folios * (freed - allocated) * PAGE_SIZE (the cover letter's count)
    pool_bytes_saved_net: int  # the same after PTE-table pages (contiguous pool)
    not_applicable: str | None


def pagetable_pages(config: KernelConfig, folios: int = 1) -> int:
    """PTE tables needed to split the vmemmap PMDs of `folios` contiguous folios
    (split_vmemmap_huge_pmd(); one table per PMD_SIZE of vmemmap)."""
    if not config.vmemmap_pmd_mapped:
        return 0
    span = config.vmemmap_pages * config.page_size * folios
    return -(-span // config.pmd_size)


def savings(config: KernelConfig, scheme: Scheme, pool_bytes: int = 0, *, alloc_ok: bool = True) -> Savings:
    reason = not_applicable_reason(config, scheme)
    folios = pool_bytes // config.huge_size
    nr = config.vmemmap_pages
    if reason is not None or not scheme.optimizes or (scheme.head_copy is HeadCopy.REQUIRED and not alloc_ok):
        return Savings(config.id, scheme.name, nr, 0, 0, 0, 0, folios, 0, 0, reason)
    copied = scheme.head_copy is not HeadCopy.NONE and alloc_ok
    freed = nr - scheme.reserve + (1 if copied else 0)
    allocated = 1 if copied else 0
    tables = pagetable_pages(config)
    net = freed - allocated - tables
    pool_tables = pagetable_pages(config, folios) if folios else 0
    per_folio = (freed - allocated) * config.page_size
    return Savings(
        config.id,
        scheme.name,
        nr,
        freed,
        allocated,
        tables,
        net,
        folios,
        folios * per_folio,
        folios * per_folio - pool_tables * config.page_size,
        None,
    )
