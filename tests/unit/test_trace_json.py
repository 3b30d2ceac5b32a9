# SPDX-License-Identifier: GPL-2.0-only
"""Trace files: JSON round trip, one-line TraceErrors for malformed documents, the
argument checks of `specs.tracefile.load_trace()`, and the kernel-terms rendering of a replay."""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import re

import pytest

from hvo_verify.errors import TraceError
from hvo_verify.invariants.reachable import OP_INVARIANTS
from hvo_verify.invariants.replay import replay
from hvo_verify.model.config import parse_config_id
from hvo_verify.model.policy import Hwpoison, default_policies
from hvo_verify.model.remap import optimize
from hvo_verify.model.scheme import PRESETS, FolioKind, preset
from hvo_verify.model.structpage import Folio
from hvo_verify.model.vmemmap import not_applicable_reason
from hvo_verify.ops.machine import Machine
from hvo_verify.ops.trace import Trace, TraceStep, from_json
from hvo_verify.report.diagram import page_runs
from hvo_verify.report.trace_text import frame_name, render_trace
from hvo_verify.specs.tracefile import load_trace

CONFIG = "x86-64/4K/2M"
OPTIMIZE = TraceStep("hugetlb_vmemmap_optimize_folio", (("alloc_ok", True),))


def trace_for(scheme_name: str, steps: tuple[TraceStep, ...], invariant: str = "", **policy: object) -> Trace:
    config = parse_config_id(CONFIG)[0]
    scheme = preset(scheme_name)
    policies = dataclasses.replace(default_policies(scheme), **policy)  # type: ignore[arg-type]
    return Trace(CONFIG, scheme, policies, config.nr_pages, config.default_vmemmap_base, config.page_size, 512,
                 steps, invariant)  # fmt: skip


def poison(i: int) -> TraceStep:
    return TraceStep("memory_failure", (("i", i), ("kmalloc_ok", True)))


# rfc-2020 with writable aliases and PageHWPoison on the raw page: the flag lands on frame(1).
ALIAS = trace_for("rfc-2020", (OPTIMIZE, poison(64)), "alias-write", hwpoison=Hwpoison.RAW_FLAG)


# ---------------------------------------------------------------- round trip


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_round_trip_every_preset(name: str) -> None:
    steps = (OPTIMIZE, poison(3), TraceStep("pin_user_pages_fast", (("offset", 0x5000), ("length", 0x800))))
    trace = trace_for(name, steps, "refcount")
    doc = json.loads(json.dumps(trace.to_json()))
    assert from_json(doc) == trace
    assert load_trace(json.dumps(doc)) == trace


def test_round_trip_keeps_policy_overrides() -> None:
    again = from_json(json.loads(json.dumps(ALIAS.to_json())))
    assert again.policies.hwpoison is Hwpoison.RAW_FLAG
    assert again.steps == ALIAS.steps and again.invariant == "alias-write"


# ---------------------------------------------------------------- malformed documents


def _doc() -> dict[str, object]:
    return copy.deepcopy(ALIAS.to_json())


def _with(path: tuple[object, ...], value: object) -> dict[str, object]:
    doc = _doc()
    node: object = doc
    for key in path[:-1]:
        node = node[key]  # type: ignore[index]
    node[path[-1]] = value  # type: ignore[index]
    return doc


@pytest.mark.parametrize(
    ("doc", "start"),
    [
        (_with(("version",), 3), "version: expected one of 1, 2, got 3"),
        (_with(("version",), True), "version: expected one of 1, 2, got True"),
        (_with(("steps", 1, "op"), "memory_failur"), "steps[1]: "),
        (_with(("steps", 1, "args"), {"i": 1}), "steps[1].args: memory_failure takes ['i', 'kmalloc_ok']"),
        (_with(("steps", 0, "args"), {"alloc_ok": True, "extra": 1}), "steps[0].args: "),
        (_with(("steps",), {"op": "folio_put"}), "steps: expected a list"),
        (_with(("policies", "hwpoison"), "raw"), "policies.hwpoison: "),
        (_with(("config",), "x86-64/4K/3M"), "config: "),
        (_with(("head_pfn",), 512), 'head_pfn: expected a hex string such as "0x200" (trace version 2)'),
        (_with(("vmemmap_base",), "18434359174734282752"), "vmemmap_base: expected a hex string"),
        (_with(("vmemmap_base",), "0x1" + "0" * 16), "vmemmap_base: expected a hex string"),
        ({**_with(("head_pfn",), "0x200"), "version": 1}, "head_pfn: expected an integer"),
        ([1, 2], "a trace is a JSON object"),
    ],
)
def test_malformed_trace_is_one_line(doc: object, start: str) -> None:
    with pytest.raises(TraceError) as info:
        from_json(doc)
    message = str(info.value)
    assert message.startswith(start), message
    assert "\n" not in message


