# SPDX-License-Identifier: GPL-2.0-only
"""The exception families of hvo-verify, every one under `HvoVerifyError`.

- Bad user input, reported as one line and exit 2: `SpecError` (carries a path and a
  key), `UnknownName`, `TraceError`, `UsageError`.
- Our own bugs, never reported as findings: `EncodingMismatch`.
- What the kernel model says of a folio, caught where it becomes a result:
  `VmemmapFault` (the kernel would oops), `NotApplicable` (the kernel would not optimize).
- The conformance guest could not run: `GuestError`, `GuestUnavailable`.

A counterexample is a result (`check.result.CheckResult`), never an exception.
"""

from __future__ import annotations


class HvoVerifyError(Exception):
    """Base of every error hvo-verify raises on purpose."""


# ---------------------------------------------------------------- user input


class SpecError(HvoVerifyError):
    """Raised for bad user input: a malformed spec, an unknown key, preset, config or invariant."""

    def __init__(self, path: str, key: str, message: str, more: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(f"{path}: {key}: {message}")
        self.path = path
        self.key = key
        self.message = message
        self.more = more  # further (key, message) errors of the same file, in file order

    def line(self) -> str:
        """The one-line diagnostic `path: key: message` (the file's first error)."""
        return str(self)

    def lines(self) -> list[str]:
        """Every error of the file, one line each, the first as `line()` says it."""
        return [self.line(), *(f"{self.path}: {key}: {message}" for key, message in self.more)]


class UnknownName(HvoVerifyError, ValueError):
    """Raised when a preset, config, invariant or enum value is not known."""


class TraceError(HvoVerifyError, ValueError):
    """A trace file that does not describe a runnable trace (one-line message)."""


class UsageError(HvoVerifyError):
    """A bad command-line value (exit 2, one line)."""


# ---------------------------------------------------------------- our bugs


class EncodingMismatch(HvoVerifyError):
    """Raised when the solver's counterexample does not replay on the concrete model (our bug)."""


# ---------------------------------------------------------------- the kernel model's answers


class VmemmapFault(HvoVerifyError):
    """A read or write through a vmemmap PTE that does not allow it (kernel oops)."""

    def __init__(self, vaddr: int, why: str) -> None:
        super().__init__(f"{why} at vmemmap address {vaddr:#x}")
        self.vaddr = vaddr


class NotApplicable(HvoVerifyError):
    """The kernel would not optimize this folio under this config (the reason is the message)."""


# ---------------------------------------------------------------- conformance


class GuestError(HvoVerifyError):
    """The guest could not be built or started (not: the kernel misbehaved)."""


class GuestUnavailable(GuestError):
    """QEMU, a kernel with its modules, a static busybox or gcc is missing; the message
    is `available()`'s, ending with the install line."""
