# SPDX-License-Identifier: GPL-2.0-only
"""What user space can do of a trace, and what the model predicts each kernel shows.

A trace is a sequence of the model's operations (ops/table.py).  User space reaches some
of them only as part of a system call that does several (an `O_DIRECT` read takes the
pages, submits the bio and releases the pages; `MADV_HWPOISON` on a mapped folio runs
memory_failure(), unmaps, dissolves and frees it).  `plan()` groups the trace into such
user actions, in order, and names the first step user space cannot reach with the
reason and the kernel option that would make it reachable; every later step follows a
state the guest never had, so it is skipped too.

The predictions run the concrete model (ops/machine.py) with the preset each cited kernel
maps to (conform/kernelmap.py), along the sequence of operations the kernel performs for
each action (the same sequences conform/predict.py states for the conformance
scenarios), not along the trace: the reproducer asserts what the booted kernel must do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hvo_verify.conform import predict
from hvo_verify.conform.kernelmap import CITED_KERNELS, KernelFacts, kernel_facts
from hvo_verify.model.config import CONFIG_IDS
from hvo_verify.ops.machine import Machine
from hvo_verify.ops.state import KState, Pool
from hvo_verify.ops.trace import Trace, TraceStep

# The configs our x86-64 guest runs (conform/guest.py boots Debian's amd64 kernels).
GUEST_CONFIGS = {"x86-64/4K/2M": 2048, "x86-64/4K/1G": 1048576}


@dataclass(frozen=True, slots=True)
class Action:
    """One thing the reproducer does from user space.

    kind: pool_add (vm.hugetlb_optimize_vmemmap, then nr_hugepages 0 -> 1), mmap
    (MAP_HUGETLB and a store: alloc_hugetlb_folio()), munmap (folio_put()),
    madv_hwpoison (MADV_HWPOISON on subpage `i` of the mapping), corrupt_pfn (hwpoison-
    inject corrupt-pfn of head_pfn + i, folio free in the pool), dio_read (an O_DIRECT
    read into the folio at `offset`), shrink_pool (nr_hugepages 1 -> 0), skip."""

    kind: str
    args: tuple[tuple[str, int], ...]
    covers: tuple[str, ...]  # the trace steps it performs, as the trace prints them
    reason: str = ""  # skip: why user space cannot do it, and what would make it reachable

    def arg(self, name: str) -> int:
        return dict(self.args)[name]

    @property
    def title(self) -> str:
        if self.kind == "skip":
            return " ; ".join(self.covers)
        shown = ", ".join(f"{k}={v:#x}" if k in ("offset", "length") else f"{k}={v}" for k, v in self.args)
        return f"{self.kind}({shown})" + (f" [{' ; '.join(self.covers)}]" if self.covers else "")


@dataclass(frozen=True, slots=True)
class Expectation:
    """What the model predicts the kernel shows after one action."""

    hugepages_total: int  # HugePages_Total of the folio's size, relative to the start
    hugepages_free: int
    hwpoison: tuple[tuple[int, int], ...]  # (first subpage, count): /proc/kpageflags KPF_HWPOISON
    dma: tuple[tuple[int, int], ...]  # (offset in the folio, length) the device wrote
    oops: str = ""  # the model predicts an oops here (the action is not run in the shared guest)


@dataclass(frozen=True, slots=True)
class KernelExpectations:
    release: str  # uname -r of the cited kernel (Debian's ABI name)
    version: str  # the upstream version it was built from
    preset: str
    steps: tuple[Expectation, ...]


@dataclass(frozen=True, slots=True)
class Plan:
    name: str
    config: str
    hugepage_kb: int
    source: str  # what the trace is: the spec, config, invariant and verdict
    actions: tuple[Action, ...]
    kernels: tuple[KernelExpectations, ...]
    trace_calls: tuple[str, ...]


class NotReproducible(Exception):
    """The whole trace is out of user space's reach (the reason is the message)."""


