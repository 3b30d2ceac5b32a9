# SPDX-License-Identifier: GPL-2.0-only
"""Fuzz the spec loader: whatever the input, `parse_spec` returns a Spec or raises a
SpecError whose str() is one line starting with the path.  Nothing else escapes."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from hvo_verify.errors import SpecError
from hvo_verify.invariants.static import INVARIANTS
from hvo_verify.model.config import CONFIG_IDS
from hvo_verify.model.scheme import PRESETS, Encoding, FolioKind, HeadCopy, MemoryModel
from hvo_verify.selfcheck.fuzz import toml_string, toml_value
from hvo_verify.specs.loader import TOP_KEYS, parse_spec
from hvo_verify.specs.schema import Spec
from hvo_verify.verdict import Verdict

PATH = "fuzz/spec.toml"
FUZZ = settings(derandomize=True, deadline=None, database=None)

VALID_LINES = [
    'title = "t"',
    'source = "abc123"',
    'description = "d"',
    'configs = ["x86-64/4K/2M", "arm64/64K/16G@56", "all"]',
    "struct_page_size = 72",
    'invariants = ["head-resolution", "accounting"]',
    "timeout = 5",
    "vmemmap_base_align = 4096",
    "[scheme]",
    'base = "v6.2"',
    "private = [0, 1]",
    'remap_to = "page:1"',
    "writable = false",
    'compound_head = "mask"',
    "unique_struct_pages = 3",
    'head_copy = "required"',
    "power_of_2_guard = true",
    'folio = "hugetlb"',
    'memory_model = "dedup-pointers"',
    "[expect]",
    'default = "proved"',
    'accounting = "violated"',
    '"*@arm64/*" = "unknown"',
    '"head-resolution@x86-64/4K/2M@72" = "not-applicable"',
]
VALID = "\n".join(VALID_LINES) + "\n"


def check(data: str | bytes) -> Spec | None:
    """The property itself."""
    try:
        return parse_spec(data, PATH)
    except SpecError as exc:
        line = str(exc)
        assert exc.path == PATH and line.startswith(PATH + ": "), line
        assert len(line.splitlines()) == 1 and line.isprintable(), line
        assert line == f"{exc.path}: {exc.key}: {exc.message}"
        return None


def test_the_seed_spec_is_valid() -> None:
    spec = check(VALID)
    assert spec is not None and spec.scheme.version == "custom (from v6.2)"
    assert spec.configs[0].id == "x86-64/4K/2M@72" and len(spec.configs) == 13


# ---------------------------------------------------------------- random TOML values

HUGE_INTS = st.sampled_from([10**40, -(10**40), 2**64, 2**63, -1, 0, 10**100])
INTS = st.one_of(st.integers(min_value=-(2**70), max_value=2**70), HUGE_INTS)
TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=30)
WORDS = st.sampled_from(
    [*TOP_KEYS, *INVARIANTS, *CONFIG_IDS, *PRESETS, "all", "default", "page:1", "shared-tail", "*@arm64/*"]
    + [v.value for enum_cls in (Verdict, Encoding, HeadCopy, FolioKind, MemoryModel) for v in enum_cls]
)
SCALARS = st.one_of(INTS, st.floats(), st.booleans(), TEXT, WORDS)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.one_of(TEXT, WORDS), inner, max_size=3)),
    max_leaves=8,
)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# ---------------------------------------------------------------- mutations of the valid spec


@st.composite
def mutated_specs(draw: st.DrawFn) -> bytes:
    lines = list(VALID_LINES)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["drop", "dup", "retype", "unknown", "huge", "deep", "swap", "junk"]))
        name = lines[i].partition(" = ")[0] if " = " in lines[i] else "x"
        if op == "drop" and len(lines) > 1:
            del lines[i]
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "retype":
            lines[i] = f"{name} = {toml_value(draw(VALUES))}"
        elif op == "unknown":
            lines.insert(i, f"{toml_string(draw(st.one_of(TEXT, WORDS)))} = {toml_value(draw(VALUES))}")
        elif op == "huge":
            big = draw(st.sampled_from([str(10**40), "-" + str(10**40), "0x" + "f" * 300, "9" * 5000, "1e400"]))
            lines[i] = f"{name} = {big}"
        elif op == "deep":
            lines[i] = f"{name} = {nested(draw(st.integers(1, 500)))}"
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        else:
            lines.insert(i, draw(st.text(max_size=20)))
    data = "\n".join(lines).encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 3)) == 0:  # invalid UTF-8 (or a NUL, or a BOM) somewhere
        at = draw(st.integers(0, len(data)))
        data = (
            data[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00", b"\xef\xbb\xbf"])) + data[at:]
        )
    return data


@settings(FUZZ, max_examples=500)
@given(st.one_of(st.binary(max_size=400), st.text(max_size=200)))
def test_random_bytes_and_text(data: bytes | str) -> None:
    check(data)


@settings(FUZZ, max_examples=900)
@given(mutated_specs())
def test_mutated_specs(data: bytes) -> None:
    check(data)


@settings(FUZZ, max_examples=100)
@given(st.integers(1, 500), st.sampled_from(["title", "configs", "expect.default", "scheme.private", "x"]))
def test_deep_nesting(depth: int, key: str) -> None:
    value = nested(depth) if depth % 2 else "{a = " * depth + "1" + "}" * depth
    assert check(VALID.replace("[expect]", f"{key} = {value}\n[expect]")) is None


# Replace one field's value: the error (if any) names that field.
FIELDS = [line.partition(" = ")[0] for line in VALID_LINES[:8]] + [
    "scheme." + line.partition(" = ")[0] for line in VALID_LINES[9:19]
]


@settings(FUZZ, max_examples=500)
@given(st.sampled_from(FIELDS), VALUES)
def test_one_field_any_value(field: str, value: object) -> None:
    table, _, name = field.rpartition(".")
    lines = list(VALID_LINES)
    start = lines.index(f"[{table}]") if table else 0
    i = next(k for k in range(start, len(lines)) if lines[k].startswith(name + " = "))
    lines[i] = f"{name} = {toml_value(value)}"
    try:
        parse_spec("\n".join(lines), PATH)
    except SpecError as exc:
        assert str(exc).isprintable()
        # scheme.*: consistency errors may name a sibling key (scheme.private -> scheme.head_copy)
        assert exc.key == field or exc.key.startswith("scheme." if table else field + "["), (field, str(exc))


# ---------------------------------------------------------------- valid specs always load


# The configs on which a custom scheme naming vmemmap pages 0..7 is valid: V >= 8, or V <= 1
# (not-applicable, so the pages are not checked).  s390x/4K/1M has V = 4: `page:7` is
# rightly refused there (scheme.remap_to: page:7 does not exist on s390x/4K/1M).
FITTING_CONFIGS = sorted(c for c, config in CONFIG_IDS.items() if not 1 < config.vmemmap_pages < 8)


@st.composite
def valid_specs(draw: st.DrawFn) -> tuple[str, list[str], tuple[str, ...]]:
    configs = draw(st.lists(st.sampled_from(FITTING_CONFIGS), min_size=1, max_size=4, unique=True))
    invariants = draw(st.lists(st.sampled_from(sorted(INVARIANTS)), min_size=1, max_size=3, unique=True))
    if draw(st.booleans()):
        scheme = json.dumps(draw(st.sampled_from(sorted(PRESETS))))
    else:
        private = draw(st.lists(st.integers(0, 7), max_size=4, unique=True))
        fields = {
            "private": toml_value([0, *(p for p in private if p)]),
            "remap_to": json.dumps(draw(st.sampled_from(["page:0", "page:7", "shared-tail", "unmapped"]))),
            "compound_head": json.dumps(draw(st.sampled_from([e.value for e in Encoding]))),
            "head_copy": json.dumps(draw(st.sampled_from([e.value for e in HeadCopy]))),
            "unique_struct_pages": str(draw(st.integers(1, 4096))),
        }
        if draw(st.booleans()):
            fields["base"] = json.dumps(draw(st.sampled_from(sorted(PRESETS))))
        scheme = "{" + ", ".join(f"{k} = {v}" for k, v in fields.items()) + "}"
    verdicts = [v.value for v in Verdict]
    expect = [f'"{inv}" = "{draw(st.sampled_from(verdicts))}"' for inv in invariants]
    text = "\n".join(
        [
            'title = "random"',
            'source = "<msg@id>"',
            f"scheme = {scheme}",
            f"configs = {json.dumps(configs)}",
            f"invariants = {json.dumps(invariants)}",
            f"timeout = {draw(st.floats(0.001, 3600))!r}",
            "[expect]",
            *expect,
        ]
    )
    return text, configs, tuple(invariants)


@settings(FUZZ, max_examples=300)
@given(valid_specs())
def test_valid_specs_load(case: tuple[str, list[str], tuple[str, ...]]) -> None:
    text, configs, invariants = case
    spec = parse_spec(text, PATH)
    assert [c.id for c in spec.configs] == configs
    assert spec.invariants == invariants
    assert 1 <= spec.timeout_ms <= 3_600_000
