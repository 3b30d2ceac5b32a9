# SPDX-License-Identifier: GPL-2.0-only
"""Boot a real kernel under QEMU and collect what the conformance helper measured.

The guest is a busybox initramfs built here: `/init` (guest/init) loads the virtio block
and hwpoison-inject modules of the host's distribution kernel, then runs `hvoguest`
(guest/hvoguest.c, compiled static at run time), which prints one `@@HVO {json}` record a
line on the serial console and powers the guest off. The host side writes a raw disk
image whose byte at offset x is `pattern(x)` for the O_DIRECT (DMA) scenario.

No printing and no z3 here; `boot()` returns a frozen `BootResult`.
"""

from __future__ import annotations

import atexit
import bz2
import contextlib
import functools
import gzip
import json
import lzma
import os
import re
import selectors
import shutil
import signal
import stat
import struct
import subprocess
import tempfile
import time
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hvo_verify.conform.kernelmap import CITED_KERNELS
from hvo_verify.errors import GuestError, GuestUnavailable

# The kernels by their ABI package names: the builds the citations read (kernelmap.py).
INSTALL_LINE = f"apt-get install -y qemu-system-x86 {' '.join(k.package for k in CITED_KERNELS)} busybox-static"
GUEST_DIR = Path(__file__).resolve().parent / "guest"
HELPER_SOURCE = GUEST_DIR / "hvoguest.c"
INIT_SCRIPT = GUEST_DIR / "init"
QEMU = "qemu-system-x86_64"
BUSYBOX_PATHS = ("/bin/busybox", "/usr/bin/busybox")
# Loaded in this order (after the dependencies each one names, if a kernel has more).
MODULES = (
    "virtio_ring",
    "virtio",
    "virtio_pci_legacy_dev",
    "virtio_pci_modern_dev",
    "virtio_pci",
    "virtio_blk",
    "hwpoison-inject",
)
RECORD_MARK = "@@HVO "
DISK_BYTES = 4 << 20
SECTOR = 512
DEFAULT_MEMORY_MB = 3072  # 1 GiB page: [1 GiB, 2 GiB) or [2 GiB, 3 GiB) must stay free of boot allocations
DEFAULT_TIMEOUT_S = 120.0
ACCEL_ENV = "HVO_CONFORM_ACCEL"  # "kvm", "tcg" or "auto" (the default)
CONSOLE_TAIL_CHARS = 6000

# A kernel console line ("[   12.345678] text\n"), possibly printed into the middle of a
# record line. Record strings never contain "[" (the helper escapes it), so cutting these
# out of the console stream can only remove kernel text.
_KMSG_LINE = re.compile(r"\[\s*\d+\.\d+\] [^\n]*\n")


def pattern(x: int) -> int:
    """Disk byte at offset x; hvoguest.c has the same function. Every byte of a sector
    differs from its neighbours, and every 512-byte sector of the first 16 MiB differs."""
    return (((x * 31) + (x >> 9) * 7 + 0x5A) ^ (x >> 17)) & 0xFF


