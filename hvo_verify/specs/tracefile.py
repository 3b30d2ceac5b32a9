# SPDX-License-Identifier: GPL-2.0-only
"""Trace files as input: what `replay` reads (`check --save-traces` writes them, named
by report/json_out.py).

`load_trace()` turns the text of a trace file into a `Trace` whose every step can run
on the concrete model, or raises `TraceError` with a one-line message: besides
`model.trace.from_json()`'s checks, each argument must lie in its operation's domain
(`Machine.arg_values`, `Machine.args_ok`) and the invariant must be an operation
invariant.  Nothing here prints.
"""

from __future__ import annotations

import dataclasses
import json

from hvo_verify.errors import TraceError
from hvo_verify.invariants.reachable import OP_INVARIANTS
from hvo_verify.model.config import CONFIGS, KernelConfig
from hvo_verify.model.facts import MASK64
from hvo_verify.model.names import suggest
from hvo_verify.model.vmemmap import fit_error
from hvo_verify.ops.table import OPS, ArgKind
from hvo_verify.ops.trace import Trace, from_json


def load_trace(text: str) -> Trace:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TraceError(f"not JSON: {exc}") from None
    try:
        trace = from_json(doc)
    except TraceError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError) as exc:  # from_json does not check every type
        raise TraceError(f"malformed trace: {_one_line(exc)}") from None
    check_trace(trace)
    return trace


def check_trace(trace: Trace) -> None:
    """Raise TraceError unless every step of `trace` can be run by replay()."""
    if trace.invariant and trace.invariant not in OP_INVARIANTS:
        raise TraceError(
            f"invariant: unknown operation invariant {trace.invariant!r}{suggest(trace.invariant, OP_INVARIANTS)}"
        )
    _check_fields(trace.scheme, "scheme")
    _check_fields(trace.policies, "policies")
    if not 0 <= trace.vmemmap_base <= MASK64:
        raise TraceError(f"vmemmap_base: {trace.vmemmap_base:#x} is not a 64-bit address")
    if not 0 <= trace.head_pfn <= MASK64:
        raise TraceError(f"head_pfn: {trace.head_pfn:#x} is not a 64-bit pfn")
    if trace.io_align <= 0 or trace.io_align & (trace.io_align - 1):
        raise TraceError(f"io_align: expected a power of two, got {trace.io_align}")
    if trace.io_max < 0 or trace.io_max % trace.io_align:
        raise TraceError(f"io_max: expected a multiple of io_align ({trace.io_align}), got {trace.io_max}")
    try:
        m = trace.machine()
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise TraceError(f"malformed trace: {_one_line(exc)}") from None
    nr = m.config.nr_pages
    _check_base(trace, m.config, m.folio.max_pfn)
    misfit = fit_error(m.config, trace.scheme)
    if misfit is not None:
        raise TraceError(f"scheme.{misfit[0]}: {misfit[1]}")
    if not 0 <= trace.head_pfn < m.folio.max_pfn or trace.head_pfn % nr:
        raise TraceError(f"head_pfn: {trace.head_pfn:#x} is not a pfn aligned to the folio's {nr} pages")
    for n, step in enumerate(trace.steps):
        args = dict(step.args)
        for arg in OPS[step.op].args:
            value = args[arg.name]
            where = f"steps[{n}].args.{arg.name}"
            if arg.kind is ArgKind.BOOL:
                if not isinstance(value, bool):
                    raise TraceError(f"{where}: expected true or false, got {value!r}")
                continue
            domain = m.arg_values(arg)
            if isinstance(value, bool) or not isinstance(value, int) or value not in domain:
                raise TraceError(f"{where}: expected {_domain(domain)}, got {value!r}")
        if not m.args_ok(step.op, args):
            raise TraceError(f"steps[{n}].args: the buffer ends beyond the folio ({nr * m.config.page_size:#x} bytes)")


def _check_base(trace: Trace, config: KernelConfig, max_pfn: int) -> None:
    """The vmemmap base is one the kernel can have: in the kernel half, the whole
    vmemmap (max_pfn struct pages) without wrapping, aligned to PAGE_SIZE (the vmemmap
    is mapped with pages) and, for a scheme of the 2026 series, to MAX_FOLIO_VMEMMAP_ALIGN
    = MAX_FOLIO_NR_PAGES * sizeof(struct page) (linux-mm include/linux/mmzone.h, "Align
    vmemmap to maximal folio size"; MAX_FOLIO_NR_PAGES: the largest HugeTLB size of the
    arch and page size).  The same rule as the static checks' assumptions."""
    base = trace.vmemmap_base
    align = config.page_size
    why = "PAGE_SIZE"
    if trace.scheme.vmemmap_align_max_folio:
        largest = max(c.nr_pages for c in CONFIGS if c.arch is config.arch and c.page_size == config.page_size)
        align, why = max(align, largest * config.struct_page_size), "MAX_FOLIO_VMEMMAP_ALIGN"
    if base % align:
        raise TraceError(f"vmemmap_base: {base:#x} is not aligned to {align:#x} bytes ({why} on {config.id})")
    span = max_pfn * config.struct_page_size
    if base < 1 << 63 or base + span > 1 << 64:
        raise TraceError(f"vmemmap_base: {base:#x} is not a kernel-half base whose {span:#x}-byte vmemmap fits")


_TYPES: dict[str, tuple[type, str]] = {
    "str": (str, "a string"),
    "int": (int, "an integer >= 0"),
    "bool": (bool, "true or false"),
}


def _check_fields(obj: object, where: str) -> None:
    """The plain fields of a Scheme or Policies have their annotated types (from_json
    builds the enums and leaves the rest as the JSON had it)."""
    for f in dataclasses.fields(obj):  # type: ignore[arg-type]
        value, annotation = getattr(obj, f.name), str(f.type)
        if annotation == "tuple[int, ...]":
            ok = isinstance(value, tuple) and all(_natural(v) for v in value)
            what = "a list of integers >= 0"
        elif annotation in _TYPES:
            kind, what = _TYPES[annotation]
            ok = _natural(value) if kind is int else isinstance(value, kind)
        else:
            continue
        if not ok:
            raise TraceError(f"{where}.{f.name}: expected {what}, got {value!r}")


def _natural(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _domain(domain: range | tuple[bool, ...]) -> str:
    if isinstance(domain, range) and len(domain):
        step = "" if domain.step == 1 else f" in steps of {domain.step}"
        return f"an integer in [{domain.start}, {domain[-1]}]{step}"
    return "a value in an empty domain"


def _one_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]
