# SPDX-License-Identifier: GPL-2.0-only
"""Spec loader: good specs parse into the expected frozen objects; every bad input is
one exact `path: key: message` line."""

from __future__ import annotations

import pathlib

import pytest

from hvo_verify.errors import SpecError
from hvo_verify.invariants.static import INVARIANTS
from hvo_verify.model.scheme import PRESETS, Encoding, FolioKind, HeadCopy, MemoryModel, Target
from hvo_verify.specs.loader import load_spec, load_specs, parse_spec
from hvo_verify.specs.schema import Spec
from hvo_verify.verdict import Verdict

PATH = "s.toml"
OMIT = None


def text(
    *,
    title: str | None = '"t"',
    source: str | None = '"abc123"',
    scheme: str | None = '"v6.2"',
    configs: str | None = '["x86-64/4K/2M"]',
    extra: str = "",
    expect: str | None = 'default = "proved"',
) -> str:
    """A spec file; each keyword is the TOML right-hand side of its line, None omits it."""
    lines = [
        f"{key} = {value}"
        for key, value in (("title", title), ("source", source), ("scheme", scheme), ("configs", configs))
        if value is not None
    ]
    lines.append(extra)
    if expect is not None:
        lines += ["[expect]", expect]
    return "\n".join(lines) + "\n"


def parse(spec_text: str | bytes) -> Spec:
    return parse_spec(spec_text, PATH)


def error(spec_text: str | bytes) -> str:
    with pytest.raises(SpecError) as info:
        parse(spec_text)
    assert info.value.path == PATH
    return str(info.value)


# ---------------------------------------------------------------- good specs


def test_preset_spec_with_defaults() -> None:
    spec = parse(text())
    assert spec.path == PATH and spec.title == "t" and spec.source == "abc123"
    assert spec.scheme is PRESETS["v6.2"]
    assert [c.id for c in spec.configs] == ["x86-64/4K/2M"]
    assert spec.invariants == tuple(INVARIANTS)
    assert (spec.description, spec.answer, spec.timeout_ms, spec.vmemmap_base_align) == ("", "", 10_000, None)
    assert spec.expect.entries == (("default", Verdict.PROVED),)


def test_optional_top_level_fields() -> None:
    spec = parse(
        text(
            extra='description = """two\nlines"""\nanswer = "no"\ntimeout = 2.5\n'
            'vmemmap_base_align = 4096\ninvariants = ["accounting", "kpageflags", "accounting"]'
        )
    )
    assert spec.description == "two\nlines" and spec.answer == "no"
    assert spec.timeout_ms == 2500 and spec.vmemmap_base_align == 4096
    assert spec.invariants == ("accounting", "kpageflags")


@pytest.mark.parametrize("value", ['"all"', '["all"]'])
def test_invariants_all(value: str) -> None:
    assert parse(text(extra=f"invariants = {value}")).invariants == tuple(INVARIANTS)


def test_custom_scheme_from_base() -> None:
    scheme = parse(text(scheme='{ base = "v5.18", compound_head = "mask", private = [3, 0] }')).scheme
    base = PRESETS["v5.18"]
    assert scheme.name == "v5.18-custom" and scheme.version == "custom (from v5.18)"
    assert scheme.encoding is Encoding.MASK and scheme.private == (0, 3)
    assert scheme.source == base.source and scheme.target_page == base.target_page
    assert scheme.power_of_2_guard is base.power_of_2_guard


def test_custom_scheme_from_base_with_name() -> None:
    scheme = parse(text(scheme='{ base = "devdax", name = "dax2", writable = false }')).scheme
    assert (scheme.name, scheme.version, scheme.writable_aliases) == ("dax2", "custom (from devdax)", False)
    assert scheme.folio_kind is FolioKind.DEVDAX


def test_base_alone_is_the_preset() -> None:
    assert parse(text(scheme='{ base = "mask-2026" }')).scheme is PRESETS["mask-2026"]


