# SPDX-License-Identifier: GPL-2.0-only
"""The unrolling's memory vocabulary: frame ids as 64-bit terms, memory events (a store,
or a frame made by copy_page()), and the remap a step makes."""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import z3

from hvo_verify.encode.terms import BV, FALSE, B, bv
from hvo_verify.model.facts import FrameKind

TAG_SHIFT = 62
T_NEW, T_SHARED, T_NONE = FrameKind.NEW.tag, FrameKind.SHARED_TAIL.tag, FrameKind.NONE.tag
K_MASK = (1 << 40) - 1


def new_frame(step: int, k: BV | int) -> BV:
    kk = bv(k) if isinstance(k, int) else k
    return bv((T_NEW << TAG_SHIFT) | (step << 40)) | (kk & K_MASK)


SHARED = bv(T_SHARED << TAG_SHIFT)
NONE = bv(T_NONE << TAG_SHIFT)


def is_frame(frame: BV, target: BV) -> B:
    return frame == target


def allocated_at(frame: BV, step: int) -> B:
    return z3.And(frame_tag(frame) == T_NEW, z3.Extract(61, 40, frame) == step)


def constant_frame(_frame: BV, value: BV) -> BV:
    return value


def orig_frame(k: BV) -> BV:
    return k & K_MASK


def frame_tag(frame: BV) -> BV:
    return z3.LShR(frame, TAG_SHIFT)


class EventKind(enum.Enum):
    STORE = "store"
    COPY = "copy"


@dataclass
class Event:
    kind: EventKind
    active: B
    frame: BV = field(default_factory=lambda: bv(0))
    offset: BV = field(default_factory=lambda: bv(0))
    value: BV = field(default_factory=lambda: bv(0))
    vaddr: BV = field(default_factory=lambda: bv(0))
    is_new: Callable[[BV], B] | None = None  # copy: is this frame the one created here
    source: Callable[[BV], BV] | None = None  # copy: the frame it was copied from
    reset: int = 0  # copy: reset_struct_pages() bytes
    field: int | None = None  # store: the struct page word it writes, when constant
    bits: int = (1 << 64) - 1  # store: the bits it can change


@dataclass
class Remap:
    optimize: B = FALSE  # optimize succeeded at this step
    head_copied: B = FALSE  # ... and copied the head vmemmap page
    restore: B = FALSE  # restore succeeded at this step

    @functools.cached_property
    def static(self) -> bool:
        """Certainly no remap at this step (no remapping operation can run)."""
        return z3.is_false(z3.simplify(z3.Or(self.optimize, self.restore)))
