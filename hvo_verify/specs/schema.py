# SPDX-License-Identifier: GPL-2.0-only
"""The frozen objects a spec file is parsed into.

A spec names a scheme (preset or custom), or several presets (a sweep over eras), the
configs and invariants to check, and the verdict expected for each (scheme, invariant,
config).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from hvo_verify.model.config import KernelConfig
from hvo_verify.model.policy import Policies
from hvo_verify.model.scheme import Scheme
from hvo_verify.ops.smp_table import CpuSpec
from hvo_verify.specs.lemmas import Lemma
from hvo_verify.verdict import Verdict


@dataclass(frozen=True, slots=True)
class Expectations:
    """Expected verdicts.  Keys: `default`, `INVARIANT`, `*@CONFIG` or `INVARIANT@CONFIG`;
    CONFIG may be a glob (`arm64/*/2M`).  Any key but `default` may be qualified by a
    scheme, `SCHEME:KEY`, and then holds only for that scheme; `SCHEME:*` stands for
    every invariant on every config; SCHEME may be a glob over preset names (`v5.*`).

    The most specific key wins.  A scheme-qualified key outranks every unqualified one;
    among keys both qualified or both not, INVARIANT@CONFIG > *@CONFIG > INVARIANT >
    default (or `SCHEME:*`); at equal rank an exact scheme name outranks a glob, and
    then the first key in the file wins:

    >>> from hvo_verify.verdict import Verdict as V
    >>> e = Expectations((("default", V.PROVED), ("refcount", V.VIOLATED), ("v5.*:*", V.UNKNOWN),
    ...                   ("v5.*:refcount", V.VACUOUS), ("v5.14:refcount", V.NOT_APPLICABLE)))
    >>> def row(scheme): return [e.expected(i, "x86-64/4K/2M", scheme).value for i in ("dma-exact", "refcount")]
    >>> row("v6.2"), row("v5.18"), row("v5.14")
    (['proved', 'violated'], ['unknown', 'vacuous'], ['unknown', 'not-applicable'])
    """

    entries: tuple[tuple[str, Verdict], ...]

    def expected(self, invariant: str, config: str, scheme: str = "") -> Verdict | None:
        best: tuple[tuple[int, int, int], Verdict] | None = None
        for key, verdict in self.entries:
            rank = _rank(key, invariant, config, scheme)
            if rank is not None and (best is None or rank > best[0]):
                best = (rank, verdict)
        return None if best is None else best[1]


def split_scheme(key: str) -> tuple[str | None, str]:
    """`SCHEME:KEY` -> (SCHEME, KEY); an unqualified key -> (None, key)."""
    pattern, colon, rest = key.partition(":")
    return (pattern, rest) if colon else (None, key)


def _rank(key: str, invariant: str, config: str, scheme: str) -> tuple[int, int, int] | None:
    """(scheme-qualified, specificity 0..3, exact scheme name), or None when `key` does not hold."""
    pattern, rest = split_scheme(key)
    if pattern is not None and not fnmatch.fnmatchcase(scheme, pattern):
        return None
    qualified = (1, int(pattern == scheme)) if pattern is not None else (0, 0)
    if rest in ("default", "*"):
        return (qualified[0], 0, qualified[1])
    inv, at, glob = rest.partition("@")
    if not at:
        return (qualified[0], 1, qualified[1]) if inv == invariant else None
    if not fnmatch.fnmatchcase(config, glob):
        return None
    if inv == "*":
        return (qualified[0], 2, qualified[1])
    return (qualified[0], 3, qualified[1]) if inv == invariant else None


@dataclass(frozen=True, slots=True)
class OpsSpec:
    """The `[ops]` table: which kernel operations to run, how deep, and how they behave."""

    alphabet: tuple[str, ...]
    depth: int
    policies: Policies
    io_max: int  # bytes; 0: PAGE_SIZE of each config
    io_align: int
    max_calls: tuple[tuple[str, int], ...] = ()  # at most this many calls of an operation
    unbounded: bool = False  # also prove proved invariants for every length (check/induction.py)
    lemmas: tuple[Lemma, ...] = ()  # a spec's own lemmas for that proof (specs/lemmas.py)


@dataclass(frozen=True, slots=True)
class SmpSpec:
    """The `[smp]` table: several CPUs, each running a kernel path (ops/smp_table.py
    ACTORS) as the era's step list or a patched one, over `folios` folios of
    `nr_vpages` representative vmemmap pages."""

    cpus: tuple[CpuSpec, ...]
    folios: int = 1
    nr_vpages: int = 2
    max_grace_periods: int = 1
    optimized: tuple[int, ...] = ()  # folios that start optimized (the era's remap ran before)


@dataclass(frozen=True, slots=True)
class Spec:
    """One checked unit of a spec file: one scheme, its configs and invariants.  A file
    whose `schemes` key names several presets (a sweep over eras) loads as one `Spec`
    per preset, in the order the key names them; each carries the whole `sweep` (the
    presets' names) and its own `ops` policies.  A file with `scheme` has `sweep == ()`."""

    path: str
    title: str
    source: str
    description: str
    scheme: Scheme
    configs: tuple[KernelConfig, ...]
    invariants: tuple[str, ...]
    expect: Expectations
    timeout_ms: int = 10_000
    vmemmap_base_align: int | None = None  # None: PAGE_SIZE of each config
    answer: str = ""  # plain-text answer `explain` prints (objection specs)
    ops: OpsSpec | None = None  # operation specs: invariants are checked over reachable states
    sweep: tuple[str, ...] = ()  # the file's `schemes`, expanded; () for a file with `scheme`
    smp: SmpSpec | None = None  # interleaving specs: invariants are checked over every interleaving

    @property
    def exploring(self) -> bool:
        """No `[expect]`: a reviewer's first run, the verdicts reported as they are."""
        return not self.expect.entries

    @property
    def unit(self) -> str:
        """How the self-check names this unit: its path, or `path#scheme` in a sweep."""
        return f"{self.path}#{self.scheme.name}" if self.sweep else self.path
