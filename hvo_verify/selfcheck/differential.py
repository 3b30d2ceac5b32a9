# SPDX-License-Identifier: GPL-2.0-only
"""Differential check of the static invariants: z3 against brute force.

A *case* is one (config, scheme, invariant, vmemmap base alignment, placement), where a
placement is a head pfn, a vmemmap base and, for schemes that copy the head vmemmap
page, the outcome of that allocation, chosen where the kernel can place a folio (aligned
head pfn below 2^(MAX_PHYSMEM_BITS - PAGE_SHIFT), a base aligned as the kernel aligns
it, in the kernel half, that does not wrap).  For each case, with B the indices (of `invariants.index_range()`)
whose concrete check fails at that placement on the concrete model (model.vmemmap.
optimize() then every index, brute force), z3 answers the static query for the
invariant with the placement pinned (hvo_verify.check.pinned.PinnedQuery):

* B empty (`proved` here): z3 must find no violating index (unsat, every index free);
* B not empty (`violated` here): z3 must find no violation outside B (every violation
  it sees is a concrete one) and one at min(B) (it sees the first concrete one).
  For `accounting` (no index) z3 must find the violation.

The not-applicable rule (model/vmemmap.py `not_applicable_reason()` and the invariant's
own rule) is shared by the z3 side and the concrete model, so comparing the two says
nothing about it.  It is checked instead, for every group, against `kernel_refuses()`,
a table written here from the kernel's hugetlb_vmemmap_optimizable_size(): the two
must agree on applicable / not applicable.  When the rule holds, z3 is not asked; such
a (config, scheme, invariant, alignment) counts as ONE case, since the rule does not
depend on the placement.  A solver `unknown` is counted, never a disagreement.

Placements are generated at the alignment the kernel guarantees (`kernel_vmemmap_align()`,
from PAGE_SIZE and a literal MAX_FOLIO_NR_PAGES, not from the z3 side's
`SymFolio.base_align`), and each is checked against the query's assumptions: a
placement the kernel allows that z3 assumes away (an over-strong z3 assumption, which
would make every answer there unsat) is a failure.

Groups of placements share one query (built once, asked with push/pop): see
check/pinned.py for why pinned queries, and the measured costs.

The generators (`random_scheme`, `placements`, `first_violation`) are shared with
tests/property/test_symbolic_vs_concrete.py; `schemes()` is the same generator as a
Hypothesis strategy.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from hypothesis import strategies as st

from hvo_verify.check.pinned import PinnedQuery, Placement
from hvo_verify.errors import NotApplicable
from hvo_verify.invariants.static import INVARIANTS, Index, Invariant, index_range
from hvo_verify.model import remap  # remap.optimize at call time: a mutant patches the module's binding
from hvo_verify.model.config import MAX_PHYSMEM_BITS, Arch, KernelConfig, KiB, parse_config_id
from hvo_verify.model.scheme import PRESETS, Encoding, FolioKind, HeadCopy, MemoryModel, Scheme, Target
from hvo_verify.model.structpage import Folio
from hvo_verify.model.vmemmap import VmemmapState
from hvo_verify.selfcheck.section import Section
from hvo_verify.verdict import Verdict

T = TypeVar("T")

# Small configs (V = 8 vmemmap pages, 512 or 2048 subpages; s390x 1M: V = 4, PMD_SIZE 1M;
# LoongArch: 16K pages with a PMD-mapped vmemmap) and odd struct page sizes (V = 7, 9,
# 10), where the solver divides by sizeof(struct page).
SMALL_CONFIGS = ("x86-64/4K/2M", "arm64/4K/2M", "arm64/16K/32M", "loongarch64/16K/32M", "s390x/4K/1M")
ODD_CONFIGS = ("x86-64/4K/2M@56", "x86-64/4K/2M@72", "x86-64/4K/2M@80")
CONFIG_IDS = SMALL_CONFIGS + ODD_CONFIGS
# vmemmap base alignments: None is the scheme's own (a page, or MAX_FOLIO_VMEMMAP_ALIGN);
# 0 stands for PAGE_SIZE; the others are bytes (what `vmemmap_base_align` sets).
ALIGNMENTS: tuple[int | None, ...] = (None, 0, 8, 64, 1 << 15)
PLACEMENTS_PER_GROUP = 6  # (head pfn, base) pairs; both allocation outcomes when the head is copied
PRESET_CHANCE = 8  # one group in 8 uses a preset scheme rather than a random one
MAX_FAILURE_LINES = 20


# ---------------------------------------------------------------- random generators


class Chooser(Protocol):
    """Where the generators get their choices: a seeded random.Random, or Hypothesis."""

    def integer(self, low: int, high: int) -> int: ...  # low..high inclusive
    def boolean(self) -> bool: ...
    def choice(self, options: Sequence[T]) -> T: ...
    def subset(self, n: int) -> tuple[int, ...]: ...  # sorted distinct values in 0..n-1


@dataclass
class RandomChooser:
    rng: random.Random

    def integer(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    def boolean(self) -> bool:
        return self.rng.random() < 0.5

    def choice(self, options: Sequence[T]) -> T:
        return options[self.rng.randrange(len(options))]

    def subset(self, n: int) -> tuple[int, ...]:
        return tuple(sorted(self.rng.sample(range(n), self.rng.randint(0, n))))


@dataclass
class HypothesisChooser:
    draw: st.DrawFn
    max_subset: int | None = None  # bound on subset sizes (None: up to n)

    def integer(self, low: int, high: int) -> int:
        return self.draw(st.integers(low, high))

    def boolean(self) -> bool:
        return self.draw(st.booleans())

    def choice(self, options: Sequence[T]) -> T:
        return self.draw(st.sampled_from(options))

    def subset(self, n: int) -> tuple[int, ...]:
        size = n if self.max_subset is None else min(n, self.max_subset)
        return tuple(sorted(self.draw(st.sets(st.integers(0, n - 1), max_size=size))))


def random_scheme(choose: Chooser, nr_vmemmap: int = 8) -> Scheme:
    """A custom scheme whose pages all exist in a folio of `nr_vmemmap` vmemmap pages.
    Like the loader, a head copy needs vmemmap page 0 private."""
    private = choose.subset(nr_vmemmap)
    target = choose.choice(list(Target))
    head_copy = choose.choice(list(HeadCopy)) if 0 in private else HeadCopy.NONE
    return Scheme(
        name="random",
        version="custom",
        source="differential self-check",
        private=private,
        target=target,
        target_page=choose.integer(0, nr_vmemmap - 1),
        writable_aliases=choose.boolean(),
        encoding=choose.choice(list(Encoding)),
        unique_struct_pages=choose.integer(1, 70),
        head_copy=head_copy,
        power_of_2_guard=choose.boolean(),
        folio_kind=choose.choice(list(FolioKind)),
        memory_model=choose.choice(list(MemoryModel)),
        vmemmap_align_max_folio=choose.boolean(),
    )


@st.composite
def schemes(draw: st.DrawFn, nr_vmemmap: int = 8, max_private: int | None = None) -> Scheme:
    """`random_scheme` as a Hypothesis strategy (shrinks like any other); at most
    `max_private` private pages when given (Hypothesis likes the full set, which leaves
    nothing to remap: not applicable)."""
    return random_scheme(HypothesisChooser(draw, max_private), nr_vmemmap)


# MAX_FOLIO_NR_PAGES per (arch, PAGE_SIZE), as literals (not encode/folio.py's
# max_folio_nr_pages(), which the z3 side assumes): the largest HugeTLB folio of the arch
# and page size in Documentation/mm/vmemmap_dedup.rst's table (x86-64 4 KB: 1 GB; arm64
# 4 KB: 1 GB, 16 KB: 1 GB, 64 KB: 16 GB; riscv64 1 GB, LoongArch 32 MB, s390x 2 GB from
# their arch_hugetlb_valid_size()), the folios MAX_FOLIO_VMEMMAP_ALIGN must keep
# naturally aligned.
MAX_FOLIO_NR_PAGES: dict[tuple[Arch, int], int] = {
    (Arch.X86_64, 4 * KiB): 1 << 18,  # 1 GB / 4 KB
    (Arch.ARM64, 4 * KiB): 1 << 18,  # 1 GB / 4 KB
    (Arch.ARM64, 16 * KiB): 1 << 16,  # 1 GB / 16 KB
    (Arch.ARM64, 64 * KiB): 1 << 18,  # 16 GB / 64 KB
    (Arch.RISCV64, 4 * KiB): 1 << 18,  # 1 GB (PUD_SIZE) / 4 KB, arch/riscv/mm/hugetlbpage.c
    (Arch.LOONGARCH64, 16 * KiB): 1 << 11,  # 32 MB (PMD_SIZE) / 16 KB, the only HugeTLB size
    (Arch.S390X, 4 * KiB): 1 << 19,  # 2 GB (region-third) / 4 KB, arch/s390/mm/hugetlbpage.c
}


def kernel_vmemmap_align(config: KernelConfig, scheme: Scheme) -> int:
    """The alignment of the vmemmap base (VMEMMAP_START, pfn_to_page(0)) the kernel
    guarantees, written independently of the z3 side: PAGE_SIZE (the vmemmap is mapped
    with pages); with the 2026 series (`scheme.vmemmap_align_max_folio`) also
    MAX_FOLIO_VMEMMAP_ALIGN = MAX_FOLIO_NR_PAGES * sizeof(struct page) (include/linux/
    mmzone.h of "Align vmemmap to maximal folio size"; sparse_init() warns when
    pfn_to_page(0) is not aligned to it)."""
    align = config.page_size
    if scheme.vmemmap_align_max_folio:
        align = max(align, MAX_FOLIO_NR_PAGES[(config.arch, config.page_size)] * config.struct_page_size)
    return align


# Which modelled architectures select the HVO option in each preset's kernel, written
# from the Kconfig files, independently of model/scheme.py `Scheme.arches`:
# x86-64 in every era (arch/x86/Kconfig); arm64 from the 2022 enable patch
# <20220331065640.5777-2-songmuchun@bytedance.com> (v5.19) until 060a2c92d1b6 (Feb 2023);
# riscv, LoongArch and s390 from v6.2 (none of them selects it in linux-source-6.1, 6.1.192);
# s390 until 64e2f60f355e (Nov 2025, Debian 6.12.63-1: linux-source-6.12 arch/s390/Kconfig
# has no select, arch/riscv/Kconfig:83 and arch/loongarch/Kconfig:77 do); the 2026 series
# keeps riscv and LoongArch (it aligns their vmemmap) and adds arm64 through its arch
# hooks in linux-mm, while the series as merged in mainline (v7, 2026) has no arm64 hook
# yet: x86-64, riscv and LoongArch (s390 disabled since Nov 2025).  Device-DAX: ARCH_WANT_OPTIMIZE_DAX_VMEMMAP, x86-64 only among them in v6.3.
# Keyed by the preset's kernel version; a version not listed (custom schemes, `none`) is
# not restricted.
_X86 = frozenset({"x86-64"})
_FROM_V62 = frozenset({"x86-64", "riscv64", "loongarch64", "s390x"})
KCONFIG_ARCHES: dict[str, frozenset[str]] = {
    **dict.fromkeys(("RFC 2020-09", "v5.14", "v5.18", "v6.1.52", "v6.3"), _X86),
    **dict.fromkeys(("v5.19", "v6.1"), frozenset({"x86-64", "arm64"})),
    **dict.fromkeys(("v6.2", "v6.5", "v6.8", "v6.10", "4eeec8c89a0c", "v6.15"), _FROM_V62),
    **dict.fromkeys(("v6.12.111", "v6.12.115"), _FROM_V62 - {"s390x"}),
    "linux-mm 2026": frozenset({"x86-64", "arm64", "riscv64", "loongarch64"}),
    "mainline 2026 (v7)": frozenset({"x86-64", "riscv64", "loongarch64"}),
}


def kernel_refuses(config: KernelConfig, scheme: Scheme, invariant: str) -> str | None:
    """Whether the check does not apply, as a table written here from the kernel and
    independently of model/vmemmap.py not_applicable_reason() (which both sides of the
    differential share).  hugetlb_vmemmap_optimizable_size() (mm/hugetlb_vmemmap.h,
    v6.1): the folio's struct pages must fill more than the R vmemmap pages the scheme
    keeps (at least the one page the kernel always keeps), and, with the power-of-2
    guard (0effdf461c57, v5.19), sizeof(struct page) must be a power of 2;
    vmemmap_dedup.rst: contiguous-bit sizes "can be optimized only when its size of the
    struct page structs is greater than 1 page".  /proc/kpageflags shows nothing for
    ZONE_DEVICE pfns (fs/proc/page.c pfn_to_online_page()), so kpageflags does not apply
    to Device-DAX folios."""
    size = config.struct_page_size
    struct_page_bytes = config.huge_size // config.page_size * size
    if scheme.optimizes:
        if config.arch.value not in KCONFIG_ARCHES.get(scheme.version, frozenset({config.arch.value})):
            return f"no HVO on {config.arch.value} in {scheme.version}"
        if struct_page_bytes < config.page_size:
            return "the struct pages fill less than a page"
        if scheme.power_of_2_guard and size & (size - 1) != 0:
            return f"sizeof(struct page) = {size} is not a power of 2"
        if struct_page_bytes // config.page_size <= max(len(scheme.private), 1):
            return "V <= max(R, 1): nothing to free"
    if invariant == "kpageflags" and scheme.folio_kind is FolioKind.DEVDAX:
        return "kpageflags of a ZONE_DEVICE pfn"
    return None


def base_step(align: int) -> int:
    """The step of the bases the query admits: multiples of `align` whose bits below
    align.bit_length() are clear, so both readings of "aligned" hold (the assumption is
    `base & (align - 1) == 0`, which for a non-power-of-2 align is not "a multiple")."""
    if align & (align - 1) == 0:
        return align
    odd = align >> ((align & -align).bit_length() - 1)
    return odd << align.bit_length()


def placements(
    config: KernelConfig, align: int, choose: Chooser, count: int = PLACEMENTS_PER_GROUP
) -> list[tuple[int, int]]:
    """(head pfn, vmemmap base) pairs the kernel allows with a vmemmap base aligned to
    `align` (and, for the default bases, what the solver's assumptions say): the
    canonical one (head pfn = nr_pages at the documented VMEMMAP_START, when aligned),
    the lowest and highest, the lowest base plus one step (an odd multiple of `align`:
    an assumption stronger than `align` excludes it), and random ones; distinct, in that
    order, at most `count`."""
    nr = config.nr_pages
    max_pfn = 1 << (MAX_PHYSMEM_BITS - config.page_shift)
    span = max_pfn * config.struct_page_size
    step = base_step(align)
    low = -(-(1 << 63) // step) * step  # the lowest aligned base in the kernel half
    high = ((1 << 64) - span) // step * step  # the highest whose vmemmap does not wrap
    last_pfn = max_pfn - nr
    out: list[tuple[int, int]] = []
    default = config.default_vmemmap_base
    if default % step == 0:
        out.append((nr, default))
    out += [(0, low), (last_pfn, high), (nr, low + step)]
    tries = 0
    while len(out) < count and tries < 4 * count:
        tries += 1
        pfn = choose.integer(0, last_pfn // nr) * nr
        base = choose.integer(low // step, high // step) * step
        if (pfn, base) not in out:
            out.append((pfn, base))
    return out[:count]


def first_violation(inv: Invariant, mem: VmemmapState, stop: int | None = None) -> tuple[int, str] | None:
    """Brute force: the first index (in `index_range` order, up to and including `stop`)
    whose concrete check fails, with the model's message."""
    for index in index_range(inv, mem):
        message = inv.check(mem, index)
        if message is not None:
            return index, message
        if index == stop:
            break
    return None


# ---------------------------------------------------------------- the self-check


def scheme_text(scheme: Scheme) -> str:
    """Every field that matters, on one line (random schemes have no name)."""
    if scheme.name != "random":
        return f"preset {scheme.name}"
    target = {Target.PAGE: f"page:{scheme.target_page}", Target.SHARED_TAIL: "shared-tail", Target.UNMAPPED: "unmapped"}
    return (
        f"private={list(scheme.private)} remap_to={target[scheme.target]} writable={scheme.writable_aliases} "
        f"compound_head={scheme.encoding.value} unique_struct_pages={scheme.unique_struct_pages} "
        f"head_copy={scheme.head_copy.value} power_of_2_guard={scheme.power_of_2_guard} "
        f"folio={scheme.folio_kind.value} memory_model={scheme.memory_model.value} "
        f"vmemmap_align={'max-folio' if scheme.vmemmap_align_max_folio else 'page'}"
    )


@dataclass
class _Tally:
    cases: int = 0
    groups: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)
    per_config: Counter[str] = field(default_factory=Counter)
    per_invariant: Counter[str] = field(default_factory=Counter)
    indices: int = 0  # concrete checks run by brute force
    solver_seconds: float = 0.0
    disagreements: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    bad_placements: list[str] = field(default_factory=list)


