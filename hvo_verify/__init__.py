# SPDX-License-Identifier: GPL-2.0-only
"""hvo-verify: a model checker for the Linux HugeTLB Vmemmap Optimization (HVO)."""

__version__ = "0.1.0"  # the package version (pyproject.toml reads it from here)