def test_custom_scheme_from_scratch() -> None:
    spec = parse(
        text(
            scheme=None,
            extra='[scheme]\nname = "mine"\nsummary = "s"\nprivate = [2, 0, 1]\nremap_to = "shared-tail"\n'
            'writable = true\ncompound_head = "pointer+fake-head-fix"\nunique_struct_pages = 3\n'
            'head_copy = "with-fallback"\npower_of_2_guard = false\nfolio = "devdax"\n'
            'memory_model = "dedup-pointers"',
        )
    )
    s = spec.scheme
    assert (s.name, s.version, s.source, s.summary) == ("mine", "custom", "abc123", "s")
    assert s.private == (0, 1, 2) and s.target is Target.SHARED_TAIL and s.target_page == 0
    assert s.writable_aliases and s.encoding is Encoding.POINTER_FAKE_HEAD_FIX
    assert s.unique_struct_pages == 3 and s.head_copy is HeadCopy.WITH_FALLBACK
    assert not s.power_of_2_guard and s.folio_kind is FolioKind.DEVDAX
    assert s.memory_model is MemoryModel.DEDUP_POINTERS and s.optimizes


def test_custom_scheme_defaults() -> None:
    s = parse(text(scheme='{ remap_to = "page:1", private = [] }')).scheme
    assert (s.name, s.version, s.private, s.target, s.target_page) == ("custom", "custom", (), Target.PAGE, 1)
    assert s.encoding is Encoding.POINTER and s.head_copy is HeadCopy.NONE and s.unique_struct_pages == 4
    assert parse(text(scheme="{}")).scheme.private == (0,)
    assert parse(text(scheme='{ remap_to = "unmapped" }')).scheme.target is Target.UNMAPPED


def test_configs_expand_and_deduplicate_in_order() -> None:
    spec = parse(text(configs='["arm64/64K/16G@56", "all", "x86-64/4K/2M"]'))
    ids = [c.id for c in spec.configs]
    assert ids[:3] == ["arm64/64K/16G@56", "x86-64/4K/2M", "x86-64/4K/1G"] and len(ids) == 13


def test_struct_page_size_applies_to_configs_without_explicit_size() -> None:
    spec = parse(text(configs='["x86-64/4K/2M", "arm64/4K/2M@56"]', extra="struct_page_size = 72"))
    assert [c.id for c in spec.configs] == ["x86-64/4K/2M@72", "arm64/4K/2M@56"]
    assert spec.configs[0].struct_page_size == 72


def test_expectations_precedence_with_glob() -> None:
    expect = "\n".join(
        [
            'default = "proved"',
            'accounting = "violated"',
            '"*@arm64/*" = "unknown"',
            '"accounting@arm64/?4K/*" = "not-applicable"',
        ]
    )
    spec = parse(text(configs='["x86-64/4K/2M", "arm64/4K/2M", "arm64/64K/2M"]', expect=expect))
    assert [k for k, _ in spec.expect.entries] == ["default", "accounting", "*@arm64/*", "accounting@arm64/?4K/*"]
    got = {(inv, c.id): spec.expect.expected(inv, c.id) for inv in ("kpageflags", "accounting") for c in spec.configs}
    assert got == {
        ("kpageflags", "x86-64/4K/2M"): Verdict.PROVED,
        ("kpageflags", "arm64/4K/2M"): Verdict.UNKNOWN,
        ("kpageflags", "arm64/64K/2M"): Verdict.UNKNOWN,
        ("accounting", "x86-64/4K/2M"): Verdict.VIOLATED,
        ("accounting", "arm64/4K/2M"): Verdict.UNKNOWN,
        ("accounting", "arm64/64K/2M"): Verdict.NOT_APPLICABLE,
    }


def test_expectations_per_invariant_cover_the_spec() -> None:
    spec = parse(
        text(extra='invariants = ["accounting"]', expect='accounting = "violated"\n"*@x86-64/4K/2M@56" = "proved"')
    )
    assert spec.expect.expected("accounting", "x86-64/4K/2M") is Verdict.VIOLATED


def test_bytes_input_and_bom() -> None:
    assert parse(text().encode()).title == "t"
    assert parse(b"\xef\xbb\xbf" + text().encode()).title == "t"


def test_load_spec_and_load_specs(tmp_path: pathlib.Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "z.toml").write_text(text(title='"z"'))
    (tmp_path / "b" / "a.toml").write_text(text(title='"ba"'))
    (tmp_path / "c.toml").write_text(text(title='"c"'))
    (tmp_path / "notes.txt").write_text("not a spec")
    assert load_spec(tmp_path / "c.toml").path == str(tmp_path / "c.toml")
    specs = load_specs([str(tmp_path), str(tmp_path / "c.toml")])
    assert [s.title for s in specs] == ["ba", "z", "c", "c"]
    assert specs[0].path == str(tmp_path / "b" / "a.toml")


