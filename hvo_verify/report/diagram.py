"""The vmemmap of one folio as data for a willy-style diagram
(`abcdefgh | ijklmnop | ijklmnop`, <20200915181535.GJ5449@casper.infradead.org>):
each vmemmap page is 8 letters, each letter an eighth of the struct pages it shows.
Same letters = same bytes; the frame list says which physical page backs each."""

from __future__ import annotations

import functools
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, cast

from hvo_verify.model.config import KernelConfig
from hvo_verify.model.describe import frame_label
from hvo_verify.model.vmemmap import Frame, FrameId, Pte, VmemmapState

LETTERS = string.ascii_lowercase + string.ascii_uppercase + string.digits


class VmemmapPages(Protocol):
    """A vmemmap to draw: a VmemmapState, or a kernel-model state through an adapter
    (hvo_verify.report.trace_text).  `freed`/`allocated` are counted under the diagram."""

    @property
    def config(self) -> KernelConfig: ...
    @property
    def first_vpage(self) -> int: ...
    @property
    def freed(self) -> frozenset[FrameId]: ...
    @property
    def allocated(self) -> frozenset[FrameId]: ...
    def pte(self, vpage: int) -> Pte | None: ...
    def frame(self, frame_id: FrameId) -> Frame: ...


@dataclass(frozen=True, slots=True)
class PageRun:
    first: int
    last: int
    contents: str  # 8 letters
    frame: str  # "frame(1) RO" ...


def page_contents(mem: VmemmapPages, k: int) -> str:
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


def page_runs(mem: VmemmapPages, label: Callable[[Pte | None], str] | None = None) -> list[PageRun]:
    """`label` names the frame behind a PTE (default: describe.frame_label, which reads
    only `config` and `first_vpage`)."""
    if label is None:
        label = functools.partial(frame_label, cast(VmemmapState, mem))
    runs: list[PageRun] = []
    for k in range(mem.config.vmemmap_pages):
        contents = page_contents(mem, k)
        frame = label(mem.pte(mem.first_vpage + k))
        if runs and runs[-1].contents == contents and runs[-1].frame == frame and contents != "........":
            runs[-1] = PageRun(runs[-1].first, k, contents, frame)
        else:
            runs.append(PageRun(k, k, contents, frame))
    return runs
