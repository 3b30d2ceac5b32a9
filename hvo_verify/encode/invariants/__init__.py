# SPDX-License-Identifier: GPL-2.0-only
"""The invariants as z3 terms: twin of hvo_verify/invariants/ (static.py, reachable.py),
with the same ids (tests/unit/test_pairing.py)."""
