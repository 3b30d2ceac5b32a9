# SPDX-License-Identifier: GPL-2.0-only
"""z3 against brute force on the static invariants (the selfcheck `differential`
section): 10,000 random cases agree; a broken concrete check is caught; the placements
are inside the solver's assumptions."""

from __future__ import annotations

import dataclasses
import random

import pytest

from hvo_verify.check.pinned import PinnedQuery, Placement
from hvo_verify.check.query import not_applicable
from hvo_verify.encode import folio as encode_folio
from hvo_verify.invariants.static import INVARIANTS, index_range
from hvo_verify.model import vmemmap
from hvo_verify.model.config import CONFIGS, KernelConfig, parse_config_id
from hvo_verify.model.remap import optimize
from hvo_verify.model.scheme import PRESETS, Encoding, Scheme, Target, preset
from hvo_verify.model.structpage import Folio
from hvo_verify.selfcheck import Section
from hvo_verify.selfcheck.differential import (
    CONFIG_IDS,
    RandomChooser,
    base_step,
    kernel_refuses,
    kernel_vmemmap_align,
    placements,
    random_scheme,
    run_differential,
    scheme_text,
    violations,
)
from hvo_verify.verdict import Verdict

# The self-check's differential section, in CI: the slow lane runs this test instead of
# the section (README "Test lanes"), with the section's default 10,000 cases.
CASES = 10_000


def figures(section: Section) -> dict[str, int]:
    """The counts among the figures (seconds are floats)."""
    return {name: value for name, value in section.figures if isinstance(value, int)}


@pytest.mark.slow
def test_ten_thousand_cases_agree() -> None:
    """About 100 s on 2 shared cores (solver about two thirds of it)."""
    section = run_differential(CASES, seed=0)
    got = figures(section)
    assert section.ok, section.failures
    assert got["cases"] == CASES
    assert got["disagreements"] == got["unknown"] == got["placements outside the assumptions"] == 0
    assert got["proved"] + got["violated"] + got["not-applicable"] == CASES
    assert min(got["proved"], got["violated"], got["not-applicable"]) >= CASES // 20
    rows = dict(section.details)
    for config in CONFIG_IDS:
        assert int(rows[f"config {config}"]) >= CASES // (2 * len(CONFIG_IDS)), config  # half a fair share
    for inv in INVARIANTS:
        assert int(rows[f"invariant {inv}"]) >= CASES // 14, inv


def test_same_seed_same_answers() -> None:
    a, b = run_differential(150, seed=5), run_differential(150, seed=5)
    drop = ("seconds", "solver seconds", "cpu seconds")
    assert [f for f in a.figures if f[0] not in drop] == [f for f in b.figures if f[0] not in drop]


# ---------------------------------------------------------------- the check can fail


def _broken(monkeypatch: pytest.MonkeyPatch, inv_id: str, message: str | None) -> None:
    inv = INVARIANTS[inv_id]
    monkeypatch.setitem(INVARIANTS, inv_id, dataclasses.replace(inv, check=lambda _mem, _index: message))


def test_a_concrete_check_that_always_fails_is_a_disagreement(monkeypatch: pytest.MonkeyPatch) -> None:
    _broken(monkeypatch, "no-dangling-frame", "broken on purpose")
    section = run_differential(60, seed=0, invariants=("no-dangling-frame",))
    assert not section.ok
    assert figures(section)["disagreements"] > 0
    assert "brute force finds index 0 violating (broken on purpose); z3 finds no violation there" in section.failures[0]


def test_a_concrete_check_that_never_fails_is_a_disagreement(monkeypatch: pytest.MonkeyPatch) -> None:
    _broken(monkeypatch, "layout-soundness", None)
    section = run_differential(60, seed=0, configs=("x86-64/4K/2M@56",), invariants=("layout-soundness",))
    assert not section.ok
    assert "z3 finds a violation at {'j': " in section.failures[0]
    assert section.failures[0].endswith("; the concrete check there: holds")


# ---------------------------------------------------------------- pieces


def test_pinned_query_matches_the_known_verdicts() -> None:
    """v5.14 on a 56-byte struct page straddles (layout-soundness, violated at every
    placement); on 64 bytes it is proved; kpageflags does not apply to Device-DAX."""
    odd = parse_config_id("x86-64/4K/2M@56")[0]
    query = PinnedQuery(odd, preset("v5.14"), "layout-soundness")
    answer = query.ask(Placement(odd.nr_pages, odd.default_vmemmap_base))
    assert answer.verdict is Verdict.VIOLATED and answer.indices[0][0] == "j"
    config = parse_config_id("x86-64/4K/2M")[0]
    query = PinnedQuery(config, preset("v5.14"), "layout-soundness")
    assert query.ask(Placement(config.nr_pages, config.default_vmemmap_base)).verdict is Verdict.PROVED
    assert PinnedQuery(config, preset("devdax"), "kpageflags").not_applicable


