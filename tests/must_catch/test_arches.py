# SPDX-License-Identifier: GPL-2.0-only
"""The arch specs (specs/arches/) fail when the per-era arch table is wrong: s390 left
enabled after 64e2f60f355e, riscv or LoongArch dropped from an era that selects the
option, or added to one that does not.  One invariant per unit keeps it quick; the
not-applicable rule is the same for every invariant but kpageflags on Device-DAX."""

from __future__ import annotations

import dataclasses
import pathlib

import pytest

from hvo_verify.check.suite import check_specs
from hvo_verify.model.config import Arch
from hvo_verify.specs.loader import load_sweep
from hvo_verify.specs.schema import Spec
from hvo_verify.verdict import Verdict

ARCHES = pathlib.Path(__file__).resolve().parents[2] / "specs" / "arches"


def units(name: str, *, schemes: tuple[str, ...], configs: int = 1) -> list[Spec]:
    return [
        dataclasses.replace(u, invariants=("head-resolution",), configs=u.configs[-configs:])
        for u in load_sweep(ARCHES / name)
        if u.scheme.name in schemes
    ]


def differing(specs: list[Spec], scheme: str, change: object) -> list[tuple[str, str, Verdict]]:
    """check_specs() with `scheme`'s arches set to `change(arches)`: the results that
    differ from the spec's expectation."""
    patched = [
        dataclasses.replace(u, scheme=dataclasses.replace(u.scheme, arches=change(u.scheme.arches)))  # type: ignore[operator]
        if u.scheme.name == scheme
        else u
        for u in specs
    ]
    return [(r.scheme, r.config, r.verdict) for r in check_specs(patched) if not r.as_expected]


S390 = ("v6.2", "v6.12.111", "mask-2026")
RISCV_LOONGARCH = ("v6.1.52", "v6.12.115")


def test_the_arch_specs_hold_as_written() -> None:
    specs = units("s390x-disabled.toml", schemes=S390) + units(
        "riscv64-loongarch64.toml", schemes=RISCV_LOONGARCH, configs=2
    )
    results = check_specs(specs)
    assert results and all(r.as_expected for r in results), [r for r in results if not r.as_expected]
    assert {r.verdict for r in results} == {Verdict.PROVED, Verdict.NOT_APPLICABLE}


@pytest.mark.parametrize("scheme", ["v6.12.111", "mask-2026"])
def test_s390_left_enabled_after_the_disable_is_caught(scheme: str) -> None:
    found = differing(units("s390x-disabled.toml", schemes=S390), scheme, lambda a: (*a, Arch.S390X))
    assert found == [(scheme, "s390x/4K/2G", Verdict.PROVED)]


def test_s390_missing_from_v6_2_is_caught() -> None:
    found = differing(
        units("s390x-disabled.toml", schemes=S390), "v6.2", lambda a: tuple(x for x in a if x is not Arch.S390X)
    )
    assert found == [("v6.2", "s390x/4K/2G", Verdict.NOT_APPLICABLE)]


def test_riscv_and_loongarch_in_the_wrong_era_are_caught() -> None:
    specs = units("riscv64-loongarch64.toml", schemes=RISCV_LOONGARCH, configs=2)
    dropped = differing(specs, "v6.12.115", lambda a: (Arch.X86_64,))
    assert {(s, c) for s, c, _ in dropped} == {("v6.12.115", "riscv64/4K/1G"), ("v6.12.115", "loongarch64/16K/32M")}
    added = differing(specs, "v6.1.52", lambda a: (*a, Arch.RISCV64))
    assert added == [("v6.1.52", "riscv64/4K/1G", Verdict.PROVED)]
