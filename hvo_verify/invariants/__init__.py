# SPDX-License-Identifier: GPL-2.0-only
"""What the kernel relies on: the static invariants of a remap layout (static.py), the
invariants over states the operations reach (reachable.py), and replaying an operation
trace against the latter (replay.py).  Their z3 forms are hvo_verify/encode/invariants/,
file for file, with the same ids."""
