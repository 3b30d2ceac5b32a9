"""What the model predicts a real kernel shows, for each conformance scenario.

Every prediction runs the concrete model (`ops/machine.py` Machine, `model/accounting.py`,
`model/readers.py`) for the preset the booted kernel maps to, on a folio placed at the pfn
the guest observed.  Where the kernel does several of the model's operations in one
system call, the sequence is written out here with the kernel function that does it.
Nothing here prints or solves.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from hvo_verify.conform.kernelmap import KernelFacts
from hvo_verify.invariants.reachable import raw_flag
from hvo_verify.model import readers as r
from hvo_verify.model.accounting import pagetable_pages, savings
from hvo_verify.model.config import CONFIG_IDS, KernelConfig
from hvo_verify.model.facts import KPF_COMPOUND_HEAD, KPF_COMPOUND_TAIL, KPF_HUGE, FrameId
from hvo_verify.model.policy import default_policies
from hvo_verify.model.structpage import Folio
from hvo_verify.model.vmemmap import Frame, Pte, VmemmapState, not_applicable_reason
from hvo_verify.ops.machine import Machine
from hvo_verify.ops.state import KState, Pool

CONFIG_BY_HUGE_KB = {2048: "x86-64/4K/2M", 1048576: "x86-64/4K/1G"}

Step = tuple[str, dict[str, int | bool]]


def config_for(hugepage_kb: int) -> KernelConfig:
    return CONFIG_IDS[CONFIG_BY_HUGE_KB[hugepage_kb]]


def optimizes(facts: KernelFacts, config: KernelConfig, enabled: bool) -> bool:
    """Whether a folio prepared now is optimized: hugetlb_vmemmap_optimize() ->
    vmemmap_should_optimize() (v6.1 mm/hugetlb_vmemmap.c): the boot parameter / sysctl
    is on and the scheme applies to this config (power-of-2 struct page, ...)."""
    return enabled and facts.scheme.optimizes and not_applicable_reason(config, facts.scheme) is None


def machine(facts: KernelFacts, config: KernelConfig, head_pfn: int) -> Machine:
    folio = Folio(config, facts.scheme, head_pfn, config.default_vmemmap_base)
    policies = facts.policies or default_policies(facts.scheme)
    return Machine(folio, policies, io_max=config.huge_size, io_align=512)


def run(m: Machine, state: KState, steps: list[Step]) -> tuple[KState, tuple[str, ...]]:
    """Apply the model's operations; an oops is part of the prediction (it ends the run)."""
    lines: list[str] = []
    for op, args in steps:
        out = m.apply(state, op, args)
        lines += [f"{op}: {line}" for line in out.lines]
        state = out.state
        if out.fault is not None:
            lines.append(f"{op}: oops ({out.fault.kind.value})")
            break
    return state, tuple(lines)


# -- savings -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Range:
    low: int
    high: int

    def __contains__(self, value: object) -> bool:
        return isinstance(value, int) and self.low <= value <= self.high

    def __add__(self, other: Range) -> Range:
        return Range(self.low + other.low, self.high + other.high)

    def __str__(self) -> str:
        return f"{self.low:+d}" if self.low == self.high else f"{self.low:+d}..{self.high:+d}"


@dataclass(frozen=True, slots=True)
class SavingsPrediction:
    freeable_kb: int  # dmesg "HugeTLB: %d KiB vmemmap can be freed for a %s page"
    optimized: bool
    memtotal_alloc_kb: Range
    memfree_alloc_kb: Range
    memtotal_free_kb: int
    memfree_free_kb: int