def test_load_errors(tmp_path: pathlib.Path) -> None:
    missing = str(tmp_path / "nope.toml")
    with pytest.raises(SpecError) as info:
        load_specs([missing])
    assert str(info.value) == f"{missing}: file: cannot read: No such file or directory"
    with pytest.raises(SpecError) as info:
        load_spec(tmp_path)
    assert str(info.value) == f"{tmp_path}: file: cannot read: Is a directory"
    (tmp_path / "empty").mkdir()
    with pytest.raises(SpecError) as info:
        load_specs([str(tmp_path / "empty")])
    assert str(info.value) == f"{tmp_path / 'empty'}: path: no *.toml spec files here"
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "bad.toml").write_text(text(title="3"))
    with pytest.raises(SpecError) as info:
        load_specs([str(tmp_path / "d")])
    assert str(info.value) == f"{tmp_path / 'd' / 'bad.toml'}: title: 'title' must be a non-empty string (got 3)"


# ---------------------------------------------------------------- one exact line per error kind

# fmt: off
# (test id, spec text, expected line after "s.toml: ")
ERRORS: list[tuple[str, str | bytes, str]] = [
    # file level
    ("not-utf8", b'title = "\xff"', "file: not UTF-8 text: byte 0xff at offset 9"),
    ("duplicate-key", text(extra='title = "x"'), "toml: Cannot overwrite a value (at line 5, column 12)"),
    ("syntax", text(extra="title ="), "toml: Invalid value (at line 5, column 8)"),
    ("huge-literal", text(extra="timeout = " + "9" * 5000),
     "toml: Exceeds the limit (4300 digits) for integer string conversion: value has 5000 digits; "
     "use sys.set_int_max_str_digits() to increase the limit"),
    ("deep-nesting", text(extra="x = " + "[" * 2000 + "]" * 2000), "toml: values nested too deeply"),
    # top level
    ("unknown-key", text(extra='invariant = ["accounting"]'),
     "invariant: unknown key 'invariant' (did you mean 'invariants'?)"),
    ("newline-in-key", text(extra='"a\\nb\\u001b" = 1'),
     "a\\nb\\x1b: unknown key 'a\\nb\\x1b' (expected one of: answer, configs, description, expect, format, invariants, "
     "ops, scheme, schemes, smp, source, struct_page_size, ...)"),
    ("missing-title", text(title=OMIT), "title: missing required key 'title'"),
    ("title-type", text(title="3"), "title: 'title' must be a non-empty string (got 3)"),
    ("source-empty", text(source='"  "'), "source: 'source' must be a non-empty string (got '  ')"),
    ("description-type", text(extra="description = [" + "1, " * 50 + "]"),
     "description: 'description' must be a string (got [1, 1, 1, 1, 1, 1, ...])"),
    ("answer-float", text(extra="answer = " + "1" * 80 + ".0"),
     "answer: 'answer' must be a string (got 1.1111111111111111e+79)"),
    # scheme
    ("preset", text(scheme='"v5.181"'), "scheme: unknown scheme preset 'v5.181' (did you mean 'v5.18'?)"),
    ("scheme-type", text(scheme="3"), "scheme: 'scheme' must be a preset name or a table (got 3)"),
    ("scheme-key", text(scheme="{ privat = [0] }"), "scheme.privat: unknown key 'privat' (did you mean 'private'?)"),
    ("base", text(scheme='{ base = "v6.22" }'), "scheme.base: unknown scheme preset 'v6.22' (did you mean 'v6.2'?)"),
    ("base-type", text(scheme="{ base = 6.2 }"), "scheme.base: 'scheme.base' must be a preset name (got 6.2)"),
    ("private-type", text(scheme='{ private = "0" }'),
     "scheme.private: 'scheme.private' must be a list of vmemmap page numbers (got '0')"),
    ("private-negative", text(scheme="{ private = [0, -1] }"),
     "scheme.private[1]: 'scheme.private[1]' must be an integer 0..999999 (got -1)"),
    ("private-bool", text(scheme="{ private = [true] }"),
     "scheme.private[0]: 'scheme.private[0]' must be an integer 0..999999 (got True)"),
    ("private-float", text(scheme="{ private = [1.0] }"),
     "scheme.private[0]: 'scheme.private[0]' must be an integer 0..999999 (got 1.0)"),
    ("private-huge", text(scheme="{ private = [0x" + "f" * 40 + "] }"),
     "scheme.private[0]: 'scheme.private[0]' must be an integer 0..999999 (got <160-bit integer>)"),
    ("private-duplicate", text(scheme="{ private = [0, 1, 0] }"), "scheme.private[2]: vmemmap page 0 is listed twice"),
    ("private-range", text(scheme="{ private = [0, 20000] }"),
     "scheme.private[1]: vmemmap page 20000 does not exist: the largest folio has 16384 vmemmap pages"),
    ("private-beyond-config", text(scheme="{ private = [0, 5000] }"),
     "scheme.private: vmemmap page 5000 does not exist on x86-64/4K/2M (8 vmemmap pages per folio)"),
    ("remap-form", text(scheme='{ remap_to = "page:-1" }'),
     "scheme.remap_to: 'scheme.remap_to' must be 'page:N' (N >= 0), 'shared-tail' or 'unmapped' (got 'page:-1')"),
    ("remap-range", text(scheme='{ remap_to = "page:16384" }'),
     "scheme.remap_to: vmemmap page 16384 does not exist: the largest folio has 16384 vmemmap pages"),
    ("remap-beyond-config", text(scheme='{ remap_to = "page:8" }'),
     "scheme.remap_to: page:8 does not exist on x86-64/4K/2M (8 vmemmap pages per folio)"),
    ("writable", text(scheme='{ writable = "yes" }'),
     "scheme.writable: 'scheme.writable' must be true or false (got 'yes')"),
    ("encoding", text(scheme='{ compound_head = "maks" }'),
     "scheme.compound_head: unknown compound_head encoding 'maks' (did you mean 'mask'?)"),
    ("encoding-type", text(scheme="{ compound_head = 1 }"),
     "scheme.compound_head: 'scheme.compound_head' must be one of 'pointer', 'pointer+fake-head-fix', 'mask' (got 1)"),
    ("unique-zero", text(scheme="{ unique_struct_pages = 0 }"),
     "scheme.unique_struct_pages: 'scheme.unique_struct_pages' must be an integer 1..4096 (got 0)"),
    ("unique-bool", text(scheme="{ unique_struct_pages = true }"),
     "scheme.unique_struct_pages: 'scheme.unique_struct_pages' must be an integer 1..4096 (got True)"),
    ("folio", text(scheme='{ folio = "dax" }'), "scheme.folio: unknown folio kind 'dax' (did you mean 'devdax'?)"),
    ("memory-model", text(scheme='{ memory_model = "flatmem" }'),
     "scheme.memory_model: unknown memory model 'flatmem' (expected one of: dedup-pointers, sparsemem-vmemmap)"),
    ("head-copy", text(scheme='{ head_copy = "required", private = [1] }'),
     "scheme.head_copy: head_copy copies vmemmap page 0, which must be listed in private"),
    ("head-copy-from-base", text(scheme='{ base = "v6.2", private = [1] }'),
     "scheme.private: head_copy copies vmemmap page 0, which must be listed in private"),
    # configs
    ("configs-empty", text(configs="[]"), "configs: 'configs' must be a non-empty list of config ids (got [])"),
    ("configs-type", text(configs='"all"'), "configs: 'configs' must be a non-empty list of config ids (got 'all')"),
    ("config-item-type", text(configs='["all", 5]'), "configs[1]: 'configs[1]' must be a string (got 5)"),
    ("config-unknown", text(configs='["all", "x86-64/4K/3M"]'),
     "configs[1]: unknown config 'x86-64/4K/3M' (did you mean 'x86-64/4K/2M'?)"),
    ("config-size", text(configs='["all@57"]'),
     "configs[0]: sizeof(struct page) 57 is impossible: it must be a multiple of 8 between 40 and 256 "
     "(e.g. 56, 64, 72, 80)"),
    ("struct-page-size", text(extra="struct_page_size = 60"),
     "struct_page_size: sizeof(struct page) 60 is impossible: it must be a multiple of 8 between 40 and 256 "
     "(e.g. 56, 64, 72, 80)"),
    ("struct-page-size-bool", text(extra="struct_page_size = true"),
     "struct_page_size: 'struct_page_size' must be a multiple of 8 between 40 and 256 (got True)"),
    ("struct-page-size-huge", text(extra="struct_page_size = 10000000000000000000000000000000000000000"),
     "struct_page_size: 'struct_page_size' must be a multiple of 8 between 40 and 256 (got <133-bit integer>)"),
    # invariants, timeout, alignment
    ("invariant", text(extra='invariants = ["kpageflag"]'),
     "invariants[0]: unknown invariant 'kpageflag' (did you mean 'kpageflags'?)"),
    ("invariants-empty", text(extra="invariants = []"),
     "invariants: 'invariants' must be a non-empty list of invariant ids (got [])"),
    ("invariants-all-mixed", text(extra='invariants = ["accounting", "all"]'),
     "invariants[1]: 'all' must stand alone (invariants = [\"all\"])"),
    ("timeout-zero", text(extra="timeout = 0"),
     "timeout: 'timeout' must be a number of seconds t with 0 < t <= 3600 (got 0)"),
    ("timeout-bool", text(extra="timeout = true"),
     "timeout: 'timeout' must be a number of seconds t with 0 < t <= 3600 (got True)"),
    ("timeout-nan", text(extra="timeout = nan"),
     "timeout: 'timeout' must be a number of seconds t with 0 < t <= 3600 (got nan)"),
    ("timeout-string", text(extra='timeout = "10"'),
     "timeout: 'timeout' must be a number of seconds t with 0 < t <= 3600 (got '10')"),
    ("align", text(extra="vmemmap_base_align = 24"),
     "vmemmap_base_align: 'vmemmap_base_align' must be a power of two between 8 and 2**40 (got 24)"),
    ("align-big", text(extra="vmemmap_base_align = 0x20000000000"),
     "vmemmap_base_align: 'vmemmap_base_align' must be a power of two between 8 and 2**40 (got 2199023255552)"),
    # expect
    ("expect-type", text(expect=None, extra='expect = "proved"'), "expect: 'expect' must be a table (got 'proved')"),
    ("expect-verdict", text(expect='default = "proven"'),
     "expect.default: unknown verdict 'proven' (did you mean 'proved'?)"),
    ("expect-verdict-type", text(expect="default = true"),
     "expect.default: 'expect.default' must be one of 'proved', 'violated', 'unknown', 'not-applicable', 'vacuous', 'unreached' (got True)"),
    ("expect-key", text(expect='defualt = "proved"'),
     "expect.defualt: unknown expect key 'defualt' (did you mean 'default'?)"),
    ("expect-invariant", text(expect='"head-resoluton@x86-64/4K/2M" = "proved"'),
     "expect.head-resoluton@x86-64/4K/2M: unknown invariant 'head-resoluton' (did you mean 'head-resolution'?)"),
    ("expect-config", text(expect='"*@x86-64/4K/3M" = "proved"'),
     "expect.*@x86-64/4K/3M: unknown config 'x86-64/4K/3M' (did you mean 'x86-64/4K/2M'?)"),
    ("expect-all", text(expect='"*@all@56" = "proved"'),
     "expect.*@all@56: config 'all@56' cannot be used in an expect key: use the glob '*@56'"),
    ("expect-default-size", text(expect='"*@x86-64/4K/2M@64" = "proved"'),
     "expect.*@x86-64/4K/2M@64: config 'x86-64/4K/2M@64' is written 'x86-64/4K/2M'"),
    ("expect-nested", text(expect='kpageflags.x = "proved"'),
     "expect.kpageflags: 'expect.kpageflags' must be one of 'proved', 'violated', 'unknown', 'not-applicable', 'vacuous', "
     "'unreached' (got {'x': 'proved'})"),
    ("expect-long-key", text(expect='"' + "k" * 100 + '" = "proved"'),
     "expect." + "k" * 57 + "...: unknown expect key '" + "k" * 27 + "..." + "k" * 28 + "' (expected one of: "
     "accounting, address-identity, decoders-agree, default, head-resolution, head-tail-exact, kpageflags, "
     "layout-soundness, no-dangling-frame)"),
    ("expect-uncovered", text(configs='["x86-64/4K/2M", "arm64/4K/2M"]', expect='"*@x86-64/*" = "proved"'),
     "expect: no expected verdict for head-resolution on arm64/4K/2M (add 'default' or 'head-resolution', or leave [expect] out to explore)"),
]
# fmt: on


