# SPDX-License-Identifier: GPL-2.0-only
"""Operation traces: what BMC and exploration find, what `hvo-verify replay` re-runs.

A trace names everything needed to rebuild the machine (config, full scheme, policies,
folio placement, I/O bounds) and the operations with their arguments;
hvo_verify/invariants/replay.py `replay()` runs it on the concrete model.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hvo_verify.errors import TraceError
from hvo_verify.model import policy as policy_module
from hvo_verify.model import scheme as scheme_module
from hvo_verify.model.config import Arch, parse_config_id
from hvo_verify.model.facts import DEFAULT_FACTS, VersionFacts
from hvo_verify.model.policy import Policies
from hvo_verify.model.scheme import Scheme
from hvo_verify.model.structpage import Folio
from hvo_verify.ops.machine import Machine
from hvo_verify.ops.table import OPS

TRACE_VERSION = 2  # written; from_json() reads every one of READ_VERSIONS
READ_VERSIONS = (1, 2)
# Version 2 writes these as hex strings ("0x..."): a 64-bit address or pfn can exceed
# 2**53, which a reader keeping JSON numbers as doubles (jq, JavaScript) rounds.
ADDRESS_KEYS = ("head_pfn", "vmemmap_base")


def hex_address(value: int) -> str:
    """A pfn or address as JSON version 2 writes it: a lower-case hex string."""
    return f"{value:#x}"


def parse_address(raw: object, key: str, version: int) -> int:
    """The integer of an address field: a hex string in version 2, a number in version 1."""
    if version >= 2:
        if not isinstance(raw, str) or not re.fullmatch(r"0x[0-9a-fA-F]{1,16}", raw):
            raise TraceError(f'{key}: expected a hex string such as "0x200" (trace version {version}), got {raw!r}')
        return int(raw, 16)
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise TraceError(f"{key}: expected an integer")
    return raw


@dataclass(frozen=True, slots=True)
class TraceStep:
    op: str
    args: tuple[tuple[str, int | bool], ...]

    def call(self) -> str:
        inner = ", ".join(f"{k}={_fmt(v)}" for k, v in self.args)
        return f"{self.op}({inner})"


def _fmt(v: int | bool) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return f"{v:#x}" if v >= 16 else str(v)


@dataclass(frozen=True, slots=True)
class Trace:
    config: str
    scheme: Scheme
    policies: Policies
    head_pfn: int
    vmemmap_base: int
    io_max: int
    io_align: int
    steps: tuple[TraceStep, ...]
    invariant: str = ""  # the invariant the trace violates ("" for a plain run)

    def machine(self) -> Machine:
        config = parse_config_id(self.config)[0]
        folio = Folio(config, self.scheme, self.head_pfn, self.vmemmap_base)
        return Machine(folio, self.policies, io_max=self.io_max, io_align=self.io_align)

    def to_json(self) -> dict[str, object]:
        return {
            "version": TRACE_VERSION,
            "config": self.config,
            "scheme": _scheme_doc(self.scheme),
            "policies": _plain(dataclasses.asdict(self.policies)),
            "head_pfn": hex_address(self.head_pfn),
            "vmemmap_base": hex_address(self.vmemmap_base),
            "io_max": self.io_max,
            "io_align": self.io_align,
            "invariant": self.invariant,
            "steps": [{"op": s.op, "args": dict(s.args)} for s in self.steps],
        }


def _scheme_doc(scheme: Scheme) -> dict[str, Any]:
    """The scheme's fields; its kernel facts only where they are not the default ones
    (a field added after version 1: version-1 documents stay what they were)."""
    doc: dict[str, Any] = _plain(dataclasses.asdict(scheme))
    if scheme.facts == DEFAULT_FACTS:
        del doc["facts"]
    if scheme.arches is None:  # likewise: only where the scheme restricts them
        del doc["arches"], doc["arches_source"]
    return doc


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _rebuild(cls: type, doc: Mapping[str, Any], where: str) -> Any:
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in doc:
            continue
        raw = doc[f.name]
        annotation = str(f.type)
        enum_cls = _enum_named(annotation)
        try:
            if enum_cls is not None:
                kwargs[f.name] = enum_cls(raw)
            elif annotation == "VersionFacts":
                if not isinstance(raw, dict):
                    raise TypeError("expected an object")
                kwargs[f.name] = _rebuild(VersionFacts, raw, f"{where}.{f.name}")
            elif annotation == "tuple[Arch, ...] | None":
                kwargs[f.name] = None if raw is None else tuple(Arch(a) for a in raw)
            elif annotation.startswith("tuple"):
                kwargs[f.name] = tuple(raw)
            else:
                kwargs[f.name] = raw
        except (TypeError, ValueError) as exc:
            raise TraceError(f"{where}.{f.name}: {exc}") from None
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise TraceError(f"{where}: {exc}") from None


def _enum_named(annotation: str) -> type[enum.Enum] | None:
    for module in (policy_module, scheme_module):
        obj = getattr(module, annotation, None)
        if isinstance(obj, type) and issubclass(obj, enum.Enum):
            return obj
    return None


def from_json(doc: object) -> Trace:
    if not isinstance(doc, dict):
        raise TraceError("a trace is a JSON object")
    version = doc.get("version")
    if isinstance(version, bool) or version not in READ_VERSIONS:
        raise TraceError(f"version: expected one of {', '.join(map(str, READ_VERSIONS))}, got {version!r}")
    for key in ("config", "scheme", "policies", "head_pfn", "vmemmap_base", "io_max", "io_align", "steps"):
        if key not in doc:
            raise TraceError(f"{key}: missing")
    try:
        parse_config_id(doc["config"])
    except Exception as exc:  # noqa: BLE001 - the parser's own one-line message
        raise TraceError(f"config: {exc}") from None
    for key in ("scheme", "policies"):
        if not isinstance(doc[key], dict):
            raise TraceError(f"{key}: expected an object")
    scheme = _rebuild(Scheme, doc["scheme"], "scheme")
    policies = _rebuild(Policies, doc["policies"], "policies")
    steps = []
    if not isinstance(doc["steps"], list):
        raise TraceError("steps: expected a list")
    for n, raw in enumerate(doc["steps"]):
        if not isinstance(raw, dict) or raw.get("op") not in OPS or not isinstance(raw.get("args", {}), dict):
            raise TraceError(f"steps[{n}]: expected {{op: one of the operations, args: {{...}}}}")
        want = {a.name for a in OPS[raw["op"]].args}
        args = raw.get("args", {})
        if set(args) != want:
            raise TraceError(f"steps[{n}].args: {raw['op']} takes {sorted(want)}, got {sorted(args)}")
        steps.append(TraceStep(raw["op"], tuple((a.name, args[a.name]) for a in OPS[raw["op"]].args)))
    head_pfn, base = (parse_address(doc[key], key, version) for key in ADDRESS_KEYS)
    for key in ("io_max", "io_align"):
        if not isinstance(doc[key], int):
            raise TraceError(f"{key}: expected an integer")
    return Trace(
        doc["config"], scheme, policies, head_pfn, base, doc["io_max"], doc["io_align"],
        tuple(steps), str(doc.get("invariant", "")),
    )  # fmt: skip