def _alignment(choice: int | None, config: KernelConfig) -> int | None:
    return config.page_size if choice == 0 else choice


def _group(
    tally: _Tally, config: KernelConfig, scheme: Scheme, inv_id: str, align: int | None, choose: Chooser, budget: int
) -> None:
    """Every case of one (config, scheme, invariant, alignment), at most `budget`."""
    inv = INVARIANTS[inv_id]  # looked up per group: a patched registry is honoured
    where = f"{config.id} {inv_id} align={align or 'scheme'} [{scheme_text(scheme)}]"
    query = PinnedQuery(config, scheme, inv_id, base_align=align)
    tally.groups += 1
    kernel = kernel_refuses(config, scheme, inv_id)
    if bool(query.not_applicable) != (kernel is not None):
        said = f"not-applicable ({query.not_applicable})" if query.not_applicable else "applicable"
        tally.disagreements.append(
            f"{where}: the engine's rule says {said}, the kernel's table says "
            + (f"not applicable ({kernel})" if kernel else "applicable")
        )
    if query.not_applicable:
        tally.cases += 1
        tally.verdicts[Verdict.NOT_APPLICABLE.value] += 1
        tally.per_config[config.id] += 1
        tally.per_invariant[inv_id] += 1
        return
    outcomes = (True, False) if scheme.optimizes and scheme.head_copy is not HeadCopy.NONE else (True,)
    expected_align = align if align is not None else kernel_vmemmap_align(config, scheme)
    for pfn, base in placements(config, expected_align, choose):
        for alloc_ok in outcomes:
            if budget <= 0:
                return
            budget -= 1
            _case(tally, query, inv, Placement(pfn, base, alloc_ok), where)


