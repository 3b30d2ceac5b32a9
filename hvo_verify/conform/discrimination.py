# SPDX-License-Identifier: GPL-2.0-only
"""Which alternative models each conformance row rejects.

A row that agrees with the model of the booted kernel says something only if it would
disagree with a model of some other kernel.  Every row of a run is recomputed from the
same guest records under each alternative:

* every other era preset a conformance kernel can map to (kernelmap._ERAS: v5.14,
  v5.18, v6.1, v6.2), with that preset's own operation policies;
* every other hwpoison policy (model/policy.py `Hwpoison`) on the booted kernel's preset;
* "none": no HVO at all.

The booted kernel's version facts (the sysctl, FOLL_PIN for O_DIRECT) are kept: an
alternative changes what HVO does, not which system calls exist.  A row *rejects* an
alternative when it agrees with the booted kernel's model and disagrees with the
alternative's; a row that rejects none is a sanity row.  Nothing here prints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from hvo_verify.conform.compare import Record, Row, compare_boots
from hvo_verify.conform.kernelmap import _ERAS, KernelFacts
from hvo_verify.model.policy import Hwpoison, default_policies

NO_HVO = "none"
# A hwpoison policy is read only by the model's hwpoison steps (ops/hwpoison.py), which
# only these records' predictions run (predict.hwpoison_steps(), compare.hwpoison2_stages());
# a hwpoison alternative is recomputed on these records alone (the rest would repeat the
# 1 GiB kpageflags prediction, seconds each, to the same verdicts).
HWPOISON_KINDS = frozenset({"boot", "hwpoison", "hwpoison2", "done"})


@dataclass(frozen=True, slots=True)
class Alternative:
    name: str  # "v5.18", "hwpoison=head-flag", "none"
    kind: str  # "era", "hwpoison" or "no HVO"
    facts: KernelFacts


@dataclass(frozen=True, slots=True)
class RowDiscrimination:
    row: Row
    rejects: tuple[str, ...]  # names of the alternatives this row disagrees with

    @property
    def sanity(self) -> bool:
        return not self.rejects


@dataclass(frozen=True, slots=True)
class Discrimination:
    facts: KernelFacts
    alternatives: tuple[Alternative, ...]
    rows: tuple[RowDiscrimination, ...]

    @property
    def discriminating(self) -> int:
        """Rows rejecting at least one alternative."""
        return sum(1 for r in self.rows if r.rejects)

    @property
    def fraction(self) -> float:
        return self.discriminating / len(self.rows) if self.rows else 0.0

    def rejecting(self, alternative: str) -> tuple[str, ...]:
        """The scenarios of the rows that reject `alternative`."""
        return tuple(r.row.scenario for r in self.rows if alternative in r.rejects)

    @property
    def unrejected(self) -> tuple[str, ...]:
        """Alternatives no row rejects: the run cannot tell the kernel from them."""
        return tuple(a.name for a in self.alternatives if not self.rejecting(a.name))

    def era_presets_unrejected(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.alternatives if a.kind == "era" and not self.rejecting(a.name))


def alternatives(facts: KernelFacts) -> tuple[Alternative, ...]:
    """The models `facts`' kernel is to be told apart from."""
    out: list[Alternative] = []
    for _first, preset, _why in _ERAS:
        if preset not in (facts.preset, NO_HVO) and all(a.name != preset for a in out):
            out.append(Alternative(preset, "era", replace(facts, preset=preset, policies=None)))
    own = facts.policies or default_policies(facts.scheme)
    if facts.scheme.optimizes:
        for policy in Hwpoison:
            if policy is not own.hwpoison:
                out.append(
                    Alternative(
                        f"hwpoison={policy.value}", "hwpoison", replace(facts, policies=replace(own, hwpoison=policy))
                    )
                )
    if facts.preset != NO_HVO:
        out.append(Alternative(NO_HVO, "no HVO", replace(facts, preset=NO_HVO, policies=None)))
    return tuple(out)


def discriminate(
    facts: KernelFacts, boots: Mapping[str, Sequence[Record]], rows: Sequence[Row] | None = None
) -> Discrimination:
    """Recompute every row of `boots` under each alternative.  `rows`: the run's rows
    under `facts` when already computed (compare_boots(facts, boots))."""
    actual = tuple(rows) if rows is not None else compare_boots(facts, boots)
    alts = alternatives(facts)
    hwpoison_only = {hvo: [r for r in recs if r.get("kind") in HWPOISON_KINDS] for hvo, recs in boots.items()}
    verdicts = {
        alt.name: {
            r.scenario: r.agree for r in compare_boots(alt.facts, hwpoison_only if alt.kind == "hwpoison" else boots)
        }
        for alt in alts
    }
    out = []
    for row in actual:
        rejects = tuple(
            alt.name for alt in alts if row.agree is True and verdicts[alt.name].get(row.scenario, True) is False
        )
        out.append(RowDiscrimination(row, rejects))
    return Discrimination(facts, alts, tuple(out))