def predict_savings(
    facts: KernelFacts, hugepage_kb: int, n: int, enabled: bool, *, fresh: bool = False, boot_vmemmap: bool = True
) -> SavingsPrediction:
    """Allocating n folios into the pool, then freeing them all.

    mm/hugetlb.c report_hugepages() prints hugetlb_vmemmap_optimizable_size() whether or
    not HVO is on (the vmemmap size less HUGETLB_VMEMMAP_RESERVE_SIZE; 0 when the
    scheme does not apply).  The vmemmap of boot memory is memblock-allocated
    (PageReserved), so the frames HVO frees go through free_bootmem_page() and raise
    MemTotal as well as MemFree (mm/hugetlb_vmemmap.c free_vmemmap_page()).  A vmemmap
    restored earlier in the boot is made of buddy pages, which __free_page() returns
    without touching MemTotal: unless `boot_vmemmap`, any part of the pool may be such
    a folio and MemTotal rises by between 0 and the boot-vmemmap figure.  A head copy
    (v6.2) and the PTE tables split_vmemmap_huge_pmd() allocates come from the buddy
    allocator (MemFree only; the split is never undone, so only on a `fresh` vmemmap is
    at least one table per PMD_SIZE of the pool's vmemmap certain).  Freeing a folio restores its
    vmemmap with freshly allocated pages (vmemmap_remap_alloc()): MemFree only.
    """
    config = config_for(hugepage_kb)
    ps_kb = config.page_size // 1024
    scheme = facts.scheme
    applies = scheme.optimizes and not_applicable_reason(config, scheme) is None
    freeable = (config.vmemmap_pages - scheme.reserve) * ps_kb if applies else 0
    if not optimizes(facts, config, enabled):
        nothing = Range(0, 0)
        return SavingsPrediction(
            freeable, False, nothing, Range(-n * hugepage_kb, -n * hugepage_kb), 0, n * hugepage_kb
        )
    s = savings(config, scheme)
    per_folio = (s.freed_pages - s.allocated_pages) * ps_kb - hugepage_kb
    most_tables = n * pagetable_pages(config)
    least_tables = pagetable_pages(config, n) if fresh else 0
    restored = (config.vmemmap_pages - scheme.reserve) * ps_kb
    return SavingsPrediction(
        freeable_kb=freeable,
        optimized=True,
        memtotal_alloc_kb=Range(0 if not boot_vmemmap else n * s.freed_pages * ps_kb, n * s.freed_pages * ps_kb),
        memfree_alloc_kb=Range(n * per_folio - most_tables * ps_kb, n * per_folio - least_tables * ps_kb),
        memtotal_free_kb=0,
        memfree_free_kb=n * (hugepage_kb - restored),
    )


# -- kpageflags ----------------------------------------------------------------------------

KPF_COMPOUND = (1 << KPF_COMPOUND_HEAD) | (1 << KPF_COMPOUND_TAIL) | (1 << KPF_HUGE)


@dataclass(frozen=True, slots=True)
class PageFlagsPrediction:
    compound: tuple[int, ...]  # per subpage: the KPF_COMPOUND_HEAD/TAIL/HUGE bits
    flags_alias_head: frozenset[int]  # subpages whose page->flags word is the head's bytes
    optimized: bool


def mapped_folio(facts: KernelFacts, config: KernelConfig, head_pfn: int, enabled: bool) -> tuple[Machine, KState]:
    """A pool folio prepared (and optimized when HVO is on), then faulted in by a user."""
    m = machine(facts, config, head_pfn)
    steps: list[Step] = []
    if optimizes(facts, config, enabled):
        steps.append(("hugetlb_vmemmap_optimize_folio", {"alloc_ok": True}))
    steps.append(("alloc_hugetlb_folio", {}))
    state, _ = run(m, m.initial(), steps)
    return m, state


