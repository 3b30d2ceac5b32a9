# SPDX-License-Identifier: GPL-2.0-only
"""Spec files: parsed once at the edge into frozen objects with precise errors."""
