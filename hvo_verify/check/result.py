# SPDX-License-Identifier: GPL-2.0-only
"""What a check returns: frozen, printable by report/, never printed here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hvo_verify.check.smp_enumerate import Step
from hvo_verify.check.solver import Status
from hvo_verify.ops.trace import Trace, hex_address
from hvo_verify.verdict import Verdict


@dataclass(frozen=True, slots=True)
class Counterexample:
    """A concrete witness, decoded from the solver and replayed on the concrete model."""

    config: str
    scheme: str
    invariant: str
    head_pfn: int
    vmemmap_base: int
    head_page_alloc_ok: bool
    indices: tuple[tuple[str, int], ...]  # e.g. (("i", 64),)
    message: str  # what the concrete model says went wrong
    details: tuple[str, ...] = ()  # kernel-terms lines: addresses, PTEs, words read

    def to_json(self) -> dict[str, object]:
        return {
            "config": self.config,
            "scheme": self.scheme,
            "invariant": self.invariant,
            "head_pfn": hex_address(self.head_pfn),  # hex strings: above 2**53 a double reader rounds
            "vmemmap_base": hex_address(self.vmemmap_base),
            "head_page_alloc_ok": self.head_page_alloc_ok,
            "indices": dict(self.indices),
            "message": self.message,
            "details": list(self.details),
        }


@dataclass(frozen=True, slots=True)
class CheckResult:
    spec: str
    config: str
    invariant: str
    verdict: Verdict
    expected: Verdict | None
    assumptions: tuple[str, ...] = ()
    counterexample: Counterexample | None = None
    reason: str = ""  # why not-applicable / unknown
    solver_seconds: float = 0.0
    queries: int = 0
    trace: Trace | None = None  # operation checks: the replayed violating trace
    scheme: str = ""  # the scheme checked (check_specs fills it in, with `spec`)
    sweep: bool = False  # the spec sweeps several schemes (`schemes`): one column per scheme
    # interleaving checks (check/smp.py): the replayed violating schedule, one entry per
    # atomic step; the CPUs (name and what each runs) and the kernel statement of every step id
    schedule: tuple[Step, ...] = ()
    cpus: tuple[str, ...] = ()
    legend: tuple[tuple[str, str], ...] = ()
    # operation checks: the sequence length the verdict covers (None: not an operation
    # check); `unbounded`: proved for every length by k-induction (check/induction.py),
    # with its k, the lemmas it assumed (each proved initially and preserved) and, where
    # induction failed, the counterexample to induction in kernel terms
    bound: int | None = None
    unbounded: bool = False
    induction_k: int = 0
    lemmas: tuple[str, ...] = ()
    cti: tuple[str, ...] = ()
    # proved operation checks: the shortest run reaching the invariant's witness (its id,
    # invariants/reachable.py WITNESSES), replayed; interleaving checks: the witness schedule
    witness: Trace | None = None
    witness_id: str = ""
    witness_schedule: tuple[Step, ...] = ()
    # operation proofs: the operations of `run` no step can enable within the depth (the
    # unrolling's abstract pruning, encode/ops/enabled.py possible_ops())
    never_enabled: tuple[str, ...] = ()

    @property
    def as_expected(self) -> bool:
        return self.expected is self.verdict

    def to_json(self) -> dict[str, object]:
        """The result as JSON; `schedule` only when there is one (an SMP counterexample)."""
        out: dict[str, object] = {
            "spec": self.spec,
            "scheme": self.scheme,
            "config": self.config,
            "invariant": self.invariant,
            "verdict": self.verdict.value,
            "expected": None if self.expected is None else self.expected.value,
            "as_expected": self.as_expected,
            "assumptions": list(self.assumptions),
            "counterexample": None if self.counterexample is None else self.counterexample.to_json(),
            "trace": None if self.trace is None else self.trace.to_json(),
            "reason": self.reason,
        }
        out.update(self.bound_json())
        if self.witness is not None:
            out["witness"] = witness_json(self.witness)
        if self.witness_schedule:
            out["witness"] = [{"cpu": s.cpu, "step": s.step} for s in self.witness_schedule]
        if self.cpus:
            out["cpus"] = list(self.cpus)
        if self.schedule:
            out["schedule"] = [
                {"cpu": s.cpu, "step": s.step, "choice": s.choice, "notes": list(s.notes)} for s in self.schedule
            ]
        return out

    def bound_json(self) -> dict[str, object]:
        """`bound` ("none" or the depth) of an operation check, and its induction facts."""
        if self.bound is None and not self.unbounded:
            return {}
        out: dict[str, object] = {"bound": "none" if self.unbounded else self.bound}
        if self.unbounded or self.lemmas:
            out["induction"] = {"k": self.induction_k, "lemmas": list(self.lemmas), "cti": list(self.cti)}
        return out

    def bound_text(self) -> str:
        """`bound: none (k-induction, k=K; lemmas: ...)` or `bound: N`, for check and explain."""
        if self.unbounded:
            return f"bound: none (k-induction, k={self.induction_k}; lemmas: {'; '.join(self.lemmas) or 'none'})"
        return "" if self.bound is None else f"bound: {self.bound}"


def vacuity_verdict(status: Status, why: str, core: Sequence[str]) -> tuple[Verdict, str]:
    """The verdict of a query whose negation was unsat, from the satisfiability of its
    assumptions alone: proved only when they are satisfiable."""
    if status is Status.SAT:
        return Verdict.PROVED, ""
    if status is Status.UNSAT:
        return Verdict.VACUOUS, "the assumptions are contradictory, nothing was checked: " + "; ".join(core)
    return Verdict.UNKNOWN, f"solver: {why} (while checking that the assumptions are satisfiable)"


def witness_json(trace: Trace) -> list[dict[str, object]]:
    """The witness run as JSON steps: `{"op": name, "args": {...}}` each (additive field)."""
    return [{"op": st.op, "args": dict(st.args)} for st in trace.steps]
