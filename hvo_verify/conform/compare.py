# SPDX-License-Identifier: GPL-2.0-only
"""The guest's records beside the model's predictions: one `Row` per observable.

A row's `agree` is True or False, or None when the kernel could not show it (say a
1 GiB page the guest could not allocate); the note says why.  Nothing here prints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hvo_verify.conform import predict as p
from hvo_verify.conform.kernelmap import CITED_KERNELS, KernelFacts, cited_kernel
from hvo_verify.model.facts import KPF_COMPOUND_HEAD, KPF_COMPOUND_TAIL, KPF_HUGE, KPF_HWPOISON
from hvo_verify.ops.state import Pool

Record = Mapping[str, Any]

# Free memory is MemFree plus the pages on the per-cpu free lists (the guest's PcpFree,
# from /proc/zoneinfo): NR_FREE_PAGES does not count pcp pages, and frees land there
# first (mm/page_alloc.c free_unref_page()).  The guest folds every cpu's vmstat delta
# (/proc/sys/vm/stat_refresh) before each reading, so between two readings of an idle
# guest the sum does not move.  What the kernel takes for itself meanwhile is counted
# out: a kmalloc() that needs a new slab page, a kernel stack, our own page tables or
# anonymous pages, the page cache the virtio disk's partition scan fills while the first
# scenario runs, move MemFree as much as a vmemmap frame does, so the free-memory
# figure of a row is MemFree + PcpFree + the change of these /proc/meminfo counters
# (fs/proc/meminfo.c meminfo_proc_show(), v6.1 and v6.12).  None of them counts a
# vmemmap frame or the PTE table split_vmemmap_huge_pmd() takes (pte_alloc_one_kernel()
# runs no page-table constructor, so NR_PAGETABLE does not move; the recordings' 3-table
# and 8-table pools agree).  Every memory row is an exact value.
OTHER_CONSUMERS = ("Slab", "KernelStack", "PageTables", "Percpu", "AnonPages", "VmallocUsed", "Buffers", "Cached")

# fs/proc/page.c stable_page_flags() v6.1: bits copied from `k = page->flags` of the pfn
# itself (kpf_copy_bit): LOCKED, ERROR, REFERENCED, UPTODATE, DIRTY, LRU, ACTIVE, SLAB,
# WRITEBACK, RECLAIM, SWAPBACKED, UNEVICTABLE, HWPOISON, RESERVED, MLOCKED,
# MAPPEDTODISK, PRIVATE, PRIVATE_2, OWNER_PRIVATE, ARCH (include/uapi/linux/kernel-page-flags.h).
KPF_RAW_BITS = sum(1 << b for b in (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 14, 18, 19, 32, 33, 34, 35, 36, 37, 38))
SIZE_NAME = {2048: "2M", 1048576: "1G"}


@dataclass(frozen=True, slots=True)
class Row:
    scenario: str
    predicts: str
    shows: str
    agree: bool | None
    note: str = ""


def expand(rle: Sequence[Sequence[int]], nr: int) -> list[int]:
    """[[first index, count, flags], ...] -> one flags value per subpage."""
    out = [0] * nr
    for first, count, flags in rle:
        for i in range(first, min(first + count, nr)):
            out[i] = flags
    return out


def _pfns(indices: set[int] | frozenset[int]) -> str:
    """Subpage indices: "none", "5", "1,64,65", or "64,128,...,448 (every 64th, 7)"."""
    if not indices:
        return "none"
    items = sorted(indices)
    if len(items) > 3:
        step = items[1] - items[0]
        if all(b - a == step for a, b in zip(items, items[1:], strict=False)):
            return f"{items[0]},{items[1]},...,{items[-1]} (every {step}th, {len(items)})"
        return ",".join(str(i) for i in items[:6]) + f",... ({len(items)})"
    return ",".join(str(i) for i in items)


def _compound(bits: int) -> str:
    names = [n for b, n in ((KPF_COMPOUND_HEAD, "HEAD"), (KPF_COMPOUND_TAIL, "TAIL"), (KPF_HUGE, "HUGE"))
             if bits >> b & 1]  # fmt: skip
    return "|".join(names) or "-"


def _compound_summary(values: Sequence[int]) -> str:
    """ "0: HEAD|HUGE; 1..511: TAIL|HUGE" (runs of equal compound bits)."""
    runs: list[list[int]] = []
    for i, v in enumerate(values):
        if runs and runs[-1][2] == v:
            runs[-1][1] = i
        else:
            runs.append([i, i, v])
    parts = [f"{a}{'' if a == b else f'..{b}'}: {_compound(v)}" for a, b, v in runs]
    return "; ".join(parts[:4]) + ("; ..." if len(parts) > 4 else "")


def _kb(value: int) -> str:
    return f"{value:+d} kB"


def _delta(after: Record, before: Record, key: str) -> int:
    return int(after[key]) - int(before[key])


def _free_delta(after: Record, before: Record) -> int:
    """Change of MemFree + PcpFree + the other consumers (OTHER_CONSUMERS)."""
    keys = ("MemFree", "PcpFree", *OTHER_CONSUMERS)
    return sum(int(after[k]) - int(before[k]) for k in keys if after.get(k) is not None and before.get(k) is not None)


# -- per scenario --------------------------------------------------------------------------------


def boot_rows(facts: KernelFacts, hvo: str, boot: Record) -> list[Row]:
    """hugetlb_free_vmemmap=on|off sets vm.hugetlb_optimize_vmemmap's initial value
    (mm/hugetlb_vmemmap.c v6.1 hugetlb_vmemmap_early_param())."""
    want = 1 if hvo == "on" else 0
    shown = boot.get("hvo_sysctl")
    if not facts.has_sysctl:
        return []
    return [Row(f"boot HVO {hvo}: vm.hugetlb_optimize_vmemmap", str(want), str(shown), shown == want)]


def _heads(rec: Record) -> list[int]:
    """The pool's head pfns the guest recorded (hvoguest.c jw_huge_heads())."""
    heads = rec["heads"]
    if heads is None:
        raise ValueError("the guest could not read /proc/kpageflags for the pool's head pfns")
    return [int(h) for h in heads]


