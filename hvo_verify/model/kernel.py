"""The kernel's operations on one HugeTLB (or Device-DAX) folio, concretely.

A `KState` is everything the operations touch: the folio's vmemmap PTEs and the bytes
of every vmemmap frame (writes included), the hugetlb flags, pool membership, the raw
error list, the user mapping, the I/O in flight, and the bytes DMA wrote.  Ghost fields
(`injected`, `refs`, `pins`, `shadow`) are what an ideal kernel would have: the
invariants (hvo_verify.op_invariants) compare the kernel's state against them.

`Machine.apply(state, op, args)` runs one operation the way the kernel of the policies'
version does, and returns the new state with what it did in kernel terms (`lines`), the
stores it made (`writes`), and a fault when an access would oops.  Nothing here knows
about z3; hvo_verify.encode.ops is the same semantics in closed form, and every BMC
counterexample is replayed here before it is printed.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace

from hvo_verify.errors import VmemmapFault
from hvo_verify.model import readers as r
from hvo_verify.model import structpage as sp
from hvo_verify.model.config import KernelConfig
from hvo_verify.model.policy import Arch1, GupRefs, HugetlbClear, Hwpoison, Mapcount, Policies
from hvo_verify.model.scheme import FolioKind, HeadCopy, MemoryModel, Scheme, Target
from hvo_verify.model.structpage import MASK64, WORD, Folio, original_word, shared_tail_word
from hvo_verify.model.vmemmap import SHARED_TAIL, Frame, FrameId, Pte

# The user mapping of the folio: a huge-page-aligned address (aligned for every size).
USER_BASE = 0x7F0000000000
# A value no kernel field holds: what write_struct_page() stores.
PROBE_VALUE = 0x5A5A000000000000


class Pool(enum.Enum):
    FREE = "free"  # on the hstate free list
    IN_USE = "in-use"  # allocated, mapped by a user
    REMOVED = "removed"  # dissolve_free_hugetlb_folio(): off the free list, being freed
    BUDDY = "buddy"  # update_and_free_hugetlb_folio() returned its pages to buddy
    LEAKED = "leaked"  # raw_hwp_unreliable: "leaked intentionally"


@dataclass(frozen=True, slots=True)
class Content:
    """The bytes of one vmemmap frame: where they came from, plus stores since."""

    origin: tuple[object, ...]  # ("populated", vpage) | ("shared",) | ("copy", Content, reset_bytes)
    writes: Mapping[int, int] = field(default_factory=dict)  # byte offset -> word

    def key(self) -> tuple[object, ...]:
        origin = self.origin
        if origin[0] == "copy":
            parent = origin[1]
            assert isinstance(parent, Content)
            origin = ("copy", parent.key(), origin[2])
        return (origin, tuple(sorted(self.writes.items())))


@dataclass(frozen=True, slots=True)
class Io:
    """The I/O in flight: what GUP returned for the user buffer."""

    uaddr: int
    length: int
    pages: tuple[int, ...]  # struct page pointers GUP returned
    pin: bool  # FOLL_PIN (pin_user_pages) or FOLL_GET (get_user_pages)
    submitted: bool = False


@dataclass(frozen=True, slots=True)
class KState:
    ptes: Mapping[int, Pte | None]  # vmemmap page -> PTE, where not populated (own frame, RW)
    contents: Mapping[FrameId, Content]  # frames whose bytes are not just as populated
    next_frame: int
    freed: frozenset[FrameId]  # vmemmap frames HVO handed back
    allocated: frozenset[FrameId]  # vmemmap frames HVO allocated
    optimized: bool  # HPG_vmemmap_optimized
    hugetlb: bool  # folio_test_hugetlb (dtor / page type)
    pool: Pool
    raw_hwp: tuple[int, ...] = ()  # pfns on folio->_hugetlb_hwpoison
    raw_hwp_unreliable: bool = False
    mapped: bool = False  # mapped at USER_BASE by one process
    dissolve_pfn: int | None = None  # the page dissolve_free_hugetlb_folio() was called for
    io: Io | None = None
    subpage_maps: tuple[int, ...] = ()  # subpages mapped by page_add_file_rmap()
    dma: tuple[tuple[int, int, int], ...] = ()  # (phys, length, user offset) written by devices
    restored: bool = False  # the vmemmap was restored at least once
    # ghosts
    injected: frozenset[int] = frozenset()  # pfns memory_failure() was called on
    refs: int = 0  # what the folio refcount should be
    pins: int = 0  # what folio->_pincount should be
    shadow: Mapping[int, int] = field(default_factory=dict)  # vaddr -> word, as in a never-optimized vmemmap

    def key(self) -> tuple[object, ...]:
        """A hashable fingerprint (explicit-state search)."""
        return (
            tuple(sorted(self.ptes.items(), key=lambda kv: kv[0])),
            tuple(sorted(((str(k), v.key()) for k, v in self.contents.items()))),
            self.optimized, self.hugetlb, self.pool, self.raw_hwp, self.raw_hwp_unreliable, self.mapped,
            self.dissolve_pfn, self.io, self.subpage_maps, self.dma, self.restored, self.injected,
            self.refs, self.pins, tuple(sorted(self.shadow.items())),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Write:
    vaddr: int
    frame: FrameId
    offset: int
    old: int
    new: int


class FaultKind(enum.Enum):
    READ = "read-fault"  # read of an unmapped vmemmap page
    RO_WRITE = "ro-write"  # store through a read-only (or unmapped) vmemmap PTE


@dataclass(frozen=True, slots=True)
class Fault:
    kind: FaultKind
    message: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one operation did."""

    state: KState
    lines: tuple[str, ...]
    writes: tuple[Write, ...] = ()
    fault: Fault | None = None
    restored: bool = False  # this step restored the vmemmap
    to_buddy: bool = False  # this step freed the folio's pages to buddy


