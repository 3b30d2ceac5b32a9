# SPDX-License-Identifier: GPL-2.0-only
"""Hypothesis run as a library, by check/explore.py and selfcheck/fuzz.py: the settings
both use, and `quiet()`, which drops Hypothesis's reports and keeps its files in a
scratch directory (output belongs to report/ and cli.py; a run leaves no files)."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator, Sequence
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, settings
from hypothesis.configuration import set_hypothesis_home_dir, storage_directory
from hypothesis.reporting import with_reporter


def library_settings(*, max_examples: int, derandomize: bool, phases: Sequence[Phase], **more: Any) -> settings:
    """Settings of a run nobody watches: no deadline, no example database, no health
    check, quiet, no reproduction blob; `more` adds the caller's own settings."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=derandomize,
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        print_blob=False,
        phases=tuple(phases),
        **more,
    )


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """No reports, and no `.hypothesis/` folder left behind: Hypothesis caches what it
    learns from local source files under `.hypothesis/` in the working directory even
    with `database=None`, so its home directory is a scratch one meanwhile."""
    previous = storage_directory(intent_to_write=False).home_directory
    with tempfile.TemporaryDirectory(prefix="hvo-verify-hypothesis-") as scratch:
        set_hypothesis_home_dir(scratch)
        try:
            with with_reporter(_silent):
                yield
        finally:
            set_hypothesis_home_dir(previous)


def _silent(_text: object) -> None:
    """Hypothesis reporter that drops everything."""
