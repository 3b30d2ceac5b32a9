# SPDX-License-Identifier: GPL-2.0-only
"""The concrete kernel model and its z3 unrolling in lockstep on one concrete trace.

A `Case` is a machine (config, scheme, policies, I/O limits), an operation alphabet and
a short sequence of operations with their arguments.  `compare()` runs it on the
concrete model (ops/machine.py), pins the unrolling (encode/ops/unroll.py) to exactly
those steps, solves once (everything is then determined), and compares, after every
step, what each side says:

* whether the operation is enabled, whether it oopses (read or write fault), whether it
  restored the vmemmap or freed the folio to buddy;
* the scalar state (KState against SymKState, field by field: pool, flags, the raw_hwp
  list, the I/O in flight, the ghosts);
* every word of a sample of struct pages (the head, page[1..5], the first struct pages
  of each vmemmap page, where v5.18's fake heads are, the last one, the subpages the
  trace names) and whether reading it faults;
* the struct page readers on the same pages (compound_head, PageHead, PageTail, the fake
  head fix-up, PageHuge, page_to_pfn, ...) and pfn_to_page() of each sampled subpage;
* each vmemmap PTE of the folio: present or not, writable or not, its frame kind, and
  which PTEs share a frame;
* every operation invariant (two more queries: the invariants' witnesses are free).

Any disagreement is a line of text; agreement is None.  This is the cheap direct
comparison of the two layers the mutation self-check uses to kill a mutant planted in
one layer only (selfcheck/onelayer.py): no spec, no proof, one pinned unrolling
(0.1-2 s a case).  `CASES` is the fixed seed set: every operation, every hwpoison
policy, fake heads (v5.18), a head-copying scheme, willy's dedup-pointers reading.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import z3

from hvo_verify.check.solver import Status, new_solver, solve
from hvo_verify.encode import readers as sym_readers
from hvo_verify.encode.invariants.reachable import violation_at
from hvo_verify.encode.memory import Page, Read
from hvo_verify.encode.ops.memory import K_MASK, frame_tag
from hvo_verify.encode.ops.state import POOL, SymKState
from hvo_verify.encode.ops.unroll import StepMemory, Unrolling
from hvo_verify.encode.terms import BV, B, bv
from hvo_verify.errors import VmemmapFault
from hvo_verify.invariants.reachable import OP_INVARIANTS
from hvo_verify.invariants.replay import check_step
from hvo_verify.model import readers
from hvo_verify.model.config import parse_config_id
from hvo_verify.model.facts import WORD, FrameKind
from hvo_verify.model.policy import (
    Arch1,
    GupRefs,
    HugetlbClear,
    Hwpoison,
    Mapcount,
    Node,
    VmemmapFrames,
    default_policies,
)
from hvo_verify.model.scheme import PRESETS, MemoryModel, Scheme
from hvo_verify.ops.machine import Machine
from hvo_verify.ops.state import USER_BASE, FaultKind, KState, Outcome

Call = tuple[str, tuple[tuple[str, int | bool], ...]]


@dataclass(frozen=True)
class Case:
    """One concrete trace on one machine.  `scheme` is a preset name (looked up when the
    case runs, so a patched preset is seen) or a Scheme; `policies` are changes to the
    scheme's default policies."""

    config: str
    scheme: str | Scheme
    alphabet: tuple[str, ...]
    steps: tuple[Call, ...]
    policies: tuple[tuple[str, object], ...] = ()
    io_max: int = 0x4000
    io_align: int = 512

    def machine(self) -> Machine:
        config = parse_config_id(self.config)[0]
        scheme = PRESETS[self.scheme] if isinstance(self.scheme, str) else self.scheme
        pol = dataclasses.replace(default_policies(scheme), **dict(self.policies))  # type: ignore[arg-type]
        return Machine.canonical(config, scheme, pol, self.io_max, self.io_align)

    def describe(self) -> str:
        name = self.scheme if isinstance(self.scheme, str) else self.scheme.name
        calls = "; ".join(f"{op}({', '.join(f'{k}={v}' for k, v in args)})" for op, args in self.steps)
        pol = "".join(f" {k}={getattr(v, 'name', v)}" for k, v in self.policies)
        return f"[{self.config} {name}{pol}] {calls}"


