# SPDX-License-Identifier: GPL-2.0-only
"""The kernel operations as z3 terms, for bounded model checking: file for file and
name for name the twin of hvo_verify/ops/ (pool.py, hwpoison.py, gup.py, pageflags.py),
with the unrolling (unroll.py), its memory (memory.py), one step's merge of every
operation (step.py), the scalar state (state.py) and the preconditions (enabled.py)."""