class _MemoView:
    """A vmemmap of one fixed state whose word reads are memoised: the readers of every
    subpage read the head's page[1] again, and 1 GiB has 262144 subpages."""

    def __init__(self, view: VmemmapState) -> None:
        self._view = view
        self._words: dict[int, int] = {}

    @property
    def first_vpage(self) -> int:
        return self._view.first_vpage

    @property
    def freed(self) -> frozenset[FrameId]:
        return self._view.freed

    @property
    def allocated(self) -> frozenset[FrameId]:
        return self._view.allocated

    @property
    def folio(self) -> Folio:
        return self._view.folio

    @property
    def config(self) -> KernelConfig:
        return self._view.config

    @property
    def optimized(self) -> bool:
        return self._view.optimized

    def read_word(self, vaddr: int) -> int:
        word = self._words.get(vaddr)
        if word is None:
            word = self._words[vaddr] = self._view.read_word(vaddr)
        return word

    def pte(self, vpage: int) -> Pte | None:
        return self._view.pte(vpage)

    def frame(self, frame_id: FrameId) -> Frame:
        return self._view.frame(frame_id)


def _flags_location(m: Machine, state: KState, page: int) -> tuple[object, int] | None:
    pte = state.vmemmap.pte(page >> m.config.page_shift)
    return None if pte is None else (pte.frame, page & (m.config.page_size - 1))


@functools.lru_cache(maxsize=16)
def predict_kpageflags(facts: KernelFacts, hugepage_kb: int, head_pfn: int, enabled: bool) -> PageFlagsPrediction:
    """fs/proc/page.c stable_page_flags() (v6.1) for every pfn of a mapped folio: the
    compound bits from PageHead()/PageTail()/PageHuge(), and which pfns' raw
    `k = page->flags` is the head's own word (v6.1 copies KPF_UPTODATE, KPF_DIRTY, ...
    from `page->flags` of the pfn asked for, so a fake head reports the head's flags)."""
    config = config_for(hugepage_kb)
    m, state = mapped_folio(facts, config, head_pfn, enabled)
    view = _MemoView(state.vmemmap)
    compound = tuple(r.kpageflags(view, m.page(i)) for i in range(m.nr))
    if facts.scheme.facts.kpageflags_reads_folio:
        # 6.12: `k = folio->flags`: every pfn whose compound_head() is the head reports
        # the head's word, HVO on or off.
        head = m.page(0)
        alias = frozenset(i for i in range(1, m.nr) if r.compound_head(view, m.page(i)) == head)
    else:
        head_at = _flags_location(m, state, m.page(0))
        alias = frozenset(i for i in range(1, m.nr) if _flags_location(m, state, m.page(i)) == head_at)
    return PageFlagsPrediction(compound, alias, state.optimized)


# -- hwpoison ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HwpoisonPrediction:
    poisoned: frozenset[int]  # subpages whose /proc/kpageflags shows KPF_HWPOISON
    compound: tuple[int, ...]  # HEAD/TAIL/HUGE bits per subpage (freed: freed_compound_bits())
    pool_delta: int  # HugePages_Total change
    corrupted_kb: int  # HardwareCorrupted change
    lines: tuple[str, ...]  # the model's steps, in kernel terms


def hwpoison_steps(target: str, k: int) -> list[Step]:
    """What the kernel does for one memory error on subpage k of a 2 MiB folio (v6.1).

    in-use (MADV_HWPOISON on an anonymous MAP_PRIVATE mapping): memory_failure() ->
    try_memory_failure_hugetlb() -> hugetlb_set_page_hwpoison(); hwpoison_user_mappings()
    unmaps the folio; me_huge_page() drops the last reference (put_page(), the folio goes
    back to the pool) and __page_handle_poison() -> dissolve_free_huge_page() ->
    hugetlb_vmemmap_restore() + update_and_free_page() frees it to buddy;
    take_page_off_buddy() keeps the raw page out (mm/memory-failure.c v6.1).
    free (hwpoison-inject corrupt-pfn on a free pool folio): try_memory_failure_hugetlb()
    sees a free folio and calls __page_handle_poison() at once.
    """
    steps: list[Step] = [("memory_failure", {"i": k, "kmalloc_ok": True})]
    if target == "in-use":
        steps.append(("folio_put", {}))
    steps += [("dissolve_free_hugetlb_folio", {"i": k}), ("update_and_free_hugetlb_folio", {"alloc_ok": True})]
    return steps


