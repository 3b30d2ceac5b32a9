# SPDX-License-Identifier: GPL-2.0-only
"""Eras as a sweep dimension: `schemes = [...]` in a spec file, scheme-qualified
expectations, one column of verdicts per scheme in `check`, `explain --scheme`."""

from __future__ import annotations

import fnmatch
import io
import json
import pathlib
import re

import pytest

from hvo_verify import cli
from hvo_verify.check.result import CheckResult
from hvo_verify.errors import SpecError
from hvo_verify.model.policy import Hwpoison, default_policies
from hvo_verify.model.scheme import PRESETS
from hvo_verify.report.json_out import trace_file_name
from hvo_verify.report.text import verdict_table
from hvo_verify.report.wrap import WIDTH
from hvo_verify.specs.loader import load_spec, load_specs, load_sweep, parse_spec, parse_sweep
from hvo_verify.specs.schema import Expectations
from hvo_verify.verdict import Verdict

PATH = "s.toml"
ROOT = pathlib.Path(__file__).resolve().parents[2]


def text(schemes: str = '["v5.14", "v6.2"]', extra: str = "", expect: str = 'default = "proved"') -> str:
    head = f'title = "t"\nsource = "abc"\nschemes = {schemes}\nconfigs = ["x86-64/4K/2M"]\n'
    return f"{head}{extra}\n[expect]\n{expect}\n"


def error(spec_text: str) -> str:
    with pytest.raises(SpecError) as info:
        parse_sweep(spec_text, PATH)
    line = str(info.value)
    assert "\n" not in line and line.isprintable() and info.value.path == PATH
    return line.removeprefix(f"{PATH}: ")


# ---------------------------------------------------------------- loader: good


def test_a_sweep_is_one_spec_per_scheme_in_order() -> None:
    units = parse_sweep(text('["v6.2", "v5.14", "v6.2"]'), PATH)
    assert [u.scheme for u in units] == [PRESETS["v6.2"], PRESETS["v5.14"]]
    assert all(u.sweep == ("v6.2", "v5.14") and u.path == PATH for u in units)
    assert [u.unit for u in units] == [f"{PATH}#v6.2", f"{PATH}#v5.14"]
    assert len({u.configs for u in units} | {u.invariants for u in units}) == 2  # shared, one each


def test_globs_and_all_take_the_presets_from_presets() -> None:
    glob = [u.scheme.name for u in parse_sweep(text('["v5.*"]'), PATH)]
    assert glob == [name for name in PRESETS if fnmatch.fnmatchcase(name, "v5.*")] and glob
    every = [u.scheme.name for u in parse_sweep(text('["all"]'), PATH)]
    assert every == list(PRESETS) == [u.scheme.name for u in parse_sweep(text('"all"'), PATH)]
    assert every == [u.scheme.name for u in parse_sweep(text('["*"]'), PATH)]


def test_all_with_hugetlb_only_operations_means_every_hugetlb_preset() -> None:
    """`schemes = "all"` with an `[ops]` run naming a hugetlb-only operation: every preset
    but devdax (was an error under devdax); a run of operations that work on any folio,
    or no [ops] table, keeps devdax; a list naming devdax still fails under it."""
    hugetlb_op = '[ops]\nrun = ["dissolve_free_hugetlb_folio"]'
    hugetlb = [name for name, s in PRESETS.items() if s.folio_kind.value == "hugetlb"]
    assert "devdax" in PRESETS and "devdax" not in hugetlb and len(hugetlb) == len(PRESETS) - 1
    for schemes in ('"all"', '["all"]'):
        assert [u.scheme.name for u in parse_sweep(text(schemes, extra=hugetlb_op), PATH)] == hugetlb
    any_folio = '[ops]\nrun = ["memory_failure"]'
    assert "devdax" in [u.scheme.name for u in parse_sweep(text('"all"', extra=any_folio), PATH)]
    assert "devdax" in [u.scheme.name for u in parse_sweep(text('"all"'), PATH)]
    assert "under scheme devdax" in error(text('["v6.2", "devdax"]', extra=hugetlb_op))


def test_a_single_scheme_file_is_not_a_sweep() -> None:
    [unit] = parse_sweep(text().replace('schemes = ["v5.14", "v6.2"]', 'scheme = "v6.2"'), PATH)
    assert unit.sweep == () and unit.unit == PATH
    one = parse_spec(text('["v6.2"]'), PATH)
    assert one.sweep == ("v6.2",) and one.scheme is PRESETS["v6.2"]