@pytest.mark.parametrize("config_id", CONFIG_IDS)
@pytest.mark.parametrize("align", [None, 8, 64, 4096, 1 << 15])
def test_placements_are_inside_the_assumptions(config_id: str, align: int | None) -> None:
    """The kernel's placements (alignment from kernel_vmemmap_align(), not from the
    query) are all inside the z3 assumptions: z3 assumes no more than the kernel does."""
    config = parse_config_id(config_id)[0]
    # max-folio alignment when None; on every arch (mask-2026 has none on s390x)
    scheme = dataclasses.replace(preset("mask-2026"), power_of_2_guard=False, arches=None)
    query = PinnedQuery(config, scheme, "accounting", base_align=align)
    expected = align if align is not None else kernel_vmemmap_align(config, scheme)
    for pfn, base in placements(config, expected, RandomChooser(random.Random(1)), count=12):
        assert query.broken_assumptions(Placement(pfn, base)) == []


# MAX_FOLIO_VMEMMAP_ALIGN = MAX_FOLIO_NR_PAGES * 64, MAX_FOLIO_NR_PAGES the largest
# HugeTLB folio in vmemmap_dedup.rst's table: 1 GB / 4 KB, 1 GB / 16 KB, 16 GB / 64 KB;
# riscv64 1 GB / 4 KB, LoongArch 32 MB / 16 KB (its only size).
KERNEL_ALIGN = [
    ("x86-64/4K/2M", "v6.2", 4096),
    ("arm64/64K/512M", "v6.2", 1 << 16),
    ("x86-64/4K/2M", "mask-2026", (1 << 18) * 64),
    ("arm64/4K/2M", "mask-2026", (1 << 18) * 64),
    ("arm64/16K/32M", "mask-2026", (1 << 16) * 64),
    ("arm64/64K/512M", "mask-2026", (1 << 18) * 64),
    ("riscv64/4K/2M", "mask-2026", (1 << 18) * 64),
    ("loongarch64/16K/32M", "mask-2026", (1 << 11) * 64),
    ("s390x/4K/1M", "v6.2", 4096),
]


@pytest.mark.parametrize(("config_id", "name", "align"), KERNEL_ALIGN)
def test_kernel_vmemmap_align(config_id: str, name: str, align: int) -> None:
    assert kernel_vmemmap_align(parse_config_id(config_id)[0], preset(name)) == align


def _mask_2026_run(config_id: str) -> Section:
    """mask-2026 at its own alignment (MAX_FOLIO_VMEMMAP_ALIGN)."""
    return run_differential(12, seed=0, configs=(config_id,), invariants=("accounting", "head-resolution"),
                            schemes=(preset("mask-2026"),), alignments=(None,))  # fmt: skip