def _mem(delta: p.MemDelta) -> str:
    return f"MemTotal {delta.memtotal:+d}, free {delta.memfree:+d} kB"


def savings_rows(facts: KernelFacts, hvo: str, boot: Record, rec: Record, ledger: p.VmemmapLedger) -> list[Row]:
    kb = int(rec["hugepage_kb"])
    size = SIZE_NAME.get(kb, f"{kb}kB")
    n = int(rec["n"])
    got = int(rec.get("nr_hugepages", 0))
    name = f"savings {size} x{n} HVO {hvo}"
    pred = p.predict_savings(facts, kb, hvo == "on")
    rows: list[Row] = []
    wanted = (
        f"HugeTLB: {pred.freeable_kb} KiB vmemmap can be freed for a {'2.00 MiB' if kb == 2048 else '1.00 GiB'} page"
    )
    lines = [line for line in boot.get("dmesg_vmemmap", ()) if "vmemmap can be freed" in line]
    match = [line for line in lines if line.rstrip().endswith(wanted.split(": ", 1)[1])]
    shown = match[0].split("HugeTLB: ", 1)[-1] if match else "; ".join(lines) or "no line"
    rows.append(Row(f"{name}: dmesg", f"{pred.freeable_kb} KiB vmemmap can be freed", _short(shown, 40),
                    bool(match)))  # fmt: skip
    if got == 0:
        rows.append(Row(f"{name}: allocation", f"{n} folio(s)", "0 allocated", None, "the guest could not allocate"))
        return rows
    heads = _heads(rec)
    alloc = sum((ledger.prepare(facts, kb, h, hvo == "on") for h in heads), p.NO_CHANGE)
    free = sum((ledger.dissolve(facts, kb, h) for h in heads), p.NO_CHANGE)
    before, after, freed = rec["before"], rec["after"], rec.get("freed")
    note = "" if got == n else f"{got} of {n} allocated"
    total = _delta(after, before, "MemTotal")
    rows.append(Row(f"{name}: MemTotal after alloc", _kb(alloc.memtotal), _kb(total), total == alloc.memtotal, note))
    memfree = _free_delta(after, before)
    rows.append(Row(f"{name}: MemFree after alloc", _kb(alloc.memfree), _kb(memfree), memfree == alloc.memfree, note))
    if freed is not None:
        total = _delta(freed, after, "MemTotal")
        rows.append(Row(f"{name}: MemTotal after free", _kb(free.memtotal), _kb(total), total == free.memtotal))
        memfree = _free_delta(freed, after)
        rows.append(Row(f"{name}: MemFree after free", _kb(free.memfree), _kb(memfree), memfree == free.memfree))
    return rows


