# SPDX-License-Identifier: GPL-2.0-only
"""A lemma (specs/lemmas.py) as a z3 term over the state after step t of an Unrolling:
the twin of specs/lemmas.py `evaluate()` (integers are 64-bit, compared signed, as the
ghost counters may go below zero in a broken model)."""

from __future__ import annotations

import z3

from hvo_verify.encode import readers
from hvo_verify.encode.memory import Page
from hvo_verify.encode.ops.state import POOL, SymKState
from hvo_verify.encode.ops.unroll import Unrolling
from hvo_verify.encode.terms import BITS, BV, B, bv
from hvo_verify.model.facts import WORD
from hvo_verify.ops.state import Pool
from hvo_verify.specs.lemmas import EVERY, POOL_NAMES, READERS, Call, Cmp, Expr, Logic, Name, Neg, Num, every


def level_after(u: Unrolling, t: int) -> int:
    """The memory events of steps 1..t."""
    return u.steps[t - 1].level if t else 0


def _count(entries: tuple[tuple[B, BV], ...]) -> BV:
    return z3.Sum([z3.If(v, bv(1), bv(0)) for v, _x in entries]) if entries else bv(0)


def field_term(u: Unrolling, s: SymKState, name: str) -> BV | B:
    """A state field by its specs/lemmas.py FIELDS name."""
    io = s.io
    terms: dict[str, BV | B] = {
        "optimized": s.optimized, "hugetlb": s.hugetlb, "mapped": s.mapped,
        "raw_hwp_unreliable": s.raw_hwp_unreliable, "pool": s.pool, "refs": s.refs, "pins": s.pins,
        "io": io.present, "io_pinned": z3.And(io.present, io.pin), "io_submitted": z3.And(io.present, io.submitted),
        "nr_raw_hwp": _count(s.raw_hwp), "nr_injected": _count(s.injected),
        "nr_subpage_maps": _count(s.subpage_maps), "dissolve_called": s.dissolve_pfn[0],
    }  # fmt: skip
    return terms[name]


def compile_lemma(e: Expr, u: Unrolling, t: int, s: SymKState, i: BV | None = None) -> B:
    """The lemma after step t (t = 0: the unrolling's first state), with `i` (every
    subpage index, specs/lemmas.py EVERY) = i, for the subpages below nr_pages."""
    index = bv(0) if i is None else i
    out = _term(e, u, t, s, index)
    assert isinstance(out, z3.BoolRef)
    return z3.Implies(z3.ULT(index, u.nr), out) if every(e) else out


def _term(e: Expr, u: Unrolling, t: int, s: SymKState, i: BV) -> BV | B:
    match e:
        case Num(value=v):
            return bv(v)
        case Name(name=n):
            if n == EVERY:
                return i
            return bv(POOL[list(Pool)[POOL_NAMES[n]]]) if n in POOL_NAMES else field_term(u, s, n)
        case Call(reader=r, arg=a):
            _indexed, word, bits, _what = READERS[r]
            sub = _term(a, u, t, s, i) if a is not None else bv(1)
            assert isinstance(sub, z3.BitVecRef)
            with u.at_level(level_after(u, t)):
                if word < 0:
                    return readers.page_is_fake_head(u.memory(t, s.optimized), Page(u.page(sub))).value
                value, _fault = u.read(t, u.page(sub) + word * WORD, word)
            if bits is None:
                bit = u.facts.pg_hwpoison
                return z3.Extract(bit, bit, value) == 1
            return z3.ZeroExt(BITS - (bits[0] - bits[1] + 1), z3.Extract(bits[0], bits[1], value))
        case Neg(operand=x):
            return z3.Not(_term(x, u, t, s, i))
        case Logic(op=op, left=a, right=b):
            return (z3.And if op == "and" else z3.Or)(_term(a, u, t, s, i), _term(b, u, t, s, i))
        case Cmp(op=op, left=a, right=b):
            x, y = _term(a, u, t, s, i), _term(b, u, t, s, i)
            return {"==": lambda: x == y, "!=": lambda: x != y, "<": lambda: x < y, "<=": lambda: x <= y,
                    ">": lambda: x > y, ">=": lambda: x >= y}[op]()  # fmt: skip
    raise AssertionError(e)
