# SPDX-License-Identifier: GPL-2.0-only
"""The mirror, as data: every kernel function written once on the concrete side (model/,
ops/, invariants/) and once on the z3 side (encode/) under the same name.

tests/unit/test_pairing.py holds the two sides to this table (same functions in each
file pair, the primitives on both CPUs, the readers, the invariant ids), and the
mutation self-check (selfcheck/onelayer.py) plants a concrete-only and a z3-only mutant
in every function `mirrored()` names.  A function added to a file pair, a primitive,
a reader or an invariant is a new mirrored function here, with no code to change.
"""

from __future__ import annotations

import inspect
from types import ModuleType

from hvo_verify.encode import readers as sym_readers
from hvo_verify.encode.ops import gup as sym_gup
from hvo_verify.encode.ops import hwpoison as sym_hwpoison
from hvo_verify.encode.ops import pageflags as sym_pageflags
from hvo_verify.encode.ops import pool as sym_pool
from hvo_verify.encode.ops import smp as sym_smp
from hvo_verify.invariants.reachable import OP_INVARIANTS
from hvo_verify.invariants.static import INVARIANTS
from hvo_verify.model import readers
from hvo_verify.ops import gup, hwpoison, pageflags, pool, smp

# The step files: ops/<subsystem>.py and encode/ops/<subsystem>.py.
PAIRS: tuple[tuple[ModuleType, ModuleType], ...] = (
    (pool, sym_pool),
    (hwpoison, sym_hwpoison),
    (gup, sym_gup),
    (pageflags, sym_pageflags),
)

# The SMP file pair (issue 12): ops/smp.py and encode/ops/smp.py, with the same functions
# except the concrete-only ones below.  Not in PAIRS (so not yet in mirrored() and the
# one-layer mutants) until specs run the SMP check and can catch its mutants.
SMP_PAIR: tuple[ModuleType, ModuleType] = (smp, sym_smp)
SMP_CONCRETE_ONLY = {
    "compile_program": "turns a step list into a program: both sides run the compiled CpuProgram",
    "build": "builds the System a spec describes: both sides run the same System",
}
# ops/smp.py Cpu's methods and properties; encode/ops/smp.py SymCpu has each (plus its
# z3 helpers: `when`, what an `if` on a cell becomes, and the If-chain frame accessors).
SMP_CPU_SYM_ONLY = ("when", "frame_cell", "set_frame_cell")

# The primitives steps are built from (ops/machine.py Cpu, encode/ops/step.py SymCpu).
PRIMITIVES = (
    "read", "store", "atomic_add", "test_flag", "set_flag", "remap_free", "remap_alloc", "update", "stop",
    "free_to_buddy", "folio_put_refs",
)  # fmt: skip

# Readers only the concrete side has, and why the z3 side needs no twin.
CONCRETE_ONLY_READERS = {
    "flags": "a word accessor: Page.field(mem, W_FLAGS) on the z3 side",
    "compound_head_word": "a word accessor: Page.field(mem, W_COMPOUND_HEAD) on the z3 side",
    "kpageflags": "composed from page_head/page_tail/page_huge in encode/invariants/static.py kpageflags()",
}

# The remap walk: model/remap.py (optimize(): vmemmap_remap_free() on the literal
# vmemmap) against encode/folio.py SymFolio.pte() and freed_orig() (closed form).
REMAP_WALK = ("vmemmap_remap_free",)


def functions(module: ModuleType) -> set[str]:
    """The functions defined in the module (kernel names with leading underscores count:
    __folio_clear_hugetlb is a kernel function; one underscore marks a private helper)."""
    return {
        name
        for name, value in vars(module).items()
        if inspect.isfunction(value)
        and value.__module__ == module.__name__
        and (not name.startswith("_") or name.startswith("__"))
    }


def mirrored() -> tuple[str, ...]:
    """Every mirrored function, as `kind:name`: `readers:`, `<subsystem>:` (ops/ and
    encode/ops/ files), `cpu:` (primitives), `static:` and `reachable:` (invariant ids),
    `remap:`; sorted within each kind."""
    out = [f"readers:{name}" for name in sorted(functions(readers) & functions(sym_readers))]
    for concrete, symbolic in PAIRS:
        subsystem = concrete.__name__.rsplit(".", 1)[1]
        out += [f"{subsystem}:{name}" for name in sorted(functions(concrete) & functions(symbolic))]
    out += [f"cpu:{name}" for name in PRIMITIVES]
    out += [f"static:{inv}" for inv in INVARIANTS]
    out += [f"reachable:{inv}" for inv in OP_INVARIANTS]
    out += [f"remap:{name}" for name in REMAP_WALK]
    return tuple(out)
