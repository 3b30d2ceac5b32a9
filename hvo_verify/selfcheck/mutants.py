# SPDX-License-Identifier: GPL-2.0-only
"""Mutation testing of the model: break the kernel model on purpose and check that the
spec suite notices.

A `Mutant` is one deliberate kernel bug.  Applying it (`with mutant.apply():`) patches
module attributes, as unittest.mock.patch does, and undoes them on exit.  Every mutant
changes the concrete model (hvo_verify/model and hvo_verify/ops, what counterexamples
replay on) and the z3 encoding of the same function (hvo_verify/encode) alike: one
patched function per side of the mirror (tests/must_catch/test_mutants.py checks it), so
that a kill is a verdict that differs from the spec's expectation; a kill by an
EncodingMismatch (a counterexample the concrete model does not reproduce) is counted
too, but as a "replay" kill.  Three kinds of patch, all on model, ops or encode code,
none on a spec or an expectation:

* a function or method replaced (in every module that bound it, `from x import f`
  included, and in registries such as encode/invariants/static.py BUILDERS);
* a preset scheme changed in model.scheme.PRESETS (what the model says a kernel version
  does), read by both layers when the specs are loaded;
* a kernel behaviour forced on every `Machine` (ops/machine.py): the operations and
  their unrolling (encode/ops reads `machine.policies`) both run it.

The z3 side of a mutation uses only the encode layer's own terms and helpers and Python
operators on them (`&`, `|`, `~`, `+`): no z3 import here (tests/unit/test_layering.py).

`run_mutation()` applies each mutant in a fresh forked process and checks the suite one
(spec, invariant, config) at a time through check_specs(): the checks its hint names
first, then the rest of those specs, then every other spec.  It stops after the first
group of checks (a hint, or a spec) that kills the mutant, unless `full=True`.  Then it
runs the same checks with no mutant: every kill must be on a check that matches its
expectation unmutated, or it means nothing (with `full=True` that baseline is the whole
suite).  Nothing here prints.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import multiprocessing
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from hvo_verify.check import bmc, lockstep
from hvo_verify.check.result import CheckResult
from hvo_verify.check.suite import check_specs
from hvo_verify.encode import readers as er
from hvo_verify.encode.folio import K_ORIG, SymFolio, select_pte
from hvo_verify.encode.folio import Pte as SymPte
from hvo_verify.encode.invariants import static as enc_static
from hvo_verify.encode.memory import Page, SymMemory, Val
from hvo_verify.encode.ops import gup as sym_gup
from hvo_verify.encode.ops import hwpoison as sym_hwpoison
from hvo_verify.encode.ops import pageflags as sym_pageflags
from hvo_verify.encode.ops import pool as sym_pool
from hvo_verify.encode.ops.state import POOL, SymKState
from hvo_verify.encode.ops.step import StepGen, Store, SymCpu
from hvo_verify.encode.terms import FALSE, TRUE, bv
from hvo_verify.errors import EncodingMismatch
from hvo_verify.invariants import static as inv_static
from hvo_verify.invariants.reachable import OP_INVARIANTS
from hvo_verify.invariants.static import INVARIANTS
from hvo_verify.model import accounting, facts, remap
from hvo_verify.model import readers as mr
from hvo_verify.model import structpage as sp
from hvo_verify.model import vmemmap as vm
from hvo_verify.model.facts import MASK64, WORD, FrameId, FrameKind, orig
from hvo_verify.model.policy import Arch1, GupRefs, HugetlbClear, Hwpoison, Mapcount, RestoreGfp
from hvo_verify.model.scheme import PRESETS, Encoding, HeadCopy, Scheme, Target
from hvo_verify.model.vmemmap import Pte, VmemmapState
from hvo_verify.ops import gup as ops_gup
from hvo_verify.ops import hwpoison as ops_hwpoison
from hvo_verify.ops import pageflags as ops_pageflags
from hvo_verify.ops import pool as ops_pool
from hvo_verify.ops.machine import Cpu, Machine
from hvo_verify.ops.state import Pool
from hvo_verify.ops.table import OPS
from hvo_verify.selfcheck import differential
from hvo_verify.selfcheck.section import Section
from hvo_verify.specs.loader import load_specs
from hvo_verify.specs.schema import Spec
from hvo_verify.verdict import Verdict

NAME = "mutation"
KILLERS_SHOWN = 3  # kills recorded per mutant: its killing group of checks stops there unless full

# (owner, attribute or key, replacement): owner is a module, a class or a dict.
Patch = tuple[object, str, object]


@dataclass(frozen=True)
class Mutant:
    """One deliberate kernel bug, in kernel terms, and how to plant it in the model."""

    name: str  # kebab-case
    summary: str  # what the broken kernel does, with the kernel function it breaks
    hint: tuple[str, ...]  # `spec` or `spec:inv,inv` (spec relative to specs/): checked first
    patches: Callable[[], Sequence[Patch]]  # built when applied (wraps the current code)
    layer: str = "both"  # "both" sides of the mirror alike, or only "concrete" or only "z3" (LAYERS)
    mirrors: str = ""  # a one-layer mutant: the mirrored function it breaks (selfcheck/mirror.py `mirrored()`)

    @contextlib.contextmanager
    def apply(self) -> Iterator[None]:
        """Plant the mutation; every patch is undone on exit, even on an exception."""
        with contextlib.ExitStack() as stack:
            for owner, attr, value in self.patches():
                if isinstance(owner, dict):
                    stack.enter_context(mock.patch.dict(owner, {attr: value}))
                else:
                    stack.enter_context(mock.patch.object(owner, attr, value))
            clear_check_caches()
            try:
                yield
            finally:
                clear_check_caches()


LAYERS = ("both", "concrete", "z3")


def side(patch: Patch) -> str:
    """`z3` when the patched binding holds encode/ code (a function, method or registry
    entry defined under hvo_verify/encode), else `concrete` (model/, ops/, invariants/)."""
    owner, attr, _value = patch
    original = owner[attr] if isinstance(owner, dict) else getattr(owner, attr)
    module = (
        getattr(original, "__module__", None) or getattr(owner, "__module__", None) or getattr(owner, "__name__", "")
    )
    return "z3" if str(module).startswith("hvo_verify.encode") else "concrete"


def half(patches: Callable[[], Sequence[Patch]], layer: str) -> Callable[[], list[Patch]]:
    """The `layer` side ("concrete" or "z3") of a mutation written for both sides."""
    return lambda: [p for p in patches() if side(p) == layer]


def clear_check_caches() -> None:
    """The checker caches the last unrolling and its assumption checks per process
    (check/bmc.py `UNROLLINGS`); a cache filled under another mutant (or none) must not be reused."""
    bmc.UNROLLINGS.clear()


def everywhere(original: object, replacement: object) -> list[Patch]:
    """Every binding of `original` in the loaded hvo_verify modules: module globals
    (`from x import f` included) and module-level registries (BUILDERS, OP_ENCODERS)."""
    out: list[Patch] = []
    registries: set[int] = set()
    for modname, module in sorted(sys.modules.items()):
        if modname.split(".")[0] != "hvo_verify" or modname.startswith(__name__.rpartition(".")[0]):
            continue
        for attr, value in list(vars(module).items()):
            if attr.startswith("__") and attr.endswith("__"):  # not __free_pages, a kernel name
                continue
            if value is original:
                out.append((module, attr, replacement))
            elif isinstance(value, dict) and id(value) not in registries:  # the same dict seen from two modules
                registries.add(id(value))
                out += [(value, key, replacement) for key, v in value.items() if v is original and isinstance(key, str)]
    return out


def presets(change: Callable[[Scheme], Scheme]) -> list[Patch]:
    """Replace the optimizing presets of model.scheme.PRESETS by `change(preset)`."""
    out: list[Patch] = []
    for name, scheme in PRESETS.items():
        new = change(scheme) if scheme.optimizes else scheme
        if new != scheme:
            out.append((PRESETS, name, new))
    return out


def forced_policies(**changes: Any) -> list[Patch]:
    """Every Machine (the concrete operations and, through `machine.policies`, their
    unrolling) behaves as `changes` say, whatever its kernel version or spec says."""
    original = Machine.__init__

    def init(self: Machine, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        object.__setattr__(self, "policies", dataclasses.replace(self.policies, **changes))

    return [(Machine, "__init__", init)]


def with_state(cpu: SymCpu, change: Callable[[SymKState], SymKState], gen: StepGen) -> StepGen:
    """Run a step function with the operation's state replaced by `change(state)` (the
    unrolling runs each operation's steps to completion before the next, so the swap is
    private to it)."""
    saved = cpu.before, dict(cpu.updates)
    cpu.before, cpu.updates = change(cpu.s), {}
    try:
        yield from gen
    finally:
        changed = cpu.updates
        cpu.before, cpu.updates = saved[0], {**saved[1], **changed}


# ---------------------------------------------------------------- compound_head and friends
# A reader mutant is two patches: model/readers.py and encode/readers.py (which both the
# static folio and the unrolling read through).


def _no_fake_head_fix() -> list[Patch]:
    def concrete(mem: Any, page: int) -> int:
        return page

    def symbolic(mem: SymMemory, page: Page) -> Val:
        return Val(page.rel, FALSE)

    return [*everywhere(mr.page_fixed_fake_head, concrete), *everywhere(er.page_fixed_fake_head, symbolic)]


def _compound_head_keeps_tail_bit() -> list[Patch]:
    orig_c, orig_s = mr.compound_head, er.compound_head

    def concrete(mem: Any, page: int) -> int:
        head = orig_c(mem, page)
        if mem.folio.scheme.encoding is Encoding.MASK:
            return head
        return (head + (mr.compound_head_word(mem, page) & 1)) & MASK64

    def symbolic(mem: SymMemory, page: Page) -> Val:
        got = orig_s(mem, page)
        if mem.scheme.encoding is Encoding.MASK:
            return got
        info = page.field(mem, facts.W_COMPOUND_HEAD)
        return Val(got.value + (info.value & 1), got.fault)

    return [*everywhere(orig_c, concrete), *everywhere(orig_s, symbolic)]


def _mask_decode_without_tail_bit() -> list[Patch]:
    orig_c, orig_s = mr.compound_head, er.compound_head

    def concrete(mem: Any, page: int) -> int:
        if mem.folio.scheme.encoding is not Encoding.MASK:
            return orig_c(mem, page)
        return page & mr.compound_head_word(mem, page)

    def symbolic(mem: SymMemory, page: Page) -> Val:
        if mem.scheme.encoding is not Encoding.MASK:
            return orig_s(mem, page)
        info = page.field(mem, facts.W_COMPOUND_HEAD)
        return Val(mem.from_absolute(mem.absolute(page) & info.value), info.fault)

    return [*everywhere(orig_c, concrete), *everywhere(orig_s, symbolic)]


def _genmask_off_by_one() -> list[Patch]:
    def tail_info(config: Any) -> int:
        shift = config.order + (config.struct_page_size - 1).bit_length() - 1
        return ((MASK64 >> shift) << shift) | 1

    return everywhere(sp.tail_info, tail_info)


def _page_head_ignores_fake_heads() -> list[Patch]:
    return [*everywhere(mr.page_head, mr.test_page_head), *everywhere(er.page_head, er.test_page_head)]


def _page_tail_bit0_only() -> list[Patch]:
    def concrete(mem: Any, page: int) -> bool:
        return bool(mr.compound_head_word(mem, page) & 1)

    def symbolic(mem: SymMemory, page: Page) -> Val:
        info = page.field(mem, facts.W_COMPOUND_HEAD)
        return Val((info.value & 1) == 1, info.fault)

    return [*everywhere(mr.page_tail, concrete), *everywhere(er.page_tail, symbolic)]


def _page_huge_reads_subpage() -> list[Patch]:
    def concrete(mem: Any, page: int) -> bool:
        if not mr.page_compound(mem, page):
            return False
        info = mem.read_word(page + mem.folio.size + facts.W_FOLIO_INFO * WORD)
        return mem.folio.scheme.facts.compound_dtor(info) == facts.HUGETLB_PAGE_DTOR

    def symbolic(mem: SymMemory, page: Page) -> Val:
        compound = er.page_compound(mem, page)
        info = page.next(mem).field(mem, facts.W_FOLIO_INFO)
        dtor = (info.value >> 8) & 0xFF == facts.HUGETLB_PAGE_DTOR
        return Val(compound.value & dtor, compound.fault | (compound.value & info.fault))

    return [*everywhere(mr.page_huge, concrete), *everywhere(er.page_huge, symbolic)]


# ---------------------------------------------------------------- pfn <-> struct page


def _page_to_pfn_off_by_one() -> list[Patch]:
    orig_c, orig_s = mr.page_to_pfn, er.page_to_pfn

    def concrete(mem: Any, page: int) -> int:
        return orig_c(mem, page) + 1

    def symbolic(mem: SymMemory, page: Page) -> Val:
        got = orig_s(mem, page)
        return Val(got.value + 1, got.fault)

    return [*everywhere(orig_c, concrete), *everywhere(orig_s, symbolic)]


def _pfn_to_page_off_by_one() -> list[Patch]:
    orig_c, orig_s = mr.pfn_to_page, er.pfn_to_page

    def concrete(mem: Any, pfn: int) -> int:
        return orig_c(mem, pfn + 1)

    def symbolic(mem: SymMemory, i: Any) -> Page:
        return orig_s(mem, i + 1)

    return [*everywhere(orig_c, concrete), *everywhere(orig_s, symbolic)]


# ---------------------------------------------------------------- the remap walk


def _writable(s: Scheme) -> Scheme:
    return s if s.target is Target.UNMAPPED else dataclasses.replace(s, writable_aliases=True)


def _reuse_one_page_too_far(s: Scheme) -> Scheme:
    return dataclasses.replace(s, target_page=s.target_page + 1) if s.target is Target.PAGE else s


def _reuse_head_page(s: Scheme) -> Scheme:
    return dataclasses.replace(s, target_page=0) if s.target is Target.PAGE and s.target_page == 1 else s


def _reserve_one_page(s: Scheme) -> Scheme:
    return dataclasses.replace(s, private=(0,)) if s.private == (0, 1) else s


def _pte_clear(s: Scheme) -> Scheme:
    return dataclasses.replace(s, target=Target.UNMAPPED, writable_aliases=False)


def _stale_tlb_last_page() -> list[Patch]:
    orig_opt, orig_pte = remap.optimize, SymFolio.pte

    def concrete(folio: sp.Folio, *, alloc_ok: bool = True) -> VmemmapState:
        state = orig_opt(folio, alloc_ok=alloc_ok)
        last = folio.config.vmemmap_pages - 1
        if not state.optimized or last in folio.scheme.private:
            return state
        vpage = state.first_vpage + last
        return dataclasses.replace(state, ptes={**state.ptes, vpage: Pte(orig(vpage), True)})

    def symbolic(self: SymFolio, k: Any) -> SymPte:
        pte = orig_pte(self, k)
        stale = self.remapped(k) & (k == self.nr_vmemmap - 1)
        return select_pte(stale, SymPte(bv(K_ORIG), k, TRUE, FALSE, bv(0)), pte)

    return [*everywhere(orig_opt, concrete), (SymFolio, "pte", symbolic)]


def _fallback_frees_head_frame() -> list[Patch]:
    orig_opt, orig_freed = remap.optimize, SymFolio.freed_orig

    def concrete(folio: sp.Folio, *, alloc_ok: bool = True) -> VmemmapState:
        state = orig_opt(folio, alloc_ok=alloc_ok)
        if folio.scheme.head_copy is HeadCopy.WITH_FALLBACK and not alloc_ok and state.optimized:
            return dataclasses.replace(state, freed=state.freed | {orig(state.first_vpage)})
        return state

    def symbolic(self: SymFolio, k: Any) -> Any:
        freed = orig_freed(self, k)
        if not self.scheme.optimizes or self.scheme.head_copy is not HeadCopy.WITH_FALLBACK:
            return freed
        return freed | (self.in_folio_vmemmap(k) & (k == 0) & ~self.alloc_ok)

    return [*everywhere(orig_opt, concrete), (SymFolio, "freed_orig", symbolic)]


def _copies_head_reuses_old_frame() -> list[Patch]:
    orig_opt, orig_pte = remap.optimize, SymFolio.pte

    def affected(s: Scheme) -> bool:
        return s.optimizes and s.head_copy is not HeadCopy.NONE and s.target is Target.PAGE and s.target_page == 0

    def concrete(folio: sp.Folio, *, alloc_ok: bool = True) -> VmemmapState:
        state = orig_opt(folio, alloc_ok=alloc_ok)
        if not (affected(folio.scheme) and alloc_ok and state.optimized):
            return state
        first = state.first_vpage
        old = Pte(orig(first), folio.scheme.writable_aliases)
        new = FrameId(FrameKind.NEW, 0)
        ptes = {v: old if v != first and p is not None and p.frame == new else p for v, p in state.ptes.items()}
        return dataclasses.replace(state, ptes=ptes)

    def symbolic(self: SymFolio, k: Any) -> SymPte:
        pte = orig_pte(self, k)
        if not affected(self.scheme):
            return pte
        old = SymPte(bv(K_ORIG), pte.source, pte.writable, pte.changed, pte.delta)
        return select_pte(self.remapped(k), old, pte)

    return [*everywhere(orig_opt, concrete), (SymFolio, "pte", symbolic)]


def _not_applicable_ignores_power_of_2() -> list[Patch]:
    original = vm.not_applicable_reason

    def concrete(config: Any, scheme: Scheme) -> str | None:
        return original(config, dataclasses.replace(scheme, power_of_2_guard=False))

    return everywhere(original, concrete)


# ---------------------------------------------------------------- accounting


def _pte_table_not_counted() -> list[Patch]:
    def pagetable_pages(config: Any, folios: int = 1) -> int:
        return 0

    return everywhere(accounting.pagetable_pages, pagetable_pages)


def _optimizable_size_off_by_one() -> list[Patch]:
    return [(Scheme, "reserve", property(lambda self: len(self.private) + 1))]


# ---------------------------------------------------------------- kernel operations
# An operation mutant patches one step function on each side: ops/<subsystem>.py and
# encode/ops/<subsystem>.py (or a primitive both sides share: Cpu and SymCpu).


def _bvec_offset_in_page() -> list[Patch]:
    orig_c, orig_s = ops_gup.submit_bio, sym_gup.submit_bio

    def concrete(cpu: Cpu) -> None:
        io = cpu.state.io
        assert io is not None
        m = cpu.m
        firsts = tuple((m.page(0) + j * m.folio.size) & MASK64 for j in range(len(io.pages)))
        cpu.update(io=dataclasses.replace(io, pages=firsts))
        orig_c(cpu)
        submitted = cpu.state.io
        assert submitted is not None
        cpu.update(io=dataclasses.replace(submitted, pages=io.pages))  # GUP's pages, for the unpin

    def symbolic(cpu: SymCpu) -> StepGen:
        page0 = cpu.s.io.page0
        yield from with_state(cpu, lambda s: dataclasses.replace(s, io=dataclasses.replace(s.io, page0=cpu.u.head)),
                              orig_s(cpu))  # fmt: skip
        cpu.updates["io"] = dataclasses.replace(cpu.updates["io"], page0=page0)

    return [*everywhere(orig_c, concrete), *everywhere(orig_s, symbolic)]


def _bvec_offset_of_first_page() -> list[Patch]:
    def concrete(cpu: Cpu, uaddr: int, done: int) -> int:
        return uaddr & (cpu.m.config.page_size - 1)

    def symbolic(cpu: SymCpu, uaddr: Any, done: Any) -> Any:
        return uaddr & (cpu.u.page_size - 1)

    return [*everywhere(ops_gup.bio_vec_offset, concrete), *everywhere(sym_gup.bio_vec_offset, symbolic)]


def _free_path_drops_raw_hwp_list() -> list[Patch]:
    orig_c, orig_s = ops_hwpoison.folio_clear_hugetlb_hwpoison, sym_hwpoison.folio_clear_hugetlb_hwpoison

    def concrete(cpu: Cpu) -> None:
        cpu.update(raw_hwp=())
        orig_c(cpu)

    def symbolic(cpu: SymCpu) -> StepGen:
        cpu.update(raw_hwp=tuple((FALSE, pfn) for _valid, pfn in cpu.s.raw_hwp))
        yield from orig_s(cpu)

    return [*everywhere(orig_c, concrete), *everywhere(orig_s, symbolic)]


def _restore_failure_frees_to_buddy() -> list[Patch]:
    orig_c, orig_s = ops_pool.add_hugetlb_folio, sym_pool.add_hugetlb_folio

    def concrete(cpu: Cpu) -> None:
        if not cpu.state.optimized:
            return orig_c(cpu)
        cpu.say("hugetlb_vmemmap_restore_folio(): -ENOMEM ignored; pages freed to buddy")
        cpu.free_to_buddy()
        cpu.update(pool=Pool.BUDDY, hugetlb=False)
        cpu.stop()
        return None

    def symbolic(cpu: SymCpu) -> StepGen:
        failed = cpu.s.optimized
        cpu.update(when=failed, pool=bv(POOL[Pool.BUDDY]), hugetlb=FALSE)
        cpu.free_to_buddy(when=failed)
        cpu.stop(when=failed)
        yield from ()

    return [*everywhere(orig_c, concrete), *everywhere(orig_s, symbolic)]


def _rfc_dissolve_keeps_head_flag() -> list[Patch]:
    """RFC 18/24 dissolve_free_huge_page() without the move to the raw page: only
    set_subpage_hwpoison()'s index store is left (written once per side)."""
    orig_c, orig_s = ops_hwpoison.set_subpage_hwpoison, sym_hwpoison.set_subpage_hwpoison

    def concrete(cpu: Cpu) -> None:
        if cpu.m.policies.hwpoison is Hwpoison.SUBPAGE_HWPOISON:
            index = cpu.m.page(cpu.m.scheme.facts.subpage_index_hwpoison)
            cpu.store(index + facts.W_PRIVATE * WORD, int(cpu.args["i"]))
            return
        orig_c(cpu)

    def symbolic(cpu: SymCpu) -> StepGen:
        for store in orig_s(cpu):
            if store.field == facts.W_PRIVATE:
                yield store

    return [*everywhere(orig_c, concrete), *everywhere(orig_s, symbolic)]