def case(
    config: str, scheme: str | Scheme, steps: Sequence[tuple[str, dict[str, int | bool]]], **policies: object
) -> Case:
    """A case whose alphabet is the operations it calls."""
    calls = tuple((op, tuple(args.items())) for op, args in steps)
    alphabet = tuple(dict.fromkeys(op for op, _args in steps))
    return Case(config, scheme, alphabet, calls, tuple(policies.items()))


def _sample(m: Machine, steps: Sequence[Call]) -> list[int]:
    """Subpage indices whose struct pages are compared: the head and its first tails,
    the first struct pages of each vmemmap page and their neighbours (v5.18's fake
    heads are the page-aligned ones), the last, and every subpage the trace names."""
    per = max(1, m.config.page_size // m.folio.size)
    picks = {0, 1, 2, 3, 4, 5, m.nr - 1}
    for k in range(1, min(m.config.vmemmap_pages, 4) + 1):
        picks |= {k * per - 1, k * per, k * per + 1}
    for _op, args in steps:
        picks |= {int(v) for k, v in args if k == "i"}
    return sorted(p for p in picks if 0 <= p < m.nr)


# ---------------------------------------------------------------- the concrete side


@dataclass
class _Concrete:
    enabled: list[bool]
    before: list[KState]
    outcomes: list[Outcome]


def _run_concrete(m: Machine, steps: Sequence[Call]) -> _Concrete:
    """Run until an operation is not enabled (that step is kept: z3 must agree it is
    not) or oopses."""
    state = m.initial()
    out = _Concrete([], [], [])
    for op, args in steps:
        ok = m.enabled(state, op) and m.args_ok(op, dict(args))
        out.enabled.append(ok)
        if not ok:
            break
        outcome = m.apply(state, op, dict(args))
        out.before.append(state)
        out.outcomes.append(outcome)
        if outcome.fault is not None:
            break
        state = outcome.state
    return out


def _try(fn: Callable[..., object], *args: object) -> object:
    """fn(*args), or "fault" where the concrete model oopses (VmemmapFault)."""
    try:
        return fn(*args)
    except VmemmapFault:
        return "fault"


# ---------------------------------------------------------------- the comparison


class _Ask:
    """Terms evaluated in the one model of the pinned unrolling."""

    def __init__(self, model: z3.ModelRef) -> None:
        self.model = model

    def __call__(self, term: z3.ExprRef) -> int | bool:
        value = self.model.eval(term, model_completion=True)
        if z3.is_bool(value):
            return z3.is_true(value)
        return int(value.as_long())


def compare(c: Case, *, invariants: bool | None = None, timeout_ms: int = 60_000) -> str | None:
    """None when the two layers agree after every step of `c`, else what differs first.
    `invariants` None: compared where the case submits a bio (the DMA segments are not
    z3 state: dma-exact is where the two layers' DMA meets)."""
    if invariants is None:
        invariants = any(op == "submit_bio" for op, _args in c.steps)
    m = c.machine()
    conc = _run_concrete(m, c.steps)
    n = len(conc.enabled)
    u = Unrolling(m, c.alphabet, n)
    pins: list[z3.BoolRef] = []
    where = c.describe()
    for t, (op, args) in enumerate(c.steps[:n], start=1):
        if op not in u.possible[t - 1]:
            if conc.enabled[t - 1]:
                return f"step {t} {op}: the unrolling prunes it, the concrete model runs it: {where}"
            return None  # both say it cannot run here
        st = u.steps[t - 1]
        pins.append(st.op == c.alphabet.index(op))
        for name, value in args:
            var = st.args[name]
            pins.append(var == value if isinstance(value, bool) else var == bv(int(value)))
    terms: dict[tuple[str, int], z3.BoolRef] = {}
    if invariants:
        terms = {(inv, t): violation_at(u, inv, t) for t in range(1, n + 1) for inv in OP_INVARIANTS}
    base = [*u.placement, *u.side, *u.sym.side, *pins]
    solver = new_solver(timeout_ms)
    solver.add(*base)
    status, why, _took = solve(solver)
    if status is Status.UNKNOWN:
        return None  # never a disagreement (the self-check counts kills only)
    if status is Status.UNSAT:
        return f"the unrolling admits no run of the concrete trace: {where}"
    ask = _Ask(solver.model())
    sample = _sample(m, c.steps)
    # words and readers after the last step that left a state (one before an oops)
    full = len(conc.outcomes) - (1 if conc.outcomes and conc.outcomes[-1].fault is not None else 0)
    for t in range(1, n + 1):
        problem = _step(m, u, t, conc, ask, sample if t == full else ())
        if problem is not None:
            return f"after step {t} ({c.steps[t - 1][0]}): {problem}: {where}"
        if not conc.enabled[t - 1] or conc.outcomes[t - 1].fault is not None:
            break
    if invariants:
        return _invariants(m, u, conc, terms, base, timeout_ms, where)
    return None


def _step(m: Machine, u: Unrolling, t: int, conc: _Concrete, ask: _Ask, sample: Sequence[int]) -> str | None:
    st = u.steps[t - 1]
    with u.at_level(st.level):
        if ask(st.enabled) != conc.enabled[t - 1]:
            return f"enabled: concrete {conc.enabled[t - 1]}, z3 {not conc.enabled[t - 1]}"
        if not conc.enabled[t - 1]:
            return None
        out = conc.outcomes[t - 1]
        fault = out.fault
        got = (ask(st.read_fault) and not ask(st.write_fault), ask(st.write_fault))
        want = (
            fault is not None and fault.kind is FaultKind.READ,
            fault is not None and fault.kind is FaultKind.RO_WRITE,
        )
        if (fault is None) != (not ask(st.fault)) or (fault is not None and got != want and not ask(st.read_fault)):
            return f"fault: concrete {fault}, z3 read {ask(st.read_fault)} write {ask(st.write_fault)}"
        if fault is not None:
            return None
        for name, concrete, symbolic in (
            ("restored", out.restored, st.restored),
            ("to_buddy", out.to_buddy, st.to_buddy),
            ("unfreeable", out.unfreeable is not None, st.unfreeable),
            ("restore_refused", out.restore_refused, st.restore_refused),
        ):
            if concrete != ask(symbolic):
                return f"{name}: concrete {concrete}, z3 {not concrete}"
        memory = _PinnedMemory(u.memory(t, st.after.optimized), u, t, ask) if sample else None
        for problem in itertools.chain(
            _scalars(m, out.state, st.after, ask),
            _ptes(m, u, t, out.state, ask),
            () if memory is None else _words(m, memory, out.state, sample),
            () if memory is None else _readers(m, memory, out.state, sample),
        ):
            return problem
    return None


class _PinnedMemory:
    """The unrolling's memory at step t with every word read once and evaluated in the
    model: the z3 readers (encode/readers.py) then run on constants (no read term per
    reader call: the event chain is walked once per word)."""

    def __init__(self, inner: StepMemory, u: Unrolling, t: int, ask: _Ask) -> None:
        self.inner, self.u, self.t, self.ask = inner, u, t, ask
        self.words: dict[int, tuple[int, bool]] = {}
        self.config, self.scheme, self.size = inner.config, inner.scheme, inner.size

    def word(self, vaddr: int, field: int | None = None) -> tuple[int, bool]:
        if vaddr not in self.words:
            value, fault = self.u.read(self.t, bv(vaddr), field)
            self.words[vaddr] = (int(self.ask(value)), bool(self.ask(fault)))
        return self.words[vaddr]

    def field(self, page: Page, word: int) -> Read:
        value, fault = self.word(_const(page.rel) + word * WORD, word)
        return Read(bv(value), bv(value), z3.BoolVal(fault))

    def vpage_offset(self, page: Page) -> BV:
        return self.inner.vpage_offset(page)

    def absolute(self, page: Page) -> BV:
        return self.inner.absolute(page)

    def from_absolute(self, addr: BV) -> BV:
        return self.inner.from_absolute(addr)

    def subpage(self, i: BV) -> Page:
        return self.inner.subpage(i)

    def vpage_of(self, page: Page) -> BV:
        return self.inner.vpage_of(page)

    def pte_source(self, k: BV) -> tuple[B, BV]:
        return self.inner.pte_source(k)

    def pfn(self, page: Page) -> BV:
        return self.inner.pfn(page)


def _const(term: z3.ExprRef) -> int:
    value = z3.simplify(term)
    assert z3.is_bv_value(value), f"not a constant address: {term}"
    return int(value.as_long())


def _scalars(m: Machine, s: KState, z: SymKState, ask: _Ask) -> Iterator[str]:
    head_pfn = m.folio.head_pfn

    def listed(slots: Sequence[tuple[z3.BoolRef, z3.BitVecRef]]) -> list[int]:
        return sorted(int(ask(x)) for v, x in slots if ask(v))

    io = s.io
    pairs: list[tuple[str, object, object]] = [
        ("optimized", s.optimized, ask(z.optimized)),
        ("hugetlb", s.hugetlb, ask(z.hugetlb)),
        ("pool", POOL[s.pool], ask(z.pool)),
        ("raw_hwp", sorted(p - head_pfn for p in s.raw_hwp), listed(z.raw_hwp)),
        ("raw_hwp_unreliable", s.raw_hwp_unreliable, ask(z.raw_hwp_unreliable)),
        ("mapped", s.mapped, ask(z.mapped)),
        (
            "dissolve_pfn",
            None if s.dissolve_pfn is None else s.dissolve_pfn - head_pfn,
            ask(z.dissolve_pfn[1]) if ask(z.dissolve_pfn[0]) else None,
        ),  # fmt: skip
        ("subpage_maps", sorted(s.subpage_maps), listed(z.subpage_maps)),
        ("injected", sorted(p - head_pfn for p in s.injected), sorted(set(listed(z.injected)))),
        ("refs", s.refs & 0xFFFFFFFFFFFFFFFF, ask(z.refs)),
        ("pins", s.pins & 0xFFFFFFFFFFFFFFFF, ask(z.pins)),
        ("io", io is not None, ask(z.io.present)),
    ]
    if io is not None:
        pairs += [
            ("io.offset", io.uaddr - USER_BASE, ask(z.io.offset)),
            ("io.length", io.length, ask(z.io.length)),
            ("io.pin", io.pin, ask(z.io.pin)),
            ("io.submitted", io.submitted, ask(z.io.submitted)),
            ("io.pages[0]", io.pages[0], ask(z.io.page0)),
        ]
    for name, concrete, symbolic in pairs:
        if concrete != symbolic:
            yield f"{name}: concrete {concrete!r}, z3 {symbolic!r}"


def _ptes(m: Machine, u: Unrolling, t: int, s: KState, ask: _Ask) -> Iterator[str]:
    """Each vmemmap PTE of the folio: present, writable, frame kind, and which share a frame."""
    first = m.first_vpage
    conc: list[object] = []
    sym: list[int] = []
    for k in range(m.config.vmemmap_pages):
        pte = s.vmemmap.pte(first + k)
        frame, writable = u.frame(t, bv(k))
        tag = ask(frame_tag(frame))
        if pte is None:
            if tag != FrameKind.NONE.tag:
                yield f"vmemmap page {k}: concrete unmapped, z3 maps a {FrameKind(tag).label} frame"
            continue
        if tag != pte.frame.kind.tag:
            yield f"vmemmap page {k}: concrete {pte.frame.kind.label} frame, z3 {FrameKind(tag).label}"
        if pte.frame.kind is FrameKind.ORIG and ask(frame & K_MASK) != (pte.frame.n - first) & K_MASK:
            yield f"vmemmap page {k}: concrete maps the frame of page {pte.frame.n - first}, z3 of {ask(frame & K_MASK)}"
        if pte.writable != ask(writable):
            yield f"vmemmap page {k}: writable concrete {pte.writable}, z3 {not pte.writable}"
        conc.append(pte.frame)
        sym.append(int(ask(frame)))
    for a, b in itertools.combinations(range(len(conc)), 2):
        if (conc[a] == conc[b]) != (sym[a] == sym[b]):
            yield f"vmemmap pages {a}, {b}: one frame concrete {conc[a] == conc[b]}, z3 {sym[a] == sym[b]}"


def _words(m: Machine, mem: _PinnedMemory, s: KState, sample: Sequence[int]) -> Iterator[str]:
    for i in sample:
        for w in range(m.folio.size // WORD):
            vaddr = m.page(i) + w * WORD
            concrete = _try(s.vmemmap.read_word, vaddr)
            value, fault = mem.word(vaddr, w)
            symbolic = "fault" if fault else value
            if concrete != symbolic:
                yield f"word {w} of head+{i}: concrete {_show(concrete)}, z3 {_show(symbolic)}"


def _show(v: object) -> str:
    return f"{v:#x}" if isinstance(v, int) and not isinstance(v, bool) else str(v)


_PAGE_READERS = (
    "test_page_head", "page_fixed_fake_head", "compound_head", "page_is_fake_head", "page_head", "page_tail",
    "page_compound", "page_huge", "page_to_pfn", "page_to_phys",
)  # fmt: skip


def _readers(m: Machine, mem: _PinnedMemory, s: KState, sample: Sequence[int]) -> Iterator[str]:
    for i in sample:
        page = m.page(i)
        for name in _PAGE_READERS:
            concrete = _try(getattr(readers, name), s.vmemmap, page)
            got = getattr(sym_readers, name)(mem, Page(bv(page)))
            symbolic = "fault" if mem.ask(got.fault) else mem.ask(got.value)
            if concrete != symbolic:
                yield f"{name}(head+{i}): concrete {_show(concrete)}, z3 {_show(symbolic)}"
        concrete = _try(readers.pfn_to_page, s.vmemmap, m.folio.head_pfn + i)
        symbolic = mem.ask(sym_readers.pfn_to_page(mem, bv(i)).rel)
        if concrete != symbolic:
            yield f"pfn_to_page(head_pfn+{i}): concrete {_show(concrete)}, z3 {_show(symbolic)}"


def _invariants(
    m: Machine,
    u: Unrolling,
    conc: _Concrete,
    terms: dict[tuple[str, int], z3.BoolRef],
    base: Sequence[z3.BoolRef],
    timeout_ms: int,
    where: str,
) -> str | None:
    """Every operation invariant after every step that ran: z3 finds a violation exactly
    where the concrete model reports one."""
    said: dict[tuple[str, int], bool] = {}
    for t, (before, out) in enumerate(zip(conc.before, conc.outcomes, strict=False), start=1):
        for inv in OP_INVARIANTS:
            said[(inv, t)] = check_step(m, before, out, (inv,)) is not None

    def ask(goal: z3.BoolRef) -> tuple[Status, z3.Solver]:
        solver = new_solver(timeout_ms)
        solver.add(*base, goal)
        return solve(solver)[0], solver

    holds = [key for key, bad in said.items() if not bad]
    if holds:
        status, solver = ask(z3.Or([terms[key] for key in holds]))
        if status is Status.SAT:
            model = solver.model()
            found = [k for k in holds if z3.is_true(model.eval(terms[k], model_completion=True))]
            return "; ".join(f"{inv} at step {t}: z3 violated, concrete holds" for inv, t in found) + f": {where}"
    violated = [key for key, bad in said.items() if bad]
    if violated and ask(z3.And([terms[key] for key in violated]))[0] is Status.UNSAT:
        missing = [key for key in violated if ask(terms[key])[0] is Status.UNSAT] or violated
        return "; ".join(f"{inv} at step {t}: concrete violated, z3 holds" for inv, t in missing) + f": {where}"
    return None


def compare_all(cases: Sequence[Case], *, invariants: bool | None = None) -> str | None:
    """The first disagreement over `cases`, or None."""
    for c in cases:
        problem = compare(c, invariants=invariants)
        if problem is not None:
            return problem
    return None


# ---------------------------------------------------------------- the seed cases

_X86, _ARM = "x86-64/4K/2M", "arm64/4K/2M"
_OPT: tuple[str, dict[str, int | bool]] = ("hugetlb_vmemmap_optimize_folio", {"alloc_ok": True})
_ALLOC: tuple[str, dict[str, int | bool]] = ("alloc_hugetlb_folio", {})


def _mf(i: int, ok: bool = True) -> tuple[str, dict[str, int | bool]]:
    return ("memory_failure", {"i": i, "kmalloc_ok": ok})


_DISSOLVE: tuple[str, dict[str, int | bool]] = ("dissolve_free_hugetlb_folio", {"i": 0})
_FREE: tuple[str, dict[str, int | bool]] = ("update_and_free_hugetlb_folio", {"alloc_ok": True})
_DEDUP = dataclasses.replace(PRESETS["v5.14"], name="dedup-pointers", memory_model=MemoryModel.DEDUP_POINTERS)

# Every operation, every hwpoison policy, both mapcount and GUP-reference policies, every
# PG_arch_1 policy, a Device-DAX folio,
# fake heads (v5.18: the page-aligned struct pages of the remapped vmemmap pages), a
# scheme that copies the head (v6.2), the 2026 shared tail page, a failed restore, a
# dedup-pointers GUP.
CASES: tuple[Case, ...] = (
    # cheapest first: a one-layer mutant is usually told apart by the first case that runs it
    case(_X86, "rfc-2020", [_mf(0x41), _mf(2), _DISSOLVE, _FREE], hwpoison=Hwpoison.HEAD_INDEX),
    # the RFC as posted: dissolve moves the flag through the alias, the free path clears the copies
    case(_X86, "rfc-2020", [_OPT, _mf(0x45), ("dissolve_free_hugetlb_folio", {"i": 0x45}), _FREE]),
    # Device-DAX: memory_failure() marks the compound head; PG_arch_1 per folio (v6.6+)
    case(
        _X86,
        "devdax",
        [_mf(0x41), ("sync_icache_dcache", {"i": 0x42}), ("flush_dcache_page", {"i": 0x43})],
        pg_arch_1=Arch1.FOLIO,
    ),  # fmt: skip
    case(_X86, "v5.18", [_OPT, _mf(0x10), _ALLOC]),  # dequeue skips a hwpoisoned folio
    case(_X86, "v6.2", [_OPT, _DISSOLVE, ("update_and_free_hugetlb_folio", {"alloc_ok": False}), _ALLOC]),
    case(
        _X86,
        "v6.1",
        [_OPT, _mf(5, False), _mf(7), _DISSOLVE, _FREE],
        hwpoison=Hwpoison.RAW_HWP_LIST,
        kmalloc_may_fail=True,
    ),  # fmt: skip
    case(_X86, "v6.12.111", [_OPT, _mf(5), _mf(0x41), _mf(5), _DISSOLVE, _FREE]),
    case(_X86, "v5.18", [_OPT, _DISSOLVE, _mf(0x40)], hugetlb_clear=HugetlbClear.BEFORE_RESTORE),
    case(_X86, "v5.18", [_OPT, ("hugetlb_vmemmap_restore_folio", {"alloc_ok": True}), _OPT], restore_reset=False),
    case(
        _X86,
        "v6.2",
        [
            ("hugetlb_vmemmap_optimize_folio", {"alloc_ok": False}),
            ("hugetlb_vmemmap_restore_folio", {"alloc_ok": True}),
            _OPT,
            ("hugetlb_vmemmap_restore_folio", {"alloc_ok": False}),
            ("hugetlb_vmemmap_restore_folio", {"alloc_ok": True}),
        ],
    ),  # fmt: skip
    case(_X86, "v5.18", [_mf(0x40), _OPT, _DISSOLVE, _FREE], hwpoison=Hwpoison.RAW_FLAG),
    case(
        _X86,
        "v5.14",
        [_OPT, _mf(3), _mf(9), ("dissolve_free_hugetlb_folio", {"i": 3}), _FREE],
        hwpoison=Hwpoison.HEAD_FLAG,
    ),  # fmt: skip
    case(_X86, "v5.18", [_OPT, _ALLOC, ("write_struct_page", {"i": 0x40, "word": 0})]),
    case(_X86, "v5.18", [_OPT, _ALLOC, ("write_struct_page", {"i": 1, "word": 1}), ("page_add_file_rmap", {"i": 0})]),
    case(
        _X86,
        "v6.1",
        [
            _ALLOC,
            ("sync_icache_dcache", {"i": 0x40}),
            ("flush_dcache_page", {"i": 0x40}),
            ("page_add_file_rmap", {"i": 0x41}),
            ("write_struct_page", {"i": 0x42, "word": 2}),
            ("folio_put", {}),
        ],
        pg_arch_1=Arch1.PER_SUBPAGE,
        mapcount=Mapcount.PER_SUBPAGE,
    ),  # fmt: skip
    case(
        _X86,
        "v5.14",
        [_OPT, _ALLOC, ("get_user_pages_fast", {"offset": 0x1000, "length": 0x200}), ("put_page", {})],
        gup_refs=GupRefs.SUBPAGE,
    ),  # fmt: skip
    case(
        _ARM,
        "v5.18",
        [
            _OPT,
            _ALLOC,
            ("sync_icache_dcache", {"i": 0x40}),
            ("flush_dcache_page", {"i": 0x41}),
            ("page_add_file_rmap", {"i": 0x40}),
            ("folio_put", {}),
        ],
    ),  # fmt: skip
    case(
        _X86,
        "v6.2",
        [
            _OPT,
            _ALLOC,
            ("get_user_pages_fast", {"offset": 0x3F000, "length": 0x2000}),
            ("submit_bio", {}),
            ("put_page", {}),
            ("folio_put", {}),
        ],
    ),  # fmt: skip
    case(
        _X86,
        _DEDUP,
        [
            _OPT,
            _ALLOC,
            ("pin_user_pages_fast", {"offset": 0x80000, "length": 0x1200}),
            ("submit_bio", {}),
            ("unpin_user_pages_dirty_lock", {}),
        ],
    ),  # fmt: skip
    case(
        _X86,
        "v5.18",
        [
            _OPT,
            _ALLOC,
            ("pin_user_pages_fast", {"offset": 0x1E00, "length": 0x400}),
            ("submit_bio", {}),
            ("unpin_user_pages_dirty_lock", {}),
            ("folio_put", {}),
        ],
    ),  # fmt: skip
    case(_X86, "mask-2026", [_OPT, _ALLOC, ("sync_icache_dcache", {"i": 0x81}), ("folio_put", {}), _DISSOLVE, _FREE]),
    # the failure paths and settings of bugs B2, B4, B7 and the 6.12.115 head copy
    case(
        _X86,
        "v5.18",
        [_OPT, ("hugetlb_vmemmap_restore_folio", {"alloc_ok": True})],
        vmemmap_frames=VmemmapFrames.HOTPLUG,
    ),
    case(_X86, "v5.18", [_OPT], vmemmap_frames=VmemmapFrames.MEMMAP_ON_MEMORY),
    case(_X86, "v6.1", [_OPT, _ALLOC], vmemmap_frames=VmemmapFrames.MEMMAP_ON_MEMORY),
    case(
        _X86,
        "v6.5",
        [_OPT, ("hugetlb_vmemmap_restore_folio", {"alloc_ok": True}), _DISSOLVE, _FREE],
        node=Node.MOVABLE_ONLY,
    ),
    case(_X86, "v6.12.115", [("hugetlb_vmemmap_optimize_folio", {"alloc_ok": False}), _OPT, _DISSOLVE, _FREE]),
)


__all__ = ["CASES", "Case", "case", "compare", "compare_all"]
