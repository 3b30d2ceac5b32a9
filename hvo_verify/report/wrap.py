# SPDX-License-Identifier: GPL-2.0-only
"""Line wrapping of report text: at most WIDTH columns where a reviewer may paste it
into a mailing-list reply."""

from __future__ import annotations

import textwrap

WIDTH = 80


def wrap(line: str, *, break_on_hyphens: bool = True) -> list[str]:
    """`line` wrapped at WIDTH, continuation lines indented 4 more than it, never inside
    a word; `break_on_hyphens=False` also keeps hyphenated words whole (config ids,
    policy values).  An empty line stays one empty line."""
    indent = len(line) - len(line.lstrip())
    return textwrap.wrap(
        line,
        WIDTH,
        subsequent_indent=" " * (indent + 4),
        break_long_words=False,
        break_on_hyphens=break_on_hyphens,
    ) or [""]