def predict_hwpoison(
    facts: KernelFacts, hugepage_kb: int, head_pfn: int, k: int, target: str, enabled: bool
) -> HwpoisonPrediction:
    config = config_for(hugepage_kb)
    if target == "in-use":
        m, state = mapped_folio(facts, config, head_pfn, enabled)
    else:
        m = machine(facts, config, head_pfn)
        steps: list[Step] = []
        if optimizes(facts, config, enabled):
            steps.append(("hugetlb_vmemmap_optimize_folio", {"alloc_ok": True}))
        state, _ = run(m, m.initial(), steps)
    state, lines = run(m, state, hwpoison_steps(target, k))
    poisoned = kpageflags_hwpoison(m, state)
    gone = state.pool in (Pool.BUDDY, Pool.LEAKED, Pool.REMOVED)
    # memory_failure() -> __page_handle_poison() -> take_page_off_buddy(raw page)
    compound = kpageflags_compound(m, state, take_page_off_buddy(m.nr, k))
    # mm/memory-failure.c num_poisoned_pages_inc(): once per raw page memory_failure() takes
    corrupted = len(state.injected) * config.page_size // 1024
    return HwpoisonPrediction(poisoned, compound, -1 if gone else 0, corrupted, lines)


def kpageflags_hwpoison(m: Machine, state: KState) -> frozenset[int]:
    """The subpages whose /proc/kpageflags shows KPF_HWPOISON.  While the folio is
    hugetlb, 6.12 reports the folio's PG_hwpoison at every pfn (linux-source-6.12
    fs/proc/page.c:203-204, KPF_HUGE -> `k = folio->flags`); otherwise, and in 6.1
    (fs/proc/page.c:209, `k = page->flags`), each pfn's own struct page."""
    facts = m.scheme.facts
    if facts.kpageflags_reads_folio and state.pool is not Pool.BUDDY and state.hugetlb:
        return frozenset(range(m.nr)) if m.test_flag(state, m.page(0), facts.pg_hwpoison) else frozenset()
    return frozenset(i for i in range(m.nr) if raw_flag(m, state, m.folio.head_pfn + i))


def kpageflags_compound(m: Machine, state: KState, buddy_heads: frozenset[int]) -> tuple[int, ...]:
    """HEAD/TAIL/HUGE per subpage: the model's readers while the folio is compound;
    freed_compound_bits() once it is in the buddy allocator (`buddy_heads`: the
    subpages __SetPageBuddy() marked)."""
    if state.pool is Pool.BUDDY:
        return freed_compound_bits(m, state, buddy_heads)
    return tuple(r.kpageflags(state.vmemmap, m.page(i)) for i in range(m.nr))


def take_page_off_buddy(nr: int, *raw: int) -> frozenset[int]:
    """The subpages that head a free buddy block once the folio's pages are freed as
    one block and each raw error page is taken off again (mm/page_alloc.c v6.1/6.12
    take_page_off_buddy() -> break_down_buddy_pages(): each halving puts the half
    without the target on the free list, set_buddy_order() -> __SetPageBuddy() on its
    first page).  The block merging with its buddy outside the folio changes nothing
    inside it."""
    blocks = {(0, nr)}  # free blocks as (first, size)
    for target in raw:
        block = next(((first, size) for first, size in blocks if first <= target < first + size), None)
        if block is None:
            continue
        blocks.discard(block)
        first, size = block
        while size > 1:
            size //= 2
            if target >= first + size:
                blocks.add((first, size))
                first += size
            else:
                blocks.add((first + size, size))
    return frozenset(first for first, _ in blocks)


