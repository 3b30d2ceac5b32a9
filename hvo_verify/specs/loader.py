# SPDX-License-Identifier: GPL-2.0-only
"""Load spec files (TOML) into frozen `Spec` objects.

Spec files are data only: they are parsed with `tomllib` and validated field by field.
A file names one `scheme`, or several presets with `schemes` (a sweep over eras): it then
loads as one `Spec` per preset (`parse_sweep`, `load_sweep`, `load_specs`).
Every failure, whatever the input bytes, is a `SpecError` whose `str()` is one line
`path: key: message`, where `key` is the dotted path of the offending key
(`scheme.remap_to`, `configs[2]`, `expect.head-resolution`).
"""

from __future__ import annotations

import dataclasses
import enum
import fnmatch
import pathlib
import re
import reprlib
import threading
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NoReturn, TypeVar

from hvo_verify import __version__
from hvo_verify.errors import SpecError
from hvo_verify.invariants.reachable import OP_INVARIANTS
from hvo_verify.invariants.smp import SMP_INVARIANTS
from hvo_verify.invariants.static import INVARIANTS
from hvo_verify.model.config import (
    MAX_STRUCT_PAGE,
    MIN_STRUCT_PAGE,
    Arch,
    KernelConfig,
    check_struct_page_size,
    parse_config_id,
)
from hvo_verify.model.facts import VersionFacts
from hvo_verify.model.names import suggest
from hvo_verify.model.policy import (
    Arch1,
    GupRefs,
    HugetlbClear,
    Hwpoison,
    Mapcount,
    Node,
    RestoreGfp,
    VmemmapFrames,
    default_policies,
)
from hvo_verify.model.scheme import (
    PRESETS,
    Encoding,
    FolioKind,
    HeadCopy,
    MemoryModel,
    Scheme,
    Target,
)
from hvo_verify.model.scheme import describe as describe_scheme
from hvo_verify.model.vmemmap import fit_error
from hvo_verify.ops.smp import build as build_smp
from hvo_verify.ops.smp_table import ACTORS, CpuSpec, Edit, PatchError, protocol
from hvo_verify.ops.table import OPS
from hvo_verify.specs.lemmas import Lemma, parse_lemma
from hvo_verify.specs.schema import Expectations, OpsSpec, SmpSpec, Spec, split_scheme
from hvo_verify.verdict import Verdict

__all__ = ["load_spec", "load_spec_files", "load_specs", "load_sweep", "matching_presets", "parse_spec", "parse_sweep"]

MAX_VMEMMAP_PAGES = 16384  # x86-64/4K/1G@256; per-config limits: vmemmap.fit_error()
MAX_TIMEOUT_S = 3600
DEFAULT_TIMEOUT_S = 10
DEFAULT_OPS_TIMEOUT_S = 120  # per BMC query; the objection specs need a few seconds unloaded
_SHOW_CHARS = 60  # longest repr of a user value in a message
_MAX_MESSAGE = 400  # safety net: messages quoting user text stay readable
_GLOB_CHARS = frozenset("*?[]")

E = TypeVar("E", bound=enum.Enum)
T = TypeVar("T")


class VmemmapAlign(enum.Enum):
    """`vmemmap_align` in a custom scheme: what the scheme needs of the vmemmap base."""

    PAGE = "page"
    MAX_FOLIO = "max-folio"  # MAX_FOLIO_VMEMMAP_ALIGN (2026 mask encoding)


class PageSlab(enum.Enum):
    """`page_slab` in a custom scheme: how mm/slab.h page_slab() decodes compound_info."""

    COMPOUND_HEAD = "compound-head"
    OPEN_CODED = "open-coded"  # `if (info & 1) page = (struct page *)(info - 1)` (bug B19)


# fmt: off
TOP_KEYS = ("format", "title", "source", "description", "answer", "scheme", "schemes", "configs", "struct_page_size",
            "invariants", "timeout", "vmemmap_base_align", "ops", "smp", "expect")
# fmt: on
REQUIRED_KEYS = ("title", "source", "scheme", "configs")  # "scheme": or "schemes"; no "expect": exploration
# The spec format versions this hvo-verify reads (`format = N`, optional, default 1).
SPEC_FORMATS = (1,)


