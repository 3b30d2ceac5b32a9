# SPDX-License-Identifier: GPL-2.0-only
"""Name lookup with 'did you mean' suggestions, shared by every registry."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from hvo_verify.errors import UnknownName


def suggest(word: str, choices: Iterable[str]) -> str:
    """A ' (did you mean X?)' suffix, or a list of valid choices when nothing is close."""
    options = sorted(set(choices))
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.5)
    if close:
        return f" (did you mean {close[0]!r}?)"
    shown = ", ".join(options[:12]) + (", ..." if len(options) > 12 else "")
    return f" (expected one of: {shown})"


def unknown(kind: str, word: str, choices: Iterable[str]) -> UnknownName:
    """Build the standard 'unknown X' error."""
    return UnknownName(f"unknown {kind} {word!r}{suggest(word, choices)}")
