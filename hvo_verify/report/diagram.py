# SPDX-License-Identifier: GPL-2.0-only
"""The vmemmap of one folio as data for a willy-style diagram
(`abcdefgh | ijklmnop | ijklmnop`, <20200915181535.GJ5449@casper.infradead.org>):
each vmemmap page is 8 letters, each letter an eighth of the struct pages it shows.
Same letters = same bytes; the frame list says which physical page backs each."""

from __future__ import annotations

import functools
import string
from collections.abc import Callable
from dataclasses import dataclass

from hvo_verify.model.describe import frame_label
from hvo_verify.model.vmemmap import Pte, VmemmapView

# 8 letters for each of the first 8 vmemmap pages: 64 symbols (the base64 alphabet; 62
# made `explain` of an unoptimized 8-page folio fail on its last two slots).
LETTERS = string.ascii_lowercase + string.ascii_uppercase + string.digits + "+/"


@dataclass(frozen=True, slots=True)
class PageRun:
    first: int
    last: int
    contents: str  # 8 letters
    frame: str  # "frame(1) RO" ...


def page_contents(mem: VmemmapView, k: int) -> str:
    pte = mem.pte(mem.first_vpage + k)
    if pte is None:
        return "--------"
    frame = mem.frame(pte.frame)
    if frame.source is None:
        return "~~~~~~~~"  # the shared tail page: generic tails
    src = frame.source - mem.first_vpage
    if not 0 <= src < 8:
        return "........"
    return "".join(LETTERS[8 * src + c] for c in range(8))


def page_runs(mem: VmemmapView, label: Callable[[Pte | None], str] | None = None) -> list[PageRun]:
    """`label` names the frame behind a PTE (default: describe.frame_label, which reads
    only `config` and `first_vpage`)."""
    if label is None:
        label = functools.partial(frame_label, mem)
    runs: list[PageRun] = []
    for k in range(mem.config.vmemmap_pages):
        contents = page_contents(mem, k)
        frame = label(mem.pte(mem.first_vpage + k))
        if runs and runs[-1].contents == contents and runs[-1].frame == frame and contents != "........":
            runs[-1] = PageRun(runs[-1].first, k, contents, frame)
        else:
            runs.append(PageRun(k, k, contents, frame))
    return runs