def _rfc_free_keeps_aliased_poison() -> list[Patch]:
    """RFC 18/24 __free_hugepage() without its clear loop: the copies of the aliased flag
    stay on every restored page."""
    orig_c, orig_s = ops_hwpoison.folio_clear_hugetlb_hwpoison, sym_hwpoison.folio_clear_hugetlb_hwpoison

    def concrete(cpu: Cpu) -> None:
        if cpu.m.policies.hwpoison is not Hwpoison.SUBPAGE_HWPOISON:
            orig_c(cpu)

    def symbolic(cpu: SymCpu) -> StepGen:
        if cpu.u.pol.hwpoison is not Hwpoison.SUBPAGE_HWPOISON:
            yield from orig_s(cpu)

    return [*everywhere(orig_c, concrete), *everywhere(orig_s, symbolic)]


def _pg_arch_1_on_subpage() -> list[Patch]:
    def concrete(cpu: Cpu, i: int) -> int:
        return cpu.m.page(i)

    def symbolic(cpu: SymCpu, i: Any) -> Any:
        return cpu.u.page(i)

    return [*everywhere(ops_pageflags.pg_arch_1_page, concrete), *everywhere(sym_pageflags.pg_arch_1_page, symbolic)]


def _alloc_without_ref_unfreeze() -> list[Patch]:
    orig_c, orig_s = ops_pool.alloc_hugetlb_folio, sym_pool.alloc_hugetlb_folio

    def concrete(cpu: Cpu) -> None:
        orig_c(cpu)  # dequeued: undo the unfreeze
        cpu.atomic_add(cpu.m.page(0) + facts.W_COUNTS * WORD, -1, True)

    def symbolic(cpu: SymCpu) -> StepGen:
        for store in orig_s(cpu):
            if store.field == facts.W_COUNTS:  # folio_ref_unfreeze(): store the old count back
                store = Store(store.active, store.vaddr, store.value - (1 << 32), store.field)
            yield store

    return [*everywhere(orig_c, concrete), *everywhere(orig_s, symbolic)]


