# SPDX-License-Identifier: GPL-2.0-only
"""Malformed spec files: Hypothesis writes bad spec files; each one the loader rejects
goes through the real command line, `hvo-verify check FILE`, in-process (the caller
passes the command line in as `cli_run`, i.e. `cli.run`).

A *case* is one generated file (bytes).  `parse_sweep` decides first: a file that parses
is a valid spec and counts as `valid` (it is not checked: that would run the solver).
A rejected file must give, through `cli_run(["check", FILE], stdout, stderr)`:

* exit code 2, nothing on stdout;
* exactly one line on stderr, printable, no "Traceback": `FILE: KEY: message`, the same
  line as the `SpecError` that `parse_sweep` raised;
* for the categories that break one known key, a KEY that names it (or the key the
  loader validates it against: e.g. `scheme.private` for a head copy, `toml` for what
  TOML itself refuses).

Any other exception, from `parse_sweep` or from the command line, is a `traceback`.
The categories cover wrong types, unknown keys, missing fields, huge numbers, non-UTF-8
bytes, deep nesting and duplicate keys, and more: malformed [ops] tables, bad config
ids, bad expectation keys and verdicts, impossible scheme combinations, BOMs, NUL
bytes, floats/NaN/inf, arrays of tables, dotted keys, Python code in strings (plain
data: nothing may run it), mutations of the real spec files in the spec folder given
(`specs`), and random bytes.

Nothing here prints; Hypothesis's reports are dropped and it keeps no files.
"""

from __future__ import annotations

import contextlib
import io
import math
import pathlib
import re
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from hypothesis import Phase, given
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from hvo_verify.check.hypothesis_settings import library_settings, quiet
from hvo_verify.errors import SpecError
from hvo_verify.invariants.reachable import OP_INVARIANTS
from hvo_verify.invariants.static import INVARIANTS
from hvo_verify.model.config import CONFIG_IDS
from hvo_verify.model.scheme import PRESETS, Encoding, FolioKind, HeadCopy, MemoryModel
from hvo_verify.ops.table import OPS
from hvo_verify.selfcheck.section import Section
from hvo_verify.specs.loader import OPS_KEYS, SCHEME_KEYS, TOP_KEYS, parse_sweep
from hvo_verify.verdict import Verdict

MAX_FAILURE_LINES = 20
EXIT_SPEC_ERROR = 2  # the documented exit code (not cli.EXIT_ERROR: a check must not read what it checks)
MAX_ROUNDS = 40  # Hypothesis runs per category, for the ones it exhausts
SENTINEL_NAME = "code-ran"  # the Python payloads would create this file in the case folder

# The command line under test, `cli.run(argv, stdout, stderr) -> exit code`: passed in by
# cli.py (the self-check sits below the command line and never imports it).
CliRun = Callable[[Sequence[str], TextIO, TextIO], int]

# ---------------------------------------------------------------- seed specs (valid)

Doc = dict[str, Any]

STATIC_SEED: Doc = {
    "title": "seed: a custom scheme on two configs",
    "source": "hvo-verify selfcheck fuzz",
    "description": "every [scheme] key, a struct page size, expectations of every form",
    "answer": "plain text",
    "scheme": {
        "base": "v6.2",
        "name": "seed-scheme",
        "summary": "one line",
        "private": [0, 1],
        "remap_to": "page:1",
        "writable": False,
        "compound_head": "pointer+fake-head-fix",
        "unique_struct_pages": 3,
        "head_copy": "with-fallback",
        "power_of_2_guard": True,
        "folio": "hugetlb",
        "memory_model": "sparsemem-vmemmap",
        "vmemmap_align": "page",
    },
    "configs": ["x86-64/4K/2M", "arm64/16K/32M"],
    "struct_page_size": 64,
    "invariants": ["head-resolution", "head-tail-exact", "accounting"],
    "timeout": 5,
    "vmemmap_base_align": 4096,
    "expect": {
        "default": "proved",
        "accounting": "violated",
        "*@arm64/*": "unknown",
        "head-resolution@x86-64/4K/2M": "not-applicable",
    },
}

OPS_SEED: Doc = {
    "title": "seed: an operation spec",
    "source": "hvo-verify selfcheck fuzz",
    "scheme": "v5.14",
    "configs": ["x86-64/4K/2M"],
    "invariants": ["ro-write", "alias-write"],
    "timeout": 30,
    "ops": {
        "run": ["hugetlb_vmemmap_optimize_folio", "memory_failure", "get_user_pages_fast"],
        "depth": 4,
        "io_max": 4096,
        "io_align": 512,
        "max_calls": {"memory_failure": 1},
        "hwpoison": "raw-flag",
        "pg_arch_1": "head",
        "mapcount": "folio",
        "gup_refs": "folio",
        "hugetlb_clear": "after-restore",
        "restore_reset": True,
        "kmalloc_may_fail": False,
    },
    "expect": {"default": "violated"},
}

SEEDS: dict[str, Doc] = {"static": STATIC_SEED, "ops": OPS_SEED}

# ---------------------------------------------------------------- TOML writing


def toml_string(text: str) -> str:
    """A TOML basic string, every non-ASCII or control character escaped."""
    body = "".join(c if " " <= c <= "~" and c not in '"\\' else f"\\U{ord(c):08x}" for c in text)
    return f'"{body}"'


def toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else toml_string(key)


def toml_value(value: object) -> str:
    """A TOML literal for `value` (well-formed TOML, whatever the value)."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return hex(value) if value.bit_length() > 4000 else str(value)  # str() refuses > 4300 digits
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return repr(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(map(toml_value, value)) + "]"
    assert isinstance(value, dict), value
    return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


@dataclass(frozen=True)
class Raw:
    """A value written verbatim (a literal TOML cannot express as a Python value)."""

    text: str


def toml_doc(doc: Doc) -> str:
    """Top-level values first, then one [table] per top-level dict (nested dicts inline)."""
    lines = [f"{toml_key(k)} = {toml_value(v)}" for k, v in doc.items() if not isinstance(v, dict)]
    for name, table in doc.items():
        if isinstance(table, dict):
            lines.append(f"\n[{toml_key(name)}]")
            lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def _copy(doc: Doc) -> Doc:
    return {k: (dict(v) if isinstance(v, dict) else v) for k, v in doc.items()}


# ---------------------------------------------------------------- value strategies

HUGE_INTS = [2**64, 2**63, -(2**63) - 1, 10**400, -(10**400), 2**4000 + 1]
HUGE_LITERALS = [str(2**64), "-" + str(2**63 + 1), str(10**400), "9" * 5000, "0x" + "f" * 300, "1e400", "-1e400"]
FLOATS = [math.nan, math.inf, -math.inf, 0.5, -0.0, 1e-300, 1e300, 64.0, 4096.0]
TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=30)
WORDS = st.sampled_from(
    [*TOP_KEYS, *INVARIANTS, *OP_INVARIANTS, *CONFIG_IDS, *PRESETS, *OPS, "all", "default", "page:1", "shared-tail"]
    + [v.value for enum_cls in (Verdict, Encoding, HeadCopy, FolioKind, MemoryModel) for v in enum_cls]
)
SCALARS = st.one_of(st.integers(-(2**70), 2**70), st.sampled_from(HUGE_INTS), st.floats(), st.booleans(), TEXT, WORDS)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.one_of(TEXT, WORDS), inner, max_size=3)),
    max_leaves=8,
)

CODE = [
    "__import__('pathlib').Path('{s}').write_text('ran')",
    "eval(\"__import__('pathlib').Path('{s}').touch()\")",
    "exec(\"open('{s}', 'w').close()\")",
    "!!python/object/apply:os.system ['touch {s}']",
    "$(touch {s})",
    "`touch {s}`",
    "{{{{ __import__('os').system('touch {s}') }}}}",
    "';import os;os.system(\"touch {s}\");'",
]


def _near_misses(name: str) -> list[str]:
    """Typos of a real key: case, dashes, a dropped or doubled letter."""
    out = [name.upper(), name.replace("_", "-"), name.replace("-", "_") + "s", name[:-1], name + name[-1], " " + name]
    return [o for o in out if o and o != name]


# ---------------------------------------------------------------- the categories

# A generator draws one case: (bytes, key prefixes the error must name, or None for any).
Case = tuple[bytes, tuple[str, ...] | None]
Generator = Callable[[st.DataObject], Case]


def _seed_name(data: st.DataObject) -> str:
    return data.draw(st.sampled_from(sorted(SEEDS)))


def _fields(doc: Doc) -> list[str]:
    """Every dotted key of a document (top-level keys, and keys of its tables)."""
    out = []
    for k, v in doc.items():
        out.append(k)
        if isinstance(v, dict):
            out += [f"{k}.{name}" for name in v]
    return out


def _set(doc: Doc, path: str, value: object) -> Doc:
    new = _copy(doc)
    table, _, name = path.rpartition(".")
    if table:
        new[table][name] = value
    else:
        new[name] = value
    return new


def _drop(doc: Doc, path: str) -> Doc:
    new = _copy(doc)
    table, _, name = path.rpartition(".")
    del (new[table] if table else new)[name]
    return new


def _related(path: str) -> tuple[str, ...]:
    """The keys an error about a change at `path` may name: the key itself, the keys
    the loader checks it against, and `toml` (what TOML refuses to read)."""
    root = path.partition(".")[0]
    related = {
        "scheme": ("scheme",),
        "configs": ("configs", "scheme.", "expect"),
        "struct_page_size": ("struct_page_size", "scheme."),
        "invariants": ("invariants", "expect"),
        "ops": ("ops", "invariants", "expect"),
        "expect": ("expect",),
    }.get(root, (path,))
    return (*related, "toml")


def _g_wrong_type(data: st.DataObject) -> Case:
    doc = SEEDS[_seed_name(data)]
    path = data.draw(st.sampled_from(_fields(doc)))
    return toml_doc(_set(doc, path, data.draw(VALUES))).encode(), _related(path)


def _g_unknown_key(data: st.DataObject) -> Case:
    doc = SEEDS[_seed_name(data)]
    tables = [""] + [k for k, v in doc.items() if isinstance(v, dict)] + (["ops.max_calls"] if "ops" in doc else [])
    table = data.draw(st.sampled_from(tables))
    allowed = {
        "": TOP_KEYS,
        "scheme": ("base", *SCHEME_KEYS),
        "ops": OPS_KEYS,
        "expect": (),
        "ops.max_calls": tuple(doc.get("ops", {}).get("run", ())),
    }[table]
    real = list(allowed) or ["default", *INVARIANTS]
    name = data.draw(st.one_of(TEXT, WORDS, st.sampled_from([m for k in real for m in _near_misses(k)])))
    if name in allowed or (table == "expect" and (name == "default" or name in INVARIANTS or "@" in name)):
        name = name + "?"  # not a key of that table
    value = data.draw(VALUES)
    new = _copy(doc)
    if table == "ops.max_calls":
        new["ops"]["max_calls"] = {**new["ops"]["max_calls"], name: value}
        return toml_doc(new).encode(), ("ops.max_calls.", "toml")
    if table:
        new[table][name] = value
        return toml_doc(new).encode(), (f"{table}.", "toml")
    new[name] = value
    return toml_doc(new).encode(), (_escape(name if len(name) <= 60 else name[:57] + "..."), "toml")


def _escape(text: str) -> str:
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _g_missing(data: st.DataObject) -> Case:
    """A required key (or `expect.default`, which the seeds need) gone, and maybe
    optional ones too."""
    doc = SEEDS[_seed_name(data)]
    required = [k for k in ("title", "source", "scheme", "configs", "expect", "expect.default") if k in _fields(doc)]
    gone = data.draw(st.sampled_from(required))
    others = data.draw(st.lists(st.sampled_from([k for k in _fields(doc) if not k.startswith(gone)]), max_size=2))
    related: list[str] = []
    for path in [gone, *others]:
        if path in _fields(doc):
            doc = _drop(doc, path)
            related += _related(path)
    return toml_doc(doc).encode(), (*related, "expect")


INT_FIELDS = [
    "struct_page_size",
    "timeout",
    "vmemmap_base_align",
    "scheme.unique_struct_pages",
    "scheme.private",
    "ops.depth",
    "ops.io_max",
    "ops.io_align",
    "ops.max_calls",
    "configs",
    "title",
]


def _seed_with(path: str) -> Doc:
    table = path.partition(".")[0] if "." in path else ""
    return OPS_SEED if table == "ops" else STATIC_SEED


def _g_huge(data: st.DataObject) -> Case:
    path = data.draw(st.sampled_from(INT_FIELDS))
    literal = data.draw(st.sampled_from(HUGE_LITERALS))
    value: object = Raw(literal)
    if path in ("scheme.private", "configs"):
        value = Raw(f"[0, {literal}]")
    elif path == "ops.max_calls":
        value = Raw(f"{{ memory_failure = {literal} }}")
    return toml_doc(_set(_seed_with(path), path, value)).encode(), _related(path)


def _g_float(data: st.DataObject) -> Case:
    path = data.draw(st.sampled_from(INT_FIELDS + ["scheme.writable", "expect.default", "scheme.remap_to"]))
    number = data.draw(st.sampled_from(FLOATS))
    return toml_doc(_set(_seed_with(path), path, number)).encode(), _related(path)


def _nested(depth: int, kind: str) -> str:
    if kind == "array":
        return "[" * depth + "]" * depth
    if kind == "table":
        return "{a = " * depth + "1" + "}" * depth
    return "[{a = " * (depth // 2) + "1" + "}]" * (depth // 2)


def _g_deep(data: st.DataObject) -> Case:
    doc = SEEDS[_seed_name(data)]
    path = data.draw(st.sampled_from(_fields(doc)))
    depth = data.draw(st.one_of(st.integers(1, 64), st.integers(65, 1000), st.just(1000)))
    kind = data.draw(st.sampled_from(["array", "table", "mixed"]))
    return toml_doc(_set(doc, path, Raw(_nested(depth, kind)))).encode(), _related(path)


OPS_BAD: dict[str, list[object]] = {
    "run": [[], ["nope"], "al", [1], ["memory_failure", 7], "memory_failure", ["all", "memory_failure"]],
    "depth": [0, 13, -1, True, "6", 2**64, 6.0],
    "io_max": [100, 0, 2**21, -512, "4096", 513],
    "io_align": [3, 7, 0, 2**17, 4, "512", 1000],
    "max_calls": [[], "memory_failure", {"nope": 1}, {"memory_failure": -1}, {"memory_failure": 13}, {"x": True}],
    "hwpoison": ["nope", 1, "raw_flag", "RAW-FLAG", ["raw-flag"]],
    "pg_arch_1": ["tail", 0, ""],
    "mapcount": ["per-page", True],
    "gup_refs": ["page", 1.5],
    "hugetlb_clear": ["never", "before"],
    "restore_reset": ["yes", 1, 0],
    "kmalloc_may_fail": ["no", None],
}


def _g_ops(data: st.DataObject) -> Case:
    choice = data.draw(st.sampled_from([*OPS_BAD, "table", "static-invariant", "devdax-hugetlb-op"]))
    doc = _copy(OPS_SEED)
    if choice == "table":
        doc["ops"] = data.draw(st.sampled_from([[], "all", 1, [{"run": "all"}], True]))
        return toml_doc(doc).encode(), ("ops", "toml")
    if choice == "static-invariant":
        doc["invariants"] = [data.draw(st.sampled_from(sorted(INVARIANTS)))]
        return toml_doc(doc).encode(), ("invariants[0]",)
    if choice == "devdax-hugetlb-op":
        doc["scheme"] = "devdax"
        doc["ops"]["run"] = [
            "memory_failure",
            data.draw(st.sampled_from([n for n, o in OPS.items() if o.hugetlb_only])),
        ]
        return toml_doc(doc).encode(), ("ops.run[1]",)
    value = data.draw(st.sampled_from(OPS_BAD[choice]))
    if value is None:
        return toml_doc(doc).replace(f"{choice} = false", f"{choice} =").encode(), ("toml",)
    doc["ops"][choice] = value
    return toml_doc(doc).encode(), ("ops.", "toml")


BAD_CONFIG_IDS = [
    "x86-64/4K/3M", "x86-64/4K/2M@55", "x86-64/4K/2M@", "x86-64/4K/2M@0", "all@7", "all@" + "9" * 40,
    "x86-64/4K/2M@" + "9" * 5000, "@64", "", " x86-64/4K/2M", "X86-64/4K/2M", "x86_64/4K/2M", "arm64/4K/2M@56@64",
    "x86-64/4K/2M@\u00b2", "x86-64/4K/2M@-64", "x86-64/4K/2M@+64", "arm64/64K/2M@1\u0000", "x86-64\n/4K/2M",
    "all,x86-64/4K/2M", "*", "arm64/*/2M",
]  # fmt: skip


def _g_config(data: st.DataObject) -> Case:
    doc = _copy(STATIC_SEED)
    kind = data.draw(st.sampled_from(["configs", "struct_page_size"]))
    if kind == "struct_page_size":
        doc["struct_page_size"] = data.draw(st.sampled_from([7, 0, -64, 1000, 257, 36, 2**64, "64", 64.0, [64]]))
        return toml_doc(doc).encode(), ("struct_page_size",)
    bad = data.draw(st.one_of(st.sampled_from(BAD_CONFIG_IDS), TEXT.filter(lambda t: t not in CONFIG_IDS)))
    configs = list(doc["configs"])
    configs.insert(data.draw(st.integers(0, len(configs))), bad)
    doc["configs"] = configs
    return toml_doc(doc).encode(), ("configs[", "scheme.", "expect", "toml")


BAD_EXPECT_KEYS = [
    "nope", "head-resolution@nope", "*@x86-64/4K/2M@64", "*@all", "head_resolution", "default@x86-64/4K/2M", "@",
    "*@", "ro-write", "head-resolution@x86-64/4K/2M@", "*@x86-64/4K/3M", "Head-Resolution", "*", "all",
]  # fmt: skip
BAD_VERDICTS: list[object] = ["passed", "PROVED", "", " proved", "proven", 1, True, ["proved"], {"a": 1}, 0.0, "?"]


def _g_expect(data: st.DataObject) -> Case:
    doc = _copy(STATIC_SEED)
    kind = data.draw(st.sampled_from(["key", "verdict", "table", "empty"]))
    if kind == "key":
        doc["expect"] = {**doc["expect"], data.draw(st.sampled_from(BAD_EXPECT_KEYS)): "proved"}
    elif kind == "verdict":
        key = data.draw(st.sampled_from(list(doc["expect"])))
        doc["expect"] = {**doc["expect"], key: data.draw(st.sampled_from(BAD_VERDICTS))}
    elif kind == "table":
        doc["expect"] = data.draw(st.sampled_from(["proved", ["proved"], 1, Raw("[{default = 'proved'}]")]))
    else:
        doc["expect"] = {"accounting": "proved"}  # no verdict for the other invariants
    return toml_doc(doc).encode(), ("expect", "toml")


IMPOSSIBLE: list[tuple[str, object, tuple[str, ...]]] = [
    ("scheme.private", [1], ("scheme.head_copy", "scheme.private")),  # head copy without page 0
    ("scheme.private", [0, 8], ("scheme.private",)),  # V = 8 on both configs
    ("scheme.private", [0, 0], ("scheme.private[1]",)),
    ("scheme.private", [0, 16384], ("scheme.private[1]",)),
    ("scheme.private", [0, -1], ("scheme.private[1]",)),
    ("scheme.private", [0, 1000000], ("scheme.private[1]",)),
    ("scheme.remap_to", "page:8", ("scheme.remap_to",)),
    ("scheme.remap_to", "page:99999999", ("scheme.remap_to",)),
    ("scheme.remap_to", "page:-1", ("scheme.remap_to",)),
    ("scheme.remap_to", "page:0x1", ("scheme.remap_to",)),
    ("scheme.remap_to", "page:", ("scheme.remap_to",)),
    ("scheme.remap_to", "page:1 ", ("scheme.remap_to",)),
    ("scheme.unique_struct_pages", 0, ("scheme.unique_struct_pages",)),
    ("scheme.unique_struct_pages", 4097, ("scheme.unique_struct_pages",)),
    ("scheme.head_copy", "required", ()),  # valid: page 0 is private
    ("scheme.base", "v9.9", ("scheme.base",)),
    ("scheme.base", "", ("scheme.base",)),
    ("scheme.name", "", ("scheme.name",)),
    ("scheme.name", "  ", ("scheme.name",)),
    ("vmemmap_base_align", 3, ("vmemmap_base_align",)),
    ("vmemmap_base_align", 0, ("vmemmap_base_align",)),
    ("vmemmap_base_align", 2**41, ("vmemmap_base_align",)),
    ("vmemmap_base_align", 4, ("vmemmap_base_align",)),
    ("vmemmap_base_align", 4097, ("vmemmap_base_align",)),
    ("timeout", 0, ("timeout",)),
    ("timeout", -1, ("timeout",)),
    ("timeout", 3601, ("timeout",)),
    ("timeout", True, ("timeout",)),
    ("title", "", ("title",)),
    ("title", " \t", ("title",)),
    ("source", "", ("source",)),
    ("scheme", "v9.9", ("scheme",)),
    ("scheme", "V5.14", ("scheme",)),
    ("invariants", [], ("invariants",)),
    ("invariants", ["all", "accounting"], ("invariants[0]",)),
    ("invariants", ["ro-write"], ("invariants[0]",)),
    ("invariants", ["nope"], ("invariants[0]",)),
    ("configs", [], ("configs",)),
    ("configs", ["x86-64/4K/2M@56"], ("scheme.private",)),  # V = 7: vmemmap page 7... no: private [0, 1]
]


def _g_impossible(data: st.DataObject) -> Case:
    path, value, expected = data.draw(st.sampled_from(IMPOSSIBLE))
    doc = _set(STATIC_SEED, path, value)
    if path == "configs" and value == ["x86-64/4K/2M@56"]:
        doc["scheme"] = {**doc["scheme"], "power_of_2_guard": False, "private": [0, 7]}
    return toml_doc(doc).encode(), expected or None


def _valid_bytes(data: st.DataObject) -> bytes:
    return toml_doc(SEEDS[_seed_name(data)]).encode()


def _at(data: st.DataObject, text: bytes) -> int:
    return data.draw(st.integers(0, len(text)))


def _g_bom(data: st.DataObject) -> Case:
    text = _valid_bytes(data)
    kind = data.draw(st.sampled_from(["start", "twice", "middle", "utf16", "utf32"]))
    if kind == "start":  # a UTF-8 BOM is allowed: the file stays valid
        return b"\xef\xbb\xbf" + text, None
    if kind == "twice":
        return b"\xef\xbb\xbf\xef\xbb\xbf" + text, ("toml",)
    if kind == "middle":
        at = _at(data, text)
        return text[:at] + b"\xef\xbb\xbf" + text[at:], None
    encoding = "utf-16" if kind == "utf16" else "utf-32"
    return text.decode().encode(encoding), ("file",)


def _g_nul(data: st.DataObject) -> Case:
    text = _valid_bytes(data)
    kind = data.draw(st.sampled_from(["byte", "escaped-in-value", "escaped-in-key"]))
    if kind == "byte":
        at = _at(data, text)
        return text[:at] + b"\x00" + text[at:], ("toml",) if at < len(text) else ("toml", "file")
    if kind == "escaped-in-value":  # "\u0000" inside a string: valid TOML, the value decides
        return text.replace(b'title = "', b'title = "\\u0000', 1), None
    return b'"a\\u0000b" = 1\n' + text, ("a\\x00b",)


INVALID_UTF8 = [b"\xff", b"\xfe", b"\xc3", b"\xc3\x28", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf5\x80\x80\x80", b"\x80"]


def _g_non_utf8(data: st.DataObject) -> Case:
    text = _valid_bytes(data)
    kind = data.draw(st.sampled_from(["insert", "latin-1", "cp1252-quotes"]))
    if kind == "insert":
        at = _at(data, text)
        return text[:at] + data.draw(st.sampled_from(INVALID_UTF8)) + text[at:], ("file",)
    if kind == "latin-1":
        return text.replace(b'title = "', 'title = "café '.encode("latin-1"), 1), ("file",)
    return text.replace(b'source = "', b'source = "\x93quoted\x94 ', 1), ("file",)


def _g_duplicate(data: st.DataObject) -> Case:
    doc = SEEDS[_seed_name(data)]
    lines = toml_doc(doc).splitlines()
    kind = data.draw(st.sampled_from(["key", "table", "dotted-and-table", "key-and-table"]))
    if kind == "key":
        keys = [i for i, line in enumerate(lines) if " = " in line]
        i = data.draw(st.sampled_from(keys))
        j = data.draw(st.integers(i + 1, len(lines)))
        lines.insert(j, lines[i])  # later in the same table or in a following one
    elif kind == "table":
        tables = [i for i, line in enumerate(lines) if line.startswith("[")]
        i = data.draw(st.sampled_from(tables))
        lines.append(lines[i])
        lines.append("x = 1")
    elif kind == "dotted-and-table":
        table = data.draw(st.sampled_from([k for k, v in doc.items() if isinstance(v, dict)]))
        first = next(iter(doc[table]))
        lines.insert(0, f"{table}.{toml_key(first)} = 1")
    else:
        lines.insert(0, f"{data.draw(st.sampled_from([k for k, v in doc.items() if isinstance(v, dict)]))} = 1")
    data_bytes = ("\n".join(lines) + "\n").encode()
    return data_bytes, None if kind == "key" else ("toml",)


DOTTED = [
    ("title.x = 1", ("title",)),
    ("configs.0 = 'x86-64/4K/2M'", ("configs", "toml")),
    ("scheme.private = [0]", ("scheme", "toml")),
    ("ops.depth = 3", ("ops", "invariants", "toml")),
    ("expect.default.x = 'proved'", ("expect", "toml")),
    ("a.b.c.d = 1", ("a",)),
    ("'scheme'.\"name\" = 'x'", ("scheme", "toml")),
    ("scheme . name = 'x'", ("scheme", "toml")),
    ("expect.'*@arm64/*'.x = 1", ("expect", "toml")),
]


def _g_dotted(data: st.DataObject) -> Case:
    line, names = data.draw(st.sampled_from(DOTTED))
    doc = _copy(STATIC_SEED)
    root = line.split(".")[0].strip("'\" ")
    expected: tuple[str, ...] | None = (*names, "toml")  # defined twice: TOML refuses
    if root in doc and data.draw(st.booleans()):
        del doc[root]  # the dotted key alone defines it
        expected = None
    return (line + "\n" + toml_doc(doc)).encode(), expected


def _g_array_of_tables(data: st.DataObject) -> Case:
    doc = SEEDS[_seed_name(data)]
    text = toml_doc(doc)
    tables = [k for k, v in doc.items() if isinstance(v, dict)]
    kind = data.draw(st.sampled_from(["replace", "extra", "new", "nested"]))
    if kind == "replace":
        table = data.draw(st.sampled_from(tables))
        return text.replace(f"\n[{table}]\n", f"\n[[{table}]]\n").encode(), (table,)
    if kind == "extra":
        table = data.draw(st.sampled_from(tables))
        return (text + f"\n[[{table}]]\nx = 1\n").encode(), ("toml",)
    if kind == "new":
        name = data.draw(st.sampled_from(["configs", "invariants", "title", "x"]))
        if name in doc:
            return (text + f"\n[[{name}]]\n").encode(), ("toml",)
        return (text + f"\n[[{name}]]\n").encode(), (name,)
    return (text + "\n[[ops.max_calls]]\nmemory_failure = 1\n").encode(), ("toml", "ops")


def _g_code(data: st.DataObject) -> Case:
    payload = data.draw(st.sampled_from(CODE)).format(s=SENTINEL_NAME)
    path = data.draw(st.sampled_from(["title", "source", "description", "scheme", "configs", "invariants",
                                      "scheme.name", "scheme.remap_to", "expect.default", "key"]))  # fmt: skip
    doc = _copy(STATIC_SEED)
    if path == "key":
        doc[payload] = 1
        return toml_doc(doc).encode(), None
    if path in ("configs", "invariants"):
        doc[path] = [payload]
        return toml_doc(doc).encode(), (f"{path}[0]",)
    expected = None if path in ("title", "source", "description", "scheme.name") else (path,)
    return toml_doc(_set(doc, path, payload)).encode(), expected


def _real_specs(folder: pathlib.Path | None) -> list[bytes]:
    """The spec files under `folder` (none: the mutations start from a seed instead)."""
    if folder is None:
        return []
    try:
        return [p.read_bytes() for p in sorted(folder.rglob("*.toml")) if p.is_file()]
    except OSError:
        return []


REAL_SPECS: list[bytes] = []


def _g_mutate_real(data: st.DataObject) -> Case:
    text = data.draw(st.sampled_from(REAL_SPECS or [toml_doc(STATIC_SEED).encode()]))
    lines = text.split(b"\n")
    for _ in range(data.draw(st.integers(1, 3))):
        op = data.draw(st.sampled_from(["drop", "dup", "swap", "value", "junk", "truncate", "flip", "header"]))
        i = data.draw(st.integers(0, max(len(lines) - 1, 0)))
        if op == "drop" and len(lines) > 1:
            del lines[i]
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = data.draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "value" and b" = " in lines[i]:
            key = lines[i].partition(b" = ")[0]
            lines[i] = key + b" = " + toml_value(data.draw(VALUES)).encode()
        elif op == "junk":
            lines.insert(i, data.draw(st.binary(max_size=20)))
        elif op == "truncate":
            joined = b"\n".join(lines)
            lines = joined[: data.draw(st.integers(0, len(joined)))].split(b"\n")
        elif op == "flip" and lines[i]:
            k = data.draw(st.integers(0, len(lines[i]) - 1))
            lines[i] = lines[i][:k] + bytes([lines[i][k] ^ (1 << data.draw(st.integers(0, 7)))]) + lines[i][k + 1 :]
        elif op == "header":
            lines.insert(
                i, b"[" + data.draw(st.sampled_from([b"scheme", b"ops", b"expect", b"x", b"", b"ops.run"])) + b"]"
            )
    return b"\n".join(lines), None


def _g_random(data: st.DataObject) -> Case:
    raw = data.draw(st.one_of(st.binary(max_size=300), TEXT.map(str.encode), st.text(max_size=200).map(_utf8)))
    return raw, None


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


CATEGORIES: dict[str, Generator] = {
    "wrong-type": _g_wrong_type,
    "unknown-key": _g_unknown_key,
    "missing-field": _g_missing,
    "huge-number": _g_huge,
    "float-nan-inf": _g_float,
    "deep-nesting": _g_deep,
    "ops-table": _g_ops,
    "config-id": _g_config,
    "expectation": _g_expect,
    "impossible-scheme": _g_impossible,
    "bom": _g_bom,
    "nul": _g_nul,
    "non-utf8": _g_non_utf8,
    "duplicate-key": _g_duplicate,
    "dotted-key": _g_dotted,
    "array-of-tables": _g_array_of_tables,
    "python-code": _g_code,
    "mutated-real-spec": _g_mutate_real,
    "random-bytes": _g_random,
}


# ---------------------------------------------------------------- judging one case

# Odd file names: the error line shows them escaped, still one printable line.
FILE_NAMES = [
    "with space.toml", "caf\u00e9.toml", "new\nline.toml", "tab\t.toml", "\x1b[31mred.toml", "bell\x07.toml",
    "-dash.toml", "x" * 200 + ".toml", "\udcff-not-utf8.toml", "\u202eright-to-left.toml", "no-suffix", "a:b: c.toml",
]  # fmt: skip
SPECIAL = ("file-name", "folder")  # categories that vary the file name or write a folder


@dataclass
class _Tally:
    cases: int = 0
    distinct: set[bytes] = field(default_factory=set)
    rejected: int = 0
    valid: int = 0
    tracebacks: int = 0
    wrong_exit: int = 0
    bad_line: int = 0
    wrong_key: int = 0
    per_category: Counter[str] = field(default_factory=Counter)
    valid_per_category: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def add(self, category: str, outcome: str, why: str, data: bytes) -> None:
        self.cases += 1
        self.distinct.add(data)
        self.per_category[category] += 1
        if outcome == "valid":
            self.valid += 1
            self.valid_per_category[category] += 1
            return
        if outcome == "rejected":
            self.rejected += 1
            return
        self.tracebacks += outcome == "traceback"
        self.wrong_exit += outcome == "exit"
        self.bad_line += outcome == "line"
        self.wrong_key += outcome == "key"
        self.failures.append(f"{category}: {why} (input {_show(data)})")


def _show(data: bytes) -> str:
    return repr(data[:80]) + ("..." if len(data) > 80 else "")


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [""])[0][:160]


def _loader_line(data: bytes, name: str) -> tuple[str, SpecError | None, str]:
    """(outcome, the SpecError, why): `valid`, `rejected` or `traceback`."""
    try:
        parse_sweep(data, name)
        return "valid", None, ""
    except SpecError as exc:
        return "rejected", exc, ""
    except Exception as exc:  # noqa: BLE001 - exactly what this check looks for
        return "traceback", None, f"parse_sweep raised {type(exc).__name__}: {_first_line(exc)}"


def _cli(cli_run: CliRun, paths: list[str], want: list[str]) -> tuple[str, str]:
    """Run `hvo-verify check PATHS`; it must exit 2 with exactly the lines `want` on
    stderr and nothing on stdout."""
    out, err = io.StringIO(), io.StringIO()
    try:
        code = cli_run(["check", *paths], out, err)
    except BaseException as exc:  # noqa: BLE001 - SystemExit, RecursionError... nothing may escape the CLI
        return "traceback", f"hvo-verify check raised {type(exc).__name__}: {_first_line(exc)}"
    text = err.getvalue()
    if code != EXIT_SPEC_ERROR or out.getvalue():
        return "exit", f"exit code {code} (expected 2), stdout {out.getvalue()[:60]!r}"
    lines = text.split("\n")
    if lines[-1] or "Traceback" in text or not all(line.isprintable() for line in lines):
        return "line", f"stderr is not printable whole lines: {text[:200]!r}"
    if lines[:-1] != want:
        return "line", f"stderr {text[:200]!r} is not the loader's {'|'.join(want)[:200]!r}"
    return "rejected", ""


def judge(data: bytes, path: pathlib.Path, expected_keys: tuple[str, ...] | None, cli_run: CliRun) -> tuple[str, str]:
    """One file through parse_sweep, then (if rejected) `hvo-verify check FILE`:
    (outcome, why), outcome `valid`, `rejected`, `traceback`, `exit`, `line` or `key`."""
    outcome, exc, why = _loader_line(data, str(path))
    if exc is None:
        return outcome, why
    line = exc.line()
    if not line.startswith(f"{_escape(str(path))}: ") or "\n" in line or not line.isprintable():
        return "line", f"the loader's error is not one printable line starting with the file name: {line[:200]!r}"
    path.write_bytes(data)
    outcome, why = _cli(cli_run, [str(path)], exc.lines())  # every error of the file, the first is `line`
    if outcome != "rejected":
        return outcome, why
    if expected_keys is not None and not exc.key.startswith(expected_keys):
        return (
            "key",
            f"the error names {exc.key!r}, expected one of {', '.join(map(repr, expected_keys))}: {line[:160]!r}",
        )
    return "rejected", ""


def judge_folder(folder: pathlib.Path, good: list[bytes], bad: list[bytes], cli_run: CliRun) -> tuple[str, str]:
    """A folder of valid specs and bad files: `hvo-verify check FOLDER` must print the
    lines of every bad file (in file order), nothing else, and exit 2 without checking."""
    folder.mkdir()
    files = [(folder / f"good-{n}.toml", data) for n, data in enumerate(good)]
    files += [(folder / f"bad-{n}.toml", data) for n, data in enumerate(bad)]
    want = []
    for path, data in sorted(files):
        path.write_bytes(data)
        outcome, exc, why = _loader_line(data, str(path))
        if outcome == "traceback":
            return outcome, why
        if (exc is None) != (path.name.startswith("good")):
            return "line", f"{path.name}: the seed is {'invalid' if exc else 'valid'}"
        if exc is not None:
            want += exc.lines()
    return _cli(cli_run, [str(folder)], want)


def _bound(test: Callable[[str, st.DataObject], None], category: str) -> Callable[[st.DataObject], None]:
    """`test` with its category fixed, as a plain function (what @given decorates)."""

    def run(data: st.DataObject) -> None:
        test(category, data)

    run.__name__ = run.__qualname__ = f"fuzz_{category.replace('-', '_')}"
    return run


def _definitely_bad(data: bytes) -> bytes:
    """`data` if the loader rejects it, else a file it rejects (a folder case must not
    run the solver)."""
    try:
        parse_sweep(data, "x")
    except Exception:  # noqa: BLE001 - rejected (a traceback is judge()'s business)
        return data
    return data + b"\n[expect]\n"  # a table defined twice


def run_fuzz(
    cases: int = 2000,
    seed: int = 0,
    *,
    cli_run: CliRun,
    specs: pathlib.Path | None = None,
    categories: tuple[str, ...] | None = None,
) -> Section:
    """`cases` malformed spec files through `hvo-verify check`, run by `cli_run` (see
    the module docstring); the mutated real specs are those under `specs`.  The same
    files for the same seed and spec folder."""
    start, cpu = time.perf_counter(), time.process_time()
    names = list(categories or (*CATEGORIES, *SPECIAL))
    plain = [name for name in names if name in CATEGORIES] or list(CATEGORIES)
    tally = _Tally()
    REAL_SPECS[:] = _real_specs(specs)
    with tempfile.TemporaryDirectory(prefix="hvo-verify-fuzz-") as folder, quiet():
        base = pathlib.Path(folder)

        def one(category: str, data: st.DataObject) -> None:
            if tally.per_category[category] >= quota[category]:
                return
            if category == "folder":
                good = [toml_doc(SEEDS[_seed_name(data)]).encode() for _ in range(data.draw(st.integers(1, 3)))]
                bad = [_definitely_bad(CATEGORIES[data.draw(st.sampled_from(plain))](data)[0])
                       for _ in range(data.draw(st.integers(1, 3)))]  # fmt: skip
                outcome, why = judge_folder(base / f"folder-{tally.cases}", good, bad, cli_run)
                tally.add(category, outcome, why, b"\0".join(bad))
                return
            name = data.draw(st.sampled_from(FILE_NAMES)) if category == "file-name" else "spec.toml"
            raw, expected = CATEGORIES[data.draw(st.sampled_from(plain)) if category == "file-name" else category](data)
            target = base / name
            outcome, why = judge(raw, target, expected, cli_run)
            tally.add(category, outcome, why, raw)
            with contextlib.suppress(OSError):
                target.unlink(missing_ok=True)

        # The same number of cases per category (Hypothesis would favour some); a small
        # category that Hypothesis exhausts is run again with the next seed.
        quota = {name: cases // len(names) + (n < cases % len(names)) for n, name in enumerate(names)}
        for n, category in enumerate(names):
            for round_ in range(MAX_ROUNDS):
                missing = quota[category] - tally.per_category[category]
                if missing <= 0:
                    break
                run = library_settings(max_examples=missing, derandomize=False, phases=(Phase.generate,))(
                    given(st.data())(_bound(one, category))
                )
                hypothesis_seed(f"{seed}:{n}:{round_}")(run)()
        code_ran = (base / SENTINEL_NAME).exists()
    if code_ran:
        tally.failures.insert(0, f"python-code: a payload ran: {SENTINEL_NAME} was created")
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    figures: list[tuple[str, int | float | str]] = [
        ("cases", tally.cases),
        ("distinct inputs", len(tally.distinct)),
        ("rejected with one-line error", tally.rejected),
        ("valid (not run)", tally.valid),
        ("tracebacks", tally.tracebacks),
        ("wrong exit codes", tally.wrong_exit),
        ("malformed error lines", tally.bad_line),
        ("error names another key", tally.wrong_key),
        ("payloads run", int(code_ran)),
        ("seconds", round(seconds, 1)),
        ("cpu seconds", round(cpu, 1)),
        ("seed", seed),
    ]
    details = tuple(
        (f"category {name}", f"{tally.per_category[name]} cases, {tally.valid_per_category[name]} valid")
        for name in names
    )
    shown = tally.failures[:MAX_FAILURE_LINES]
    if len(tally.failures) > len(shown):
        shown.append(f"... and {len(tally.failures) - len(shown)} more")
    ok = not tally.failures and tally.cases >= cases
    return Section("fuzz", ok, tuple(figures), tuple(shown), details)