@dataclass(frozen=True, slots=True)
class Arg:
    name: str
    kind: str  # "subpage" | "bool" | "offset" | "length" | "word"


@dataclass(frozen=True, slots=True)
class Op:
    name: str  # the kernel function
    args: tuple[Arg, ...]
    summary: str
    hugetlb_only: bool = False


Args = Mapping[str, int | bool]

OPS: dict[str, Op] = {
    o.name: o
    for o in (
        Op("hugetlb_vmemmap_optimize_folio", (Arg("alloc_ok", "bool"),), "HVO remap (pool add)", True),
        Op("hugetlb_vmemmap_restore_folio", (Arg("alloc_ok", "bool"),), "restore the vmemmap (demote, shrink)", True),
        Op("alloc_hugetlb_folio", (), "allocate from the pool and map at the user address", True),
        Op("folio_put", (), "the user unmaps and drops its reference", True),
        Op(
            "dissolve_free_hugetlb_folio",
            (Arg("i", "subpage"),),
            "take a free folio off the pool (remove_hugetlb_folio)",
            True,
        ),
        Op("update_and_free_hugetlb_folio", (Arg("alloc_ok", "bool"),), "restore, move hwpoison, free to buddy", True),
        Op("memory_failure", (Arg("i", "subpage"), Arg("kmalloc_ok", "bool")), "a memory error on pfn head_pfn+i"),
        Op("get_user_pages_fast", (Arg("offset", "offset"), Arg("length", "length")), "FOLL_GET on the user buffer"),
        Op("pin_user_pages_fast", (Arg("offset", "offset"), Arg("length", "length")), "FOLL_PIN on the user buffer"),
        Op("submit_bio", (), "bio_add_page per page, dma_map_sg, DMA completion"),
        Op("unpin_user_pages_dirty_lock", (), "release FOLL_PIN pages, mark the folio dirty"),
        Op("put_page", (), "release FOLL_GET pages one by one"),
        Op("sync_icache_dcache", (Arg("i", "subpage"),), "set_pte_at() -> __sync_icache_dcache(): set PG_arch_1"),
        Op("flush_dcache_page", (Arg("i", "subpage"),), "clear PG_arch_1 (PG_dcache_clean)"),
        Op("page_add_file_rmap", (Arg("i", "subpage"),), "map subpage i with a PTE (mapcount)"),
        Op("write_struct_page", (Arg("i", "subpage"), Arg("word", "word")), "a store to any field of head+i"),
    )
}


