# SPDX-License-Identifier: GPL-2.0-only
"""Solving and verdicts: the only package besides encode/ that imports z3."""
