# SPDX-License-Identifier: GPL-2.0-only
"""hvo-verify command line.  Each subcommand (`cmd_*`, dispatched by argparse) returns
an exit code; only main() exits.  The exit codes are stated once, in EXIT_CODES: `--help`
prints them, and they are appended to this docstring.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fnmatch
import io
import os
import pathlib
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import NoReturn, TextIO

from hvo_verify import __version__, conform
from hvo_verify.check import cache as verdict_cache
from hvo_verify.check.distribute import Shard, select
from hvo_verify.check.explore import DEFAULT_EXAMPLES, Exploration, against_check, explore_spec
from hvo_verify.check.result import CheckResult
from hvo_verify.check.runctl import EXIT_MEMORY, Interrupted, RunControl, interrupts_only
from hvo_verify.check.smp_explore import explore_smp
from hvo_verify.check.smp_job import SmpJob, system_for
from hvo_verify.check.smp_job import describe as describe_system
from hvo_verify.check.suite import check_specs
from hvo_verify.conform import guest
from hvo_verify.conform.discrimination import discriminate
from hvo_verify.errors import (
    EncodingMismatch,
    GuestError,
    NotApplicable,
    SpecError,
    TraceError,
    UnknownName,
    UsageError,
)
from hvo_verify.invariants.reachable import OP_INVARIANTS
from hvo_verify.invariants.replay import replay
from hvo_verify.invariants.smp import SMP_INVARIANTS
from hvo_verify.invariants.static import INVARIANTS
from hvo_verify.model.accounting import savings
from hvo_verify.model.config import CONFIGS, KernelConfig, parse_config_id
from hvo_verify.model.names import unknown
from hvo_verify.model.remap import optimize
from hvo_verify.model.scheme import PRESETS, Scheme, preset
from hvo_verify.model.structpage import Folio
from hvo_verify.model.vmemmap import VmemmapState, not_applicable_reason
from hvo_verify.ops.smp_table import ACTORS, PROTOCOLS, Prim
from hvo_verify.ops.table import OPS
from hvo_verify.report import completion, json_out, ktap_out, mail, smp_text, text, trace_text
from hvo_verify.report.conform_text import conform_document, conform_text
from hvo_verify.report.progress import Progress, interrupted_document, interrupted_line, progress_mode, quiet_table
from hvo_verify.report.reproduce_text import outcomes_text
from hvo_verify.report.workflow_text import SAVINGS_LEGEND, shipped_list, skipped_note, suggest_expect
from hvo_verify.report.wrap import MAX_WIDTH, MIN_WIDTH, WIDTH, width_of, wrap, wrap_lines
from hvo_verify.reproduce.emit import c_source
from hvo_verify.reproduce.plan import NotReproducible, plan
from hvo_verify.reproduce.run import load_expectations, run_reproducers
from hvo_verify.reproduce.suite import reproducers, trace_of
from hvo_verify.selfcheck import COST as SECTION_COST
from hvo_verify.selfcheck import SECTIONS, Options, Section
from hvo_verify.selfcheck.report import selfcheck_document, selfcheck_text
from hvo_verify.specs.bundled import BUNDLED, shipped_specs
from hvo_verify.specs.bundled import default_specs as _default_specs
from hvo_verify.specs.loader import load_spec_files, load_sweep, matching_presets
from hvo_verify.specs.schema import Spec
from hvo_verify.specs.tracefile import load_trace
from hvo_verify.verdict import KSFT_FAIL, KSFT_PASS, KSFT_SKIP, Outcome, Verdict, ksft_exit_code

EXIT_OK, EXIT_DIFFER, EXIT_ERROR, EXIT_UNKNOWN, EXIT_UNREACHED = (
    o.exit_code for o in (Outcome.AS_EXPECTED, Outcome.DIFFERS, Outcome.ERROR, Outcome.UNKNOWN, Outcome.UNREACHED)
)

EVERY = "every subcommand"
EXIT_SIGINT, EXIT_PIPE, EXIT_SIGTERM = 128 + signal.SIGINT, 128 + signal.SIGPIPE, 128 + signal.SIGTERM

# The exit codes of every subcommand (the only place they are written down).  Every
# subcommand also exits 2 on a usage error.
EXIT_CODES: dict[str, tuple[tuple[int, str], ...]] = {
    "check, explain": (
        (EXIT_OK, "every verdict equals its expectation (a spec without [expect]: proved or not-applicable)"),
        (EXIT_DIFFER, "some verdict differs from its expectation (without [expect]: violated or vacuous)"),
        (
            EXIT_ERROR,
            "usage or spec error (also with --keep-going), or internal error (a counterexample did not replay)",
        ),
        (EXIT_UNKNOWN, "something is unknown (solver unknown, timeout), nothing differs outright"),
        (EXIT_UNREACHED, "some proof is unreached (its witness cannot happen within the depth), nothing else is off"),
    ),
    "check --ksft": (
        (KSFT_PASS, "every verdict equals its expectation (kselftest KSFT_PASS)"),
        (KSFT_FAIL, "a verdict differs, something is unknown, or a spec error (KSFT_FAIL)"),
        (KSFT_SKIP, "every verdict is not-applicable, as expected (KSFT_SKIP)"),
    ),
    "replay": (
        (EXIT_OK, "no invariant violated"),
        (EXIT_DIFFER, "a violation is shown"),
        (EXIT_ERROR, "a bad trace file"),
    ),
    "explore": (
        (EXIT_OK, "violations found exactly where the spec expects them"),
        (EXIT_DIFFER, "otherwise, or no verdict of its own (BMC reached a witness exploration did not, or vacuous)"),
        (EXIT_ERROR, "bad input, or exploration reached a witness BMC calls unreached (our bug)"),
    ),
    "conform": (
        (EXIT_OK, "the model agrees with the kernel on every row"),
        (EXIT_DIFFER, "some row of some kernel disagrees (a kernel that cannot boot is such a row)"),
        (EXIT_ERROR, "no kernel booted (or the guest tools are missing)"),
        (EXIT_DIFFER, "--reproducers: a reproducer's outcome on some kernel differs from its expectation"),
    ),
    "selfcheck": ((EXIT_OK, "every section is ok"), (EXIT_DIFFER, "some section failed")),
    "reproduce": ((EXIT_OK, "written"), (EXIT_ERROR, "no trace to reproduce, or the guest cannot run its config")),
    "savings, list, completion": ((EXIT_OK, "done"),),
    # check/runctl.py: a stopped run prints what finished, marked interrupted; never a verdict
    EVERY: (
        (EXIT_MEMORY, "--max-memory exceeded: the run was stopped (check, explain, explore, selfcheck)"),
        (EXIT_SIGINT, "interrupted by SIGINT (Ctrl-C)"),
        (EXIT_PIPE, "the output pipe was closed (e.g. | head): the run ends quietly"),
        (EXIT_SIGTERM, "interrupted by SIGTERM"),
    ),
}


# What each subcommand does, beyond its one-line help, and examples (its --help).
HELP: dict[str, tuple[str, tuple[str, ...]]] = {
    "check": (
        "Run every (config, invariant) of each spec file and compare the verdicts with its\n"
        "[expect] table.  A spec without [expect] is explored: its verdicts are reported\n"
        "as they are.  With no path: ./specs when it holds spec files, else the suite\n"
        "installed with hvo-verify (stderr says which).",
        (
            "hvo-verify check my-patch.toml              # one spec (explore it: no [expect])",
            "hvo-verify check my-patch.toml --suggest-expect   # ... and the [expect] table to paste",
            "hvo-verify check specs/regressions --keep-going",
            "hvo-verify check                            # ./specs, or the bundled suite",
        ),
    ),
    "explain": (
        "The vmemmap diagram of the spec's scheme and every verdict in kernel terms:\n"
        "assumptions, counterexamples replayed on the concrete model, traces.  Fits 80\n"
        "columns, to paste into a reply.",
        (
            "hvo-verify explain my-patch.toml",
            "hvo-verify explain my-patch.toml --config all --invariant head-resolution",
            "hvo-verify explain my-patch.toml --config 'arm64/*'",
        ),
    ),
    "replay": (
        "Re-run a trace that check --save-traces wrote (or one edited by hand) on the\nconcrete model.",
        ("hvo-verify check SPEC --save-traces traces/ && hvo-verify replay traces/FILE.json",),
    ),
    "explore": (
        "Random operation sequences (Hypothesis) of an [ops] or [smp] spec, shrunk to the\n"
        "shortest violating one: no proof, but a quick look at deep sequences.",
        ("hvo-verify explore specs/objections/gup-fifth-page.toml --examples 200",),
    ),
    "savings": (
        "Vmemmap pages freed per folio and for a pool of folios, for presets or the\n"
        "scheme of a spec file (a custom one too); a legend explains the columns.",
        (
            "hvo-verify savings --scheme v6.2 --config all",
            "hvo-verify savings --scheme rfc-2020 --config x86-64/4K/1G --pool 300G",
            "hvo-verify savings --spec my-patch.toml --pool 64G",
        ),
    ),
    "conform": (
        "Boot each installed kernel under QEMU, HVO on and off, and compare what it\n"
        "shows (/proc/meminfo, /proc/kpageflags, hwpoison, DMA) with the model.",
        ("hvo-verify conform --kernel $(uname -r) --scenarios savings,kpageflags",),
    ),
    "selfcheck": (
        "The checker checking itself: mutants it must kill, z3 against brute force,\n"
        "malformed inputs, vacuity, determinism.",
        ("hvo-verify selfcheck --only fuzz,vacuity",),
    ),
    "list": (
        "The scheme presets, configs, invariants and operations a spec can name; with\n"
        "--specs, the shipped spec files and their titles (a close one is a start).",
        ("hvo-verify list", "hvo-verify list --specs hwpoison"),
    ),
    "completion": (
        "A completion script for subcommands, options, config ids, presets, invariants\nand spec paths.",
        (
            'eval "$(hvo-verify completion bash)"     # in ~/.bashrc',
            'eval "$(hvo-verify completion zsh)"      # in ~/.zshrc',
        ),
    ),
    "reproduce": (
        "A C program in kselftest style that drives a real kernel along a trace from user\n"
        "space (HugeTLB pool, mmap, MADV_HWPOISON, corrupt-pfn, O_DIRECT) and asserts at\n"
        "each step what the model predicts for the booted kernel; steps user space cannot\n"
        "reach are KTAP SKIPs with the reason.",
        (
            "hvo-verify reproduce specs/objections/hwpoison-raw-flag-v5.14.toml --config x86-64/4K/2M -o r.c",
            "hvo-verify reproduce traces/FILE.json -o r.c && gcc -static -O2 -o r r.c",
            "hvo-verify reproduce --suite specs/objections specs/regressions -o tests/reproducers",
            "hvo-verify conform --reproducers tests/reproducers",
        ),
    ),
}


def exit_codes_text(*commands: str) -> str:
    """The EXIT_CODES rows of `commands` (keys of EXIT_CODES; all when none), as text."""
    lines = ["exit codes (2 also for a usage error):"]
    for names, rows in EXIT_CODES.items():
        if commands and not set(commands) & {name.split()[0] for name in names.split(", ")} and names != EVERY:
            continue
        lines.append(f"  {names}:")
        lines += [f"    {code}  {meaning}" for code, meaning in rows]
    return "\n".join(lines) + "\n"


__doc__ = f"{__doc__}\n{exit_codes_text()}"


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line through our own stream."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see --help)")


def exit_code(results: Sequence[CheckResult]) -> int:
    """`check` and `explain`: the exit code of the worst outcome among `results`."""
    return max((Outcome.of(r.verdict, r.expected) for r in results), default=Outcome.AS_EXPECTED).exit_code


def default_specs(err: TextIO) -> str:
    """`check` without a path: ./specs when it holds spec files, else the bundled suite;
    says which on stderr."""
    folder, why = _default_specs()
    err.write(f"hvo-verify: checking {why}\n")
    return str(folder)


def ksft_code(results: Sequence[CheckResult]) -> int:
    """`check --ksft`: the exit code kselftest's runner reads (verdict.ksft_exit_code)."""
    worst = max((Outcome.of(r.verdict, r.expected) for r in results), default=Outcome.AS_EXPECTED)
    return ksft_exit_code(worst, all(r.verdict is Verdict.NOT_APPLICABLE for r in results))


