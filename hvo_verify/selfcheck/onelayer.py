# SPDX-License-Identifier: GPL-2.0-only
"""One-layer mutants: a deliberate bug in ONE side of the mirror (the concrete model or
its z3 encoding), for every mirrored function (selfcheck/mirror.py `mirrored()`).

The mutants of selfcheck/mutants.py patch both sides alike, so killing them says the
suite sees a kernel bug; it says nothing about a bug in one layer only, which makes
the two sides disagree.  Here every mirrored function gets a concrete-only and a
z3-only mutant; where a two-sided mutant of mutants.py breaks that function, its two
halves serve (`half()`), else a change written once per side here: a dropped effect
(the function returns at once), a wrong bit, an off-by-one, a test that always fails.

What kills them is a comparison of the two sides (mutants.py `run_mutant()`): first the
hinted checks, where a z3 counterexample the concrete model does not reproduce raises
EncodingMismatch (a "replay" kill) or the verdict changes; then, for checks that stay
proved (no counterexample to replay), the concrete model against the z3 model directly
(mutants.py `COMPARISONS`): check/lockstep.py runs fixed short traces (every operation,
fake heads, every hwpoison policy) on the concrete model and asks the unrolling, pinned
to the same steps, for its state after each step (scalars, PTEs, struct page words,
the readers); the static differential covers the readers, the static invariants and
the remap walk.  A one-layer mutant no comparison can tell apart is listed in
`EQUIVALENT` with the reason.

The z3 side uses only the encode layer's own terms and Python operators (no z3 import
here).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from typing import Any

from hvo_verify.encode import readers as er
from hvo_verify.encode.invariants.reachable import VIOLATIONS
from hvo_verify.encode.invariants.reachable import WITNESSES as SYM_WITNESSES
from hvo_verify.encode.invariants.static import BUILDERS, Query
from hvo_verify.encode.memory import Page, SymMemory, Val
from hvo_verify.encode.ops.step import SUBSYSTEMS as SYM_SUBSYSTEMS
from hvo_verify.encode.ops.step import StepGen, Store, SymCpu
from hvo_verify.encode.terms import FALSE, TRUE
from hvo_verify.invariants.reachable import OP_INVARIANTS
from hvo_verify.invariants.static import INVARIANTS
from hvo_verify.model import readers as mr
from hvo_verify.model.facts import MASK64, W_COUNTS, WORD
from hvo_verify.ops.machine import SUBSYSTEMS, Cpu
from hvo_verify.selfcheck import mutants as mm
from hvo_verify.selfcheck.mirror import mirrored
from hvo_verify.selfcheck.mutants import Mutant, Patch, everywhere, half

Patches = Callable[[], Sequence[Patch]]


# ---------------------------------------------------------------- changes written once per side


def _always_false(name: str) -> list[Patch]:
    """A page-flags test that never holds (the reader still reads what it read)."""
    orig_c, orig_s = getattr(mr, name), getattr(er, name)

    def concrete(mem: Any, page: int) -> bool:
        orig_c(mem, page)
        return False

    def symbolic(mem: SymMemory, page: Page) -> Val:
        return Val(FALSE, orig_s(mem, page).fault)

    return [*everywhere(orig_c, concrete), *everywhere(orig_s, symbolic)]


def _phys_next_page() -> list[Patch]:
    orig_c, orig_s = mr.page_to_phys, er.page_to_phys

    def concrete(mem: Any, page: int) -> int:
        return (orig_c(mem, page) + mem.config.page_size) & MASK64

    def symbolic(mem: SymMemory, page: Page) -> Val:
        got = orig_s(mem, page)
        return Val(got.value + mem.config.page_size, got.fault)

    return [*everywhere(orig_c, concrete), *everywhere(orig_s, symbolic)]


def _dropped(subsystem: str, name: str) -> list[Patch]:
    """The kernel function returns at once: none of its stores, state changes or early
    returns happen."""

    def concrete(cpu: Cpu) -> None:
        return None

    def symbolic(cpu: SymCpu) -> StepGen:
        yield from ()

    orig_c, orig_s = getattr(SUBSYSTEMS[subsystem], name), getattr(SYM_SUBSYSTEMS[subsystem], name)
    return [*everywhere(orig_c, concrete), *everywhere(orig_s, symbolic)]


def _never_merges() -> list[Patch]:
    def concrete(cpu: Cpu, prev_end: int, start: int) -> bool:
        return False

    def symbolic(cpu: SymCpu, prev_end: Any, start: Any) -> Any:
        return FALSE

    return [*everywhere(SUBSYSTEMS["gup"].bvec_try_merge_page, concrete),
            *everywhere(SYM_SUBSYSTEMS["gup"].bvec_try_merge_page, symbolic)]  # fmt: skip


def _mapcount_on_subpage() -> list[Patch]:
    def concrete(cpu: Cpu, i: int) -> tuple[int, int]:
        return cpu.m.page(i) + W_COUNTS * WORD, W_COUNTS

    def symbolic(cpu: SymCpu, i: Any) -> tuple[Any, int]:
        return cpu.u.page(i) + W_COUNTS * WORD, W_COUNTS

    return [*everywhere(SUBSYSTEMS["pageflags"].mapcount_field, concrete),
            *everywhere(SYM_SUBSYSTEMS["pageflags"].mapcount_field, symbolic)]  # fmt: skip


def _primitive(name: str) -> list[Patch]:
    """One CPU primitive broken alike on Cpu and SymCpu (see PRIMITIVE_BUGS)."""
    orig_c, orig_s = getattr(Cpu, name), getattr(SymCpu, name)
    concrete, symbolic = _PRIMITIVE_BODIES[name](orig_c, orig_s)
    return [(Cpu, name, concrete), (SymCpu, name, symbolic)]


def _read(orig_c: Any, orig_s: Any) -> tuple[Callable[..., Any], Callable[..., Any]]:
    def concrete(self: Cpu, vaddr: int) -> int:
        return int(orig_c(self, vaddr)) & ~1 & MASK64

    def symbolic(self: SymCpu, vaddr: Any, field: int | None = None, cond: Any = None) -> Any:
        return orig_s(self, vaddr, field, *(() if cond is None else (cond,))) & ~1

    return concrete, symbolic


def _store(orig_c: Any, orig_s: Any) -> tuple[Callable[..., Any], Callable[..., Any]]:
    def concrete(self: Cpu, vaddr: int, value: int) -> None:
        return None

    def symbolic(self: SymCpu, vaddr: Any, value: Any, field: int | None = None, cond: Any = None) -> Store:
        return Store(FALSE, vaddr, value, field)

    return concrete, symbolic


def _atomic_add(orig_c: Any, orig_s: Any) -> tuple[Callable[..., Any], Callable[..., Any]]:
    def concrete(self: Cpu, vaddr: int, delta: int, high: bool) -> None:
        orig_c(self, vaddr, 2 * delta, high)

    def symbolic(self: SymCpu, vaddr: Any, field: int, delta: Any, high: bool, *rest: Any) -> Store:
        return orig_s(self, vaddr, field, delta * 2, high, *rest)

    return concrete, symbolic


def _test_flag(orig_c: Any, orig_s: Any) -> tuple[Callable[..., Any], Callable[..., Any]]:
    def concrete(self: Cpu, page: int, bit: int) -> bool:
        orig_c(self, page, bit)
        return False

    def symbolic(self: SymCpu, page: Any, bit: int, cond: Any = None) -> Any:
        orig_s(self, page, bit, *(() if cond is None else (cond,)))
        return FALSE

    return concrete, symbolic


def _set_flag(orig_c: Any, orig_s: Any) -> tuple[Callable[..., Any], Callable[..., Any]]:
    def concrete(self: Cpu, page: int, bit: int, on: bool, *, rmw: bool = False) -> None:
        orig_c(self, page, bit + 1, on, rmw=rmw)

    def symbolic(self: SymCpu, page: Any, bit: int, on: bool, *rest: Any, rmw: bool = False) -> Store:
        return orig_s(self, page, bit + 1, on, *rest, rmw=rmw)

    return concrete, symbolic


def _alloc_fails(orig_c: Any, orig_s: Any) -> tuple[Callable[..., Any], Callable[..., Any]]:
    def concrete(self: Cpu, alloc_ok: bool) -> Any:
        return orig_c(self, False)

    def symbolic(self: SymCpu, alloc_ok: Any) -> Any:
        return orig_s(self, FALSE)

    return concrete, symbolic


def _update(orig_c: Any, orig_s: Any) -> tuple[Callable[..., Any], Callable[..., Any]]:
    def concrete(self: Cpu, **fields: object) -> None:
        orig_c(self, **{k: v for k, v in fields.items() if k != "pool"})

    def symbolic(self: SymCpu, *when: Any, **fields: Any) -> None:
        orig_s(self, *when, **{k: v for k, v in fields.items() if k != "pool"})

    return concrete, symbolic


def _no_op(orig_c: Any, orig_s: Any) -> tuple[Callable[..., Any], Callable[..., Any]]:
    def concrete(self: Cpu, *args: Any, **kwargs: Any) -> None:
        return None

    def symbolic(self: SymCpu, *args: Any, **kwargs: Any) -> None:
        return None

    return concrete, symbolic


_PRIMITIVE_BODIES: dict[str, Callable[[Any, Any], tuple[Callable[..., Any], Callable[..., Any]]]] = {
    "read": _read,
    "store": _store,
    "atomic_add": _atomic_add,
    "test_flag": _test_flag,
    "set_flag": _set_flag,
    "remap_free": _alloc_fails,
    "remap_alloc": _alloc_fails,
    "update": _update,
    "stop": _no_op,
    "free_to_buddy": _no_op,
}

# What each primitive's bug is, in kernel terms (the mutant's summary).
PRIMITIVE_BUGS = {
    "read": "READ_ONCE() of a vmemmap word loses bit 0 (the compound_head tail bit, PG_locked)",
    "store": "WRITE_ONCE() of a vmemmap word is lost",
    "atomic_add": "atomic_add() on a _refcount/_mapcount half adds its delta twice",
    "test_flag": "test_bit() on page->flags never sees the bit set",
    "set_flag": "set_bit()/clear_bit() on page->flags one bit too high",
    "remap_free": "vmemmap_remap_free() is always told its page allocation failed (alloc_pages_node() result ignored)",
    "remap_alloc": "vmemmap_remap_alloc() always fails its allocation (alloc_pages_node() result ignored)",
    "update": "the hugetlb pool lists (enqueue/dequeue, folio->lru) are never changed",
    "stop": "an early `return` of the kernel function is dropped (the rest of the operation runs)",
    "free_to_buddy": "__free_pages() of the folio's pages is dropped",
}


def _static_never_fires(inv_id: str) -> list[Patch]:
    inv, builder = INVARIANTS[inv_id], BUILDERS[inv_id]

    def symbolic(f: Any) -> Query:
        return dataclasses.replace(builder(f), violation=FALSE)

    never = dataclasses.replace(inv, check=lambda _mem, _i: None)
    return [*everywhere(inv, never), *everywhere(builder, symbolic)]


def _reachable_never_fires(inv_id: str) -> list[Patch]:
    inv, violation = OP_INVARIANTS[inv_id], VIOLATIONS[inv_id]

    def symbolic(u: Any, st: Any) -> Any:
        return FALSE

    never = dataclasses.replace(inv, check=lambda _m, _before, _out: None)
    return [*everywhere(inv, never), *everywhere(violation, symbolic)]


# ---------------------------------------------------------------- the catalogue, per mirrored function

# mirrored function -> (what breaks, the kernel function cited, the two-sided bug, hint).
Bug = tuple[str, Patches, tuple[str, ...]]

_V518 = "presets/v5.18.toml:head-tail-exact,kpageflags"
_RESTORE = "must-catch/ops-restore-without-reset.toml"
_FREE = ("objections/hwpoison-head-index-two-errors.toml", "objections/hwpoison-raw-hwp-list.toml")
_ALLOC = ("objections/pg-arch-1-writable-aliases.toml", "must-catch/ops-gup-refs-on-subpage.toml")
_IO = ("must-catch/ops-gup-returns-representative.toml", "objections/gup-fifth-page.toml#v5.14")
_RMAP = ("objections/double-mapping-per-subpage.toml", "objections/double-mapping-folio.toml")
_DCACHE = ("objections/pg-arch-1-read-only.toml", "objections/pg-arch-1-writable-aliases.toml")
_OPS = ("objections/hwpoison-raw-flag-rfc-2020.toml", "must-catch/ops-gup-refs-on-subpage.toml", _RESTORE)

# Steps of the operations whose hints name the specs that run them.
_STEP_HINTS: dict[str, tuple[str, ...]] = {
    "pool:hugetlb_vmemmap_optimize_folio": ("objections/hwpoison-raw-flag-v5.14.toml",),
    "pool:hugetlb_vmemmap_restore_folio": (_RESTORE,),
    "pool:dequeue_hugetlb_folio_node_exact": _ALLOC,
    "pool:alloc_hugetlb_folio": _ALLOC,
    "pool:zap_huge_pmd": _RMAP,
    "pool:folio_put": _RMAP,
    "pool:remove_hugetlb_folio": ("objections/b5-dissolve-window.toml",),
    "pool:add_hugetlb_folio": _FREE,
    "pool:__folio_clear_hugetlb": _FREE,
    "pool:__free_pages": _FREE,
    "hwpoison:folio_test_hugetlb_raw_hwp_unreliable": _FREE,
    "hwpoison:folio_clear_hugetlb_hwpoison": _FREE,
    "hwpoison:memory_failure": ("objections/hwpoison-raw-flag-rfc-2020.toml",),
    "hwpoison:set_subpage_hwpoison": ("objections/hwpoison-rfc-2020-as-posted.toml",),
    "gup:get_user_pages_fast": ("must-catch/ops-gup-refs-on-subpage.toml",),
    "gup:put_page": ("must-catch/ops-gup-refs-on-subpage.toml",),
    "gup:pin_user_pages_fast": _IO,
    "gup:submit_bio": _IO,
    "gup:bio_vec_offset": _IO,
    "gup:bvec_try_merge_page": _IO,
    "gup:unpin_user_pages_dirty_lock": ("objections/gup-fifth-page.toml#v5.14",),
    "pageflags:sync_icache_dcache": _DCACHE,
    "pageflags:flush_dcache_page": _DCACHE,
    "pageflags:pg_arch_1_page": _DCACHE,
    "pageflags:mapcount_field": _RMAP,
    "pageflags:page_add_file_rmap": _RMAP,
    "pageflags:write_struct_page": ("must-catch/ops-write-struct-page.toml",),
}

# A spec that expects each invariant violated: an invariant that never fires on one side
# is a verdict (z3) or a counterexample that does not replay (concrete) there.
_VIOLATED_HINT = {
    "head-resolution": "must-catch/v5.18-without-fake-head-fix.toml:head-resolution",
    "head-tail-exact": "must-catch/v5.18-without-fake-head-fix.toml:head-tail-exact",
    "kpageflags": "must-catch/v5.18-without-fake-head-fix.toml:kpageflags",
    "address-identity": "must-catch/gup-returns-representative.toml:address-identity",
    "layout-soundness": "must-catch/metadata-on-writable-alias.toml:layout-soundness",
    "no-dangling-frame": "must-catch/freed-frame-still-mapped.toml:no-dangling-frame",
    "accounting": "must-catch/no-net-saving.toml:accounting",
    "decoders-agree": "regressions/2026-page-slab-open-coded.toml:decoders-agree",
    "dma-exact": "must-catch/ops-gup-returns-representative.toml:dma-exact",
    "alias-write": "objections/pg-arch-1-writable-aliases.toml:alias-write",
    "ro-write": "objections/hwpoison-raw-flag-v5.14.toml:ro-write",
    "read-fault": "objections/willy-misreading-compound-head.toml:read-fault",
    "hwpoison-exact": "objections/hwpoison-head-index-two-errors.toml:hwpoison-exact",
    "hwpoison-freed": "objections/hwpoison-head-index-two-errors.toml:hwpoison-freed",
    "restore-identity": "must-catch/ops-restore-without-reset.toml:restore-identity",
    "refcount": "must-catch/ops-gup-refs-on-subpage.toml:refcount",
    "only-hugetlb-optimized": "objections/b5-dissolve-window.toml:only-hugetlb-optimized",
    "vmemmap-frame-freeable": "regressions/2022-vmemmap-pmd-split-page.toml:vmemmap-frame-freeable",
    "restore-progress": "regressions/2023-restore-movable-node.toml:restore-progress",
}


def _by_name(name: str) -> Mutant:
    return next(m for m in mm.MUTANTS if m.name == name)


def _reused(name: str) -> Bug:
    """A two-sided mutant of mutants.py whose halves serve."""
    mutant = _by_name(name)
    return mutant.summary, mutant.patches, mutant.hint


def bug(key: str) -> Bug:
    """The two-sided bug whose halves are the one-layer mutants of `key`."""
    kind, _, name = key.partition(":")
    reader_reuse = {
        "compound_head": "compound-head-keeps-tail-bit",
        "page_fixed_fake_head": "no-fake-head-fix",
        "page_head": "page-head-ignores-fake-heads",
        "page_tail": "page-tail-bit0-only",
        "page_huge": "page-huge-reads-subpage",
        "page_to_pfn": "page-to-pfn-off-by-one",
        "pfn_to_page": "pfn-to-page-off-by-one",
    }
    step_reuse = {
        "add_hugetlb_folio": "restore-failure-frees-to-buddy",
        "alloc_hugetlb_folio": "alloc-without-ref-unfreeze",
        "folio_clear_hugetlb_hwpoison": "free-path-drops-raw-hwp-list",
        "submit_bio": "bvec-offset-in-page",
        "bio_vec_offset": "bvec-offset-of-first-page",
        "pg_arch_1_page": "pg-arch-1-on-subpage",
    }
    if kind == "readers" and name in reader_reuse:
        return _reused(reader_reuse[name])
    if kind == "readers" and name == "page_to_phys":
        return ("include/asm-generic/memory_model.h page_to_phys(): PFN_PHYS(pfn + 1), the next page's address",
                _phys_next_page, ("must-catch/ops-gup-returns-representative.toml:dma-exact",))  # fmt: skip
    if kind == "readers":
        what = f"include/linux/page-flags.h {name}() never holds (its test dropped)"
        hint = ("presets/none.toml:kpageflags",) if name == "page_compound" else (_V518,)
        return what, functools.partial(_always_false, name), hint
    if kind == "cpu" and name == "folio_put_refs":
        return _reused("unpin-drops-one-ref-per-folio-run")
    if kind == "cpu":
        return f"{PRIMITIVE_BUGS[name]} (ops/machine.py Cpu.{name}())", functools.partial(_primitive, name), _OPS
    if kind == "static":
        return (f"the {name} invariant's check dropped (invariants/static.py, its kernel rule never checked())",
                functools.partial(_static_never_fires, name), (_VIOLATED_HINT[name],))  # fmt: skip
    if kind == "reachable":
        return (f"the {name} invariant's check dropped (invariants/reachable.py, its kernel rule never checked())",
                functools.partial(_reachable_never_fires, name), (_VIOLATED_HINT[name],))  # fmt: skip
    if kind == "remap":
        return _reused("stale-tlb-last-vmemmap-page")
    if name in step_reuse:
        return _reused(step_reuse[name])
    if name == "bvec_try_merge_page":
        what = "block/bio.c bvec_try_merge_page() never merges: every page is its own bio_vec"
        return what, _never_merges, _STEP_HINTS[key]
    if name == "mapcount_field":
        what = "mm/rmap.c page_add_file_rmap(): folio_mapcount_ptr() replaced by the subpage's _mapcount"
        return what, _mapcount_on_subpage, _STEP_HINTS[key]
    what = f"{name}() returns at once: its stores, state changes and early returns are dropped"
    return what, functools.partial(_dropped, kind, name), _STEP_HINTS[key]


def _slug(key: str) -> str:
    kind, _, name = key.partition(":")
    return f"{kind}-{name.strip('_').replace('_', '-')}"


def one_layer(key: str, layer: str) -> Mutant:
    what, patches, hint = bug(key)
    where = "concrete model only" if layer == "concrete" else "z3 encoding only"
    return Mutant(f"{layer}-only-{_slug(key)}", f"{what} [{where}]", hint, half(patches, layer), layer, key)


ONE_LAYER: tuple[Mutant, ...] = tuple(one_layer(key, layer) for key in mirrored() for layer in ("concrete", "z3"))

# One-layer mutants no comparison of the two sides can kill: name -> why they cannot
# change any observable behaviour.
_MERGE_EQUIVALENT = (
    "block/bio.c bvec_try_merge_page() merges a page into the last bio_vec only when it starts exactly where "
    "that bio_vec ends (prev_end == start), and a merged bio_vec puts those bytes at prev_end, i.e. at start: "
    "merging or not changes only how the bytes are cut into segments, never the physical address any byte is "
    "written to.  Within one folio GUP's pages are consecutive struct pages (page + j), so the case where the "
    "decision could matter (a merge of pages that are not contiguous) cannot arise; dma-exact (per byte) and "
    "the z3 side (which keeps where each page's bytes land, not the segments) cannot tell the mutant apart"
)
EQUIVALENT: dict[str, str] = {
    "concrete-only-gup-bvec-try-merge-page": _MERGE_EQUIVALENT,
    "z3-only-gup-bvec-try-merge-page": _MERGE_EQUIVALENT,
}


# -- witnesses (issue 13): a z3 witness condition that always holds, and one that never
# does.  The first claims a situation the kernel cannot reach at that step: the witness
# run does not replay (the concrete predicate fails), a "replay" kill.  The second makes
# every proof of its invariant `unreached`: a verdict kill.  Not in `mirrored()` (the
# witnesses are not kernel rules), so written here, z3 side only.
def _witness_always(wid: str) -> list[Patch]:
    def symbolic(u: Any, st: Any) -> Any:
        return TRUE

    return everywhere(SYM_WITNESSES[wid], symbolic)


def _witness_never(wid: str) -> list[Patch]:
    def symbolic(u: Any, st: Any) -> Any:
        return FALSE

    return everywhere(SYM_WITNESSES[wid], symbolic)


_UNREACHED_SPEC = "must-catch/unreached-dma-depth-2.toml"
WITNESS_MUTANTS: tuple[Mutant, ...] = (
    Mutant("z3-only-witness-always", "the dma-exact witness (submit_bio() into an optimized folio) holds at every "
           "step [z3 encoding only]", (f"{_UNREACHED_SPEC}:dma-exact",),
           functools.partial(_witness_always, "dma-optimized"), "z3"),
    Mutant("z3-only-witness-never", "the ro-write witness (a store to a struct page of an optimized folio, "
           "alloc_hugetlb_folio() folio_ref_unfreeze()) never holds [z3 encoding only]", (f"{_UNREACHED_SPEC}:ro-write",),
           functools.partial(_witness_never, "store-optimized"), "z3"),
)  # fmt: skip

CATALOGUE: tuple[Mutant, ...] = (*mm.MUTANTS, *ONE_LAYER, *WITNESS_MUTANTS)


def comparison_specs(mutant: Mutant) -> Sequence[str]:
    """The hinted specs, as hints name them (relative to specs/)."""
    return tuple(dict.fromkeys(mm.parse_hint(h)[0] for h in mutant.hint))
