"""One conformance run per test session: the installed kernel booted under QEMU with
hugetlb_free_vmemmap=on and =off, every scenario run in each guest.  The tests in this
folder share those two boots; without QEMU, a kernel, busybox or gcc they skip with the
install line."""

from __future__ import annotations

import pytest

from hvo_verify.conform import boot_all, guest


@pytest.fixture(scope="session")
def boots() -> dict[str, guest.BootResult]:
    reason = guest.available()
    if reason is not None:
        pytest.skip(reason)
    return boot_all()