class _Bad(Exception):
    """Internal: a validation failure at `key`; parse_spec adds the path."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(key, message)
        self.key = key
        self.message = message


# ---------------------------------------------------------------- messages


class _ShortRepr(reprlib.Repr):
    """reprlib that never fails on huge ints (Python refuses str() past 4300 digits)."""

    def __init__(self) -> None:
        super().__init__()
        self.maxstring = self.maxother = self.maxlong = _SHOW_CHARS
        self.maxlevel = 3

    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > 64:
            return f"<{x.bit_length()}-bit integer>"
        return super().repr_int(x, level)


_short_repr = _ShortRepr()


def _show(value: object) -> str:
    """A short one-line repr of a user value."""
    text = _short_repr.repr(value)
    return text if len(text) <= _SHOW_CHARS else text[: _SHOW_CHARS - 3] + "..."


def _one_line(text: str, limit: int = _MAX_MESSAGE) -> str:
    """Escape line breaks and other unprintable characters (user key names reach messages)."""
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _sub(parent: str, name: str) -> str:
    """The dotted path of `name` below `parent` (user key names are truncated)."""
    if len(name) > _SHOW_CHARS:
        name = name[: _SHOW_CHARS - 3] + "..."
    return f"{parent}.{name}" if parent else name


def _must(key: str, expected: str, value: object) -> NoReturn:
    raise _Bad(key, f"'{key}' must be {expected} (got {_show(value)})")


def _unknown(key: str, kind: str, word: str, choices: Iterable[str]) -> NoReturn:
    """The `names.unknown` message, with the word shortened."""
    raise _Bad(key, f"unknown {kind} {_show(word)}{suggest(word, choices)}")


# ---------------------------------------------------------------- value checks


def _text(value: object, key: str) -> str:
    if not isinstance(value, str):
        _must(key, "a string", value)
    return value


def _required_text(value: object, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        _must(key, "a non-empty string", value)
    return value


def _bool(value: object, key: str) -> bool:
    if not isinstance(value, bool):
        _must(key, "true or false", value)
    return value


def _int_in(lo: int, hi: int) -> Callable[[object, str], int]:
    def check(value: object, key: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            _must(key, f"an integer {lo}..{hi}", value)  # bool is an int subclass: refused
        return value

    return check


def _choice(enum_cls: type[E], kind: str) -> Callable[[object, str], E]:
    """A check accepting the `.value` of one member of `enum_cls`."""
    values = [member.value for member in enum_cls]

    def check(value: object, key: str) -> E:
        if not isinstance(value, str):
            _must(key, "one of " + ", ".join(map(repr, values)), value)
        if value not in values:
            _unknown(key, kind, value, values)
        return enum_cls(value)

    return check


def _list(value: object, key: str, what: str) -> list[object]:
    if not isinstance(value, list) or not value:
        _must(key, f"a non-empty list of {what}", value)
    return value


def _table(value: object, key: str) -> dict[str, object]:
    if not isinstance(value, dict):
        _must(key, "a table", value)
    return value


def _check_keys(table: Mapping[str, object], parent: str, allowed: Sequence[str]) -> None:
    for name in table:
        if name not in allowed:
            raise _Bad(_sub(parent, name), f"unknown key {_show(name)}{suggest(name, allowed)}")


def _vmemmap_page(page: int, key: str) -> int:
    if page >= MAX_VMEMMAP_PAGES:
        raise _Bad(
            key,
            f"vmemmap page {page} does not exist: the largest folio has {MAX_VMEMMAP_PAGES} vmemmap pages",
        )
    return page


# ---------------------------------------------------------------- scheme


def _private(value: object, key: str) -> tuple[int, ...]:
    if not isinstance(value, list):
        _must(key, "a list of vmemmap page numbers", value)
    pages: set[int] = set()
    for i, item in enumerate(value):
        item_key = f"{key}[{i}]"
        page = _int_in(0, 999_999)(item, item_key)
        if page in pages:
            raise _Bad(item_key, f"vmemmap page {page} is listed twice")
        pages.add(_vmemmap_page(page, item_key))
    return tuple(sorted(pages))


_REMAP_FORMS = "'page:N' (N >= 0), 'shared-tail' or 'unmapped'"


def _remap_to(value: object, key: str) -> dict[str, object]:
    if value == Target.SHARED_TAIL.value:
        return {"target": Target.SHARED_TAIL, "target_page": 0}
    if value == Target.UNMAPPED.value:
        return {"target": Target.UNMAPPED, "target_page": 0}
    match = re.fullmatch(r"page:([0-9]{1,9})", value) if isinstance(value, str) else None
    if match is None:
        _must(key, _REMAP_FORMS, value)
    return {"target": Target.PAGE, "target_page": _vmemmap_page(int(match.group(1)), key)}


def _arches(value: object, key: str) -> tuple[Arch, ...] | None:
    """`"any"` (a proposal or hypothetical: every modelled architecture) or a list of them."""
    if value == "any":
        return None
    if not isinstance(value, list) or not value:
        _must(key, '"any" or a non-empty list of architectures', value)
    names = {a.value: a for a in Arch}
    out: list[Arch] = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or item not in names:
            _unknown(f"{key}[{i}]", "architecture", str(item), names)
        out.append(names[item])
    return tuple(out)


def _field(attr: str, check: Callable[[object, str], object]) -> Callable[[object, str], dict[str, object]]:
    return lambda value, key: {attr: check(value, key)}


# TOML key -> check returning the Scheme fields it sets.
SCHEME_KEYS: dict[str, Callable[[object, str], dict[str, object]]] = {
    "name": _field("name", _required_text),
    "summary": _field("summary", _text),
    "private": _field("private", _private),
    "remap_to": _remap_to,
    "writable": _field("writable_aliases", _bool),
    "compound_head": _field("encoding", _choice(Encoding, "compound_head encoding")),
    "unique_struct_pages": _field("unique_struct_pages", _int_in(1, 4096)),
    "head_copy": _field("head_copy", _choice(HeadCopy, "head_copy mode")),
    "power_of_2_guard": _field("power_of_2_guard", _bool),
    "folio": _field("folio_kind", _choice(FolioKind, "folio kind")),
    "memory_model": _field("memory_model", _choice(MemoryModel, "memory model")),
    "arches": lambda value, key: {"arches": _arches(value, key), "arches_source": "the spec's scheme.arches"},
    "vmemmap_align": lambda value, key: {
        "vmemmap_align_max_folio": _choice(VmemmapAlign, "vmemmap alignment")(value, key) is VmemmapAlign.MAX_FOLIO
    },
}


def _facts(fields: Mapping[str, object], scheme: Scheme) -> VersionFacts:
    """The version facts as the keys read so far left them."""
    facts = fields.get("facts", scheme.facts)
    assert isinstance(facts, VersionFacts)
    return facts


def _scheme(value: object, source: str) -> Scheme:
    if isinstance(value, str):
        if value not in PRESETS:
            _unknown("scheme", "scheme preset", value, PRESETS)
        return PRESETS[value]
    if not isinstance(value, dict):
        _must("scheme", "a preset name or a table", value)
    _check_keys(value, "scheme", ["base", *SCHEME_KEYS, "nr_reset_struct_page", "page_slab"])
    base_name = value.get("base")
    if base_name is None:
        scheme = Scheme(name="custom", version="custom", source=source, private=(0,), target=Target.PAGE)
    elif not isinstance(base_name, str):
        _must("scheme.base", "a preset name", base_name)
    elif base_name not in PRESETS:
        _unknown("scheme.base", "scheme preset", base_name, PRESETS)
    else:
        scheme = PRESETS[base_name]
    fields: dict[str, object] = {}
    for name, item in value.items():
        if name == "nr_reset_struct_page":  # a version fact: mm/hugetlb_vmemmap.c NR_RESET_STRUCT_PAGE
            reset = _int_in(0, 8)(item, f"scheme.{name}")
            fields["facts"] = dataclasses.replace(_facts(fields, scheme), nr_reset_struct_page=reset)
        elif name == "page_slab":  # a version fact: how mm/slab.h page_slab() decodes compound_info
            form = _choice(PageSlab, "page_slab decoder")(item, f"scheme.{name}")
            open_coded = form is PageSlab.OPEN_CODED
            fields["facts"] = dataclasses.replace(_facts(fields, scheme), page_slab_open_coded=open_coded)
        elif name != "base":
            fields.update(SCHEME_KEYS[name](item, f"scheme.{name}"))
    if base_name is not None and fields:
        fields.setdefault("name", f"{base_name}-custom")
        fields["version"] = f"custom (from {base_name})"
    if fields:
        scheme = dataclasses.replace(scheme, **fields)  # type: ignore[arg-type]
        if "summary" not in fields:
            scheme = dataclasses.replace(scheme, summary=describe_scheme(scheme))
    if scheme.head_copy is not HeadCopy.NONE and 0 not in scheme.private:
        key = "scheme.head_copy" if "head_copy" in value or "private" not in value else "scheme.private"
        raise _Bad(key, "head_copy copies vmemmap page 0, which must be listed in private")
    return scheme


def matching_presets(pattern: str) -> list[str]:
    """The names of PRESETS that the glob `pattern` matches (fnmatch), in PRESETS order;
    "all" matches every one."""
    return [name for name in PRESETS if pattern == "all" or fnmatch.fnmatchcase(name, pattern)]


def _accepting(schemes: tuple[Scheme, ...], ops: object) -> tuple[Scheme, ...]:
    """`schemes = "all"` in a file with an `[ops]` table that runs a hugetlb-only
    operation: every preset whose folios are hugetlb folios (the `devdax` preset left
    out), rather than an error under devdax.  A run the table does not spell as a list
    of names is left to `_ops()` to judge."""
    run = ops.get("run", "all") if isinstance(ops, dict) else "all"
    if not isinstance(run, list) or not any(isinstance(n, str) and n in OPS and OPS[n].hugetlb_only for n in run):
        return schemes
    return tuple(scheme for scheme in schemes if scheme.folio_kind is FolioKind.HUGETLB)


def _schemes(value: object) -> tuple[Scheme, ...]:
    """`schemes`: preset names and globs over them (fnmatch: `v6.*`), in the order given,
    each preset once; or "all": every preset of PRESETS (the glob "*"), `none` and
    `devdax` included (`_accepting()` then drops the presets whose folios the spec's
    operations do not work on).  Custom schemes are a `scheme` table, one per spec."""
    if value == "all" or value == ["all"]:
        return tuple(PRESETS.values())
    if isinstance(value, str):
        raise _Bad("schemes", f"'schemes' must be a list of presets (got {_show(value)}): "
                              f"schemes = [{_show(value)}], or scheme = {_show(value)} for one")  # fmt: skip
    found: dict[str, Scheme] = {}
    for i, item in enumerate(_list(value, "schemes", "preset names or globs")):
        key = f"schemes[{i}]"
        if isinstance(item, dict):
            raise _Bad(key, "a custom scheme is a table under 'scheme', one per spec: 'schemes' lists presets")
        name = _text(item, key)
        if name == "all":
            raise _Bad(key, "'all' must stand alone (schemes = [\"all\"])")
        if _GLOB_CHARS.intersection(name):
            matched = matching_presets(name)
            if not matched:
                raise _Bad(key, f"{_show(name)} matches no scheme preset (presets: {', '.join(PRESETS)})")
        elif name in PRESETS:
            matched = [name]
        else:
            _unknown(key, "scheme preset", name, [*PRESETS, "all"])
        for preset in matched:
            found.setdefault(preset, PRESETS[preset])
    return tuple(found.values())


# ---------------------------------------------------------------- configs, invariants


def _parse_config(text: str, key: str) -> tuple[KernelConfig, ...]:
    try:
        return parse_config_id(text)
    except ValueError as exc:  # UnknownName, or int() refusing a 5000-digit size
        raise _Bad(key, str(exc)) from None


def _struct_page_size(value: object) -> int:
    key = "struct_page_size"
    if isinstance(value, bool) or not isinstance(value, int) or value.bit_length() > 16:
        _must(key, f"a multiple of 8 between {MIN_STRUCT_PAGE} and {MAX_STRUCT_PAGE}", value)
    try:
        check_struct_page_size(value)
    except ValueError as exc:
        raise _Bad(key, str(exc)) from None
    return value


def _configs(value: object, struct_page_size: int | None) -> tuple[KernelConfig, ...]:
    found: dict[str, KernelConfig] = {}
    for i, item in enumerate(_list(value, "configs", "config ids")):
        key = f"configs[{i}]"
        text = _text(item, key)
        for config in _parse_config(text, key):
            if struct_page_size is not None and "@" not in text:
                config = config.with_struct_page_size(struct_page_size)
            found.setdefault(config.id, config)
    return tuple(found.values())


def _invariants(value: object, registry: Mapping[str, object] = INVARIANTS) -> tuple[str, ...]:
    if value == "all" or value == ["all"]:
        return tuple(registry)
    found: dict[str, None] = {}
    for i, item in enumerate(_list(value, "invariants", "invariant ids")):
        key = f"invariants[{i}]"
        name = _text(item, key)
        if name == "all":
            raise _Bad(key, "'all' must stand alone (invariants = [\"all\"])")
        if name not in registry:
            other = " (a static invariant: remove the [ops] table to check it)" if name in INVARIANTS else ""
            other = other or (" (an operation invariant: add an [ops] table)" if name in OP_INVARIANTS else "")
            if other:
                raise _Bad(key, f"invariant {_show(name)} cannot be checked here{other}")
            _unknown(key, "invariant", name, [*registry, "all"])
        found[name] = None
    return tuple(found)


# ---------------------------------------------------------------- operations

DEFAULT_DEPTH = 6
MAX_DEPTH = 12


def _alphabet(value: object, key: str, scheme: Scheme) -> tuple[str, ...]:
    names = [name for name, op in OPS.items() if not op.hugetlb_only or scheme.folio_kind is FolioKind.HUGETLB]
    if value == "all" or value == ["all"]:  # the kernel's operations: an adversary only when named
        return tuple(name for name in names if not OPS[name].adversary)
    found: dict[str, None] = {}
    for i, item in enumerate(_list(value, key, "kernel operations")):
        item_key = f"{key}[{i}]"
        name = _text(item, item_key)
        if name not in OPS:
            _unknown(item_key, "operation", name, [*OPS, "all"])
        if name not in names:
            raise _Bad(item_key, f"{name} works on hugetlb folios; this scheme's folios are {scheme.folio_kind.value}")
        found[name] = None
    return tuple(found)


_POLICY_KEYS: dict[str, Callable[[object, str], object]] = {
    "hwpoison": _choice(Hwpoison, "hwpoison policy"),
    "pg_arch_1": _choice(Arch1, "pg_arch_1 policy"),
    "mapcount": _choice(Mapcount, "mapcount policy"),
    "gup_refs": _choice(GupRefs, "gup_refs policy"),
    "hugetlb_clear": _choice(HugetlbClear, "hugetlb_clear ordering"),
    "restore_reset": _bool,
    "kmalloc_may_fail": _bool,
    "split_pmd_block": _bool,
    "self_hosted_check": _bool,
    "restore_gfp": _choice(RestoreGfp, "restore gfp mask"),
    "vmemmap_frames": _choice(VmemmapFrames, "vmemmap frame source"),
    "node": _choice(Node, "node kind"),
}
OPS_KEYS = ("run", "depth", "io_max", "io_align", "max_calls", "unbounded", "lemmas", *_POLICY_KEYS)


def _lemmas(value: object) -> tuple[Lemma, ...]:
    """`[ops] lemmas`: each parsed by specs/lemmas.py (one-line error with its index)."""
    out = []
    for i, item in enumerate(_list(value, "ops.lemmas", "lemmas")):
        try:
            out.append(parse_lemma(_text(item, f"ops.lemmas[{i}]"), "", f"ops.lemmas[{i}]"))
        except SpecError as bad:
            raise _Bad(bad.key, bad.message) from None
    return tuple(out)


def _max_calls(value: object, alphabet: tuple[str, ...]) -> tuple[tuple[str, int], ...]:
    limits = []
    for name, item in _table(value, "ops.max_calls").items():
        key = _sub("ops.max_calls", name)
        if name not in alphabet:
            _unknown(key, "operation of ops.run", name, alphabet)
        limits.append((name, _int_in(0, MAX_DEPTH)(item, key)))
    return tuple(limits)


def _ops(value: object, scheme: Scheme, base: str | None) -> OpsSpec:
    table = _table(value, "ops")
    _check_keys(table, "ops", OPS_KEYS)
    alphabet = _alphabet(table.get("run", "all"), "ops.run", scheme)
    depth = _int_in(1, MAX_DEPTH)(table.get("depth", DEFAULT_DEPTH), "ops.depth")
    io_align = _int_in(8, 1 << 16)(table.get("io_align", 512), "ops.io_align")
    if io_align & (io_align - 1):
        _must("ops.io_align", "a power of two", io_align)
    io_max = _int_in(io_align, 1 << 20)(table.get("io_max", 0), "ops.io_max") if "io_max" in table else 0
    if io_max % io_align:
        raise _Bad("ops.io_max", f"io_max {io_max:#x} is not a multiple of io_align {io_align}")
    overrides = {name: check(table[name], f"ops.{name}") for name, check in _POLICY_KEYS.items() if name in table}
    policies = dataclasses.replace(default_policies(scheme, base), **overrides)  # type: ignore[arg-type]
    limits = _max_calls(table["max_calls"], alphabet) if "max_calls" in table else ()
    unbounded = _bool(table.get("unbounded", False), "ops.unbounded")
    lemmas = _lemmas(table["lemmas"]) if "lemmas" in table else ()
    return OpsSpec(alphabet, depth, policies, io_max, io_align, limits, unbounded, lemmas)


SMP_KEYS = ("cpu", "folios", "vmemmap_pages", "max_grace_periods", "optimized")
SMP_CPU_KEYS = ("run", "folio", "page", "drop", "add", "move", "steps")


def _edits(table: Mapping[str, object], key: str) -> tuple[Edit, ...]:
    """`drop = [STEP, ...]`, `add`/`move = [[STEP, "before"|"after", ANCHOR], ...]`."""
    edits: list[Edit] = []
    for kind in ("drop", "add", "move"):
        if kind not in table:
            continue
        for n, item in enumerate(_list(table[kind], f"{key}.{kind}", "a list")):
            where = f"{key}.{kind}[{n}]"
            if kind == "drop":
                edits.append(Edit("drop", _required_text(item, where)))
                continue
            if not (isinstance(item, list) and len(item) == 3 and item[1] in ("before", "after")):
                _must(where, '[STEP, "before" or "after", ANCHOR_STEP]', item)
            edits.append(Edit(kind, _required_text(item[0], where), item[1], _required_text(item[2], where)))
    return tuple(edits)


def _smp(value: object, schemes: Sequence[Scheme], configs: Sequence[KernelConfig]) -> SmpSpec:
    table = _table(value, "smp")
    _check_keys(table, "smp", SMP_KEYS)
    folios = _int_in(1, 3)(table.get("folios", 1), "smp.folios")
    nr_vpages = _int_in(2, 8)(table.get("vmemmap_pages", 2), "smp.vmemmap_pages")
    grace = _int_in(0, 8)(table.get("max_grace_periods", 1), "smp.max_grace_periods")
    cpu_tables = _table(table.get("cpu", {}), "smp.cpu")
    if not 1 <= len(cpu_tables) <= 3:
        raise _Bad("smp.cpu", f"an interleaving spec runs 1 to 3 CPUs, not {len(cpu_tables)} (add [smp.cpu.CPU0] ...)")
    cpus: list[CpuSpec] = []
    for name, raw in cpu_tables.items():
        key = f"smp.cpu.{name}"
        cpu = _table(raw, key)
        _check_keys(cpu, key, SMP_CPU_KEYS)
        actor = _required_text(cpu.get("run"), f"{key}.run")
        if actor not in ACTORS:
            _unknown(f"{key}.run", "actor", actor, ACTORS)
        folio = _int_in(0, folios - 1)(cpu.get("folio", 0), f"{key}.folio")
        page = _int_in(0, nr_vpages - 1)(cpu.get("page", 0), f"{key}.page")
        steps = None
        if "steps" in cpu:
            steps = tuple(_required_text(x, f"{key}.steps") for x in _list(cpu["steps"], f"{key}.steps", "a list"))
        cpus.append(CpuSpec(name, actor, folio, page, _edits(cpu, key), steps))
    optimized: tuple[int, ...] = ()
    if "optimized" in table:
        items = _list(table["optimized"], "smp.optimized", "folio numbers")
        optimized = tuple(_int_in(0, folios - 1)(k, "smp.optimized") for k in items)
    spec = SmpSpec(tuple(cpus), folios, nr_vpages, grace, optimized)
    for scheme in schemes:
        era = protocol(scheme.name)
        if era is None:
            continue
        for one in spec.cpus:
            try:
                build_smp((one,), era, folios=folios, nr_vpages=nr_vpages, optimized=optimized)
            except (PatchError, ValueError) as exc:
                raise _Bad(f"smp.cpu.{one.name}", f"{exc} (under scheme {scheme.name})") from None
    del configs
    return spec


def _timeout_ms(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= MAX_TIMEOUT_S:
        _must("timeout", f"a number of seconds t with 0 < t <= {MAX_TIMEOUT_S}", value)
    return max(1, int(value * 1000))


def _base_align(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 8 <= value <= 2**40 or value & (value - 1):
        _must("vmemmap_base_align", "a power of two between 8 and 2**40", value)
    return value


# ---------------------------------------------------------------- expectations

_verdict = _choice(Verdict, "verdict")


def _expect_config(pattern: str, key: str) -> None:
    """A non-glob CONFIG part of an expect key must be a config id as `KernelConfig.id` spells it."""
    if _GLOB_CHARS.intersection(pattern):
        return
    configs = _parse_config(pattern, key)
    if len(configs) != 1:
        at, size = pattern.partition("@")[1:]
        glob = "*" + at + size
        raise _Bad(key, f"config {_show(pattern)} cannot be used in an expect key: use the glob {glob!r}")
    if configs[0].id != pattern:
        raise _Bad(key, f"config {_show(pattern)} is written {configs[0].id!r}")


def _expect_scheme(pattern: str, rest: str, key: str, schemes: Sequence[str]) -> None:
    """The SCHEME part of a `SCHEME:KEY` expect key must match a scheme of the spec."""
    if not any(fnmatch.fnmatchcase(name, pattern) for name in schemes):
        if _GLOB_CHARS.intersection(pattern) or not pattern:
            raise _Bad(key, f"scheme {_show(pattern)} matches none of this spec's schemes ({', '.join(schemes)})")
        _unknown(key, "scheme of this spec", pattern, schemes)
    if rest == "default":
        raise _Bad(key, f"write {_show(pattern + ':*')}: every invariant of one scheme is 'SCHEME:*'")


def _expectations(
    value: object, registry: Mapping[str, object] = INVARIANTS, schemes: Sequence[str] = ()
) -> Expectations:
    entries: list[tuple[str, Verdict]] = []
    for name, item in _table(value, "expect").items():
        key = _sub("expect", name)
        scheme, rest = split_scheme(name)
        if scheme is not None:
            _expect_scheme(scheme, rest, key, schemes)
        invariant, at, pattern = rest.partition("@")
        if at:
            if invariant != "*" and invariant not in registry:
                _unknown(key, "invariant", invariant, [*registry, "*"])
            _expect_config(pattern, key)
        elif scheme is not None and rest == "*":
            pass
        elif rest != "default" and rest not in registry:
            _unknown(key, "expect key", rest, [*registry, "default"] if scheme is None else [*registry, "*"])
        entries.append((name, _verdict(item, key)))
    return Expectations(tuple(entries))


# ---------------------------------------------------------------- spec


def _scheme_keys(doc: Mapping[str, object]) -> None:
    """Exactly one of `scheme` and `schemes`."""
    if "scheme" in doc and "schemes" in doc:
        raise _Bad("schemes", "give 'scheme' (one scheme) or 'schemes' (a list of presets), not both")
    if "scheme" not in doc and "schemes" not in doc:
        raise _Bad("scheme", "missing required key 'scheme' (or 'schemes', a list of presets)")


def _spec_format(value: object) -> None:
    """`format`: a version this hvo-verify reads (checked first: a newer format may
    have keys this one does not know)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Bad("format", f"expected an integer spec format version such as 1, got {_show(value)}")
    if value not in SPEC_FORMATS:
        known = ", ".join(map(str, SPEC_FORMATS))
        raise _Bad("format", f"unknown spec format {value} (this hvo-verify {__version__} reads {known}: upgrade it)")


