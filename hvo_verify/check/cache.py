# SPDX-License-Identifier: GPL-2.0-only
"""The verdict cache: a check's result, kept in the user's cache directory and reused
when nothing that can change it has changed.

A result is stored under the hash of everything it depends on (`key()`):

* the job, field by field (`canonical()`: the spec's content as the engines see it:
  config, scheme, policies, invariant, depth, alphabet, timeout, ...); a field of a
  type `canonical()` does not know is an error, never silently left out of the key;
* the run's options that reach the result without being in the job (`options`: the
  command line's, minus the presentation ones; cli.py passes them generically);
* the sources of the checker (`sources_digest()`: the contents of every .py file of
  the layers from check/ down, model, ops, encode, invariants, specs, the shared
  vocabulary: computed once per process);
* the z3 version and the Python version (the pickle format).

Only conclusive verdicts are stored (`CACHEABLE`): never `unknown`, never anything a
later verdict kind (an interrupted run) might mean.  A file that cannot be read back
as a result (truncated, corrupt, another version's class) counts as a miss and is
rewritten; writes go to a temporary file renamed into place, so parallel workers and
shards never see half a file.  Only `hvo-verify check` uses the cache: the self-check's
mutants patch the checker in-process, which the source digest cannot see.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import json
import os
import pathlib
import pickle
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

import z3

from hvo_verify.check.result import CheckResult
from hvo_verify.verdict import Verdict

PACKAGE = pathlib.Path(__file__).resolve().parent.parent  # hvo_verify/
FORMAT = 1  # bump when the stored object changes shape
ENV_DIR = "HVO_VERIFY_CACHE_DIR"  # where the cache lives (tests point it at a temporary folder)
ENV_OFF = "HVO_VERIFY_NO_CACHE"  # set (non-empty): no cache, as with --no-cache
CACHEABLE = frozenset({Verdict.PROVED, Verdict.VIOLATED, Verdict.NOT_APPLICABLE, Verdict.VACUOUS})
# The package folders and modules whose sources can change a verdict: the layers from
# check/ down (pyproject.toml [tool.importlinter]); report/, selfcheck/, conform/ and
# cli.py only print or drive the checks.
SOURCE_PARTS = ("check", "encode", "specs", "invariants", "ops", "model", "verdict.py", "errors.py", "__init__.py")

J = TypeVar("J")


def default_dir() -> pathlib.Path:
    """$HVO_VERIFY_CACHE_DIR, else $XDG_CACHE_HOME/hvo-verify, else ~/.cache/hvo-verify."""
    if os.environ.get(ENV_DIR):
        return pathlib.Path(os.environ[ENV_DIR])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(base) / "hvo-verify"


def disabled_by_env() -> bool:
    return bool(os.environ.get(ENV_OFF))


def source_files(root: pathlib.Path | None = None) -> list[pathlib.Path]:
    """Every .py file under SOURCE_PARTS of the package at `root`, sorted."""
    root = root or PACKAGE
    files: list[pathlib.Path] = []
    for part in SOURCE_PARTS:
        path = root / part
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path] if path.is_file() else []
    return files


def digest_sources(root: pathlib.Path | None = None) -> str:
    """sha256 over the relative names and contents of `source_files(root)`."""
    root = root or PACKAGE
    h = hashlib.sha256()
    for path in source_files(root):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()


@functools.cache
def sources_digest() -> str:
    """`digest_sources()` of the installed package, once per process."""
    return digest_sources()


# canonical() of the frozen dataclasses a run's jobs share (configs, schemes, policies):
# computed once each.  Keyed by type and value (equal values of one frozen type have
# the same fields, so the same canonical form).
_SHARED: dict[tuple[type, object], object] = {}


def canonical(obj: object) -> object:
    """`obj` as JSON data with its types named: dataclasses field by field, enums by
    class and value, tuples, lists, sets and mappings in a fixed order.  Any other type
    raises TypeError: a key must never leave a field out."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        try:
            return _SHARED[type(obj), obj]
        except KeyError:
            form = _canonical(obj)
            _SHARED[type(obj), obj] = form
            return form
        except TypeError:  # not hashable: not shared
            pass
    return _canonical(obj)


