# SPDX-License-Identifier: GPL-2.0-only
"""Runs that stop honestly (check/runctl.py, issue 13 item 3; --max-memory, issue 15 item 3;
progress and --quiet, issue 14 item 5).

The signal tests start `hvo-verify` as a subprocess with HVO_VERIFY_PROGRESS=1, wait for
the progress line that says the run has started (or has finished a check, where partial
results are asserted), send the signal, and check the exit code, the `interrupted` line,
the partial results, that nothing printed a traceback, and that the workers are gone.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import pathlib
import pty
import select
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Sequence
from types import FrameType

import pytest
import z3

from hvo_verify import cli
from hvo_verify.check import runctl, solver
from hvo_verify.check.result import CheckResult
from hvo_verify.report import json_out, progress, text
from hvo_verify.verdict import Verdict

REPO = pathlib.Path(__file__).resolve().parents[2]
FAST = REPO / "specs/regressions/2025-page3-reset.toml"  # one check, about a second
# Every operation at depth 3: its 11 checks end together after about 11 s (13 s with
# --jobs 1) since operation proofs use the head lemma (check/bmc.py); the tests signal it
# 1-3 s after it starts.  Deeper specs run on a cost budget (check/cost.py: depth 4 is
# estimated at 164 s), whose checks can end `unknown` on their own.
SLOW = """title = "every operation at depth 3 (slow on purpose)"
source = "tests/unit/test_runctl.py"
scheme = "v6.2"
configs = ["x86-64/4K/2M"]
[ops]
run = ["all"]
depth = 3
[expect]
default = "proved"
"""
# The same at depth 5, for --max-memory: at depth 3 the run ends near 150 MiB, which the
# limit raced; at depth 5 the tree passes 150 MiB within about 3 s, before any check ends.
HUNGRY = SLOW.replace("depth = 3", "depth = 5")
BIN = [sys.executable, "-c", "import sys; from hvo_verify.cli import main; sys.exit(main())"]


@pytest.fixture
def slow(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "slow.toml"
    path.write_text(SLOW, encoding="utf-8")
    return path


class Run:
    """`hvo-verify ARGS` in the background, its stderr read line by line."""

    def __init__(self, args: Sequence[str], cwd: pathlib.Path, group: bool = False) -> None:
        env = dict(os.environ, HVO_VERIFY_PROGRESS="1")
        self.group = group  # its own process group, signalled as a whole (a terminal's Ctrl-C)
        self.proc = subprocess.Popen(
            [*BIN, *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=group
        )
        self.err: list[str] = []

    def wait_for(self, marker: str, timeout: float = 120) -> None:
        assert self.proc.stderr is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline().decode()
            self.err.append(line)
            if marker in line:
                return
            if not line and self.proc.poll() is not None:
                break
        self.proc.kill()
        raise AssertionError(f"no {marker!r} on stderr: {''.join(self.err)}")

    def stop(self, signum: int) -> tuple[int, str, str, list[int]]:
        """Send `signum`; the exit code, stdout, stderr, and the workers it had."""
        workers = runctl.descendants(self.proc.pid)
        if self.group:
            os.killpg(self.proc.pid, signum)
        else:
            self.proc.send_signal(signum)
        out, err = self.proc.communicate(timeout=60)
        return self.proc.returncode, out.decode(), "".join(self.err) + err.decode(), workers


def gone(pids: Sequence[int]) -> bool:
    """Every pid has exited (a zombie waiting for init to reap it counts as gone)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        alive = []
        for pid in pids:
            try:
                state = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state != "Z":
                alive.append(pid)
        if not alive:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_check_with_the_finished_results(signum: int, slow: pathlib.Path) -> None:
    run = Run(["check", str(FAST), str(slow)], slow.parent)
    run.wait_for("hvo-verify check: 1/12:")  # the fast spec's check has finished
    code, out, err, workers = run.stop(signum)
    name = signal.Signals(signum).name
    assert code == 128 + signum
    assert len(workers) == 2 and gone(workers)
    assert out.endswith(f"interrupted ({name}): 1 of 12 checks finished, the rest not run\n")
    assert "2025-page3-reset.toml\n  x86-64/4K/2M       restore-identity   violated        ok" in out
    assert "slow.toml" not in out and "unknown" not in out.replace("0 unknown", "")
    assert "Traceback" not in err + out


