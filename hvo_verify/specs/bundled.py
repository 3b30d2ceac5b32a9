# SPDX-License-Identifier: GPL-2.0-only
"""The spec suite shipped with the package, and which folder `hvo-verify check` runs
when given no path.

`hvo_verify/_specs` is a symlink to the top-level `specs/` (the one copy in git);
`pyproject.toml` installs every `*.toml` below it as package data, so a wheel carries
the presets, examples, must-catch specs, objections and regressions.
"""

from __future__ import annotations

import pathlib
import tomllib
from dataclasses import dataclass

BUNDLED = pathlib.Path(__file__).resolve().parent.parent / "_specs"
LOCAL = pathlib.Path("specs")


def has_specs(folder: pathlib.Path) -> bool:
    """Whether `folder` is a folder holding some `*.toml` file (at any depth)."""
    return folder.is_dir() and any(p.is_file() for p in folder.rglob("*.toml"))


def default_specs() -> tuple[pathlib.Path, str]:
    """The folder `check` runs without a path, and why: `./specs` when it holds spec
    files, the bundled suite otherwise."""
    if has_specs(LOCAL):
        return LOCAL, "./specs (a spec folder here)"
    return BUNDLED, f"the bundled suite ({BUNDLED}: no ./specs here)"


@dataclass(frozen=True, slots=True)
class ShippedSpec:
    """One shipped spec file: its path below the suite and its title."""

    path: str  # relative to the suite, e.g. "must-catch/no-net-saving.toml"
    title: str


def shipped_specs(pattern: str = "") -> list[ShippedSpec]:
    """The shipped spec files whose path or title contains every word of `pattern`
    (case-insensitive), sorted by path.  A file that is not valid TOML is listed with
    an empty title (`check` reports what is wrong with it)."""
    words = pattern.lower().split()
    found = []
    for file in sorted(BUNDLED.rglob("*.toml")):
        rel = file.relative_to(BUNDLED).as_posix()
        try:
            title = tomllib.loads(file.read_text(encoding="utf-8")).get("title", "")
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            title = ""
        title = title if isinstance(title, str) else ""
        text = f"{rel} {title}".lower()
        if all(word in text for word in words):
            found.append(ShippedSpec(rel, " ".join(title.split())))
    return found