def _short(text: str, width: int = 60) -> str:
    text = text.strip()
    return text if len(text) <= width else text[: width - 3] + "..."


def savings_between_boots(facts: KernelFacts, on: Record, off: Record) -> list[Row]:
    """MemTotal with the same pool, HVO on minus HVO off: the freed vmemmap (the issue's
    100 x 7 x 4 KiB).  Each boot's first pool, on a vmemmap no folio has touched yet."""
    kb = int(on["hugepage_kb"])
    got = int(on.get("nr_hugepages", 0))
    if got == 0 or got != int(off.get("nr_hugepages", 0)):
        return []
    pred = 0
    for hvo, rec in (("on", on), ("off", off)):
        ledger = p.VmemmapLedger()
        alloc = sum((ledger.prepare(facts, kb, h, hvo == "on") for h in _heads(rec)), p.NO_CHANGE)
        pred += alloc.memtotal if hvo == "on" else -alloc.memtotal
    shown = int(on["after"]["MemTotal"]) - int(off["after"]["MemTotal"])
    size = SIZE_NAME.get(kb, f"{kb}kB")
    return [Row(f"savings {size} x{got}: MemTotal HVO on - off", _kb(pred), _kb(shown), shown == pred)]


def kpageflags_rows(facts: KernelFacts, hvo: str, rec: Record) -> list[Row]:
    kb, nr, head_pfn = int(rec["hugepage_kb"]), int(rec["nr"]), int(rec["head_pfn"])
    size = SIZE_NAME.get(kb, f"{kb}kB")
    pred = p.predict_kpageflags(facts, kb, head_pfn, hvo == "on")
    flags = expand(rec["rle"], nr)
    compound = [f & p.KPF_COMPOUND for f in flags]
    name = f"kpageflags {size} HVO {hvo}"
    rows = [Row(f"{name}: HEAD/TAIL/HUGE", _compound_summary(pred.compound), _compound_summary(compound),
                tuple(compound) == pred.compound)]  # fmt: skip
    head_raw = flags[0] & KPF_RAW_BITS
    shown_alias = {i for i in range(1, nr) if head_raw and flags[i] & KPF_RAW_BITS == head_raw}
    predicted = f"head's flags at {_pfns(pred.flags_alias_head)}"
    if not head_raw:
        rows.append(Row(f"{name}: fake heads", predicted, "the head shows no page->flags bit", None,
                        "not observable"))  # fmt: skip
    else:
        rows.append(Row(f"{name}: fake heads", predicted, f"head's flags at {_pfns(shown_alias)}",
                        shown_alias == set(pred.flags_alias_head)))  # fmt: skip
    poisoned = {i for i, f in enumerate(flags) if f >> KPF_HWPOISON & 1}
    rows.append(Row(f"{name}: HWPOISON", _pfns(pred.poisoned), _pfns(poisoned), poisoned == set(pred.poisoned)))
    return rows


def _hwpoison_summary(poisoned: set[int] | frozenset[int], compound: Sequence[int], pool: int | None,
                      corrupted: int | None) -> str:  # fmt: skip
    parts = [f"HWPOISON {_pfns(poisoned)}", "compound" if any(compound) else "not compound"]
    if pool is not None:
        parts.append(f"pool {pool:+d}")
    if corrupted is not None:
        parts.append(f"HardwareCorrupted {corrupted:+d} kB")
    return "; ".join(parts)


