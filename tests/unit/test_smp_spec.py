# SPDX-License-Identifier: GPL-2.0-only
"""`[smp]` specs: what the loader accepts, and the one-line error (file, key, suggestion)
for everything it refuses."""

from __future__ import annotations

import pytest

from hvo_verify.errors import SpecError
from hvo_verify.ops.smp_table import ACTORS, PROTOCOLS, CpuSpec, Edit, PatchError, cpu_steps, library
from hvo_verify.specs.loader import parse_spec

HEAD = """title = "t"
source = "s"
scheme = "v6.12.111"
configs = ["x86-64/4K/2M"]
invariants = ["ro-write"]
"""
CPUS = """
[smp.cpu.CPU0]
run = "get_page_unless_zero"
page = 1

[smp.cpu.CPU1]
run = "prep_new_hugetlb_folio"
page = 1
"""
EXPECT = '\n[expect]\ndefault = "proved"\n'


def spec(smp: str = "[smp]\n" + CPUS, head: str = HEAD) -> str:
    return head + smp + EXPECT


def test_a_two_cpu_spec_loads_with_the_era_programs() -> None:
    s = parse_spec(spec(), "t.toml")
    assert s.smp is not None
    assert [c.actor for c in s.smp.cpus] == ["get_page_unless_zero", "prep_new_hugetlb_folio"]
    assert s.invariants == ("ro-write",)


@pytest.mark.parametrize(
    ("smp", "key", "words"),
    [
        ('[smp]\n[smp.cpu.CPU0]\nrun = "get_page_unles_zero"\n', "smp.cpu.CPU0.run", "get_page_unless_zero"),
        ("[smp]\n" + CPUS + 'drop = ["synchronise_rcu"]\n', "smp.cpu.CPU1", "no step 'synchronise_rcu' to drop"),
        ("[smp]\n" + CPUS + 'add = [["free_huge_folio", "before", "flush_tlb"]]\n', "smp.cpu.CPU1", "unknown step"),
        ("[smp]\n" + CPUS + 'move = [["synchronize_rcu", "after", "nothing"]]\n', "smp.cpu.CPU1", "no step 'nothing'"),
        ("[smp]\n" + CPUS + 'move = [["synchronize_rcu", "later", "flush_tlb"]]\n', "smp.cpu.CPU1.move[0]", "before"),
        ("[smp]\n" + CPUS + 'drop = ["rcu_read_unlock"]\n'.replace("CPU1", "CPU1"), "smp.cpu.CPU1", "no step"),
        ("[smp]\nfolios = 4\n" + CPUS, "smp.folios", "1..3"),
        ("[smp]\n" + CPUS + "folio = 1\n", "smp.cpu.CPU1.folio", "0..0"),
        (
            "[smp]\n[smp.cpu.A]\nrun='cpu_hotplug'\n[smp.cpu.B]\nrun='cpu_hotplug'\n[smp.cpu.C]\nrun='cpu_hotplug'\n"
            "[smp.cpu.D]\nrun='cpu_hotplug'\n",
            "smp.cpu",
            "1 to 3 CPUs",
        ),
        ("[smp]\ncpus = 2\n" + CPUS, "smp.cpus", "cpu"),
        ("[smp]\n" + CPUS + "[ops]\nrun = ['folio_put']\n", "smp", "not both"),
    ],
)
def test_bad_smp_input_is_one_line_with_the_key(smp: str, key: str, words: str) -> None:
    with pytest.raises(SpecError) as err:
        parse_spec(spec(smp), "bad.toml")
    line = str(err.value)
    assert "\n" not in line
    assert line.startswith("bad.toml: ")
    assert f": {key}: " in line or f": {key}" in line, line
    assert words in line, line


def test_a_branch_to_a_dropped_step_is_refused() -> None:
    cpu = CpuSpec("CPU0", "get_page_unless_zero", page=1, edits=(Edit("drop", "rcu_read_unlock"),))
    from hvo_verify.ops.smp import build

    with pytest.raises(ValueError, match="branches to 'rcu_read_unlock'"):
        build((cpu,), PROTOCOLS["v6.12.111"], folios=1, nr_vpages=2)


def test_invariants_of_other_spec_kinds_are_refused_with_the_reason() -> None:
    with pytest.raises(SpecError, match="invariant"):
        parse_spec(spec(head=HEAD.replace('["ro-write"]', '["refcount"]')), "x.toml")


def test_patches_move_add_and_drop_as_written() -> None:
    p = PROTOCOLS["v6.12.111"]
    base = [i.name for i in cpu_steps(CpuSpec("C", "hugetlb_vmemmap_optimize_folio"), p, 2)]
    moved = [i.name for i in cpu_steps(CpuSpec("C", "hugetlb_vmemmap_optimize_folio",
                                               edits=(Edit("move", "synchronize_rcu", "after", "flush_tlb"),)), p, 2)]  # fmt: skip
    assert moved.index("synchronize_rcu") == moved.index("flush_tlb") + 1
    assert sorted(moved) == sorted(base)
    dropped = [i.name for i in cpu_steps(CpuSpec("C", "hugetlb_vmemmap_optimize_folio",
                                                 edits=(Edit("drop", "synchronize_rcu"),)), p, 2)]  # fmt: skip
    assert "synchronize_rcu" not in dropped and len(dropped) == len(base) - 1
    old = PROTOCOLS["v6.8"]
    added = [i.name for i in cpu_steps(CpuSpec("C", "hugetlb_vmemmap_optimize_folio",
                                               edits=(Edit("add", "synchronize_rcu", "before", "ptl_lock"),)), old, 2)]  # fmt: skip
    assert added.index("synchronize_rcu") == added.index("ptl_lock") - 1
    with pytest.raises(PatchError, match="already"):
        cpu_steps(CpuSpec("C", "hugetlb_vmemmap_optimize_folio",
                          edits=(Edit("add", "synchronize_rcu", "before", "ptl_lock"),)), p, 2)  # fmt: skip


def test_every_actor_builds_under_every_era_and_cites_each_step() -> None:
    for era in PROTOCOLS.values():
        lib = library(era, 3)
        for name, build in ACTORS.items():
            steps = build(era, 3)
            assert steps, (era.name, name)
            for ins in steps:
                assert ins.cite and ins.name in lib, (era.name, name, ins.name)


def test_a_step_id_means_one_kernel_statement_in_every_actor_of_an_era() -> None:
    """`add` takes a step by id from any actor, and the legend shows one citation per id."""
    from hvo_verify.ops.smp_table import Prim

    for era in PROTOCOLS.values():
        seen: dict[str, object] = {}
        for build in ACTORS.values():
            for ins in build(era, 3):
                if ins.prim is not Prim.LABEL:
                    assert seen.setdefault(ins.name, ins) == ins, (era.name, ins.name)
