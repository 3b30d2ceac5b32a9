# SPDX-License-Identifier: GPL-2.0-only
"""Layering of hvo_verify, checked on the source with `ast` (the same order as the
import-linter contract in pyproject.toml, which CI runs as `lint-imports`):

- layer order: a module imports only its own part of the package (`check`, `report`,
  `errors`, ...) and parts of the layers below it, top to bottom
  cli -> selfcheck -> report -> reproduce -> conform -> check -> encode -> specs -> invariants
  -> ops -> model -> verdict | errors | ktap (parts on one layer do not import each other);
- z3 is imported only in hvo_verify/encode/ and hvo_verify/check/;
- only hvo_verify/cli.py and hvo_verify/report/ print or write to sys.stdout/sys.stderr;
- hvo_verify/model/ and hvo_verify/ops/ (the concrete model) do not import hypothesis.
"""

from __future__ import annotations

import ast
import pathlib
import tomllib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "hvo_verify"
MODULES = sorted(p.relative_to(PACKAGE.parent).as_posix() for p in PACKAGE.rglob("*.py"))

# Top to bottom; the parts of one layer may not import each other.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("__main__",),
    ("cli", "pytest_plugin"),
    ("selfcheck",),
    ("report",),
    ("reproduce",),
    ("conform",),
    ("check",),
    ("encode",),
    ("specs",),
    ("invariants",),
    ("ops",),
    ("model",),
    ("verdict", "errors", "ktap"),
)
RANK = {part: n for n, parts in enumerate(LAYERS) for part in parts}  # 0: the top

Z3_ALLOWED = ("hvo_verify/encode/", "hvo_verify/check/")
OUTPUT_ALLOWED = ("hvo_verify/cli.py", "hvo_verify/report/")
MODEL_FORBIDDEN = ("hypothesis",)


def _package_of(path: str) -> str:
    """`hvo_verify/model/config.py` -> `hvo_verify.model` (for relative imports)."""
    parts = path.removesuffix(".py").split("/")
    return ".".join(parts if parts[-1] == "__init__" else parts[:-1]).removesuffix(".__init__")


def imported_modules(tree: ast.AST, path: str) -> list[tuple[int, str]]:
    """(line, dotted module) for every import; `from a import b` also yields `a.b`."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = _package_of(path).split(".")
                package = package[: len(package) - (node.level - 1)]
                base = ".".join([*package, base] if base else package)
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names if alias.name != "*"]
    return found


def _is_std_stream(node: ast.AST) -> bool:
    """`sys.stdout` / `sys.stderr` (also `sys.__stdout__`)."""
    return (
        isinstance(node, ast.Attribute)
        and node.attr in ("stdout", "stderr", "__stdout__", "__stderr__")
        and isinstance(node.value, ast.Name)
        and node.value.id == "sys"
    )


def _matches(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def part_of(module: str) -> str | None:
    """`hvo_verify.check.static` -> `check`; None for the package itself (its `__init__`
    and the `__version__` it defines) and other packages."""
    parts = module.split(".")
    own = parts[0] == "hvo_verify" and len(parts) > 1 and parts[1] not in ("__init__", "__version__")
    return parts[1] if own else None


def layer_violation(importer: str, imported: str) -> str | None:
    """Why part `importer` may not import part `imported` (None: it may)."""
    if importer == imported:
        return None
    for part in (importer, imported):
        if part not in RANK:
            return f"hvo_verify.{part} has no layer (add it to LAYERS and to pyproject.toml)"
    if RANK[imported] < RANK[importer]:
        return f"{importer} imports {imported}, a layer above it"
    if RANK[imported] == RANK[importer]:
        return f"{importer} imports {imported}, on the same layer"
    return None


def violations(source: str, path: str) -> list[str]:
    """Every layering violation in one module's source, as `path:line: what`."""
    tree = ast.parse(source, filename=path)
    found: list[str] = []
    importer = part_of(path.removesuffix(".py").replace("/", "."))
    for line, module in imported_modules(tree, path):
        if _matches(module, "z3") and not path.startswith(Z3_ALLOWED):
            found.append(f"{path}:{line}: imports z3 (only encode/ and check/ may)")
        imported = part_of(module)
        why = None if importer is None or imported is None else layer_violation(importer, imported)
        if why is not None:
            found.append(f"{path}:{line}: imports {module}: {why}")
        if path.startswith(("hvo_verify/model/", "hvo_verify/ops/")):
            for forbidden in MODEL_FORBIDDEN:
                if _matches(module, forbidden):
                    found.append(f"{path}:{line}: {path.split('/')[1]} imports {module}")
    if not path.startswith(OUTPUT_ALLOWED):
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                found.append(f"{path}:{node.lineno}: print() call")
            elif _is_std_stream(node):
                found.append(f"{path}:{node.lineno}: uses sys.{node.attr}")  # type: ignore[attr-defined]
            elif isinstance(node, ast.ImportFrom) and node.module == "sys":
                names = {a.name for a in node.names} & {"stdout", "stderr", "__stdout__", "__stderr__"}
                found += [f"{path}:{node.lineno}: imports sys.{name}" for name in sorted(names)]
    return sorted(set(found))


def test_modules_found() -> None:
    assert "hvo_verify/cli.py" in MODULES
    assert any(m.startswith("hvo_verify/model/") for m in MODULES)


def test_every_part_has_a_layer() -> None:
    parts = {part_of(m.removesuffix(".py").replace("/", ".")) for m in MODULES} - {None}
    assert parts - set(RANK) == set()


