# SPDX-License-Identifier: GPL-2.0-only
"""The z3 verdict agrees with brute-force enumeration over every index of the literal
model, for random custom schemes and vmemmap alignments, per (invariant, config).

Hypothesis draws only the scheme, the alignment and a seed; the invariant and the config
are parameters, so every invariant is checked on every config here (a sampled invariant
was never no-dangling-frame in 150 draws).  Each path asserts something:

* NOT_APPLICABLE: the kernel's table (selfcheck.differential.kernel_refuses(), written
  independently of the engine's rule) refuses too, and the concrete model refuses to
  optimize (or the invariant's own rule applies);
* PROVED: no index of any sampled placement (head pfn, vmemmap base the kernel allows,
  both allocation outcomes) violates the invariant on the concrete model;
* VIOLATED: the static engine replayed the counterexample; here brute force also finds
  that no smaller index fails for the same folio (the engine's minimisation is checked).

Each (invariant, config) must see at least APPLICABLE_FLOOR applicable schemes, and
every invariant must come back both proved and violated somewhere.
"""

from __future__ import annotations

import dataclasses
import random
import zlib
from collections import Counter
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from hvo_verify.check.static import Job, run
from hvo_verify.errors import NotApplicable
from hvo_verify.invariants.static import INVARIANTS, Index
from hvo_verify.model.config import KernelConfig, parse_config_id
from hvo_verify.model.remap import optimize
from hvo_verify.model.scheme import Scheme, preset
from hvo_verify.model.structpage import Folio
from hvo_verify.selfcheck.differential import (
    RandomChooser,
    first_violation,
    kernel_refuses,
    kernel_vmemmap_align,
    placements,
    schemes,
)
from hvo_verify.verdict import Verdict

SMALL_CONFIGS = ["x86-64/4K/2M", "arm64/16K/32M", "arm64/4K/2M"]
ODD_CONFIGS = ["x86-64/4K/2M@56", "x86-64/4K/2M@80"]
CHEAP_ON_ODD = ["head-resolution", "layout-soundness", "no-dangling-frame", "accounting", "address-identity"]
EXAMPLES = 15  # schemes per (invariant, config)
APPLICABLE_FLOOR = 5  # of them at least this many applicable
ODD_EXAMPLES = 4

# Every (invariant, config) test adds its verdicts here; the last test of the module
# checks that every invariant was both proved and violated (on some config).
VERDICTS: Counter[tuple[str, Verdict]] = Counter()
RAN: set[str] = set()  # which of those tests ran (the check needs them all)


def concrete_folios(config: KernelConfig, align: int, seed: int) -> list[tuple[int, int]]:
    """(head pfn, vmemmap base) pairs the kernel allows at this base alignment (the
    differential self-check's generator: canonical, lowest, highest, lowest + one
    alignment step, then random ones)."""
    return placements(config, align, RandomChooser(random.Random(seed)), count=6)


def brute_force(config: KernelConfig, scheme: Scheme, inv_id: str, pfn: int, base: int, alloc_ok: bool) -> int | None:
    found = first_violation(INVARIANTS[inv_id], optimize(Folio(config, scheme, pfn, base), alloc_ok=alloc_ok))
    return None if found is None else found[0]


def _concrete_refuses(config: KernelConfig, scheme: Scheme, inv_id: str) -> bool:
    if INVARIANTS[inv_id].not_applicable(scheme) is not None:
        return True
    try:
        optimize(Folio(config, scheme, config.nr_pages, config.default_vmemmap_base))
    except NotApplicable:
        return True
    return False


def agree(config_id: str, scheme: Scheme, inv_id: str, align: int, seed: int) -> Verdict:
    """Run the static engine and check its verdict against the concrete model (see the
    module docstring); the verdict."""
    config = parse_config_id(config_id)[0]
    result = run(Job(config, scheme, inv_id, timeout_ms=60_000, base_align=align))
    kernel = kernel_refuses(config, scheme, inv_id)
    if result.verdict is Verdict.NOT_APPLICABLE:
        assert kernel is not None, f"the engine refuses ({result.reason}), the kernel's table does not"
        assert _concrete_refuses(config, scheme, inv_id), "the concrete model optimizes"
        return result.verdict
    assert kernel is None, f"the engine checks what the kernel's table refuses: {kernel}"
    assert result.verdict in (Verdict.PROVED, Verdict.VIOLATED), (result.verdict, result.reason)
    if result.verdict is Verdict.PROVED:
        for pfn, base in concrete_folios(config, align, seed):
            for alloc_ok in (True, False):
                bad = brute_force(config, scheme, inv_id, pfn, base, alloc_ok)
                assert bad is None, (
                    f"z3 proved {inv_id} but index {bad} fails (pfn {pfn:#x}, base {base:#x}, alloc_ok={alloc_ok})"
                )
        return result.verdict
    cex = result.counterexample
    assert cex is not None
    first = brute_force(config, scheme, inv_id, cex.head_pfn, cex.vmemmap_base, cex.head_page_alloc_ok)
    assert first is not None, "the counterexample's folio has no violating index"
    if INVARIANTS[inv_id].index is not Index.FOLIO:
        assert first == cex.indices[0][1], f"counterexample index {cex.indices} is not minimal: {first} fails too"
    return result.verdict


def _alignment(config: KernelConfig, scheme: Scheme, shift: int | None) -> int:
    """A `vmemmap_base_align` of 1 << shift bytes, or the kernel's own (None)."""
    return kernel_vmemmap_align(config, scheme) if shift is None else 1 << shift


