# SPDX-License-Identifier: GPL-2.0-only
"""Run control: a run that is stopped says so, and never turns the stop into a verdict.

Three things stop a run: SIGINT (Ctrl-C), SIGTERM, and `--max-memory` (the process
tree's memory above a limit).  `RunControl`, entered by cli.py `run()` around a whole
subcommand, makes each of them do the same thing at once:

- interrupt the z3 query running in this process (`z3.main_ctx().interrupt()`, from a
  thread woken through `signal.set_wakeup_fd()`: while z3 runs, Python's own signal
  handler cannot run until the query returns, and z3's Ctrl-C handler, which would turn
  the signal into an `unknown` verdict and carry on, is switched off with the global
  parameter `ctrl_c=false`: z3 src/api/api_solver.cpp `Z3_solver_check` installs its
  `scoped_ctrl_c` only when `ctrl_c` is true);
- raise `Interrupted` in the main thread, a KeyboardInterrupt, so that no `except
  Exception` on the way (a self-check section, Hypothesis) takes it for a failure; just
  before, SIGKILL every descendant process (the pool workers of check/suite.py and of
  the self-check, QEMU under conform).  Forked workers ignore SIGINT themselves
  (`_in_child`), so a Ctrl-C that the terminal sends to the whole process group is
  handled once, here.

The runner (`run_in_pool()`, `check_specs()`) catches it only to attach the results that
had finished (`Interrupted.partial`); cli.py prints those, marked interrupted, and exits
with `Stop.exit_code`.  `solver.solve()` calls `raise_if_stopped()` after every query, so
an interrupted query is never read as `unknown`.  Nothing here prints.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from types import FrameType, TracebackType
from typing import Any, TypeVar

import z3

T = TypeVar("T")
R = TypeVar("R")

# --max-memory's exit code: 0-4 are the verdict outcomes (verdict.py; 4: unreached), 4 is
# also kselftest's SKIP (tools/testing/selftests/kselftest.h KSFT_SKIP, for --ksft), 128+N is the shell's "killed by signal N" (bash(1) EXIT STATUS; 137:
# SIGKILL, what the kernel's OOM killer leaves); 5 is free in all of these.
EXIT_MEMORY = 5


@dataclass(frozen=True, slots=True)
class Stop:
    """Why a run stopped: `name` for people and JSON, and the exit code."""

    name: str
    exit_code: int


SIGINT_STOP = Stop("SIGINT", 128 + signal.SIGINT)  # 130, the shell's code for Ctrl-C
SIGTERM_STOP = Stop("SIGTERM", 128 + signal.SIGTERM)  # 143
STOPS = {signal.SIGINT: SIGINT_STOP, signal.SIGTERM: SIGTERM_STOP}


def memory_stop(limit: int, used: int) -> Stop:
    return Stop(f"--max-memory {_mib(limit)} exceeded ({_mib(used)} in use)", EXIT_MEMORY)


def _mib(size: int) -> str:
    return f"{size / 2**20:.0f} MiB"


class Interrupted(KeyboardInterrupt):
    """The run was stopped (a signal or --max-memory): never a verdict.  `partial` holds
    what had finished, in run order, when a runner attached it; `total` how many there
    were to do (0: unknown)."""

    def __init__(self, stop: Stop) -> None:
        super().__init__(stop.name)
        self.stop = stop
        self.partial: tuple[Any, ...] = ()
        self.total = 0


class _State:
    """The one run control of this process (set while a `RunControl` is entered)."""

    stop: Stop | None = None
    raised = False


_state = _State()


def stopped() -> Stop | None:
    """Why the run is stopping, or None."""
    return _state.stop


def raise_if_stopped() -> None:
    """Raise `Interrupted` if the run is stopping (after a z3 query: its `unknown` is the
    interrupt's doing, not a verdict)."""
    if _state.stop is not None:
        raise Interrupted(_state.stop)


def descendants(pid: int | None = None) -> list[int]:
    """Every live descendant of `pid` (this process by default), from /proc."""
    root = os.getpid() if pid is None else pid
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(b")") + 2 :].split()  # after "(comm)": state, ppid, ...
        children.setdefault(int(fields[1]), []).append(int(entry))
    found: list[int] = []
    todo = [root]
    while todo:
        kids = children.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def tree_memory(pid: int | None = None) -> int:
    """Bytes of memory the process tree uses: the sum of each process's proportional set
    size (Pss, /proc/PID/smaps_rollup: a page shared by the forked workers counts once
    overall), or its resident set size where Pss cannot be read."""
    return _tree_sum(_memory_of, pid)


