# SPDX-License-Identifier: GPL-2.0-only
"""Build every reproducer and run them all in one guest boot per kernel.

The guest's /init (conform/guest/init) runs each /reproducers/* when the kernel command
line has `hvo.reproducers`, one after another in one boot; each program leaves the pool
as it found it and unpoisons what it poisoned (runtime.c hvo_cleanup()), and the folio
of the next one is a fresh pool allocation.  Every output line comes back as a record;
ktap.py parses them.  The outcome of each (reproducer, kernel) is compared with the
expectation recorded per kernel (a reproducer of a bug the kernel still has is
expected to fail there), so CI fails only on a change.  Nothing prints here.
"""

from __future__ import annotations

import tempfile
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from hvo_verify import ktap
from hvo_verify.conform import guest

STATUS = {0: "pass", 1: "fail", 4: "skip"}  # kselftest's exit codes
BOOT_TIMEOUT_S = 240.0


@dataclass(frozen=True, slots=True)
class Outcome:
    name: str
    kernel: str  # uname -r
    status: str  # pass, fail, skip, or "error: ..." (no exit status, did not compile)
    expected: str  # from the expectations file; "" when none is recorded
    document: ktap.Document | None = None

    @property
    def as_expected(self) -> bool:
        return self.status == (self.expected or "pass")


def compile_reproducer(source: Path, workdir: Path) -> Path:
    """A reproducer must build warning-free (its tests, tests/unit/test_reproduce.py, do)."""
    return guest.compile_static(source, workdir / source.stem, "-Werror")


def load_expectations(path: Path) -> dict[str, dict[str, str]]:
    """{reproducer: {uname -r: pass|fail|skip}} from a TOML file of tables per reproducer."""
    if not path.exists():
        return {}
    doc = tomllib.loads(path.read_text())
    return {name: {k: str(v) for k, v in table.items()} for name, table in doc.items() if isinstance(table, dict)}


def outcomes_from_records(
    kernel: str, records: Sequence[Mapping[str, object]], expected: Mapping[str, Mapping[str, str]]
) -> list[Outcome]:
    lines: dict[str, list[str]] = {}
    status: dict[str, int] = {}
    for rec in records:
        name = str(rec.get("name", ""))
        if rec.get("kind") == "reproducer-begin":
            lines[name] = []
        elif rec.get("kind") == "ktap":
            lines.setdefault(name, []).append(str(rec.get("line", "")))
        elif rec.get("kind") == "reproducer-end":
            value = rec.get("status")
            status[name] = value if isinstance(value, int) else -1
    out = []
    for name in sorted(lines):
        rc = status.get(name)
        shown = STATUS.get(rc, f"error: exit status {rc}") if rc is not None else "error: did not finish"
        doc = ktap.parse("\n".join(lines[name]))
        out.append(Outcome(name, kernel, shown, expected.get(name, {}).get(kernel, ""), doc))
    return out


def run_reproducers(
    sources: Sequence[Path],
    kernels: Sequence[guest.Kernel],
    expected: Mapping[str, Mapping[str, str]],
    timeout_s: float = BOOT_TIMEOUT_S,
) -> list[Outcome]:
    """Compile `sources`, boot each kernel once with all of them, and report each."""
    out: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="hvo-repro-") as tmp:
        work = Path(tmp)
        binaries = [(f"reproducers/{src.stem}", compile_reproducer(src, work).read_bytes()) for src in sources]
        for kernel in kernels:
            rootfs = guest.build_initramfs(work / kernel.release, kernel, binaries)
            result = guest.boot(True, "hvo.reproducers", timeout_s, initramfs=rootfs, kernel=kernel)
            got = outcomes_from_records(kernel.release, result.records, expected)
            seen = {o.name for o in got}
            for src in sources:
                if src.stem not in seen:
                    got.append(Outcome(src.stem, kernel.release, f"error: no output ({result.exit_reason})",
                                       expected.get(src.stem, {}).get(kernel.release, "")))  # fmt: skip
            out += sorted(got, key=lambda o: o.name)
    return out
