# SPDX-License-Identifier: GPL-2.0-only
"""Literal kernel figures for the pieces both sides of the differentials share
(ARCHITECTURE.md, "What the two sides of each differential share"): the PTE tables a
PMD split costs (`model/accounting.py` `pagetable_pages()`), the vmemmap pages a scheme
keeps (`Scheme.reserve`), the 2026 mask encoding of a tail (`model/structpage.py`
`tail_info()`) and the not-applicable rule (`model/vmemmap.py`
`not_applicable_reason()`).  z3 and the concrete model read the same function, so a bug
in one of them is invisible to the differential: only a value written down from the
kernel can catch it.  Every expected value below is a literal, with its source.
"""

from __future__ import annotations

import pytest

from hvo_verify.model.accounting import pagetable_pages
from hvo_verify.model.config import parse_config_id
from hvo_verify.model.scheme import PRESETS, preset
from hvo_verify.model.structpage import tail_info
from hvo_verify.model.vmemmap import not_applicable_reason

# ---------------------------------------------------------------- PTE tables of a PMD split
#
# mm/hugetlb_vmemmap.c split_vmemmap_huge_pmd() allocates one PTE table
# (pte_alloc_one_kernel()) per PMD-mapped PMD_SIZE of vmemmap the walk touches.
# Documentation/mm/vmemmap_dedup.rst (torvalds/linux @17b6fc88): "A 2MB HugeTLB page on
# x86_64 consists in 8 page frames while 1GB HugeTLB page consists in 4096", i.e. 32 KiB
# and 16 MiB of vmemmap; a PMD maps 2 MiB with 4K pages.  Mike Kravetz's figures
# (<9d220de0-f06d-cb5b-363f-6ae97d5b4146@oracle.com>): "6 - 1 PTE table" per 2 MiB page,
# "4096 - 2 - 8" per 1 GiB page.  arm64 maps the vmemmap with PMD blocks only with 4K
# pages (arch/arm64/mm/mmu.c vmemmap_populate(): `if (!IS_ENABLED(CONFIG_ARM64_4K_PAGES))
# return vmemmap_populate_basepages(...)`): nothing to split with 16K or 64K pages.
PTE_TABLES = [
    ("x86-64/4K/2M", 1, 1),  # 32 KiB of vmemmap inside one 2 MiB PMD
    ("x86-64/4K/1G", 1, 8),  # 16 MiB / 2 MiB (Kravetz: "- 8")
    ("x86-64/4K/2M", 100, 2),  # 100 contiguous folios: 3.125 MiB of vmemmap, 2 PMDs
    ("x86-64/4K/1G", 300, 2400),  # the cover letter's 300 GiB pool: 300 * 8
    ("arm64/4K/2M", 1, 1),
    ("arm64/4K/32M", 1, 1),  # 128 vmemmap pages = 512 KiB, inside one PMD
    ("arm64/4K/1G", 1, 8),
    ("arm64/16K/32M", 1, 0),  # base pages: no PMD to split
    ("arm64/16K/1G", 1, 0),
    ("arm64/64K/512M", 1, 0),
    ("arm64/64K/16G", 1, 0),
]


@pytest.mark.parametrize(("config_id", "folios", "tables"), PTE_TABLES)
def test_pagetable_pages(config_id: str, folios: int, tables: int) -> None:
    assert pagetable_pages(parse_config_id(config_id)[0], folios) == tables


# ---------------------------------------------------------------- vmemmap pages kept
#
# RESERVE_VMEMMAP_NR: 2U in the 2020 RFC (<20200915125947.26204-1-songmuchun@bytedance.com>,
# mm/hugetlb_vmemmap.c "we need to reserve two pages as vmemmap areas") and in v5.14
# (f41f2ed43ca5); 1U from e7d324850bfc "mm: hugetlb: free the 2nd vmemmap page associated
# with each HugeTLB page" (v5.18); HUGETLB_VMEMMAP_RESERVE_SIZE = PAGE_SIZE from v6.1 (and
# in v6.2 with the head copy, and in the 2026 series); Device-DAX keeps the head page and
# the first tail page it reuses (4917f55b4ef9, vmemmap_dedup.rst "device-dax reuses the
# tail vmemmap page").  5.19..6.15 and Debian 6.12.111/115: HUGETLB_VMEMMAP_RESERVE_SIZE PAGE_SIZE
# (linux-source-6.1 and linux-source-6.12 mm/hugetlb_vmemmap.h).  The `none` baseline keeps nothing because it remaps nothing.
RESERVE = {
    "none": 0,
    "rfc-2020": 2,
    "v5.14": 2,
    "v5.18": 1,
    "v6.1": 1,
    "v6.2": 1,
    "v5.19": 1,
    "v6.1.52": 1,
    "v6.5": 1,
    "v6.8": 1,
    "v6.10": 1,
    "4eeec8c89a0c": 1,
    "v6.15": 1,
    "v6.12.111": 1,
    "v6.12.115": 1,
    "01b1d0ffb6f7": 1,
    "mask-2026": 1,
    "devdax": 2,
}