def freed_compound_bits(m: Machine, state: KState, buddy_heads: frozenset[int]) -> tuple[int, ...]:
    """/proc/kpageflags' HEAD/TAIL/HUGE bits of a folio freed to the buddy allocator.

    free_pages_prepare() clears every tail's compound_head and page flags but
    PG_hwpoison (linux-source-6.12 mm/page_alloc.c:1139-1151, PAGE_FLAGS_CHECK_AT_PREP;
    the same in 6.1), so no pfn is HEAD or TAIL.  What survives is the page_type word:
    where folio_test_hugetlb() is a page type (6.12, `hugetlb_page_type`), a struct page
    that is a byte copy of the hugetlb head (a restore without reset_struct_pages()
    copies the head copy to offset 0 of every tail vmemmap page) still reads PGTY_hugetlb
    unless __SetPageBuddy() overwrote it, and stable_page_flags() reports KPF_HUGE.  A
    head copy is a struct page other than the head whose flags word has PG_head (the
    model does not replay free_pages_prepare()'s clearing)."""
    facts = m.scheme.facts
    if not facts.hugetlb_page_type:
        return tuple([0] * m.nr)
    stale = {i for i in range(1, m.nr) if i not in buddy_heads and m.test_flag(state, m.page(i), facts.pg_head)}
    return tuple((1 << KPF_HUGE) if i in stale else 0 for i in range(m.nr))


# -- GUP / DMA -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DmaPrediction:
    written: tuple[tuple[int, int], ...]  # (offset in the folio, length) the device writes
    lines: tuple[str, ...]


def predict_dma(facts: KernelFacts, head_pfn: int, buf_offset: int, length: int, enabled: bool) -> DmaPrediction:
    """An O_DIRECT read of `length` bytes into the folio at `buf_offset`: the block layer
    takes the user pages (FOLL_GET in v6.1, FOLL_PIN from v6.3), builds bio_vecs with
    bio_add_page(), virtio-blk maps them with sg_phys() and the device writes there."""
    config = config_for(2048)
    m, state = mapped_folio(facts, config, head_pfn, enabled)
    gup, release = (
        ("pin_user_pages_fast", "unpin_user_pages_dirty_lock")
        if facts.dio_pins
        else ("get_user_pages_fast", "put_page")
    )
    steps: list[Step] = [(gup, {"offset": buf_offset, "length": length}), ("submit_bio", {}), (release, {})]
    state, lines = run(m, state, steps)
    base = head_pfn * config.page_size
    written = tuple(sorted((phys - base, n) for phys, n, _user in state.dma))
    return DmaPrediction(written, lines)


# -- sysctl --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SysctlStep:
    sysctl: int
    action: str  # "alloc" one folio, or "free" every folio
    write_ok: bool
    memtotal_kb: Range
    memfree_kb: Range


def predict_sysctl(
    facts: KernelFacts, boot_enabled: bool, steps: list[tuple[int, str, int]], *, boot_vmemmap: bool = True
) -> tuple[SysctlStep, ...]:
    """vm.hugetlb_optimize_vmemmap (v5.19+): a write changes whether folios prepared
    *afterwards* are optimized; folios already in the pool keep their state until they
    are freed (mm/hugetlb_vmemmap.c vmemmap_should_optimize(); 78f39084b41d).
    `steps` are (value written, "alloc"/"free", pool size after)."""
    out: list[SysctlStep] = []
    enabled = boot_enabled
    pool: list[bool] = []  # optimized, per folio in the pool
    for value, action, nr_after in steps:
        if facts.has_sysctl:
            enabled = bool(value)
        memtotal = memfree = Range(0, 0)
        if action == "alloc":
            while len(pool) < nr_after:
                p = predict_savings(facts, 2048, 1, enabled, boot_vmemmap=boot_vmemmap)
                pool.append(p.optimized)
                memtotal = memtotal + p.memtotal_alloc_kb
                memfree = memfree + p.memfree_alloc_kb
        else:
            while len(pool) > nr_after:
                was_optimized = pool.pop()
                p = predict_savings(facts, 2048, 1, was_optimized)
                memfree = memfree + Range(p.memfree_free_kb, p.memfree_free_kb)
        out.append(SysctlStep(value, action, facts.has_sysctl, memtotal, memfree))
    return tuple(out)
