# SPDX-License-Identifier: GPL-2.0-only
"""Spec files are data only: nothing on the spec-loading path can run or import what a
file says.  Checked on the source with `ast`: hvo_verify/specs/,
hvo_verify/cli.py, and every hvo_verify module the loader imports (transitively) use
no eval/exec/compile/__import__, no importlib, pickle, marshal, shelve, runpy, code,
ctypes, subprocess or yaml, and no os.system/popen/exec*/spawn*.  (The fuzz self-check
also feeds Python code in strings through `hvo-verify check`: tests/property/test_spec_fuzz.py.)
"""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "hvo_verify"

CALLS = frozenset({"eval", "exec", "compile", "__import__", "breakpoint"})
MODULES = frozenset({"importlib", "pickle", "marshal", "shelve", "runpy", "code", "codeop", "ctypes", "subprocess",
                     "yaml", "dill", "jsonpickle", "cloudpickle"})  # fmt: skip
OS_CALLS = ("system", "popen", "exec", "spawn", "posix_spawn", "fork")


def _module_file(dotted: str) -> pathlib.Path | None:
    """hvo_verify.a.b -> hvo_verify/a/b.py or hvo_verify/a/b/__init__.py (None: not ours)."""
    if dotted != "hvo_verify" and not dotted.startswith("hvo_verify."):
        return None
    base = ROOT.joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _package(path: pathlib.Path) -> list[str]:
    """hvo_verify/model/config.py and hvo_verify/model/__init__.py -> [hvo_verify, model]."""
    return list(path.relative_to(ROOT).parts[:-1])


def imports(tree: ast.AST, path: pathlib.Path) -> list[str]:
    """Every module an import statement names; `from a import b` also yields `a.b`."""
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = _package(path)
                package = package[: len(package) - (node.level - 1)]
                base = ".".join([*package, base] if base else package)
            found.append(base)
            found += [f"{base}.{alias.name}" for alias in node.names if alias.name != "*"]
    return found


def loading_path() -> list[pathlib.Path]:
    """specs/*.py, cli.py, and the hvo_verify modules the loader imports, transitively."""
    todo = [*sorted((PACKAGE / "specs").glob("*.py")), PACKAGE / "errors.py"]
    seen: dict[pathlib.Path, None] = {PACKAGE / "cli.py": None}
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen[path] = None
        for name in imports(ast.parse(path.read_text(encoding="utf-8")), path):
            parts = name.split(".")
            for n in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__ and a/b/__init__ too
                target = _module_file(".".join(parts[:n]))
                if target is not None and target not in seen:
                    todo.append(target)
    return sorted(seen)


def violations(source: str, name: str) -> list[str]:
    """`name:line: what` for every way the source could run or load code."""
    tree = ast.parse(source, filename=name)
    found = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in CALLS:
            found.append(f"{name}:{line}: calls {node.func.id}()")
        elif isinstance(node, ast.Name) and node.id in ("__builtins__", "__loader__"):
            found.append(f"{name}:{line}: uses {node.id}")
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            owner, attr = node.value.id, node.attr
            if owner == "os" and attr.startswith(OS_CALLS):
                found.append(f"{name}:{line}: uses os.{attr}")
            elif owner == "yaml" and attr.endswith("load"):
                found.append(f"{name}:{line}: uses yaml.{attr}")
            elif owner == "builtins" and attr in CALLS:
                found.append(f"{name}:{line}: uses builtins.{attr}")
        if isinstance(node, ast.Import | ast.ImportFrom):
            for module in imports(ast.Module(body=[node], type_ignores=[]), ROOT / name):
                root = module.split(".")[0]
                if root in MODULES or (module.startswith("os.") and module[3:].startswith(OS_CALLS)):
                    found.append(f"{name}:{line}: imports {module}")
    return sorted(set(found))


def test_the_loading_path_is_found() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in loading_path()}
    assert {"hvo_verify/specs/loader.py", "hvo_verify/specs/schema.py", "hvo_verify/cli.py"} <= names
    assert {"hvo_verify/model/config.py", "hvo_verify/model/scheme.py", "hvo_verify/invariants/static.py"} <= names


@pytest.mark.parametrize("path", [p.relative_to(ROOT).as_posix() for p in loading_path()])
def test_nothing_on_the_loading_path_runs_code(path: str) -> None:
    assert violations((ROOT / path).read_text(encoding="utf-8"), path) == []


def test_the_loader_reads_toml_with_tomllib_only() -> None:
    tree = ast.parse((PACKAGE / "specs" / "loader.py").read_text(encoding="utf-8"))
    names = set(imports(tree, PACKAGE / "specs" / "loader.py"))
    assert "tomllib" in names
    assert not names & {"json", "toml", "tomli", "configparser", "ast"}


# ---------------------------------------------------------------- the checker itself


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("eval(text)\n", "calls eval()"),
        ("def f(t):\n    exec(t)\n", "calls exec()"),
        ("code = compile(t, 'x', 'exec')\n", "calls compile()"),
        ("m = __import__(name)\n", "calls __import__()"),
        ("import importlib\n", "imports importlib"),
        ("from importlib import import_module\n", "imports importlib"),
        ("import pickle\n", "imports pickle"),
        ("from marshal import loads\n", "imports marshal"),
        ("import subprocess as sp\n", "imports subprocess"),
        ("import yaml\ny = yaml.load(s)\n", "uses yaml.load"),
        ("import os\nos.system(cmd)\n", "uses os.system"),
        ("import os\nos.execvp(a, b)\n", "uses os.execvp"),
        ("import builtins\nbuiltins.eval(t)\n", "uses builtins.eval"),
        ("f = __builtins__['eval']\n", "uses __builtins__"),
        ("import runpy\n", "imports runpy"),
    ],
)
def test_checker_catches(source: str, expected: str) -> None:
    assert any(expected in v for v in violations(source, "hvo_verify/specs/x.py")), violations(source, "x.py")


@pytest.mark.parametrize(
    "source",
    [
        "import re\n_SIZE = re.compile(r'x')\n",  # re.compile is not compile()
        "import tomllib\ndoc = tomllib.loads(text)\n",
        "title = 'eval(1)'\n",
        "self.exec = 1\nobj.eval()\n",
        "import os\ncount = os.cpu_count()\n",
    ],
)
def test_checker_allows(source: str) -> None:
    assert violations(source, "hvo_verify/specs/x.py") == []
