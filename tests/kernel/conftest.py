# SPDX-License-Identifier: GPL-2.0-only
"""One conformance run per installed kernel per test session (CI installs the two cited
builds, conform/kernelmap.py CITED_KERNELS): each kernel booted under QEMU with
hugetlb_free_vmemmap=on and =off, every scenario run in each guest.  The tests in this
folder share those two boots of each kernel; without QEMU, a kernel, busybox or gcc they
skip with the install line."""

from __future__ import annotations

import pytest

from hvo_verify.conform import boot_all, guest


def _kernels() -> list[guest.Kernel | None]:
    """Every installed kernel, oldest first; [None] (one skipped run) when there is none."""
    return [*guest.installed_kernels()] or [None]


@pytest.fixture(scope="session", params=_kernels(), ids=lambda k: k.release if k is not None else "no-kernel")
def boots(request: pytest.FixtureRequest) -> dict[str, guest.BootResult]:
    reason = guest.available()
    if reason is not None:
        pytest.skip(reason)
    kernel: guest.Kernel | None = request.param
    return boot_all(kernel=kernel)