def disk_image(size: int = DISK_BYTES) -> bytes:
    """`pattern(x)` for x in [0, size), built a sector at a time."""
    if size % SECTOR:
        raise ValueError(f"disk size {size} is not a multiple of {SECTOR}")
    # Inside sector s: pattern(s*512 + j) = ((31*j + 7*s + 0x5a) ^ (s >> 8)) & 0xff,
    # since 512*31 is 0 mod 256; so each sector is the row 31*j translated twice.
    row = bytes((31 * j) & 0xFF for j in range(SECTOR))
    add = [bytes((i + c) & 0xFF for i in range(256)) for c in range(256)]
    xor = [bytes(i ^ c for i in range(256)) for c in range(256)]
    sectors = []
    for s in range(size // SECTOR):
        sectors.append(row.translate(add[(7 * s + 0x5A) & 0xFF]).translate(xor[(s >> 8) & 0xFF]))
    return b"".join(sectors)


# ---------------------------------------------------------------- host tools


@dataclass(frozen=True, slots=True)
class Kernel:
    """A host kernel image with its modules directory."""

    release: str
    vmlinuz: Path
    modules: Path


def _version_key(release: str) -> tuple[tuple[int, str], ...]:
    return tuple((int(p), "") if p.isdigit() else (-1, p) for p in re.split(r"[.\-+~]", release))


def installed_kernels() -> tuple[Kernel, ...]:
    """Every readable /boot/vmlinuz-<release> that has /lib/modules/<release>, oldest first."""
    found = []
    for image in Path("/boot").glob("vmlinuz-*"):
        release = image.name[len("vmlinuz-") :]
        modules = Path("/lib/modules") / release
        if (modules / "modules.dep").is_file() and os.access(image, os.R_OK):
            found.append(Kernel(release, image, modules))
    return tuple(sorted(found, key=lambda k: _version_key(k.release)))


def find_kernel(release: str | None = None) -> Kernel | None:
    """The installed kernel named by `release` (a `uname -r` such as 6.1.0-57-amd64, or
    the path of its /boot/vmlinuz-<release>); without it, the newest installed one.
    None when there is no such kernel."""
    kernels = installed_kernels()
    if release is None:
        return kernels[-1] if kernels else None
    name = Path(release).name.removeprefix("vmlinuz-") if "/" in release else release
    return next((k for k in kernels if k.release == name), None)


def _is_static_elf(path: Path) -> bool:
    """True for an ELF executable without a PT_INTERP (program interpreter) header."""
    try:
        with path.open("rb") as f:
            head = f.read(64)
            if head[:4] != b"\x7fELF" or head[4] != 2:  # ELFCLASS64
                return False
            endian = "<" if head[5] == 1 else ">"
            phoff = struct.unpack_from(endian + "Q", head, 32)[0]
            phentsize, phnum = struct.unpack_from(endian + "HH", head, 54)
            f.seek(phoff)
            table = f.read(phentsize * phnum)
    except OSError:
        return False
    for i in range(phnum):
        (p_type,) = struct.unpack_from(endian + "I", table, i * phentsize)
        if p_type == 3:  # PT_INTERP
            return False
    return True


def find_busybox() -> Path | None:
    """A statically linked busybox (Debian: busybox-static's /bin/busybox)."""
    for candidate in BUSYBOX_PATHS:
        path = Path(candidate)
        if path.is_file() and _is_static_elf(path):
            return path
    return None


def _libc_static_present() -> bool:
    try:
        out = subprocess.run(
            ["gcc", "-print-file-name=libc.a"], capture_output=True, text=True, timeout=30, check=False
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return False
    return os.path.isabs(out) and os.path.isfile(out)


def available() -> str | None:
    """None when a guest can be booted here, else why not (ending with the install line)."""
    reason: str | None = None
    kernel = find_kernel()
    if shutil.which(QEMU) is None:
        reason = f"{QEMU} not found"
    elif kernel is None:
        reason = "no readable /boot/vmlinuz-<release> with /lib/modules/<release>"
    elif find_busybox() is None:
        reason = f"no static busybox at {' or '.join(BUSYBOX_PATHS)}"
    elif shutil.which("gcc") is None:
        reason = "gcc not found (also apt-get install -y gcc libc6-dev)"
    elif not _libc_static_present():
        reason = "gcc cannot link -static: no libc.a (also apt-get install -y libc6-dev)"
    else:
        try:
            resolve_modules(kernel)
        except GuestError as e:
            reason = str(e)
    if reason is None:
        return None
    return f"{reason}; to install: {INSTALL_LINE}"


# ---------------------------------------------------------------- modules


def _module_name(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    for suffix in (".xz", ".gz", ".zst"):
        name = name.removesuffix(suffix)
    return name.removesuffix(".ko").replace("-", "_")


@functools.cache
def _modules_dep(modules_dir: Path) -> dict[str, tuple[str, tuple[str, ...]]]:
    """name -> (relative path, dependency paths) from modules.dep."""
    table: dict[str, tuple[str, tuple[str, ...]]] = {}
    for line in (modules_dir / "modules.dep").read_text().splitlines():
        if ":" not in line:
            continue
        path, deps = line.split(":", 1)
        table[_module_name(path)] = (path, tuple(deps.split()))
    return table


def _builtin(modules_dir: Path) -> frozenset[str]:
    try:
        text = (modules_dir / "modules.builtin").read_text()
    except OSError:
        return frozenset()
    return frozenset(_module_name(line) for line in text.split())


def resolve_modules(kernel: Kernel, names: Iterable[str] = MODULES) -> tuple[Path, ...]:
    """The module files to insmod, dependencies before their users; built-in ones skipped."""
    table = _modules_dep(kernel.modules)
    builtin = _builtin(kernel.modules)
    order: list[Path] = []
    seen: set[str] = set()

    def visit(name: str, chain: tuple[str, ...]) -> None:
        key = _module_name(name)
        if key in builtin or key in seen:
            return
        if key in chain:
            raise GuestError(f"kernel {kernel.release}: module dependency cycle {' -> '.join(chain + (key,))}")
        if key not in table:
            raise GuestError(f"kernel {kernel.release}: module {key} is neither in modules.dep nor built in")
        path, deps = table[key]
        for dep in deps:
            visit(dep, chain + (key,))
        full = kernel.modules / path
        if not full.is_file():
            raise GuestError(f"kernel {kernel.release}: {full} is missing")
        seen.add(key)
        order.append(full)

    for name in names:
        visit(name, ())
    return tuple(order)


def _module_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if path.name.endswith(".xz"):
        return lzma.decompress(data)
    if path.name.endswith(".gz"):
        return gzip.decompress(data)
    if path.name.endswith(".zst"):
        if shutil.which("zstd") is None:
            raise GuestError(f"{path} is zstd-compressed and zstd is not installed")
        return subprocess.run(["zstd", "-dc", str(path)], capture_output=True, check=True, timeout=60).stdout
    return data


# ---------------------------------------------------------------- PVH kernel


def _elf_has_pvh_note(elf: bytes) -> bool:
    """True when a 64-bit little-endian ELF has the Xen note XEN_ELFNOTE_PHYS32_ENTRY (18),
    the entry point QEMU's PVH loader needs (CONFIG_PVH)."""
    if elf[:4] != b"\x7fELF" or elf[4] != 2 or elf[5] != 1:
        return False
    phoff = struct.unpack_from("<Q", elf, 32)[0]
    phentsize, phnum = struct.unpack_from("<HH", elf, 54)
    for i in range(phnum):
        p_type, _flags, p_offset, _vaddr, _paddr, p_filesz = struct.unpack_from("<IIQQQQ", elf, phoff + i * phentsize)
        if p_type != 4:  # PT_NOTE
            continue
        at, end = p_offset, p_offset + p_filesz
        while at + 12 <= end:
            namesz, descsz, n_type = struct.unpack_from("<III", elf, at)
            name = elf[at + 12 : at + 12 + namesz].rstrip(b"\0")
            if name == b"Xen" and n_type == 18:
                return True
            at += 12 + (namesz + 3) // 4 * 4 + (descsz + 3) // 4 * 4
    return False


def extract_vmlinux(bzimage: bytes) -> bytes | None:
    """The ELF kernel inside a bzImage when it can be booted directly through PVH (no
    decompression in the guest: about 3 CPU seconds less per TCG boot), else None.
    Handles xz, gzip, bzip2 and legacy lzma payloads (zstd, lz4, lzo: None)."""
    if len(bzimage) < 0x250 or bzimage[0x202:0x206] != b"HdrS":
        return None
    setup_sects = bzimage[0x1F1] or 4
    start = (setup_sects + 1) * 512
    offset, length = struct.unpack_from("<II", bzimage, 0x248)
    payload = bzimage[start + offset : start + offset + length]
    try:
        if payload.startswith(b"\xfd7zXZ\x00"):
            elf = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(payload)
        elif payload.startswith(b"\x1f\x8b"):
            elf = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(payload)
        elif payload.startswith(b"BZh"):
            elf = bz2.BZ2Decompressor().decompress(payload)
        elif payload.startswith(b"\x5d\x00\x00"):
            elf = lzma.LZMADecompressor(format=lzma.FORMAT_ALONE).decompress(payload)
        else:
            return None
    except (lzma.LZMAError, zlib.error, OSError, EOFError, ValueError):
        return None
    return elf if _elf_has_pvh_note(elf) else None


def _boot_image(kernel: Kernel) -> Path:
    """The uncompressed PVH ELF of kernel (extracted once per process), else its bzImage."""
    if kernel.release not in _PVH_CACHE:
        elf = extract_vmlinux(kernel.vmlinuz.read_bytes())
        if elf is None:
            _PVH_CACHE[kernel.release] = kernel.vmlinuz
        else:
            work = Path(tempfile.mkdtemp(prefix="hvo-vmlinux-"))
            atexit.register(shutil.rmtree, work, True)
            path = work / f"vmlinux-{kernel.release}"
            path.write_bytes(elf)
            _PVH_CACHE[kernel.release] = path
    return _PVH_CACHE[kernel.release]


_PVH_CACHE: dict[str, Path] = {}


# ---------------------------------------------------------------- initramfs


def _cpio_entry(ino: int, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)) -> bytes:
    """One "newc" (070701) cpio member: header, NUL-terminated name, data, each padded to 4."""
    encoded = name.encode() + b"\0"
    fields = (ino, mode, 0, 0, 2 if stat.S_ISDIR(mode) else 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(encoded), 0)
    header = b"070701" + b"".join(b"%08X" % v for v in fields)
    out = header + encoded
    out += b"\0" * (-len(out) % 4)
    out += data
    out += b"\0" * (-len(out) % 4)
    return out


def write_cpio(path: Path, members: Sequence[tuple[str, int, bytes, tuple[int, int]]]) -> None:
    """(name, mode, data, (rdev major, minor)) members, then the TRAILER!!! member."""
    chunks = [_cpio_entry(i + 1, name, mode, data, rdev) for i, (name, mode, data, rdev) in enumerate(members)]
    chunks.append(_cpio_entry(0, "TRAILER!!!", 0))
    blob = b"".join(chunks)
    blob += b"\0" * (-len(blob) % 512)
    path.write_bytes(blob)


def compile_static(source: Path, out: Path, *flags: str) -> Path:
    """gcc -static -O2 -Wall `flags` `source` -o `out`; GuestError with gcc's first error."""
    cmd = ["gcc", "-static", "-O2", "-Wall", *flags, "-o", str(out), str(source)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    except (OSError, subprocess.SubprocessError) as e:
        raise GuestError(f"compiling {source.name}: {e}") from e
    if done.returncode != 0:
        raise GuestError(f"compiling {source.name} failed:\n{done.stderr.strip()}")
    return out


def compile_helper(workdir: Path) -> Path:
    """gcc -static -O2 guest/hvoguest.c into workdir."""
    return compile_static(HELPER_SOURCE, workdir / "hvoguest")


def build_initramfs(workdir: Path, kernel: Kernel | None = None, extra: Sequence[tuple[str, bytes]] = ()) -> Path:
    """Compile the helper and pack busybox, /init, the helper and the modules into
    workdir/initramfs.cpio (uncompressed newc). Returns its path.  `extra`: more
    executables as (path in the guest, bytes), e.g. the reproducers under reproducers/."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    kernel = kernel or find_kernel()
    if kernel is None:
        raise GuestError("no readable /boot/vmlinuz-<release> with /lib/modules/<release>")
    busybox = find_busybox()
    if busybox is None:
        raise GuestError(f"no static busybox at {' or '.join(BUSYBOX_PATHS)}")
    helper = compile_helper(workdir)
    modules = resolve_modules(kernel)

    d = stat.S_IFDIR | 0o755
    x = stat.S_IFREG | 0o755
    r = stat.S_IFREG | 0o644
    none = (0, 0)
    members: list[tuple[str, int, bytes, tuple[int, int]]] = [
        (name, d, b"", none) for name in ("bin", "dev", "etc", "lib", "lib/modules", "proc", "sys", "tmp")
    ]
    members.append(("dev/console", stat.S_IFCHR | 0o600, b"", (5, 1)))
    members.append(("init", x, INIT_SCRIPT.read_bytes(), none))
    members.append(("bin/busybox", x, busybox.read_bytes(), none))
    members.append(("bin/sh", stat.S_IFLNK | 0o777, b"busybox", none))
    members.append(("hvoguest", x, helper.read_bytes(), none))
    if extra:
        members += [(name, d, b"", none) for name in sorted({p.rsplit("/", 1)[0] for p, _b in extra if "/" in p})]
        members += [(path, x, data, none) for path, data in extra]
    listing = []
    for module in modules:
        name = module.name
        for suffix in (".xz", ".gz", ".zst"):
            name = name.removesuffix(suffix)
        members.append((f"lib/modules/{name}", r, _module_bytes(module), none))
        listing.append(name)
    members.append(("etc/hvo-modules", r, ("\n".join(listing) + "\n").encode(), none))
    out = workdir / "initramfs.cpio"
    write_cpio(out, members)
    return out


# ---------------------------------------------------------------- boot


@dataclass(frozen=True, slots=True)
class BootResult:
    """One guest boot: the records in console order and how the boot ended."""

    records: tuple[dict[str, Any], ...]
    console_tail: str  # the end of the console text, for diagnostics
    seconds: float  # wall clock of the QEMU process
    accel: str  # "kvm" or "tcg"
    exit_reason: str  # "poweroff", "timeout", "stalled", "panic", "no-done-record", "qemu-exit-<rc>"
    returncode: int | None = None
    command: tuple[str, ...] = ()
    bad_records: tuple[str, ...] = ()  # "@@HVO" lines that did not parse
    notes: tuple[str, ...] = ()  # e.g. the KVM attempt that was abandoned for TCG

    @property
    def ok(self) -> bool:
        return self.exit_reason == "poweroff"

    def of_kind(self, kind: str) -> tuple[dict[str, Any], ...]:
        return tuple(r for r in self.records if r.get("kind") == kind)


def kvm_usable() -> bool:
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    os.close(fd)
    return True


def choose_accel(requested: str | None = None) -> str:
    """`requested`, else $HVO_CONFORM_ACCEL, else "auto": kvm when /dev/kvm opens
    read-write, tcg otherwise."""
    want = (requested or os.environ.get(ACCEL_ENV) or "auto").strip().lower()
    if want not in ("auto", "kvm", "tcg"):
        raise GuestError(f"accelerator {want!r}: expected kvm, tcg or auto (${ACCEL_ENV})")
    if want == "kvm" and not kvm_usable():
        raise GuestError("kvm requested but /dev/kvm cannot be opened read-write")
    if want == "auto":
        return "kvm" if kvm_usable() else "tcg"
    return want


def kernel_cmdline(hvo: bool, extra_cmdline: str = "", scenarios: Sequence[str] | None = None) -> str:
    """The guest kernel's command line. Besides the console settings (records must not
    be split by kernel messages, hence quiet loglevel=3):
    nokaslr        the kernel image at 16 MiB, so [1 GiB, 2 GiB) stays free for the
                   runtime 1 GiB page (with KASLR it lands there about one boot in three);
    init_on_alloc=0  Debian's default is 1, which zeroes every pool page on allocation
                   (about 5 CPU seconds under TCG for the 1 GiB page); no HVO path
                   depends on it.
    """
    parts = [
        "console=ttyS0",
        "quiet",
        "loglevel=3",
        "panic=-1",
        "nokaslr",
        "init_on_alloc=0",
        f"hugetlb_free_vmemmap={'on' if hvo else 'off'}",
    ]
    if scenarios is not None:
        parts.append("hvoguest.scenarios=" + ",".join(scenarios))
    if extra_cmdline.strip():
        parts.append(extra_cmdline.strip())
    return " ".join(parts)


def qemu_command(image: Path, initramfs: Path, disk: Path, cmdline: str, accel: str, memory_mb: int) -> tuple[str, ...]:
    """`image`: a bzImage, or an ELF vmlinux with a PVH note (see `extract_vmlinux()`)."""
    return (
        QEMU,
        "-nographic",
        "-nodefaults",
        "-no-reboot",
        "-serial",
        "stdio",
        "-accel",
        accel,
        "-cpu",
        "host,-arch-capabilities" if accel == "kvm" else "max",
        "-m",
        f"{memory_mb}M",
        "-smp",
        "1",
        "-kernel",
        str(image),
        "-initrd",
        str(initramfs),
        "-append",
        cmdline,
        "-drive",
        f"file={disk},if=virtio,format=raw,cache=writeback,readonly=on",
    )


def parse_records(console: str) -> tuple[tuple[dict[str, Any], ...], tuple[str, ...]]:
    """The `@@HVO {json}` records of a console stream (kernel lines cut out), and the
    record lines that did not parse."""
    text = _KMSG_LINE.sub("", console.replace("\r", ""))
    records: list[dict[str, Any]] = []
    bad: list[str] = []
    for line in text.split("\n"):
        at = line.find(RECORD_MARK)
        if at < 0:
            continue
        body = line[at + len(RECORD_MARK) :].strip()
        try:
            value = json.loads(body)
        except ValueError:
            bad.append(line[at:])
            continue
        if isinstance(value, dict) and isinstance(value.get("kind"), str):
            records.append(value)
        else:
            bad.append(line[at:])
    return tuple(records), tuple(bad)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _end_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process group of proc (it leads its own session) and reap it; raise
    GuestError if anything of it survives."""
    pgid = proc.pid
    for _ in range(50):
        if proc.poll() is not None and not _group_alive(pgid):
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=0.2)
    if proc.poll() is None or _group_alive(pgid):
        raise GuestError(f"QEMU process group {pgid} survived SIGKILL")


@dataclass(frozen=True, slots=True)
class _Run:
    output: bytes
    outcome: str  # "exited", "timeout" or "stalled"
    returncode: int | None
    seconds: float


def _run_qemu(cmd: Sequence[str], timeout_s: float, first_record_s: float | None) -> _Run:
    """Run QEMU in its own session, collecting stdout; kill its process group on timeout,
    when no record line has appeared after `first_record_s`, and on any exception."""
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            list(cmd),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as e:
        raise GuestError(f"starting {QEMU}: {e}") from e
    out = bytearray()
    outcome = "exited"
    mark = RECORD_MARK.encode()
    seen_record = first_record_s is None
    try:
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        os.set_blocking(fd, False)
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while True:
                elapsed = time.monotonic() - start
                if elapsed >= timeout_s:
                    outcome = "timeout"
                    break
                if not seen_record and first_record_s is not None and elapsed >= first_record_s:
                    outcome = "stalled"
                    break
                if not sel.select(timeout=min(0.5, timeout_s - elapsed)):
                    continue
                try:
                    chunk = os.read(fd, 1 << 16)
                except BlockingIOError:
                    continue
                if not chunk:
                    break  # EOF: QEMU closed its stdout (it is exiting)
                out += chunk
                if not seen_record and mark in out[-(len(chunk) + len(mark)) :]:
                    seen_record = True
        if outcome == "exited":
            try:
                proc.wait(timeout=max(1.0, timeout_s - (time.monotonic() - start)))
            except subprocess.TimeoutExpired:
                outcome = "timeout"
    finally:
        _end_group(proc)
        if proc.stdout is not None:
            proc.stdout.close()
    return _Run(bytes(out), outcome, proc.returncode, time.monotonic() - start)


# In "auto" mode a KVM guest that shows no record within this many seconds is taken to be
# unusable (nested KVM can be far slower than TCG), killed, and the boot redone under TCG;
# later boots of this process then use TCG directly.
KVM_FIRST_RECORD_S = 12.0
_kvm_stalled = False


def _cached_initramfs(kernel: Kernel) -> Path:
    """One initramfs per kernel per process, in a directory removed at exit."""
    path = _INITRAMFS_CACHE.get(kernel.release)
    if path is None or not path.is_file():
        work = Path(tempfile.mkdtemp(prefix="hvo-initramfs-"))
        atexit.register(shutil.rmtree, work, True)
        path = build_initramfs(work, kernel)
        _INITRAMFS_CACHE[kernel.release] = path
    return path


_INITRAMFS_CACHE: dict[str, Path] = {}


def boot(
    hvo: bool,
    extra_cmdline: str = "",
    timeout_s: float = DEFAULT_TIMEOUT_S,
    *,
    scenarios: Sequence[str] | None = None,
    accel: str | None = None,
    memory_mb: int = DEFAULT_MEMORY_MB,
    initramfs: Path | None = None,
    kernel: Kernel | None = None,
    pvh: bool = True,
) -> BootResult:
    """Boot the host's kernel with hugetlb_free_vmemmap=on|off and run the helper.

    `scenarios` (None: the helper's default, all) and `extra_cmdline` (e.g.
    "hvoguest.n2m=50") go on the kernel command line. `accel`: "kvm", "tcg" or "auto"
    (default: $HVO_CONFORM_ACCEL, else auto: KVM when /dev/kvm opens read-write, and TCG
    when that KVM shows no record within KVM_FIRST_RECORD_S; `timeout_s` then applies
    to the TCG boot afresh). `initramfs`: one from `build_initramfs()` (else one built
    once per process). `pvh`: boot the kernel's uncompressed ELF through PVH when it has
    the note (else the bzImage). Raises GuestUnavailable when tools are missing (the
    message is `available()`'s). The QEMU process group is always killed before this
    returns or raises.
    """
    global _kvm_stalled
    missing = available()
    if missing is not None:
        raise GuestUnavailable(missing)
    kernel = kernel or find_kernel()
    if kernel is None:
        raise GuestUnavailable(
            f"no readable /boot/vmlinuz-<release> with /lib/modules/<release>; to install: {INSTALL_LINE}"
        )
    auto = (accel or os.environ.get(ACCEL_ENV) or "auto").strip().lower() == "auto"
    chosen = choose_accel(accel)
    if auto and chosen == "kvm" and _kvm_stalled:
        chosen = "tcg"
    rootfs = initramfs if initramfs is not None else _cached_initramfs(kernel)
    image = _boot_image(kernel) if pvh else kernel.vmlinuz
    cmdline = kernel_cmdline(hvo, extra_cmdline, scenarios)
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="hvo-guest-") as tmp:
        disk = Path(tmp) / "disk.img"
        disk.write_bytes(disk_image())
        cmd = qemu_command(image, rootfs, disk, cmdline, chosen, memory_mb)
        run = _run_qemu(cmd, timeout_s, KVM_FIRST_RECORD_S if auto and chosen == "kvm" else None)
        if chosen == "kvm" and auto and RECORD_MARK.encode() not in run.output:
            _kvm_stalled = True
            why = "no record" if run.outcome == "stalled" else f"qemu {run.outcome} (rc {run.returncode})"
            notes.append(f"kvm: {why} after {run.seconds:.1f} s; booted again under tcg")
            chosen = "tcg"
            cmd = qemu_command(image, rootfs, disk, cmdline, chosen, memory_mb)
            run = _run_qemu(cmd, timeout_s, None)

    console = run.output.decode("utf-8", errors="replace")
    records, bad = parse_records(console)
    if run.outcome != "exited":
        reason = run.outcome
    elif "Kernel panic" in console:
        reason = "panic"
    elif run.returncode != 0:
        reason = f"qemu-exit-{run.returncode}"
    elif not records or records[-1].get("kind") != "done":
        reason = "no-done-record"
    else:
        reason = "poweroff"
    return BootResult(
        records=records,
        console_tail=console.replace("\r", "")[-CONSOLE_TAIL_CHARS:],
        seconds=round(run.seconds, 2),
        accel=chosen,
        exit_reason=reason,
        returncode=run.returncode,
        command=cmd,
        bad_records=bad,
        notes=tuple(notes),
    )