def _put_one_ref_per_run() -> list[Patch]:
    orig_c, orig_s = Cpu.folio_put_refs, SymCpu.folio_put_refs

    def concrete(self: Cpu, folio: int, n: int) -> None:
        orig_c(self, folio, 1)

    def symbolic(self: SymCpu, folio: Any, n: Any, cond: Any = TRUE) -> StepGen:
        yield from orig_s(self, folio, bv(1), cond)

    return [(Cpu, "folio_put_refs", concrete), (SymCpu, "folio_put_refs", symbolic)]


# ---------------------------------------------------------------- the catalogue


def _page_slab_open_coded() -> list[Patch]:
    def concrete(mem: VmemmapState, page: int) -> int:
        info = mr.compound_head_word(mem, page)
        return (info - 1) & MASK64 if info & 1 else page

    def symbolic(f: SymFolio, page: Page) -> Val:
        info = page.field(f, facts.W_COMPOUND_HEAD)
        return Val(page.rel + (info.ptr - 1 - page.rel) * (info.value & 1), info.fault)

    return [*everywhere(inv_static.page_slab_head, concrete), *everywhere(enc_static.page_slab_head, symbolic)]


MUTANTS: tuple[Mutant, ...] = (
    Mutant(
        "no-fake-head-fix",
        "include/linux/page-flags.h page_fixed_fake_head() returns the page unchanged (the v5.18 fix-up "
        "dropped): every page-aligned alias of the head reads as a head",
        ("presets/v5.18.toml:head-resolution,head-tail-exact,kpageflags",),
        _no_fake_head_fix,
    ),
    Mutant(
        "compound-head-keeps-tail-bit",
        "include/linux/page-flags.h _compound_head(): returns READ_ONCE(page->compound_head) without "
        "subtracting the tail bit (head + 1 instead of head)",
        ("must-catch/freed-frame-still-mapped.toml:head-resolution",),
        _compound_head_keeps_tail_bit,
    ),
    Mutant(
        "mask-decode-without-tail-bit",
        "linux-mm include/linux/page-flags.h _compound_head(): page & compound_info without "
        "`mask = (info & 1) - 1`, so a head (bit 0 clear) is decoded through its lru pointer",
        ("examples/devdax-shared-tail-2026.toml:head-resolution",),
        _mask_decode_without_tail_bit,
    ),
    Mutant(
        "genmask-off-by-one",
        "linux-mm set_compound_head(): compound_info = GENMASK(63, order + order_base_2(sizeof(struct page)) "
        "- 1) | 1, keeping one low bit too many: tails in the folio's second half decode to its middle",
        ("examples/devdax-shared-tail-2026.toml:head-resolution",),
        _genmask_off_by_one,
    ),
    Mutant(
        "page-head-ignores-fake-heads",
        "include/linux/page-flags.h PageHead(): test_bit(PG_head) without !page_is_fake_head(), so the "
        "v5.18 aliases of the head struct page read as heads",
        ("presets/v5.18.toml:head-tail-exact,kpageflags",),
        _page_head_ignores_fake_heads,
    ),
    Mutant(
        "page-tail-bit0-only",
        "include/linux/page-flags.h PageTail(): compound_head bit 0 only, without page_is_fake_head(): a "
        "fake head is neither head nor tail",
        ("presets/v5.18.toml:head-tail-exact,kpageflags",),
        _page_tail_bit0_only,
    ),
    Mutant(
        "page-huge-reads-subpage",
        "mm/hugetlb.c PageHuge(): reads compound_dtor from page[1] of the page passed in instead of "
        "page[1] of compound_head(page): /proc/kpageflags (fs/proc/page.c) loses KPF_HUGE on tails, and "
        "flush_dcache_page() no longer redirects to the head",
        ("presets/none.toml:kpageflags",),
        _page_huge_reads_subpage,
    ),
    Mutant(
        "page-to-pfn-off-by-one",
        "include/asm-generic/memory_model.h __page_to_pfn(): (page - vmemmap) + 1, so page_to_phys() "
        "(bio_vec, scatterlist) names the next page",
        ("must-catch/willy-misreading-unmapped.toml:address-identity",),
        _page_to_pfn_off_by_one,
    ),
    Mutant(
        "pfn-to-page-off-by-one",
        "include/asm-generic/memory_model.h __pfn_to_page(): vmemmap + pfn + 1: GUP and memory_failure() "
        "get the next struct page",
        ("must-catch/willy-misreading-unmapped.toml:address-identity",),
        _pfn_to_page_off_by_one,
    ),
    Mutant(
        "writable-vmemmap-aliases",
        "mm/hugetlb_vmemmap.c vmemmap_remap_pte(): mk_pte(reuse, PAGE_KERNEL) instead of PAGE_KERNEL_RO: "
        "every remapped tail vmemmap page is a writable alias",
        ("presets/v5.18.toml:layout-soundness", "objections/hwpoison-raw-flag-v5.14.toml:ro-write"),
        lambda: presets(_writable),
    ),
    Mutant(
        "remap-pte-clear",
        "mm/hugetlb_vmemmap.c vmemmap_remap_pte(): pte_clear() instead of set_pte_at(mk_pte(reuse)): the "
        "tail vmemmap pages are unmapped, not aliased (willy's reading of the RFC, as a kernel bug)",
        ("objections/pg-arch-1-head.toml:read-fault",),
        lambda: presets(_pte_clear),
    ),
    Mutant(
        "reuse-page-one-too-far",
        "mm/hugetlb_vmemmap.c vmemmap_remap_free(): reuse address one PAGE_SIZE too far, i.e. the first "
        "remapped vmemmap page, whose frame the walk itself frees: the tails map a freed frame",
        ("presets/v5.14.toml:no-dangling-frame",),
        lambda: presets(_reuse_one_page_too_far),
    ),
    Mutant(
        "reuse-head-page-pointer-encoding",
        "v5.14 free_huge_page_vmemmap(): vmemmap_reuse = the head vmemmap page (vmemmap_addr - 2 * "
        "PAGE_SIZE) while compound_head is pointer-encoded without page_fixed_fake_head(): fake heads",
        ("presets/v5.14.toml:head-resolution",),
        lambda: presets(_reuse_head_page),
    ),
    Mutant(
        "reserve-one-page-with-reuse-page-1",
        "v5.14 mm/hugetlb_vmemmap.c free_huge_page_vmemmap(): RESERVE_VMEMMAP_NR = 1 while vmemmap_reuse "
        "stays vmemmap page 1: the reuse page is itself remapped and freed, so every tail PTE maps a freed frame",
        ("presets/v5.14.toml:no-dangling-frame",),
        lambda: presets(_reserve_one_page),
    ),
    Mutant(
        "stale-tlb-last-vmemmap-page",
        "mm/hugetlb_vmemmap.c vmemmap_remap_range(): flush_tlb_kernel_range() stops one page short, so a "
        "CPU keeps the old translation of vmemmap page V-1 and still reads the frame that was freed (no "
        "TLB in the model: the stale entry is the PTE that CPU uses)",
        ("presets/rfc-2020.toml:no-dangling-frame",),
        _stale_tlb_last_page,
    ),
    Mutant(
        "head-copy-fallback-frees-head-frame",
        "v6.2 vmemmap_remap_free(): when alloc_pages_node() for the new head page fails, the in-place "
        "fallback still frees the old head frame, which vmemmap page 0 and the tails keep mapping",
        ("presets/v6.2.toml:no-dangling-frame,accounting",),
        _fallback_frees_head_frame,
    ),
    Mutant(
        "head-copy-tails-on-old-frame",
        "v6.2 vmemmap_remap_free(): walk.reuse_page taken before the head page is copied, so the tail "
        "PTEs map the old head frame, which is freed once PTE 0 points to the copy",
        ("presets/v6.2.toml:no-dangling-frame",),
        _copies_head_reuses_old_frame,
    ),
    Mutant(
        "no-power-of-2-guard",
        "mm/hugetlb_vmemmap.c hugetlb_vmemmap_optimizable_size(): the is_power_of_2(sizeof(struct page)) "
        "check dropped (0effdf461c57 reverted): HVO runs with a 56-byte struct page",
        ("presets/non-power-of-2.toml:layout-soundness",),
        _not_applicable_ignores_power_of_2,
    ),
    Mutant(
        "pte-table-not-counted",
        "mm/hugetlb_vmemmap.c split_vmemmap_huge_pmd(): the PTE table allocated to split a PMD-mapped "
        "vmemmap is left out of the saving",
        ("must-catch/no-net-saving.toml:accounting",),
        _pte_table_not_counted,
    ),
    Mutant(
        "optimizable-size-off-by-one",
        "mm/hugetlb_vmemmap.c hugetlb_vmemmap_optimizable_size(): subtracts one page more than "
        "HUGETLB_VMEMMAP_RESERVE_SIZE, so the kernel's figure disagrees with the frames the walk frees",
        ("objections/worth-the-savings.toml:accounting",),
        _optimizable_size_off_by_one,
    ),
    Mutant(
        "hwpoison-on-raw-tail",
        "mm/memory-failure.c memory_failure(): SetPageHWPoison(p) on the raw subpage of an optimized "
        "hugetlb folio instead of the head (head[4].private, raw_hwp list)",
        ("objections/hwpoison-head-index-2020.toml:alias-write,hwpoison-exact",),
        lambda: forced_policies(hwpoison=Hwpoison.RAW_FLAG),
    ),
    Mutant(
        "hwpoison-head-flag-only",
        "mm/memory-failure.c: hugetlb_set_page_hwpoison() without the raw_hwp list (as before v6.1): only "
        "the head's PG_hwpoison says that some subpage is poisoned",
        ("objections/hwpoison-raw-hwp-list.toml:hwpoison-exact",),
        lambda: forced_policies(hwpoison=Hwpoison.HEAD_FLAG),
    ),
    Mutant(
        "free-path-drops-raw-hwp-list",
        "mm/hugetlb.c __update_and_free_hugetlb_folio(): folio_clear_hugetlb_hwpoison() clears the head's "
        "PG_hwpoison with the raw_hwp list dropped: no raw page is marked before buddy gets it",
        ("objections/hwpoison-raw-hwp-list.toml:hwpoison-freed",),
        _free_path_drops_raw_hwp_list,
    ),
    Mutant(
        "dissolve-clears-hugetlb-before-restore",
        "mm/hugetlb.c remove_hugetlb_folio(): the hugetlb flag cleared before the vmemmap is restored "
        "(32c877191e02 reverted, bug B5): memory_failure() takes the raw-page path on an optimized folio",
        ("objections/hwpoison-raw-hwp-list.toml:only-hugetlb-optimized,ro-write",),
        lambda: forced_policies(hugetlb_clear=HugetlbClear.BEFORE_RESTORE),
    ),
    Mutant(
        "restore-failure-frees-to-buddy",
        "mm/hugetlb.c __update_and_free_hugetlb_folio(): -ENOMEM from hugetlb_vmemmap_restore_folio() "
        "ignored: the folio goes to buddy with its vmemmap still optimized and its poison not handed over",
        ("objections/hwpoison-raw-hwp-list.toml:only-hugetlb-optimized,hwpoison-freed",),
        _restore_failure_frees_to_buddy,
    ),
    Mutant(
        "restore-without-reset",
        "mm/hugetlb_vmemmap.c vmemmap_restore_pte(): copies the reuse (head) vmemmap page without "
        "reset_struct_pages(): page[0..2] of every restored page keep the head's and folio's fields",
        ("must-catch/ops-restore-identity-reset.toml:restore-identity",),
        lambda: forced_policies(restore_reset=False),
    ),
    Mutant(
        "gup-refs-on-subpage",
        "mm/gup.c try_grab_folio_fast(): references taken with page_ref_add(page) on the subpage instead "
        "of page_folio(page)",
        ("objections/gup-fifth-page.toml#rfc-2020:refcount",),
        lambda: forced_policies(gup_refs=GupRefs.SUBPAGE),
    ),
    Mutant(
        "unpin-drops-one-ref-per-folio-run",
        "mm/gup.c gup_put_folio(): folio_put_refs(folio, 1) instead of refs for a run of pages of one "
        "folio (unpin_user_pages_dirty_lock() groups them with gup_folio_range_next())",
        ("objections/gup-fifth-page.toml#v5.14:refcount",),
        _put_one_ref_per_run,
    ),
    Mutant(
        "alloc-without-ref-unfreeze",
        "mm/hugetlb.c alloc_hugetlb_folio(): folio_ref_unfreeze(folio, 1) missing (pool folios are frozen "
        "at 0 since bd225530a4c7): the mapped folio's refcount stays 0",
        ("objections/double-mapping-folio.toml:refcount",),
        _alloc_without_ref_unfreeze,
    ),
    Mutant(
        "bvec-offset-in-page",
        "block/bio.c bio_add_folio() given offset_in_page() instead of offset_in_folio(): the bio_vec "
        "starts at the folio's first page, so DMA for head+5 lands on the head's page",
        ("objections/gup-fifth-page.toml#v5.14:dma-exact",),
        _bvec_offset_in_page,
    ),
    Mutant(
        "bvec-offset-of-first-page",
        "block/bio.c: every bio_vec of a buffer that spans pages gets the first page's offset_in_page() "
        "(the offset of segment >= 1 is wrong), so DMA for the second page lands past its start",
        ("objections/gup-fifth-page.toml#v5.14:dma-exact",),
        _bvec_offset_of_first_page,
    ),
    Mutant(
        "pg-arch-1-on-subpage",
        "arch/arm64/mm/flush.c flush_dcache_page(), __sync_icache_dcache(): the `if (PageHuge(page)) page "
        "= compound_head(page)` redirect dropped: PG_arch_1 is stored in the subpage's struct page",
        ("objections/pg-arch-1-head.toml:ro-write,alias-write",),
        _pg_arch_1_on_subpage,
    ),
    Mutant(
        "devdax-memory-failure-on-subpage",
        "mm/memory-failure.c mf_generic_kill_procs(): the `page = compound_head(page)` dropped, so a "
        "Device-DAX error is marked with SetPageHWPoison() on the raw subpage (the raw-flag policy)",
        ("objections/devdax-memory-failure.toml:alias-write",),
        lambda: forced_policies(hwpoison=Hwpoison.RAW_FLAG),
    ),
    Mutant(
        "rfc-dissolve-keeps-head-flag",
        "mm/hugetlb.c dissolve_free_huge_page() (RFC 18/24): PG_hwpoison left on the head, only "
        "set_subpage_hwpoison() records the index: no store through the writable alias",
        ("objections/hwpoison-rfc-2020-as-posted.toml:alias-write",),
        _rfc_dissolve_keeps_head_flag,
    ),
    Mutant(
        "rfc-free-keeps-aliased-poison",
        "mm/hugetlb.c __free_hugepage() (RFC 18/24) without `if (PageHWPoison(page + i) && "
        "!subpage_hwpoison(page, page + i)) ClearPageHWPoison(page + i)`: the restored copies of the "
        "aliased flag stay",
        ("objections/hwpoison-rfc-2020-as-posted.toml:restore-identity",),
        _rfc_free_keeps_aliased_poison,
    ),
    Mutant(
        "pg-arch-1-pagehuge-only",
        "arch/arm64/mm/flush.c flush_dcache_page(), __sync_icache_dcache() after 4a169d61c2ed (v6.6) "
        "still gated on PageHuge(): a Device-DAX subpage keeps PG_arch_1 in its own struct page",
        ("objections/pg-arch-1-folio-devdax.toml:alias-write",),
        lambda: forced_policies(pg_arch_1=Arch1.HEAD),
    ),
    Mutant(
        "mapcount-per-subpage",
        "mm/rmap.c page_add_file_rmap(): atomic_inc(&page->_mapcount) on the subpage instead of the "
        "folio's mapcount in page[1]",
        ("objections/double-mapping-folio.toml:ro-write,alias-write",),
        lambda: forced_policies(mapcount=Mapcount.PER_SUBPAGE),
    ),
    Mutant(
        "vmemmap-pmd-block-not-split",
        "mm/hugetlb_vmemmap.c split_vmemmap_huge_pmd(): split_page() of a buddy-allocated PMD block dropped "
        "(39d35edee453 reverted): hot-added vmemmap frames are freed as pieces of an order-9 block",
        ("regressions/2022-vmemmap-pmd-split-page-fixed.toml:vmemmap-frame-freeable",),
        lambda: forced_policies(split_pmd_block=False),
    ),
    Mutant(
        "self-hosted-vmemmap-optimized",
        "mm/hugetlb_vmemmap.c vmemmap_should_optimize(): the PageVmemmapSelfHosted() test dropped "
        "(66361095129b reverted): HVO frees vmemmap frames inside the hot-added range they describe",
        ("regressions/2022-memmap-on-memory-self-hosted-fixed.toml:vmemmap-frame-freeable",),
        lambda: forced_policies(self_hosted_check=False),
    ),
    Mutant(
        "restore-gfp-thisnode",
        "mm/hugetlb_vmemmap.c alloc_vmemmap_page_list(): __GFP_THISNODE kept (the v6.6 fallback to other "
        "nodes reverted): on a movable-only node every restore fails",
        ("regressions/2023-restore-movable-node-fixed.toml:restore-progress",),
        lambda: forced_policies(restore_gfp=RestoreGfp.THISNODE),
    ),
    Mutant(
        "page-slab-open-coded",
        "mm/slab.h page_slab(): compound_info decoded in the pointer form (info - 1) instead of "
        'compound_head() ("mm/slab: use compound_head() in page_slab()" reverted)',
        ("regressions/2026-page-slab-open-coded-fixed.toml:decoders-agree",),
        _page_slab_open_coded,
    ),
)

