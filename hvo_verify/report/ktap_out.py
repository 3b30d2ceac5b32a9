# SPDX-License-Identifier: GPL-2.0-only
"""`check --format ktap`: KTAP version 1 (Documentation/dev-tools/ktap.rst) through
the project's one writer (hvo_verify/ktap.py).  One test per spec file, one subtest per
(config, invariant) (per (scheme, config, invariant) for a spec that sweeps schemes):

* as expected: `ok`; not-applicable (and expected so): `ok ... # SKIP <reason>`;
* differs from its expectation: `not ok`, with `# expected X, got Y` before it, and the
  counterexample's or the reason's first line; an unexpected solver timeout is
  `not ok ... # TIMEOUT`;
* a spec is `ok` when all its subtests are, `# SKIP` when all were skipped (ktap.rst:
  "a test fails if any of its subtests fail").

A last diagnostic line counts them as kselftest's ksft_print_cnts() does.
"""

from __future__ import annotations

from collections.abc import Sequence

from hvo_verify import ktap
from hvo_verify.check.result import CheckResult
from hvo_verify.verdict import Verdict


def _subtest(number: int, res: CheckResult) -> ktap.Result:
    name = f"{res.scheme} {res.config} {res.invariant}" if res.sweep else f"{res.config} {res.invariant}"
    reason = _first_line(res.reason)
    if res.as_expected:
        if res.verdict is Verdict.NOT_APPLICABLE:
            return ktap.Result(number, True, name, ktap.Directive.SKIP, reason or "not applicable")
        return ktap.Result(number, True, name)
    expected = res.expected.value if res.expected else "nothing"
    notes = [f"{name}: expected {expected}, got {res.verdict.value}"]
    why = res.counterexample.message if res.counterexample else reason
    if why:
        notes.append(f"{name}: {_first_line(why)}")
    timeout = res.verdict is Verdict.UNKNOWN and "timeout" in res.reason.lower()
    directive = ktap.Directive.TIMEOUT if timeout else ktap.Directive.NONE
    return ktap.Result(number, False, name, directive, reason if timeout else "", diagnostics=tuple(notes))


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0]


def ktap_results(results: Sequence[CheckResult]) -> tuple[ktap.Result, ...]:
    """The KTAP tests of `results`: one per spec file, in the order the files came."""
    by_spec: dict[str, list[CheckResult]] = {}
    for res in results:
        by_spec.setdefault(res.spec, []).append(res)
    tests = []
    for number, (spec, group) in enumerate(by_spec.items(), 1):
        subtests = tuple(_subtest(n, res) for n, res in enumerate(group, 1))
        ok = all(sub.ok for sub in subtests)
        skipped = all(sub.directive is ktap.Directive.SKIP for sub in subtests)
        directive = ktap.Directive.SKIP if ok and skipped else ktap.Directive.NONE
        tests.append(ktap.Result(number, ok, spec, directive, "nothing applicable" if skipped else "", subtests))
    return tuple(tests)


def ktap_document(results: Sequence[CheckResult]) -> str:
    tests = ktap_results(results)
    subs = [sub for test in tests for sub in test.subtests]
    passed = sum(1 for s in subs if s.ok and s.directive is not ktap.Directive.SKIP)
    skipped = sum(1 for s in subs if s.directive is ktap.Directive.SKIP)
    failed = len(subs) - passed - skipped
    lines = [*ktap.write(tests), f"# Totals: pass:{passed} fail:{failed} xfail:0 xpass:0 skip:{skipped} error:0"]
    return "\n".join(lines) + "\n"
