"""The BMC encoding agrees with the concrete model on concrete traces.

Hypothesis draws a scheme, policies, an operation alphabet and a short sequence of
concrete operations with arguments; the concrete model runs it.  The unrolling is then
pinned to exactly that sequence, and for every operation invariant the solver must find
a violation at the last step iff the concrete model reports one there.  This checks the
closed-form semantics (memory events, remaps, readers, invariants) and the abstract
pruning of possible operations against the literal model, operation by operation.
"""

from __future__ import annotations

import dataclasses

import z3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hvo_verify.check.solver import Status, new_solver, solve
from hvo_verify.encode.invariants.reachable import violation_at
from hvo_verify.encode.ops.unroll import Unrolling
from hvo_verify.invariants.reachable import OP_INVARIANTS
from hvo_verify.invariants.replay import check_step
from hvo_verify.model.config import parse_config_id
from hvo_verify.model.policy import Arch1, GupRefs, HugetlbClear, Hwpoison, Mapcount, default_policies
from hvo_verify.model.scheme import PRESETS, MemoryModel
from hvo_verify.model.structpage import Folio
from hvo_verify.ops.machine import Machine
from hvo_verify.ops.table import OPS, ArgKind

CONFIGS = ["x86-64/4K/2M", "arm64/64K/512M", "arm64/16K/32M"]
SCHEMES = ["rfc-2020", "v5.14", "v5.18", "v6.2", "mask-2026"]
PREFERRED = {
    "hugetlb_vmemmap_optimize_folio",
    "submit_bio",
    "unpin_user_pages_dirty_lock",
    "put_page",
    "update_and_free_hugetlb_folio",
    "hugetlb_vmemmap_restore_folio",
}


@st.composite
def machines(draw: st.DrawFn) -> Machine:
    config = parse_config_id(draw(st.sampled_from(CONFIGS)))[0]
    scheme = PRESETS[draw(st.sampled_from(SCHEMES))]
    if draw(st.booleans()) and scheme.name == "v5.14":
        scheme = dataclasses.replace(scheme, memory_model=MemoryModel.DEDUP_POINTERS)
    pol = default_policies(scheme)
    pol = dataclasses.replace(
        pol,
        hwpoison=draw(st.sampled_from(list(Hwpoison))),
        pg_arch_1=draw(st.sampled_from(list(Arch1))),
        mapcount=draw(st.sampled_from(list(Mapcount))),
        gup_refs=draw(st.sampled_from(list(GupRefs))),
        hugetlb_clear=draw(st.sampled_from(list(HugetlbClear))),
        restore_reset=draw(st.booleans()),
        kmalloc_may_fail=draw(st.booleans()),
    )
    folio = Folio(config, scheme, config.nr_pages, config.default_vmemmap_base)
    return Machine(folio, pol, io_max=config.page_size, io_align=512)


def _args(draw: st.DrawFn, m: Machine, op: str) -> dict[str, int | bool]:
    args: dict[str, int | bool] = {}
    for arg in OPS[op].args:
        values = m.arg_values(arg)
        if isinstance(values, range) and arg.kind is ArgKind.SUBPAGE:
            # the interesting subpages: the first ones, alias boundaries, the last
            per_page = m.config.page_size // m.folio.size
            pick = st.sampled_from([0, 1, 3, 4, 5, per_page - 1, per_page, per_page + 5, 2 * per_page, m.nr - 1])
            args[arg.name] = draw(st.one_of(pick, st.integers(0, m.nr - 1)))
        elif arg.kind is ArgKind.OFFSET:  # a buffer inside the folio, often at a page boundary
            top = m.nr * m.config.page_size - m.io_max
            args[arg.name] = draw(
                st.sampled_from([0, 0x5000, m.config.page_size - 512, top])
                | st.integers(0, top // m.io_align).map(lambda n: n * m.io_align)
            )
        elif isinstance(values, range):
            args[arg.name] = draw(st.sampled_from(values))
        else:
            args[arg.name] = draw(st.sampled_from(values))
    return args


@st.composite
def runs(draw: st.DrawFn) -> tuple[Machine, tuple[str, ...], list[tuple[str, dict[str, int | bool]]]]:
    m = draw(machines())
    alphabet = tuple(draw(st.lists(st.sampled_from(sorted(OPS)), min_size=3, max_size=8, unique=True)))
    alphabet = tuple(sorted(set(alphabet) | {"hugetlb_vmemmap_optimize_folio", "alloc_hugetlb_folio"}))
    state = m.initial()
    steps: list[tuple[str, dict[str, int | bool]]] = []
    for _ in range(draw(st.integers(2, 5))):
        enabled = [op for op in alphabet if m.enabled(state, op)]
        if not enabled:
            break
        # prefer what makes states interesting: optimize first, I/O and the free path next
        preferred = [o for o in enabled if o in PREFERRED]
        use_preferred = bool(preferred) and draw(st.booleans())
        op = draw(st.sampled_from(preferred if use_preferred else enabled))
        args = _args(draw, m, op)
        if not m.args_ok(op, args):
            break
        out = m.apply(state, op, args)
        steps.append((op, args))
        if out.fault is not None:
            break
        state = out.state
    return m, alphabet, steps


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(runs())
def test_bmc_pinned_to_a_concrete_trace_agrees_on_every_invariant(
    run: tuple[Machine, tuple[str, ...], list[tuple[str, dict[str, int | bool]]]],
) -> None:
    m, alphabet, steps = run
    if not steps:
        return
    # concrete: the violations at the last step (earlier steps completed without an oops)
    state = m.initial()
    for op, args in steps[:-1]:
        state = m.apply(state, op, args).state
    op, args = steps[-1]
    out = m.apply(state, op, args)
    concrete = {inv for inv in OP_INVARIANTS if check_step(m, state, out, (inv,)) is not None}

    u = Unrolling(m, alphabet, len(steps))
    pin = []
    for n, (step_op, step_args) in enumerate(steps):
        assert step_op in u.possible[n], f"pruning lost {step_op} at step {n + 1}"
        st_ = u.steps[n]
        pin.append(st_.op == alphabet.index(step_op))
        for name, value in step_args.items():
            var = st_.args[name]
            pin.append(var == value if isinstance(value, bool) else var == z3.BitVecVal(value, 64))
    for inv in OP_INVARIANTS:
        solver = new_solver(60_000)
        solver.add(*u.placement, *u.side, *u.sym.side, *pin, violation_at(u, inv, len(steps)))
        status, why, _ = solve(solver)
        assert status is not Status.UNKNOWN, why
        symbolic = status is Status.SAT
        assert symbolic == (inv in concrete), (
            f"{inv}: BMC says {'violated' if symbolic else 'holds'}, concrete model says "
            f"{'violated' if inv in concrete else 'holds'} after "
            + "; ".join(f"{o}({a})" for o, a in steps)
            + f" [{m.config.id} {m.scheme.name} {m.policies}]"
        )