NO_MUTANT = Mutant("none", "the model as it is", (), lambda: [])


# ---------------------------------------------------------------- running

CheckId = tuple[str, str, str]  # (spec unit as loaded: path, or path#scheme in a sweep; invariant, config id)


@dataclass(frozen=True)
class Kill:
    check: str  # spec:invariant@config, spec relative to specs/
    kind: str  # "verdict": the verdict differs from the expectation; "replay": EncodingMismatch;
    # "compare": a one-layer mutant the direct comparison of the two sides tells apart (COMPARISONS)
    invariant: str
    detail: str


@dataclass(frozen=True)
class MutantRun:
    name: str
    layer: str = "both"
    kills: tuple[Kill, ...] = ()
    checks: tuple[CheckId, ...] = ()  # every check run under the mutant, in order
    comparisons: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (COMPARISONS key, spec paths) run under it
    unknown: int = 0  # checks that differed only by an `unknown` verdict (never a kill)
    seconds: float = 0.0
    error: str = ""

    @property
    def killed(self) -> bool:
        return bool(self.kills)

    @property
    def kind(self) -> str:
        """`verdict` when some check's verdict differs, else `replay`, else `compare`
        (empty if it survived)."""
        kinds = {k.kind for k in self.kills}
        return next((k for k in ("verdict", "replay", "compare") if k in kinds), "")

    @property
    def specs_run(self) -> int:
        return len({c[0] for c in self.checks})


