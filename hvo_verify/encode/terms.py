# SPDX-License-Identifier: GPL-2.0-only
"""The z3 vocabulary the encoders share: 64-bit words, booleans, and frame tags.

Frame kinds are model/facts.py FrameKind; a z3 frame term carries the kind's tag in
its top two bits (the unrolling) or as a separate kind term (the static folio).
"""

from __future__ import annotations

from typing import TypeAlias

import z3

from hvo_verify.model.facts import MASK64, FrameKind

BV: TypeAlias = z3.BitVecRef
B: TypeAlias = z3.BoolRef
BITS = 64

TRUE, FALSE = z3.BoolVal(True), z3.BoolVal(False)

K_ORIG, K_NEW, K_SHARED, K_NONE = (
    k.tag for k in (FrameKind.ORIG, FrameKind.NEW, FrameKind.SHARED_TAIL, FrameKind.NONE)
)


def bv(value: int) -> BV:
    return z3.BitVecVal(value & MASK64, BITS)


def conj(*terms: B) -> B:
    """And() without the literal True operands (keeps single-condition terms as they are)."""
    kept = [t for t in terms if not z3.is_true(t)]
    if not kept:
        return TRUE
    return kept[0] if len(kept) == 1 else z3.And(kept)


# The unrollings build hundreds of thousands of these terms from operands that are
# already terms of one sort; z3's Python If/==/And coerce and re-check every operand on
# each call.  These three build the same ASTs (z3 hash-conses them) without that: use
# them only where both operands are terms of the same sort.
def ite(condition: B, then: BV, other: BV) -> BV:
    """z3.If(condition, then, other) for two bit-vector terms of one width."""
    ctx = then.ctx
    return z3.BitVecRef(z3.Z3_mk_ite(ctx.ref(), condition.as_ast(), then.as_ast(), other.as_ast()), ctx)


def eq(a: BV, b: BV) -> B:
    """a == b for two bit-vector terms of one width."""
    ctx = a.ctx
    return z3.BoolRef(z3.Z3_mk_eq(ctx.ref(), a.as_ast(), b.as_ast()), ctx)


def and_(*terms: B) -> B:
    """z3.And(*terms) for two or more Bool terms."""
    ctx = terms[0].ctx
    args = (z3.Ast * len(terms))(*(t.as_ast() for t in terms))
    return z3.BoolRef(z3.Z3_mk_and(ctx.ref(), len(terms), args), ctx)