class _Collected(Exception):
    """Internal: every validation failure of one file, in file order (parse_sweep
    turns it into one SpecError that carries them all)."""

    def __init__(self, bads: Sequence[_Bad]) -> None:
        super().__init__(bads)
        self.bads = tuple(bads)


class _Errors:
    """The errors of one file so far: each independent part of a spec is validated
    even when an earlier one failed, so that a reviewer sees every error at once.  A
    part that needs a failed one is skipped (its value stays None)."""

    def __init__(self) -> None:
        self.bads: list[_Bad] = []

    def take(self, check: Callable[..., T], *args: Any) -> T | None:
        try:
            return check(*args)
        except _Bad as bad:
            self.bads.append(bad)
            return None

    def done(self) -> None:
        if self.bads:
            raise _Collected(self.bads)


def _top_keys(doc: Mapping[str, object]) -> None:
    """Unknown and missing top-level keys."""
    errors = _Errors()
    for name in doc:
        errors.take(_check_keys, {name: None}, "", TOP_KEYS)
    for name in REQUIRED_KEYS:
        if name == "scheme":
            errors.take(_scheme_keys, doc)
        elif name not in doc:
            errors.bads.append(_Bad(name, f"missing required key {name!r}"))
    errors.done()


def _scheme_ops(doc: Mapping[str, Any], scheme: Scheme, configs: Sequence[KernelConfig], sweep: bool) -> OpsSpec | None:
    """One scheme's fit on every config, and its `[ops]` (None without one)."""
    base = doc["scheme"].get("base") if isinstance(doc.get("scheme"), dict) else None  # validated by _scheme()
    try:
        for config in configs:
            misfit = fit_error(config, scheme)
            if misfit is not None:
                raise _Bad(f"scheme.{misfit[0]}", misfit[1])
        return _ops(doc["ops"], scheme, base) if "ops" in doc else None
    except _Bad as bad:
        raise (_Bad(bad.key, f"{bad.message} (under scheme {scheme.name})") if sweep else bad) from None