@dataclass(frozen=True)
class Machine:
    """The operations for one folio under one config, scheme and policy set."""

    folio: Folio
    policies: Policies
    io_max: int = 0x4000  # largest GUP'd buffer, bytes
    io_align: int = 512  # O_DIRECT: offset and length are logical-block aligned

    @property
    def config(self) -> KernelConfig:
        return self.folio.config

    @property
    def scheme(self) -> Scheme:
        return self.folio.scheme

    @property
    def first_vpage(self) -> int:
        return self.folio.head >> self.config.page_shift

    @property
    def nr(self) -> int:
        return self.config.nr_pages

    def page(self, i: int) -> int:
        """The struct page pointer head + i."""
        return (self.folio.head + i * self.folio.size) & MASK64

    @classmethod
    def canonical(cls, config: KernelConfig, scheme: Scheme, policies: Policies, io_max: int, io_align: int) -> Machine:
        """The placement operation checks use: head pfn = nr_pages, the documented
        VMEMMAP_START (the static checks cover every placement); io_max 0 = PAGE_SIZE."""
        folio = Folio(config, scheme, config.nr_pages, config.default_vmemmap_base)
        return cls(folio, policies, io_max=io_max or config.page_size, io_align=io_align)

    # -- initial state -------------------------------------------------------------------
    def initial(self, *, optimized: bool = False) -> KState:
        """A HugeTLB folio just prepared and added to the pool (refcount frozen at 0,
        bd225530a4c7), not yet optimized.  A Device-DAX folio is deduplicated when its
        vmemmap is populated (mm/sparse-vmemmap.c vmemmap_populate_compound_pages()) and
        is mapped by the DAX user from the start."""
        hugetlb = self.scheme.folio_kind is FolioKind.HUGETLB
        state = KState({}, {}, 0, frozenset(), frozenset(), False, hugetlb, Pool.FREE if hugetlb else Pool.IN_USE)
        if optimized or (not hugetlb and self.scheme.optimizes):
            state = self._optimize(state, True)[0]
        if not hugetlb:
            state = replace(state, mapped=True)
        return state

    # -- memory ----------------------------------------------------------------------------
    def pte(self, state: KState, vpage: int) -> Pte | None:
        if vpage in state.ptes:
            return state.ptes[vpage]
        return Pte(("orig", vpage), True)

    def content(self, state: KState, frame: FrameId) -> Content:
        if frame in state.contents:
            return state.contents[frame]
        if frame == SHARED_TAIL:
            return Content(("shared",))
        assert frame[0] == "orig", frame
        return Content(("populated", frame[1]))  # type: ignore[misc]

    def read_content(self, content: Content, offset: int) -> int:
        while True:
            if offset in content.writes:
                return content.writes[offset]
            origin = content.origin
            if origin[0] == "populated":
                vpage = origin[1]
                assert isinstance(vpage, int)
                return self.populated(((vpage << self.config.page_shift) + offset) & MASK64)
            if origin[0] == "shared":
                return shared_tail_word(self.folio, (offset % self.folio.size) // WORD)
            parent, reset = origin[1], origin[2]
            assert isinstance(parent, Content) and isinstance(reset, int)
            content, offset = parent, offset + reset if offset < reset else offset

    def populated(self, vaddr: int) -> int:
        rel = (vaddr - self.folio.vmemmap_base) & MASK64
        pfn, byte = divmod(rel, self.folio.size)
        if pfn >= self.folio.max_pfn:
            raise VmemmapFault(vaddr, "read outside the vmemmap")
        return original_word(self.folio, pfn, byte // WORD)

    def read(self, state: KState, vaddr: int) -> int:
        pte = self.pte(state, vaddr >> self.config.page_shift)
        if pte is None:
            raise VmemmapFault(vaddr, "read of unmapped vmemmap")
        return self.read_content(self.content(state, pte.frame), vaddr & (self.config.page_size - 1))

    def write(self, state: KState, vaddr: int, value: int) -> tuple[KState, Write]:
        pte = self.pte(state, vaddr >> self.config.page_shift)
        if pte is None:
            raise VmemmapFault(vaddr, "store to unmapped vmemmap")
        if (vaddr - self.folio.vmemmap_base) & MASK64 >= self.folio.max_pfn * self.folio.size:
            raise VmemmapFault(vaddr, "store outside the vmemmap")
        if not pte.writable:
            raise VmemmapFault(vaddr, "store through a read-only vmemmap PTE")
        offset = vaddr & (self.config.page_size - 1)
        content = self.content(state, pte.frame)
        old = self.read_content(content, offset)
        contents = dict(state.contents)
        contents[pte.frame] = Content(content.origin, {**content.writes, offset: value & MASK64})
        shadow = {**state.shadow, vaddr: value & MASK64}
        return replace(state, contents=contents, shadow=shadow), Write(vaddr, pte.frame, offset, old, value & MASK64)

    def view(self, state: KState) -> View:
        return View(self, state)

    def shadow_read(self, state: KState, vaddr: int) -> int:
        """The word at vaddr in a vmemmap that was never optimized (same logical stores)."""
        if vaddr in state.shadow:
            return state.shadow[vaddr]
        return self.populated(vaddr)

    # -- vmemmap remapping -------------------------------------------------------------------
    def remapped_pages(self) -> list[int]:
        private = set(self.scheme.private)
        return [k for k in range(self.config.vmemmap_pages) if k not in private]

    def _new_frame(self, state: KState) -> tuple[KState, FrameId]:
        frame: FrameId = ("new", state.next_frame)
        return replace(state, next_frame=state.next_frame + 1, allocated=state.allocated | {frame}), frame

    def _optimize(self, state: KState, alloc_ok: bool) -> tuple[KState, list[str]]:
        """mm/hugetlb_vmemmap.c __hugetlb_vmemmap_optimize_folio() -> vmemmap_remap_free()."""
        scheme, first = self.scheme, self.first_vpage
        if not alloc_ok and scheme.head_copy is HeadCopy.NONE and self.config.vmemmap_pmd_mapped:
            return state, ["vmemmap_remap_split(): PTE table allocation failed (-ENOMEM): folio left unoptimized"]
        ptes = dict(state.ptes)
        contents = dict(state.contents)
        freed = set(state.freed)
        lines = []
        if scheme.head_copy is not HeadCopy.NONE:
            if alloc_ok:
                old = self.pte(state, first)
                assert old is not None
                state, new = self._new_frame(state)
                contents[new] = Content(("copy", self.content(state, old.frame), 0))
                freed.add(old.frame)
                ptes[first] = Pte(new, True)
                lines.append("copy_page(new page, head vmemmap page); PTE 0 -> new page")
            elif scheme.head_copy is HeadCopy.REQUIRED:
                return state, ["alloc_pages_node() for the head vmemmap page failed: folio left unoptimized"]
            else:
                lines.append("head vmemmap page allocation failed: reuse frame(0) in place")
        reuse = ptes.get(first + scheme.target_page, self.pte(state, first + scheme.target_page))
        for k in self.remapped_pages():
            old = ptes.get(first + k, self.pte(state, first + k))
            assert old is not None
            freed.add(old.frame)
            if scheme.target is Target.PAGE:
                assert reuse is not None
                ptes[first + k] = Pte(reuse.frame, scheme.writable_aliases)
            elif scheme.target is Target.SHARED_TAIL:
                ptes[first + k] = Pte(SHARED_TAIL, scheme.writable_aliases)
            else:
                ptes[first + k] = None
        lines.append(f"vmemmap pages {_ranges(self.remapped_pages())} remapped "
                     f"({'RW' if scheme.writable_aliases else 'RO'}); their frames freed")  # fmt: skip
        state = replace(state, ptes=ptes, contents=contents, freed=frozenset(freed), optimized=True)
        return state, lines

    def _restore(self, state: KState, alloc_ok: bool) -> tuple[KState, list[str], bool]:
        """hugetlb_vmemmap_restore_folio() -> vmemmap_remap_alloc(): all pages are
        allocated first (any failure: -ENOMEM, nothing changed); each remapped PTE gets
        a copy of the reuse page, reset_struct_pages() where the policy has it."""
        if not alloc_ok:
            return state, ["alloc_vmemmap_page_list() failed: -ENOMEM, folio stays optimized"], False
        first = self.first_vpage
        reuse_vpage = first + (self.scheme.target_page if self.scheme.target is Target.PAGE else 0)
        reset = 3 * self.folio.size if self.policies.restore_reset else 0
        ptes = dict(state.ptes)
        contents = dict(state.contents)
        for k in self.remapped_pages():
            cur = self.pte(state, first + k)
            source = cur if cur is not None else self.pte(state, reuse_vpage)
            assert source is not None
            state, new = self._new_frame(state)
            contents[new] = Content(("copy", self.content(state, source.frame), reset))
            ptes[first + k] = Pte(new, True)
        state = replace(state, ptes=ptes, contents=contents, optimized=False, restored=True)
        what = "copy_page(new, reuse page)" + ("; reset_struct_pages()" if reset else "")
        return state, [f"vmemmap pages remapped to {len(self.remapped_pages())} new pages: {what}"], True

    # -- counters --------------------------------------------------------------------------
    def _add32(self, state: KState, vaddr: int, delta: int, high: bool) -> tuple[KState, Write]:
        word = self.read(state, vaddr)
        shift = 32 if high else 0
        half = (word >> shift) & 0xFFFFFFFF
        half = (half + delta) & 0xFFFFFFFF
        new = (word & ~(0xFFFFFFFF << shift) & MASK64) | (half << shift)
        return self.write(state, vaddr, new)

    def refcount(self, state: KState, page: int) -> int:
        return self.read(state, page + sp.W_COUNTS * WORD) >> 32

    def pincount(self, state: KState) -> int:
        return self.read(state, self.page(1) + sp.W_FOLIO_COUNTS * WORD) >> 32

    def _flag(self, state: KState, page: int, bit: int, on: bool, *, rmw: bool = False) -> tuple[KState, Write | None]:
        """`if (test_bit()) clear_bit()`-style updates store only on a change; atomic
        read-modify-writes (`rmw`: SetPageHWPoison, TestSetPageHWPoison) always store."""
        word = self.read(state, page + sp.W_FLAGS * WORD)
        if bool(word >> bit & 1) == on and not rmw:
            return state, None
        return self.write(state, page, word | (1 << bit) if on else word & ~(1 << bit))

    def test_flag(self, state: KState, page: int, bit: int) -> bool:
        return bool(self.read(state, page + sp.W_FLAGS * WORD) >> bit & 1)

    def page_folio(self, state: KState, page: int) -> int:
        return r.compound_head(self.view(state), page)

    # -- operations ------------------------------------------------------------------------
    def enabled(self, state: KState, op: str) -> bool:
        """The operation's precondition (the state the kernel calls it in)."""
        hugetlb_kind = self.scheme.folio_kind is FolioKind.HUGETLB
        if OPS[op].hugetlb_only and not hugetlb_kind:
            return False
        pool, io = state.pool, state.io
        free_pool = pool is Pool.FREE and state.hugetlb
        match op:
            case "hugetlb_vmemmap_optimize_folio":
                return free_pool and not state.optimized and self.scheme.optimizes
            case "hugetlb_vmemmap_restore_folio":
                return free_pool and state.optimized
            case "alloc_hugetlb_folio":
                return free_pool  # (dequeue skips hwpoisoned folios: checked when applied)
            case "folio_put":
                return state.mapped
            case "dissolve_free_hugetlb_folio":
                return free_pool
            case "update_and_free_hugetlb_folio":
                return pool is Pool.REMOVED
            case "memory_failure":
                return True
            case "get_user_pages_fast" | "pin_user_pages_fast":
                return state.mapped and io is None
            case "submit_bio":
                return io is not None and not io.submitted
            case "unpin_user_pages_dirty_lock":
                return io is not None and io.pin
            case "put_page":
                return io is not None and not io.pin
            case "sync_icache_dcache" | "flush_dcache_page" | "page_add_file_rmap" | "write_struct_page":
                return state.mapped if hugetlb_kind else True
        raise KeyError(op)

    def apply(self, state: KState, op: str, args: Mapping[str, int | bool]) -> Outcome:
        """Run `op`; a VmemmapFault becomes an Outcome with `fault` set (the kernel oopses there)."""
        lines: list[str] = []
        writes: list[Write] = []
        flags = {"restored": False, "to_buddy": False}
        try:
            state = getattr(self, "_op_" + op)(state, args, lines, writes, flags)
        except VmemmapFault as exc:
            kind = FaultKind.RO_WRITE if str(exc).startswith("store") else FaultKind.READ
            lines.append(f"oops: {exc}")
            return Outcome(state, tuple(lines), tuple(writes), Fault(kind, str(exc)))
        return Outcome(state, tuple(lines), tuple(writes), None, flags["restored"], flags["to_buddy"])

    def _store(self, state: KState, writes: list[Write], result: tuple[KState, Write | None]) -> KState:
        new, write = result
        if write is not None:
            writes.append(write)
        return new

    def name(self, page: int) -> str:
        rel = (page - self.folio.head) & MASK64
        if rel % self.folio.size == 0 and rel // self.folio.size < self.nr:
            i = rel // self.folio.size
            return "head" if i == 0 else f"head+{i}"
        return f"{page:#x}"

    def _op_hugetlb_vmemmap_optimize_folio(
        self, state: KState, args: Args, lines: list[str], writes: list[Write], flags: dict[str, bool]
    ) -> KState:
        state, out = self._optimize(state, bool(args["alloc_ok"]))
        lines.extend(out)
        return state

    def _op_hugetlb_vmemmap_restore_folio(
        self, state: KState, args: Args, lines: list[str], writes: list[Write], flags: dict[str, bool]
    ) -> KState:
        state, out, ok = self._restore(state, bool(args["alloc_ok"]))
        lines.extend(out)
        flags["restored"] = ok
        return state

    def _op_alloc_hugetlb_folio(
        self, state: KState, args: Args, lines: list[str], writes: list[Write], flags: dict[str, bool]
    ) -> KState:
        # mm/hugetlb.c dequeue_hugetlb_folio_node_exact(): `if (folio_test_hwpoison(folio)) continue;`
        if self.test_flag(state, self.page(0), sp.PG_HWPOISON):
            lines.append("dequeue_hugetlb_folio_node_exact(): folio is hwpoisoned, skipped")
            return state
        head = self.page(0)
        # folio_ref_unfreeze(folio, 1) (6.10+; set_page_refcounted before); map: entire mapcount 0
        state = self._store(state, writes, self._add32(state, head + sp.W_COUNTS * WORD, 1, True))
        state = self._store(state, writes, self._add32(state, self.page(1) + sp.W_FOLIO_COUNTS * WORD, 1, False))
        lines.append(f"folio refcount 0 -> 1; mapped at user address {USER_BASE:#x}")
        return replace(state, pool=Pool.IN_USE, mapped=True, refs=state.refs + 1)

    def _put_refs(self, state: KState, folio: int, n: int, writes: list[Write], lines: list[str]) -> KState:
        """folio_put_refs(): when the count reaches 0, free_huge_folio() puts it back on the pool."""
        state = self._store(state, writes, self._add32(state, folio + sp.W_COUNTS * WORD, -n, True))
        if self.refcount(state, folio) == 0 and folio == self.page(0) and state.pool is Pool.IN_USE:
            lines.append("refcount 0: free_huge_folio() -> hstate free list")
            state = replace(state, pool=Pool.FREE)
        return state

    def _op_folio_put(
        self, state: KState, args: Args, lines: list[str], writes: list[Write], flags: dict[str, bool]
    ) -> KState:
        for i in state.subpage_maps:
            state = self._unmap_subpage(state, i, writes)
        state = self._store(state, writes, self._add32(state, self.page(1) + sp.W_FOLIO_COUNTS * WORD, -1, False))
        lines.append("zap_huge_pmd(): unmapped; folio_put()")
        state = replace(state, mapped=False, subpage_maps=(), refs=state.refs - 1)
        return self._put_refs(state, self.page(0), 1, writes, lines)

    def _op_dissolve_free_hugetlb_folio(
        self, state: KState, args: Args, lines: list[str], writes: list[Write], flags: dict[str, bool]
    ) -> KState:
        i = int(args["i"])
        lines.append(f"dissolve_free_hugetlb_folio(pfn_to_page(head_pfn+{i})): remove_hugetlb_folio()")
        hugetlb = state.hugetlb
        if self.policies.hugetlb_clear is HugetlbClear.BEFORE_RESTORE:
            hugetlb = False
            lines.append("remove_hugetlb_folio(): hugetlb dtor cleared before the vmemmap is restored")
        return replace(state, pool=Pool.REMOVED, hugetlb=hugetlb, dissolve_pfn=self.folio.head_pfn + i)

    def _op_update_and_free_hugetlb_folio(
        self, state: KState, args: Args, lines: list[str], writes: list[Write], flags: dict[str, bool]
    ) -> KState:
        """mm/hugetlb.c __update_and_free_hugetlb_folio() (reference 4.4) and, before 6.1,
        dissolve_free_huge_page()'s hwpoison hand-over."""
        pol = self.policies
        if pol.hwpoison is Hwpoison.RAW_HWP_LIST and state.raw_hwp_unreliable:
            lines.append("raw_hwp_unreliable: folio leaked intentionally")
            return replace(state, pool=Pool.LEAKED)
        if state.optimized:
            state, out, ok = self._restore(state, bool(args["alloc_ok"]))
            lines.extend(out)
            if not ok:
                lines.append("add_hugetlb_folio(): back on the free list (still optimized)")
                return replace(state, pool=Pool.FREE, hugetlb=True)
            flags["restored"] = True
        state = replace(state, hugetlb=False)
        head = self.page(0)
        if pol.hwpoison is Hwpoison.HEAD_INDEX and self.test_flag(state, head, sp.PG_HWPOISON):
            idx = self.read(state, self.page(4) + sp.W_PRIVATE * WORD)
            if idx != 0:  # hwpoison_subpage_deliver()
                state = self._store(state, writes, self._flag(state, self.page(idx), sp.PG_HWPOISON, True, rmw=True))
                state = self._store(state, writes, self._flag(state, head, sp.PG_HWPOISON, False, rmw=True))
                lines.append(f"hwpoison_subpage_deliver(): PG_hwpoison moved to head+{idx}")
        elif pol.hwpoison is Hwpoison.HEAD_FLAG and self.test_flag(state, head, sp.PG_HWPOISON):
            page = self.folio.page(state.dissolve_pfn) if state.dissolve_pfn is not None else head
            if page != head:
                state = self._store(state, writes, self._flag(state, page, sp.PG_HWPOISON, True, rmw=True))
                state = self._store(state, writes, self._flag(state, head, sp.PG_HWPOISON, False, rmw=True))
                lines.append(f"dissolve_free_huge_page(): PG_hwpoison moved to {self.name(page)}")
        elif pol.hwpoison is Hwpoison.RAW_HWP_LIST and self.test_flag(state, head, sp.PG_HWPOISON):
            # folio_clear_hugetlb_hwpoison(): clear the head, SetPageHWPoison() each raw page
            state = self._store(state, writes, self._flag(state, head, sp.PG_HWPOISON, False, rmw=True))
            for pfn in state.raw_hwp:
                state = self._store(
                    state, writes, self._flag(state, self.folio.page(pfn), sp.PG_HWPOISON, True, rmw=True)
                )
            lines.append(f"folio_clear_hugetlb_hwpoison(): PG_hwpoison moved to {len(state.raw_hwp)} raw page(s)")
            state = replace(state, raw_hwp=())
        lines.append("pages freed to buddy (take_page_off_buddy() keeps PageHWPoison pages off)")
        flags["to_buddy"] = True
        return replace(state, pool=Pool.BUDDY)

    def _op_memory_failure(
        self, state: KState, args: Args, lines: list[str], writes: list[Write], flags: dict[str, bool]
    ) -> KState:
        i = int(args["i"])
        pfn = self.folio.head_pfn + i
        page = r.pfn_to_page(self.view(state), pfn)
        state = replace(state, injected=state.injected | {pfn})
        pol = self.policies.hwpoison
        if not state.hugetlb or pol is Hwpoison.RAW_FLAG:
            # memory_failure(): TestSetPageHWPoison(p) on the raw page
            lines.append(f"memory_failure(head_pfn+{i}): SetPageHWPoison({self.name(page)})")
            return self._store(state, writes, self._flag(state, page, sp.PG_HWPOISON, True, rmw=True))
        head = self.page_folio(state, page)
        already = self.test_flag(state, head, sp.PG_HWPOISON)
        if pol in (Hwpoison.HEAD_INDEX, Hwpoison.HEAD_FLAG):
            if already:
                lines.append(f"memory_failure(head_pfn+{i}): hugetlb head already hwpoisoned: -EHWPOISON")
                return state
            state = self._store(state, writes, self._flag(state, head, sp.PG_HWPOISON, True, rmw=True))
            if pol is Hwpoison.HEAD_INDEX:  # hwpoison_subpage_set(): page_private(head + 4) = page - head
                state = self._store(
                    state, writes, self.write(state, head + 4 * self.folio.size + sp.W_PRIVATE * WORD, i)
                )
                lines.append(f"memory_failure(head_pfn+{i}): SetPageHWPoison(head); head[4].private = {i}")
            else:
                lines.append(f"memory_failure(head_pfn+{i}): TestSetPageHWPoison(head)")
            return state
        # folio_set_hugetlb_hwpoison() (v6.1)
        state = self._store(state, writes, self._flag(state, head, sp.PG_HWPOISON, True, rmw=True))
        if state.raw_hwp_unreliable or pfn in state.raw_hwp:
            lines.append(f"memory_failure(head_pfn+{i}): head flag set; raw list unchanged")
            return state
        if not args["kmalloc_ok"] and self.policies.kmalloc_may_fail:
            lines.append(f"memory_failure(head_pfn+{i}): kmalloc failed: raw_hwp_unreliable")
            return replace(state, raw_hwp=(), raw_hwp_unreliable=True)
        lines.append(f"memory_failure(head_pfn+{i}): SetPageHWPoison(head); raw_hwp list += head+{i}")
        return replace(state, raw_hwp=(*state.raw_hwp, pfn))

    def io_range(self, offset: int, length: int) -> tuple[int, int]:
        """(first subpage, number of pages) a user buffer spans."""
        shift = self.config.page_shift
        first = offset >> shift
        return first, ((offset + length - 1) >> shift) - first + 1

    def _gup(
        self, state: KState, args: Mapping[str, int | bool], lines: list[str], writes: list[Write], pin: bool
    ) -> KState:
        """mm/gup.c gup_fast_pmd_leaf(): page = pmd_page(orig) + idx; try_grab_folio_fast()."""
        offset, length = int(args["offset"]), int(args["length"])
        idx, nr = self.io_range(offset, length)
        # pmd_page(orig) + idx == pfn_to_page(head_pfn + idx) with SPARSEMEM_VMEMMAP; the
        # dedup-pointers model is exactly where the two differ.
        page = r.pfn_to_page(self.view(state), self.folio.head_pfn + idx)
        pages = tuple((page + j * self.folio.size) & MASK64 for j in range(nr))
        if self.policies.gup_refs is GupRefs.FOLIO:
            folio = self.page_folio(state, page)
        else:
            folio = page
        state = self._store(state, writes, self._add32(state, folio + sp.W_COUNTS * WORD, nr, True))
        if pin:  # large folio: folio_ref_add() and atomic_add(refs, &folio->_pincount)
            state = self._store(
                state, writes, self._add32(state, folio + self.folio.size + sp.W_FOLIO_COUNTS * WORD, nr, True)
            )
        what = "pin_user_pages_fast" if pin else "get_user_pages_fast"
        lines.append(f"{what}(addr={USER_BASE:#x}+{offset:#x}, len={length:#x}) -> "
                     f"{self.name(pages[0])}{'' if nr == 1 else f'..{self.name(pages[-1])}'}; "
                     f"folio {self.name(folio)}: refcount += {nr}" + (f", _pincount += {nr}" if pin else ""))  # fmt: skip
        io = Io(USER_BASE + offset, length, pages, pin)
        return replace(state, io=io, refs=state.refs + nr, pins=state.pins + (nr if pin else 0))

    def _op_get_user_pages_fast(
        self, state: KState, args: Args, lines: list[str], writes: list[Write], flags: dict[str, bool]
    ) -> KState:
        return self._gup(state, args, lines, writes, False)

    def _op_pin_user_pages_fast(
        self, state: KState, args: Args, lines: list[str], writes: list[Write], flags: dict[str, bool]
    ) -> KState:
        return self._gup(state, args, lines, writes, True)

    def page_to_phys(self, page: int) -> int:
        return ((page - self.folio.vmemmap_base) & MASK64) // self.folio.size << self.config.page_shift

    def _op_submit_bio(
        self, state: KState, args: Args, lines: list[str], writes: list[Write], flags: dict[str, bool]
    ) -> KState:
        io = state.io
        assert io is not None
        ps = self.config.page_size
        bvecs: list[list[int]] = []  # [page, offset, len, user offset]
        done = 0
        for page in io.pages:
            off = (io.uaddr + done) & (ps - 1)
            seg = min(ps - off, io.length - done)
            # block/bio.c bvec_try_merge_page(): merge when physically contiguous
            if bvecs and self.page_to_phys(bvecs[-1][0]) + bvecs[-1][1] + bvecs[-1][2] == self.page_to_phys(page) + off:
                bvecs[-1][2] += seg
            else:
                bvecs.append([page, off, seg, io.uaddr + done - USER_BASE])
            done += seg
        dma = list(state.dma)
        for page, off, seg, user_off in bvecs:
            phys = self.page_to_phys(page) + off  # sg_phys(sg); dma-direct, identity IOMMU
            lines.append(
                f"bio_vec {{{self.name(page)}, {off:#x}, {seg:#x}}} -> sg_phys = {phys:#x}; DMA writes {seg:#x} bytes"
            )
            dma.append((phys, seg, user_off))
        return replace(state, io=replace(io, submitted=True), dma=tuple(dma))

    def _release(self, state: KState, lines: list[str], writes: list[Write], pin: bool) -> KState:
        io = state.io
        assert io is not None
        groups: list[list[int]] = []  # [folio, nr]
        for page in io.pages:
            folio = self.page_folio(state, page) if self.policies.gup_refs is GupRefs.FOLIO else page
            if groups and groups[-1][0] == folio:
                groups[-1][1] += 1
            else:
                groups.append([folio, 1])
        for folio, n in groups:
            if pin:  # gup_put_folio(folio, n, FOLL_PIN): _pincount -= n; folio_mark_dirty_lock()
                state = self._store(
                    state, writes, self._add32(state, folio + self.folio.size + sp.W_FOLIO_COUNTS * WORD, -n, True)
                )
                state = self._store(state, writes, self._flag(state, folio, sp.PG_DIRTY, True))
            state = self._put_refs(state, folio, n, writes, lines)
        total = len(io.pages)
        what = "unpin_user_pages_dirty_lock" if pin else "put_page x" + str(total)
        lines.insert(0, f"{what}: " + ", ".join(f"{self.name(f)} -{n}" for f, n in groups))
        return replace(state, io=None, refs=state.refs - total, pins=state.pins - (total if pin else 0))

    def _op_unpin_user_pages_dirty_lock(
        self, state: KState, args: Args, lines: list[str], writes: list[Write], flags: dict[str, bool]
    ) -> KState:
        return self._release(state, lines, writes, True)

    def _op_put_page(
        self, state: KState, args: Args, lines: list[str], writes: list[Write], flags: dict[str, bool]
    ) -> KState:
        return self._release(state, lines, writes, False)

    def _arch1_target(self, state: KState, i: int) -> int:
        page = self.page(i)
        if self.policies.pg_arch_1 is Arch1.HEAD and r.page_huge(self.view(state), page):
            page = self.page_folio(state, page)
        return page

    def _op_sync_icache_dcache(
        self, state: KState, args: Args, lines: list[str], writes: list[Write], flags: dict[str, bool]
    ) -> KState:
        page = self._arch1_target(state, int(args["i"]))
        lines.append(f"__sync_icache_dcache(head+{args['i']}): set PG_arch_1 on {self.name(page)}")
        return self._store(state, writes, self._flag(state, page, sp.PG_ARCH_1, True))

    def _op_flush_dcache_page(
        self, state: KState, args: Args, lines: list[str], writes: list[Write], flags: dict[str, bool]
    ) -> KState:
        page = self._arch1_target(state, int(args["i"]))
        lines.append(f"flush_dcache_page(head+{args['i']}): clear PG_arch_1 on {self.name(page)}")
        return self._store(state, writes, self._flag(state, page, sp.PG_ARCH_1, False))

    def _unmap_subpage(self, state: KState, i: int, writes: list[Write]) -> KState:
        if self.policies.mapcount is Mapcount.PER_SUBPAGE:
            return self._store(state, writes, self._add32(state, self.page(i) + sp.W_COUNTS * WORD, -1, False))
        return self._store(state, writes, self._add32(state, self.page(1) + sp.W_FOLIO_COUNTS * WORD, -1, False))

    def _op_page_add_file_rmap(
        self, state: KState, args: Args, lines: list[str], writes: list[Write], flags: dict[str, bool]
    ) -> KState:
        i = int(args["i"])
        if self.policies.mapcount is Mapcount.PER_SUBPAGE:
            state = self._store(state, writes, self._add32(state, self.page(i) + sp.W_COUNTS * WORD, 1, False))
            lines.append(f"page_add_file_rmap(head+{i}): atomic_inc(&(head+{i})->_mapcount)")
        else:
            state = self._store(state, writes, self._add32(state, self.page(1) + sp.W_FOLIO_COUNTS * WORD, 1, False))
            lines.append(f"page_add_file_rmap(head+{i}): folio mapcount (page[1]) += 1")
        return replace(state, subpage_maps=(*state.subpage_maps, i))

    def _op_write_struct_page(
        self, state: KState, args: Args, lines: list[str], writes: list[Write], flags: dict[str, bool]
    ) -> KState:
        i, w = int(args["i"]), int(args["word"])
        lines.append(f"WRITE_ONCE(word {w} of head+{i}, {PROBE_VALUE:#x})")
        return self._store(state, writes, self.write(state, self.page(i) + w * WORD, PROBE_VALUE))

    # -- argument domains (exploration and explicit-state search) -------------------------------
    def arg_values(self, arg: Arg) -> range | tuple[bool, ...]:
        size = self.nr * self.config.page_size
        match arg.kind:
            case "bool":
                return (True, False)
            case "subpage":
                return range(self.nr)
            case "offset":
                return range(0, size, self.io_align)
            case "length":
                return range(self.io_align, self.io_max + 1, self.io_align)
            case "word":
                return range(self.folio.size // WORD)
        raise KeyError(arg.kind)

    def args_ok(self, op: str, args: Mapping[str, int | bool]) -> bool:
        """Argument constraints beyond each domain: the buffer lies inside the folio."""
        if "offset" in args:
            return int(args["offset"]) + int(args["length"]) <= self.nr * self.config.page_size
        return True

    # -- what the kernel reports ----------------------------------------------------------------
    def vmemmap_vaddrs_of(self, state: KState, frame: FrameId, offset: int) -> Iterator[int]:
        """Every address in the folio's vmemmap pages that reads (frame, offset)."""
        first, shift = self.first_vpage, self.config.page_shift
        for k in range(self.config.vmemmap_pages):
            pte = self.pte(state, first + k)
            if pte is not None and pte.frame == frame:
                yield ((first + k) << shift) | offset

    def touched_vaddrs(self, state: KState, word: int) -> set[int]:
        """Addresses of word `word` of struct pages in the folio's vmemmap whose value may
        differ from the populated vmemmap (stored to, or on a frame that is not the page's
        own populated frame)."""
        out: set[int] = set()
        shift, size, base = self.config.page_shift, self.folio.size, self.folio.vmemmap_base
        for k in range(self.config.vmemmap_pages):
            vpage = self.first_vpage + k
            pte = self.pte(state, vpage)
            if pte is None:
                continue
            start = vpage << shift
            content = self.content(state, pte.frame)
            if content.origin[0] != "populated" or content.origin[1] != vpage:
                first = start + (word * WORD - (start - base)) % size
                out.update(range(first, start + self.config.page_size, size))
                continue
            for off in _written_offsets(content):
                if ((start | off) - base) % size == word * WORD:
                    out.add(start | off)
        return out

    def raw_flag(self, state: KState, pfn: int) -> bool:
        return self.test_flag(state, r.pfn_to_page(self.view(state), pfn), sp.PG_HWPOISON)

    def reported_hwpoison(self, state: KState) -> tuple[frozenset[int], bool]:
        """(pfns the kernel says are poisoned, whether that is a conservative over-report).

        While the folio is hugetlb the policy's record answers (is_raw_hwpoison_page_in_hugepage()
        from 6.5; the head index / head flag before); otherwise PageHWPoison() of the raw pages
        (also what /proc/kpageflags KPF_HWPOISON exports)."""
        head_pfn, head = self.folio.head_pfn, self.page(0)
        pol = self.policies.hwpoison
        if state.hugetlb and pol is not Hwpoison.RAW_FLAG:
            if not self.test_flag(state, head, sp.PG_HWPOISON):
                return frozenset(), False
            if pol is Hwpoison.HEAD_INDEX:
                return frozenset({head_pfn + self.read(state, self.page(4) + sp.W_PRIVATE * WORD)}), False
            if pol is Hwpoison.HEAD_FLAG or state.raw_hwp_unreliable:
                return frozenset(range(head_pfn, head_pfn + self.nr)), True
            return frozenset(state.raw_hwp), False
        in_folio = range(head_pfn, head_pfn + self.nr)
        if self.scheme.memory_model is MemoryModel.DEDUP_POINTERS:
            candidates = set(in_folio)
        else:  # a flag can only be set where a word differs from the populated vmemmap
            candidates = set(state.injected) | {head_pfn}
            base, size = self.folio.vmemmap_base, self.folio.size
            for vaddr in self.touched_vaddrs(state, sp.W_FLAGS):
                rel = (vaddr - base) & MASK64
                if rel // size in in_folio:
                    candidates.add(rel // size)
        reported = {pfn for pfn in candidates if self.raw_flag(state, pfn)}
        return frozenset(reported), False


def _ranges(pages: list[int]) -> str:
    """[1, 2, 3, 5] -> "1..3, 5"."""
    out: list[str] = []
    for p in pages:
        if out and out[-1].split("..")[-1] == str(p - 1):
            out[-1] = f"{out[-1].split('..')[0]}..{p}"
        else:
            out.append(str(p))
    return ", ".join(out)


def _written_offsets(content: Content) -> set[int]:
    out = set(content.writes)
    origin = content.origin
    if origin[0] == "copy":
        parent, reset = origin[1], origin[2]
        assert isinstance(parent, Content) and isinstance(reset, int)
        for off in _written_offsets(parent):
            out.add(off)
            if reset <= off < 2 * reset:
                out.add(off - reset)
    return out


@dataclass(frozen=True)
class View:
    """A KState seen through the interfaces hvo_verify.model.readers (VmemmapView) and
    hvo_verify.model.diagram (VmemmapPages) expect."""

    machine: Machine
    state: KState

    @property
    def folio(self) -> Folio:
        return self.machine.folio

    @property
    def config(self) -> KernelConfig:
        return self.machine.config

    @property
    def optimized(self) -> bool:
        return self.state.optimized

    @property
    def first_vpage(self) -> int:
        return self.machine.first_vpage

    @property
    def freed(self) -> frozenset[FrameId]:
        return self.state.freed

    @property
    def allocated(self) -> frozenset[FrameId]:
        return self.state.allocated

    def read_word(self, vaddr: int) -> int:
        return self.machine.read(self.state, vaddr)

    def pte(self, vpage: int) -> Pte | None:
        return self.machine.pte(self.state, vpage)

    def frame(self, frame_id: FrameId) -> Frame:
        content = self.machine.content(self.state, frame_id)
        while content.origin[0] == "copy":
            parent = content.origin[1]
            assert isinstance(parent, Content)
            content = parent
        if content.origin[0] == "populated":
            vpage = content.origin[1]
            assert isinstance(vpage, int)
            return Frame(vpage)
        return Frame(None)