@pytest.mark.slow
def test_ctrl_c_on_a_terminal_reaches_the_workers_too(slow: pathlib.Path) -> None:
    """The terminal sends SIGINT to the whole process group: the workers ignore it (no
    traceback of theirs), the parent stops the run."""
    run = Run(["check", str(FAST), str(slow)], slow.parent, group=True)
    run.wait_for("hvo-verify check: 1/12:")
    code, out, err, workers = run.stop(signal.SIGINT)
    assert code == 130 and len(workers) == 2 and gone(workers)
    assert out.endswith("interrupted (SIGINT): 1 of 12 checks finished, the rest not run\n")
    assert "Traceback" not in err + out and "KeyboardInterrupt" not in err


@pytest.mark.slow
def test_json_of_a_stopped_run_says_interrupted_and_holds_only_finished_results(slow: pathlib.Path) -> None:
    run = Run(["check", "--format", "json", str(FAST), str(slow)], slow.parent)
    run.wait_for("hvo-verify check: 1/12:")
    code, out, err, _workers = run.stop(signal.SIGTERM)
    assert code == 143
    doc = json.loads(out)
    assert doc["interrupted"] is True and doc["stopped_by"] == "SIGTERM" and doc["total"] == 12
    assert [(r["spec"], r["verdict"]) for r in doc["results"]] == [(str(FAST), "violated")]
    assert "interrupted (SIGTERM): 1 of 12" in err and "Traceback" not in err


@pytest.mark.slow
def test_an_interrupted_query_in_process_is_not_unknown(slow: pathlib.Path) -> None:
    """--jobs 1: the solver runs in the main process; z3's own Ctrl-C handler would make
    the query `unknown` and carry on (exit 3)."""
    run = Run(["check", "--jobs", "1", str(slow)], slow.parent)
    run.wait_for("hvo-verify check: 1/11:")  # the first query is done; the next one is running
    time.sleep(1)
    code, out, err, _workers = run.stop(signal.SIGINT)
    assert code == 130, out + err
    assert "unknown" not in out.replace("0 unknown", "") and "Traceback" not in err
    assert out.splitlines()[-1].startswith("interrupted (SIGINT): ")


@pytest.mark.slow
def test_ctrl_c_in_pure_python_explore(slow: pathlib.Path) -> None:
    run = Run(["explore", "--examples", "1000000", str(slow)], slow.parent)
    run.wait_for("hvo-verify explore: started")
    time.sleep(1)
    code, out, err, _workers = run.stop(signal.SIGINT)
    assert code == 130
    assert err.endswith("interrupted (SIGINT): 0 checks finished, the rest not run\n")
    assert "Traceback" not in err + out and "Exception ignored" not in err


@pytest.mark.slow
def test_ctrl_c_in_explain_while_it_builds_the_unrolling(slow: pathlib.Path) -> None:
    """The main thread is mostly inside z3's Python API here, where an exception from a
    signal handler goes astray (ctypes ArgumentError, a finalizer): it must still stop."""
    run = Run(["explain", str(slow)], slow.parent)
    run.wait_for("hvo-verify explain: started")
    time.sleep(2)
    started = time.monotonic()
    code, out, err, _workers = run.stop(signal.SIGINT)
    assert code == 130 and time.monotonic() - started < 10, out + err
    assert err.endswith(" of 11 checks finished, the rest not run\n")
    assert "Traceback" not in err + out and "Exception ignored" not in err


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_ctrl_c_in_selfcheck_prints_the_finished_sections(fmt: str, tmp_path: pathlib.Path) -> None:
    args = ["selfcheck", "--format", fmt, "--only", "unknown,determinism", "--specs", str(REPO / "specs")]
    run = Run(args, tmp_path)
    run.wait_for("hvo-verify selfcheck: started, 2 sections")
    time.sleep(1)
    code, out, err, workers = run.stop(signal.SIGINT)
    assert code == 130 and gone(workers)
    if fmt == "json":
        doc = json.loads(out)
        assert (doc["interrupted"], doc["ok"], doc["sections"], doc["total"]) == (True, False, [], 2)
    else:
        assert out.startswith("selfcheck: 0 sections")
    assert err.endswith("interrupted (SIGINT): 0 of 2 sections finished, the rest not run\n")
    assert "Traceback" not in err + out and "crashed" not in out