def _specs(doc: dict[str, Any], path: str) -> tuple[Spec, ...]:
    """The units of one file: one Spec per scheme (one for `scheme`).  Every error of
    the file is collected (`_Errors`); `[expect]` may be left out (exploration mode:
    the verdicts are reported as they are, `Expectations(())`).  The spec format is
    checked first, alone: a newer format may have keys this one does not know."""
    _spec_format(doc.get("format", SPEC_FORMATS[0]))
    errors = _Errors()
    try:
        _top_keys(doc)
    except _Collected as found:
        errors.bads += found.bads
    title = errors.take(_required_text, doc.get("title"), "title") if "title" in doc else None
    source = errors.take(_required_text, doc.get("source"), "source") if "source" in doc else None
    description = errors.take(_text, doc.get("description", ""), "description")
    answer = errors.take(_text, doc.get("answer", ""), "answer")
    sweep = "schemes" in doc
    schemes: tuple[Scheme, ...] | None = None
    if sweep and "scheme" not in doc:
        schemes = errors.take(_schemes, doc["schemes"])
        if schemes is not None and doc["schemes"] in ("all", ["all"]) and "ops" in doc:
            schemes = _accepting(schemes, doc["ops"])
    elif "scheme" in doc and not sweep:
        one = errors.take(_scheme, doc["scheme"], source or "")
        schemes = None if one is None else (one,)
    size = errors.take(_struct_page_size, doc["struct_page_size"]) if "struct_page_size" in doc else None
    configs = errors.take(_configs, doc["configs"], size) if "configs" in doc else None
    ops_by_scheme: list[OpsSpec | None] = []
    if schemes is not None and configs is not None:
        before = len(errors.bads)
        ops_by_scheme = [errors.take(_scheme_ops, doc, scheme, configs, sweep) for scheme in schemes]
        if len(errors.bads) > before:
            schemes = None
    smp: SmpSpec | None = None
    if "ops" in doc and "smp" in doc:
        errors.bads.append(
            _Bad("smp", "a spec has [ops] (one CPU, operations) or [smp] (several CPUs, atomic steps), not both")
        )
    elif "smp" in doc and schemes is not None and configs is not None:
        smp = errors.take(_smp, doc["smp"], schemes, configs)
    registry: Mapping[str, object] = SMP_INVARIANTS if "smp" in doc else OP_INVARIANTS if "ops" in doc else INVARIANTS
    invariants = errors.take(_invariants, doc.get("invariants", "all"), registry)
    static = "ops" not in doc and "smp" not in doc
    timeout_ms = errors.take(_timeout_ms, doc.get("timeout", DEFAULT_TIMEOUT_S if static else DEFAULT_OPS_TIMEOUT_S))
    align = errors.take(_base_align, doc["vmemmap_base_align"]) if "vmemmap_base_align" in doc else None
    expect: Expectations | None = Expectations(())  # exploration mode: no [expect]
    if "expect" in doc:
        names = tuple(scheme.name for scheme in schemes) if schemes is not None else None
        expect = errors.take(_expectations, doc["expect"], registry, names) if names is not None else None
    errors.done()
    assert title is not None and source is not None and description is not None and answer is not None
    assert schemes is not None and configs is not None and invariants is not None and timeout_ms is not None
    assert expect is not None
    names = tuple(scheme.name for scheme in schemes)
    units = tuple(
        Spec(
            path=path,
            title=title,
            source=source,
            description=description,
            scheme=scheme,
            configs=configs,
            invariants=invariants,
            expect=expect,
            timeout_ms=timeout_ms,
            vmemmap_base_align=align,
            answer=answer,
            ops=ops,
            sweep=names if sweep else (),
            smp=smp,
        )
        for scheme, ops in zip(schemes, ops_by_scheme, strict=True)
    )
    if "expect" in doc:
        _complete(units, invariants, configs, sweep)
    return units


