# SPDX-License-Identifier: GPL-2.0-only
"""The kernel's operations on one HugeTLB (or Device-DAX) folio, concretely.

`Machine.apply(state, op, args)` runs one operation of ops/table.py `OPS` the way the
kernel of the policies' version does: its steps in order, each a function of the same
name in ops/<subsystem>.py, on a `Cpu` that holds the state and offers the primitives
the steps are built from (read, store, atomic add, flag update and test, remap).  It
returns the new state with what the operation did in kernel terms (`lines`), the stores
it made (`writes`), and a fault when an access would oops.  Nothing here knows about z3;
encode/ops/ is the same semantics in closed form, and every BMC counterexample is
replayed here before it is printed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from hvo_verify.errors import VmemmapFault
from hvo_verify.model import readers
from hvo_verify.model.config import KernelConfig
from hvo_verify.model.facts import MASK64, W_COUNTS, W_FLAGS, W_FOLIO_COUNTS, WORD
from hvo_verify.model.policy import Node, Policies, RestoreGfp, VmemmapFrames
from hvo_verify.model.remap import populate, vmemmap_remap_alloc, vmemmap_remap_free
from hvo_verify.model.scheme import FolioKind, Scheme
from hvo_verify.model.structpage import Folio
from hvo_verify.model.vmemmap import Pte, Write
from hvo_verify.ops import gup, hwpoison, pageflags, pool
from hvo_verify.ops.state import Fault, FaultKind, KState, Outcome, Pool
from hvo_verify.ops.table import OPS, Arg, ArgKind, Guard

Args = Mapping[str, int | bool]
StepFn = Callable[["Cpu"], None]

# The step functions, by subsystem file (ops/table.py Step.subsystem).
SUBSYSTEMS = {"pool": pool, "hwpoison": hwpoison, "gup": gup, "pageflags": pageflags}


def step_function(subsystem: str, name: str) -> StepFn:
    fn: StepFn = getattr(SUBSYSTEMS[subsystem], name)
    return fn


@dataclass
class Cpu:
    """One CPU running one operation: the state it changes and the primitives it uses.
    A fault (VmemmapFault) ends the operation; `stop()` is the kernel function's early
    return (the operation's later steps do not run)."""

    m: Machine
    state: KState
    args: Args
    op: str
    lines: list[str] = field(default_factory=list)
    writes: list[Write] = field(default_factory=list)
    restored: bool = False
    to_buddy: bool = False
    stopped: bool = False
    unfreeable: str | None = None  # why a frame this operation freed is not a free order-0 page
    restore_refused: bool = False  # the allocator had pages, but not where the gfp mask allows

    # -- primitives ------------------------------------------------------------------------
    def read(self, vaddr: int) -> int:
        """READ_ONCE() of a vmemmap word."""
        return self.state.vmemmap.read_word(vaddr)

    def store(self, vaddr: int, value: int) -> None:
        """WRITE_ONCE() of a vmemmap word (also recorded in the never-optimized shadow)."""
        vm, write = self.state.vmemmap.write_word(vaddr, value)
        shadow = {**self.state.shadow, vaddr: value & MASK64}
        self.state = replace(self.state, vmemmap=vm, shadow=shadow)
        self.writes.append(write)

    def atomic_add(self, vaddr: int, delta: int, high: bool) -> None:
        """atomic_add() on one 32-bit half of a word (_refcount, _mapcount, _pincount)."""
        word = self.read(vaddr)
        shift = 32 if high else 0
        half = ((word >> shift) + delta) & 0xFFFFFFFF
        self.store(vaddr, (word & ~(0xFFFFFFFF << shift) & MASK64) | (half << shift))

    def test_flag(self, page: int, bit: int) -> bool:
        """test_bit(bit, &page->flags)."""
        return bool(self.read(page + W_FLAGS * WORD) >> bit & 1)

    def set_flag(self, page: int, bit: int, on: bool, *, rmw: bool = False) -> None:
        """`if (test_bit()) clear_bit()`-style updates store only on a change; atomic
        read-modify-writes (`rmw`: SetPageHWPoison, TestSetPageHWPoison) always store."""
        word = self.read(page + W_FLAGS * WORD)
        if bool(word >> bit & 1) == on and not rmw:
            return
        self.store(page + W_FLAGS * WORD, word | (1 << bit) if on else word & ~(1 << bit))

    def remap_free(self, alloc_ok: bool) -> None:
        """The scheme's vmemmap_remap_free() on the folio (PTE changes, frames freed).
        Where the vmemmap is self-hosted and the kernel checks PageVmemmapSelfHosted, HVO
        is a no-op (bug B4); otherwise a freed frame that is self-hosted, or a piece of a
        hot-added PMD block the split did not split_page() (bug B2), is `unfreeable`."""
        pol = self.m.policies
        self_hosted = pol.vmemmap_frames is VmemmapFrames.MEMMAP_ON_MEMORY
        if self_hosted and pol.self_hosted_check:
            self.say("PageVmemmapSelfHosted(vmemmap page): HVO is a no-op (66361095129b)")
            return
        before = self.state.vmemmap.freed
        vm, lines = vmemmap_remap_free(self.state.vmemmap, split_ok=alloc_ok, head_alloc_ok=alloc_ok)
        self.state = replace(self.state, vmemmap=vm)
        self.lines.extend(lines)
        if vm.freed - before:
            config = self.m.config
            unsplit = pol.vmemmap_frames is VmemmapFrames.HOTPLUG and config.vmemmap_pmd_mapped
            if self_hosted:
                self.unfreeable = (
                    "vmemmap frames inside the hot-added range they describe (PageVmemmapSelfHosted) freed"
                )
            elif unsplit and not pol.split_pmd_block:
                order = (config.pmd_size // config.page_size).bit_length() - 1
                self.unfreeable = (f"vmemmap frames freed one by one are pieces of an order-{order} buddy "
                                   "block never split_page()d (their refcount is 0)")  # fmt: skip

    def remap_alloc(self, alloc_ok: bool) -> bool:
        """vmemmap_remap_alloc(): restore the vmemmap; False when the allocation failed.
        `alloc_ok`: the allocator has order-0 pages for GFP_KERNEL on some node; with
        __GFP_THISNODE on a movable-only node none of them may be used (bug B7)."""
        pol = self.m.policies
        if alloc_ok and pol.restore_gfp is RestoreGfp.THISNODE and pol.node is Node.MOVABLE_ONLY:
            self.say("alloc_pages_node(nid, ...|__GFP_THISNODE): the node has only ZONE_MOVABLE")
            self.restore_refused = True
            alloc_ok = False
        reset = self.m.scheme.facts.nr_reset_struct_page * self.m.folio.size if pol.restore_reset else 0
        vm, lines, ok = vmemmap_remap_alloc(self.state.vmemmap, alloc_ok=alloc_ok, reset=reset)
        self.lines.extend(lines)
        if ok:
            self.state = replace(self.state, vmemmap=vm, restored=True)
            self.restored = True
        return ok

    def free_to_buddy(self) -> None:
        """The folio's pages go back to the buddy allocator (hwpoison-freed is about this)."""
        self.to_buddy = True

    def update(self, **fields: object) -> None:
        """Change scalar state (pool, flags, raw_hwp list, I/O, ghosts)."""
        self.state = replace(self.state, **fields)  # type: ignore[arg-type]

    def say(self, line: str) -> None:
        self.lines.append(line)

    def stop(self) -> None:
        """The kernel function returns early: the operation's later steps do not run."""
        self.stopped = True

    # -- helpers the steps share -------------------------------------------------------------
    def page_folio(self, page: int) -> int:
        """page_folio(page): compound_head() through the vmemmap."""
        return readers.compound_head(self.state.vmemmap, page)

    def folio_put_refs(self, folio: int, n: int) -> None:
        """folio_put_refs(): when the count reaches 0, free_huge_folio() puts it back on the pool."""
        self.atomic_add(folio + W_COUNTS * WORD, -n, True)
        if self.m.refcount(self.state, folio) == 0 and folio == self.m.page(0) and self.state.pool is Pool.IN_USE:
            self.say("refcount 0: free_huge_folio() -> hstate free list")
            self.update(pool=Pool.FREE)


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
        vm = populate(self.folio)
        if optimized or (not hugetlb and self.scheme.optimizes):
            vm = vmemmap_remap_free(vm, split_ok=True, head_alloc_ok=True)[0]
        return KState(vm, hugetlb, Pool.FREE if hugetlb else Pool.IN_USE, mapped=not hugetlb)

    # -- reading the state -----------------------------------------------------------------
    def read(self, state: KState, vaddr: int) -> int:
        return state.vmemmap.read_word(vaddr)

    def pte(self, state: KState, vpage: int) -> Pte | None:
        return state.vmemmap.pte(vpage)

    def shadow_read(self, state: KState, vaddr: int) -> int:
        """The word at vaddr in a vmemmap that was never optimized (same logical stores)."""
        if vaddr in state.shadow:
            return state.shadow[vaddr]
        return state.vmemmap.populated(vaddr)

    def refcount(self, state: KState, page: int) -> int:
        return self.read(state, page + W_COUNTS * WORD) >> 32

    def pincount(self, state: KState) -> int:
        return self.read(state, self.page(1) + W_FOLIO_COUNTS * WORD) >> 32

    def test_flag(self, state: KState, page: int, bit: int) -> bool:
        return bool(self.read(state, page + W_FLAGS * WORD) >> bit & 1)

    def name(self, page: int) -> str:
        rel = (page - self.folio.head) & MASK64
        if rel % self.folio.size == 0 and rel // self.folio.size < self.nr:
            i = rel // self.folio.size
            return "head" if i == 0 else f"head+{i}"
        return f"{page:#x}"

    def io_range(self, offset: int, length: int) -> tuple[int, int]:
        """(first subpage, number of pages) a user buffer spans."""
        shift = self.config.page_shift
        first = offset >> shift
        return first, ((offset + length - 1) >> shift) - first + 1

    # -- preconditions (ops/table.py Guard, concretely) ------------------------------------------
    def holds(self, guard: Guard, state: KState) -> bool:
        io = state.io
        match guard:
            case Guard.HUGETLB_FOLIO:
                return self.scheme.folio_kind is FolioKind.HUGETLB
            case Guard.SCHEME_OPTIMIZES:
                return self.scheme.optimizes
            case Guard.IN_FREE_POOL:
                return state.pool is Pool.FREE and state.hugetlb
            case Guard.NOT_OPTIMIZED:
                return not state.optimized
            case Guard.OPTIMIZED:
                return state.optimized
            case Guard.REMOVED:
                return state.pool is Pool.REMOVED
            case Guard.MAPPED:
                return state.mapped
            case Guard.MAPPED_IF_HUGETLB:
                return state.mapped or self.scheme.folio_kind is not FolioKind.HUGETLB
            case Guard.NO_IO:
                return io is None
            case Guard.IO_UNSUBMITTED:
                return io is not None and not io.submitted
            case Guard.IO_PINNED:
                return io is not None and io.pin
            case Guard.IO_GOT:
                return io is not None and not io.pin

    def enabled(self, state: KState, op: str) -> bool:
        """The operation's precondition (the state the kernel calls it in)."""
        return all(self.holds(g, state) for g in OPS[op].guard)

    # -- running an operation ------------------------------------------------------------------
    def apply(self, state: KState, op: str, args: Args) -> Outcome:
        """Run `op`'s steps; a VmemmapFault becomes an Outcome with `fault` set (the kernel oopses there)."""
        cpu = Cpu(self, state, args, op)
        try:
            for step in OPS[op].steps:
                step_function(step.subsystem, step.name)(cpu)
                if cpu.stopped:
                    break
        except VmemmapFault as exc:
            kind = FaultKind.RO_WRITE if str(exc).startswith("store") else FaultKind.READ
            cpu.say(f"oops: {exc}")
            return Outcome(cpu.state, tuple(cpu.lines), tuple(cpu.writes), Fault(kind, str(exc)))
        return Outcome(cpu.state, tuple(cpu.lines), tuple(cpu.writes), None, cpu.restored, cpu.to_buddy,
                       cpu.unfreeable, cpu.restore_refused)  # fmt: skip

    # -- argument domains (exploration and explicit-state search) -------------------------------
    def arg_values(self, arg: Arg) -> range | tuple[bool, ...]:
        size = self.nr * self.config.page_size
        match arg.kind:
            case ArgKind.BOOL:
                return (True, False)
            case ArgKind.SUBPAGE:
                return range(self.nr)
            case ArgKind.OFFSET:
                return range(0, size, self.io_align)
            case ArgKind.LENGTH:
                return range(self.io_align, self.io_max + 1, self.io_align)
            case ArgKind.WORD:
                return range(self.folio.size // WORD)

    def args_ok(self, op: str, args: Args) -> bool:
        """Argument constraints beyond each domain: the buffer lies inside the folio."""
        if "offset" in args:
            return int(args["offset"]) + int(args["length"]) <= self.nr * self.config.page_size
        return True
