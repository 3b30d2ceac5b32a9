# SPDX-License-Identifier: GPL-2.0-only
"""model/structpage.py `original_class()`: two pfns of one class have the same words in
every field (original_word()), and model/vmemmap.py `content_key()`: two frames with one
key hold the same bytes.  conform/predict.py per_subpage() shares a reader's answer on
these keys, so a class that merged two different struct pages would give a wrong
prediction for a whole folio (issue 15: the un-optimized 1 GiB folio)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hvo_verify.model.config import parse_config_id
from hvo_verify.model.facts import WORD, orig
from hvo_verify.model.scheme import preset
from hvo_verify.model.structpage import Folio, original_class, original_word
from hvo_verify.model.vmemmap import VmemmapState

CONFIGS = ["x86-64/4K/2M", "x86-64/4K/2M@56", "x86-64/4K/1G", "arm64/64K/512M@72"]
ERAS = ["v5.14", "v6.2", "mask-2026", "none"]


def _folio(config: str, era: str, slot: int) -> Folio:
    cfg = parse_config_id(config)[0]
    return Folio(cfg, preset(era), cfg.nr_pages * slot, cfg.default_vmemmap_base)


# A pfn relative to the head: the edges of original_word()'s cases, or anywhere near.
REL = st.one_of(st.sampled_from([-2, -1, 0, 1, 2, 3, 4, 5, -3]), st.integers(-8, 1 << 19))


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("config", CONFIGS)
@settings(max_examples=60, deadline=None)
@given(slot=st.integers(1, 64), a=REL, b=REL)
def test_one_class_one_struct_page(config: str, era: str, slot: int, a: int, b: int) -> None:
    folio = _folio(config, era, slot)
    nr = folio.config.nr_pages
    pa, pb = (folio.head_pfn + (rel if rel < 6 else rel % (nr + 8)) for rel in (a, b))
    words = folio.size // WORD
    if original_class(folio, pa) == original_class(folio, pb):
        assert [original_word(folio, pa, w) for w in range(words)] == [
            original_word(folio, pb, w) for w in range(words)
        ]


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("config", CONFIGS)
def test_one_key_one_frame_content(config: str, era: str) -> None:
    """Every vmemmap page of the folio and the pages around it: frames of one key hold
    the same words, and the keys tell the head's and the metadata's frame apart."""
    folio = _folio(config, era, 3)
    state = VmemmapState(folio)
    shift, page = folio.config.page_shift, folio.config.page_size
    first = folio.head >> shift
    vpages = range(first - 2, ((folio.page(folio.head_pfn + folio.config.nr_pages)) >> shift) + 3)
    by_key: dict[tuple[object, ...], list[int]] = {}
    for v in vpages:
        by_key.setdefault(state.content_key(orig(v)), []).append(v)
    for members in by_key.values():
        words = [[state.read_word((v << shift) + off) for off in range(0, page, WORD)] for v in members[:3]]
        assert all(w == words[0] for w in words), members[:3]
    assert state.content_key(orig(first)) != state.content_key(orig(first + 1)) or folio.config.vmemmap_pages == 1
    if page % folio.size == 0:  # else where struct pages start moves from page to page
        assert len(by_key) < len(vpages), "no two frames share a key: nothing is shared"


def test_a_class_that_merges_the_metadata_pages_is_caught() -> None:
    """The check above can fail: page[1] and a plain tail differ (folio metadata)."""
    folio = _folio("x86-64/4K/2M", "v6.2", 1)
    words = folio.size // WORD
    page1 = [original_word(folio, folio.head_pfn + 1, w) for w in range(words)]
    tail = [original_word(folio, folio.head_pfn + 100, w) for w in range(words)]
    assert page1 != tail and original_class(folio, folio.head_pfn + 1) != original_class(folio, folio.head_pfn + 100)
