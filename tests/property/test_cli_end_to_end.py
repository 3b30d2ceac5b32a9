# SPDX-License-Identifier: GPL-2.0-only
"""Random custom schemes through the whole CLI: whatever the scheme, `check` answers
with verdicts (exit 0/1/3) or a one-line spec error (exit 2) -- never a traceback,
never an internal error (a counterexample that did not replay)."""

from __future__ import annotations

import io
import json
import pathlib
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hvo_verify import cli
from hvo_verify.invariants.static import INVARIANTS
from hvo_verify.model.scheme import Encoding, FolioKind, HeadCopy, MemoryModel

CONFIGS = ["x86-64/4K/2M", "arm64/4K/64K", "arm64/16K/32M", "arm64/64K/16G", "x86-64/4K/2M@56", "arm64/4K/2M@80"]


@st.composite
def spec_texts(draw: st.DrawFn) -> str:
    private = sorted(draw(st.sets(st.integers(0, 7), max_size=5)) | ({9} if draw(st.integers(0, 9)) == 0 else set()))
    scheme: dict[str, object] = {
        "private": private,
        "remap_to": draw(st.sampled_from(["page:0", "page:1", "page:7", "page:9", "shared-tail", "unmapped"])),
        "writable": draw(st.booleans()),
        "compound_head": draw(st.sampled_from([e.value for e in Encoding])),
        "unique_struct_pages": draw(st.integers(1, 80)),
        "head_copy": draw(st.sampled_from([e.value for e in HeadCopy])),
        "power_of_2_guard": draw(st.booleans()),
        "folio": draw(st.sampled_from([e.value for e in FolioKind])),
        "memory_model": draw(st.sampled_from([e.value for e in MemoryModel])),
        "vmemmap_align": draw(st.sampled_from(["page", "max-folio"])),
    }
    if 0 not in private and draw(st.integers(0, 9)):  # mostly valid: a head copy needs page 0
        scheme["head_copy"] = "none"
    if draw(st.booleans()):
        scheme["base"] = draw(st.sampled_from(["v5.14", "v5.18", "v6.2", "mask-2026", "devdax"]))
    body = ", ".join(f"{key} = {json.dumps(value)}" for key, value in scheme.items())
    configs = draw(st.lists(st.sampled_from(CONFIGS), min_size=1, max_size=2, unique=True))
    invariants = draw(st.lists(st.sampled_from(sorted(INVARIANTS)), min_size=1, max_size=3, unique=True))
    align = draw(st.sampled_from(["", "vmemmap_base_align = 64\n", "vmemmap_base_align = 4096\n"]))
    return (
        f'title = "random"\nsource = "property test"\nscheme = {{ {body} }}\n'
        f"configs = {json.dumps(configs)}\ninvariants = {json.dumps(invariants)}\ntimeout = 20\n{align}"
        '[expect]\ndefault = "proved"\n'
    )


@settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(spec_texts())
def test_any_custom_scheme_gets_verdicts_or_one_line_error(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "random.toml"
        path.write_text(text)
        out, err = io.StringIO(), io.StringIO()
        code = cli.run(["check", str(path), "--jobs", "1"], out, err)
    assert "Traceback" not in err.getvalue() + out.getvalue()
    assert "internal error" not in err.getvalue(), err.getvalue()
    if code == 2:
        assert len(err.getvalue().splitlines()) == 1 and err.getvalue().startswith(str(path)), err.getvalue()
    else:
        assert code in (0, 1, 3) and err.getvalue() == ""
        assert "checks in 1 specs" in out.getvalue()
