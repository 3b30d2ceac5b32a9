# SPDX-License-Identifier: GPL-2.0-only
"""What the model predicts a real kernel shows, for each conformance scenario.

Every prediction runs the concrete model (`ops/machine.py` Machine, `model/accounting.py`,
`model/readers.py`) for the preset the booted kernel maps to, on a folio placed at the pfn
the guest observed.  Where the kernel does several of the model's operations in one
system call, the sequence is written out here with the kernel function that does it.
Nothing here prints or solves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from hvo_verify.conform.kernelmap import KernelFacts
from hvo_verify.invariants.reachable import raw_flags
from hvo_verify.model import readers as r
from hvo_verify.model.accounting import savings
from hvo_verify.model.config import CONFIG_IDS, KernelConfig
from hvo_verify.model.facts import KPF_COMPOUND_HEAD, KPF_COMPOUND_TAIL, KPF_HUGE, FrameId
from hvo_verify.model.policy import default_policies
from hvo_verify.model.structpage import Folio
from hvo_verify.model.vmemmap import Frame, Pte, VmemmapState, not_applicable_reason
from hvo_verify.ops.machine import Machine
from hvo_verify.ops.state import KState, Pool

T = TypeVar("T")

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
class SavingsPrediction:
    freeable_kb: int  # dmesg "HugeTLB: %d KiB vmemmap can be freed for a %s page"
    optimized: bool


def predict_savings(facts: KernelFacts, hugepage_kb: int, enabled: bool) -> SavingsPrediction:
    """mm/hugetlb.c report_hugepages() prints hugetlb_vmemmap_optimizable_size() whether or
    not HVO is on (the vmemmap size less HUGETLB_VMEMMAP_RESERVE_SIZE; 0 when the scheme
    does not apply).  The memory figures are the ledger's (VmemmapLedger)."""
    config = config_for(hugepage_kb)
    scheme = facts.scheme
    applies = scheme.optimizes and not_applicable_reason(config, scheme) is None
    freeable = (config.vmemmap_pages - scheme.reserve) * config.page_size // 1024 if applies else 0
    return SavingsPrediction(freeable, optimizes(facts, config, enabled))


@dataclass(frozen=True, slots=True)
class MemDelta:
    """A change of MemTotal and of free memory (MemFree + the per-cpu free lists), kB."""

    memtotal: int
    memfree: int

    def __add__(self, other: MemDelta) -> MemDelta:
        return MemDelta(self.memtotal + other.memtotal, self.memfree + other.memfree)


NO_CHANGE = MemDelta(0, 0)