@pytest.mark.parametrize(("spec_text", "line"), [case[1:] for case in ERRORS], ids=[case[0] for case in ERRORS])
def test_error_line(spec_text: str | bytes, line: str) -> None:
    message = error(spec_text)
    assert message == f"{PATH}: {line}"
    assert "\n" not in message


def test_error_attributes() -> None:
    with pytest.raises(SpecError) as info:
        parse(text(scheme='{ remap_to = "page:9999" }'))
    assert (info.value.path, info.value.key) == (PATH, "scheme.remap_to")
    assert info.value.line() == str(info.value)


# ---------------------------------------------------------------- [ops] table


def test_ops_spec_parses_policies_and_defaults() -> None:
    spec = parse(text(scheme='"v5.14"', extra='[ops]\nrun = ["memory_failure"]\nhwpoison = "raw-flag"\nmax_calls = { memory_failure = 1 }',
                      expect='default = "violated"'))  # fmt: skip
    assert spec.ops is not None
    from hvo_verify.invariants.reachable import OP_INVARIANTS
    from hvo_verify.model.policy import HugetlbClear, Hwpoison

    assert spec.ops.alphabet == ("memory_failure",) and spec.ops.depth == 6
    assert spec.ops.policies.hwpoison is Hwpoison.RAW_FLAG
    assert spec.ops.policies.hugetlb_clear is HugetlbClear.BEFORE_RESTORE  # v5.14 still had bug B5
    assert spec.ops.max_calls == (("memory_failure", 1),)
    assert spec.invariants == tuple(OP_INVARIANTS)
    assert spec.timeout_ms == 120_000


