# SPDX-License-Identifier: GPL-2.0-only
"""Lemmas of an unbounded proof (`[ops] lemmas = ["..."]`): a small expression grammar
over named state fields (ops/state.py KState) and readers, parsed here by recursive
descent (never eval/exec), compiled to z3 by encode/lemmas.py and evaluated on a
concrete state by `evaluate()`.

    expr    := conj ("or" conj)*
    conj    := neg ("and" neg)*
    neg     := "not" neg | cmp
    cmp     := term (("==" | "!=" | "<" | "<=" | ">" | ">=") term)?
    term    := INT | NAME | READER "(" [expr] ")" | "(" expr ")"

Integers are decimal or 0x-hex; `==`/`!=` also compare booleans.  A lemma is a boolean.
The name `i` stands for every subpage index: "i == 0 or page_ref_count(i) == 0" says
that no tail page holds a reference.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass

from hvo_verify.errors import SpecError
from hvo_verify.model import readers
from hvo_verify.model.facts import W_COUNTS, W_FLAGS, W_FOLIO_COUNTS, WORD
from hvo_verify.model.names import suggest
from hvo_verify.ops.machine import Machine
from hvo_verify.ops.state import KState, Pool


class Type(enum.Enum):
    BOOL = "boolean"
    INT = "integer"


# name -> (type, what it is, concrete value).  The names are KState's (ops/state.py);
# `io`/`io_*` are the fields of KState.io, `nr_*` the lengths of its lists, the pool
# states the Pool members.
FIELDS: dict[str, tuple[Type, str, Callable[[KState], int | bool]]] = {
    "optimized": (Type.BOOL, "HPG_vmemmap_optimized", lambda s: s.optimized),
    "hugetlb": (Type.BOOL, "folio_test_hugetlb()", lambda s: s.hugetlb),
    "mapped": (Type.BOOL, "mapped by a user", lambda s: s.mapped),
    "raw_hwp_unreliable": (Type.BOOL, "folio_test_hugetlb_raw_hwp_unreliable()", lambda s: s.raw_hwp_unreliable),
    "pool": (
        Type.INT,
        "the pool state (compare with free, in_use, removed, buddy, leaked)",
        lambda s: list(Pool).index(s.pool),
    ),  # fmt: skip
    "refs": (Type.INT, "ghost: what the folio refcount should be", lambda s: s.refs),
    "pins": (Type.INT, "ghost: what folio->_pincount should be", lambda s: s.pins),
    "io": (Type.BOOL, "an I/O is in flight (GUP returned pages)", lambda s: s.io is not None),
    "io_pinned": (Type.BOOL, "... with FOLL_PIN", lambda s: s.io is not None and s.io.pin),
    "io_submitted": (Type.BOOL, "... and submit_bio() ran", lambda s: s.io is not None and s.io.submitted),
    "nr_raw_hwp": (Type.INT, "entries on folio->_hugetlb_hwpoison", lambda s: len(s.raw_hwp)),
    "nr_injected": (Type.INT, "ghost: memory_failure() calls", lambda s: len(s.injected)),
    "nr_subpage_maps": (Type.INT, "subpages mapped by page_add_file_rmap()", lambda s: len(s.subpage_maps)),
    "dissolve_called": (Type.BOOL, "dissolve_free_hugetlb_folio() ran", lambda s: s.dissolve_pfn is not None),
}
POOL_NAMES = {p.name.lower(): n for n, p in enumerate(Pool)}
EVERY = "i"  # every subpage index

# reader -> (argument: a subpage index or none, struct page word, bits, what it reads)
READERS: dict[str, tuple[bool, int, tuple[int, int] | None, str]] = {
    "page_ref_count": (True, W_COUNTS, (63, 32), "page_ref_count(subpage i): page->_refcount"),
    "folio_pincount": (False, W_FOLIO_COUNTS, (63, 32), "folio->_pincount (in page[1])"),
    "PageHWPoison": (True, W_FLAGS, None, "PG_hwpoison of subpage i"),
    # word -1: a reader of model/readers.py (encode/readers.py) rather than one word
    "page_is_fake_head": (True, -1, None, "page_is_fake_head(subpage i): a tail that looks like a head (v5.18)"),
}
CMP = ("==", "!=", "<=", ">=", "<", ">")


@dataclass(frozen=True, slots=True)
class Num:
    value: int


@dataclass(frozen=True, slots=True)
class Name:
    name: str


@dataclass(frozen=True, slots=True)
class Call:
    reader: str
    arg: Expr | None


@dataclass(frozen=True, slots=True)
class Neg:
    operand: Expr


@dataclass(frozen=True, slots=True)
class Logic:
    op: str  # "and" | "or"
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Cmp:
    op: str
    left: Expr
    right: Expr


Expr = Num | Name | Call | Neg | Logic | Cmp


@dataclass(frozen=True, slots=True)
class Lemma:
    text: str
    expr: Expr


_TOKEN = re.compile(r"\s*(?:(0x[0-9a-fA-F]+|\d+)|([A-Za-z_][A-Za-z0-9_]*)|(==|!=|<=|>=|<|>|\(|\)))")


class _Parser:
    def __init__(self, text: str, path: str, key: str) -> None:
        self.text, self.path, self.key = text, path, key
        self.tokens: list[tuple[str, str]] = []  # (kind, text)
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            m = _TOKEN.match(text, pos)
            if m is None:
                self.fail(f"unexpected {text[pos:].strip()[:1]!r} at column {pos + 1}",
                          "lemmas use names, integers, comparisons, and/or/not and parentheses")  # fmt: skip
            assert m is not None
            kind = "num" if m.group(1) else "name" if m.group(2) else "op"
            self.tokens.append((kind, m.group(m.lastindex or 0)))
            pos = m.end()
        self.n = 0

    def fail(self, what: str, hint: str) -> None:
        raise SpecError(self.path, self.key, f"lemma {self.text!r}: {what} ({hint})")

    def peek(self) -> str | None:
        return self.tokens[self.n][1] if self.n < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        if self.n >= len(self.tokens):
            self.fail("ends too early", "complete the expression")
        tok = self.tokens[self.n]
        self.n += 1
        return tok

    def parse(self) -> Expr:
        expr = self.disj()
        if self.peek() is not None:
            self.fail(f"unexpected {self.peek()!r}", "join conditions with and/or")
        if _type(expr, self) is not Type.BOOL:
            self.fail("is an integer, not a condition", "compare it, e.g. refs == 0")
        return expr

    def disj(self) -> Expr:
        left = self.conj()
        while self.peek() == "or":
            self.take()
            left = Logic("or", left, self.conj())
        return left

    def conj(self) -> Expr:
        left = self.neg()
        while self.peek() == "and":
            self.take()
            left = Logic("and", left, self.neg())
        return left

    def neg(self) -> Expr:
        if self.peek() == "not":
            self.take()
            return Neg(self.neg())
        return self.cmp()

    def cmp(self) -> Expr:
        left = self.term()
        if self.peek() in CMP:
            op = self.take()[1]
            return Cmp(op, left, self.term())
        return left

    def term(self) -> Expr:
        kind, tok = self.take()
        if kind == "num":
            return Num(int(tok, 0))
        if tok == "(":
            inner = self.disj()
            if self.take()[1] != ")":
                self.fail("a '(' is not closed", "add ')'")
            return inner
        if kind != "name" or tok in ("and", "or", "not"):
            self.fail(f"unexpected {tok!r}", "expected a name, an integer or '('")
        if tok in READERS:
            if self.take()[1] != "(":
                self.fail(f"{tok} is a reader", f"call it: {tok}({'i' if READERS[tok][0] else ''})")
            arg = None if self.peek() == ")" else self.disj()
            if self.take()[1] != ")":
                self.fail(f"{tok}(...) is not closed", "add ')'")
            if (arg is None) == READERS[tok][0]:
                self.fail(f"{tok} takes {'one subpage index' if READERS[tok][0] else 'no argument'}",
                          f"write {tok}({'0' if READERS[tok][0] else ''})")  # fmt: skip
            return Call(tok, arg)
        if tok not in FIELDS and tok not in POOL_NAMES and tok != EVERY:
            names = [*FIELDS, *POOL_NAMES, *READERS, EVERY]
            raise SpecError(self.path, self.key, f"lemma {self.text!r}: unknown name {tok!r}{suggest(tok, names)}")
        return Name(tok)


def _type(e: Expr, p: _Parser) -> Type:
    match e:
        case Num() | Call(reader="page_ref_count") | Call(reader="folio_pincount"):  # the others are flags
            return Type.INT
        case Call():
            if e.arg is not None and _type(e.arg, p) is not Type.INT:
                p.fail(f"the argument of {e.reader} is a condition", "pass a subpage index")
            return Type.BOOL
        case Name(name=name):
            return FIELDS[name][0] if name in FIELDS else Type.INT  # a pool state or i
        case Neg(operand=x):
            if _type(x, p) is not Type.BOOL:
                p.fail("'not' of an integer", "compare it first")
            return Type.BOOL
        case Logic(op=op, left=a, right=b):
            if _type(a, p) is not Type.BOOL or _type(b, p) is not Type.BOOL:
                p.fail(f"'{op}' of an integer", "compare it first, e.g. refs > 0")
            return Type.BOOL
        case Cmp(op=op, left=a, right=b):
            ta, tb = _type(a, p), _type(b, p)
            if ta is not tb or (ta is Type.BOOL and op not in ("==", "!=")):
                p.fail(f"'{op}' between a {ta.value} and a {tb.value}", "compare integers, or booleans with ==/!=")
            return Type.BOOL
    raise AssertionError(e)


def parse_lemma(text: str, path: str = "<lemma>", key: str = "ops.lemmas") -> Lemma:
    """One lemma, or a one-line SpecError naming the file and key."""
    if not isinstance(text, str) or not text.strip():
        raise SpecError(path, key, 'a lemma is a non-empty string (e.g. "not optimized or hugetlb")')
    return Lemma(text.strip(), _Parser(text, path, key).parse())


def names(e: Expr) -> set[str]:
    """The state fields and readers a lemma mentions (for the report)."""
    match e:
        case Num():
            return set()
        case Name(name=n):
            return set() if n in POOL_NAMES or n == EVERY else {n}
        case Call(reader=r, arg=a):
            return {r} | (names(a) if a is not None else set())
        case Neg(operand=x):
            return names(x)
        case Logic(left=a, right=b) | Cmp(left=a, right=b):
            return names(a) | names(b)
    raise AssertionError(e)


def every(e: Expr) -> bool:
    """Does the lemma range over every subpage index (`i`)?"""
    match e:
        case Name(name=n):
            return n == EVERY
        case Num():
            return False
        case Call(arg=a):
            return a is not None and every(a)
        case Neg(operand=x):
            return every(x)
        case Logic(left=a, right=b) | Cmp(left=a, right=b):
            return every(a) or every(b)
    raise AssertionError(e)


def holds(e: Expr, state: KState, machine: Machine) -> bool:
    """The lemma on a concrete state, for every subpage index where it names `i` (the
    z3 twin is encode/lemmas.py compile_lemma)."""
    subpages = range(machine.config.nr_pages) if every(e) else (0,)
    return all(evaluate(e, state, machine, i) for i in subpages)


def evaluate(e: Expr, state: KState, machine: Machine, i: int = 0) -> int | bool:
    """The lemma's value on a concrete state with `i` = i."""
    match e:
        case Num(value=v):
            return v
        case Name(name=n):
            if n == EVERY:
                return i
            return POOL_NAMES[n] if n in POOL_NAMES else FIELDS[n][2](state)
        case Call(reader=r, arg=a):
            indexed, word, bits, _what = READERS[r]
            sub = int(evaluate(a, state, machine, i)) if a is not None else 1
            page = machine.folio.head + sub * machine.config.struct_page_size
            if word < 0:
                return readers.page_is_fake_head(state.vmemmap, page)
            value = machine.read(state, page + word * WORD)
            if bits is None:
                return bool(value >> machine.scheme.facts.pg_hwpoison & 1)
            return value >> bits[1] & ((1 << (bits[0] - bits[1] + 1)) - 1)
        case Neg(operand=x):
            return not evaluate(x, state, machine, i)
        case Logic(op=op, left=a, right=b):
            if op == "and":
                return bool(evaluate(a, state, machine, i)) and bool(evaluate(b, state, machine, i))
            return bool(evaluate(a, state, machine, i)) or bool(evaluate(b, state, machine, i))
        case Cmp(op=op, left=a, right=b):
            lv, rv = evaluate(a, state, machine, i), evaluate(b, state, machine, i)
            return {"==": lv == rv, "!=": lv != rv, "<": lv < rv, "<=": lv <= rv, ">": lv > rv, ">=": lv >= rv}[op]
    raise AssertionError(e)
