# SPDX-License-Identifier: GPL-2.0-only
"""The arbitrary state an inductive step starts from (check/induction.py), and the
built-in lemmas that constrain it.

`ArbitraryStart` makes a `SymKState` of fresh variables for `Unrolling(start=...)`,
constrained only by the domain of each field (`domain()`: a pool state, subpage indexes
below nr_pages, an I/O buffer inside the folio) and by the lemmas.  A bounded list
(raw_hwp, injected, subpage_maps) can only be finite here: its writers (`LIST_WRITERS`)
must be out of the alphabet (the list stays empty) or limited by `max_calls` (it holds
at most that many entries, a built-in lemma); otherwise `list_caps()` says why the
unbounded proof is not attempted.  Ghost counters `start_calls_<op>` carry the calls
made before the arbitrary state, so `max_calls` limits whole runs, not only the window.

`BUILTIN_LEMMAS` are facts of every reachable state, with their kernel justification;
check/induction.py proves them (initially and preserved, together with the invariant)
before it relies on them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import z3

from hvo_verify.encode import readers
from hvo_verify.encode.lemmas import level_after
from hvo_verify.encode.memory import Page
from hvo_verify.encode.ops.enabled import abstractly_reachable
from hvo_verify.encode.ops.state import POOL, Slots, SymIo, SymKState
from hvo_verify.encode.ops.unroll import Unrolling
from hvo_verify.encode.terms import BITS, BV, TRUE, B, bv
from hvo_verify.model.scheme import FolioKind
from hvo_verify.ops.state import Pool
from hvo_verify.ops.table import OPS

# list field -> the step functions that append to it (encode/ops/hwpoison.py memory_failure():
# the ghost `injected` and hugetlb_update_hwpoison()'s raw_hwp_page list, mm/memory-failure.c;
# encode/ops/pageflags.py page_add_file_rmap(), mm/rmap.c).  tests/unit/test_induction.py
# checks that no other step function calls insert().
LIST_WRITERS: dict[str, tuple[str, ...]] = {
    "injected": ("memory_failure",),
    "raw_hwp": ("memory_failure",),
    "subpage_maps": ("page_add_file_rmap",),
}


def writer_ops(alphabet: tuple[str, ...], list_name: str) -> tuple[str, ...]:
    """The operations of `alphabet` that run a writer of the list."""
    writers = LIST_WRITERS[list_name]
    return tuple(op for op in alphabet if any(s.name in writers for s in OPS[op].steps))


def list_caps(alphabet: tuple[str, ...], max_calls: tuple[tuple[str, int], ...]) -> dict[str, int | None]:
    """Entries each list can hold in a reachable state; None where no max_calls limits a
    writer (the list grows without bound: check/induction.py then requires that its
    contents influence neither the invariant nor the steps, `UNLIMITED_SLOTS` stand for it)."""
    limits = dict(max_calls)
    caps: dict[str, int | None] = {}
    for name in LIST_WRITERS:
        ops = writer_ops(alphabet, name)
        caps[name] = None if any(op not in limits for op in ops) else sum(limits[op] for op in ops)
    return caps


UNLIMITED_SLOTS = 1


@dataclass
class ArbitraryStart:
    """Fresh state variables for an unrolling from an arbitrary state (`__call__` is
    Unrolling's `start`); `calls0` the calls made before it, per max_calls operation."""

    caps: dict[str, int | None]
    max_calls: tuple[tuple[str, int], ...]
    state: SymKState | None = None
    calls0: dict[str, BV] = field(default_factory=dict)

    def __call__(self, u: Unrolling) -> SymKState:
        def slots(name: str) -> Slots:
            return tuple((z3.Bool(f"start_{name}_valid{n}"), z3.BitVec(f"start_{name}{n}", BITS))
                         for n in range(u.list_len))  # fmt: skip

        hugetlb_kind = u.scheme.folio_kind is FolioKind.HUGETLB
        self.state = SymKState(
            optimized=u.remaps[0].optimize,
            hugetlb=z3.Bool("start_hugetlb") if hugetlb_kind else z3.BoolVal(False),
            pool=z3.BitVec("start_pool", BITS),
            raw_hwp=slots("raw_hwp"),
            raw_hwp_unreliable=z3.Bool("start_raw_hwp_unreliable"),
            mapped=z3.Bool("start_mapped"),
            dissolve_pfn=(z3.Bool("start_dissolve_called"), z3.BitVec("start_dissolve_pfn", BITS)),
            io=SymIo(z3.Bool("start_io"), z3.BitVec("start_io_offset", BITS), z3.BitVec("start_io_length", BITS),
                     z3.Bool("start_io_pin"), z3.Bool("start_io_submitted"), z3.BitVec("start_io_page0", BITS)),
            subpage_maps=slots("subpage_maps"),
            injected=slots("injected"),
            refs=z3.BitVec("start_refs", BITS),
            pins=z3.BitVec("start_pins", BITS),
        )  # fmt: skip
        self.calls0 = {op: z3.BitVec(f"start_calls_{op}", BITS) for op, _n in self.max_calls}
        return self.state

    def domain(self, u: Unrolling) -> list[B]:
        """The type and range of each field (no relation between fields: those are lemmas)."""
        s = self.state
        assert s is not None
        out: list[B] = [z3.ULT(s.pool, len(Pool))]
        for name in LIST_WRITERS:
            for n, (valid, x) in enumerate(getattr(s, name)):
                cap = self.caps[name]
                cap = UNLIMITED_SLOTS if cap is None else cap
                out.append(z3.Implies(valid, z3.ULT(x, u.nr)) if n < cap else z3.Not(valid))
        out.append(z3.Implies(s.dissolve_pfn[0], z3.ULT(s.dissolve_pfn[1], u.nr)))
        io, m, folio_bytes = s.io, u.m, u.nr * u.page_size
        out.append(z3.Implies(io.present, z3.And(
            io.offset & (m.io_align - 1) == 0, io.length & (m.io_align - 1) == 0, z3.ULT(io.offset, folio_bytes),
            z3.UGE(io.length, m.io_align), z3.ULE(io.length, m.io_max), z3.ULE(io.offset + io.length, folio_bytes))))  # fmt: skip
        for op, n in self.max_calls:  # the whole run's calls stay within max_calls
            calls = z3.Sum([z3.If(st.op == u.alphabet.index(op), bv(1), bv(0)) for st in u.steps])
            out += [z3.ULE(self.calls0[op], n), z3.ULE(self.calls0[op] + calls, n)]
        return out

    def calls_after(self, u: Unrolling, op: str, t: int) -> BV:
        """Calls of `op` before the arbitrary state and in steps 1..t."""
        return self.calls0[op] + z3.Sum([bv(0), *(z3.If(st.op == u.alphabet.index(op), bv(1), bv(0))
                                                  for st in u.steps[:t])])  # fmt: skip


# A built-in lemma over the state after step t: (unrolling, its start or None for an
# unrolling from the initial state, t, the state) -> term.
LemmaFn = Callable[[Unrolling, ArbitraryStart | None, int, SymKState], B]


@dataclass(frozen=True)
class BuiltinLemma:
    name: str
    text: str  # in kernel terms
    why: str  # the kernel justification
    term: LemmaFn


def _abstract(u: Unrolling, _start: ArbitraryStart | None, _t: int, s: SymKState) -> B:
    return abstractly_reachable(u.m, u.alphabet, s)


def _io_page0(u: Unrolling, _start: ArbitraryStart | None, t: int, s: SymKState) -> B:
    io = s.io
    with u.at_level(level_after(u, t)):
        page = readers.pfn_to_page(u.memory(t, s.optimized), z3.LShR(io.offset, u.shift)).rel
    return z3.Implies(io.present, io.page0 == page)


def _lists_bounded(u: Unrolling, start: ArbitraryStart | None, t: int, s: SymKState) -> B:
    out: list[B] = []
    for name in LIST_WRITERS:
        if start is not None and start.caps[name] is None:
            continue  # no bound: its contents must not matter (check/induction.py)
        entries: Slots = getattr(s, name)
        count = z3.Sum([bv(0), *(z3.If(v, bv(1), bv(0)) for v, _x in entries)])
        ops = writer_ops(u.alphabet, name)
        if start is None:  # from the initial state: bounded by the calls in steps 1..t
            calls = z3.Sum([bv(0), *(z3.If(st.op == u.alphabet.index(op), bv(1), bv(0))
                                     for st in u.steps[:t] for op in ops)])  # fmt: skip
        else:
            calls = z3.Sum([bv(0), *(start.calls_after(u, op, t) for op in ops)])
        out.append(z3.ULE(count, calls))
    return z3.And(out)


BUILTIN_LEMMAS: tuple[BuiltinLemma, ...] = (
    BuiltinLemma(
        "abstract-state",
        "(pool, optimized, hugetlb, mapped, io, io_pinned, io_submitted) is a combination some sequence reaches",
        "each operation's preconditions and abstract effects (ops/table.py Guard, Step.outcomes, each with its "
        "kernel citation), explored to a fixpoint (encode/ops/enabled.py reachable_abstract())",
        _abstract,
    ),
    BuiltinLemma(
        "io-page0",
        "io -> the first page of the I/O is pfn_to_page(folio_pfn + io_offset >> PAGE_SHIFT)",
        "GUP hands out the subpage's struct page computed from the PMD, never read from the vmemmap: "
        "6.1 mm/gup.c:2739 gup_huge_pmd() page = nth_page(pmd_page(orig), (addr & ~PMD_MASK) >> PAGE_SHIFT); "
        "6.12 mm/gup.c:495 record_subpages() start_page = nth_page(page, (addr & (sz - 1)) >> PAGE_SHIFT), "
        "called by gup_fast_pmd_leaf()",
        _io_page0,
    ),
    BuiltinLemma(
        "lists-bounded",
        "nr_raw_hwp, nr_injected <= memory_failure() calls so far; nr_subpage_maps <= page_add_file_rmap() calls",
        "each call appends at most one entry: mm/memory-failure.c hugetlb_update_hwpoison() adds one "
        "raw_hwp_page per call (6.1 :1768, 6.12 :1977 llist_add()); page_add_file_rmap() maps one subpage; "
        "the ghost `injected` records the one pfn memory_failure() was called on",
        _lists_bounded,
    ),
)


def builtin_terms(u: Unrolling, start: ArbitraryStart | None, t: int, s: SymKState) -> list[tuple[str, B]]:
    return [(lemma.name, lemma.term(u, start, t, s)) for lemma in BUILTIN_LEMMAS]


def reached(u: Unrolling, t: int) -> B:
    """The state after step t is reached: steps 1..t ran without an oops (t = 0: always)."""
    if t == 0:
        return TRUE
    st = u.steps[t - 1]
    return z3.And(st.alive, st.enabled, z3.Not(st.fault))


__all__ = ["POOL", "Page"]
