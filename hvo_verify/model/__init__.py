# SPDX-License-Identifier: GPL-2.0-only
"""The pure domain model: configs, schemes, struct page contents, the concrete vmemmap.

Nothing in this package imports z3, hypothesis, or writes output.
"""