OPS_ERRORS: list[tuple[str, str, str]] = [
    ("unknown-op", '[ops]\nrun = ["memory_faliure"]',
     "s.toml: ops.run[0]: unknown operation 'memory_faliure' (did you mean 'memory_failure'?)"),
    ("unknown-key", '[ops]\ndepht = 3',
     "s.toml: ops.depht: unknown key 'depht' (did you mean 'depth'?)"),
    ("depth-range", '[ops]\ndepth = 40', "s.toml: ops.depth: 'ops.depth' must be an integer 1..12 (got 40)"),
    ("policy-value", '[ops]\nhwpoison = "raw"',
     "s.toml: ops.hwpoison: unknown hwpoison policy 'raw' (did you mean 'raw-flag'?)"),
    ("io-max-multiple", '[ops]\nio_max = 1000', "s.toml: ops.io_max: io_max 0x3e8 is not a multiple of io_align 512"),
    ("max-calls-not-run", '[ops]\nrun = ["submit_bio"]\nmax_calls = { memory_failure = 1 }',
     "s.toml: ops.max_calls.memory_failure: unknown operation of ops.run 'memory_failure' (expected one of: submit_bio)"),
    ("static-invariant", 'invariants = ["head-resolution"]\n[ops]\nrun = ["submit_bio"]',
     "s.toml: invariants[0]: invariant 'head-resolution' cannot be checked here (a static invariant: remove the [ops] table to check it)"),
    ("op-invariant-static", 'invariants = ["dma-exact"]',
     "s.toml: invariants[0]: invariant 'dma-exact' cannot be checked here (an operation invariant: add an [ops] table)"),
]  # fmt: skip


@pytest.mark.parametrize("extra, message", [c[1:] for c in OPS_ERRORS], ids=[c[0] for c in OPS_ERRORS])
def test_ops_errors(extra: str, message: str) -> None:
    assert error(text(extra=extra)) == message


def test_devdax_cannot_run_hugetlb_pool_operations() -> None:
    message = error(text(scheme='"devdax"', extra='[ops]\nrun = ["dissolve_free_hugetlb_folio"]'))
    assert message == ("s.toml: ops.run[0]: dissolve_free_hugetlb_folio works on hugetlb folios; "
                       "this scheme's folios are devdax")  # fmt: skip