@dataclass(frozen=True)
class BaselineRun:
    spec: str
    differences: tuple[str, ...] = ()
    checks_run: int = 0
    seconds: float = 0.0
    error: str = ""


def short_path(path: str) -> str:
    """`.../specs/objections/x.toml` -> `objections/x.toml` (how hints name specs)."""
    norm = path.replace("\\", "/")
    marker = "specs/"
    at = norm.rfind("/" + marker)
    if at >= 0:
        return norm[at + 1 + len(marker) :]
    return norm[len(marker) :] if norm.startswith(marker) else norm


def parse_hint(hint: str) -> tuple[str, tuple[str, ...]]:
    """`objections/x.toml:ro-write,alias-write` -> (spec, invariants); no invariants: all.
    In a spec that sweeps schemes, `objections/x.toml#v5.14:...` names one scheme's unit;
    the file alone names every unit."""
    name, _, invariants = hint.partition(":")
    return name, tuple(i for i in invariants.split(",") if i)


def hinted_by(name: str, spec: Spec) -> bool:
    """Whether a hint's spec name (see parse_hint) names this unit."""
    return name in (short_path(spec.unit), short_path(spec.path))


Group = tuple[Spec, tuple[str, ...]]  # a spec and the invariants of it to check


def search_plan(specs: Sequence[Spec], hint: Sequence[str]) -> list[Group]:
    """The order a mutant is checked in: the hinted checks, then the rest of each hinted
    spec, then every other spec in suite order; every check exactly once."""
    plan: list[Group] = []
    done: set[tuple[str, str]] = set()

    def add(spec: Spec, wanted: Sequence[str]) -> None:
        invs = tuple(i for i in spec.invariants if (not wanted or i in wanted) and (spec.unit, i) not in done)
        if invs:
            plan.append((spec, invs))
            done.update((spec.unit, i) for i in invs)

    hinted = [(spec, invs) for name, invs in map(parse_hint, hint) for spec in specs if hinted_by(name, spec)]
    for spec, invs in hinted:
        add(spec, invs)
    for spec in [s for s, _invs in hinted] + list(specs):
        add(spec, ())
    return plan


