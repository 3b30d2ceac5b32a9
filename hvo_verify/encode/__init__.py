# SPDX-License-Identifier: GPL-2.0-only
"""The z3 encoding of the model: closed-form symbolic vmemmap reads and readers.  No solving."""
