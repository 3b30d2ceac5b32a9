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