@dataclass
class _Outcome:
    kills: list[Kill] = field(default_factory=list)
    checks: list[CheckId] = field(default_factory=list)
    unknown: int = 0
    differences: list[str] = field(default_factory=list)


def run_checks(spec: Spec, pairs: Sequence[tuple[str, str]], stop_after: int | None = None) -> _Outcome:
    """The (invariant, config id) checks of one spec, one at a time through check_specs().
    A check kills when its verdict differs from the expectation (not by `unknown`) or its
    counterexample does not replay (EncodingMismatch).  Stops after `stop_after` kills."""
    out = _Outcome()
    configs = {c.id: c for c in spec.configs}
    name = short_path(spec.unit)
    for inv, config_id in pairs:
        check = f"{name}:{inv}@{config_id}"
        out.checks.append((spec.unit, inv, config_id))
        narrowed = dataclasses.replace(spec, configs=(configs[config_id],), invariants=(inv,))
        try:
            [res] = check_specs([narrowed], workers=1)
        except EncodingMismatch as exc:
            out.kills.append(Kill(check, "replay", inv, f"{check}: counterexample does not replay: {exc}"))
            out.differences.append(out.kills[-1].detail)
        else:
            _judge(res, check, out)
        if stop_after is not None and len(out.kills) >= stop_after:
            break
    return out


