"""The exception families of hvo-verify.

User mistakes (`SpecError`) carry a path and a key so the CLI can print one line.
Our own bugs (`EncodingMismatch`) are never reported as findings.
"""

from __future__ import annotations


class HvoVerifyError(Exception):
    """Base of every error hvo-verify raises on purpose."""


class SpecError(HvoVerifyError):
    """Raised for bad user input: a malformed spec, an unknown key, preset, config or invariant."""

    def __init__(self, path: str, key: str, message: str) -> None:
        super().__init__(f"{path}: {key}: {message}")
        self.path = path
        self.key = key
        self.message = message

    def line(self) -> str:
        """The one-line diagnostic `path: key: message`."""
        return str(self)


class EncodingMismatch(HvoVerifyError):
    """Raised when the solver's counterexample does not replay on the concrete model (our bug)."""


class VmemmapFault(HvoVerifyError):
    """A read or write through a vmemmap PTE that does not allow it (kernel oops)."""

    def __init__(self, vaddr: int, why: str) -> None:
        super().__init__(f"{why} at vmemmap address {vaddr:#x}")
        self.vaddr = vaddr


class NotApplicable(HvoVerifyError):
    """The kernel would not optimize this folio under this config (the reason is the message)."""