def test_same_order_as_the_import_linter_contract() -> None:
    """LAYERS here and the `layers` contract in pyproject.toml say the same (optional
    layers in parentheses there)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    [contract] = [c for c in config["tool"]["importlinter"]["contracts"] if c["id"] == "layers"]
    layers = [tuple(name.strip().strip("()") for name in layer.split("|")) for layer in contract["layers"]]
    assert layers == list(LAYERS)


@pytest.mark.parametrize("path", MODULES)
def test_layering(path: str) -> None:
    source = (PACKAGE.parent / path).read_text(encoding="utf-8")
    assert violations(source, path) == []


# ---------------------------------------------------------------- the checker itself


@pytest.mark.parametrize(
    ("path", "source", "expected"),
    [
        ("hvo_verify/model/x.py", "import z3\n", ["hvo_verify/model/x.py:1: imports z3 (only encode/ and check/ may)"]),
        ("hvo_verify/report/x.py", "from z3 import BitVec\n", ["imports z3"]),
        ("hvo_verify/specs/x.py", "def f():\n    import z3.z3util\n", ["imports z3"]),
        ("hvo_verify/model/x.py", "print('hi')\n", ["hvo_verify/model/x.py:1: print() call"]),
        ("hvo_verify/check/x.py", "import sys\nsys.stdout.write('x')\n", ["uses sys.stdout"]),
        ("hvo_verify/encode/x.py", "import sys\nf(file=sys.stderr)\n", ["uses sys.stderr"]),
        ("hvo_verify/specs/x.py", "from sys import stderr\n", ["imports sys.stderr"]),
        (
            "hvo_verify/model/x.py",
            "from hvo_verify.encode.folio import SymFolio\n",
            ["hvo_verify/model/x.py:1: imports hvo_verify.encode.folio: model imports encode, a layer above it"],
        ),
        ("hvo_verify/model/x.py", "from hvo_verify import cli\n", ["model imports cli, a layer above it"]),
        ("hvo_verify/model/x.py", "from ..check import static\n", ["model imports check"]),
        ("hvo_verify/model/x.py", "from hypothesis import strategies\n", ["model imports hypothesis"]),
        ("hvo_verify/ops/x.py", "import hypothesis\n", ["ops imports hypothesis"]),
        ("hvo_verify/model/x.py", "import hvo_verify.report.text\n", ["model imports report"]),
        ("hvo_verify/selfcheck/x.py", "import z3\n", ["imports z3"]),
        ("hvo_verify/selfcheck/x.py", "print('x')\n", ["print() call"]),
        ("hvo_verify/selfcheck/x.py", "import sys\nsys.stderr.write('x')\n", ["uses sys.stderr"]),
        ("hvo_verify/check/x.py", "from hvo_verify.selfcheck import Section\n", ["check imports selfcheck"]),
        (
            "hvo_verify/model/x.py",
            "from hvo_verify.selfcheck.vacuity import run_vacuity\n",
            ["model imports selfcheck"],
        ),
        ("hvo_verify/selfcheck/fuzz.py", "from hvo_verify import cli\n", ["selfcheck imports cli, a layer above it"]),
        ("hvo_verify/report/x.py", "from hvo_verify.selfcheck import Section\n", ["report imports selfcheck"]),
        ("hvo_verify/specs/x.py", "from hvo_verify.encode import folio\n", ["specs imports encode"]),
        ("hvo_verify/check/x.py", "from hvo_verify.conform import guest\n", ["check imports conform"]),
        (
            "hvo_verify/errors.py",
            "from hvo_verify.verdict import Verdict\n",
            ["errors imports verdict, on the same layer"],
        ),
        ("hvo_verify/ops/x.py", "from hvo_verify.invariants import reachable\n", ["ops imports invariants"]),
        ("hvo_verify/model/x.py", "from hvo_verify.ops.machine import Machine\n", ["model imports ops"]),
        ("hvo_verify/check/x.py", "import hvo_verify.encoder_notes\n", ["hvo_verify.encoder_notes has no layer"]),
    ],
)
def test_checker_catches(path: str, source: str, expected: list[str]) -> None:
    found = violations(source, path)
    assert found
    for fragment in expected:
        assert any(fragment in v for v in found), (fragment, found)


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("hvo_verify/encode/x.py", "import z3\n"),
        ("hvo_verify/check/x.py", "from z3 import sat\n"),
        ("hvo_verify/cli.py", "import sys\nprint('x')\nsys.stdout.write('y')\n"),
        ("hvo_verify/report/text.py", "import sys\nprint('x', file=sys.stderr)\n"),
        ("hvo_verify/model/x.py", "from hvo_verify.model.config import CONFIGS\nfrom . import scheme\n"),
        ("hvo_verify/model/x.py", "from hvo_verify.errors import VmemmapFault\nx = 'print(1)'\n"),
        ("hvo_verify/specs/x.py", "out.write('no print here')\nself.print = 1\n"),
        ("hvo_verify/selfcheck/x.py", "from hvo_verify.check.suite import check_specs\nfrom . import Section\n"),
        ("hvo_verify/cli.py", "from hvo_verify.selfcheck import SECTIONS\n"),
        ("hvo_verify/check/x.py", "from hvo_verify.specs.schema import Spec\nfrom hvo_verify.verdict import Verdict\n"),
        ("hvo_verify/report/x.py", "from hvo_verify.conform import ConformReport\n"),
        ("hvo_verify/conform/x.py", "from hvo_verify.check.suite import check_specs\n"),
        ("hvo_verify/__main__.py", "from hvo_verify.cli import main\n"),
        ("hvo_verify/__init__.py", "from hvo_verify.errors import HvoVerifyError\n"),
    ],
)
def test_checker_allows(path: str, source: str) -> None:
    assert violations(source, path) == []
