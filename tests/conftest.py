"""Shared pytest configuration."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite tests/golden/*.out from the current output instead of comparing",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True when the run was started with --update-golden."""
    return bool(request.config.getoption("--update-golden"))


# Conformance rows the model does not match yet, per upstream kernel version, each with
# what we know.  The recorded-run and the live kernel tests assert these exact sets: a
# row fixed or newly broken fails them.
KNOWN_DISAGREEMENTS: dict[str, frozenset[str]] = {
    "6.12.117": frozenset({
        # After the 1 GiB savings step (HVO on: allocate, free; the restore copies the head
        # struct page to every 64th struct page, v6.12.115) no 1 GiB range is allocatable
        # again in a 3 GiB guest.  A candidate cause, not modelled: linux-source-6.12
        # mm/page_alloc.c:6827 pfn_range_valid_contig() refuses a range with PageHuge()
        # pages, and the stale head copies read PGTY_hugetlb.  A 6 GiB guest allocates it
        # elsewhere, but then the HVO-off 1 GiB MemFree reading drifts by ~12 MB.
        "guest kpageflags HVO on",
        # HVO off: after the pool shrink pfns 64*m report KPF_HUGE, as if the folio had been
        # optimized and restored verbatim; unexplained (the HVO-on boot shows the same
        # pattern, which the v6.12.115 model predicts).
        "hwpoison2 pinned head+3,+130 HVO off: after_shrink",
    }),
}  # fmt: skip


@pytest.fixture
def known_disagreements() -> dict[str, frozenset[str]]:
    return KNOWN_DISAGREEMENTS