def test_missing_key() -> None:
    doc = _doc()
    del doc["steps"]
    with pytest.raises(TraceError, match=r"^steps: missing$"):
        from_json(doc)


@pytest.mark.parametrize(
    ("doc", "start"),
    [
        ("{", "not JSON: "),
        (_with(("steps", 1, "args", "i"), 512), "steps[1].args.i: expected an integer in [0, 511]"),
        (_with(("steps", 1, "args", "i"), True), "steps[1].args.i: "),
        (_with(("steps", 0, "args", "alloc_ok"), 1), "steps[0].args.alloc_ok: expected true or false"),
        (_with(("invariant",), "alias-writes"), "invariant: unknown operation invariant 'alias-writes'"),
        (_with(("scheme", "private"), "ab"), "scheme.private: expected a list of integers"),
        (_with(("scheme", "private"), 5), "scheme.private: "),
        (_with(("scheme",), "rfc-2020"), "scheme: "),
        (_with(("head_pfn",), "0x3"), "head_pfn: 0x3 is not a pfn aligned"),
        # the jq / JavaScript rounding of 0xffd4000000000000 + 0xf8 (ux-review.md §4)
        (_with(("vmemmap_base",), "0xffd40000000000f8"), "vmemmap_base: 0xffd40000000000f8 is not aligned to 0x1000"),
        (_with(("vmemmap_base",), "0x7fd4000000000000"), "vmemmap_base: 0x7fd4000000000000 is not a kernel-half base"),
        (_with(("vmemmap_base",), "0xfffffffffffff000"), "vmemmap_base: 0xfffffffffffff000 is not a kernel-half base"),
        (_with(("io_align",), 500), "io_align: expected a power of two"),
    ],
)
def test_load_trace_checks_what_replay_needs(doc: object, start: str) -> None:
    text = doc if isinstance(doc, str) else json.dumps(doc)
    with pytest.raises(TraceError) as info:
        load_trace(text)
    message = str(info.value)
    assert message.startswith(start), message
    assert "\n" not in message


def test_version_1_traces_still_replay() -> None:
    """A trace written before version 2 (numbers, not hex strings) loads to the same trace."""
    doc = ALIAS.to_json()
    assert doc["version"] == 2 and doc["vmemmap_base"] == "0xffd4000000000000" and doc["head_pfn"] == "0x200"
    old = {**doc, "version": 1, "head_pfn": ALIAS.head_pfn, "vmemmap_base": ALIAS.vmemmap_base}
    assert load_trace(json.dumps(old)) == ALIAS


def test_addresses_survive_a_reader_of_doubles() -> None:
    """jq and JavaScript keep JSON numbers as doubles: a version-2 trace reads the same
    through such a parser, its addresses included."""
    trace = dataclasses.replace(ALIAS, vmemmap_base=0xFFD4000000000000 + 0x1000 * 7)  # not a multiple of 2**11
    text = json.dumps(trace.to_json())
    assert json.loads(text, parse_int=float) == json.loads(text)  # every number exact as a double
    assert int(json.loads(text, parse_int=float)["vmemmap_base"], 16) == trace.vmemmap_base
    # version 1 wrote a 20-digit number, which jq 1.6 prints back with 17 significant digits
    assert not re.search(r"\b\d{16,}\b", text)


def test_max_folio_scheme_needs_the_max_folio_alignment() -> None:
    """The 2026 series aligns the vmemmap to MAX_FOLIO_VMEMMAP_ALIGN: 1G folios of 4K
    pages, 64-byte struct pages on x86-64 = 0x1000000 bytes; a page-aligned base is refused."""
    trace = trace_for("mask-2026", (OPTIMIZE,))
    doc = {**trace.to_json(), "vmemmap_base": "0xffd4000000001000"}
    with pytest.raises(TraceError, match=r"^vmemmap_base: 0xffd4000000001000 is not aligned to 0x1000000 bytes"):
        load_trace(json.dumps(doc))
    assert load_trace(json.dumps({**doc, "vmemmap_base": "0xffd4000001000000"})).vmemmap_base == 0xFFD4000001000000