def _complete(units: Sequence[Spec], invariants: Sequence[str], configs: Sequence[KernelConfig], sweep: bool) -> None:
    """A spec with `[expect]` expects a verdict of every (scheme, invariant, config)."""
    for spec in units:
        under = f" under {spec.scheme.name}" if sweep else ""
        for invariant in invariants:
            for config in configs:
                if spec.expect.expected(invariant, config.id, spec.scheme.name) is None:
                    raise _Bad(
                        "expect",
                        f"no expected verdict for {invariant} on {config.id}{under} (add 'default' or "
                        f"'{invariant}', or leave [expect] out to explore)",
                    )


def _decode(text_or_bytes: str | bytes) -> dict[str, Any]:
    if isinstance(text_or_bytes, bytes | bytearray):
        try:
            text = bytes(text_or_bytes).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise _Bad("file", f"not UTF-8 text: byte {exc.object[exc.start]:#04x} at offset {exc.start}") from None
    else:
        text = text_or_bytes
    return _toml(text)


def _toml(text: str) -> dict[str, Any]:
    """tomllib.loads() in a fresh thread: how deep a nesting it accepts before
    RecursionError must not depend on how deep the caller's stack is (the same file
    gave `title: ...` from one caller and `toml: values nested too deeply` from another)."""
    answer: list[dict[str, Any] | BaseException] = []

    def parse() -> None:
        try:
            answer.append(tomllib.loads(text))
        except ValueError as exc:  # TOMLDecodeError, or int() refusing a 5000-digit literal
            answer.append(_Bad("toml", str(exc)))
        except RecursionError:
            answer.append(_Bad("toml", "values nested too deeply"))
        except BaseException as exc:  # noqa: BLE001 - raised in the caller's thread below
            answer.append(exc)

    worker = threading.Thread(target=parse, name="hvo-verify-toml", daemon=True)
    worker.start()
    worker.join()
    if isinstance(answer[0], BaseException):
        raise answer[0]
    return answer[0]


