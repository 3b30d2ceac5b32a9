# SPDX-License-Identifier: GPL-2.0-only
"""What the symbolic struct page readers (encode/readers.py) need from a memory: the
protocol that both z3 memories implement.

* encode/folio.py `SymFolio`: the layout a scheme leaves, for every placement, with
  addresses as offsets from the head struct page (what keeps static proofs flat in
  the folio size);
* encode/ops/unroll.py `StepMemory`: the unrolling's event memory at one step, with
  absolute addresses at the canonical placement.

A struct page pointer is a `Page`: a term in the memory's own address form, and its
struct page index when that is known without a division.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import z3

from hvo_verify.encode.terms import BV, B
from hvo_verify.model.config import KernelConfig
from hvo_verify.model.scheme import Scheme


@dataclass(frozen=True)
class Read:
    """A symbolic READ_ONCE(): the word, the word as a pointer in the memory's address
    form, and whether the access faults."""

    value: BV
    ptr: BV
    fault: B


@dataclass(frozen=True)
class Val:
    """A reader's result: a page (address form), pfn or flag, and whether computing it faults."""

    value: z3.ExprRef
    fault: B


@dataclass(frozen=True)
class Page:
    """A struct page pointer in the memory's address form, and its struct page index
    (from the head) when that is known without division."""

    rel: BV
    index: BV | None = None

    def field(self, mem: SymMemory, word: int) -> Read:
        return mem.field(self, word)

    def next(self, mem: SymMemory, n: int = 1) -> Page:
        """page + n (page[1] for n = 1)."""
        return Page(self.rel + n * mem.size, None if self.index is None else self.index + n)


class SymMemory(Protocol):
    """A z3 memory the readers can read struct pages from."""

    @property
    def config(self) -> KernelConfig: ...
    @property
    def scheme(self) -> Scheme: ...
    @property
    def size(self) -> int: ...  # sizeof(struct page)

    def field(self, page: Page, word: int) -> Read: ...
    def vpage_offset(self, page: Page) -> BV: ...  # the page's address modulo PAGE_SIZE
    def absolute(self, page: Page) -> BV: ...  # the page's virtual address
    def from_absolute(self, addr: BV) -> BV: ...  # a virtual address in the address form
    def subpage(self, i: BV) -> Page: ...  # head + i
    def vpage_of(self, page: Page) -> BV: ...  # k: the folio vmemmap page holding it
    def pte_source(self, k: BV) -> tuple[B, BV]: ...  # (remapped onto another page's frame, that page)
    def pfn(self, page: Page) -> BV: ...  # (page - vmemmap) / sizeof(struct page)