def test_buffer_beyond_the_folio() -> None:
    size = parse_config_id(CONFIG)[0].nr_pages * 4096
    trace = trace_for("v5.14", (TraceStep("get_user_pages_fast", (("offset", size - 512), ("length", 1024))),))
    with pytest.raises(TraceError, match=r"^steps\[0\]\.args: the buffer ends beyond the folio"):
        load_trace(json.dumps(trace.to_json()))


# ---------------------------------------------------------------- rendering


def test_render_violation() -> None:
    replayed = replay(ALIAS, ("alias-write",))
    assert [r.violation is not None for r in replayed] == [False, True]
    text = render_trace(ALIAS, replayed, ("alias-write",))
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines), [line for line in lines if len(line) > 80]
    assert lines[6] == "state 0: folio in the hugetlb pool (free), vmemmap populated, refcount 0"
    assert "step 1: hugetlb_vmemmap_optimize_folio(alloc_ok=true)" in lines
    assert "        vmemmap pages 2..7 remapped (RW); their frames freed" in lines
    assert "          abcdefgh | ijklmnop x7" in lines  # willy's diagram of the new state
    assert "state 1: vmemmap optimized (HPG_vmemmap_optimized)" in lines
    assert "step 2: memory_failure(i=0x40, kmalloc_ok=true)" in lines
    assert "state 2: memory errors injected at head_pfn+64" in lines
    assert lines[-3].startswith("=> violated alias-write: store to head+64 (word 0) changes head+128")


def test_render_no_violation_and_only_changes() -> None:
    trace = trace_for("v6.2", (OPTIMIZE, TraceStep("alloc_hugetlb_folio", ()), TraceStep("folio_put", ())))
    replayed = replay(trace, tuple(OP_INVARIANTS))
    text = render_trace(trace, replayed)
    assert text.endswith("=> no invariant violated\n")
    assert "state 2: folio allocated (in use), refcount 1, mapped at user address\n    0x7f0000000000\n" in text
    assert "state 3: folio in the hugetlb pool (free), refcount 0, not mapped" in text
    assert text.count("vmemmap of one") == 1  # only the remap changed the mapping


def test_render_disabled_step() -> None:
    trace = trace_for("v6.2", (TraceStep("folio_put", ()),))  # not mapped: cannot run
    text = render_trace(trace, replay(trace, ()))
    assert "        not enabled in this state: the replay stops here" in text
    assert text.endswith("=> no invariant violated (step 1 cannot run in the state it reaches)\n")


def test_render_oops_not_checked() -> None:
    trace = trace_for("v5.14", (OPTIMIZE, poison(128)), hwpoison=Hwpoison.RAW_FLAG)  # RO alias: the store oopses
    text = render_trace(trace, replay(trace, ("alias-write",)))
    assert "        oops: store through a read-only vmemmap PTE" in text
    assert text.endswith("=> no invariant violated (the kernel oopses at step 2: ro-write)\n")
    assert render_trace(trace, replay(trace, ("ro-write",))).splitlines()[-2].startswith("=> violated ro-write:")


# Hugetlb presets that remap on CONFIG (Device-DAX folios are never optimized by an operation).
REMAPPING = sorted(
    name
    for name, scheme in PRESETS.items()
    if scheme.optimizes
    and scheme.folio_kind is FolioKind.HUGETLB
    and not not_applicable_reason(parse_config_id(CONFIG)[0], scheme)
)


@pytest.mark.parametrize("name", REMAPPING)
def test_kernel_diagram_matches_the_static_model(name: str) -> None:
    """hugetlb_vmemmap_optimize_folio() leaves exactly the vmemmap the static checks
    prove things about (model/remap.py: one walk), and both draw the same diagram."""
    config = parse_config_id(CONFIG)[0]
    scheme = preset(name)
    folio = Folio(config, scheme, config.nr_pages, config.default_vmemmap_base)
    m = Machine(folio, default_policies(scheme))
    after = m.apply(m.initial(), OPTIMIZE.op, dict(OPTIMIZE.args)).state
    static = optimize(folio)
    assert after.vmemmap == static
    label = functools.partial(frame_name, after.vmemmap)
    assert [r.contents for r in page_runs(after.vmemmap, label)] == [r.contents for r in page_runs(static)]
