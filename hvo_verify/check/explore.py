# SPDX-License-Identifier: GPL-2.0-only
"""Random exploration of an operation spec with Hypothesis, on the concrete kernel model.

BMC (hvo_verify.check.bmc) proves or refutes an operation invariant up to a depth;
exploration is its independent, solver-free cross-check: a Hypothesis
`RuleBasedStateMachine` with one rule per operation of the spec's `[ops] run` list
(arguments from `Machine.arg_values`, filtered by `Machine.args_ok`; precondition
`Machine.enabled`) checks one invariant after every step, and Hypothesis shrinks the
first violating sequence it finds.  The shrunk sequence becomes a `Trace`, replayed with
`invariants/replay.py` `replay()` before it is returned.

Nothing here prints: Hypothesis runs quietly (check/hypothesis_settings.py) and its
exceptions are caught; results are frozen and rendered by hvo_verify.report.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import Phase, seed
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule, run_state_machine_as_test

from hvo_verify.check.hypothesis_settings import library_settings, quiet
from hvo_verify.check.result import CheckResult
from hvo_verify.errors import EncodingMismatch
from hvo_verify.invariants.reachable import OP_INVARIANTS, WITNESSES
from hvo_verify.invariants.replay import check_step, replay
from hvo_verify.model.config import KernelConfig
from hvo_verify.model.vmemmap import not_applicable_reason
from hvo_verify.ops.machine import Machine
from hvo_verify.ops.state import KState
from hvo_verify.ops.table import OPS
from hvo_verify.ops.trace import Trace, TraceStep
from hvo_verify.specs.schema import Spec
from hvo_verify.verdict import Verdict

DEFAULT_EXAMPLES = 200


@dataclass(frozen=True, slots=True)
class Exploration:
    """What exploring one (config, invariant) of an operation spec found."""

    spec: str
    config: str
    invariant: str
    expected: Verdict | None
    runs: int  # sequences Hypothesis ran (generation, shrinking and the final re-run)
    distinct: int  # different operation sequences among them
    trace: Trace | None = None  # the shrunk violating sequence, replayed on the concrete model
    message: str = ""  # what the concrete model says went wrong
    not_applicable: str = ""  # why the kernel would not optimize here (nothing explored)
    # the first run that reached the invariant's witness (invariants/reachable.py WITNESSES)
    reached: tuple[TraceStep, ...] | None = None
    check: Verdict | None = None  # BMC's verdict at the same depth, when asked (against_check())

    @property
    def found(self) -> bool:
        return self.trace is not None

    @property
    def no_verdict(self) -> str:
        """Why exploration has no verdict of its own ("" when it has one): BMC found a run
        reaching the invariant's witness and exploration did not, or BMC says nothing
        can run (vacuous)."""
        if self.found or self.check is None:
            return ""
        if self.check is Verdict.VACUOUS:
            return "check calls it vacuous: no run exists"
        if self.check is Verdict.PROVED and self.reached is None:
            return "check reached the invariant's witness, exploration did not"
        return ""

    @property
    def as_expected(self) -> bool:
        """Exploration can only find violations: it agrees with the spec when it found
        one exactly where the spec expects `violated` (a `proved` with none found agrees),
        and has a verdict of its own (`no_verdict`)."""
        return (self.expected is Verdict.VIOLATED) == self.found and not self.no_verdict


def machine_for(config: KernelConfig, spec: Spec) -> Machine:
    """The placement of hvo_verify.check.bmc.machine_for: head pfn = nr_pages, the
    documented VMEMMAP_START; I/O bounds from the spec (io_max 0: PAGE_SIZE)."""
    assert spec.ops is not None
    return Machine.canonical(config, spec.scheme, spec.ops.policies, spec.ops.io_max, spec.ops.io_align)


def explore_spec(
    spec: Spec,
    *,
    examples: int = DEFAULT_EXAMPLES,
    seed: int | None = None,
    configs: Sequence[str] | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> list[Exploration]:
    """Every (config, invariant) of an operation spec, in spec order (only `configs` if
    given); `progress(done, total, "CONFIG INVARIANT")` before each (done = 0: started)."""
    if spec.ops is None:
        raise ValueError(f"{spec.path}: not an operation spec (no [ops] table)")
    out: list[Exploration] = []
    chosen = [c for c in spec.configs if configs is None or c.id in configs]
    for config in chosen:
        reason = not_applicable_reason(config, spec.scheme) or ""
        machine = None if reason else machine_for(config, spec)
        for inv in spec.invariants:
            if progress is not None:
                progress(len(out), len(chosen) * len(spec.invariants), f"{spec.path} {config.id} {inv}")
            expected = spec.expect.expected(inv, config.id, spec.scheme.name)
            if machine is None:
                out.append(Exploration(spec.path, config.id, inv, expected, 0, 0, not_applicable=reason))
                continue
            runs, distinct, steps, reached = explore(machine, spec.ops.alphabet, spec.ops.depth, inv,
                                                     examples=examples, seed=seed,
                                                     max_calls=spec.ops.max_calls)  # fmt: skip
            if steps is None:
                out.append(Exploration(spec.path, config.id, inv, expected, runs, distinct, reached=reached))
                continue
            f = machine.folio
            trace = Trace(config.id, spec.scheme, spec.ops.policies, f.head_pfn, f.vmemmap_base, machine.io_max,
                          machine.io_align, steps, inv)  # fmt: skip
            last = replay(trace, (inv,))[-1]
            if last.violation is None:
                raise EncodingMismatch(
                    f"{config.id} {spec.scheme.name} {inv}: explored sequence "
                    f"{'; '.join(s.call() for s in steps)} does not replay on the concrete model"
                )
            out.append(Exploration(spec.path, config.id, inv, expected, runs, distinct, trace, last.violation[1],
                                   reached=reached))  # fmt: skip
    return out


def against_check(found: Sequence[Exploration], results: Sequence[CheckResult]) -> list[Exploration]:
    """Each exploration with BMC's verdict of the same (config, invariant) at the same
    depth.  Exploration reaching a witness BMC calls unreached is our bug: EncodingMismatch."""
    verdicts = {(r.config, r.invariant): r.verdict for r in results}
    out = []
    for e in found:
        verdict = verdicts.get((e.config, e.invariant))
        if verdict is Verdict.UNREACHED and e.reached is not None:
            wid = OP_INVARIANTS[e.invariant].witness
            raise EncodingMismatch(
                f"{e.config} {e.invariant}: exploration reached the witness ({WITNESSES[wid].summary}) by "
                f"{'; '.join(s.call() for s in e.reached)}, which BMC calls unreached"
            )
        out.append(dataclasses.replace(e, check=verdict))
    return out


class _Found(Exception):
    """Raised inside a rule when the invariant is violated (Hypothesis shrinks on it)."""


@dataclass
class _Log:
    """The steps of every run; Hypothesis re-runs the shrunk failing example last."""

    runs: int = 0
    last: list[TraceStep] = field(default_factory=list)
    seen: set[tuple[TraceStep, ...]] = field(default_factory=set)
    reached: tuple[TraceStep, ...] | None = None  # the first run that reached the invariant's witness


def explore(
    machine: Machine,
    alphabet: Sequence[str],
    depth: int,
    invariant: str,
    *,
    examples: int = DEFAULT_EXAMPLES,
    seed: int | None = None,
    max_calls: Sequence[tuple[str, int]] = (),
) -> tuple[int, int, tuple[TraceStep, ...] | None, tuple[TraceStep, ...] | None]:
    """(runs, distinct sequences run, the shrunk violating steps or None, the steps of
    the first run that reached the invariant's witness or None): sequences of at most
    `depth` operations of `alphabet`, each op at most its `max_calls` times.
    Deterministic: derandomized, or seeded with `seed`."""
    log = _Log()
    cls = _state_machine(machine, tuple(alphabet), invariant, log, dict(max_calls))
    factory: Any = cls if seed is None else _seeded(cls, seed)
    config = library_settings(
        max_examples=examples,
        derandomize=True,
        # no explain phase: the last run must be the shrunk example
        phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink),
        stateful_step_count=depth,
        report_multiple_bugs=False,
    )
    try:
        with quiet():
            run_state_machine_as_test(factory, settings=config)
    except _Found:
        return log.runs, len(log.seen), tuple(log.last), log.reached
    except Exception as exc:  # a model bug or a Hypothesis error: ours, one line (re-raised)
        first = (str(exc).splitlines() or [""])[0]
        steps = "; ".join(s.call() for s in log.last)
        raise EncodingMismatch(
            f"{machine.config.id} {machine.scheme.name} {invariant}: exploration failed with "
            f"{type(exc).__name__}: {first} (last run: {steps or 'no steps'})"
        ) from exc
    return log.runs, len(log.seen), None, log.reached


def _seeded(cls: type[RuleBasedStateMachine], value: int) -> Any:
    return seed(value)(cls)


def _state_machine(
    m: Machine, alphabet: tuple[str, ...], invariant: str, log: _Log, limits: Mapping[str, int]
) -> type[RuleBasedStateMachine]:
    def __init__(self: Any) -> None:
        RuleBasedStateMachine.__init__(self)
        self.kstate = m.initial()
        self.stopped = False  # after an oops nothing runs any more
        self.calls = dict.fromkeys(alphabet, 0)
        log.runs += 1
        log.last = []

    def teardown(self: Any) -> None:
        log.seen.add(tuple(log.last))

    def stuck(self: Any) -> bool:
        return self.stopped or not any(_can_run(self, m, op, limits) for op in alphabet)

    def idle(self: Any) -> None:
        """Nothing can run (after an oops, or no operation is enabled): Hypothesis needs
        an enabled rule, and shrinking drops these."""

    namespace: dict[str, object] = {
        "__init__": __init__,
        "teardown": teardown,
        "idle": precondition(stuck)(rule()(idle)),
    }
    for op in alphabet:
        namespace[op] = _op_rule(m, op, invariant, log, limits)
    return type("KernelOperations", (RuleBasedStateMachine,), namespace)


def _can_run(machine: Any, m: Machine, op: str, limits: Mapping[str, int]) -> bool:
    if machine.stopped or (op in limits and machine.calls[op] >= limits[op]):
        return False
    return m.enabled(machine.kstate, op)


def _op_rule(m: Machine, op: str, invariant: str, log: _Log, limits: Mapping[str, int]) -> Callable[..., None]:
    def step(self: Any, args: Mapping[str, int | bool]) -> None:
        before: KState = self.kstate
        self.calls[op] += 1
        log.last.append(TraceStep(op, tuple((a.name, args[a.name]) for a in OPS[op].args)))
        outcome = m.apply(before, op, args)
        if log.reached is None and WITNESSES[OP_INVARIANTS[invariant].witness].check(m, before, log.last[-1], outcome):
            log.reached = tuple(log.last)
        violation = check_step(m, before, outcome, (invariant,))
        if violation is not None:
            raise _Found(*violation)
        if outcome.fault is not None:
            self.stopped = True
        else:
            self.kstate = outcome.state

    def enabled(self: Any) -> bool:
        return _can_run(self, m, op, limits)

    step.__name__ = step.__qualname__ = op
    return precondition(enabled)(rule(args=_args(m, op))(step))


def _args(m: Machine, op: str) -> st.SearchStrategy[dict[str, int | bool]]:
    fields: dict[str, st.SearchStrategy[int | bool]] = {a.name: st.sampled_from(m.arg_values(a)) for a in OPS[op].args}
    return st.fixed_dictionaries(fields).filter(lambda args: m.args_ok(op, args))
