# SPDX-License-Identifier: GPL-2.0-only
"""Unbounded proofs (check/induction.py): the lemma grammar, its two evaluators, the
arbitrary start, and that the engine refuses what it must (issue 13 item 2)."""

from __future__ import annotations

import dataclasses
import json
import pathlib
import re

import pytest
import z3

from hvo_verify.check import induction
from hvo_verify.check.bmc import UNROLLINGS, OpsJob
from hvo_verify.check.suite import run_any, spec_jobs
from hvo_verify.encode.lemmas import compile_lemma
from hvo_verify.encode.ops.induction import LIST_WRITERS, list_caps
from hvo_verify.errors import SpecError
from hvo_verify.specs.lemmas import holds, parse_lemma
from hvo_verify.specs.loader import parse_spec
from hvo_verify.verdict import Verdict

ROOT = pathlib.Path(__file__).resolve().parents[2]

GUP = '"hugetlb_vmemmap_optimize_folio", "alloc_hugetlb_folio", "pin_user_pages_fast", "submit_bio"'
B5 = '"hugetlb_vmemmap_optimize_folio", "dissolve_free_hugetlb_folio", "update_and_free_hugetlb_folio"'


def _spec(run: str, invariant: str, depth: int, extra: str = "", scheme: str = "v6.2") -> str:
    return f"""title = "t"
source = "t"
scheme = "{scheme}"
configs = ["x86-64/4K/2M"]
invariants = ["{invariant}"]
[ops]
run = [{run}]
depth = {depth}
unbounded = true
{extra}
[expect]
default = "proved"
"""


def _run(text: str):  # type: ignore[no-untyped-def]
    UNROLLINGS.clear()
    [job] = spec_jobs(parse_spec(text, "t.toml"), witness=False)  # induction, not coverage, is under test
    return run_any(job)


@pytest.mark.parametrize(
    "text",
    ["not optimized or hugetlb", "pool != buddy and (refs == 0 or io)", "i <= 1 or page_ref_count(i) == 0",
     "folio_pincount() == pins", "not PageHWPoison(0x0)", "nr_injected <= 1"],
)  # fmt: skip
def test_lemmas_parse(text: str) -> None:
    assert parse_lemma(text).text == text


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("optimzed", "did you mean 'optimized'"),
        ("refs", "is an integer"),
        ("refs and hugetlb", "'and' of an integer"),
        ("(refs == 0", "ends too early"),
        ("page_ref_count == 1", "is a reader"),
        ("folio_pincount(3) == 0", "takes no argument"),
        ("hugetlb < 1", "between a boolean and a integer"),
        ("__import__('os')", "unexpected"),
        ("refs == 0 hugetlb", "unexpected 'hugetlb'"),
    ],
)
def test_bad_lemmas_are_one_line_errors_with_file_key_and_hint(text: str, words: str) -> None:
    with pytest.raises(SpecError) as exc:
        parse_spec(_spec(GUP, "read-fault", 2, f"lemmas = [{json.dumps(text)}]"), "s.toml")
    line = exc.value.line()
    assert "\n" not in line and line.startswith("s.toml: ops.lemmas[0]: lemma ") and words in line, line


def test_unbounded_must_be_a_boolean() -> None:
    with pytest.raises(SpecError, match=r"^s.toml: ops.unbounded: "):
        parse_spec(_spec(GUP, "read-fault", 2).replace("unbounded = true", 'unbounded = "yes"'), "s.toml")


@pytest.mark.parametrize(
    ("text", "initially"),
    [("not optimized", True), ("optimized", False), ("pool == free and hugetlb and refs == 0", True),
     ("page_ref_count(0) == 0", True), ("i == 0 or page_ref_count(i) == 1", False), ("pool == in_use", False),
     ("folio_pincount() == 0 and not io", True), ("not PageHWPoison(5)", True),
     ("not page_is_fake_head(i)", True), ("page_is_fake_head(64)", False)],
)  # fmt: skip
def test_the_concrete_and_z3_lemma_agree_on_the_initial_state(text: str, initially: bool) -> None:
    """specs/lemmas.py holds() and encode/lemmas.py compile_lemma() on Machine.initial()
    (the unrolling's step 0): a differential of the two evaluators, against a literal."""
    spec = parse_spec(_spec(GUP, "read-fault", 1, scheme="v5.18"), "t.toml")
    [job] = spec_jobs(spec, witness=False)
    assert isinstance(job, OpsJob)
    machine, u, _sat = UNROLLINGS.get(job)
    lemma = parse_lemma(text)
    assert holds(lemma.expr, machine.initial(), machine) is initially
    solver = z3.Solver()
    solver.add(*u.placement, *u.sym.side, z3.Not(compile_lemma(lemma.expr, u, 0, u.state0, z3.BitVec("li", 64))))
    assert (solver.check() == z3.unsat) is initially


def test_every_list_writer_is_known() -> None:
    """encode/ops/induction.py LIST_WRITERS: the step functions that call insert()."""
    writers = set()
    for path in (ROOT / "hvo_verify/encode/ops").glob("*.py"):
        current = ""
        for line in path.read_text(encoding="utf-8").splitlines():
            if m := re.match(r"def (\w+)\(", line):
                current = m.group(1)
            if re.search(r"\binsert\(s\.(\w+)", line) or "insert(cpu.s." in line:
                writers.add(current)
    assert writers == {w for ws in LIST_WRITERS.values() for w in ws}