# twice 1 GB / 4 KB * 64 and twice 1 GB / 16 KB * 64
@pytest.mark.parametrize(("config_id", "doubled"), [("x86-64/4K/2M", "0x2000000"), ("arm64/16K/32M", "0x800000")])
def test_a_doubled_z3_alignment_is_a_failure(config_id: str, doubled: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Audit mutation 7: z3 assumes twice MAX_FOLIO_VMEMMAP_ALIGN.  The generator's
    placements come from the kernel constant, so one the kernel allows (the lowest
    base plus one alignment step) is outside the z3 assumptions: a failure, not a
    silent unsat.  Without the patch the same run passes."""
    assert _mask_2026_run(config_id).ok
    real = encode_folio.max_folio_nr_pages
    monkeypatch.setattr(encode_folio, "max_folio_nr_pages", lambda config: 2 * real(config))
    section = _mask_2026_run(config_id)
    assert not section.ok
    assert figures(section)["placements outside the assumptions"] > 0
    assert f"outside the assumptions: vmemmap base is aligned to {doubled} bytes" in section.failures[0]


# ---------------------------------------------------------------- the not-applicable rule


def test_the_engine_rule_matches_the_kernel_table_everywhere() -> None:
    """Every config (64- and 56-byte struct pages), every preset and 300 random
    schemes, every invariant: the engine's not-applicable rule (shared by both sides
    of the differential) agrees with kernel_refuses(), the table written from
    hugetlb_vmemmap_optimizable_size()."""
    rng = RandomChooser(random.Random(3))
    configs = [*CONFIGS, *(c.with_struct_page_size(56) for c in CONFIGS)]
    schemes = list(PRESETS.values()) + [random_scheme(rng) for _ in range(300)]
    seen = {True: 0, False: 0}
    for config in configs:
        for scheme in schemes:
            for inv in INVARIANTS:
                engine = not_applicable(config, scheme, inv)
                assert (engine is None) == (kernel_refuses(config, scheme, inv) is None), (
                    config.id, scheme_text(scheme), inv, engine)  # fmt: skip
                seen[engine is None] += 1
    assert min(seen.values()) > 1000, seen


def test_a_bug_in_the_shared_rule_is_a_disagreement(monkeypatch: pytest.MonkeyPatch) -> None:
    """The power-of-2 guard dropped from not_applicable_reason() everywhere it is
    used (both sides of the differential alike): only the kernel table notices."""
    real = vmemmap.not_applicable_reason

    def no_guard(config: KernelConfig, scheme: Scheme) -> str | None:
        return real(config, dataclasses.replace(scheme, power_of_2_guard=False))

    for module in ("hvo_verify.model.vmemmap", "hvo_verify.model.remap", "hvo_verify.model.accounting",
                   "hvo_verify.check.query"):  # fmt: skip
        monkeypatch.setattr(f"{module}.not_applicable_reason", no_guard)
    section = run_differential(8, seed=0, configs=("x86-64/4K/2M@56",), invariants=("accounting",),
                               schemes=(preset("v6.2"),))  # fmt: skip
    assert not section.ok
    assert (
        "the engine's rule says applicable, the kernel's table says not applicable (sizeof(struct page) = 56"
        in (section.failures[0])
    )


def test_base_step_for_a_non_power_of_2_alignment() -> None:
    """MAX_FOLIO_VMEMMAP_ALIGN with a 56-byte struct page is 7 << 21: the query's
    `base & (align - 1) == 0` and "a multiple of align" both hold on the step."""
    align = (1 << 18) * 56
    step = base_step(align)
    assert step % align == 0 and step & (align - 1) == 0
    assert base_step(4096) == 4096


# ---------------------------------------------------------------- what it found (encode/folio.py)


def _agree_at(config_id: str, scheme: Scheme, inv_id: str, align: int, where: Placement) -> list[int]:
    """The indices where z3 (pinned, index fixed) and the concrete check disagree."""
    config = parse_config_id(config_id)[0]
    inv = INVARIANTS[inv_id]
    query = PinnedQuery(config, scheme, inv_id, base_align=align)
    assert query.broken_assumptions(where) == []
    mem = optimize(Folio(config, scheme, where.head_pfn, where.vmemmap_base), alloc_ok=where.alloc_ok)
    concrete = {index for index, _message in violations(inv, mem)}
    return [
        index
        for index in index_range(inv, mem)
        if (query.ask(where, at=index).verdict is Verdict.VIOLATED) != (index in concrete)
    ]


def test_a_page_remapped_onto_its_own_frame_is_not_changed() -> None:
    """remap_to = page:6 with page 6 not private and writable aliases: page 6's PTE is
    rewritten to the frame it already maps, RW (its frame is freed: no-dangling-frame's
    business).  The concrete check sees an unchanged PTE, so struct page 398, which
    straddles pages 6 and 7 of a 72-byte struct page folio, is fine; SymFolio.pte()
    marks every remapped page `changed` and reports it."""
    scheme = Scheme("own-frame", "custom", "test", private=(0, 1, 2, 3, 4, 7, 8), target=Target.PAGE,
                    target_page=6, writable_aliases=True, power_of_2_guard=False)  # fmt: skip
    config = parse_config_id("x86-64/4K/2M@72")[0]
    assert _agree_at(config.id, scheme, "layout-soundness", 4096, Placement(512, config.default_vmemmap_base)) == []


def test_a_wild_pointer_does_not_make_the_query_unsatisfiable() -> None:
    """Mask decode on a 80-byte struct page with an 8-byte aligned base: the head reads
    the shared tail page at a slot boundary that is not its own, decodes a pointer far
    outside the vmemmap, and the concrete model faults (kpageflags violated at i = 0).
    The auxiliary division of that far pointer needs |q| >= 2^55: with the bound
    `|q| < 2^55` in SymFolio.divmod_size() no assignment exists and z3 "proves" the
    placement (here and in unpinned proofs: such placements are silently excluded)."""
    scheme = Scheme("wild", "custom", "test", private=(1, 2, 3, 4, 5), target=Target.SHARED_TAIL,
                    writable_aliases=True, encoding=Encoding.MASK, unique_struct_pages=15,
                    power_of_2_guard=False)  # fmt: skip
    where = Placement(0xCF12FEEE00, 0xB6321F1CAE3F9BB8)
    assert _agree_at("x86-64/4K/2M@80", scheme, "kpageflags", 8, where) == []