def hwpoison_rows(facts: KernelFacts, hvo: str, rec: Record) -> list[Row]:
    """One row per memory error: the kernel's state at each stage (right after the
    error, after munmap, after the pool is shrunk) against the model's prediction."""
    target, k, head_pfn = str(rec["target"]), int(rec["subpage"]), int(rec["head_pfn"])
    nr = 512
    name = f"hwpoison {target} head+{k} HVO {hvo}"
    rc = rec.get("madvise_rc", rec.get("inject_rc", 0))
    if rc is not None and int(rc) < 0:
        return [Row(f"{name}: injection", "accepted", f"rc {rc} errno {rec.get('errno')}", False)]
    pred = p.predict_hwpoison(facts, 2048, head_pfn, k, target, hvo == "on")
    base = rec.get("pool_before")
    want_compound = pred.compound if pred.compound is not None else tuple([0] * nr)
    shown: list[tuple[str, str]] = []
    agree = True
    for stage in rec.get("stages", ()):
        flags = expand(stage["rle"], nr)
        poisoned = {i for i, f in enumerate(flags) if f >> KPF_HWPOISON & 1}
        compound = tuple(f & p.KPF_COMPOUND for f in flags)
        pool = stage.get("pool")
        pool_delta = corrupted = None
        if pool is not None and base is not None:
            pool_delta = int(pool["total"]) - int(base["total"])
            corrupted = int(pool["HardwareCorrupted"]) - int(base["HardwareCorrupted"])
            agree &= pool_delta == pred.pool_delta and corrupted == pred.corrupted_kb
        agree &= poisoned == set(pred.poisoned) and compound == tuple(want_compound)
        shown.append((str(stage["stage"]), _hwpoison_summary(poisoned, compound, pool_delta, corrupted)))
    predicts = _hwpoison_summary(
        pred.poisoned, want_compound, pred.pool_delta if base else None, pred.corrupted_kb if base else None
    )
    if not shown:
        return [Row(name, predicts, "no stage recorded", False)]
    if len({text for _, text in shown}) == 1:
        shows = shown[0][1]
        stages = ", ".join(stage for stage, _ in shown)
    else:
        shows = " / ".join(f"{stage}: {text}" for stage, text in shown)
        stages = "stages differ"
    return [Row(f"{name} ({stages})", predicts, shows, agree)]


def hwpoison2_stages(facts: KernelFacts, head_pfn: int, target: str, k1: int, k2: int,
                     enabled: bool) -> dict[str, p.HwpoisonPrediction]:  # fmt: skip
    """The model's state at each stage the guest records for two memory errors in one
    2 MiB folio (hvoguest.c hwpoison2), through predict.py's machine.

    pinned (the folio is pinned by an io_uring fixed buffer, so neither error can free
    it; mm/memory-failure.c v6.1 me_huge_page(): put_page() leaves the pin and
    __page_handle_poison() -> dissolve_free_huge_page() fails with -EBUSY):
    memory_failure(k1), memory_failure(k2) [after_errors]; the unpin frees it onto the
    pool (mm/hugetlb.c free_huge_page() -> enqueue_huge_page()) [after_unpin]; the pool
    shrink dissolves it at the head (set_max_huge_pages() -> remove_pool_huge_page() ->
    update_and_free_pages_bulk() -> __update_and_free_page() -> hugetlb_clear_page_hwpoison())
    [after_shrink].
    """
    config = p.config_for(2048)
    error: list[p.Step] = [("memory_failure", {"i": k1, "kmalloc_ok": True})]
    second: list[p.Step] = [("memory_failure", {"i": k2, "kmalloc_ok": True})]
    free_at: list[p.Step] = [("update_and_free_hugetlb_folio", {"alloc_ok": True})]
    if target != "pinned":
        raise ValueError(f"hwpoison2 target {target!r}")
    m, state = p.mapped_folio(facts, config, head_pfn, enabled)
    plan: list[tuple[str, list[p.Step]]] = [
        ("after_errors", error + second),
        ("after_unpin", [("folio_put", {})]),
        ("after_shrink", [("dissolve_free_hugetlb_folio", {"i": 0}), *free_at]),
    ]
    out: dict[str, p.HwpoisonPrediction] = {}
    lines: tuple[str, ...] = ()
    for stage, steps in plan:
        state, more = p.run(m, state, steps)
        lines += more
        poisoned = p.kpageflags_hwpoison(m, state)
        gone = state.pool in (Pool.BUDDY, Pool.LEAKED, Pool.REMOVED)
        # The shrink frees the block without take_page_off_buddy() (no memory_failure()
        # on this path), so no subpage is split off as a buddy head.
        compound = p.kpageflags_compound(m, state, frozenset())
        # mm/memory-failure.c num_poisoned_pages_inc(): once per raw page memory_failure()
        # takes, the second error of a hugetlb folio included (v6.1 hugetlb_set_page_hwpoison())
        corrupted = len(state.injected) * config.page_size // 1024
        out[stage] = p.HwpoisonPrediction(poisoned, compound, -1 if gone else 0, corrupted, lines)
    return out


