# SPDX-License-Identifier: GPL-2.0-only
"""Kernel configurations as data: architecture, PAGE_SIZE, HugeTLB size, sizeof(struct page).

Sizes and mapping levels follow Documentation/mm/vmemmap_dedup.rst (torvalds/linux
@17b6fc88) and arch/arm64/mm/hugetlbpage.c arch_hugetlb_valid_size() (CONT_PTE, PMD,
CONT_PMD, PUD).  How the vmemmap itself is mapped follows vmemmap_populate():
x86-64 uses PMD leaves (arch/x86/mm/init_64.c vmemmap_populate_hugepages), arm64 uses
PMD blocks only with 4K pages and base pages otherwise (arch/arm64/mm/mmu.c
vmemmap_populate: `if (!IS_ENABLED(CONFIG_ARM64_4K_PAGES)) return
vmemmap_populate_basepages(...)`).

The other arches where HVO ran or is proposed (torvalds/linux, read 2026):
riscv64: 4K pages; arch/riscv/mm/hugetlbpage.c arch_hugetlb_valid_size() accepts
HPAGE_SIZE (PMD, 2M), PUD_SIZE (1G) and the Svnapot NAPOT sizes (is_napot_size(): 64K);
arch/riscv/mm/init.c vmemmap_populate() calls vmemmap_populate_hugepages() (PMD leaves)
since "riscv: Use hugepage mappings for vmemmap" (Alexandre Ghiti,
<20231214132935.212864-1-alexghiti@rivosinc.com>, Dec 2023: v6.8, release not verified;
base pages before; the model uses PMD leaves in every era).
LoongArch: 16K pages (the default); no arch_hugetlb_valid_size(), so the only HugeTLB
size is HPAGE_SIZE = PMD_SIZE, 32M (arch/loongarch/mm/hugetlbpage.c huge_pte_alloc()
allocates only the PMD level); arch/loongarch/mm/init.c vmemmap_populate():
vmemmap_populate_hugepages() unless CONFIG_PGTABLE_LEVELS == 2 (16K pages use 3 levels).
s390x: 4K pages; arch/s390/mm/hugetlbpage.c arch_hugetlb_valid_size(): PMD_SIZE (1M
segment, EDAT1) and PUD_SIZE (2G region-third, EDAT2); a PTE table has 256 entries (2K),
so PMD_SIZE is 1M, not PAGE_SIZE * PAGE_SIZE / 8; arch/s390/mm/vmem.c modify_pmd_table()
maps the vmemmap (`!direct`) with 1M segment frames when EDAT1 is available ("Use 1MB
frames for vmemmap if available").  sizeof(struct page) is 64 on each (the s390 enable
commit 00a34d5a99c0 counts 4 vmemmap pages per 1M page and 8192 per 2G page).
"""

from __future__ import annotations

import enum
import fnmatch
from dataclasses import dataclass

from hvo_verify.errors import UnknownName
from hvo_verify.model.names import unknown

KiB = 1 << 10
MiB = 1 << 20
GiB = 1 << 30

DEFAULT_STRUCT_PAGE_SIZE = 64
# MAX_PHYSMEM_BITS: 52 is the largest on both arches (x86-64 5-level paging,
# arm64 52-bit PA).  Head pfns are assumed below 2**(52 - PAGE_SHIFT).
MAX_PHYSMEM_BITS = 52


class Arch(enum.Enum):
    X86_64 = "x86-64"
    ARM64 = "arm64"
    RISCV64 = "riscv64"
    LOONGARCH64 = "loongarch64"
    S390X = "s390x"


# The arches of `all` (config ids), the configs the suite's era sweeps were written for;
# the other arches are named one config at a time, or with `all-arches`.
DEFAULT_ARCHES = (Arch.X86_64, Arch.ARM64)


class Level(enum.Enum):
    """The page-table level a HugeTLB page of this size is mapped at (user side)."""

    CONT_PTE = "CONT-PTE"
    NAPOT = "NAPOT"  # riscv Svnapot: 16 contiguous PTEs (arch/riscv/mm/hugetlbpage.c)
    PMD = "PMD"
    CONT_PMD = "CONT-PMD"
    PUD = "PUD"


