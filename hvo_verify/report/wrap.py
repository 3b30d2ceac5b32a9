# SPDX-License-Identifier: GPL-2.0-only
"""Line wrapping of report text: at most `text_width()` columns (80 unless `--width N`
says otherwise, through `width_of()`) where a reviewer may paste it into a
mailing-list reply."""

from __future__ import annotations

import contextlib
import contextvars
import textwrap
from collections.abc import Iterator

WIDTH = 80  # the default
MIN_WIDTH, MAX_WIDTH = 40, 1000  # what --width accepts

_WIDTH: contextvars.ContextVar[int] = contextvars.ContextVar("hvo_verify_text_width", default=WIDTH)


def text_width() -> int:
    """The width text output is wrapped to now."""
    return _WIDTH.get()


@contextlib.contextmanager
def width_of(columns: int) -> Iterator[None]:
    """Text written inside wraps at `columns` (cli.py: `--width N`)."""
    token = _WIDTH.set(columns)
    try:
        yield
    finally:
        _WIDTH.reset(token)


def wrap(line: str, *, break_on_hyphens: bool = True) -> list[str]:
    """`line` wrapped at text_width(), continuation lines indented 4 more than it, never
    inside a word; `break_on_hyphens=False` also keeps hyphenated words whole (config ids,
    policy values).  An empty line stays one empty line."""
    indent = len(line) - len(line.lstrip())
    return textwrap.wrap(
        line,
        text_width(),
        subsequent_indent=" " * (indent + 4),
        break_long_words=False,
        break_on_hyphens=break_on_hyphens,
    ) or [""]


def wrap_lines(lines: list[str], *, break_on_hyphens: bool = True) -> list[str]:
    """Every line of `lines` over text_width() wrapped (see wrap), the others as they are."""
    return [
        w
        for line in lines
        for w in (wrap(line, break_on_hyphens=break_on_hyphens) if len(line) > text_width() else [line])
    ]
