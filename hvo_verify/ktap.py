# SPDX-License-Identifier: GPL-2.0-only
"""KTAP version 1, the kernel's test output format (Documentation/dev-tools/ktap.rst):
the one writer and the one parser of the project.

`check --format ktap` writes it (one test per spec, one subtest per config and
invariant), the reproducers print it from the guest and `conform --reproducers` parses
it.  Pure text in, text out: the lowest layer beside verdict.py, so conform/ and
report/ both use it.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field


class Directive(enum.Enum):
    NONE = ""
    SKIP = "SKIP"
    TODO = "TODO"
    XFAIL = "XFAIL"
    TIMEOUT = "TIMEOUT"  # ktap.rst: the result should be "not ok"
    ERROR = "ERROR"  # ktap.rst: the test could not run; the error is the diagnostic data


@dataclass(frozen=True, slots=True)
class Result:
    """One test line (`ok 3 name # SKIP why`) with the subtests printed before it."""

    number: int
    ok: bool
    name: str
    directive: Directive = Directive.NONE
    reason: str = ""
    subtests: tuple[Result, ...] = ()
    diagnostics: tuple[str, ...] = ()  # the `# ...` lines printed before this result


@dataclass(frozen=True, slots=True)
class Document:
    """A parsed KTAP document: the plan, the results, and the lines it did not understand."""

    version: int
    plan: int | None
    results: tuple[Result, ...]
    unparsed: tuple[str, ...] = ()


def _escape(name: str) -> str:
    # KTAP names end at '#', and a newline ends the line: keep both out of a name.
    return name.replace("#", "-").replace("\n", " ")


def result_line(number: int, ok: bool, name: str, directive: Directive = Directive.NONE, reason: str = "") -> str:
    line = f"{'ok' if ok else 'not ok'} {number} {_escape(name)}"
    if directive is not Directive.NONE:
        line += f" # {directive.value}" + (f" {reason}" if reason else "")
    return line


def write(results: Sequence[Result], indent: str = "") -> Iterator[str]:
    """The KTAP lines of `results`, nested subtests indented by four spaces (KTAP
    version 1 as kselftest prints it, `ksft_print_header()` and `ksft_test_result_*()`)."""
    yield f"{indent}KTAP version 1"
    yield f"{indent}1..{len(results)}"
    for res in results:
        if res.subtests:
            yield from write(res.subtests, indent + "    ")
        for line in res.diagnostics:
            yield f"{indent}# {line}"
        yield indent + result_line(res.number, res.ok, res.name, res.directive, res.reason)


_VERSION = re.compile(r"^(?:KTAP version (\d+)|TAP version (\d+))$")
_PLAN = re.compile(r"^1\.\.(\d+)$")
_RESULT = re.compile(r"^(not ok|ok) (\d+)(?: (?:- )?([^#]*?))?\s*(?:#\s*(SKIP|TODO|XFAIL|TIMEOUT|ERROR)\b\s*(.*))?$")


@dataclass
class _Level:
    indent: int
    version: int = 0
    plan: int | None = None
    results: list[Result] = field(default_factory=list)
    pending: tuple[Result, ...] = ()  # the subtests of the next result line
    diagnostics: list[str] = field(default_factory=list)


def parse(text: str) -> Document:
    """Parse KTAP (or the TAP 13 header kselftest.h prints) into nested results.

    Indentation nests subtests; a result line closes the deeper level before it.  Lines
    that are neither version, plan, result nor diagnostic are kept in `unparsed` (a
    kernel's console output interleaves with a test's)."""
    stack: list[_Level] = []
    unparsed: list[str] = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        body = line.strip()
        if m := _VERSION.match(body):
            if stack and indent <= stack[-1].indent and stack[-1].results:
                unparsed.append(raw)  # a second document at the same level
                continue
            stack.append(_Level(indent, int(m.group(1) or m.group(2))))
            continue
        if not stack:
            unparsed.append(raw)
            continue
        while len(stack) > 1 and indent < stack[-1].indent:
            done = stack.pop()
            stack[-1].pending = tuple(done.results)
        level = stack[-1]
        if m := _PLAN.match(body):
            level.plan = int(m.group(1))
        elif m := _RESULT.match(body):
            directive = Directive(m.group(4)) if m.group(4) else Directive.NONE
            level.results.append(
                Result(
                    int(m.group(2)),
                    m.group(1) == "ok",
                    (m.group(3) or "").strip(),
                    directive,
                    (m.group(5) or "").strip(),
                    level.pending,
                    tuple(level.diagnostics),
                )  # fmt: skip
            )
            level.pending, level.diagnostics = (), []
        elif body.startswith("#"):
            level.diagnostics.append(body[1:].strip())
        else:
            unparsed.append(raw)
    if not stack:
        return Document(0, None, (), tuple(unparsed))
    while len(stack) > 1:
        done = stack.pop()
        stack[-1].pending = tuple(done.results)
    top = stack[0]
    return Document(top.version, top.plan, tuple(top.results), tuple(unparsed))