def _skip_reason(step: TraceStep, mapped: bool) -> str | None:
    """Why user space cannot perform `step` where it stands (None: it can)."""
    args = dict(step.args)
    match step.op:
        case "hugetlb_vmemmap_optimize_folio":
            return ("the kernel optimizes a folio only when it enters the pool (mm/hugetlb.c "
                    "prep_new_hugetlb_folio()); a later optimize is not reachable from user space")  # fmt: skip
        case "hugetlb_vmemmap_restore_folio":
            return ("a restore that does not free the folio happens in demote "
                    "(/sys/kernel/mm/hugepages/hugepages-1048576kB/demote) of a 1 GiB folio only; "
                    "not generated")  # fmt: skip
        case "memory_failure" if not args.get("kmalloc_ok", True):
            return ("kmalloc(GFP_ATOMIC) failing in folio_set_hugetlb_hwpoison(): reachable with "
                    "CONFIG_FAILSLAB and /proc/self/fail-nth")  # fmt: skip
        case "update_and_free_hugetlb_folio" | "dissolve_free_hugetlb_folio" if not args.get("alloc_ok", True):
            return ("a vmemmap page allocation failing in hugetlb_vmemmap_restore_folio(): reachable "
                    "with CONFIG_FAIL_PAGE_ALLOC (/sys/kernel/debug/fail_page_alloc)")  # fmt: skip
        case "sync_icache_dcache" | "flush_dcache_page":
            return "PG_arch_1 (PG_dcache_clean) is arm64's; the guest is x86-64"
        case "page_add_file_rmap":
            return "x86-64 maps a HugeTLB folio by PMD or PUD only: no PTE of a subpage from user space"
        case "write_struct_page":
            return "a raw store to a struct page: no user-space path (it needs a kernel module)"
        case "alloc_hugetlb_folio" | "folio_put" if mapped == (step.op == "alloc_hugetlb_folio"):
            return "the model's state and the guest's differ here"
    return None


def _gup_group(steps: Sequence[TraceStep], n: int) -> int:
    """The length of the O_DIRECT read starting at steps[n] (GUP, submit_bio, release),
    0 when the steps there are not one: user space cannot stop inside the system call."""
    if n + 1 >= len(steps) or steps[n + 1].op != "submit_bio":
        return 0
    release = {"get_user_pages_fast": "put_page", "pin_user_pages_fast": "unpin_user_pages_dirty_lock"}
    if n + 2 < len(steps) and steps[n + 2].op == release[steps[n].op]:
        return 3
    return 2 if n + 2 == len(steps) else 0


def actions(trace: Trace) -> tuple[Action, ...]:
    """Group the trace into user actions (see the module docstring)."""
    steps = trace.steps
    out: list[Action] = []
    n = 0
    if steps and steps[0].op == "hugetlb_vmemmap_optimize_folio":
        if not dict(steps[0].args).get("alloc_ok", True):
            why = ("the vmemmap page allocation failing in hugetlb_vmemmap_optimize_folio(): reachable "
                   "with CONFIG_FAIL_PAGE_ALLOC")  # fmt: skip
            return (Action("pool_add", (("optimize", 1),), ()), Action("skip", (), tuple(s.call() for s in steps), why))
        out.append(Action("pool_add", (("optimize", 1),), (steps[0].call(),)))
        n = 1
    else:
        out.append(Action("pool_add", (("optimize", 0),), ()))
    mapped = False
    while n < len(steps):
        step = steps[n]
        reason = _skip_reason(step, mapped)
        if reason is None and step.op in ("get_user_pages_fast", "pin_user_pages_fast"):
            size = _gup_group(steps, n)
            if size:
                args = dict(step.args)
                out.append(Action("dio_read", (("offset", int(args["offset"])), ("length", int(args["length"]))),
                                  tuple(s.call() for s in steps[n : n + size])))  # fmt: skip
                n += size
                continue
            reason = "GUP without its O_DIRECT submission and release: user space cannot stop inside the read"
        if reason is None and step.op in ("submit_bio", "put_page", "unpin_user_pages_dirty_lock"):
            reason = "an I/O step outside an O_DIRECT read"
        if reason is None and step.op == "memory_failure":
            i = int(dict(step.args)["i"])
            # The kernel dissolves and frees the folio itself (conform/predict.py hwpoison_steps()).
            size = 1
            for follow in ("dissolve_free_hugetlb_folio", "update_and_free_hugetlb_folio"):
                if n + size < len(steps) and steps[n + size].op == follow:
                    size += 1
            out.append(Action("madv_hwpoison" if mapped else "corrupt_pfn", (("i", i),),
                              tuple(s.call() for s in steps[n : n + size])))  # fmt: skip
            n += size
            if n < len(steps):
                why = ("after memory_failure() the kernel unmaps, dissolves and frees the folio "
                       "(me_huge_page(), __page_handle_poison()); the trace goes on with a folio the kernel no "
                       "longer has")  # fmt: skip
                out.append(Action("skip", (), tuple(s.call() for s in steps[n:]), why))
            break
        if reason is None and step.op == "dissolve_free_hugetlb_folio":
            size = 2 if n + 1 < len(steps) and steps[n + 1].op == "update_and_free_hugetlb_folio" else 1
            out.append(Action("shrink_pool", (), tuple(s.call() for s in steps[n : n + size])))
            n += size
            continue
        if reason is None and step.op == "update_and_free_hugetlb_folio":
            reason = "update_and_free_hugetlb_folio() without the dissolve before it"
        if reason is None and step.op in ("alloc_hugetlb_folio", "folio_put"):
            out.append(Action("mmap" if step.op == "alloc_hugetlb_folio" else "munmap", (), (step.call(),)))
            mapped = step.op == "alloc_hugetlb_folio"
            n += 1
            continue
        out.append(Action("skip", (), tuple(s.call() for s in steps[n:]), reason or f"{step.op}: no user-space path"))
        break
    return tuple(out)