def _pairs(spec: Spec, invariants: Sequence[str]) -> list[tuple[str, str]]:
    """In spec order (config by config, as check_specs runs them)."""
    return [(inv, c.id) for c in spec.configs for inv in spec.invariants if inv in invariants]


def _judge(res: CheckResult, check: str, out: _Outcome) -> None:
    if res.as_expected:
        return
    expected = "nothing" if res.expected is None else res.expected.value
    what = f"{check}: {res.verdict.value}, expected {expected}"
    out.differences.append(what)
    if res.verdict is Verdict.UNKNOWN:
        out.unknown += 1
        return
    out.kills.append(Kill(check, "verdict", res.invariant, what))


def run_mutant(mutant: Mutant, spec_paths: Sequence[str], full: bool = False) -> MutantRun:
    """Apply `mutant`, load the specs under it and check them in search_plan() order;
    stop after the first group of checks that kills it (after KILLERS_SHOWN kills in that
    group), unless `full`.  A one-layer mutant is checked on its hinted specs only (a
    concrete-only one on the checks expected violated: with the z3 side intact, a proved
    check has nothing to replay), then, if they do not kill it, by comparing the two
    sides directly (`comparisons()`)."""
    start = time.perf_counter()
    kills: list[Kill] = []
    checks: list[CheckId] = []
    compared: list[tuple[str, tuple[str, ...]]] = []
    unknown = 0

    def done(error: str = "") -> MutantRun:
        return MutantRun(mutant.name, mutant.layer, tuple(kills), tuple(checks), tuple(compared), unknown,
                         time.perf_counter() - start, error)  # fmt: skip

    try:
        with mutant.apply():
            # the [smp] specs run ops/smp.py and its twin, which no mutant here patches (the
            # protocol and interleavings sections check them): they could not kill one
            specs = [s for s in load_specs(list(spec_paths)) if s.smp is None]
            plan = search_plan(specs, mutant.hint)
            if mutant.layer != "both":
                hinted = {parse_hint(h)[0] for h in mutant.hint}
                plan = [(spec, invs) for spec, invs in plan if any(hinted_by(h, spec) for h in hinted)]
            for spec, invariants in plan:
                pairs = _pairs(spec, invariants)
                if mutant.layer == "concrete":
                    # the z3 side is intact: a check it proves has nothing to replay, so only a
                    # check expected violated can kill (its counterexample does not replay)
                    pairs = [(i, c) for i, c in pairs if spec.expect.expected(i, c) is Verdict.VIOLATED]
                outcome = run_checks(spec, pairs, None if full else KILLERS_SHOWN)
                checks += outcome.checks
                unknown += outcome.unknown
                kills += outcome.kills
                if kills and not full:
                    break
            if mutant.layer != "both" and (full or not kills):
                for name, paths in comparisons(mutant, specs):
                    compared.append((name, paths))
                    problem = COMPARISONS[name](paths)
                    if problem is not None:
                        cid = comparison_id(name, paths)
                        kills.append(Kill(cid, "compare", "", f"{cid}: {problem}"))
                        if not full:
                            break
    except Exception as exc:  # a mutant that crashes the checker is reported, never a kill
        return done(f"{type(exc).__name__}: {exc}")
    return done()


# ---------------------------------------------------------------- comparing the two sides directly
# For a one-layer mutant that no hinted check kills (a check that stays proved has no
# counterexample to replay): the concrete model against the z3 model, with no spec
# expectation in between.  Each returns None when the two sides agree, else one line.

DIFF_CASES = 400  # the static differential's cases for one mutant (about 3 s)
STATIC_KINDS = ("readers", "static", "remap")  # mirrored functions the static query reads
STEP_KINDS = ("pool", "hwpoison", "gup", "pageflags")  # the step files (selfcheck/mirror.py PAIRS)
# Helpers of the step files that are not steps of ops/table.py: the operations that call them.
HELPER_OPS = {
    "bio_vec_offset": ("submit_bio",),
    "bvec_try_merge_page": ("submit_bio",),
    "mapcount_field": ("page_add_file_rmap", "folio_put"),
    "pg_arch_1_page": ("sync_icache_dcache", "flush_dcache_page"),
}


def _differential(args: Sequence[str]) -> str | None:
    section = differential.run_differential(cases=DIFF_CASES, seed=0)
    return None if section.ok else (section.failures or ("the differential failed",))[0]


def _lockstep(args: Sequence[str]) -> str | None:
    return lockstep.compare_all([lockstep.CASES[int(n)] for n in args])


# name -> comparison of the two sides on the given arguments (spec files, or lockstep case numbers)
COMPARISONS: dict[str, Callable[[Sequence[str]], str | None]] = {
    "lockstep": _lockstep,  # check/lockstep.py: a concrete trace, and the unrolling pinned to it, step by step
    "differential": _differential,  # selfcheck/differential.py: z3 static query vs brute force
}


def lockstep_cases(key: str) -> list[int]:
    """The lockstep cases (check/lockstep.py CASES) that run the mirrored function `key`:
    for a step function or a helper, the cases whose operations call it; for a
    primitive, a reader or an operation invariant, every case."""
    kind, _, name = key.partition(":")
    if kind not in STEP_KINDS:
        return list(range(len(lockstep.CASES))) if kind in ("cpu", "readers", "reachable") else []
    ops = set(HELPER_OPS.get(name, ())) | {op for op, o in OPS.items() if any(s.name == name for s in o.steps)}
    return [n for n, c in enumerate(lockstep.CASES) if ops & {op for op, _args in c.steps}]


def comparisons(mutant: Mutant, specs: Sequence[Spec]) -> list[tuple[str, tuple[str, ...]]]:
    """The comparisons that can tell the sides of `mutant` apart, cheapest first: each
    lockstep case that runs the mutated function (one comparison per case, so that a
    kill names its case and the baseline re-runs that case alone), the static
    differential for what the static query reads."""
    kind = mutant.mirrors.partition(":")[0]
    out: list[tuple[str, tuple[str, ...]]] = [("lockstep", (str(n),)) for n in lockstep_cases(mutant.mirrors)]
    if kind in STATIC_KINDS:
        out.append(("differential", ()))
    return out


def comparison_id(name: str, paths: Sequence[str]) -> str:
    return f"{name}({', '.join(short_path(p) for p in paths)})" if paths else name


def run_baseline(path: str, wanted: Sequence[tuple[str, str]] | None = None) -> BaselineRun:
    """The same checks with no mutant: `wanted` (invariant, config id) pairs of one spec
    unit (`Spec.unit`: a file, or `file#scheme` in a sweep), or all of them.  Every one
    must match its expectation."""
    start = time.perf_counter()
    try:
        with NO_MUTANT.apply():
            [spec] = [s for s in load_specs([path.rpartition("#")[0] or path]) if s.unit == path]
            pairs = _pairs(spec, spec.invariants)
            if wanted is not None:
                pairs = [p for p in pairs if p in set(wanted)]
            outcome = run_checks(spec, pairs)
    except Exception as exc:  # e.g. a SpecError: reported as a failure of the section
        return BaselineRun(short_path(path), (), 0, time.perf_counter() - start, f"{type(exc).__name__}: {exc}")
    return BaselineRun(short_path(path), tuple(outcome.differences), len(outcome.checks), time.perf_counter() - start)