def hwpoison2_rows(facts: KernelFacts, hvo: str, rec: Record) -> list[Row]:
    """One row per recorded stage of two memory errors in one folio."""
    target, head_pfn = str(rec["target"]), int(rec["head_pfn"])
    k1, k2 = (int(k) for k in rec["subpages"])
    name = f"hwpoison2 {target} head+{k1},+{k2} HVO {hvo}"
    preds = hwpoison2_stages(facts, head_pfn, target, k1, k2, hvo == "on")
    base = rec["pool_before"]
    rows = []
    for stage in rec.get("stages", ()):
        pred = preds.get(str(stage["stage"]))
        if pred is None:
            rows.append(Row(f"{name}: {stage['stage']}", "a known stage", str(stage["stage"]), False))
            continue
        flags = expand(stage["rle"], 512)
        poisoned = {i for i, f in enumerate(flags) if f >> KPF_HWPOISON & 1}
        compound = tuple(f & p.KPF_COMPOUND for f in flags)
        want = pred.compound if pred.compound is not None else tuple([0] * 512)
        pool = stage["pool"]
        pool_delta = int(pool["total"]) - int(base["total"])
        corrupted = int(pool["HardwareCorrupted"]) - int(base["HardwareCorrupted"])
        agree = (poisoned == set(pred.poisoned) and compound == want and pool_delta == pred.pool_delta
                 and corrupted == pred.corrupted_kb)  # fmt: skip
        rows.append(Row(f"{name}: {stage['stage']}",
                        _hwpoison_summary(pred.poisoned, want, pred.pool_delta, pred.corrupted_kb),
                        _hwpoison_summary(poisoned, compound, pool_delta, corrupted), agree))  # fmt: skip
    return rows


def dma_rows(facts: KernelFacts, hvo: str, rec: Record) -> list[Row]:
    rows: list[Row] = []
    for case in rec.get("cases", ()):
        o, n, head_pfn = int(case["buf_offset"]), int(case["length"]), int(case["head_pfn"])
        pred = p.predict_dma(facts, head_pfn, o, n, hvo == "on")
        predicted = ", ".join(f"[{a:#x}, {a + b:#x})" for a, b in pred.written) or "nothing"
        rc, landed, outside = int(case["rc"]), int(case["landed"]), int(case["outside_changed"])
        shows = (
            f"[{o:#x}, {o + landed:#x})"
            if landed == n and outside == 0 and rc == n
            else (
                f"rc {rc}, {landed}/{n} bytes landed, {outside} outside changed, first bad {int(case['first_bad']):#x}"
            )
        )
        exact = pred.written == ((o, n),)
        # The guest sees whether exactly the user's bytes changed, not where stray bytes
        # went: a predicted misdirection can never be confirmed, so it is a disagreement.
        agree = exact and landed == n and outside == 0 and rc == n
        rows.append(Row(f"O_DIRECT read {n:#x} at folio+{o:#x} HVO {hvo}", predicted, shows, agree,
                        "device writes only the user's bytes" if exact else "model predicts a misdirected DMA"))  # fmt: skip
    return rows


def _pool_step(facts: KernelFacts, ledger: p.VmemmapLedger, boot_enabled: bool, step: Record,
               heads: list[int]) -> tuple[p.MemDelta, list[int]]:  # fmt: skip
    """One hvoguest.c sysctl_step(): the pool grown or shrunk to `step["nr"]`, the folios
    told apart by the head pfns before and after.  vm.hugetlb_optimize_vmemmap (v5.19+,
    78f39084b41d) is read when a folio is prepared (vmemmap_should_optimize()), so it
    decides for the folios allocated after the write; a freed folio is restored iff it
    was optimized."""
    now = _heads(step)
    enabled = bool(int(step["sysctl"])) if facts.has_sysctl and step.get("sysctl") is not None else boot_enabled
    delta = p.NO_CHANGE
    for h in sorted(set(now) - set(heads)):
        delta = delta + ledger.prepare(facts, 2048, h, enabled)
    for h in sorted(set(heads) - set(now)):
        delta = delta + ledger.dissolve(facts, 2048, h)
    return delta, now


