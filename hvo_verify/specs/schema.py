"""The frozen objects a spec file is parsed into.

A spec names a scheme (preset or custom), the configs and invariants to check, and the
verdict expected for each (invariant, config) pair.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from hvo_verify.model.config import KernelConfig
from hvo_verify.model.policy import Policies
from hvo_verify.model.scheme import Scheme
from hvo_verify.verdict import Verdict


@dataclass(frozen=True, slots=True)
class Expectations:
    """Expected verdicts.  Keys: `default`, `INVARIANT`, `*@CONFIG` or `INVARIANT@CONFIG`;
    CONFIG may be a glob (`arm64/*/2M`).  The most specific key wins:
    INVARIANT@CONFIG > *@CONFIG > INVARIANT > default."""

    entries: tuple[tuple[str, Verdict], ...]

    def expected(self, invariant: str, config: str) -> Verdict | None:
        best: tuple[int, Verdict] | None = None
        for key, verdict in self.entries:
            rank = _rank(key, invariant, config)
            if rank is not None and (best is None or rank > best[0]):
                best = (rank, verdict)
        return None if best is None else best[1]


def _rank(key: str, invariant: str, config: str) -> int | None:
    if key == "default":
        return 0
    inv, at, pattern = key.partition("@")
    if not at:
        return 1 if inv == invariant else None
    if not fnmatch.fnmatchcase(config, pattern):
        return None
    if inv == "*":
        return 2
    return 3 if inv == invariant else None


@dataclass(frozen=True, slots=True)
class OpsSpec:
    """The `[ops]` table: which kernel operations to run, how deep, and how they behave."""

    alphabet: tuple[str, ...]
    depth: int
    policies: Policies
    io_max: int  # bytes; 0: PAGE_SIZE of each config
    io_align: int
    max_calls: tuple[tuple[str, int], ...] = ()  # at most this many calls of an operation


@dataclass(frozen=True, slots=True)
class Spec:
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
