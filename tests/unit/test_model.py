# SPDX-License-Identifier: GPL-2.0-only
"""The pure model: configs, accounting against reference kernel-hvo.md 3.1 and the
2020 thread's figures, and the concrete readers on known layouts."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from hvo_verify.errors import NotApplicable, UnknownName, VmemmapFault
from hvo_verify.invariants.static import INVARIANTS, index_range
from hvo_verify.model import readers as r
from hvo_verify.model.accounting import savings
from hvo_verify.model.config import CONFIGS, GiB, parse_config_id
from hvo_verify.model.remap import optimize
from hvo_verify.model.scheme import Encoding, preset
from hvo_verify.model.structpage import Folio
from hvo_verify.model.vmemmap import VmemmapState

# reference kernel-hvo.md 3.1: (config, V, freed 5.14 (R=2), freed 5.18+ (R=1))
TABLE_3_1 = [
    ("x86-64/4K/2M", 8, 6, 7),
    ("x86-64/4K/1G", 4096, 4094, 4095),
    ("arm64/4K/64K", 0, 0, 0),
    ("arm64/4K/2M", 8, 6, 7),
    ("arm64/4K/32M", 128, 126, 127),
    ("arm64/4K/1G", 4096, 4094, 4095),
    ("arm64/16K/2M", 0, 0, 0),
    ("arm64/16K/32M", 8, 6, 7),
    ("arm64/16K/1G", 256, 254, 255),
    ("arm64/64K/2M", 0, 0, 0),
    ("arm64/64K/512M", 8, 6, 7),
    ("arm64/64K/16G", 256, 254, 255),
]


@pytest.mark.parametrize(("config_id", "pages", "freed_514", "freed_518"), TABLE_3_1)
def test_reference_table_3_1(config_id: str, pages: int, freed_514: int, freed_518: int) -> None:
    config = parse_config_id(config_id)[0]
    assert config.vmemmap_pages == pages
    # The table is the size formula on every arch; arm64 had no HVO in 5.14/5.18 (the
    # presets say so), so the layouts are taken on every architecture here.
    anywhere = {name: dataclasses.replace(preset(name), arches=None) for name in ("v5.14", "v5.18")}
    assert savings(config, anywhere["v5.14"]).freed_pages == freed_514
    assert savings(config, anywhere["v5.18"]).freed_pages == freed_518


def test_a_preset_is_not_applicable_where_its_kernel_had_no_hvo() -> None:
    arm64 = parse_config_id("arm64/4K/2M")[0]
    reason = savings(arm64, preset("v5.18")).not_applicable
    assert reason is not None and "no HVO on arm64" in reason
    assert savings(arm64, preset("v5.19")).not_applicable is None  # arm64 from v5.19 until 060a2c92d1b6
    assert savings(arm64, preset("v6.2")).not_applicable is not None


def test_thread_figures() -> None:
    """Kravetz <9d220de0-...@oracle.com>: 5 per 2 MiB, 4086 per 1 GiB; Muchun's cover
    letter: about 4797 MB for 300 GB of 1 GiB pages."""
    two_m, one_g = parse_config_id("x86-64/4K/2M")[0], parse_config_id("x86-64/4K/1G")[0]
    assert savings(two_m, preset("rfc-2020")).net_pages == 5
    assert savings(one_g, preset("rfc-2020")).net_pages == 4086
    pool = savings(one_g, preset("rfc-2020"), 300 * GiB)
    assert pool.pool_folios == 300
    assert pool.pool_bytes_saved // (1 << 20) == 4797


def test_head_copy_schemes_free_v_and_allocate_one() -> None:
    config = parse_config_id("x86-64/4K/2M")[0]
    s = savings(config, preset("v6.2"))
    assert (s.freed_pages, s.allocated_pages, s.net_pages) == (8, 1, 6)
    failed = savings(config, preset("mask-2026"), alloc_ok=False)
    assert failed.freed_pages == 0


def test_config_ids() -> None:
    assert len(parse_config_id("all")) == 12 and len(parse_config_id("all-arches")) == len(CONFIGS) == 18
    assert {c.arch.value for c in parse_config_id("all")} == {"x86-64", "arm64"}
    assert parse_config_id("x86-64/4K/2M@56")[0].struct_page_size == 56
    assert parse_config_id("x86-64/4K/2M@56")[0].id == "x86-64/4K/2M@56"
    with pytest.raises(UnknownName, match="did you mean 'x86-64/4K/2M'"):
        parse_config_id("x86_64/4K/2M")
    with pytest.raises(UnknownName, match="impossible"):
        parse_config_id("x86-64/4K/2M@60")


def test_vmemmap_mapping_per_arch() -> None:
    """arch/arm64/mm/mmu.c vmemmap_populate(): PMD blocks only with 4K pages."""
    pmd = {c.id for c in CONFIGS if c.vmemmap_pmd_mapped}
    assert "arm64/4K/2M" in pmd and "x86-64/4K/1G" in pmd
    assert "arm64/16K/32M" not in pmd and "arm64/64K/16G" not in pmd
    # riscv init.c, LoongArch init.c (3 levels with 16K pages), s390 vmem.c (EDAT1)
    assert {"riscv64/4K/2M", "loongarch64/16K/32M", "s390x/4K/1M", "s390x/4K/2G"} <= pmd


def test_new_arch_geometry() -> None:
    """HugeTLB sizes and vmemmap pages per folio of riscv64, LoongArch and s390x: the
    s390 enable commit 00a34d5a99c0 frees 3 of 4 vmemmap pages per 1M page and 8191 of
    8192 per 2G page; s390's PMD_SIZE is 1M (256-entry PTE tables), LoongArch's 32M."""
    v = {c.id: c.vmemmap_pages for c in CONFIGS}
    assert (v["s390x/4K/1M"], v["s390x/4K/2G"]) == (4, 8192)
    assert (v["riscv64/4K/64K"], v["riscv64/4K/2M"], v["riscv64/4K/1G"], v["loongarch64/16K/32M"]) == (0, 8, 4096, 8)
    pmd = {c.id: c.pmd_size for c in CONFIGS}
    assert (pmd["s390x/4K/1M"], pmd["loongarch64/16K/32M"], pmd["riscv64/4K/2M"]) == (1 << 20, 32 << 20, 2 << 20)


def mem_for(scheme_name: str, config_id: str = "x86-64/4K/2M", **changes: Any) -> VmemmapState:
    config = parse_config_id(config_id)[0]
    scheme = dataclasses.replace(preset(scheme_name), **changes) if changes else preset(scheme_name)
    return optimize(Folio(config, scheme, config.nr_pages * 5, config.default_vmemmap_base))


def test_willy_diagram_layout() -> None:
    """abcdefgh | ijklmnop | ijklmnop ...: pages 2..7 alias frame(1)."""
    mem = mem_for("rfc-2020")
    frames = [mem.pte(mem.first_vpage + k).frame for k in range(8)]  # type: ignore[union-attr]
    assert frames[2:] == [frames[1]] * 6 and frames[0] != frames[1]
    assert len(mem.freed) == 6


def test_fake_head_is_fixed_up() -> None:
    mem = mem_for("v5.18")
    fake = mem.folio.page(mem.folio.head_pfn + 64)
    assert r.test_page_head(mem, fake)  # it does read PG_head ...
    assert r.page_fixed_fake_head(mem, fake) == mem.folio.head  # ... and is fixed up
    assert not r.page_head(mem, fake) and r.page_tail(mem, fake)
    broken = mem_for("v5.18", encoding=Encoding.POINTER)
    assert r.compound_head(broken, fake) == fake


def test_mask_decode() -> None:
    mem = mem_for("mask-2026")
    for i in (1, 63, 64, 511):
        assert r.compound_head(mem, mem.folio.page(mem.folio.head_pfn + i)) == mem.folio.head


def test_unmapped_read_faults() -> None:
    mem = mem_for("rfc-2020", private=(0,), target=preset("rfc-2020").target.__class__("unmapped"))
    with pytest.raises(VmemmapFault):
        r.compound_head(mem, mem.folio.page(mem.folio.head_pfn + 64))


def test_not_applicable_cases() -> None:
    with pytest.raises(NotApplicable, match="less than one"):
        mem_for("v5.19", "arm64/4K/64K")
    with pytest.raises(NotApplicable, match="power of 2"):
        mem_for("v6.2", "x86-64/4K/2M@56")
    mem_for("v5.14", "x86-64/4K/2M@56")  # 5.14 had no effective guard (bug B1)


@pytest.mark.parametrize("name", ["none", "rfc-2020", "v5.14", "v5.18", "v6.2", "mask-2026"])
def test_presets_hold_everywhere_on_2m(name: str) -> None:
    mem = mem_for(name)
    for inv in INVARIANTS.values():
        for index in index_range(inv, mem):
            assert inv.check(mem, index) is None, (name, inv.id, index)
