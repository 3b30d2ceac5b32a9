# SPDX-License-Identifier: GPL-2.0-only
"""The BMC encoding agrees with the concrete model on concrete traces, after every step.

For each operation family (I/O, the free path, restore, page flags: the family's
operations are the alphabet), Hypothesis draws a config and scheme (presets, willy's
dedup-pointers and unmapped-tails readings, a 56-byte struct page), policies, and a
sequence of enabled operations with arguments; the concrete model runs it.  The unrolling is then
pinned to exactly that sequence, and for every step t and every operation invariant the
solver must find a violation at step t iff the concrete model reports one after step t.
This checks the closed-form semantics (memory events, remaps, readers, invariants) and
the abstract pruning of possible operations against the literal model, step by step.

Two queries per trace: one asks for any violation the concrete model does not report
(must be unsat), one for all those it does report at once (must be sat; when it is not,
each is asked alone to name the missing one).

Coverage floors (checked after each family's run): every operation of the family
appears in the drawn traces, the drawn traces alone violate a few invariants, and the
family's invariants (MUST_VIOLATE; together every operation invariant) are violated
concretely in some example.  The explicit examples are the counterexample traces of the
must-catch and objection specs: each must show its spec's violation at its last step.
"""

from __future__ import annotations

import dataclasses
import pathlib
from collections import Counter
from dataclasses import dataclass

import pytest
import z3
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from hvo_verify.check.solver import Status, new_solver, solve
from hvo_verify.encode.invariants.reachable import violation_at
from hvo_verify.encode.ops.unroll import Unrolling
from hvo_verify.invariants.reachable import OP_INVARIANTS
from hvo_verify.invariants.replay import check_step
from hvo_verify.model.config import parse_config_id
from hvo_verify.model.policy import (
    Arch1,
    GupRefs,
    HugetlbClear,
    Hwpoison,
    Mapcount,
    Node,
    RestoreGfp,
    VmemmapFrames,
    default_policies,
)
from hvo_verify.model.scheme import PRESETS, MemoryModel, Scheme, Target
from hvo_verify.model.vmemmap import not_applicable_reason
from hvo_verify.ops.machine import Machine
from hvo_verify.ops.table import OPS, ArgKind
from hvo_verify.specs.loader import load_specs
from hvo_verify.verdict import Verdict

ROOT = pathlib.Path(__file__).resolve().parents[2]

Args = dict[str, int | bool]
Steps = list[tuple[str, Args]]

OPTIMIZE = "hugetlb_vmemmap_optimize_folio"
FAMILIES: dict[str, tuple[str, ...]] = {
    "io": (OPTIMIZE, "alloc_hugetlb_folio", "get_user_pages_fast", "pin_user_pages_fast", "submit_bio",
           "unpin_user_pages_dirty_lock", "put_page", "folio_put"),
    "free": (OPTIMIZE, "memory_failure", "dissolve_free_hugetlb_folio", "update_and_free_hugetlb_folio"),
    "restore": (OPTIMIZE, "hugetlb_vmemmap_restore_folio", "memory_failure"),
    "pageflags": (OPTIMIZE, "alloc_hugetlb_folio", "sync_icache_dcache", "flush_dcache_page", "page_add_file_rmap",
                  "write_struct_page", "folio_put"),
}  # fmt: skip

# The presets, and the variants the specs use: willy's dedup-pointers reading of the RFC
# (GUP hands out the representative struct page) and his unmapped tails.
SCHEMES: dict[str, Scheme] = {
    **{name: PRESETS[name] for name in ("rfc-2020", "v5.14", "v5.18", "v6.1", "v6.2", "mask-2026", "devdax")},
    "dedup-pointers": dataclasses.replace(PRESETS["v5.14"], name="dedup-pointers",
                                          memory_model=MemoryModel.DEDUP_POINTERS),
    "unmapped-tails": dataclasses.replace(PRESETS["rfc-2020"], name="unmapped-tails", private=(0,),
                                          target=Target.UNMAPPED),
}  # fmt: skip
CONFIGS = ["x86-64/4K/2M", "arm64/64K/512M", "arm64/16K/32M"]
# A 56-byte struct page (the unrolling divides by it: 10-40 s a trace) only where it
# matters most, restore (restore-identity, must-catch ops-restore-identity-reset).
ODD_CONFIGS = {"restore": ["x86-64/4K/2M@56"]}


