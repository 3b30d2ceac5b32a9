# SPDX-License-Identifier: GPL-2.0-only
"""What a long run says while it runs and when it is stopped: progress lines on stderr,
`check --quiet`'s table, and the `interrupted` line and JSON document (check/runctl.py
stops the run; cli.py calls these).

Progress is shown when stderr is a terminal (one line, redrawn in place, cleared at the
end) and is silent otherwise.  The environment variable HVO_VERIFY_PROGRESS overrides
that: `1` prints every update as its own line, to any stream (the tests read the first,
`started` line as the sign that the run has begun), `0` silences it.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Sequence
from typing import TextIO

from hvo_verify.check.result import CheckResult
from hvo_verify.check.runctl import Stop
from hvo_verify.report import text

ENV = "HVO_VERIFY_PROGRESS"


def progress_mode(stream: TextIO, quiet: bool = False) -> str:
    """The mode: "lines" (forced by HVO_VERIFY_PROGRESS=1), "tty" (stderr is a terminal and the run
    is not --quiet) or "off"."""
    forced = os.environ.get(ENV, "")
    if forced in ("0", "1"):
        return "lines" if forced == "1" else "off"
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    return "tty" if tty and not quiet else "off"


class Progress:
    """`progress(done, total, what)`: `hvo-verify CMD: started|done/total WHAT, Ns`."""

    def __init__(self, command: str, stream: TextIO, mode: str, unit: str = "checks") -> None:
        self.command, self.stream, self.mode, self.unit = command, stream, mode, unit
        self.start = time.monotonic()
        self.shown = False

    def __call__(self, done: int, total: int, what: str) -> None:
        if self.mode == "off":
            return
        count = f"started, {total} {self.unit}" if done == 0 else f"{done}/{total}"
        line = f"hvo-verify {self.command}: {count}: {what} ({time.monotonic() - self.start:.0f}s)"
        try:
            if self.mode == "lines":
                self.stream.write(line + "\n")
            else:
                width = shutil.get_terminal_size((80, 24)).columns - 1
                self.stream.write("\r" + line[:width] + "\x1b[K")
            self.stream.flush()
        except (OSError, ValueError):
            self.mode = "off"  # a closed stderr stops progress, not the run
        self.shown = True

    def clear(self) -> None:
        """End the redrawn line (a terminal), so that the output starts on a clean line."""
        if self.mode == "tty" and self.shown:
            try:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
            except (OSError, ValueError):
                pass
        self.shown = False


def interrupted_line(stop: Stop, finished: int, total: int, unit: str = "checks") -> str:
    """The last line of a stopped run's output."""
    of = f" of {total}" if total else ""
    return f"interrupted ({stop.name}): {finished}{of} {unit} finished, the rest not run\n"


def quiet_table(results: Sequence[CheckResult]) -> str:
    """`check --quiet`: the blocks of the results that are not as expected, and the
    summary of all of them."""
    return text.verdict_table([r for r in results if not r.as_expected], summary=results)


def interrupted_document(document: str, stop: Stop, total: int) -> str:
    """A JSON document (`check`'s results of the finished checks, `selfcheck`'s finished
    sections) with `"interrupted": true`, why, and how many there were to do at the top
    level; an `"ok"` there becomes false (what was not run is not ok)."""
    doc = json.loads(document)
    if "ok" in doc:
        doc["ok"] = False
    doc.update(interrupted=True, stopped_by=stop.name, total=total)
    return json.dumps(doc, indent=2) + "\n"
