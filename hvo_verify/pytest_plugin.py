# SPDX-License-Identifier: GPL-2.0-only
"""A pytest plugin (the `pytest11` entry point `hvo_verify`): spec files as test items,
so that `-k`, `--lf`, pytest-xdist and `--junitxml` work on a spec folder.

It does nothing until given where specs are: `--hvo-specs PATH` (repeatable) or the
ini setting `hvo_specs = PATH ...`.  Then a `*.toml` below one of those paths that is a
spec (a TOML table with `title`, `configs` and `scheme` or `schemes`) is collected as
one item per (scheme, config, invariant), named `INVARIANT[CONFIG]` with the config's
`/` written `_` (in a sweep `INVARIANT[SCHEME-CONFIG]`; pytest 9's node ids split on
`/`), and with the config id and the scheme as keywords, so that `-k head-resolution`,
`-k x86-64/4K/2M` or `-k "v6.2 and kpageflags"` pick checks, and JUnit XML has a testcase per check under
the spec's path.  An item passes when the verdict equals the spec's expectation; a
not-applicable verdict (as expected) is a skip with the kernel's reason; anything else
fails with the expected and the actual verdict and why.  A file that is a spec but
does not load is a collection error with the loader's one-line message.

`--hvo-specs` with no test paths on the command line runs only the specs; the ini
setting only says which of the paths pytest visits hold specs.
"""

from __future__ import annotations

import dataclasses
import pathlib
import tomllib
from collections.abc import Iterator

import pytest

from hvo_verify.check.result import CheckResult
from hvo_verify.check.suite import check_specs
from hvo_verify.errors import SpecError
from hvo_verify.specs.loader import load_sweep
from hvo_verify.specs.schema import Spec
from hvo_verify.verdict import Verdict

SPEC_KEYS = ("title", "configs")  # and "scheme" or "schemes"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hvo-verify", "hvo-verify spec files as tests")
    group.addoption(
        "--hvo-specs",
        action="append",
        default=[],
        metavar="PATH",
        help="collect hvo-verify spec files (*.toml) below PATH, one item per check (repeatable)",
    )
    parser.addini("hvo_specs", type="paths", default=[], help="paths below which *.toml spec files are collected")


def spec_roots(config: pytest.Config) -> list[pathlib.Path]:
    """Where specs are collected: --hvo-specs paths, then the ini setting's."""
    given = [pathlib.Path(p).resolve() for p in config.getoption("hvo_specs") or []]
    return given + [pathlib.Path(p).resolve() for p in config.getini("hvo_specs")]


def pytest_configure(config: pytest.Config) -> None:
    """`--hvo-specs` without test paths: run the specs, not the project's testpaths."""
    config.addinivalue_line("markers", "hvo_spec: an hvo-verify spec check (hvo_verify.pytest_plugin)")
    given = config.getoption("hvo_specs") or []
    if given and config.args_source is not pytest.Config.ArgsSource.ARGS:
        config.args[:] = [str(pathlib.Path(p)) for p in given]


def is_spec(path: pathlib.Path) -> bool:
    """A TOML file with the spec keys (a file that is not TOML but names them is taken
    as a broken spec, so that its error is reported, not skipped)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return all(key in text for key in SPEC_KEYS)
    return all(key in doc for key in SPEC_KEYS) and ("scheme" in doc or "schemes" in doc)


def pytest_collect_file(file_path: pathlib.Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix != ".toml":
        return None
    roots = spec_roots(parent.config)
    resolved = file_path.resolve()
    if not any(resolved == root or root in resolved.parents for root in roots):
        return None
    if not is_spec(file_path):
        return None
    return SpecFile.from_parent(parent, path=file_path)


class SpecFile(pytest.File):
    """One spec file: an item per (scheme, config, invariant), in the order `check` runs them."""

    def collect(self) -> Iterator[pytest.Item]:
        try:
            units = load_sweep(self.path)
        except SpecError as exc:
            raise self.CollectError(exc.line()) from None
        for spec in units:
            for config in spec.configs:
                for invariant in spec.invariants:
                    # no "/" in a node name: pytest 9's structured node ids (--lf) split on it;
                    # the id given as text, so that "[...]" reads back as parameters
                    where = config.id.replace("/", "_")
                    name = f"{invariant}[{spec.scheme.name}-{where}]" if spec.sweep else f"{invariant}[{where}]"
                    one = dataclasses.replace(spec, configs=(config,), invariants=(invariant,))
                    item = SpecCheck.from_parent(self, name=name, nodeid=f"{self.nodeid}::{name}", spec=one)
                    item.extra_keyword_matches.update((config.id, spec.scheme.name))  # -k x86-64/4K/2M, -k v6.2
                    yield item


class SpecCheckFailed(Exception):
    """A verdict that differs from its expectation."""


class SpecCheck(pytest.Item):
    def __init__(self, *, spec: Spec, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.spec = spec
        self.add_marker(pytest.mark.hvo_spec)

    def runtest(self) -> None:
        [res] = check_specs([self.spec], workers=1)
        self.user_properties.append(("verdict", res.verdict.value))
        if res.as_expected and res.verdict is Verdict.NOT_APPLICABLE:
            pytest.skip(res.reason or "not applicable")
        if not res.as_expected:
            raise SpecCheckFailed(failure_text(res))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: object = None) -> str:
        if isinstance(excinfo.value, SpecCheckFailed):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[pathlib.Path, int, str]:
        return self.path, 0, f"{self.spec.path}::{self.name}"


def failure_text(res: CheckResult) -> str:
    """What a failed item says: expected and actual verdict, then why (the replayed
    counterexample's message, the trace, or the reason)."""
    expected = res.expected.value if res.expected else "nothing"
    lines = [f"{res.spec}: {res.config} {res.invariant}: expected {expected}, got {res.verdict.value}"]
    if res.counterexample is not None:
        lines += [*res.counterexample.details, f"=> {res.counterexample.message}"]
    if res.trace is not None:
        lines.append("trace: " + " -> ".join(step.call() for step in res.trace.steps))
    if res.reason:
        lines.append(res.reason)
    return "\n".join(lines)