@dataclass(frozen=True, slots=True)
class KernelConfig:
    """One kernel build/boot configuration for one HugeTLB size."""

    arch: Arch
    page_size: int
    huge_size: int
    level: Level
    struct_page_size: int = DEFAULT_STRUCT_PAGE_SIZE

    @property
    def id(self) -> str:
        base = f"{self.arch.value}/{_size_name(self.page_size)}/{_size_name(self.huge_size)}"
        if self.struct_page_size != DEFAULT_STRUCT_PAGE_SIZE:
            base += f"@{self.struct_page_size}"
        return base

    @property
    def page_shift(self) -> int:
        return self.page_size.bit_length() - 1

    @property
    def order(self) -> int:
        return (self.huge_size // self.page_size).bit_length() - 1

    @property
    def nr_pages(self) -> int:
        """Base pages per HugeTLB folio (pages_per_huge_page)."""
        return self.huge_size // self.page_size

    @property
    def vmemmap_bytes(self) -> int:
        return self.nr_pages * self.struct_page_size

    @property
    def vmemmap_pages(self) -> int:
        """V: whole vmemmap pages per folio, as hugetlb_vmemmap_init() computes it
        (`(nr_pages * sizeof(struct page)) >> PAGE_SHIFT`, 5.14 mm/hugetlb_vmemmap.c)."""
        return self.vmemmap_bytes // self.page_size

    @property
    def struct_page_is_power_of_2(self) -> bool:
        size = self.struct_page_size
        return size & (size - 1) == 0

    @property
    def pmd_size(self) -> int:
        """PMD_SIZE: one page of 8-byte entries, each mapping PAGE_SIZE; on s390 a PTE
        table is 256 entries (arch/s390/include/asm/pgtable.h PTRS_PER_PTE), so 1M."""
        if self.arch is Arch.S390X:
            return 256 * self.page_size
        return self.page_size * (self.page_size // 8)

    @property
    def vmemmap_pmd_mapped(self) -> bool:
        """Is the vmemmap mapped with PMD leaves that HVO must split into a PTE table?
        arm64 only with 4K pages; x86-64, riscv64 (v6.8+), LoongArch (3+ levels) and s390
        (EDAT1) always (see the module docstring)."""
        return self.arch is not Arch.ARM64 or self.page_size == 4 * KiB

    @property
    def default_vmemmap_base(self) -> int:
        """VMEMMAP_START without KASLR, for the layouts that describe 52-bit physical
        memory: x86-64 __VMEMMAP_BASE_L5 (arch/x86/include/asm/pgtable_64_types.h, 5-level
        paging); arm64 -(1 << (VA_BITS - VMEMMAP_SHIFT)) with VA_BITS = 52 and
        VMEMMAP_SHIFT = PAGE_SHIFT - STRUCT_PAGE_MAX_SHIFT (arch/arm64/include/asm/memory.h).
        Counterexamples prefer this base when the violation allows it."""
        if self.arch is Arch.X86_64:
            return 0xFFD4000000000000
        if self.arch is Arch.RISCV64:
            # sv48 VMEMMAP_START as the vmemmap dump of <20231214132935.212864-1-alexghiti@rivosinc.com> shows it
            return 0xFFFF8D8000000000
        # arm64's formula; LoongArch and s390 compute their vmemmap base at boot (no
        # fixed VMEMMAP_START), and the model only needs an aligned kernel-half base.
        shift = 52 - (self.page_shift - 6)
        return (1 << 64) - (1 << shift)

    def with_struct_page_size(self, size: int) -> KernelConfig:
        return KernelConfig(self.arch, self.page_size, self.huge_size, self.level, size)


def _size_name(size: int) -> str:
    for unit, name in ((GiB, "G"), (MiB, "M"), (KiB, "K")):
        if size >= unit and size % unit == 0:
            return f"{size // unit}{name}"
    return str(size)


def _cfg(arch: Arch, page: int, huge: int, level: Level) -> KernelConfig:
    return KernelConfig(arch, page, huge, level)


# Reference kernel-hvo.md section 3.1 (vmemmap_dedup.rst and its arm64 table).
CONFIGS: tuple[KernelConfig, ...] = (
    _cfg(Arch.X86_64, 4 * KiB, 2 * MiB, Level.PMD),
    _cfg(Arch.X86_64, 4 * KiB, 1 * GiB, Level.PUD),
    _cfg(Arch.ARM64, 4 * KiB, 64 * KiB, Level.CONT_PTE),
    _cfg(Arch.ARM64, 4 * KiB, 2 * MiB, Level.PMD),
    _cfg(Arch.ARM64, 4 * KiB, 32 * MiB, Level.CONT_PMD),
    _cfg(Arch.ARM64, 4 * KiB, 1 * GiB, Level.PUD),
    _cfg(Arch.ARM64, 16 * KiB, 2 * MiB, Level.CONT_PTE),
    _cfg(Arch.ARM64, 16 * KiB, 32 * MiB, Level.PMD),
    _cfg(Arch.ARM64, 16 * KiB, 1 * GiB, Level.CONT_PMD),
    _cfg(Arch.ARM64, 64 * KiB, 2 * MiB, Level.CONT_PTE),
    _cfg(Arch.ARM64, 64 * KiB, 512 * MiB, Level.PMD),
    _cfg(Arch.ARM64, 64 * KiB, 16 * GiB, Level.CONT_PMD),
    _cfg(Arch.RISCV64, 4 * KiB, 64 * KiB, Level.NAPOT),
    _cfg(Arch.RISCV64, 4 * KiB, 2 * MiB, Level.PMD),
    _cfg(Arch.RISCV64, 4 * KiB, 1 * GiB, Level.PUD),
    _cfg(Arch.LOONGARCH64, 16 * KiB, 32 * MiB, Level.PMD),
    _cfg(Arch.S390X, 4 * KiB, 1 * MiB, Level.PMD),
    _cfg(Arch.S390X, 4 * KiB, 2 * GiB, Level.PUD),
)
# `all`: the x86-64 and arm64 configs (DEFAULT_ARCHES); `all-arches`: every config.
DEFAULT_CONFIGS: tuple[KernelConfig, ...] = tuple(c for c in CONFIGS if c.arch in DEFAULT_ARCHES)

CONFIG_IDS: dict[str, KernelConfig] = {c.id: c for c in CONFIGS}

# sizeof(struct page) must be a whole number of longs; 40..256 covers every build
# seen (56 with !MEMCG && !SLUB per 0effdf461c57, 64, 72/80 with KMSAN or
# WANT_PAGE_VIRTUAL).
MIN_STRUCT_PAGE, MAX_STRUCT_PAGE = 40, 256


def check_struct_page_size(size: int) -> None:
    if not MIN_STRUCT_PAGE <= size <= MAX_STRUCT_PAGE or size % 8:
        raise UnknownName(
            f"sizeof(struct page) {size} is impossible: it must be a multiple of 8 "
            f"between {MIN_STRUCT_PAGE} and {MAX_STRUCT_PAGE} (e.g. 56, 64, 72, 80)"
        )


def parse_config_id(text: str) -> tuple[KernelConfig, ...]:
    """`x86-64/4K/2M`, `arm64/64K/16G@56` (sizeof(struct page) 56), `all` or `all@56`
    (the x86-64 and arm64 configs), `all-arches` (every config, riscv64, LoongArch and
    s390x too), or a glob over every config id (`arm64/16K/*`, `*/4K/2M@56`).

    >>> parse_config_id("x86-64/4K/2M")[0].vmemmap_pages
    8
    >>> [c.id for c in parse_config_id("arm64/16K/*")]
    ['arm64/16K/2M', 'arm64/16K/32M', 'arm64/16K/1G']
    """
    name, _, size_text = text.partition("@")
    size = DEFAULT_STRUCT_PAGE_SIZE
    if size_text:
        if not size_text.isdigit():
            raise UnknownName(f"struct page size {size_text!r} in {text!r} is not a number (e.g. {name}@56)")
        size = int(size_text)
        check_struct_page_size(size)
    if name in ("all", "all-arches"):
        return tuple(c.with_struct_page_size(size) for c in (DEFAULT_CONFIGS if name == "all" else CONFIGS))
    if set("*?[") & set(name):
        matched = tuple(c.with_struct_page_size(size) for c in CONFIGS if fnmatch.fnmatchcase(c.id, name))
        if not matched:
            raise UnknownName(f"the glob {name!r} matches no config (see hvo-verify list)")
        return matched
    if name not in CONFIG_IDS:
        raise unknown("config", name, [*CONFIG_IDS, "all", "all-arches"])
    return (CONFIG_IDS[name].with_struct_page_size(size),)
