# SPDX-License-Identifier: GPL-2.0-only
"""Beyond one machine: `--shard K/N` (a deterministic share of a run, for a CI matrix or
`make -j`) and `--scheduler ADDRESS` (the jobs on an existing Dask distributed cluster).

A shard is a set of indivisible units (for `check`: every invariant of one spec on one
config, which share an unrolling; for `selfcheck`: a section), dealt by `partition()`:
the units in decreasing estimated cost, each to the shard with the least cost so far
(ties: the lower shard, then the earlier unit).  It depends only on the units and their
costs, so N processes given the same arguments split the run into N disjoint parts
whose union is the whole run.

Dask is optional (`pip install 'hvo-verify[dask]'`): imported only when a scheduler is
named.  The batches go to the cluster as they would go to the local process pool, and
come back in the order they were sent, so the output does not depend on where they ran.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from hvo_verify.errors import UsageError

T = TypeVar("T")
R = TypeVar("R")

_SHARD = re.compile(r"(\d+)/(\d+)")


@dataclass(frozen=True, slots=True)
class Shard:
    """Shard `index` (1-based, as written on the command line) of `count`."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str, option: str = "--shard") -> Shard:
        m = _SHARD.fullmatch(text.strip())
        if m is None:
            raise UsageError(f"{option}: {text!r} is not K/N (e.g. 1/4: the first of 4 shards)")
        index, count = int(m.group(1)), int(m.group(2))
        if not 1 <= count <= 10_000 or not 1 <= index <= count:
            raise UsageError(f"{option}: {text!r}: need 1 <= K <= N <= 10000 (e.g. 1/4)")
        return cls(index, count)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def partition(costs: Sequence[float], count: int) -> list[int]:
    """The shard (0-based) of each unit, by estimated cost: longest first, each to the
    least loaded shard."""
    load = [0.0] * count
    owner = [0] * len(costs)
    for n in sorted(range(len(costs)), key=lambda n: (-costs[n], n)):
        s = min(range(count), key=lambda s: (load[s], s))
        owner[n] = s
        load[s] += costs[n]
    return owner


def select(units: Sequence[Hashable], costs: Sequence[float], shard: Shard) -> set[Hashable]:
    """The units of `shard`: `units` are the distinct units, `costs` their estimates."""
    owner = partition(costs, shard.count)
    return {u for u, s in zip(units, owner, strict=True) if s == shard.index - 1}


def available() -> str | None:
    """None when Dask distributed can be imported, else the install line."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        return "--scheduler needs Dask distributed: pip install 'hvo-verify[dask]'"
    return None


def dask_map(address: str, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """`fn` over `items` on the Dask cluster at `address`, results in the order of
    `items`.  Every task is submitted as pure=False (never deduplicated by Dask)."""
    reason = available()
    if reason is not None:
        raise UsageError(reason)
    import distributed

    try:
        client: Any = distributed.Client(address, set_as_default=False, timeout="30s")
    except OSError as exc:
        raise UsageError(f"--scheduler: cannot reach a Dask scheduler at {address}: {exc}") from None
    try:
        futures = client.map(fn, list(items), pure=False)
        results: list[R] = client.gather(futures)
    finally:
        client.close()
    return results
