# SPDX-License-Identifier: GPL-2.0-only
"""Which model preset a running kernel is, and the version facts conformance needs.

`uname -r` of a distribution kernel names its ABI (Debian: 6.1.0-57-amd64); `uname -v`
names the upstream stable release it was built from (Debian: "... Debian 6.1.192-3 ...").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hvo_verify.model.policy import Policies
from hvo_verify.model.scheme import PRESETS, Scheme

# (first version, preset, why); the last entry whose version <= the kernel's wins.
_ERAS: tuple[tuple[tuple[int, ...], str, str], ...] = (
    ((0, 0), "none", "no HVO before v5.14"),
    ((5, 14), "v5.14", "v5.14..v5.17: keep vmemmap pages 0,1 (RESERVE_VMEMMAP_NR = 2)"),
    ((5, 18), "v5.18", "v5.18: keep page 0; fake heads (e7d324850bfc)"),
    ((5, 19), "v5.19", "v5.19..v6.0: v5.18 with the power-of-2 guard (0effdf461c57)"),
    ((6, 1), "v6.1", "v6.1..v6.1.51: the v5.18 layout, power-of-2 guard, raw_hwp list"),
    ((6, 1, 52), "v6.1.52", "v6.1.52+ (Debian): hugetlb kept until the restore (32c877191e02 backport)"),
    ((6, 2), "v6.2", "v6.2..v6.4: head vmemmap page copied to a new page (11aad2631bf7)"),
    ((6, 5), "v6.5", "v6.5..v6.7: hugetlb kept until the restore (32c877191e02)"),
    ((6, 8), "v6.8", "v6.8..v6.9: batched optimize/restore"),
    ((6, 10), "v6.10", "v6.10..v6.14: refcount frozen + RCU (bd225530a4c7); kpageflags from the folio"),
    ((6, 12, 111), "v6.12.111", "v6.12.111..v6.12.114 (Debian): page[3] hugetlb fields, reset 4"),
    ((6, 12, 115), "v6.12.115", "v6.12.115+ (Debian): restore copies the head copy verbatim (vmemmap_walk refactor)"),
    ((6, 13), "v6.10", "v6.13..v6.14: no source read; taken as v6.10"),
    ((6, 15), "v6.15", "v6.15+: page[3] hugetlb fields, reset 4 (4eeec8c89a0c + 274fe92de2c4); no source read"),
)


@dataclass(frozen=True, slots=True)
class CitedKernel:
    """A Debian kernel whose source the model's citations read (file:line in
    /work/src/linux-source-X.Y and ARCHITECTURE.md's kernel index)."""

    upstream: tuple[int, int, int]
    package: str  # Debian's ABI package: exactly this build (.ci/run installs it by name)
    meta: str  # the meta package, the fallback: it may bring a later build
    source: str  # the source package and version the citations were read in


CITED_KERNELS: tuple[CitedKernel, ...] = (
    CitedKernel((6, 1, 192), "linux-image-6.1.0-57-amd64", "linux-image-amd64", "linux-source-6.1 6.1.192-3"),
    CitedKernel(
        (6, 12, 117),
        "linux-image-6.12.117+deb12-amd64",
        "linux-image-6.12-amd64",
        "linux-source-6.12 6.12.117-1~deb12u1",
    ),
)


def cited_kernel(upstream: tuple[int, int, int]) -> CitedKernel | None:
    """The cited kernel of the same X.Y series, if any."""
    return next((k for k in CITED_KERNELS if k.upstream[:2] == upstream[:2]), None)


@dataclass(frozen=True, slots=True)
class KernelFacts:
    """What the conformance scenarios need to know about a kernel version, beyond the
    preset's remap scheme and operation policies."""

    release: str  # uname -r
    upstream: tuple[int, int, int]  # the upstream (stable) version it was built from
    preset: str
    why: str
    # 78f39084b41d "mm: hugetlb_vmemmap: add hugetlb_optimize_vmemmap sysctl" (v5.19):
    # vm.hugetlb_optimize_vmemmap, read by vmemmap_should_optimize() when a folio is
    # prepared, so it affects only folios allocated after the write.
    has_sysctl: bool
    # block/bio.c __bio_iov_iter_get_pages() in v6.1 takes O_DIRECT pages with
    # iov_iter_get_pages2() (FOLL_GET: get_user_pages_fast) and bio_release_pages()
    # drops them with put_page(); from v6.3 they are pinned (iov_iter_extract_pages(),
    # FOLL_PIN) and unpinned.
    dio_pins: bool
    # The operation policies the model runs with; None: the preset's own
    # (model/policy.py default_policies()).  Set only by conform/discrimination.py, to
    # ask what another hwpoison policy would have shown.
    policies: Policies | None = None

    @property
    def scheme(self) -> Scheme:
        return PRESETS[self.preset]

    @property
    def version(self) -> str:
        return ".".join(map(str, self.upstream))


def upstream_version(release: str, version: str) -> tuple[int, int, int] | None:
    """The upstream version: a "Debian X.Y.Z" / "X.Y.Z" in `uname -v`, else `uname -r`."""
    for text in (version, release):
        m = re.search(r"(?:Debian |^)(\d+)\.(\d+)(?:\.(\d+))?", text)
        if m is not None:
            return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    return None


def kernel_facts(release: str, version: str) -> KernelFacts | None:
    """Map a booted kernel to the model; None when its version cannot be read."""
    upstream = upstream_version(release, version)
    if upstream is None:
        return None
    preset, why = "none", ""
    for first, name, reason in _ERAS:
        if upstream[: len(first)] >= first:
            preset, why = name, reason
    return KernelFacts(
        release=release,
        upstream=upstream,
        preset=preset,
        why=why,
        has_sysctl=upstream[:2] >= (5, 19),
        dio_pins=upstream[:2] >= (6, 3),
    )