def _pairs(family: str) -> list[tuple[str, str]]:
    """(config, scheme) pairs the kernel optimizes (a 56-byte struct page only without
    the power-of-2 guard)."""
    return [
        (config_id, name)
        for config_id in CONFIGS + ODD_CONFIGS.get(family, [])
        for name, scheme in SCHEMES.items()
        if not_applicable_reason(parse_config_id(config_id)[0], scheme) is None
    ]


PAIRS = {family: _pairs(family) for family in FAMILIES}
# drawn traces per family (restore traces remap twice and use a 56-byte struct page: slower)
EXAMPLES = {"io": 60, "free": 60, "restore": 30, "pageflags": 50}
# distinct invariants the drawn traces alone (no spec trace) violate, per family
DRAWN_VIOLATIONS_FLOOR = {"io": 1, "free": 3, "restore": 2, "pageflags": 1}


@dataclass(frozen=True)
class Run:
    """A machine, its alphabet, a concrete trace, and where it came from."""

    m: Machine
    family: str
    alphabet: tuple[str, ...]
    steps: tuple[tuple[str, tuple[tuple[str, int | bool], ...]], ...]
    source: str = "drawn"  # or the spec it was taken from
    violates: str = ""  # a spec's trace: the invariant it violates at its last step

    def describe(self) -> str:
        calls = "; ".join(f"{op}({dict(args)})" for op, args in self.steps)
        return f"{calls} [{self.m.config.id} {self.m.scheme.name} {self.m.policies}] ({self.source})"


# ---------------------------------------------------------------- the generator


@st.composite
def machines(draw: st.DrawFn, family: str) -> Machine:
    config_id, name = draw(st.sampled_from(PAIRS[family]))
    config, scheme = parse_config_id(config_id)[0], SCHEMES[name]
    pol = dataclasses.replace(
        default_policies(scheme),
        hwpoison=draw(st.sampled_from(list(Hwpoison))),
        pg_arch_1=draw(st.sampled_from(list(Arch1))),
        mapcount=draw(st.sampled_from(list(Mapcount))),
        gup_refs=draw(st.sampled_from(list(GupRefs))),
        hugetlb_clear=draw(st.sampled_from(list(HugetlbClear))),
        restore_reset=draw(st.booleans()),
        kmalloc_may_fail=draw(st.booleans()),
        split_pmd_block=draw(st.booleans()),
        self_hosted_check=draw(st.booleans()),
        restore_gfp=draw(st.sampled_from(list(RestoreGfp))),
        vmemmap_frames=draw(st.sampled_from(list(VmemmapFrames))),
        node=draw(st.sampled_from(list(Node))),
    )
    return Machine.canonical(config, scheme, pol, config.page_size, 512)


