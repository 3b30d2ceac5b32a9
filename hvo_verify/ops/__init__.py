# SPDX-License-Identifier: GPL-2.0-only
"""The kernel operations on one folio, concretely: the operation table (table.py), the
machine that runs an operation's steps on a CPU (machine.py), and one file of steps per
kernel subsystem (pool.py, hwpoison.py, gup.py, pageflags.py), each mirrored file for
file, name for name, by hvo_verify/encode/ops/."""