def test_unlimited_lists_have_no_cap() -> None:
    assert list_caps(("memory_failure",), ())["injected"] is None
    assert list_caps(("memory_failure",), (("memory_failure", 1),)) == {
        "injected": 1, "raw_hwp": 1, "subpage_maps": 0}  # fmt: skip


def test_gup_read_fault_is_proved_for_every_length() -> None:
    res = _run(_spec(GUP, "read-fault", 2))
    assert res.verdict is Verdict.PROVED and res.unbounded and res.bound is None and res.induction_k >= 1
    assert "abstract-state" in res.lemmas
    assert res.to_json()["bound"] == "none" and res.bound_text().startswith("bound: none (k-induction")


def test_a_bounded_check_says_its_bound() -> None:
    res = _run(_spec(GUP, "read-fault", 2).replace("unbounded = true", ""))
    assert res.bound == 2 and not res.unbounded and res.to_json()["bound"] == 2


B5M = B5[:-1] + '", "memory_failure"'
B5_LEMMAS = 'max_calls = { memory_failure = 1 }\nlemmas = ["pool != removed or not optimized"]'


def test_a_lemma_the_kernel_breaks_is_refused() -> None:
    """B5 (remove_hugetlb_folio() clears the hugetlb flag before the restore, v6.2):
    ro-write is proved at depth 1 and violated at 3 (optimize, dissolve, memory_failure
    on a tail); the lemma that would hide it holds for one step but is not preserved."""
    res = _run(_spec(B5M, "ro-write", 1, B5_LEMMAS))
    assert res.verdict is Verdict.PROVED and not res.unbounded and res.bound == 1
    assert "not proved for every length" in res.reason
    assert any("no longer hold" in line for line in res.cti)


def test_without_the_preservation_check_the_false_lemma_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The mutant the test above rules out: it claims every length where depth 3 is violated."""
    monkeypatch.setattr(induction, "lemma_broken", lambda _r, _l: z3.BoolVal(False))
    res = _run(_spec(B5M, "ro-write", 1, B5_LEMMAS))
    assert res.unbounded
    deeper = _run(_spec(B5M, "ro-write", 3, "max_calls = { memory_failure = 1 }").replace("unbounded = true", ""))
    assert deeper.verdict is Verdict.VIOLATED


def test_a_lemma_false_initially_is_refused() -> None:
    res = _run(_spec(GUP, "read-fault", 2, 'lemmas = ["optimized"]'))
    assert not res.unbounded and "false in the initial state" in res.reason


def test_a_lemma_false_on_a_bounded_run_is_refused() -> None:
    res = _run(_spec(GUP, "read-fault", 2, 'lemmas = ["not optimized"]'))
    assert not res.unbounded and "is false after hugetlb_vmemmap_optimize_folio" in res.reason


def test_check_unbounded_flag_sets_every_ops_spec() -> None:
    from hvo_verify.cli import _unbounded

    spec = parse_spec(_spec(GUP, "read-fault", 2).replace("unbounded = true", ""), "t.toml")
    assert spec.ops is not None and not spec.ops.unbounded
    changed = _unbounded(spec)
    assert changed.ops is not None and changed.ops.unbounded
    assert dataclasses.replace(changed, ops=spec.ops) == spec


def test_contradictory_lemmas_give_no_unbounded_proof(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lemmas that no state satisfies would make every inductive step unsat: the step's
    assumptions are checked satisfiable before `bound: none` (base checks skipped here,
    so that only this check stands between the lemmas and a claim)."""
    monkeypatch.setattr(induction, "_lemma_base", lambda _job: ("", 0.0, 0))
    res = _run(_spec(GUP, "read-fault", 2, 'lemmas = ["optimized and not optimized"]'))
    assert not res.unbounded and "contradictory" in res.reason


def test_reports_show_the_bound_and_the_counterexample_to_induction() -> None:
    from hvo_verify.check.result import CheckResult
    from hvo_verify.report.text import _details
    from hvo_verify.report.trace_text import induction_lines

    cti = ("state: vmemmap optimized, folio_test_hugetlb=False", "then: memory_failure(i=64)")
    bounded = CheckResult("s", "x86-64/4K/2M", "ro-write", Verdict.PROVED, Verdict.PROVED, bound=4, cti=cti, lemmas=("a",),
                          reason="not proved for every length: the inductive step fails at k=3")  # fmt: skip
    lines = induction_lines(bounded, "  ")
    assert (
        lines[0] == "  bound: 4"
        and "counterexample to induction" in lines[1]
        and lines[2:] == [f"    {c}" for c in cti]
    )
    assert bounded.to_json()["bound"] == 4 and bounded.to_json()["induction"] == {
        "k": 0,
        "lemmas": ["a"],
        "cti": list(cti),
    }
    assert _details(bounded, "  ")[0].startswith("  bound: 4; not proved for every length")
    unbounded = dataclasses.replace(
        bounded, bound=None, unbounded=True, induction_k=2, lemmas=("abstract-state",), cti=()
    )
    assert induction_lines(unbounded, "") == ["bound: none (k-induction, k=2; lemmas: abstract-state)"]
    assert unbounded.to_json()["bound"] == "none"
    violated = dataclasses.replace(bounded, verdict=Verdict.VIOLATED)
    assert induction_lines(violated, "") == [] and "bound" in violated.to_json()
    static = CheckResult("s", "x86-64/4K/2M", "head-resolution", Verdict.PROVED, Verdict.PROVED)
    assert "bound" not in static.to_json() and static.bound_text() == ""
