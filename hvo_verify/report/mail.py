# SPDX-License-Identifier: GPL-2.0-only
"""What makes `explain` output a self-contained mail reply: the provenance line (tool
and z3 versions, the spec's sha256) and the spec itself inline, folded to the width
without changing what it parses to."""

from __future__ import annotations

import hashlib
import pathlib
import re
import tomllib

from hvo_verify import __version__
from hvo_verify.check.solver import z3_version
from hvo_verify.report.wrap import text_width

SHA_DIGITS = 16  # of the sha256: 64 bits name a spec file; the line stays short enough for 72 columns


def spec_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def provenance(data: bytes) -> str:
    """The first line of `explain`: what ran and on exactly which spec bytes."""
    return f"hvo-verify {__version__}, z3 {z3_version()}, spec sha256 {spec_digest(data)[:SHA_DIGITS]}"


# `key = "one-line basic string"`, and the lines of a multi-line basic string: a
# line-ending backslash there joins the next line without the newline and the
# indentation (toml.io, "String"), so breaking after a space keeps the string.
_BASIC = re.compile(r'^(?P<key>[A-Za-z0-9_.\-"]+\s*=\s*)"(?P<body>(?:[^"\\]|\\.)*)"\s*$')
_COMMENT = re.compile(r"^(?P<code>\S.*?)\s{2,}(?P<comment>#.*)$")  # `code  # comment`
_TRIPLE = '"""'


def fold_toml(text: str, width: int) -> str:
    """`text` with lines longer than `width` folded where TOML allows it without a change
    of meaning: a trailing comment moved above its line, a one-line basic string turned
    into a multi-line one, long lines of a multi-line basic string broken after a space,
    each break a line-ending backslash (never inside an escape).  Returned unchanged
    unless the folded text parses to the same document."""
    out: list[str] = []
    in_basic = False  # inside a multi-line basic string
    for line in text.splitlines():
        opens = line.count(_TRIPLE) % 2 == 1
        if len(line) > width and not in_basic and (m := _COMMENT.match(line)) and '"' not in m.group("comment"):
            out += [f"# {w}" for w in _words_to_lines(m.group("comment").lstrip("# "), width - 2)]
            line = m.group("code")
        one_line = not in_basic and line.count(_TRIPLE) == 2 and "=" in line.split(_TRIPLE, 1)[0]
        if len(line) <= width:
            out.append(line)
        elif line.lstrip().startswith("#") and not in_basic:
            indent = line[: len(line) - len(line.lstrip())]
            body = line.lstrip().lstrip("#").strip()
            out += [f"{indent}# {w}" for w in _words_to_lines(body, width - len(indent) - 2)]
        elif in_basic or opens or one_line:
            out += _break(line, width, until=line.rfind(_TRIPLE) if (in_basic and opens) or one_line else len(line))
        elif "[" in line and line.rstrip().endswith(("[", ",", "]")):
            out += _break_array(line, width)
        elif (m := _BASIC.match(line)) is not None:
            body = f"{m.group('key')}{_TRIPLE}{m.group('body')}{_TRIPLE}"
            out += _break(body, width, until=len(body) - len(_TRIPLE))
        else:
            out.append(line)
        in_basic ^= opens
    folded = "\n".join(out) + "\n"
    try:
        same = tomllib.loads(folded) == tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        same = False
    return folded if same else text


def _break_array(line: str, width: int) -> list[str]:
    """An array's line broken after commas outside strings (TOML allows a newline
    between elements), the next lines indented by four."""
    pieces: list[str] = []
    rest = line
    while len(rest) > width:
        cuts = [n + 1 for n, ch in enumerate(rest[:width]) if ch == "," and rest[:n].count('"') % 2 == 0]
        if not cuts or cuts[-1] < 8:
            break
        pieces.append(rest[: cuts[-1]])
        rest = "    " + rest[cuts[-1] :].lstrip()
    return [*pieces, rest]


def _words_to_lines(text: str, width: int) -> list[str]:
    lines = [""]
    for word in text.split(" "):
        if lines[-1] and len(lines[-1]) + 1 + len(word) > width:
            lines.append("")
        lines[-1] = f"{lines[-1]} {word}" if lines[-1] else word
    return lines


def _break(line: str, width: int, until: int) -> list[str]:
    """`line` broken after spaces before column `until` (never after an escaping
    backslash), each piece but the last ending in a backslash, the next ones indented
    by two (which the backslash removes)."""
    pieces: list[str] = []
    rest, offset = line, 0
    while len(rest) > width:
        limit = min(width - 1, until - offset)
        # after a space that neither follows a space or a backslash nor precedes a space
        # (the backslash eats all the whitespace after it)
        cut = max(
            (
                n
                for n in range(3, min(limit, len(rest) - 1) + 1)
                if rest[n - 1] == " " and rest[n - 2] not in " \\" and rest[n] != " "
            ),
            default=-1,
        )
        if cut < 3 or not rest[:cut].strip():
            break
        pieces.append(rest[:cut] + "\\")
        offset += cut - 2
        rest = "  " + rest[cut:]
    return [*pieces, rest]


def inline_spec(path: str, data: bytes) -> list[str]:
    """The spec between two marker lines (its file name; whether strings were folded),
    folded to the current width."""
    text = data.decode("utf-8")
    folded = fold_toml(text, text_width())
    end = "--- end of spec ---" if folded == text else "--- end of spec (long strings folded: it parses the same) ---"
    return [f"--- {pathlib.PurePath(path).name} ---", *folded.splitlines(), end]