def _shown(step: Record) -> p.MemDelta:
    d = step["delta_kb"]
    return p.MemDelta(int(d["MemTotal"]), sum(int(d.get(k, 0)) for k in ("MemFree", "PcpFree", *OTHER_CONSUMERS)))


def sysctl_rows(facts: KernelFacts, hvo: str, rec: Record, ledger: p.VmemmapLedger) -> list[Row]:
    rows: list[Row] = []
    heads: list[int] = []
    for step in rec.get("steps", ()):
        pred, heads = _pool_step(facts, ledger, hvo == "on", step, heads)
        label = f"sysctl={step['sysctl']} then {step['action']} (pool {int(step['nr'])}) HVO {hvo}"
        rc = step.get("write_rc")
        ok = rc is not None and int(rc) == 0
        if rc is not None and ok != facts.has_sysctl:
            rows.append(Row(f"{label}: write", "accepted" if facts.has_sysctl else "refused",
                            "accepted" if ok else "refused", False))  # fmt: skip
        shown = _shown(step)
        rows.append(Row(f"{label}: MemTotal", _kb(pred.memtotal), _kb(shown.memtotal), shown.memtotal == pred.memtotal))
        rows.append(Row(f"{label}: MemFree", _kb(pred.memfree), _kb(shown.memfree), shown.memfree == pred.memfree))
    return rows


def perfolio_rows(facts: KernelFacts, hvo: str, rec: Record, ledger: p.VmemmapLedger) -> list[Row]:
    """One row per folio prepared or dissolved (hvoguest.c scenario_perfolio()): the
    MemTotal and free-memory change of that one step, against the ledger."""
    rows: list[Row] = []
    heads: list[int] = []
    for step in rec.get("steps", ()):
        before = set(heads)
        pred, heads = _pool_step(facts, ledger, hvo == "on", step, heads)
        changed = sorted(set(heads) ^ before)
        which = ",".join(f"{h:#x}" for h in changed) or "none"
        label = f"perfolio {step['action']} (pool {int(step['nr'])}) HVO {hvo}"
        shown = _shown(step)
        rows.append(Row(label, _mem(pred), _mem(shown), shown == pred, f"folio pfn {which}"))
    return rows


def error_rows(hvo: str, records: Sequence[Record]) -> list[Row]:
    return [Row(f"guest {r.get('scenario', '?')} HVO {hvo}", "runs", _short(str(r.get("message", ""))), False)
            for r in records if r.get("kind") == "error"]  # fmt: skip


def _cycle_folios(facts: KernelFacts, hvo: str, rec: Record, ledger: p.VmemmapLedger) -> None:
    """The folios a kpageflags, hwpoison, hwpoison2 or dma record prepared and dissolved,
    for the ledger (their rows read no memory figures)."""
    kind = rec.get("kind")
    if kind == "dma":
        cases = rec.get("cases") or ()
        head = int(cases[0]["head_pfn"]) if cases else -1
        kb = 2048
    else:
        head = int(rec.get("head_pfn", -1))
        kb = int(rec.get("hugepage_kb", 2048))
    if head >= 0:
        ledger.cycle(facts, kb, head, hvo == "on")


def stale_struct_pages_rows(facts: KernelFacts, hvo: str, rec: Record, ledger: p.VmemmapLedger) -> list[Row]:
    """A folio whose struct pages the model takes as fresh, on pfns an earlier folio of the
    same boot was optimized and restored on, with a restore that leaves head copies there
    (Debian 6.12.115+ vmemmap_restore_pte(), `nr_reset_struct_page` 0): the copies' page_type
    (PGTY_hugetlb) outlives the buddy allocator (linux-source-6.12 mm/page_alloc.c:1032-1034
    free_tail_page_prepare() and :1143-1152 free_pages_prepare() clear the tails' compound
    head and flags, not page_type, when check_pages is off), and a folio prepared there
    without HVO does not overwrite it (mm/internal.h:722 prep_compound_tail()), so once
    dissolved those pfns read KPF_HUGE (fs/proc/page.c:123,148 stable_page_flags():
    folio_test_hugetlb() of page_folio(), the page itself).  The rows of such a record predict what they cannot know: one row says
    so (the guest runs the scenarios that optimize in the HVO-off boot last)."""
    kb = int(rec.get("hugepage_kb", 2048))
    head = int(rec.get("head_pfn", -1))
    config = p.config_for(kb)
    if head < 0 or facts.scheme.facts.nr_reset_struct_page or p.optimizes(facts, config, hvo == "on"):
        return []
    end = head + config.huge_size // config.page_size
    earlier = sorted(h for h, n in ledger.restored.items() if h < end and head < h + n)
    if not earlier:
        return []
    name = f"{rec.get('kind')} at pfn {head} HVO {hvo}: struct pages"
    shown = f"on the pfns of folio(s) {', '.join(map(str, earlier))}, optimized and restored earlier"
    return [Row(name, "never restored in this boot", shown, False)]