@pytest.mark.slow
def test_max_memory_stops_the_run_with_its_own_exit_code(tmp_path: pathlib.Path) -> None:
    hungry = tmp_path / "hungry.toml"
    hungry.write_text(HUNGRY, encoding="utf-8")
    run = Run(["check", "--max-memory", "150M", str(hungry)], tmp_path)
    run.wait_for("hvo-verify check: started")
    assert run.proc.stdout is not None
    code = run.proc.wait(timeout=300)
    out, err = run.proc.stdout.read().decode(), run.proc.stderr.read().decode() if run.proc.stderr else ""
    assert code == runctl.EXIT_MEMORY == 5
    assert out.startswith("interrupted (--max-memory 150 MiB exceeded (")
    assert "Traceback" not in err


@pytest.mark.slow
@pytest.mark.parametrize("args", [["list"], ["check", str(FAST)]])
def test_a_closed_pipe_ends_the_run_quietly(args: list[str]) -> None:
    """`hvo-verify list | head -0`: the reader is gone before the first write."""
    proc = subprocess.Popen([*BIN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == cli.EXIT_PIPE == 141
    assert err == ""


@pytest.mark.slow
def test_progress_on_a_terminal_and_silence_on_a_pipe() -> None:
    env = {k: v for k, v in os.environ.items() if k != progress.ENV}
    master, slave = pty.openpty()
    proc = subprocess.Popen([*BIN, "check", str(FAST)], stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    out, _ = proc.communicate(timeout=120)
    seen = b""
    while select.select([master], [], [], 0.5)[0]:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    assert b"\rhvo-verify check: started, 1 checks: " in seen and seen.endswith(b"\r\x1b[K")
    assert out.decode().startswith(str(FAST))
    piped = subprocess.run([*BIN, "check", str(FAST)], capture_output=True, env=env, timeout=120)
    assert piped.stderr == b"" and piped.stdout == out


def result(verdict: Verdict, expected: Verdict, spec: str = "a.toml") -> CheckResult:
    return CheckResult(spec, "x86-64/4K/2M", "refcount", verdict, expected)


def test_quiet_prints_only_mismatches_and_the_summary() -> None:
    ok, bad = result(Verdict.PROVED, Verdict.PROVED), result(Verdict.PROVED, Verdict.VIOLATED, "b.toml")
    assert progress.quiet_table([ok, bad]) == (
        "b.toml\n  x86-64/4K/2M refcount proved MISMATCH (expected violated)\n"
        "2 checks in 2 specs: 2 proved, 0 violated, 0 unknown, 0 not-applicable;\n"
        "    1 differ from expectation\n"
    )  # at 80 columns (report/wrap.py): the row loses its padding, the summary wraps
    assert progress.quiet_table([ok]) == text.verdict_table([], summary=[ok])  # the summary only


def test_the_interrupted_document_keeps_the_results_document() -> None:
    finished = json_out.results_document([result(Verdict.PROVED, Verdict.PROVED)])
    doc = json.loads(progress.interrupted_document(finished, runctl.SIGINT_STOP, 7))
    assert doc["version"] == 2 and len(doc["results"]) == 1
    assert (doc["interrupted"], doc["stopped_by"], doc["total"]) == (True, "SIGINT", 7)


def test_progress_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty:
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv(progress.ENV, raising=False)
    assert progress.progress_mode(Tty()) == "tty"  # type: ignore[arg-type]
    assert progress.progress_mode(Tty(), quiet=True) == "off"  # type: ignore[arg-type]
    assert progress.progress_mode(sys.stderr if not sys.stderr.isatty() else open(os.devnull, "w")) == "off"
    monkeypatch.setenv(progress.ENV, "1")
    assert progress.progress_mode(open(os.devnull, "w")) == "lines"
    monkeypatch.setenv(progress.ENV, "0")
    assert progress.progress_mode(Tty()) == "off"  # type: ignore[arg-type]


def test_a_stopped_run_turns_no_query_into_a_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    """solve() raises Interrupted rather than return the status of a query the stop
    interrupted (a broken solve() that returned UNKNOWN would give `unknown`)."""
    s = solver.new_solver(1000)
    s.add(z3.BitVec("x", 8) == 1)
    assert solver.solve(s)[0] is solver.Status.SAT
    monkeypatch.setattr(runctl._state, "stop", runctl.SIGINT_STOP)
    with pytest.raises(runctl.Interrupted):
        solver.solve(s)
    with pytest.raises(runctl.Interrupted):
        solver.contradiction([("x", [z3.BitVec("x", 8) == 1])], 1000)


def test_a_nested_run_control_leaves_the_outer_one_in_charge() -> None:
    before = signal.getsignal(signal.SIGINT)
    with runctl.RunControl() as outer:
        handler = signal.getsignal(signal.SIGINT)
        assert handler == outer._on_signal
        with runctl.RunControl() as inner:
            assert inner.nested and signal.getsignal(signal.SIGINT) == handler
        assert signal.getsignal(signal.SIGINT) == handler and runctl._controls == [outer]
    assert signal.getsignal(signal.SIGINT) == before and runctl._controls == []


def _frame_in(module: str, function: str = "f") -> FrameType:
    """A frame whose code runs in `module` (z3's Python API, say)."""
    scope: dict[str, object] = {"__name__": module, "sys": sys}
    exec(f"def {function}():\n    return sys._getframe()\n", scope)
    frame = scope[function]()  # type: ignore[operator]
    assert isinstance(frame, FrameType)
    return frame


@pytest.mark.parametrize(
    ("module", "function", "raised_by"),
    [("hvo_verify.encode.ops.unroll", "f", "_on_signal"), ("z3.z3", "f", "_trace"), ("ctypes", "f", "_trace"),
     ("hvo_verify.x", "__del__", "_trace")],
)  # fmt: skip
def test_the_handler_raises_only_where_the_exception_can_propagate(
    module: str, function: str, raised_by: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inside z3's Python API ctypes would turn the exception into an ArgumentError, in a
    finalizer Python would print and drop it: there the handler leaves it to a trace
    function, which raises at the next line of other code (here, the test's)."""
    monkeypatch.setattr(runctl, "_kill_descendants", lambda: None)
    frame = _frame_in(module, function)
    with runctl.RunControl() as control, pytest.raises(runctl.Interrupted) as caught:
        control._on_signal(signal.SIGINT, frame)
        pytest.fail("not raised")  # pragma: no cover
    names = [entry.name for entry in traceback.extract_tb(caught.value.__traceback__)]
    assert names[-2:] == [raised_by, "_raise"]
    assert runctl.stopped() is None and sys.gettrace() is None  # the RunControl is over


def _child_signals(_n: int) -> tuple[object, object]:
    return signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)


def test_forked_workers_leave_the_stop_to_the_parent() -> None:
    """A worker forked during a run ignores SIGINT (the terminal's Ctrl-C goes to the
    whole group; the parent handles it once and kills the workers) and dies on SIGTERM."""
    with runctl.RunControl():
        ((_n, got),) = list(runctl.run_in_pool(_child_signals, [0], 1, multiprocessing.get_context("fork")))
    assert got == (signal.SIG_IGN, signal.SIG_DFL)


def test_tree_memory_counts_this_process_and_descendants_finds_children() -> None:
    assert runctl.resident_memory() >= runctl.tree_memory() > 10 * 2**20
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert child.pid in runctl.descendants()
    finally:
        child.kill()
        child.wait()


def test_the_exit_codes_are_documented_for_every_subcommand() -> None:
    for command in ("check", "list", "conform"):
        table = cli.exit_codes_text(command)
        for code in (5, 130, 141, 143):
            assert f"    {code}  " in table, (command, code)
    assert "--max-memory" in cli.exit_codes_text("check")


def test_signals_are_handled_only_by_the_cli_and_the_runner() -> None:
    """ARCHITECTURE.md: signal handlers are installed only in check/runctl.py."""
    found = [
        str(path.relative_to(REPO))
        for path in sorted((REPO / "hvo_verify").rglob("*.py"))
        if "signal.signal(" in path.read_text(encoding="utf-8")
    ]
    assert found == ["hvo_verify/check/runctl.py"]
