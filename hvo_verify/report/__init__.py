# SPDX-License-Identifier: GPL-2.0-only
"""Rendering only: results, traces, diagrams and savings as text (at most 80 columns
where pasteable) and as versioned JSON.  Every function returns a string; cli.py
writes it to its stream."""
