# SPDX-License-Identifier: GPL-2.0-only
"""What a check can conclude (`Verdict`), and how a run of checks ends (`Outcome`).

The lowest layer beside errors.py: specs state the verdicts they expect, the engines in
check/ return them, report/ prints them, and cli.py turns the worst `Outcome` of a run
into its exit code.
"""

from __future__ import annotations

import enum


class Verdict(enum.Enum):
    """What a check can conclude."""

    PROVED = "proved"  # the solver showed the negation unsatisfiable under the listed assumptions
    VIOLATED = "violated"  # a concrete counterexample, replayed on the concrete model
    UNKNOWN = "unknown"  # solver unknown or timeout: never read as proved
    NOT_APPLICABLE = "not-applicable"  # the kernel would not optimize here, or the invariant does not apply
    VACUOUS = "vacuous"  # the negation is unsat, but so are the assumptions alone: nothing was checked
    # the negation is unsat, but the situation the invariant is about (its witness,
    # invariants/reachable.py WITNESSES) cannot happen within the bound: nothing relevant was checked
    UNREACHED = "unreached"


EXPLORATION_OK = frozenset({Verdict.PROVED, Verdict.NOT_APPLICABLE})
"""The verdicts a spec without `[expect]` exits 0 on (`Outcome.of`)."""


class Outcome(enum.IntEnum):
    """How a check (or a whole run) ended, in increasing severity: a run ends as its
    worst check, `max(outcomes)`, and exits with that outcome's `exit_code`."""

    AS_EXPECTED = 0  # the verdict equals its expectation (exploring: proved or not-applicable)
    UNREACHED = 1  # a proof whose witness cannot happen within the bound, where the spec expects another verdict
    UNKNOWN = 2  # the solver gave up where the spec expects an answer; nothing differs outright
    DIFFERS = 3  # a verdict differs from its expectation (exploring: violated or vacuous)
    ERROR = 4  # a usage or spec error, or an internal error (a counterexample that did not replay)

    @classmethod
    def of(cls, verdict: Verdict, expected: Verdict | None) -> Outcome:
        """The outcome of one check: its verdict against the expected one.  None: the
        spec has no `[expect]` (exploration mode, a reviewer who does not know the
        answer yet): the verdict is judged on its own, proved and not-applicable are
        fine, unknown is unknown, unreached is unreached (its own exit code), violated
        and vacuous are reported as findings.

        >>> [Outcome.of(v, None).name for v in Verdict]
        ['AS_EXPECTED', 'DIFFERS', 'UNKNOWN', 'AS_EXPECTED', 'DIFFERS', 'UNREACHED']
        """
        if verdict is expected or (expected is None and verdict in EXPLORATION_OK):
            return cls.AS_EXPECTED
        if verdict is Verdict.UNREACHED:
            return cls.UNREACHED
        return cls.UNKNOWN if verdict is Verdict.UNKNOWN else cls.DIFFERS

    @property
    def exit_code(self) -> int:
        """The documented exit code (0, 1, 2, 3, 4: cli.py's table): an unknown exits 3, an
        unreached 4 (the order of severity is not the order of the codes)."""
        return _EXIT_CODES[self]


_EXIT_CODES = {Outcome.AS_EXPECTED: 0, Outcome.DIFFERS: 1, Outcome.ERROR: 2, Outcome.UNKNOWN: 3, Outcome.UNREACHED: 4}


# kselftest's exit codes (tools/testing/selftests/kselftest.h: KSFT_PASS 0, KSFT_FAIL 1,
# KSFT_XFAIL 2, KSFT_XPASS 3, KSFT_SKIP 4), for `check --ksft`: our 2 and 3 would read
# as XFAIL and XPASS to kselftest's runner.
KSFT_PASS, KSFT_FAIL, KSFT_SKIP = 0, 1, 4


def ksft_exit_code(outcome: Outcome, nothing_applicable: bool) -> int:
    """`check --ksft`: 0 when every verdict is as expected (4 when, moreover, nothing
    was applicable: every verdict not-applicable), 1 otherwise (a mismatch, an unknown,
    an error)."""
    if outcome is not Outcome.AS_EXPECTED:
        return KSFT_FAIL
    return KSFT_SKIP if nothing_applicable else KSFT_PASS