def rows_for_boot(facts: KernelFacts, hvo: str, records: Sequence[Record]) -> list[Row]:
    boot = next((r for r in records if r.get("kind") == "boot"), {})
    out = boot_rows(facts, hvo, boot)
    # Records come in the order the guest ran them: the ledger follows every folio.
    ledger = p.VmemmapLedger()
    for rec in records:
        kind = rec.get("kind")
        try:
            if kind == "savings":
                out += savings_rows(facts, hvo, boot, rec, ledger)
            elif kind == "kpageflags":
                out += kpageflags_rows(facts, hvo, rec)
            elif kind == "hwpoison":
                out += hwpoison_rows(facts, hvo, rec)
            elif kind == "dma":
                out += dma_rows(facts, hvo, rec)
            elif kind == "sysctl":
                out += sysctl_rows(facts, hvo, rec, ledger)
            elif kind == "hwpoison2":
                out += hwpoison2_rows(facts, hvo, rec)
            elif kind == "perfolio":
                out += perfolio_rows(facts, hvo, rec, ledger)
            if kind in ("kpageflags", "hwpoison", "hwpoison2"):
                out += stale_struct_pages_rows(facts, hvo, rec, ledger)
            # A kpageflags reading of the savings step's folio is no folio of its own.
            if kind in ("kpageflags", "hwpoison", "hwpoison2", "dma") and rec.get("pool") is None:
                _cycle_folios(facts, hvo, rec, ledger)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            out.append(Row(f"guest {kind} record HVO {hvo}", "well-formed", f"malformed: {exc!r}", False))
    out += error_rows(hvo, records)
    if not any(r.get("kind") == "done" for r in records):
        out.append(Row(f"guest HVO {hvo}", "runs to the end", "no 'done' record", False))
    return out


def cited_source_rows(facts: KernelFacts) -> list[Row]:
    """A warning row (agree None: it fails nothing) when the booted kernel is not the build
    whose source the citations read: .ci/run installs the cited ABI package by name and
    falls back to the meta package, which may bring a later build."""
    cited = cited_kernel(facts.upstream)
    name = f"kernel {facts.release}: cited source"
    if cited is None:
        known = ", ".join(".".join(map(str, k.upstream)) for k in CITED_KERNELS)
        return [Row(name, f"one of {known}", facts.version, None, "warning: no source of this series was read")]
    want = ".".join(map(str, cited.upstream))
    if cited.upstream == facts.upstream:
        return []
    note = f"warning: the citations read {cited.source}; install {cited.package} for that build"
    return [Row(name, want, facts.version, None, note)]


def compare_boots(facts: KernelFacts, boots: Mapping[str, Sequence[Record]]) -> tuple[Row, ...]:
    """The cited-source warning, rows for each boot ("on", "off"), then the between-boot
    savings."""
    rows: list[Row] = cited_source_rows(facts)
    for hvo in sorted(boots, key=lambda mode: mode != "on"):  # HVO on first, then off
        rows += rows_for_boot(facts, hvo, boots[hvo])
    if "on" in boots and "off" in boots:
        # Only the first pool of each boot: MemTotal keeps what earlier pools freed
        # (the restored vmemmap is not given back to memblock), so later pools' figures
        # are cumulative; their own effect is in the per-boot rows.
        on = next((r for r in boots["on"] if r.get("kind") == "savings"), None)
        off = next((r for r in boots["off"] if r.get("kind") == "savings"), None)
        if on is not None and off is not None and on.get("hugepage_kb") == off.get("hugepage_kb"):
            rows += savings_between_boots(facts, on, off)
    return tuple(rows)
