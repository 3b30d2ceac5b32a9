# SPDX-License-Identifier: GPL-2.0-only
"""Text and JSON of `hvo-verify selfcheck`.  The self-check is an application on top of
report/ (it uses its wrapping and JSON version), so its rendering lives here, not there.

Text: one block per section (its verdict, time and figures, then one line per
failure), and a summary line (at most 80 columns).

    vacuity                                                    ok         3.3 s
      proofs, assumptions satisfiable                648
      contradictory canaries reported vacuous        6/6
    ...
    selfcheck: 7 sections, 7 ok, 0 failed; 402.3 s
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from hvo_verify.report.json_out import VERSION
from hvo_verify.report.wrap import wrap
from hvo_verify.selfcheck.section import Section

FIGURE_WIDTH = 46


def selfcheck_text(sections: Sequence[tuple[Section, float]], verbose: bool = False) -> str:
    out: list[str] = []
    for section, seconds in sections:
        status = "ok" if section.ok else "FAILED"
        out.append(f"{section.name:<58} {status:<6} {seconds:>8.1f} s")
        for name, value in section.figures:
            out += wrap(f"  {name:<{FIGURE_WIDTH}} {value}")
        for line in section.failures:
            out += wrap(f"  ! {line}")
        if verbose:
            for what, value in section.details:
                out += wrap(f"    {what}: {value}")
    out.append(summary_line(sections))
    return "\n".join(out) + "\n"


def summary_line(sections: Sequence[tuple[Section, float]]) -> str:
    ok = sum(s.ok for s, _t in sections)
    failed = [s.name for s, _t in sections if not s.ok]
    total = sum(t for _s, t in sections)
    which = f" ({', '.join(failed)})" if failed else ""
    return f"selfcheck: {len(sections)} sections, {ok} ok, {len(failed)} failed{which}; {total:.1f} s"


def selfcheck_document(sections: Sequence[tuple[Section, float]]) -> str:
    """`hvo-verify selfcheck --format json`: `{"version": 1, "ok", "seconds", "sections":
    [{"name", "ok", "seconds", "figures", "failures", "details"}]}`, figures as an
    object in the section's order, details as [what, value] pairs."""
    doc = {
        "version": VERSION,
        "ok": all(s.ok for s, _t in sections),
        "seconds": round(sum(t for _s, t in sections), 3),
        "sections": [
            {
                "name": s.name,
                "ok": s.ok,
                "seconds": round(t, 3),
                "figures": dict(s.figures),
                "failures": list(s.failures),
                "details": [list(row) for row in s.details],
            }
            for s, t in sections
        ],
    }
    return json.dumps(doc, indent=2) + "\n"