def test_every_preset_has_a_literal_reserve() -> None:
    assert set(RESERVE) == set(PRESETS)


@pytest.mark.parametrize(("name", "kept"), sorted(RESERVE.items()))
def test_reserve(name: str, kept: int) -> None:
    assert preset(name).reserve == kept


# ---------------------------------------------------------------- the 2026 mask encoding
#
# set_compound_head() of the 2026 series (Kiryl Shutsemau, "[PATCHv2 06/14] mm: Rework
# compound_head() for power-of-2 sizeof(struct page)",
# <20251218150949.721480-7-kas@kernel.org>):
#
#     shift = order + order_base_2(sizeof(struct page));
#     mask = GENMASK(BITS_PER_LONG - 1, shift);
#     WRITE_ONCE(page->compound_info, mask | 1);
#
# The same patch keeps `head | 1` when sizeof(struct page) is not a power of 2 (the model
# applies the mask there too; only power-of-2 sizes are pinned here).  Values for
# order = log2(HugeTLB size / PAGE_SIZE), worked out by hand:
TAIL_INFO = [
    ("x86-64/4K/2M", 0xFFFFFFFFFFFF8001),  # order 9 + 6 = 15
    ("x86-64/4K/1G", 0xFFFFFFFFFF000001),  # order 18 + 6 = 24
    ("arm64/4K/64K", 0xFFFFFFFFFFFFFC01),  # order 4 + 6 = 10
    ("arm64/4K/32M", 0xFFFFFFFFFFF80001),  # order 13 + 6 = 19
    ("arm64/16K/2M", 0xFFFFFFFFFFFFE001),  # order 7 + 6 = 13
    ("arm64/16K/32M", 0xFFFFFFFFFFFE0001),  # order 11 + 6 = 17
    ("arm64/16K/1G", 0xFFFFFFFFFFC00001),  # order 16 + 6 = 22
    ("arm64/64K/2M", 0xFFFFFFFFFFFFF801),  # order 5 + 6 = 11
    ("arm64/64K/512M", 0xFFFFFFFFFFF80001),  # order 13 + 6 = 19
    ("arm64/64K/16G", 0xFFFFFFFFFF000001),  # order 18 + 6 = 24
    ("x86-64/4K/2M@128", 0xFFFFFFFFFFFF0001),  # order 9 + 7 = 16
]


@pytest.mark.parametrize(("config_id", "info"), TAIL_INFO)
def test_tail_info(config_id: str, info: int) -> None:
    assert tail_info(parse_config_id(config_id)[0]) == info


# ---------------------------------------------------------------- the not-applicable rule
#
# hugetlb_vmemmap_optimizable_size() (mm/hugetlb_vmemmap.h, v6.1):
#     size = pages_per_huge_page(h) * sizeof(struct page)
#     if (!is_power_of_2(sizeof(struct page))) return 0;     (0effdf461c57, v5.19)
#     return size > HUGETLB_VMEMMAP_RESERVE_SIZE ? size - HUGETLB_VMEMMAP_RESERVE_SIZE : 0;
# and vmemmap_dedup.rst: contiguous-bit sizes "can be optimized only when its size of
# the struct page structs is greater than 1 page".  Literal V per config:
# (config, scheme, applies?)
APPLIES = [
    ("x86-64/4K/2M", "v6.1", True),  # V = 8 > 1
    ("arm64/4K/64K", "v6.1", False),  # 16 struct pages = 1 KiB: less than a page
    ("arm64/16K/2M", "v6.1", False),  # 128 * 64 = 8 KiB < 16 KiB
    ("arm64/64K/2M", "v6.1", False),  # 32 * 64 = 2 KiB < 64 KiB
    ("arm64/16K/32M", "v6.1", True),  # V = 8
    ("x86-64/4K/2M@56", "v6.1", False),  # 56 is not a power of 2, guard on
    ("x86-64/4K/2M@56", "v5.14", True),  # no effective guard before v5.19 (bug B1)
    ("x86-64/4K/2M@56", "v5.18", True),
    ("x86-64/4K/2M@56", "v6.2", False),
    ("x86-64/4K/2M@128", "v6.1", True),  # V = 16, a power of 2
    ("x86-64/4K/2M", "none", True),  # the baseline never refuses: it keeps everything
]


@pytest.mark.parametrize(("config_id", "name", "applies"), APPLIES)
def test_not_applicable_rule(config_id: str, name: str, applies: bool) -> None:
    reason = not_applicable_reason(parse_config_id(config_id)[0], preset(name))
    assert (reason is None) == applies, reason