def test_each_scheme_gets_its_policies_and_explicit_keys_override_all() -> None:
    ops = '[ops]\nrun = ["memory_failure"]'
    units = parse_sweep(text('["rfc-2020", "v5.14", "v6.2"]', extra=ops), PATH)
    assert [u.ops.policies if u.ops else None for u in units] == [default_policies(u.scheme) for u in units]
    assert len({u.ops.policies.hwpoison if u.ops else None for u in units}) > 1
    units = parse_sweep(text('["rfc-2020", "v5.14", "v6.2"]', extra=ops + '\nhwpoison = "raw-flag"'), PATH)
    assert {u.ops.policies.hwpoison if u.ops else None for u in units} == {Hwpoison.RAW_FLAG}


def test_load_specs_expands_a_sweep_and_load_spec_wants_one(tmp_path: pathlib.Path) -> None:
    (tmp_path / "a.toml").write_text(text())
    (tmp_path / "b.toml").write_text(text('["v6.2"]'))
    assert [(pathlib.Path(s.path).name, s.scheme.name) for s in load_specs([str(tmp_path)])] == [
        ("a.toml", "v5.14"),
        ("a.toml", "v6.2"),
        ("b.toml", "v6.2"),
    ]
    assert len(load_sweep(tmp_path / "a.toml")) == 2 and load_spec(tmp_path / "b.toml").scheme.name == "v6.2"
    with pytest.raises(SpecError) as info:
        load_spec(tmp_path / "a.toml")
    assert info.value.key == "schemes" and "sweeps 2 schemes (v5.14, v6.2)" in str(info.value)


# ---------------------------------------------------------------- loader: bad, one line each

# fmt: off
ERRORS = [
    ("both", text().replace("schemes =", 'scheme = "v6.2"\nschemes ='),
     "schemes: give 'scheme' (one scheme) or 'schemes' (a list of presets), not both"),
    ("neither", text().replace('schemes = ["v5.14", "v6.2"]\n', ""),
     "scheme: missing required key 'scheme' (or 'schemes', a list of presets)"),
    ("string", text('"v6.2"'),
     "schemes: 'schemes' must be a list of presets (got 'v6.2'): schemes = ['v6.2'], or scheme = 'v6.2' for one"),
    ("empty", text("[]"), "schemes: 'schemes' must be a non-empty list of preset names or globs (got [])"),
    ("unknown", text('["v6.2", "devdaxx"]'), "schemes[1]: unknown scheme preset 'devdaxx' (did you mean 'devdax'?)"),
    ("glob-none", text('["v9.*"]'), "schemes[0]: 'v9.*' matches no scheme preset (presets: "),
    ("all-not-alone", text('["v6.2", "all"]'), "schemes[1]: 'all' must stand alone (schemes = [\"all\"])"),
    ("custom-table", text('[{ base = "v6.2" }]'),
     "schemes[0]: a custom scheme is a table under 'scheme', one per spec: 'schemes' lists presets"),
    ("number", text("[6.2]"), "schemes[0]: 'schemes[0]' must be a string (got 6.2)"),
    ("expect-scheme", text(expect='default = "proved"\n"v5.15:*" = "violated"'),
     "expect.v5.15:*: unknown scheme of this spec 'v5.15' (did you mean 'v5.14'?)"),
    ("expect-glob", text(expect='default = "proved"\n"v4.*:*" = "violated"'),
     "expect.v4.*:*: scheme 'v4.*' matches none of this spec's schemes (v5.14, v6.2)"),
    ("expect-default", text(expect='"v5.14:default" = "violated"'),
     "expect.v5.14:default: write 'v5.14:*': every invariant of one scheme is 'SCHEME:*'"),
    ("expect-invariant", text(expect='default = "proved"\n"v5.14:kpagflags" = "violated"'),
     "expect.v5.14:kpagflags: unknown expect key 'kpagflags' (did you mean 'kpageflags'?)"),
    ("expect-config", text(expect='default = "proved"\n"v5.14:*@x86-64/4K/3M" = "violated"'),
     "expect.v5.14:*@x86-64/4K/3M: unknown config 'x86-64/4K/3M' (did you mean 'x86-64/4K/2M'?)"),
    ("uncovered", text(expect='"v5.14:*" = "proved"'),
     "expect: no expected verdict for head-resolution on x86-64/4K/2M under v6.2 (add 'default' or "
     "'head-resolution', or leave [expect] out to explore)"),
    ("devdax-hugetlb-op", text('["v6.2", "devdax"]', extra='[ops]\nrun = ["dissolve_free_hugetlb_folio"]'),
     "ops.run[0]: dissolve_free_hugetlb_folio works on hugetlb folios; this scheme's folios are devdax "
     "(under scheme devdax)"),
]
# fmt: on