def cmd_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    shard = Shard.parse(args.shard) if args.shard is not None else None
    save_dir = pathlib.Path(args.save_traces) if args.save_traces else None
    if save_dir is not None and save_dir.exists() and not save_dir.is_dir():
        raise UsageError(f"--save-traces: {save_dir} is not a directory")
    specs, errors = load_spec_files(args.paths or [default_specs(err)])
    if errors:  # every error of every bad file, one line each
        err.write("".join(f"{line}\n" for exc in errors for line in exc.lines()))
        if not args.keep_going or not specs:
            return KSFT_FAIL if args.ksft else EXIT_ERROR  # nothing is checked
    if args.timeout is not None:
        if not 0 < args.timeout <= 3600:
            raise UsageError("--timeout: must be more than 0 and at most 3600 seconds")
        specs = [dataclasses.replace(spec, timeout_ms=max(1, int(args.timeout * 1000))) for spec in specs]
    if args.unbounded:
        specs = [_unbounded(spec) for spec in specs]
    progress = Progress("check", err, progress_mode(err, args.quiet))
    try:
        results = check_specs(
            specs,
            workers=args.jobs,
            progress=progress,
            witness=not args.no_witness,
            cache=_cache(args),
            shard=shard,
            scheduler=args.scheduler,
        )
    except Interrupted as stop:
        progress.clear()
        return _interrupted_check(stop, args, out, err)
    progress.clear()
    if args.format == "json":
        out.write(json_out.results_document(results))
    elif args.format == "ktap":
        out.write(ktap_out.ktap_document(results))
    else:
        out.write(quiet_table(results) if args.quiet else text.verdict_table(results))
    if save_dir is not None:
        try:
            save_dir.mkdir(parents=True, exist_ok=True)
            for name, doc in json_out.traces_to_save(results):
                (save_dir / name).write_text(doc, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--save-traces: {exc.strerror or exc}: {exc.filename or save_dir}") from None
        except ValueError as exc:  # two different traces under one name (json_out.traces_to_save)
            raise UsageError(f"--save-traces: {exc}") from None
    if args.suggest_expect:
        out.write(suggest_expect(results))
    if errors:  # --keep-going: the good files were checked; the bad ones still fail the run
        return KSFT_FAIL if args.ksft else EXIT_ERROR
    return ksft_code(results) if args.ksft else exit_code(results)


def _unbounded(spec: Spec) -> Spec:
    """`check --unbounded`: every operation spec's proofs also tried for every length."""
    if spec.ops is None:
        return spec
    return dataclasses.replace(spec, ops=dataclasses.replace(spec.ops, unbounded=True))


def _interrupted_check(stop: Interrupted, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """The results that finished before the stop, then the interrupted line (JSON:
    `"interrupted": true`); the exit code is the stop's, whatever the verdicts."""
    partial: list[CheckResult] = list(stop.partial)
    line = interrupted_line(stop.stop, len(partial), stop.total)
    if args.format == "json":
        out.write(interrupted_document(json_out.results_document(partial), stop.stop, stop.total))
        err.write(line)
    else:
        table = quiet_table(partial) if args.quiet else text.verdict_table(partial)
        out.write((table if partial else "") + line)
    return stop.stop.exit_code


# `check` options that never change a result: how the run is laid out or shown, or the
# specs themselves (the jobs carry their content).  Every other option is part of the
# verdict cache's key, so an option added later is in the key unless named here.
NOT_IN_CACHE_KEY = frozenset(
    {"func", "command", "paths", "format", "jobs", "save_traces", "no_cache", "shard", "scheduler"}
)


def cache_options(args: argparse.Namespace) -> dict[str, object]:
    """The options of a `check` run that go into the verdict cache's key: every one
    outside NOT_IN_CACHE_KEY."""
    return {k: v if v is None or isinstance(v, bool | int | float | str | list | tuple) else str(v)
            for k, v in sorted(vars(args).items()) if k not in NOT_IN_CACHE_KEY}  # fmt: skip


def _cache(args: argparse.Namespace) -> verdict_cache.VerdictCache | None:
    """The verdict cache for `check`; None with --no-cache or $HVO_VERIFY_NO_CACHE."""
    if args.no_cache or verdict_cache.disabled_by_env():
        return None
    return verdict_cache.VerdictCache(verdict_cache.default_dir(), cache_options(args))


def _state(config_id: str, scheme: Scheme) -> tuple[str, VmemmapState | None, str]:
    config = parse_config_id(config_id)[0]
    folio = Folio(config, scheme, config.nr_pages, config.default_vmemmap_base)
    try:
        return config.id, optimize(folio), ""
    except NotApplicable as exc:
        return config.id, None, str(exc)


def _units(path: str, scheme: str | None) -> tuple[Spec, ...]:
    """The units of a spec file (one per scheme of a sweep), or the one `--scheme` names."""
    units = load_sweep(path)
    if scheme is None:
        return units
    names = [u.scheme.name for u in units]
    if scheme not in names:
        raise UsageError(f"--scheme: {unknown('scheme of this spec', scheme, names)}")
    return tuple(u for u in units if u.scheme.name == scheme)


def cmd_explain(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """The provenance line (and with --inline-spec the spec); then one spec, or each
    scheme of a sweep in turn (a blank line between)."""
    units = _units(args.spec, args.scheme)
    data = pathlib.Path(args.spec).read_bytes()  # read by _units already: it exists
    text_out, out = out, io.StringIO()  # written at the end: a usage error below prints nothing
    out.write(mail.provenance(data) + "\n")
    if args.inline_spec:
        out.write("\n".join(mail.inline_spec(args.spec, data)) + "\n")
    out.write("\n")
    codes = []
    for n, spec in enumerate(units):
        if n:
            out.write("\n")
        codes.append(_explain(spec, args.config, args.invariant, out, err))
    text_out.write(out.getvalue())
    return max(codes)


def _explained_configs(spec: Spec, config: str | None) -> tuple[KernelConfig, ...]:
    """--config: one of the spec's configs, 'all' or a glob over them; by default the
    first config where the scheme applies (every config when it applies nowhere, so
    that the reason is shown)."""
    if config is None:
        applies = [c for c in spec.configs if not_applicable_reason(c, spec.scheme) is None]
        return tuple(applies[:1]) or spec.configs
    ids = [c.id for c in spec.configs]
    if config == "all":
        return spec.configs
    chosen = tuple(c for c in spec.configs if fnmatch.fnmatchcase(c.id, config))
    if not chosen:
        if set("*?[") & set(config):
            raise UsageError(f"--config: {config!r} matches none of this spec's configs ({', '.join(ids)})")
        raise UsageError(f"--config: {unknown('config of this spec', config, [*ids, 'all'])}")
    return chosen


def _explained_invariants(spec: Spec, invariant: str | None) -> tuple[str, ...]:
    """--invariant ID[,ID...]: those of the spec's invariants (default: all of them)."""
    if invariant is None:
        return spec.invariants
    names = [n for n in invariant.split(",") if n]
    for name in names:
        if name not in spec.invariants:
            raise UsageError(f"--invariant: {unknown('invariant of this spec', name, spec.invariants)}")
    return tuple(n for n in spec.invariants if n in names)


def _explain(spec: Spec, config: str | None, invariant: str | None, out: TextIO, err: TextIO) -> int:
    narrowed = dataclasses.replace(
        spec, configs=_explained_configs(spec, config), invariants=_explained_invariants(spec, invariant)
    )
    progress = Progress("explain", err, progress_mode(err))
    results = check_specs([narrowed], workers=1, progress=progress)
    progress.clear()
    code = exit_code(results)
    # Configs where nothing applies: one line per distinct reason, not one per invariant.
    skipped = [(c.id, next(r.reason for r in results if r.config == c.id)) for c in narrowed.configs
               if all(r.verdict is Verdict.NOT_APPLICABLE for r in results if r.config == c.id)]  # fmt: skip
    shown = tuple(c for c in narrowed.configs if c.id not in dict(skipped))
    note = skipped_note(skipped) if skipped else ""
    if not shown:
        out.write("\n".join(text.explain_header(spec)) + "\n\n" + note)
        return code
    narrowed = dataclasses.replace(narrowed, configs=shown)
    results = [r for r in results if r.config in {c.id for c in shown}]
    if spec.smp is not None:  # interleaving spec: per-CPU schedules, replayed
        out.write(smp_text.explain_smp(text.explain_header(spec), results))
    elif spec.ops is not None:  # operation spec: the shortest violating traces, replayed
        replays = [replay(r.trace, (r.invariant,)) if r.trace is not None else None for r in results]
        out.write(trace_text.explain_ops(narrowed, list(zip(results, replays, strict=True))))
    else:
        states = [_state(c.id, spec.scheme) for c in shown]
        out.write(text.explain(narrowed, states, results))
    if note:
        out.write("\n" + note)
    return code


def cmd_replay(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    path = args.trace
    try:
        trace = load_trace(pathlib.Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        err.write(f"{path}: cannot read: {exc.strerror or exc}\n")
        return EXIT_ERROR
    except UnicodeDecodeError:
        err.write(f"{path}: not JSON: not UTF-8 text\n")
        return EXIT_ERROR
    except TraceError as exc:
        err.write(f"{path}: {exc}\n")
        return EXIT_ERROR
    invariants = tuple(OP_INVARIANTS) if args.all or not trace.invariant else (trace.invariant,)
    replayed = replay(trace, invariants)
    out.write(trace_text.render_trace(trace, replayed, invariants))
    return EXIT_DIFFER if replayed and replayed[-1].violation is not None else EXIT_OK


def cmd_explore(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """One operation spec, or each scheme of a sweep in turn (a blank line between)."""
    units = _units(args.spec, args.scheme)
    if units[0].ops is None and units[0].smp is None:
        raise SpecError(units[0].path, "ops", "explore runs operation or interleaving specs: add [ops] or [smp]")
    if not 1 <= args.examples <= 1_000_000:
        raise UsageError("--examples: must be at least 1 and at most 1000000")
    codes = []
    progress = Progress("explore", err, progress_mode(err))
    for n, spec in enumerate(units):
        if n:
            out.write("\n")
        codes.append(_explore(spec, args, out, progress))
    return max(codes)


def _explore(spec: Spec, args: argparse.Namespace, out: TextIO, progress: Progress) -> int:
    if spec.smp is not None:
        return _explore_smp(spec, args, out)
    configs = None
    if args.config:
        ids = [c.id for c in spec.configs]
        if args.config not in ids:
            raise UsageError(f"--config: {unknown('config of this spec', args.config, ids)}")
        configs = [args.config]
    sink = io.StringIO()  # Hypothesis reports nothing through its reporter; anything else goes here
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        found = explore_spec(spec, examples=args.examples, seed=args.seed, configs=configs, progress=progress)
    progress.clear()
    found = explore_against_check(spec, found)
    replays = [replay(e.trace, (e.invariant,)) if e.trace is not None else None for e in found]
    out.write(trace_text.explore_report(spec, list(zip(found, replays, strict=True)), args.examples, args.seed))
    return EXIT_OK if all(e.as_expected for e in found) else EXIT_DIFFER


def explore_against_check(spec: Spec, found: list[Exploration]) -> list[Exploration]:
    """Exploration beside BMC at the same depth: a witness BMC reached and exploration
    did not leaves exploration without a verdict (a warning); one exploration reached
    and BMC calls unreached is our bug (check/explore.py against_check())."""
    chosen = tuple(c for c in spec.configs if c.id in {e.config for e in found})
    return against_check(found, check_specs([dataclasses.replace(spec, configs=chosen)]))


def _explore_smp(spec: Spec, args: argparse.Namespace, out: TextIO) -> int:
    """Random schedules of an interleaving spec, shrunk; exit 1 when one breaks an
    invariant the spec expects proved."""
    assert spec.smp is not None
    configs = [c for c in spec.configs if not args.config or c.id == args.config]
    if not configs:
        raise UsageError(f"--config: {unknown('config of this spec', args.config, [c.id for c in spec.configs])}")
    rows = []
    for config in configs:
        for inv in spec.invariants:
            expected = spec.expect.expected(inv, config.id, spec.scheme.name)
            system = system_for(SmpJob(config, spec.scheme, spec.smp, inv, spec.timeout_ms))
            if isinstance(system, str):
                rows.append(smp_text.ExploreRow(config.id, inv, expected, not_applicable=system))
                continue
            sink = io.StringIO()
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                found = explore_smp(system, inv, examples=args.examples, seed=args.seed)
            cpus, legend = describe_system(system)
            rows.append(smp_text.ExploreRow(config.id, inv, expected, found.schedule, cpus, legend))
    out.write(smp_text.explore_report(text.explain_header(spec), rows, args.examples, args.seed))
    bad = any(r.schedule and r.expected is not Verdict.VIOLATED for r in rows)
    return EXIT_DIFFER if bad else EXIT_OK


_SIZE = re.compile(r"^([0-9]+)([KMGT]?)(i?B)?$", re.IGNORECASE)


def parse_size(value: str, option: str = "--pool") -> int:
    match = _SIZE.match(value.strip())
    if not match:
        raise UsageError(f"{option}: {value!r} is not a size (e.g. 300G, 512M, 1T)")
    number, unit = int(match.group(1)), match.group(2).upper()
    return number << {"": 0, "K": 10, "M": 20, "G": 30, "T": 40}[unit]


def cmd_savings(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """A row per (scheme, config): --scheme is a preset, a glob over presets or 'all';
    --spec FILE takes the scheme(s) of a spec file (a custom scheme too) and, without
    --config, its configs."""
    if (args.scheme is None) == (args.spec is None):
        raise UsageError("savings: give --scheme PRESET or --spec FILE (one of them)")
    if args.spec is not None:
        units = load_sweep(args.spec)
        schemes = [u.scheme for u in units]
        configs = parse_config_id(args.config) if args.config else units[0].configs
    else:
        names = (
            matching_presets(args.scheme) if args.scheme == "all" or set("*?[") & set(args.scheme) else [args.scheme]
        )
        if not names:
            raise UsageError(f"--scheme: {args.scheme!r} matches no scheme preset (see hvo-verify list)")
        schemes = [preset(name) for name in names]
        if not args.config:
            raise UsageError("--config: required with --scheme (a config id, a glob or 'all')")
        configs = parse_config_id(args.config)
    pool = parse_size(args.pool) if args.pool else 0
    rows = [savings(c, scheme, pool) for scheme in schemes for c in configs]
    if args.format == "json":
        out.write(json_out.savings_document(rows))
    else:
        out.write(text.savings_table(rows))
        if args.legend:
            out.write("\n" + "\n".join(wrap_lines(SAVINGS_LEGEND.splitlines())) + "\n")
    return EXIT_OK


def cmd_list(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.specs is not None:  # the shipped specs and their titles, searchable
        out.write(shipped_list(shipped_specs(args.specs), str(BUNDLED)))
        return EXIT_OK
    sink, out = out, io.StringIO()  # written below, wrapped to --width at the end
    out.write("scheme presets:\n")
    width = max(len(s.name) for s in PRESETS.values())
    for s in PRESETS.values():
        out.write(f"  {s.name:<{width}} {s.version:<14} {s.summary}\n")
    out.write("configs (@N: sizeof(struct page) = N; 'all': x86-64, arm64; 'all-arches'):\n")
    id_width = max(len(c.id) for c in CONFIGS)
    for c in CONFIGS:
        mapping = "PMD-mapped vmemmap" if c.vmemmap_pmd_mapped else "PTE-mapped vmemmap"
        out.write(
            f"  {c.id:<{id_width}} {c.level.value:<8} {c.nr_pages:>7} pages, V = {c.vmemmap_bytes / c.page_size:g} vmemmap pages, {mapping}\n"
        )
    out.write("invariants:\n")
    for inv in INVARIANTS.values():
        out.write(f"  {inv.id:<18} {inv.summary}\n")
    out.write('operations ([ops] run = [...]; "all" leaves the adversary out):\n')
    for op in OPS.values():
        names = ", ".join(a.name for a in op.args)
        adversary = ' (adversary: not in run = ["all"])' if op.adversary else ""
        out.write(f"  {op.name}({names}){adversary}\n      {op.summary}\n")
        if len(op.steps) > 1:
            steps = "      steps: " + " -> ".join(step.name for step in op.steps)
            out.writelines(line + "\n" for line in wrap(steps, break_on_hyphens=False))
    out.write("operation invariants (specs with an [ops] table):\n")
    for op_inv in OP_INVARIANTS.values():
        out.write(f"  {op_inv.id:<22} {op_inv.summary}\n")
    out.write("interleaving actors ([smp.cpu.NAME] run = ...; steps as in the v6.12.111 era):\n")
    era = PROTOCOLS["v6.12.111"]
    for actor, build in ACTORS.items():
        steps = " ".join(i.name for i in build(era, 2) if i.prim is not Prim.LABEL)
        out.writelines(line + "\n" for line in wrap(f"  {actor}: {steps}", break_on_hyphens=False))
    out.write("interleaving invariants (specs with an [smp] table):\n")
    for smp_inv in SMP_INVARIANTS.values():
        out.writelines(line + "\n" for line in wrap(f"  {smp_inv.id:<22} {smp_inv.summary}", break_on_hyphens=False))
    sink.write("\n".join(wrap_lines(out.getvalue().splitlines(), break_on_hyphens=False)) + "\n")
    return EXIT_OK


def _conform_kernels(args: argparse.Namespace) -> tuple[guest.Kernel, ...]:
    """--kernel RELEASE|PATH, else every installed kernel."""
    installed = guest.installed_kernels()
    if args.kernel is None:
        return installed
    kernel = guest.find_kernel(args.kernel)
    if kernel is None:
        names = ", ".join(k.release for k in installed) or "none"
        raise UsageError(f"--kernel: no installed kernel {args.kernel!r} (installed: {names})")
    return (kernel,)


def _conform_replays(args: argparse.Namespace) -> list[conform.ConformReport]:
    reports = []
    for name in args.records:
        path = pathlib.Path(name)
        try:
            records = conform.load_records(path)
        except OSError as exc:
            raise UsageError(f"--records: {exc.strerror or exc}: {name}") from None
        except (ValueError, EOFError) as exc:
            raise UsageError(f"--records: {name} is not a gzipped JSON recording ({exc})") from None
        if not isinstance(records, dict) or not all(isinstance(v, list) for v in records.values()):
            raise UsageError(f'--records: {name} is not a recording ({{"on": [...], "off": [...]}})')
        report = conform.report_from_records(records)
        reports.append(dataclasses.replace(report, records=records, kernel=path.name))
    return reports


def cmd_conform(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    scenarios = [s for s in args.scenarios.split(",") if s] if args.scenarios else list(conform.SCENARIOS)
    for name in scenarios:
        if name not in conform.SCENARIOS:
            raise unknown("conformance scenario", name, conform.SCENARIOS)
    if not 10 <= args.timeout <= 3600:
        raise UsageError("--timeout: must be between 10 and 3600 seconds per boot")
    if not 1 <= args.n2m <= 1000:
        raise UsageError("--n2m: must be between 1 and 1000 folios")
    if args.records and (args.kernel or args.save_records):
        raise UsageError("--records replays a recording: drop --kernel and --save-records")
    if args.reproducers:
        folder = pathlib.Path(args.reproducers)
        sources = sorted(folder.glob("*.c"))
        if not sources:
            raise UsageError(f"--reproducers: no .c files in {folder}")
        reason = guest.available()
        if reason is not None:
            err.write(f"hvo-verify conform: {reason}\n")
            return EXIT_ERROR
        try:
            outcomes = run_reproducers(sources, _conform_kernels(args), load_expectations(folder / "expected.toml"))
        except (GuestError, OSError, ValueError) as exc:  # a program that does not build, a bad expectations file
            err.write(f"hvo-verify conform: --reproducers: {str(exc).splitlines()[0]}\n")
            return EXIT_ERROR
        out.write(outcomes_text(outcomes))
        return EXIT_OK if all(o.as_expected for o in outcomes) else EXIT_DIFFER
    reports: list[conform.ConformReport] = []
    if args.records:
        reports = _conform_replays(args)
    else:
        reason = guest.available()
        if reason is not None:
            err.write(f"hvo-verify conform: {reason}\n")
            return EXIT_ERROR
        kernels = _conform_kernels(args)
        if args.save_records and len(kernels) != 1:
            names = ", ".join(k.release for k in kernels)
            raise UsageError(f"--save-records: {len(kernels)} kernels are installed ({names}); name one with --kernel")
        modes = ("on", "off") if args.hvo == "both" else (args.hvo,)
        progress = Progress("conform", err, progress_mode(err), unit="kernels")
        for n, kernel in enumerate(kernels):
            progress(n, len(kernels), f"booting {kernel.release}")
            try:
                reports.append(conform.run_conformance(modes, scenarios, args.timeout, args.n2m, kernel))
            except GuestError as exc:
                reports.append(conform.kernel_failed(kernel, str(exc)))
        progress.clear()
    discrimination = (
        [discriminate(r.facts, r.records, r.rows) if r.facts is not None else None for r in reports]
        if args.discrimination
        else None
    )
    if args.format == "json":
        out.write(conform_document(reports, discrimination))
    else:
        out.write(conform_text(reports, discrimination))
    if args.save_records:
        try:
            conform.save_records(pathlib.Path(args.save_records), reports[0].records)
        except OSError as exc:
            raise UsageError(f"--save-records: {exc.strerror or exc}: {exc.filename or args.save_records}") from None
    if not reports or all(r.facts is None for r in reports):
        return EXIT_ERROR  # no kernel booted
    return EXIT_OK if all(r.ok for r in reports) else EXIT_DIFFER


def _reproduce_suite(args: argparse.Namespace, out: TextIO) -> int:
    if not args.output:
        raise UsageError("--suite: give -o DIR, the folder the reproducers are written to")
    specs, errors = load_spec_files(args.paths)
    if errors:
        raise errors[0]
    results = check_specs(specs, workers=args.jobs)
    sources, index = reproducers(specs, results)
    folder = pathlib.Path(args.output)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.c"):
        if old.name not in sources:
            old.unlink()
    for name, source in sources.items():
        (folder / name).write_text(source, encoding="utf-8")
    (folder / "INDEX").write_text("".join(e.line() + "\n" for e in index), encoding="utf-8")
    out.write(f"{len(sources)} reproducers and INDEX ({len(index)} lines) written to {folder}\n")
    return EXIT_OK


def cmd_reproduce(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """A kselftest-style C program from a trace file, or from a spec's shortest violation
    (or witness) on one config; with --suite, one for every trace of the specs given."""
    if args.suite:
        return _reproduce_suite(args, out)
    if len(args.paths) != 1:
        raise UsageError("give one TRACE.json or SPEC (or --suite with spec folders)")
    path = args.paths[0]
    if path.endswith(".json"):
        try:
            trace = load_trace(pathlib.Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, TraceError) as exc:
            err.write(f"{path}: {exc}\n")
            return EXIT_ERROR
        name, source = pathlib.Path(path).stem, f"trace file {path}"
    else:
        units = load_sweep(path)
        if args.config:
            units = tuple(dataclasses.replace(u, configs=tuple(c for c in u.configs if c.id == args.config))
                          for u in units)  # fmt: skip
        results = [r for r in check_specs(list(units), workers=args.jobs)
                   if args.invariant in (None, r.invariant)]  # fmt: skip
        found = [(r, t) for r in results if (t := trace_of(r)) is not None]
        if not found:
            err.write(f"{path}: no violation or witness trace on {args.config or 'its configs'}\n")
            return EXIT_ERROR
        r, trace = found[0]
        name = pathlib.Path(path).stem
        source = f"{path} on {r.config}: {r.invariant} {r.verdict.value}"
    try:
        program = c_source(plan(trace, name, source))
    except NotReproducible as exc:
        err.write(f"{path}: no reproducer: {exc}\n")
        return EXIT_ERROR
    if args.output:
        pathlib.Path(args.output).write_text(program, encoding="utf-8")
    else:
        out.write(program)
    return EXIT_OK


@contextlib.contextmanager
def _environ(name: str, value: str) -> Iterator[None]:
    """$name = value for the duration (and the processes started meanwhile)."""
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            del os.environ[name]
        else:
            os.environ[name] = before


def cmd_selfcheck(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """The checker checking itself: the SECTIONS chosen, in their order; exit 0 only
    when every section is ok."""
    names = [n for n in (args.only or ",".join(SECTIONS)).split(",") if n]
    for name in names:
        if name not in SECTIONS:
            raise unknown("selfcheck section", name, SECTIONS)
    if args.shard is not None:  # whole sections, dealt by their cost (selfcheck COST)
        mine = select(names, [SECTION_COST[n] for n in names], Shard.parse(args.shard))
        names = [n for n in names if n in mine]
    for option in ("fuzz_cases", "diff_cases"):
        if not 1 <= getattr(args, option) <= 10_000_000:
            raise UsageError(f"--{option.replace('_', '-')}: must be at least 1 and at most 10000000")
    root = pathlib.Path(args.specs)
    if not root.is_dir():
        raise UsageError(f"--specs: {root} is not a directory")
    options = Options(
        root,
        run,
        jobs=args.jobs,
        seed=args.seed,
        fuzz_cases=args.fuzz_cases,
        diff_cases=args.diff_cases,
        full=args.full,
        one_layer=not args.two_sided_only,
        scheduler=args.scheduler,
        suite_cache=_suite_cache(args.suite_cache, root),
    )
    done: list[tuple[Section, float]] = []
    sink = io.StringIO()  # nothing a section runs may print (Hypothesis, z3): it goes here
    progress = Progress("selfcheck", err, progress_mode(err), unit="sections")
    # No section reads or writes the verdict cache, nor do the `check` processes and
    # calls it makes (fuzz, determinism): the mutants patch the checker in memory.
    stack = contextlib.ExitStack()
    stack.enter_context(_environ(verdict_cache.ENV_OFF, "1"))
    for n, name in enumerate(names):
        progress(n, len(names), f"section {name}")
        start = time.perf_counter()
        try:
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                result = SECTIONS[name](options)
        except Interrupted as stop:  # the sections that finished, then the line
            progress.clear()
            stack.close()
            if args.format == "json":
                out.write(interrupted_document(selfcheck_document(done), stop.stop, len(names)))
            else:
                out.write(selfcheck_text(done, verbose=args.verbose))
            err.write(interrupted_line(stop.stop, len(done), len(names), "sections"))
            return stop.stop.exit_code
        except Exception as exc:  # noqa: BLE001 - a crashed section is a failed section, in one line
            first = (str(exc).splitlines() or [""])[0]
            result = Section(name, False, (), (f"crashed: {type(exc).__name__}: {first}",))
        done.append((result, time.perf_counter() - start))
    progress.clear()
    stack.close()
    out.write(selfcheck_document(done) if args.format == "json" else selfcheck_text(done, verbose=args.verbose))
    return EXIT_OK if all(s.ok for s, _t in done) else EXIT_DIFFER


def _suite_cache(directory: str | None, root: pathlib.Path) -> verdict_cache.VerdictCache | None:
    """`selfcheck --suite-cache DIR`: the verdict cache under DIR keyed as `hvo-verify
    check ROOT` keys it with its default options (a result of another run, or of other
    sources, is a miss and is checked here)."""
    if directory is None:
        return None
    if not pathlib.Path(directory).is_dir():
        raise UsageError(f"--suite-cache: {directory} is not a directory (fill it with: "
                         f"HVO_VERIFY_CACHE_DIR={directory} hvo-verify check {root})")  # fmt: skip
    defaults = build_parser().parse_args(["check", str(root)])
    return verdict_cache.VerdictCache(pathlib.Path(directory), cache_options(defaults))


def cmd_completion(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """A completion script for bash or zsh, from this parser."""
    parser = build_parser()
    commands: dict[str, list[str]] = {}
    for action in parser._actions:  # the subcommands' parsers
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                commands[name] = [o for a in sub._actions for o in a.option_strings if o not in ("-h", "--help")]
    values = {
        "--config": [c.id for c in CONFIGS] + ["all", "all-arches"],
        "--scheme": [*PRESETS, "all"],
        "--invariant": [*INVARIANTS, *OP_INVARIANTS, *SMP_INVARIANTS],
        "--format": ["text", "json"],
        "--only": list(SECTIONS),
        "--hvo": ["both", "on", "off"],
    }
    out.write(
        completion.bash_script(commands, values) if args.shell == "bash" else completion.zsh_script(commands, values)
    )
    return EXIT_OK


def _max_memory_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--max-memory",
        metavar="SIZE",
        help=f"stop the run (exit {EXIT_MEMORY}) when this process and its workers use more than SIZE, e.g. 2G",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="hvo-verify",
        description="Model checker for the Linux HugeTLB Vmemmap Optimization (HVO).",
        epilog=exit_codes_text(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"hvo-verify {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        """A subcommand: its --help says what it does, shows examples and ends with its
        exit codes; every one takes --width."""
        description, examples = HELP[name]
        epilog = "examples:\n" + "".join(f"  {line}\n" for line in examples) + "\n" + exit_codes_text(name)
        p = sub.add_parser(
            name,
            help=help,
            description=f"{help}.\n\n{description}",
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.add_argument(
            "--width",
            type=int,
            default=WIDTH,
            metavar="N",
            help=f"wrap text output at N columns (default {WIDTH}; 78 stays within 80 when quoted with '> ')",
        )
        return p

    p = command("check", "check spec files against their expected verdicts")
    p.add_argument("paths", nargs="*", help="spec files or folders (default: ./specs, else the bundled suite)")
    p.add_argument(
        "--format",
        choices=("text", "json", "ktap"),
        default="text",
        help="text (default), json (version 2, README), ktap (KTAP version 1: a test per spec, a subtest per check)",
    )
    p.add_argument(
        "--ksft",
        action="store_true",
        help="exit with kselftest's codes: 0 all as expected, 1 any mismatch or error, 4 nothing applicable",
    )
    p.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="worker processes (default: 2)")
    p.add_argument("--timeout", type=float, help="seconds per solver query, for every spec (default: the spec's, 10)")
    p.add_argument("--save-traces", metavar="DIR", help="write each violated operation check's trace to DIR as JSON")
    p.add_argument("--keep-going", action="store_true",
                   help="check the files that load and report the bad ones (exit 2 if any is bad)")  # fmt: skip
    p.add_argument("--suggest-expect", action="store_true",
                   help="after the table, print an [expect] table of the verdicts found, per spec file")  # fmt: skip
    p.add_argument("--unbounded", action="store_true",
                   help="try every proved operation invariant for every sequence length (k-induction)")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="print only the checks that differ, and the summary")
    _max_memory_option(p)
    p.add_argument(
        "--no-witness",
        action="store_true",
        help="do not look for each operation proof's witness (a proof then says 'witness not checked')",
    )
    _scale_options(p, "jobs (a spec's checks on one config stay together)")
    p.add_argument("--no-cache", action="store_true",
                   help="neither read nor write the verdict cache (~/.cache/hvo-verify; $HVO_VERIFY_CACHE_DIR)")  # fmt: skip
    p.set_defaults(func=cmd_check)
    p = command("explain", "vmemmap diagram and counterexamples of one spec, in kernel terms")
    p.add_argument("spec", help="a spec file")
    p.add_argument("--config", help="a config of the spec, 'all' or a glob (default: the first where the scheme "
                                    "applies); configs where nothing applies are listed once, not explained")  # fmt: skip
    p.add_argument("--invariant", metavar="ID[,ID...]", help="only these of the spec's invariants (default: all)")
    p.add_argument("--scheme", help="which scheme of a spec that sweeps several (default: each in turn)")
    p.add_argument(
        "--inline-spec", action="store_true", help="print the spec after the provenance line, so a reply can be rerun"
    )
    _max_memory_option(p)
    p.set_defaults(func=cmd_explain)
    p = command("replay", "re-run a saved operation trace on the concrete model, in kernel terms")
    p.add_argument("trace", metavar="TRACE.json", help="a trace written by check --save-traces")
    p.add_argument("--all", action="store_true", help="check every operation invariant, not just the trace's")
    p.set_defaults(func=cmd_replay)
    p = command("explore", "search an operation spec with Hypothesis; shrunk traces, in kernel terms")
    p.add_argument("spec")
    p.add_argument("--examples", type=int, default=DEFAULT_EXAMPLES,
                   help=f"random sequences per (config, invariant) (default: {DEFAULT_EXAMPLES})")  # fmt: skip
    p.add_argument("--seed", type=int, help="Hypothesis seed (default: derandomized, the same every run)")
    p.add_argument("--config", help="only this config of the spec")
    p.add_argument("--scheme", help="only this scheme of a spec that sweeps several (default: each in turn)")
    _max_memory_option(p)
    p.set_defaults(func=cmd_explore)
    p = command("savings", "vmemmap pages freed per folio and for a pool")
    p.add_argument("--scheme", help="a scheme preset, a glob over presets ('v6.*') or 'all'")
    p.add_argument("--spec", metavar="FILE", help="the scheme of a spec file (a custom one too), instead of --scheme")
    p.add_argument("--config", help="a config id, a glob or 'all' (default with --spec: the spec's configs)")
    p.add_argument("--pool", help="pool size, e.g. 300G")
    p.add_argument("--format", choices=("text", "json"), default="text", help="text table or JSON (default: text)")
    p.add_argument("--legend", action=argparse.BooleanOptionalAction, default=True,
                   help="explain the columns under the table (default: on)")  # fmt: skip
    p.set_defaults(func=cmd_savings)
    p = command("conform", "boot the installed kernels under QEMU with HVO on and off; compare with the model")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--hvo", choices=("both", "on", "off"), default="both", help="which boots (default: both)")
    p.add_argument(
        "--scenarios",
        help="comma-separated subset of savings,kpageflags,hwpoison,dma,hwpoison2,sysctl,perfolio (the order they run in)",
    )
    p.add_argument("--timeout", type=float, default=90.0, help="seconds per boot before QEMU is killed (default: 90)")
    p.add_argument("--n2m", type=int, default=100, help="2 MiB folios in the savings scenario (default: 100)")
    p.add_argument("--save-records", metavar="FILE", help="write the guests' records (gzipped JSON) to FILE")
    p.add_argument(
        "--kernel",
        metavar="RELEASE|PATH",
        help="boot this installed kernel (uname -r, or /boot/vmlinuz-RELEASE); default: every one",
    )
    p.add_argument(
        "--records",
        metavar="FILE",
        action="append",
        help="replay a recording made with --save-records instead of booting (repeatable)",
    )
    p.add_argument(
        "--discrimination",
        action="store_true",
        help="also: which alternative models (era presets, hwpoison policies, no HVO) each row rejects",
    )
    p.add_argument("--reproducers", metavar="DIR",
                   help="build the reproducers in DIR (hvo-verify reproduce) and run them, one boot per kernel")  # fmt: skip
    p.set_defaults(func=cmd_conform)
    p = command("reproduce", "a kselftest-style C program that drives a real kernel along a trace")
    p.add_argument("paths", nargs="+", metavar="TRACE.json|SPEC", help="a trace file or a spec (--suite: spec folders)")
    p.add_argument("--config", help="the spec's config (default: the first with a trace)")
    p.add_argument("--invariant", help="the invariant whose trace to use (default: the first with one)")
    p.add_argument("-o", "--output", metavar="FILE|DIR", help="write there (default: stdout)")
    p.add_argument("--suite", action="store_true", help="one reproducer per trace of the specs, and DIR/INDEX")
    p.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="worker processes (default: 2)")
    p.set_defaults(func=cmd_reproduce)
    p = command("selfcheck", "the checker checking itself: mutants, differential, fuzz, vacuity, ...")
    p.add_argument("--only", metavar="SECTION[,...]", help=f"only these of: {', '.join(SECTIONS)}")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="worker processes (default: 2)")
    p.add_argument("--fuzz-cases", type=int, default=2000, help="malformed inputs (default: 2000)")
    p.add_argument("--diff-cases", type=int, default=10000, help="z3 vs brute-force cases (default: 10000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the fuzz and differential cases (default: 0)")
    p.add_argument("--full", action="store_true", help="mutation testing without early stop")
    p.add_argument(
        "--two-sided-only",
        action="store_true",
        help="mutation: only the 41 mutants of both layers, not the 138 one-layer ones (faster)",
    )
    p.add_argument("--specs", default="specs", help="the spec folder (default: specs/)")
    p.add_argument("--verbose", action="store_true", help="also each section's detail rows")
    p.add_argument("--suite-cache", metavar="DIR",
                   help="read the regression suite's results (vacuity, explore-bmc, interleavings) from the verdict "
                        "cache a `hvo-verify check SPECS` with default options filled in DIR (CI: once per run)")  # fmt: skip
    _max_memory_option(p)
    _scale_options(p, "sections")
    p.set_defaults(func=cmd_selfcheck)
    p = command("completion", "print a shell completion script")
    p.add_argument("shell", choices=("bash", "zsh"), help="the shell the script is for")
    p.set_defaults(func=cmd_completion)
    p = command("list", "presets, configs and invariants; or the shipped specs (--specs)")
    p.add_argument("--specs", nargs="?", const="", metavar="WORDS",
                   help="list the shipped spec files and their titles, only those whose path or title "
                        "contains every word of WORDS (case-insensitive)")  # fmt: skip
    p.set_defaults(func=cmd_list)
    return parser


def _scale_options(p: argparse.ArgumentParser, units: str) -> None:
    """--shard and --scheduler (check/distribute.py), for `check` and `selfcheck`."""
    p.add_argument("--shard", metavar="K/N",
                   help=f"run only the K-th of N disjoint shares of the {units}; the N shares make the whole run")  # fmt: skip
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run the checks on this Dask distributed scheduler (tcp://host:8786; needs the [dask] extra)")  # fmt: skip


def run(argv: Sequence[str], out: TextIO, err: TextIO) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        err.write(f"{exc}\n")
        return EXIT_ERROR
    except SystemExit as exc:  # --help printed its text
        return EXIT_ERROR if exc.code else EXIT_OK
    if getattr(args, "jobs", 1) < 1:
        err.write("hvo-verify: --jobs: must be at least 1\n")
        return EXIT_ERROR
    func: Callable[[argparse.Namespace, TextIO, TextIO], int] = args.func
    if not MIN_WIDTH <= args.width <= MAX_WIDTH:
        err.write(f"hvo-verify: --width: must be between {MIN_WIDTH} and {MAX_WIDTH} columns\n")
        return EXIT_ERROR
    try:
        limit = parse_size(args.max_memory, "--max-memory") if getattr(args, "max_memory", None) else None
        with _control(limit), interrupts_only(), width_of(args.width):
            return func(args, out, err)
    except Interrupted as stop:  # what finished was printed by the command, if anything
        err.write(interrupted_line(stop.stop, len(stop.partial), stop.total))
        return stop.stop.exit_code
    except SpecError as exc:
        err.write("".join(f"{line}\n" for line in exc.lines()))
    except (UsageError, UnknownName) as exc:
        err.write(f"hvo-verify: {exc}\n")
    except EncodingMismatch as exc:
        err.write(f"hvo-verify: internal error (our bug, not a finding): {exc}\n")
    return EXIT_ERROR


def _control(max_memory: int | None) -> contextlib.AbstractContextManager[object]:
    """check/runctl.py's RunControl around a command: signal handlers can be installed
    only in the main thread (elsewhere, e.g. a test's thread, the command runs bare)."""
    if threading.current_thread() is threading.main_thread():
        return RunControl(max_memory)
    if max_memory is not None:
        raise UsageError("--max-memory: only in the main thread")
    return contextlib.nullcontext()


def main(argv: Sequence[str] | None = None) -> int:
    """The console script.  A closed output pipe (`hvo-verify list | head`) ends the run
    quietly with EXIT_PIPE: what a tool killed by SIGPIPE reports to the shell."""
    try:
        code = run(sys.argv[1:] if argv is None else argv, sys.stdout, sys.stderr)
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter's last flush must not fail again
        return EXIT_PIPE
    return code
