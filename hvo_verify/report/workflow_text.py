# SPDX-License-Identifier: GPL-2.0-only
"""The text of a reviewer's workflow: `check --suggest-expect` (an `[expect]` table per
spec file, written from the verdicts of a run, to paste into the file when it joins
the regression suite), the configs `explain` skipped, `list --specs`, and the legend
under `savings`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from hvo_verify.check.result import CheckResult
from hvo_verify.report.wrap import wrap
from hvo_verify.specs.bundled import ShippedSpec


def suggest_expect(results: Sequence[CheckResult]) -> str:
    """Per spec file: the most common verdict as `default`; a config whose checks all
    end in one other verdict as `*@CONFIG`; then one `INV@CONFIG` key per check that
    still differs (each qualified `SCHEME:` in a sweep).  Loading it back gives the same
    verdicts (tests/unit/test_workflow.py)."""
    out: list[str] = []
    by_spec: dict[str, list[CheckResult]] = {}
    for res in results:
        by_spec.setdefault(res.spec, []).append(res)
    for spec, group in by_spec.items():
        default = Counter(r.verdict.value for r in group).most_common(1)[0][0]
        out += ["", f"# {spec}: the verdicts of this run, to paste in place of its [expect]", "[expect]"]
        out.append(f'default = "{default}"')
        by_config: dict[tuple[str, str], set[str]] = {}
        for res in group:
            by_config.setdefault((res.scheme if res.sweep else "", res.config), set()).add(res.verdict.value)
        whole = {key: next(iter(v)) for key, v in by_config.items() if len(v) == 1 and v != {default}}
        for (scheme, config), verdict in whole.items():
            out.append(f'"{scheme + ":" if scheme else ""}*@{config}" = "{verdict}"')
        for res in group:
            scheme = res.scheme if res.sweep else ""
            if res.verdict.value != default and (scheme, res.config) not in whole:
                out.append(f'"{scheme + ":" if scheme else ""}{res.invariant}@{res.config}" = "{res.verdict.value}"')
    return "\n".join(out) + "\n"


def skipped_note(skipped: Sequence[tuple[str, str]]) -> str:
    """`explain`: the configs where nothing applies, each distinct reason once (the
    config id that starts a reason is dropped: the configs are listed before it)."""
    by_reason: dict[str, list[str]] = {}
    for config, reason in skipped:
        by_reason.setdefault(reason.removeprefix(f"{config}: "), []).append(config)
    out = []
    for reason, configs in by_reason.items():
        out += wrap(f"not applicable on {', '.join(configs)}: {reason}", break_on_hyphens=False)
    return "\n".join(out) + "\n"


def shipped_list(specs: Sequence[ShippedSpec], root: str) -> str:
    """`list --specs`: the shipped spec files (path below the suite) and their titles."""
    out = [f"shipped specs, below {root}", "(check one: hvo-verify check THAT-FOLDER/PATH):"]
    for spec in specs:
        out.append(f"  {spec.path}")
        out += wrap(f"      {spec.title}", break_on_hyphens=False) if spec.title else []
    if not specs:
        out.append("  (none match)")
    return "\n".join(out) + "\n"


# The PTE table per split PMD: mm/hugetlb_vmemmap.c vmemmap_split_pmd() ->
# pte_alloc_one_kernel() (linux-source-6.12 :53, :61; split_vmemmap_huge_pmd() in
# linux-source-6.1 :39, :54); model/accounting.py pagetable_pages().
SAVINGS_LEGEND = """\
V      vmemmap pages per folio (its struct pages x sizeof(struct page) / PAGE_SIZE)
freed  vmemmap pages the remap gives back to the buddy allocator, per folio
alloc  pages the remap allocates per folio (a new head page when it copies one)
ptes   PTE tables allocated to split a PMD-mapped vmemmap (one per PMD:
       vmemmap_split_pmd()), charged whole to this one folio
net    freed - alloc - ptes: the pages one folio alone saves
pool   for --pool bytes of folios: (freed - alloc) x folios, then net of the PTE
       tables too; one PTE table maps PMD_SIZE of vmemmap, which the vmemmaps of
       several folios share (64 x86-64 2M folios), so the pool pays one table per
       PMD_SIZE of vmemmap, not one per folio: pool net > folios x net when ptes > 0
"""
