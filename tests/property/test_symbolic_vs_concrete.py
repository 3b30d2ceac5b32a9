"""The z3 verdict agrees with brute-force enumeration over every index of the literal
model, for random configs, custom schemes and vmemmap alignments.

PROVED: no index of any sampled (head pfn, vmemmap base, allocation outcome) violates
the invariant on the concrete model.  VIOLATED: the counterexample was replayed by the
static engine; here we also check it is minimal: no smaller index fails for the same folio.
"""

from __future__ import annotations

import dataclasses
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hvo_verify.check.static import Job, run
from hvo_verify.invariants.static import INVARIANTS, Index
from hvo_verify.model.config import KernelConfig, parse_config_id
from hvo_verify.model.remap import optimize
from hvo_verify.model.scheme import Scheme, preset
from hvo_verify.model.structpage import Folio
from hvo_verify.selfcheck.differential import RandomChooser, first_violation, placements, schemes
from hvo_verify.verdict import Verdict

SMALL_CONFIGS = ["x86-64/4K/2M", "arm64/16K/32M", "arm64/4K/2M"]
ODD_CONFIGS = ["x86-64/4K/2M@56", "x86-64/4K/2M@80"]
CHEAP_ON_ODD = ["head-resolution", "layout-soundness", "no-dangling-frame", "accounting", "address-identity"]


def concrete_folios(config: KernelConfig, align: int, seed: int) -> list[tuple[int, int]]:
    """(head pfn, vmemmap base) pairs satisfying the solver's assumptions (the
    differential self-check's generator)."""
    return placements(config, align, RandomChooser(random.Random(seed)), count=4)


def brute_force(config: KernelConfig, scheme: Scheme, inv_id: str, pfn: int, base: int, alloc_ok: bool) -> int | None:
    found = first_violation(INVARIANTS[inv_id], optimize(Folio(config, scheme, pfn, base), alloc_ok=alloc_ok))
    return None if found is None else found[0]


def agree(config_id: str, scheme: Scheme, inv_id: str, align: int, seed: int) -> None:
    config = parse_config_id(config_id)[0]
    result = run(Job(config, scheme, inv_id, timeout_ms=60_000, base_align=align))
    if result.verdict is Verdict.NOT_APPLICABLE:
        return
    assert result.verdict is not Verdict.UNKNOWN, result.reason
    if result.verdict is Verdict.PROVED:
        effective = align
        for pfn, base in concrete_folios(config, effective, seed):
            for alloc_ok in (True, False):
                bad = brute_force(config, scheme, inv_id, pfn, base, alloc_ok)
                assert bad is None, (
                    f"z3 proved {inv_id} but index {bad} fails (pfn {pfn:#x}, base {base:#x}, alloc_ok={alloc_ok})"
                )
        return
    cex = result.counterexample
    assert cex is not None
    first = brute_force(config, scheme, inv_id, cex.head_pfn, cex.vmemmap_base, cex.head_page_alloc_ok)
    assert first is not None, "the counterexample's folio has no violating index"
    if INVARIANTS[inv_id].index is not Index.FOLIO:
        assert first == cex.indices[0][1], f"counterexample index {cex.indices} is not minimal: {first} fails too"


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    scheme=schemes(),
    config_id=st.sampled_from(SMALL_CONFIGS),
    inv_id=st.sampled_from(sorted(INVARIANTS)),
    align_shift=st.sampled_from([3, 6, 12, 15]),
    seed=st.integers(0, 2**32),
)
def test_random_schemes_agree_with_brute_force(
    scheme: Scheme, config_id: str, inv_id: str, align_shift: int, seed: int
) -> None:
    config = parse_config_id(config_id)[0]
    align = 1 << max(align_shift, 3)
    if align_shift == 12:
        align = config.page_size
    agree(config_id, scheme, inv_id, align, seed)


@settings(max_examples=8, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(["v5.14", "v5.18", "rfc-2020"]),
    config_id=st.sampled_from(ODD_CONFIGS),
    inv_id=st.sampled_from(CHEAP_ON_ODD),
    seed=st.integers(0, 2**32),
)
def test_non_power_of_2_struct_page_agrees(name: str, config_id: str, inv_id: str, seed: int) -> None:
    scheme = dataclasses.replace(preset(name), power_of_2_guard=False)
    agree(config_id, scheme, inv_id, 4096, seed)


def test_every_preset_on_small_configs_agrees() -> None:
    """Not random: every preset, every invariant, the default alignment."""
    for config_id in SMALL_CONFIGS:
        for name in ("none", "rfc-2020", "v5.14", "v5.18", "v6.2", "mask-2026", "devdax"):
            scheme = preset(name)
            for inv_id in INVARIANTS:
                align = 4096 if not scheme.vmemmap_align_max_folio else 1 << 24
                agree(config_id, scheme, inv_id, max(align, parse_config_id(config_id)[0].page_size), 7)
