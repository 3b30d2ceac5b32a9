"""Layering of hvo_verify, checked on the source with `ast`:

- z3 is imported only in hvo_verify/encode/ and hvo_verify/check/;
- only hvo_verify/cli.py and hvo_verify/report/ print or write to sys.stdout/sys.stderr;
- hvo_verify/model/ (the concrete model) imports nothing from encode, check, report,
  cli, nor hypothesis;
- hvo_verify/selfcheck/ (which checks the checker) sits above check/ and below report/:
  only report/, cli.py and selfcheck/ itself import it (and, like every module outside
  encode/ and check/, it does not import z3, nor print).
"""

from __future__ import annotations

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "hvo_verify"
MODULES = sorted(p.relative_to(PACKAGE.parent).as_posix() for p in PACKAGE.rglob("*.py"))

Z3_ALLOWED = ("hvo_verify/encode/", "hvo_verify/check/")
OUTPUT_ALLOWED = ("hvo_verify/cli.py", "hvo_verify/report/")
MODEL_FORBIDDEN = ("hvo_verify.encode", "hvo_verify.check", "hvo_verify.report", "hvo_verify.cli", "hypothesis")
SELFCHECK_IMPORT_ALLOWED = ("hvo_verify/selfcheck/", "hvo_verify/report/", "hvo_verify/cli.py")


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


def violations(source: str, path: str) -> list[str]:
    """Every layering violation in one module's source, as `path:line: what`."""
    tree = ast.parse(source, filename=path)
    found: list[str] = []
    for line, module in imported_modules(tree, path):
        if _matches(module, "z3") and not path.startswith(Z3_ALLOWED):
            found.append(f"{path}:{line}: imports z3 (only encode/ and check/ may)")
        if _matches(module, "hvo_verify.selfcheck") and not path.startswith(SELFCHECK_IMPORT_ALLOWED):
            found.append(f"{path}:{line}: imports {module} (only report/ and cli.py may)")
        if path.startswith("hvo_verify/model/"):
            for forbidden in MODEL_FORBIDDEN:
                if _matches(module, forbidden):
                    found.append(f"{path}:{line}: model imports {module}")
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
            ["model imports hvo_verify.encode"],
        ),
        ("hvo_verify/model/x.py", "from hvo_verify import cli\n", ["model imports hvo_verify.cli"]),
        ("hvo_verify/model/x.py", "from ..check import static\n", ["model imports hvo_verify.check"]),
        ("hvo_verify/model/x.py", "from hypothesis import strategies\n", ["model imports hypothesis"]),
        ("hvo_verify/model/x.py", "import hvo_verify.report.text\n", ["model imports hvo_verify.report.text"]),
        ("hvo_verify/selfcheck/x.py", "import z3\n", ["imports z3"]),
        ("hvo_verify/selfcheck/x.py", "print('x')\n", ["print() call"]),
        ("hvo_verify/selfcheck/x.py", "import sys\nsys.stderr.write('x')\n", ["uses sys.stderr"]),
        ("hvo_verify/check/x.py", "from hvo_verify.selfcheck import Section\n", ["only report/ and cli.py may"]),
        (
            "hvo_verify/model/x.py",
            "from hvo_verify.selfcheck.vacuity import run_vacuity\n",
            ["imports hvo_verify.selfcheck"],
        ),
    ],
)
def test_checker_catches(path: str, source: str, expected: list[str]) -> None:
    found = violations(source, path)
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
        ("hvo_verify/model/x.py", "import hvo_verify.encoder_notes\nx = 'print(1)'\n"),
        ("hvo_verify/specs/x.py", "out.write('no print here')\nself.print = 1\n"),
        ("hvo_verify/selfcheck/x.py", "from hvo_verify.check.suite import check_specs\nfrom . import Section\n"),
        ("hvo_verify/report/x.py", "from hvo_verify.selfcheck import Section\n"),
    ],
)
def test_checker_allows(path: str, source: str) -> None:
    assert violations(source, path) == []