def _path(path: str) -> str:
    """A file name as errors show it: one printable line, however it is spelled."""
    return _one_line(path, limit=1 << 20)


def parse_sweep(text_or_bytes: str | bytes, path: str) -> tuple[Spec, ...]:
    """Parse the text (or raw bytes) of one spec file into its units: one Spec per
    scheme of `schemes`, in order, or the one of `scheme`; `path` is only used in errors."""
    try:
        return _specs(_decode(text_or_bytes), path)
    except _Bad as bad:
        raise SpecError(_path(path), _one_line(bad.key), _one_line(bad.message)) from None
    except _Collected as found:
        first, *rest = found.bads
        more = tuple((_one_line(b.key), _one_line(b.message)) for b in rest)
        raise SpecError(_path(path), _one_line(first.key), _one_line(first.message), more) from None


def parse_spec(text_or_bytes: str | bytes, path: str) -> Spec:
    """Parse a spec file of one scheme (a sweep of one preset is one too); a sweep over
    several presets is a SpecError that names them (see parse_sweep)."""
    return _one(parse_sweep(text_or_bytes, path), path)


def _one(units: tuple[Spec, ...], path: str) -> Spec:
    if len(units) != 1:
        names = ", ".join(u.scheme.name for u in units)
        raise SpecError(_path(path), "schemes", f"this spec sweeps {len(units)} schemes ({names}): choose one")
    return units[0]