def _canonical(obj: object) -> object:
    if obj is None or isinstance(obj, bool | int | str):
        return obj
    if isinstance(obj, float):
        return ["float", obj.hex()]
    if isinstance(obj, enum.Enum):
        return [type(obj).__qualname__, canonical(obj.value)]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = {f.name: canonical(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
        return [type(obj).__module__ + "." + type(obj).__qualname__, fields]
    if isinstance(obj, tuple | list):
        return [type(obj).__name__, [canonical(x) for x in obj]]
    if isinstance(obj, frozenset | set):
        return ["set", sorted((canonical(x) for x in obj), key=json.dumps)]
    if isinstance(obj, Mapping):
        items = [[canonical(k), canonical(v)] for k, v in obj.items()]
        return ["map", sorted(items, key=json.dumps)]
    if isinstance(obj, bytes):
        return ["bytes", obj.hex()]
    raise TypeError(f"the verdict cache cannot key a {type(obj).__qualname__}: teach check/cache.py canonical() it")


def run_key(options: Mapping[str, object], sources: str | None = None) -> bytes:
    """What every job of a run shares in its key: the format, the options, the sources,
    z3's and Python's versions."""
    data = {
        "format": FORMAT,
        "options": canonical(dict(options)),
        "sources": sources if sources is not None else sources_digest(),
        "z3": z3.get_version_string(),
        "python": list(sys.version_info[:2]),
    }
    return json.dumps(data, sort_keys=True).encode()


def key(job: object, options: Mapping[str, object], sources: str | None = None, shared: bytes | None = None) -> str:
    """The cache key of `job` run with `options` (hex sha256); `shared`: run_key(options,
    sources), when the caller has it."""
    h = hashlib.sha256(shared if shared is not None else run_key(options, sources))
    h.update(b"\0" + json.dumps(canonical(job), sort_keys=True).encode())
    return h.hexdigest()


@dataclasses.dataclass(frozen=True)
class Stats:
    hits: int
    misses: int
    stored: int


class VerdictCache:
    """Results on disk under `directory`, one file per key.  `sources` overrides the
    source digest (tests: an edited model file)."""

    def __init__(
        self, directory: pathlib.Path, options: Mapping[str, object] | None = None, sources: str | None = None
    ) -> None:
        self.directory = directory
        self.options = dict(options or {})
        self.sources = sources
        self.hits = self.misses = self.stored = 0
        self._shared: bytes | None = None

    def _path(self, k: str) -> pathlib.Path:
        return self.directory / f"v{FORMAT}" / k[:2] / f"{k}.pickle"

    def key(self, job: object) -> str:
        if self._shared is None:
            self._shared = run_key(self.options, self.sources)
        return key(job, self.options, self.sources, self._shared)

    def get(self, job: object) -> CheckResult | None:
        path = self._path(self.key(job))
        try:
            data = path.read_bytes()
        except OSError:
            return None
        try:
            result = pickle.loads(data)
        except Exception:  # noqa: BLE001 - a corrupt file can raise anything unpickling; it is a miss
            return None
        if not isinstance(result, CheckResult) or result.verdict not in CACHEABLE:
            return None
        return result

    def put(self, job: object, result: CheckResult) -> bool:
        """Store `result` (atomically) when its verdict is conclusive; False otherwise or
        when the directory cannot be written (the run goes on uncached)."""
        if result.verdict not in CACHEABLE:
            return False
        path = self._path(self.key(job))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".pickle")
            try:
                with os.fdopen(fd, "wb") as f:
                    pickle.dump(result, f, protocol=pickle.HIGHEST_PROTOCOL)
                os.replace(tmp, path)
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError:
            return False
        return True

    def run(self, jobs: Sequence[J], compute: Callable[[list[J]], list[CheckResult]]) -> list[CheckResult]:
        """The results of `jobs` in order: cached ones read back, the others computed by
        `compute` (given only the misses, in order) and stored."""
        found = [self.get(job) for job in jobs]
        missing = [n for n, r in enumerate(found) if r is None]
        self.hits += len(jobs) - len(missing)
        self.misses += len(missing)
        fresh = compute([jobs[n] for n in missing]) if missing else []
        for n, result in zip(missing, fresh, strict=True):
            found[n] = result
            self.stored += self.put(jobs[n], result)
        return [r for r in found if r is not None]

    def stats(self) -> Stats:
        return Stats(self.hits, self.misses, self.stored)