@pytest.mark.parametrize(("spec_text", "line"), [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS])
def test_error_line(spec_text: str, line: str) -> None:
    assert error(spec_text).startswith(line)


def test_a_sweep_error_is_one_line_from_the_command_line(tmp_path: pathlib.Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(text('["v6.2", "devdaxx"]'))
    out, err = io.StringIO(), io.StringIO()
    assert cli.run(["check", str(bad)], out, err) == cli.EXIT_ERROR
    assert out.getvalue() == ""
    assert err.getvalue() == f"{bad}: schemes[1]: unknown scheme preset 'devdaxx' (did you mean 'devdax'?)\n"


# ---------------------------------------------------------------- expectations


def test_scheme_keys_outrank_unqualified_ones_and_the_most_specific_wins() -> None:
    V = Verdict
    e = Expectations(
        (
            ("refcount@x86-64/*", V.VIOLATED),  # unqualified, most specific: loses to any qualified key
            ("default", V.PROVED),
            ("v5.*:*", V.UNKNOWN),
            ("v5.*:refcount", V.VACUOUS),
            ("v5.14:refcount", V.NOT_APPLICABLE),  # exact scheme name beats the glob at equal rank
            ("v6.*:*@arm64/*", V.VIOLATED),
            ("v6.2:refcount", V.UNKNOWN),  # ... but INVARIANT@CONFIG beats INVARIANT whatever the scheme
            ("v6.*:refcount@arm64/*", V.VACUOUS),
        )
    )

    def got(inv: str, config: str, scheme: str) -> Verdict | None:
        return e.expected(inv, config, scheme)

    assert got("refcount", "x86-64/4K/2M", "rfc-2020") is V.VIOLATED
    assert got("dma-exact", "x86-64/4K/2M", "rfc-2020") is V.PROVED
    assert got("dma-exact", "x86-64/4K/2M", "v5.18") is V.UNKNOWN
    assert got("refcount", "x86-64/4K/2M", "v5.18") is V.VACUOUS
    assert got("refcount", "x86-64/4K/2M", "v5.14") is V.NOT_APPLICABLE
    assert got("dma-exact", "arm64/4K/2M", "v6.2") is V.VIOLATED
    assert got("refcount", "x86-64/4K/2M", "v6.2") is V.UNKNOWN
    assert got("refcount", "arm64/4K/2M", "v6.2") is V.VACUOUS
    assert got("refcount", "x86-64/4K/2M", "") is V.VIOLATED  # no scheme: qualified keys never hold


def test_a_single_scheme_spec_may_qualify_its_keys() -> None:
    spec_text = text(expect='default = "proved"\n"v6.2:kpageflags" = "violated"').replace(
        'schemes = ["v5.14", "v6.2"]', 'scheme = "v6.2"'
    )
    spec = parse_spec(spec_text, PATH)
    assert spec.expect.expected("kpageflags", "x86-64/4K/2M", "v6.2") is Verdict.VIOLATED


# ---------------------------------------------------------------- reports


def _result(scheme: str, inv: str, verdict: Verdict, expected: Verdict, config: str = "x86-64/4K/2M") -> CheckResult:
    return CheckResult("specs/x.toml", config, inv, verdict, expected, scheme=scheme, sweep=True)


def test_the_sweep_table_has_one_column_per_scheme_and_marks_mismatches() -> None:
    P, V = Verdict.PROVED, Verdict.VIOLATED
    results = [
        _result(s, inv, V if (s, config, inv) == ("v5.14", "x86-64/4K/2M", "refcount") else P, P, config)
        for s in ("rfc-2020", "v5.14", "v6.2")
        for config in ("x86-64/4K/2M", "arm64/64K/512M")
        for inv in ("dma-exact", "refcount")
    ]
    assert verdict_table(results).splitlines() == [
        "specs/x.toml  (one column per scheme; ! differs from its expectation)",
        "                             rfc-2020  v5.14      v6.2",
        "  x86-64/4K/2M    dma-exact  proved    proved     proved",
        "                  refcount   proved    violated!  proved",
        "  arm64/64K/512M  dma-exact  proved    proved     proved",
        "                  refcount   proved    proved     proved",
        "  v5.14 x86-64/4K/2M refcount: violated MISMATCH (expected proved)",
        "12 checks in 1 specs: 11 proved, 1 violated, 0 unknown, 0 not-applicable;",
        "    1 differ from expectation",  # the summary at 80 columns
    ]


def test_a_wide_sweep_table_is_split_into_blocks_that_fit() -> None:
    schemes = [f"scheme-{n:02}" for n in range(12)]
    results = [_result(s, "head-resolution", Verdict.NOT_APPLICABLE, Verdict.NOT_APPLICABLE) for s in schemes]
    lines = verdict_table(results).splitlines()
    assert all(len(line) <= WIDTH for line in lines)
    headers = [line for line in lines if "scheme-" in line]
    assert len(headers) > 1 and " ".join(headers).split() == schemes


def test_json_and_trace_names_carry_the_scheme() -> None:
    res = _result("v6.2", "refcount", Verdict.PROVED, Verdict.PROVED)
    assert json.loads(json.dumps(res.to_json()))["scheme"] == "v6.2"
    assert re.fullmatch(r"x-[0-9a-f]{8}\.v6\.2\.x86-64_4K_2M\.refcount\.json", trace_file_name(res))
    single = CheckResult("specs/x.toml", "x86-64/4K/2M", "refcount", Verdict.PROVED, Verdict.PROVED, scheme="v6.2")
    assert re.fullmatch(r"x-[0-9a-f]{8}\.x86-64_4K_2M\.refcount\.json", trace_file_name(single))


def test_check_and_explain_a_static_sweep(tmp_path: pathlib.Path) -> None:
    spec = tmp_path / "sweep.toml"
    spec.write_text(
        text(
            '["v5.14", "v5.18"]',
            extra='invariants = ["head-resolution", "head-tail-exact"]',
            expect='default = "proved"\n"v5.*:*@*@56" = "violated"\n"v5.14:head-resolution@*/2M" = "proved"',
        ).replace('configs = ["x86-64/4K/2M"]', 'configs = ["x86-64/4K/2M@56", "x86-64/4K/2M"]')
    )
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(["check", "--jobs", "1", str(spec)], out, err)
    assert (code, err.getvalue()) == (cli.EXIT_OK, "")
    lines = out.getvalue().splitlines()
    if lines[1].startswith("(one column per scheme;"):  # a long path: the legend on its own line
        del lines[1]
    assert lines[1].split() == ["v5.14", "v5.18"]
    assert lines[2].split() == ["x86-64/4K/2M@56", "head-resolution", "violated", "violated"]
    assert lines[3].split() == ["head-tail-exact", "violated", "violated"]
    assert lines[4].split() == ["x86-64/4K/2M", "head-resolution", "proved", "proved"]
    summary = next(line for line in lines if line.startswith("8 checks in 1 specs: "))
    assert summary.startswith("8 checks in 1 specs: 4 proved, 4 violated")
    out = io.StringIO()
    assert cli.run(["check", "--jobs", "1", "--format", "json", str(spec)], out, err) == cli.EXIT_OK
    doc = json.loads(out.getvalue())
    assert [r["scheme"] for r in doc["results"]] == ["v5.14"] * 4 + ["v5.18"] * 4
    out = io.StringIO()
    assert cli.run(["explain", str(spec)], out, err) == cli.EXIT_OK
    schemes = [line.split()[1] for line in out.getvalue().splitlines() if line.startswith("scheme: ")]
    assert schemes == ["v5.14", "v5.18"]
    out = io.StringIO()
    assert cli.run(["explain", str(spec), "--scheme", "v5.18"], out, err) == cli.EXIT_OK
    assert [line for line in out.getvalue().splitlines() if line.startswith("scheme: ")][0].split()[1] == "v5.18"
    assert cli.run(["explain", str(spec), "--scheme", "v5.19"], io.StringIO(), err) == cli.EXIT_ERROR
    assert err.getvalue().startswith("hvo-verify: --scheme: unknown scheme of this spec 'v5.19'")


def test_the_gup_fifth_page_sweep_keeps_its_five_eras() -> None:
    units = load_sweep(ROOT / "specs" / "objections" / "gup-fifth-page.toml")
    assert [u.scheme.name for u in units] == ["rfc-2020", "v5.14", "v5.18", "v6.2", "mask-2026"]
    assert sum(len(u.configs) * len(u.invariants) for u in units) == 20


def test_savings_takes_a_glob_over_presets() -> None:
    out, err = io.StringIO(), io.StringIO()
    args = ["savings", "--scheme", "v5.*", "--config", "x86-64/4K/2M", "--no-legend"]
    assert cli.run(args, out, err) == cli.EXIT_OK
    rows = [line.split()[1] for line in out.getvalue().splitlines()[1:] if line.strip()]
    assert rows == [name for name in PRESETS if fnmatch.fnmatchcase(name, "v5.*")]
    assert cli.run(["savings", "--scheme", "v9.*", "--config", "x86-64/4K/2M"], out, err) == cli.EXIT_ERROR
    assert err.getvalue() == "hvo-verify: --scheme: 'v9.*' matches no scheme preset (see hvo-verify list)\n"