def violations(inv: Invariant, mem: VmemmapState) -> list[tuple[int, str]]:
    """Brute force: every index of `index_range` whose concrete check fails, in order."""
    found = []
    for index in index_range(inv, mem):
        message = inv.check(mem, index)
        if message is not None:
            found.append((index, message))
    return found


def ranges(indices: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted indices as inclusive (low, high) runs."""
    runs: list[tuple[int, int]] = []
    for index in sorted(indices):
        if runs and index == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], index)
        else:
            runs.append((index, index))
    return runs


def _case(tally: _Tally, query: PinnedQuery, inv: Invariant, at: Placement, where: str) -> None:
    """B = the indices brute force finds violating at this placement.  B empty: z3 must
    find no violating index.  B not empty: z3 must find none outside B (every violation
    it sees is a concrete one) and one at min(B) (it sees the first concrete one)."""
    config, scheme = query.config, query.scheme
    here = f"{where} head pfn {at.head_pfn:#x} base {at.vmemmap_base:#x} alloc_ok={at.alloc_ok}"
    tally.cases += 1
    tally.per_config[config.id] += 1
    tally.per_invariant[inv.id] += 1
    broken = query.broken_assumptions(at)
    if broken:
        tally.bad_placements.append(f"{here}: placement outside the assumptions: {'; '.join(broken)}")
        return
    try:
        mem = remap.optimize(Folio(config, scheme, at.head_pfn, at.vmemmap_base), alloc_ok=at.alloc_ok)
    except NotApplicable as exc:
        tally.disagreements.append(f"{here}: z3 has a query, the concrete model refuses: {exc}")
        return
    bad = violations(inv, mem)
    tally.indices += len(index_range(inv, mem))
    if not bad:
        asked = [("", query.ask(at))]
    elif inv.index is Index.FOLIO:
        asked = [("at", query.ask(at))]
    else:
        first = bad[0][0]
        asked = [("outside", query.ask(at, outside=ranges([i for i, _ in bad]))), ("at", query.ask(at, at=first))]
    tally.solver_seconds += sum(answer.seconds for _, answer in asked)
    if any(answer.verdict is Verdict.UNKNOWN for _, answer in asked):
        tally.verdicts[Verdict.UNKNOWN.value] += 1
        tally.unknown.append(f"{here}: {next(a.reason for _, a in asked if a.verdict is Verdict.UNKNOWN)}")
        return
    tally.verdicts[(Verdict.VIOLATED if bad else Verdict.PROVED).value] += 1
    for kind, answer in asked:
        if kind == "at" and answer.verdict is Verdict.PROVED:
            index, message = bad[0]
            what = f"index {index}" if inv.index is not Index.FOLIO else "the folio"
            tally.disagreements.append(
                f"{here}: brute force finds {what} violating ({message}); z3 finds no violation there"
            )
        elif kind != "at" and answer.verdict is Verdict.VIOLATED:
            witness = dict(answer.indices)
            index = answer.indices[0][1] if answer.indices else 0
            concrete = inv.check(mem, index) or "holds"
            where_else = f" outside the {len(bad)} concrete ones" if bad else ""
            tally.disagreements.append(
                f"{here}: z3 finds a violation at {witness}{where_else}; the concrete check there: {concrete}"
            )


def run_differential(
    cases: int = 10_000,
    seed: int = 0,
    *,
    configs: Sequence[str] = CONFIG_IDS,
    invariants: Sequence[str] | None = None,
    schemes: Sequence[Scheme] | None = None,
    alignments: Sequence[int | None] = ALIGNMENTS,
    progress: Callable[[int], None] | None = None,
) -> Section:
    """`cases` random cases (see the module docstring), deterministic for a seed.
    `schemes`, when given, replaces the random and preset schemes (tests)."""
    start, cpu = time.perf_counter(), time.process_time()
    rng = random.Random(seed)
    choose = RandomChooser(rng)
    config_objects = [parse_config_id(c)[0] for c in configs]
    tally = _Tally()
    while tally.cases < cases:
        inv_ids = list(invariants) if invariants is not None else list(INVARIANTS)
        config = choose.choice(config_objects)
        if schemes is not None:
            scheme = choose.choice(schemes)
        elif rng.randrange(PRESET_CHANCE) == 0:
            scheme = PRESETS[choose.choice(sorted(PRESETS))]
        else:
            scheme = random_scheme(choose, config.vmemmap_pages)
        inv_id = choose.choice(inv_ids)
        align = _alignment(choose.choice(alignments), config)
        _group(tally, config, scheme, inv_id, align, choose, cases - tally.cases)
        if progress is not None:
            progress(tally.cases)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    failures = tally.disagreements + tally.bad_placements
    figures: list[tuple[str, int | float | str]] = [
        ("cases", tally.cases),
        ("queries built", tally.groups),
        *((v.value, tally.verdicts[v.value]) for v in (Verdict.PROVED, Verdict.VIOLATED, Verdict.NOT_APPLICABLE)),
        ("unknown", len(tally.unknown)),
        ("disagreements", len(tally.disagreements)),
        ("placements outside the assumptions", len(tally.bad_placements)),
        ("concrete checks", tally.indices),
        ("solver seconds", round(tally.solver_seconds, 1)),
        ("seconds", round(seconds, 1)),
        ("cpu seconds", round(cpu, 1)),  # this process, z3 included; less than seconds on a busy machine
        ("seed", seed),
    ]
    details = tuple(("config " + k, str(v)) for k, v in sorted(tally.per_config.items())) + tuple(
        ("invariant " + k, str(v)) for k, v in sorted(tally.per_invariant.items())
    )
    details += tuple(("unknown", line) for line in tally.unknown[:MAX_FAILURE_LINES])
    shown = failures[:MAX_FAILURE_LINES]
    if len(failures) > len(shown):
        shown.append(f"... and {len(failures) - len(shown)} more")
    return Section("differential", not failures, tuple(figures), tuple(shown), details)
