# SPDX-License-Identifier: GPL-2.0-only
"""The encoders' shortcuts build the very terms the plain construction builds (issue 15:
they save Python work, never change a formula).  z3 hash-conses terms, so "the same
term" is `eq()`: one AST.

* encode/terms.py `ite`, `eq`, `and_`: z3.If, ==, And without the operand coercion;
* encode/folio.py `SymFolio.struct_word()` and `shared_tail_word()`: a closed form
  built once and instantiated by substitution;
* encode/ops/smp_unroll.py `SmpUnrolling._run_step()`: check_state() built once per
  combination of the terms it reads, shared between the branches of a step."""

from __future__ import annotations

import pytest
import z3

from hvo_verify.check import smp
from hvo_verify.encode import terms
from hvo_verify.encode.folio import SymFolio
from hvo_verify.encode.ops import smp as sym
from hvo_verify.encode.ops.smp_unroll import SmpUnrolling
from hvo_verify.model.config import parse_config_id
from hvo_verify.model.scheme import preset

SYSTEMS = [("walker-vs-prep", "v6.1"), ("two-optimizers", "v6.10"), ("optimize-rollback", "01b1d0ffb6f7")]


def _side(u: SmpUnrolling) -> list[z3.BoolRef]:
    return [expr for side in u.side for expr in side]


@pytest.mark.parametrize(("name", "era"), SYSTEMS, ids=[f"{e}-{n}" for n, e in SYSTEMS])
def test_the_shared_state_check_builds_the_unshared_terms(name: str, era: str, monkeypatch: pytest.MonkeyPatch) -> None:
    system = smp.example(name, era)
    shared = SmpUnrolling(system, smp.depth(system))
    assert shared._state_memo, "no branch shared check_state(): the test checks nothing"
    monkeypatch.setattr(SmpUnrolling, "_run_step", lambda self, cpu: sym.run_step(cpu))
    plain = SmpUnrolling(system, smp.depth(system))
    got, want = _side(shared), _side(plain)
    assert len(got) == len(want)
    assert all(a.eq(b) for a, b in zip(got, want, strict=True))


def test_a_memo_keyed_on_too_few_cells_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test above fails for a memo that ignores one of the cells check_state() reads."""
    system = smp.example("two-optimizers", "v6.10")
    plain = _side(SmpUnrolling(system, smp.depth(system)))
    key = SmpUnrolling._state_key

    def forgetful(self: SmpUnrolling, guard: z3.BoolRef, values: dict[str, z3.BitVecRef]) -> tuple[int, ...]:
        full = key(self, guard, values)
        reads = self._state_reads or ()
        return full[:1] + tuple(v for n, v in zip(reads, full[1:], strict=True) if not n.startswith("pte."))

    monkeypatch.setattr(SmpUnrolling, "_state_key", forgetful)
    broken = _side(SmpUnrolling(system, smp.depth(system)))
    assert not all(a.eq(b) for a, b in zip(broken, plain, strict=True))


def test_the_fast_constructors_build_z3s_terms() -> None:
    a, b, c = z3.BitVecs("a b c", 64)
    p, q, r = z3.Bools("p q r")
    assert terms.ite(p, a, b).eq(z3.If(p, a, b))
    assert terms.eq(a, c).eq(a == c)
    assert terms.and_(p, q).eq(z3.And(p, q))
    assert terms.and_(p, q, r).eq(z3.And(p, q, r))
    assert not terms.ite(p, a, b).eq(z3.If(p, b, a))


@pytest.mark.parametrize("era", ["v5.14", "v6.2", "mask-2026", "rfc-2020"])
@pytest.mark.parametrize("config", ["x86-64/4K/2M", "x86-64/4K/2M@56"])
def test_the_closed_form_templates_build_the_direct_terms(era: str, config: str) -> None:
    cfg = parse_config_id(config)[0]
    folio = SymFolio(cfg, preset(era))
    index, word = z3.BitVec("i", 64), z3.BitVec("w", 64)
    for i, w in [(index, word), (terms.bv(0), terms.bv(1)), (index + 1, z3.LShR(word, 3))]:
        got, want = folio.struct_word(i, w), folio._struct_word(i, w)
        assert got[0].eq(want[0]) and got[1].eq(want[1])
        got, want = folio.shared_tail_word(w), folio._shared_tail_word(w)
        assert got[0].eq(want[0]) and got[1].eq(want[1])