def _args(draw: st.DrawFn, m: Machine, op: str) -> Args:
    args: Args = {}
    for arg in OPS[op].args:
        values = m.arg_values(arg)
        if arg.kind is ArgKind.SUBPAGE:
            # the interesting subpages: the first ones, alias boundaries, the last
            per_page = m.config.page_size // m.folio.size
            pick = st.sampled_from([0, 1, 3, 4, 5, per_page - 1, per_page, per_page + 5, 2 * per_page, m.nr - 1])
            args[arg.name] = draw(st.one_of(pick, st.integers(0, m.nr - 1)))
        elif arg.kind is ArgKind.OFFSET:  # a buffer inside the folio, often at a page boundary
            top = m.nr * m.config.page_size - m.io_max
            args[arg.name] = draw(
                st.sampled_from([0, 0x5000, m.config.page_size - 512, m.config.page_size * 64, top])
                | st.integers(0, top // m.io_align).map(lambda n: n * m.io_align)
            )
        else:
            args[arg.name] = draw(st.sampled_from(values))
    return args


@st.composite
def runs(draw: st.DrawFn, family: str) -> Run:
    """A machine and 3..6 enabled operations of the family, each more often one
    this trace has not run yet (so that I/O gets from GUP to submit_bio and the free
    path from dissolve to update_and_free); the trace stops at an oops (nothing runs
    after one)."""
    m = draw(machines(family))
    alphabet = FAMILIES[family]
    state = m.initial()
    steps: Steps = []
    for _ in range(draw(st.integers(3, 6))):
        enabled = [op for op in alphabet if m.enabled(state, op)]
        if not enabled:
            break
        fresh = [op for op in enabled if op not in {done for done, _args in steps}]
        op = draw(st.sampled_from(fresh if fresh and draw(st.sampled_from([True, True, True, False])) else enabled))
        args = _args(draw, m, op)
        if not m.args_ok(op, args):
            continue  # a buffer past the folio: draw another step
        out = m.apply(state, op, args)
        steps.append((op, args))
        if out.fault is not None:
            break
        state = out.state
    return Run(m, family, alphabet, tuple((op, tuple(args.items())) for op, args in steps))


# ---------------------------------------------------------------- the spec traces


def _spec_run(spec_name: str, family: str, invariant: str, config_id: str, steps: Steps) -> Run:
    """The counterexample trace a spec's BMC check reports (`hvo-verify check SPEC
    --save-traces DIR`), on the spec's machine and alphabet, checked with `family`."""
    spec = load_specs([str(ROOT / "specs" / f"{spec_name}.toml")])[0]
    assert spec.ops is not None, spec_name
    config = parse_config_id(config_id)[0]
    m = Machine.canonical(config, spec.scheme, spec.ops.policies, spec.ops.io_max, spec.ops.io_align)
    trace = tuple((op, tuple(args.items())) for op, args in steps)
    return Run(m, family, spec.ops.alphabet, trace, spec_name, invariant)


# The violated operation checks of the must-catch and objection specs, with the trace each
# reported (`hvo-verify check SPEC --save-traces DIR`, at Machine.canonical: head pfn 512,
# the documented VMEMMAP_START): (spec, family, invariant, config, steps).
SPEC_TRACES: list[Run] = [
    _spec_run(
        "objections/b5-dissolve-window",
        "free",
        "only-hugetlb-optimized",
        "x86-64/4K/2M",
        [("hugetlb_vmemmap_optimize_folio", {"alloc_ok": True}), ("dissolve_free_hugetlb_folio", {"i": 0})],
    ),
    _spec_run(
        "objections/b5-dissolve-window",
        "free",
        "ro-write",
        "x86-64/4K/2M",
        [
            ("hugetlb_vmemmap_optimize_folio", {"alloc_ok": True}),
            ("dissolve_free_hugetlb_folio", {"i": 0}),
            ("memory_failure", {"i": 0x40, "kmalloc_ok": True}),
        ],
    ),
    _spec_run(
        "objections/double-mapping-per-subpage",
        "pageflags",
        "ro-write",
        "x86-64/4K/2M",
        [
            ("hugetlb_vmemmap_optimize_folio", {"alloc_ok": True}),
            ("alloc_hugetlb_folio", {}),
            ("page_add_file_rmap", {"i": 0x40}),
        ],
    ),
    _spec_run(
        "objections/hwpoison-head-index-two-errors",
        "free",
        "hwpoison-exact",
        "x86-64/4K/2M",
        [("memory_failure", {"i": 0, "kmalloc_ok": True}), ("memory_failure", {"i": 1, "kmalloc_ok": True})],
    ),
    _spec_run(
        "objections/hwpoison-head-index-two-errors",
        "free",
        "hwpoison-freed",
        "x86-64/4K/2M",
        [
            ("memory_failure", {"i": 0, "kmalloc_ok": True}),
            ("memory_failure", {"i": 1, "kmalloc_ok": True}),
            ("dissolve_free_hugetlb_folio", {"i": 0}),
            ("update_and_free_hugetlb_folio", {"alloc_ok": True}),
        ],
    ),
    _spec_run(
        "must-catch/devdax-memory-failure-subpage",
        "free",
        "alias-write",
        "x86-64/4K/2M",
        [("memory_failure", {"i": 0x40, "kmalloc_ok": True})],
    ),
    _spec_run(
        "must-catch/pg-arch-1-pagehuge-devdax",
        "pageflags",
        "alias-write",
        "x86-64/4K/2M",
        [("sync_icache_dcache", {"i": 0x40})],
    ),
    _spec_run(
        "objections/hwpoison-rfc-2020-as-posted",
        "free",
        "alias-write",
        "x86-64/4K/2M",
        [
            ("hugetlb_vmemmap_optimize_folio", {"alloc_ok": True}),
            ("memory_failure", {"i": 0, "kmalloc_ok": True}),
            ("dissolve_free_hugetlb_folio", {"i": 0x40}),
        ],
    ),
    _spec_run(
        "objections/hwpoison-rfc-2020-as-posted",
        "free",
        "hwpoison-exact",
        "x86-64/4K/2M",
        [("memory_failure", {"i": 0, "kmalloc_ok": True})],
    ),
    _spec_run(
        "objections/hwpoison-rfc-2020-as-posted",
        "free",
        "hwpoison-freed",
        "x86-64/4K/2M",
        [
            ("memory_failure", {"i": 0, "kmalloc_ok": True}),
            ("dissolve_free_hugetlb_folio", {"i": 1}),
            ("update_and_free_hugetlb_folio", {"alloc_ok": True}),
        ],
    ),
    _spec_run(
        "objections/hwpoison-raw-flag-rfc-2020",
        "free",
        "alias-write",
        "x86-64/4K/2M",
        [("hugetlb_vmemmap_optimize_folio", {"alloc_ok": True}), ("memory_failure", {"i": 0x40, "kmalloc_ok": True})],
    ),
    _spec_run(
        "objections/hwpoison-raw-flag-rfc-2020",
        "free",
        "hwpoison-exact",
        "x86-64/4K/2M",
        [("hugetlb_vmemmap_optimize_folio", {"alloc_ok": True}), ("memory_failure", {"i": 0x40, "kmalloc_ok": True})],
    ),
    _spec_run(
        "objections/hwpoison-raw-flag-v5.14",
        "free",
        "ro-write",
        "x86-64/4K/2M",
        [("hugetlb_vmemmap_optimize_folio", {"alloc_ok": True}), ("memory_failure", {"i": 0x80, "kmalloc_ok": True})],
    ),
    _spec_run(
        "must-catch/ops-gup-refs-on-subpage",
        "io",
        "refcount",
        "x86-64/4K/2M",
        [("alloc_hugetlb_folio", {}), ("get_user_pages_fast", {"offset": 0x1000, "length": 0x200})],
    ),
    _spec_run(
        "must-catch/ops-gup-returns-representative",
        "io",
        "dma-exact",
        "x86-64/4K/2M",
        [
            ("hugetlb_vmemmap_optimize_folio", {"alloc_ok": True}),
            ("alloc_hugetlb_folio", {}),
            ("pin_user_pages_fast", {"offset": 0x80000, "length": 0x200}),
            ("submit_bio", {}),
        ],
    ),
    _spec_run(
        "must-catch/ops-restore-identity-reset",
        "restore",
        "restore-identity",
        "x86-64/4K/2M@56",
        [("hugetlb_vmemmap_optimize_folio", {"alloc_ok": True}), ("hugetlb_vmemmap_restore_folio", {"alloc_ok": True})],
    ),
    _spec_run(
        "must-catch/ops-free-self-hosted-vmemmap",
        "restore",
        "vmemmap-frame-freeable",
        "x86-64/4K/2M",
        [("hugetlb_vmemmap_optimize_folio", {"alloc_ok": True})],
    ),
    _spec_run(
        "must-catch/ops-free-unsplit-vmemmap-block",
        "restore",
        "vmemmap-frame-freeable",
        "x86-64/4K/2M",
        [("hugetlb_vmemmap_optimize_folio", {"alloc_ok": True})],
    ),
    _spec_run(
        "must-catch/ops-restore-thisnode",
        "restore",
        "restore-progress",
        "x86-64/4K/2M",
        [("hugetlb_vmemmap_optimize_folio", {"alloc_ok": True}), ("hugetlb_vmemmap_restore_folio", {"alloc_ok": True})],
    ),
    _spec_run(
        "must-catch/ops-restore-without-reset",
        "restore",
        "restore-identity",
        "x86-64/4K/2M",
        [("hugetlb_vmemmap_optimize_folio", {"alloc_ok": True}), ("hugetlb_vmemmap_restore_folio", {"alloc_ok": True})],
    ),
    _spec_run(
        "must-catch/ops-write-struct-page",
        "pageflags",
        "ro-write",
        "x86-64/4K/2M",
        [
            ("hugetlb_vmemmap_optimize_folio", {"alloc_ok": True}),
            ("alloc_hugetlb_folio", {}),
            ("write_struct_page", {"i": 0x40, "word": 0}),
        ],
    ),
    _spec_run(
        "must-catch/ops-write-struct-page",
        "pageflags",
        "alias-write",
        "x86-64/4K/2M",
        [
            ("hugetlb_vmemmap_optimize_folio", {"alloc_ok": True}),
            ("alloc_hugetlb_folio", {}),
            ("write_struct_page", {"i": 3, "word": 0}),
        ],
    ),
    _spec_run(
        "objections/pg-arch-1-read-only",
        "pageflags",
        "ro-write",
        "arm64/4K/2M",
        [
            ("hugetlb_vmemmap_optimize_folio", {"alloc_ok": True}),
            ("alloc_hugetlb_folio", {}),
            ("sync_icache_dcache", {"i": 0x40}),
        ],
    ),
    _spec_run(
        "objections/pg-arch-1-writable-aliases",
        "pageflags",
        "alias-write",
        "x86-64/4K/2M",
        [
            ("hugetlb_vmemmap_optimize_folio", {"alloc_ok": True}),
            ("alloc_hugetlb_folio", {}),
            ("sync_icache_dcache", {"i": 0x40}),
        ],
    ),
    _spec_run(
        "objections/willy-misreading-compound-head",
        "io",
        "read-fault",
        "x86-64/4K/2M",
        [
            ("hugetlb_vmemmap_optimize_folio", {"alloc_ok": True}),
            ("alloc_hugetlb_folio", {}),
            ("pin_user_pages_fast", {"offset": 0x40000, "length": 0x200}),
        ],
    ),
]


# ---------------------------------------------------------------- the comparison


@dataclass
class Coverage:
    ops: Counter[str] = dataclasses.field(default_factory=Counter)  # drawn traces
    violated: Counter[str] = dataclasses.field(default_factory=Counter)  # every example
    violated_drawn: Counter[str] = dataclasses.field(default_factory=Counter)


def concrete_violations(run: Run) -> list[frozenset[str]]:
    """The invariants the concrete model reports violated after each step."""
    m, state = run.m, run.m.initial()
    out_sets: list[frozenset[str]] = []
    for n, (op, args) in enumerate(run.steps):
        assert m.enabled(state, op) and m.args_ok(op, dict(args)), f"step {n + 1} {op} not enabled: {run.describe()}"
        out = m.apply(state, op, dict(args))
        out_sets.append(frozenset(inv for inv in OP_INVARIANTS if check_step(m, state, out, (inv,)) is not None))
        if out.fault is not None:
            assert n == len(run.steps) - 1, f"steps after an oops: {run.describe()}"
        state = out.state
    return out_sets


def bmc_agrees(run: Run) -> list[frozenset[str]]:
    """Assert that the pinned unrolling sees exactly the concrete violations at every
    step; return them."""
    concrete = concrete_violations(run)
    u = Unrolling(run.m, run.alphabet, len(run.steps))
    pins = []
    for n, (op, args) in enumerate(run.steps):
        assert op in u.possible[n], f"pruning lost {op} at step {n + 1}: {run.describe()}"
        st_ = u.steps[n]
        pins.append(st_.op == run.alphabet.index(op))
        for name, value in args:
            var = st_.args[name]
            pins.append(var == value if isinstance(value, bool) else var == z3.BitVecVal(value, 64))
    terms = {(inv, t): violation_at(u, inv, t) for t in range(1, len(run.steps) + 1) for inv in OP_INVARIANTS}
    # after the terms: building them adds the definitions of their auxiliary divisions
    # (sizeof(struct page) not a power of 2) to u.sym.side
    base = [*u.placement, *u.side, *u.sym.side, *pins]

    def ask(goal: z3.BoolRef) -> tuple[Status, z3.Solver]:
        solver = new_solver(60_000)
        solver.add(*base, goal)
        status, why, _seconds = solve(solver)
        assert status is not Status.UNKNOWN, f"{why}: {run.describe()}"
        return status, solver

    def says(kind: str, keys: list[tuple[str, int]]) -> str:
        other = "holds" if kind == "violated" else "violated"
        found = "; ".join(f"{inv} at step {t}: BMC says {kind}, concrete model says {other}" for inv, t in keys)
        return f"{found}, after {run.describe()}"

    holds = [key for key in terms if key[0] not in concrete[key[1] - 1]]
    status, solver = ask(z3.Or([terms[key] for key in holds]))
    if status is Status.SAT:
        model = solver.model()
        raise AssertionError(says("violated", [k for k in holds if z3.is_true(model.eval(terms[k], True))]))
    violated = [key for key in terms if key[0] in concrete[key[1] - 1]]
    if violated and ask(z3.And([terms[key] for key in violated]))[0] is not Status.SAT:
        missing = [key for key in violated if ask(terms[key])[0] is not Status.SAT]
        raise AssertionError(says("holds", missing or violated))
    return concrete


# The invariants each family's examples (drawn, or a spec's trace) must violate
# concretely somewhere; together every operation invariant.
MUST_VIOLATE: dict[str, frozenset[str]] = {
    "io": frozenset({"dma-exact", "read-fault", "refcount"}),
    "free": frozenset({"hwpoison-exact", "hwpoison-freed", "only-hugetlb-optimized", "ro-write"}),
    "restore": frozenset({"restore-identity", "vmemmap-frame-freeable", "restore-progress"}),
    "pageflags": frozenset({"alias-write", "ro-write"}),
}


def test_the_families_cover_every_operation_and_invariant() -> None:
    assert set().union(*FAMILIES.values()) == set(OPS)
    assert set().union(*MUST_VIOLATE.values()) == set(OP_INVARIANTS)


def test_every_violated_spec_check_has_its_trace_here() -> None:
    """SPEC_TRACES follows the specs: one trace per (spec, config, invariant) a
    must-catch or objection operation spec expects violated, and no other."""
    expected = set()
    for kind in ("must-catch", "objections"):
        for spec in load_specs([str(ROOT / "specs" / kind)]):
            if spec.ops is None:
                continue
            name = f"{kind}/{pathlib.Path(spec.path).stem}"
            for config in spec.configs:
                for inv in spec.invariants:
                    if spec.expect.expected(inv, config.id, spec.scheme.name) is Verdict.VIOLATED:
                        expected.add((name, config.id, inv))
    assert {(r.source, r.m.config.id, r.violates) for r in SPEC_TRACES} == expected


# The slow lane: 160 CPU s for the four families (a BMC unrolling pinned to each drawn trace).
@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_bmc_pinned_to_concrete_traces_agrees_after_every_step(family: str) -> None:
    cov = Coverage()

    # too_slow: every draw runs the concrete model (up to 6 operations on a real vmemmap
    # of up to 8192 struct pages), which Hypothesis counts as generation time.
    @settings(max_examples=EXAMPLES[family], deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
    @given(runs(family))
    def check(run: Run) -> None:
        assert run.steps, "an empty trace checks nothing"
        concrete = bmc_agrees(run)
        seen = frozenset[str]().union(*concrete)
        cov.violated.update(seen)
        if run.source == "drawn":
            cov.ops.update(op for op, _args in run.steps)
            cov.violated_drawn.update(seen)
            for inv in sorted(seen):
                event(f"violated {inv}")
        else:  # a spec's counterexample: it shows the spec's violation at its last step
            assert run.violates in concrete[-1], f"{run.source}: {run.violates} not violated at the last step"

    for spec_run in SPEC_TRACES:
        if spec_run.family == family:
            check = example(spec_run)(check)
    check()
    assert set(cov.ops) == set(FAMILIES[family]), f"never drawn: {sorted(set(FAMILIES[family]) - set(cov.ops))}"
    assert MUST_VIOLATE[family] <= set(cov.violated), (
        f"never violated: {sorted(MUST_VIOLATE[family] - set(cov.violated))}"
    )
    assert len(cov.violated_drawn) >= DRAWN_VIOLATIONS_FLOOR[family], dict(cov.violated_drawn)
