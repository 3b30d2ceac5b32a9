# SPDX-License-Identifier: GPL-2.0-only
"""From a trace to a kernel selftest: what user space can do of a trace (plan.py), the C
program that does it and asserts what the model predicts for the booted kernel
(emit.py), and running every reproducer in one guest boot per kernel (run.py).

Above conform/ (it boots through conform/guest.py and maps kernels through
conform/kernelmap.py), below report/ and cli.py; nothing here prints.
"""