# Work for the forked workers: set before the pool is created, inherited by fork.
_WORK: list[Callable[[], MutantRun | BaselineRun]] = []


def _task(n: int) -> MutantRun | BaselineRun:
    return _WORK[n]()


def _run(work: Sequence[Callable[[], MutantRun | BaselineRun]], jobs: int) -> list[MutantRun | BaselineRun]:
    """Each piece of work in a fresh forked process (so no patch or cache outlives it),
    `jobs` at a time; or in this process with jobs=1."""
    if jobs <= 1:
        return [w() for w in work]
    _WORK[:] = work
    try:
        with multiprocessing.get_context("fork").Pool(jobs, maxtasksperchild=1) as pool:
            return pool.map(_task, range(len(work)), chunksize=1)
    finally:
        _WORK.clear()


def run_comparison_baseline(name: str, paths: Sequence[str]) -> BaselineRun:
    """A comparison of the two sides with no mutant: it must find them in agreement."""
    start = time.perf_counter()
    cid = comparison_id(name, paths)
    try:
        with NO_MUTANT.apply():
            problem = COMPARISONS[name](paths)
    except Exception as exc:
        return BaselineRun(cid, (), 0, time.perf_counter() - start, f"{type(exc).__name__}: {exc}")
    return BaselineRun(cid, () if problem is None else (f"{cid}: {problem}",), 1, time.perf_counter() - start)


def run_all(
    spec_paths: Sequence[str], jobs: int = 2, full: bool = False, mutants: Sequence[Mutant] = MUTANTS
) -> tuple[list[MutantRun], list[BaselineRun], float]:
    """Every mutant; then, with no mutant, every check and every comparison some mutant
    killed by or ran (so every kill is on a check that matches its expectation
    unmutated, or a comparison that agrees unmutated; with `full`, the whole suite)."""
    start = time.perf_counter()
    paths = list(spec_paths)
    runs = [r for r in _run([functools.partial(run_mutant, m, paths, full) for m in mutants], jobs)
            if isinstance(r, MutantRun)]  # fmt: skip
    used: dict[str, set[tuple[str, str]]] = {}
    for run in runs:
        for path, inv, config in run.checks:
            used.setdefault(path, set()).add((inv, config))
    killing = {c for r in runs for c in r.comparisons if comparison_id(*c) in {k.check for k in r.kills}}
    work: list[Callable[[], MutantRun | BaselineRun]] = [
        functools.partial(run_baseline, path, sorted(pairs)) for path, pairs in used.items()
    ]
    work += [functools.partial(run_comparison_baseline, name, cpaths) for name, cpaths in sorted(killing)]
    baseline = [r for r in _run(work, jobs) if isinstance(r, BaselineRun)]
    return runs, baseline, time.perf_counter() - start


def run_mutation(
    spec_paths: Sequence[str],
    jobs: int = 2,
    full: bool = False,
    mutants: Sequence[Mutant] = MUTANTS,
    equivalent: Mapping[str, str] | None = None,
) -> Section:
    """Mutation testing of the model against the spec suite in `spec_paths`: `mutants`
    (both layers, or one), `equivalent` naming the one-layer mutants that cannot be
    killed and why."""
    runs, baseline, wall = run_all(spec_paths, jobs, full, mutants)
    return section(runs, baseline, wall, equivalent or {})


def layer_label(layer: str) -> str:
    return "both" if layer == "both" else f"{layer}-only"


def section(
    runs: Sequence[MutantRun], baseline: Sequence[BaselineRun], wall: float, equivalent: Mapping[str, str] | None = None
) -> Section:
    equivalent = equivalent or {}
    invariants = [*INVARIANTS, *OP_INVARIANTS]
    per_invariant = dict.fromkeys(invariants, 0)
    for run in runs:
        for inv in sorted({k.invariant for k in run.kills if k.invariant}):
            per_invariant[inv] = per_invariant.get(inv, 0) + 1
    killed = [r for r in runs if r.killed and not r.error]
    failures: list[str] = []
    for run in runs:
        if run.error:
            failures.append(f"mutant {run.name}: the checker failed under it: {run.error}")
        elif not run.killed and run.name not in equivalent:
            why = f" ({run.unknown} check(s) only came back unknown)" if run.unknown else ""
            compared = f" and {len(run.comparisons)} comparison(s) of the two sides" if run.comparisons else ""
            failures.append(
                f"mutant {run.name} survived: none of {len(run.checks)} check(s) in {run.specs_run} spec(s) "
                f"differs from its expectation{why}{compared} (an equivalent mutant, or a gap in the suite)"
            )
    failures += [f"invariant {inv} kills no mutant" for inv in invariants if per_invariant[inv] == 0]
    differences = [d for b in baseline for d in b.differences]
    failures += [f"baseline (no mutant): {d}" for d in differences]
    failures += [f"baseline (no mutant): {b.spec}: {b.error}" for b in baseline if b.error]
    n = len(runs)
    rate = 100.0 * len(killed) / n if n else 0.0
    seconds = [r.seconds for r in runs]
    per_layer: list[str] = []
    layer_figures: list[tuple[str, int | float | str]] = []
    for layer in LAYERS:
        of_layer = [r for r in runs if r.layer == layer]
        if not of_layer:
            continue
        named = sum(1 for r in of_layer if r.name in equivalent)
        got = sum(1 for r in of_layer if r.killed and not r.error)
        counted = len(of_layer) - named
        label = layer_label(layer)
        per_layer.append(f"{label} {got}/{counted}" + (f" ({named} named equivalent(s))" if named else ""))
        layer_figures += [
            (f"{label} mutants", len(of_layer)),
            (f"{label} killed", got),
            (f"{label} named equivalents", named),
            (f"{label} kill rate %", round(100.0 * got / counted, 1) if counted else 100.0),
        ]
    figures: list[tuple[str, int | float | str]] = [
        ("mutants", n),
        ("killed", len(killed)),
        ("kill rate", f"{len(killed)}/{n} ({rate:.0f}%)"),
        ("kill rate %", round(rate, 1)),
        ("kill rate per layer", ", ".join(per_layer)),
        *layer_figures,
        ("killed by verdict", sum(1 for r in killed if r.kind == "verdict")),
        ("killed by replay only", sum(1 for r in killed if r.kind == "replay")),
        ("killed by comparing the layers only", sum(1 for r in killed if r.kind == "compare")),
        ("mutant checks run", sum(len(r.checks) for r in runs)),
        ("seconds per mutant (mean)", round(sum(seconds) / n, 2) if n else 0.0),
        ("seconds per mutant (max)", round(max(seconds), 2) if n else 0.0),
        ("baseline checks (no mutant)", sum(b.checks_run for b in baseline)),
        ("baseline differences", len(differences)),
        ("wall seconds", round(wall, 1)),
        ("invariants killing no mutant", sum(1 for inv in invariants if per_invariant[inv] == 0)),
        *((f"kills: {inv}", per_invariant[inv]) for inv in invariants),
    ]
    details = tuple((r.name, _describe(r, equivalent.get(r.name))) for r in runs)
    return Section(NAME, not failures, tuple(figures), tuple(failures), details)


def _describe(run: MutantRun, equivalent: str | None = None) -> str:
    cost = f"{run.seconds:.1f} s, {len(run.checks)} check(s) in {run.specs_run} spec(s)"
    if run.comparisons:
        cost += f", {len(run.comparisons)} comparison(s)"
    if run.error:
        return f"error: {run.error}; {cost}"
    if not run.killed:
        return f"survived, a named equivalent: {equivalent}; {cost}" if equivalent else f"survived; {cost}"
    shown = ", ".join(k.check for k in run.kills[:KILLERS_SHOWN])
    return f"killed ({run.kind}) by {shown}; {cost}"