def load_sweep(path: str | pathlib.Path) -> tuple[Spec, ...]:
    """Read and parse one spec file into its units (see parse_sweep)."""
    name = str(path)
    try:
        data = pathlib.Path(path).read_bytes()
    except (OSError, ValueError) as exc:  # ValueError: embedded NUL in the path
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SpecError(_path(name), "file", _one_line(f"cannot read: {reason}")) from None
    return parse_sweep(data, name)


def load_spec(path: str | pathlib.Path) -> Spec:
    """Read and parse a spec file of one scheme (see parse_spec)."""
    return _one(load_sweep(path), str(path))


def load_specs(paths: Sequence[str]) -> list[Spec]:
    """Load files, and every *.toml below each folder (recursively, sorted), each file's
    units in order (one per scheme of a sweep); raises the first file's SpecError."""
    specs, errors = load_spec_files(paths)
    if errors:
        raise errors[0]
    return specs


def load_spec_files(paths: Sequence[str]) -> tuple[list[Spec], list[SpecError]]:
    """As load_specs(), but reads every file: the specs that load, and one SpecError
    per file (or folder) that does not, in argument order."""
    specs: list[Spec] = []
    errors: list[SpecError] = []

    def one(path: str | pathlib.Path) -> None:
        try:
            specs.extend(load_sweep(path))
        except SpecError as exc:
            errors.append(exc)

    for arg in paths:
        folder = pathlib.Path(arg)
        if not folder.is_dir():
            one(arg)
            continue
        try:
            files = sorted(p for p in folder.rglob("*.toml") if p.is_file())
        except OSError as exc:
            errors.append(SpecError(_path(arg), "file", _one_line(f"cannot read: {exc.strerror or exc}")))
            continue
        if not files:
            errors.append(SpecError(_path(arg), "path", "no *.toml spec files here"))
        for file in files:
            one(file)
    return specs, errors