def _run_examples(
    key: str, examples: int, strategy: st.SearchStrategy[Scheme], check: Callable[[Scheme, int | None, int], None]
) -> None:
    """Hypothesis over `strategy`, seeded per parameter (each (invariant, config) gets
    its own schemes), no example database (the same examples every run)."""

    @hypothesis_seed(zlib.crc32(key.encode()))
    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])  # fmt: skip  # z3 proofs take 10-500 ms each
    @given(scheme=strategy, shift=st.sampled_from([None, 3, 6, 12, 15]), seed=st.integers(0, 2**32))
    def examples_(scheme: Scheme, shift: int | None, seed: int) -> None:
        check(scheme, shift, seed)

    examples_()


# The last test reads what the others counted: they run in one process, in file order.
pytestmark = pytest.mark.xdist_group("symbolic_vs_concrete")


@pytest.mark.parametrize("config_id", SMALL_CONFIGS)
@pytest.mark.parametrize("inv_id", sorted(INVARIANTS))
def test_random_schemes_agree_with_brute_force(inv_id: str, config_id: str) -> None:
    config = parse_config_id(config_id)[0]
    seen: Counter[Verdict] = Counter()

    def check(scheme: Scheme, shift: int | None, seed: int) -> None:
        seen[agree(config_id, scheme, inv_id, _alignment(config, scheme, shift), seed)] += 1

    # at most V - 1 private pages: the full set leaves nothing to remap
    strategy = schemes(config.vmemmap_pages, max_private=config.vmemmap_pages - 1)
    _run_examples(f"{inv_id} {config_id}", EXAMPLES, strategy, check)
    applicable = seen[Verdict.PROVED] + seen[Verdict.VIOLATED]
    assert applicable >= APPLICABLE_FLOOR, dict(seen)
    for verdict, n in seen.items():
        VERDICTS[inv_id, verdict] += n
    RAN.add(f"random {inv_id} {config_id}")


@pytest.mark.parametrize("config_id", ODD_CONFIGS)
@pytest.mark.parametrize("inv_id", CHEAP_ON_ODD)
def test_non_power_of_2_struct_page_agrees(inv_id: str, config_id: str) -> None:
    """Every preset that had no effective power-of-2 guard (v5.14, v5.18, rfc-2020) and
    random schemes without the guard, on 56- and 80-byte struct pages (bug B1:
    layout-soundness is violated there)."""
    config = parse_config_id(config_id)[0]
    seen: Counter[Verdict] = Counter()
    for name in ("v5.14", "v5.18", "rfc-2020"):
        seen[agree(config_id, dataclasses.replace(preset(name), power_of_2_guard=False), inv_id, 4096, 7)] += 1

    def check(scheme: Scheme, shift: int | None, seed: int) -> None:
        unguarded = dataclasses.replace(scheme, power_of_2_guard=False)
        seen[agree(config_id, unguarded, inv_id, _alignment(config, unguarded, shift), seed)] += 1

    strategy = schemes(config.vmemmap_pages, max_private=config.vmemmap_pages - 1)
    _run_examples(f"odd {inv_id} {config_id}", ODD_EXAMPLES, strategy, check)
    assert seen[Verdict.PROVED] + seen[Verdict.VIOLATED] >= 3 + ODD_EXAMPLES // 2, dict(seen)
    if inv_id == "layout-soundness":  # v5.14 and v5.18 straddle: 0effdf461c57's reason
        assert seen[Verdict.VIOLATED] >= 2, dict(seen)
    for verdict, n in seen.items():
        VERDICTS[inv_id, verdict] += n
    RAN.add(f"odd {inv_id} {config_id}")


def test_every_preset_on_small_configs_agrees() -> None:
    """Not random: every era of the layouts (arm64 through v5.19 and v6.1, the eras it had
    HVO), every invariant, the kernel's alignment."""
    seen: Counter[Verdict] = Counter()
    for config_id in SMALL_CONFIGS:
        config = parse_config_id(config_id)[0]
        mask = preset("mask-2026")
        open_coded = dataclasses.replace(mask, facts=dataclasses.replace(mask.facts, page_slab_open_coded=True))
        eras = [preset(name) for name in ("none", "rfc-2020", "v5.14", "v5.18", "v5.19", "v6.1", "v6.2", "v6.12.115",
                                           "mask-2026", "devdax")]  # fmt: skip
        for scheme in [*eras, open_coded]:  # open_coded: B19 before "mm/slab: use compound_head()"
            for inv_id in INVARIANTS:
                verdict = agree(config_id, scheme, inv_id, kernel_vmemmap_align(config, scheme), 7)
                seen[verdict] += 1
                VERDICTS[inv_id, verdict] += 1
    assert seen[Verdict.PROVED] >= 100 and seen[Verdict.NOT_APPLICABLE] >= 3, dict(seen)
    RAN.add("presets")


def test_every_invariant_was_both_proved_and_violated() -> None:
    """Over the tests above (run before this one, in file order): each invariant came
    back proved on some (config, scheme) and violated on another."""
    everything = {f"random {inv} {c}" for inv in INVARIANTS for c in SMALL_CONFIGS}
    everything |= {f"odd {inv} {c}" for inv in CHEAP_ON_ODD for c in ODD_CONFIGS} | {"presets"}
    if RAN != everything:
        pytest.skip(f"needs every test above in this session ({len(RAN)} of {len(everything)} ran)")
    for inv in INVARIANTS:
        assert VERDICTS[inv, Verdict.PROVED] > 0 and VERDICTS[inv, Verdict.VIOLATED] > 0, (
            inv,
            {v.value: VERDICTS[inv, v] for v in Verdict if VERDICTS[inv, v]},
        )