def _kernel_steps(action: Action, facts: KernelFacts, mapped: bool) -> list[predict.Step]:
    """The model operations the kernel performs for `action` (conform/predict.py)."""
    match action.kind:
        case "pool_add":
            # The reproducer learns the folio's pfn by mapping it once (pagemap), then unmaps it.
            steps: list[predict.Step] = []
            if action.arg("optimize"):
                steps.append(("hugetlb_vmemmap_optimize_folio", {"alloc_ok": True}))
            return [*steps, ("alloc_hugetlb_folio", {}), ("folio_put", {})]
        case "mmap":
            return [("alloc_hugetlb_folio", {})]
        case "munmap":
            return [("folio_put", {})]
        case "madv_hwpoison" | "corrupt_pfn":
            return predict.hwpoison_steps("in-use" if mapped else "free", action.arg("i"))
        case "dio_read":
            gup, release = (("pin_user_pages_fast", "unpin_user_pages_dirty_lock") if facts.dio_pins
                            else ("get_user_pages_fast", "put_page"))  # fmt: skip
            io: dict[str, int | bool] = {"offset": action.arg("offset"), "length": action.arg("length")}
            return [(gup, io), ("submit_bio", {}), (release, {})]
        case "shrink_pool":
            return [("dissolve_free_hugetlb_folio", {"i": 0}), ("update_and_free_hugetlb_folio", {"alloc_ok": True})]
    return []


def _ranges(indices: frozenset[int]) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    for i in sorted(indices):
        if out and out[-1][0] + out[-1][1] == i:
            out[-1] = (out[-1][0], out[-1][1] + 1)
        else:
            out.append((i, 1))
    return tuple(out)


def _expect(m: Machine, state: KState, dma: tuple[tuple[int, int], ...], oops: str) -> Expectation:
    total = 1 if state.pool in (Pool.FREE, Pool.IN_USE) else 0
    free = 1 if state.pool is Pool.FREE else 0
    return Expectation(total, free, _ranges(predict.kpageflags_hwpoison(m, state)), dma, oops)


def expectations(acts: Sequence[Action], config: str, facts: KernelFacts) -> tuple[Expectation, ...]:
    """Each action's prediction for one kernel; after a predicted oops or a skip, nothing."""
    cfg = CONFIG_IDS[config]
    head_pfn = cfg.nr_pages  # the model's canonical placement; predictions are per subpage
    m = predict.machine(facts, cfg, head_pfn)
    state = m.initial()
    mapped = False
    out: list[Expectation] = []
    for act in acts:
        if act.kind == "skip":
            break
        if act.kind == "pool_add" and act.arg("optimize") and not predict.optimizes(facts, cfg, True):
            act = Action("pool_add", (("optimize", 0),), act.covers)
        before = len(state.dma)
        oops = ""
        for op, args in _kernel_steps(act, facts, mapped):
            if not m.enabled(state, op):
                continue  # e.g. the folio is already gone: the kernel's path ends earlier
            result = m.apply(state, op, args)
            state = result.state
            if result.fault is not None:
                oops = f"{op}: {result.fault.message}"
                break
        mapped = act.kind == "mmap" or (mapped and act.kind == "dio_read")
        base = head_pfn * cfg.page_size
        dma = tuple(sorted((phys - base, length) for phys, length, _u in state.dma[before:]))
        out.append(_expect(m, state, dma, oops))
        if oops:
            break
    return tuple(out)


def cited_facts() -> tuple[tuple[str, KernelFacts], ...]:
    """(uname -r, facts) of each cited kernel (Debian's ABI release names)."""
    out = []
    for k in CITED_KERNELS:
        release = k.package.removeprefix("linux-image-")
        version = ".".join(map(str, k.upstream))
        facts = kernel_facts(release, f"#1 SMP PREEMPT_DYNAMIC Debian {version}-1")
        assert facts is not None
        out.append((release, facts))
    return tuple(out)


def plan(trace: Trace, name: str, source: str) -> Plan:
    """The reproducer of `trace`; NotReproducible when the guest cannot run its config."""
    kb = GUEST_CONFIGS.get(trace.config)
    if kb is None:
        raise NotReproducible(f"config {trace.config}: the guest boots x86-64 kernels with 4K pages only")
    acts = actions(trace)
    kernels = tuple(
        KernelExpectations(release, facts.version, facts.preset, expectations(acts, trace.config, facts))
        for release, facts in cited_facts()
    )
    return Plan(name, trace.config, kb, source, acts, kernels, tuple(s.call() for s in trace.steps))