@dataclass(slots=True)
class VmemmapLedger:
    """What one boot's vmemmap is made of, as far as HVO's accounting can see it, from
    the head pfn of every folio the guest prepared and dissolved, in order.

    * `buddy`: vmemmap pages (global numbers, pfn * sizeof(struct page) / PAGE_SIZE) that
      are no longer the boot-time memblock memory.  Boot vmemmap is PageReserved, so a
      frame HVO frees goes through free_bootmem_page() and raises MemTotal as well as
      MemFree; a frame a restore allocated (vmemmap_remap_alloc(), or a v6.2+ head copy)
      is a buddy page that __free_page() returns to MemFree only
      (mm/hugetlb_vmemmap.c free_vmemmap_page(), v6.1 and v6.12).
    * `split`: vmemmap PMDs already split.  split_vmemmap_huge_pmd() allocates one PTE
      table (pte_alloc_one_kernel(): a buddy page) the first time a walk over a folio's
      vmemmap meets a PMD leaf, and never merges it back (v6.1 vmemmap_pmd_range(),
      v6.12 vmemmap_pmd_entry()).
    * `pool`: head pfn -> whether that pool folio was optimized when it was prepared
      (mm/hugetlb_vmemmap.c vmemmap_should_optimize(): the sysctl at preparation time).
    * `restored`: the folios dissolved after an optimization (head pfn -> number of pfns),
      whose struct pages a restore without reset_struct_pages() leaves as head copies.
    """

    buddy: set[int] = field(default_factory=set)
    split: set[int] = field(default_factory=set)
    pool: dict[int, bool] = field(default_factory=dict)
    restored: dict[int, int] = field(default_factory=dict)  # head pfn -> pfns, of every restored folio

    def prepare(self, facts: KernelFacts, hugepage_kb: int, head: int, enabled: bool) -> MemDelta:
        """A folio allocated into the pool at `head` (and optimized when `enabled`):
        hugetlb_vmemmap_optimize() -> vmemmap_remap_free() walks the folio's whole
        vmemmap [head, head + vmemmap size) (v6.1; v6.12 hugetlb_vmemmap_split_folio()
        first), frees the pages the scheme does not keep, and with a head copy
        allocates one page for it."""
        config = config_for(hugepage_kb)
        hugepage = MemDelta(0, -hugepage_kb)
        optimized = optimizes(facts, config, enabled)
        self.pool[head] = optimized
        if not optimized:
            return hugepage
        ps_kb = config.page_size // 1024
        s = savings(config, facts.scheme)
        pages = self._vmemmap_pages(config, head)
        kept = set(facts.scheme.private)
        freed = [v for i, v in enumerate(pages) if i not in kept or (s.allocated_pages and i == 0)]
        boot = sum(1 for v in freed if v not in self.buddy)
        pmds = {v * config.page_size // config.pmd_size for v in pages} if config.vmemmap_pmd_mapped else set()
        tables = len(pmds - self.split)
        self.split |= pmds
        if s.allocated_pages:
            self.buddy.add(pages[0])  # the head copy now backs vmemmap page 0
        return hugepage + MemDelta(boot * ps_kb, (len(freed) - s.allocated_pages - tables) * ps_kb)

    def dissolve(self, facts: KernelFacts, hugepage_kb: int, head: int) -> MemDelta:
        """The folio at `head` leaves the pool for the buddy allocator: an optimized one is
        restored first, vmemmap_remap_alloc() allocating one page for every vmemmap page
        past HUGETLB_VMEMMAP_RESERVE_PAGES (mm/hugetlb_vmemmap.c hugetlb_vmemmap_restore(),
        v6.1; hugetlb_vmemmap_restore_folio(), v6.12)."""
        config = config_for(hugepage_kb)
        optimized = self.pool.pop(head, False)
        if not optimized:
            return MemDelta(0, hugepage_kb)
        self.restored[head] = config.huge_size // config.page_size
        pages = self._vmemmap_pages(config, head)
        restored = pages[facts.scheme.reserve :]
        self.buddy |= set(restored)
        return MemDelta(0, hugepage_kb - len(restored) * config.page_size // 1024)

    def cycle(self, facts: KernelFacts, hugepage_kb: int, head: int, enabled: bool) -> None:
        """A folio prepared and later dissolved, whose memory figures no row reads."""
        self.prepare(facts, hugepage_kb, head, enabled)
        self.dissolve(facts, hugepage_kb, head)

    @staticmethod
    def _vmemmap_pages(config: KernelConfig, head: int) -> list[int]:
        first = head * config.struct_page_size // config.page_size
        return list(range(first, first + config.vmemmap_pages))


# -- kpageflags ----------------------------------------------------------------------------

KPF_COMPOUND = (1 << KPF_COMPOUND_HEAD) | (1 << KPF_COMPOUND_TAIL) | (1 << KPF_HUGE)


@dataclass(frozen=True, slots=True)
class PageFlagsPrediction:
    compound: tuple[int, ...]  # per subpage: the KPF_COMPOUND_HEAD/TAIL/HUGE bits
    flags_alias_head: frozenset[int]  # subpages whose page->flags word is the head's bytes
    optimized: bool
    poisoned: frozenset[int] = frozenset()  # subpages showing KPF_HWPOISON (kpageflags_hwpoison())


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


def per_subpage(m: Machine, state: KState, reader: Callable[[int], T]) -> tuple[T, ...]:
    """reader(struct page pointer) for every subpage, computed once per distinct view.

    The readers (model/readers.py: PageHead(), PageTail(), page_fixed_fake_head(),
    compound_head(), folio_test_hugetlb()) read the subpage's own struct page, the
    struct page after it (page[1] of a possible fake head) and the head's struct pages
    at fixed addresses, and compare a pointer with the subpage's own only to tell the
    real head (page 0) from a fake one.  Two subpages at the same offset of vmemmap pages
    whose frames hold the same bytes (their own vmemmap page and the next; model/vmemmap.py
    `content_key()`: the same frame, or unwritten populated frames of one kind) therefore
    read the same words and get the same answer.  With HVO on, the 4095 tail vmemmap
    pages of a 1 GiB folio share one frame; with it off, their frames hold the same
    bytes: either way its 262144 subpages are a few hundred computations, not 262144.
    tests/unit/test_conform_model.py checks this against reading every subpage."""
    vmemmap = state.vmemmap
    shift = m.config.page_shift
    offset_mask = m.config.page_size - 1
    memo: dict[tuple[object, ...], T] = {}
    contents: dict[int, tuple[object, ...] | None] = {}  # vmemmap page -> content_key() of its frame

    def content(vpage: int) -> tuple[object, ...] | None:
        if vpage not in contents:
            pte = vmemmap.pte(vpage)
            contents[vpage] = None if pte is None else vmemmap.content_key(pte.frame)
        return contents[vpage]

    out: list[T] = []
    for i in range(m.nr):
        page = m.page(i)
        vpage = page >> shift
        key = (i == 0, page & offset_mask, content(vpage), content(vpage + 1))
        value = memo.get(key)
        if value is None:
            value = memo[key] = reader(page)
        out.append(value)
    return tuple(out)


def _flags_location(m: Machine, state: KState, page: int) -> tuple[object, int] | None:
    pte = state.vmemmap.pte(page >> m.config.page_shift)
    return None if pte is None else (pte.frame, page & (m.config.page_size - 1))


def predict_kpageflags(facts: KernelFacts, hugepage_kb: int, head_pfn: int, enabled: bool) -> PageFlagsPrediction:
    """The prediction below, computed once per model that can differ: a folio that is not
    optimized runs no operation of the scheme's or its policies' (mapped_folio(): only
    alloc_hugetlb_folio()), so every preset with the same version facts predicts it
    alike (tests/unit/test_conform_model.py checks this on a 2 MiB folio)."""
    config = config_for(hugepage_kb)
    if optimizes(facts, config, enabled):
        key: object = (facts.preset, facts.policies)
    else:
        key = facts.scheme.facts
    full = (key, hugepage_kb, head_pfn, enabled)
    pred = _KPAGEFLAGS.get(full)
    if pred is None:
        if len(_KPAGEFLAGS) >= 32:
            _KPAGEFLAGS.clear()
        pred = _KPAGEFLAGS[full] = compute_kpageflags(facts, hugepage_kb, head_pfn, enabled)
    return pred


_KPAGEFLAGS: dict[tuple[object, int, int, bool], PageFlagsPrediction] = {}


def compute_kpageflags(facts: KernelFacts, hugepage_kb: int, head_pfn: int, enabled: bool) -> PageFlagsPrediction:
    """fs/proc/page.c stable_page_flags() (v6.1) for every pfn of a mapped folio: the
    compound bits from PageHead()/PageTail()/PageHuge(), and which pfns' raw
    `k = page->flags` is the head's own word (v6.1 copies KPF_UPTODATE, KPF_DIRTY, ...
    from `page->flags` of the pfn asked for, so a fake head reports the head's flags)."""
    config = config_for(hugepage_kb)
    m, state = mapped_folio(facts, config, head_pfn, enabled)
    view = _MemoView(state.vmemmap)
    compound = per_subpage(m, state, lambda page: r.kpageflags(view, page))
    if facts.scheme.facts.kpageflags_reads_folio:
        # 6.12: `k = folio->flags`: every pfn whose compound_head() is the head reports
        # the head's word, HVO on or off.
        head = m.page(0)
        is_head = per_subpage(m, state, lambda page: r.compound_head(view, page) == head)
        alias = frozenset(i for i in range(1, m.nr) if is_head[i])
    else:
        head_at = _flags_location(m, state, m.page(0))
        alias = frozenset(i for i in range(1, m.nr) if _flags_location(m, state, m.page(i)) == head_at)
    return PageFlagsPrediction(compound, alias, state.optimized, kpageflags_hwpoison(m, state))


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
    return raw_flags(m, state)


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