def resident_memory(pid: int | None = None) -> int:
    """The sum of the tree's resident set sizes (/proc/PID/statm): at least `tree_memory()`."""
    return _tree_sum(_resident_of, pid)


def _tree_sum(size_of: Callable[[int], int], pid: int | None) -> int:
    root = os.getpid() if pid is None else pid
    total = 0
    for p in (root, *descendants(root)):
        with contextlib.suppress(OSError, ValueError):  # a process that has just exited
            total += size_of(p)
    return total


def _resident_of(pid: int) -> int:
    with open(f"/proc/{pid}/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _memory_of(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return _resident_of(pid)


def _kill_descendants() -> None:
    for pid in descendants():
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def _halt(stop: Stop) -> None:
    """Record the stop (the first one wins) and interrupt z3 (from any thread).  The
    workers are killed by the main thread as it raises `Interrupted`, not before: a pool
    whose workers died first would raise BrokenProcessPool where the stop belongs."""
    if _state.stop is None:
        _state.stop = stop
    with contextlib.suppress(Exception):
        z3.main_ctx().interrupt()


# Where an exception raised by a signal handler goes astray: in a finalizer Python prints
# it and drops it; inside z3's Python API (between ctypes calls) ctypes wraps it in an
# ArgumentError, or z3 turns it into a Z3Exception.
_UNSAFE_MODULES = ("z3", "ctypes")


def _unsafe(frame: FrameType | None) -> bool:
    if frame is None:
        return False
    module = str(frame.f_globals.get("__name__", ""))
    return frame.f_code.co_name == "__del__" or module.split(".")[0] in _UNSAFE_MODULES


def _raise() -> None:
    _state.raised = True
    _kill_descendants()
    assert _state.stop is not None
    raise Interrupted(_state.stop)


def _trace(frame: FrameType, event: str, arg: object) -> Any:
    """A trace function set only once a stop could not raise where the signal landed: it
    raises `Interrupted` at the first line the main thread runs outside z3 (Python drops
    a trace function that raises)."""
    if _state.raised:
        sys.settrace(None)
        return None
    if _unsafe(frame):
        return None
    if event == "line":
        _raise()
    return _trace


def _in_child() -> None:
    """In a forked child (a pool worker): SIGINT ignored, SIGTERM the default, no wakeup
    fd; the parent stops the run and kills it."""
    if _state.stop is None and _controls:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        with contextlib.suppress(ValueError):
            signal.set_wakeup_fd(-1)
        _controls.clear()


_controls: list[RunControl] = []
os.register_at_fork(after_in_child=_in_child)


class RunControl:
    """Installed around a subcommand by cli.py (main thread only).  `max_memory` (bytes,
    or None) starts a monitor thread polling `tree_memory()` every `poll` seconds.  One
    inside another (a nested cli.run()) does nothing: the outer one stays in charge."""

    def __init__(self, max_memory: int | None = None, poll: float = 0.2) -> None:
        self.max_memory = max_memory
        self.poll = poll
        self._old: dict[int, Any] = {}
        self._pipe: tuple[int, int] | None = None
        self._old_fd = -1
        self._done = threading.Event()
        self._main = threading.main_thread().ident or 0
        self.nested = False
        self._old_hook = sys.unraisablehook

    def __enter__(self) -> RunControl:
        self.nested = bool(_controls)  # cli.run() inside a run (the self-check's fuzz section)
        if self.nested:
            return self
        _state.stop, _state.raised = None, False
        z3.set_param("ctrl_c", False)  # z3's own SIGINT handler would make the query `unknown`
        for signum in STOPS:
            self._old[signum] = signal.signal(signum, self._on_signal)
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        self._pipe = (read_fd, write_fd)
        self._old_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        threading.Thread(target=self._watch, args=(read_fd,), name="hvo-runctl-wakeup", daemon=True).start()
        if self.max_memory is not None:
            threading.Thread(target=self._monitor, name="hvo-runctl-memory", daemon=True).start()
        self._old_hook = sys.unraisablehook
        sys.unraisablehook = self._unraisable
        _controls.append(self)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.nested:
            return
        self._done.set()
        sys.unraisablehook = self._old_hook
        if _state.stop is not None:  # the stop is over (its Interrupted carries it on)
            sys.settrace(None)
            _state.stop, _state.raised = None, False
        _controls.clear()
        signal.set_wakeup_fd(self._old_fd)
        for signum, old in self._old.items():
            signal.signal(signum, old)
        if self._pipe is not None:
            os.close(self._pipe[1])  # the watcher sees end of file (or _done) and returns
            self._pipe = None

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        """Python's handler, in the main thread: stop everything, and raise `Interrupted`
        once, where it can propagate (`_unsafe`: elsewhere the watcher sends the signal
        again until the main thread is in a place that can raise)."""
        _halt(STOPS.get(signal.Signals(signum), SIGINT_STOP))
        if _state.raised:
            return
        if _unsafe(frame):  # raise at the next line of our own code: trace until then
            while frame is not None and _unsafe(frame):
                frame = frame.f_back
            if frame is not None:
                frame.f_trace = _trace
            sys.settrace(_trace)
            return
        _raise()

    def _unraisable(self, info: Any) -> None:
        """While stopping, an exception Python could not raise (in a finalizer) is the
        stop's: not printed, and if it was the Interrupted, the watcher raises it again."""
        if _state.stop is None:
            self._old_hook(info)
        elif isinstance(info.exc_value, Interrupted):
            _state.raised = False

    def _watch(self, read_fd: int) -> None:
        """Woken by the C-level signal handler even while the main thread is inside z3:
        halts at once; then, until the main thread has raised, signals it again."""
        while not self._done.is_set():
            ready, _, _ = select.select([read_fd], [], [], self.poll)
            try:
                data = os.read(read_fd, 64) if ready else b""
            except OSError:
                break
            for signum in data:
                if signum in STOPS:
                    _halt(STOPS[signal.Signals(signum)])
            if _state.stop is not None and not _state.raised and not self._done.is_set():
                signal.pthread_kill(self._main, signal.SIGINT)  # the handler keeps the first stop
        with contextlib.suppress(OSError):
            os.close(read_fd)

    def _monitor(self) -> None:
        assert self.max_memory is not None
        while not self._done.wait(self.poll):
            # resident sizes first: cheap to read, never below Pss, so Pss (which walks the
            # page tables) is read only when the limit may be exceeded
            if resident_memory() <= self.max_memory:
                continue
            used = tree_memory()
            if used > self.max_memory and _state.stop is None:
                _halt(memory_stop(self.max_memory, used))
                signal.pthread_kill(self._main, signal.SIGINT)  # the handler keeps this stop
                return


@contextlib.contextmanager
def interrupts_only() -> Iterator[None]:
    """An exception raised inside while the run is stopping is the stop's doing, and
    becomes its `Interrupted`: ctypes wraps an exception raised by the signal handler
    during an argument conversion in an ArgumentError (the handler cannot always tell
    that it runs there)."""
    try:
        yield
    except Exception as exc:
        if _state.stop is None:
            raise
        _state.raised = True
        _kill_descendants()
        raise Interrupted(_state.stop) from exc


def run_in_pool(
    func: Callable[[T], R], items: Sequence[T], workers: int, mp_context: Any = None
) -> Iterator[tuple[int, R]]:
    """(index, func(item)) for every item, in the order they finish, on `workers` worker
    processes.  On `Interrupted` the workers are already dead (killed by the stop): the
    pool is shut down without waiting, and the exception goes on."""
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp_context)
    try:
        pending: dict[Future[R], int] = {pool.submit(func, item): n for n, item in enumerate(items)}
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in sorted(finished, key=lambda f: pending[f]):
                try:
                    result = future.result()
                except BrokenProcessPool:
                    raise_if_stopped()  # a worker killed by the stop: the stop, not the error
                    raise
                yield pending.pop(future), result
    except BaseException:
        if _state.stop is not None:
            _kill_descendants()  # again: a worker the pool started after the stop
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
