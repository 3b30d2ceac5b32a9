# SPDX-License-Identifier: GPL-2.0-only
"""Named contradictory assumptions for the vacuity self-check (hvo_verify.selfcheck.vacuity).

A job (check.static.Job, check.bmc.OpsJob) may name some of these in its
`extra_assumptions`; the engine adds each one's term to the query's assumptions and its
text to the listed assumptions.  Each contradicts an assumption every query makes, so a
proof under it must come back `vacuous`, never `proved`.  No spec can name them: only
the self-check builds such jobs.
"""

from __future__ import annotations

from collections.abc import Callable

import z3

from hvo_verify.encode.folio import SymFolio

# name -> (the assumption's text, its term over the folio's placement variables: every
# placement for static checks, the canonical one for operation checks).
EXTRA_ASSUMPTIONS: dict[str, tuple[str, Callable[[SymFolio], z3.BoolRef]]] = {
    "odd-head-pfn": ("head pfn is odd (self-check: contradicts natural alignment)", lambda f: f.head_pfn & 1 == 1),
    "user-vmemmap": (
        "vmemmap base below 2^63, in the user half (self-check: contradicts the kernel-half assumption)",
        lambda f: z3.ULT(f.base, 1 << 63),
    ),
}
