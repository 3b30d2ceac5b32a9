"""hvo-verify command line.  Each subcommand (`cmd_*`, dispatched by argparse) returns
an exit code; only main() exits.  The exit codes are stated once, in EXIT_CODES: `--help`
prints them, and they are appended to this docstring.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import os
import pathlib
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import NoReturn, TextIO

from hvo_verify import conform
from hvo_verify.check import cache as verdict_cache
from hvo_verify.check.distribute import Shard, select
from hvo_verify.check.explore import DEFAULT_EXAMPLES, explore_spec
from hvo_verify.check.result import CheckResult
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
from hvo_verify.model.config import CONFIGS, parse_config_id
from hvo_verify.model.names import unknown
from hvo_verify.model.remap import optimize
from hvo_verify.model.scheme import PRESETS, Scheme, preset
from hvo_verify.model.structpage import Folio
from hvo_verify.model.vmemmap import VmemmapState
from hvo_verify.ops.smp_table import ACTORS, PROTOCOLS, Prim
from hvo_verify.ops.table import OPS
from hvo_verify.report import json_out, smp_text, text, trace_text
from hvo_verify.report.conform_text import conform_document, conform_text
from hvo_verify.report.wrap import wrap
from hvo_verify.selfcheck import COST as SECTION_COST
from hvo_verify.selfcheck import SECTIONS, Options, Section
from hvo_verify.selfcheck.report import selfcheck_document, selfcheck_text
from hvo_verify.specs.loader import load_spec_files, load_sweep, matching_presets
from hvo_verify.specs.schema import Spec
from hvo_verify.specs.tracefile import load_trace
from hvo_verify.verdict import Outcome, Verdict

EXIT_OK, EXIT_DIFFER, EXIT_ERROR, EXIT_UNKNOWN = (
    o.exit_code for o in (Outcome.AS_EXPECTED, Outcome.DIFFERS, Outcome.ERROR, Outcome.UNKNOWN)
)

# The exit codes of every subcommand (the only place they are written down).  Every
# subcommand also exits 2 on a usage error.
EXIT_CODES: dict[str, tuple[tuple[int, str], ...]] = {
    "check, explain": (
        (EXIT_OK, "every verdict equals its expectation"),
        (EXIT_DIFFER, "some verdict differs from its expectation"),
        (EXIT_ERROR, "usage or spec error, or internal error (a counterexample did not replay)"),
        (EXIT_UNKNOWN, "something is unknown (solver unknown, timeout), nothing differs outright"),
    ),
    "replay": (
        (EXIT_OK, "no invariant violated"),
        (EXIT_DIFFER, "a violation is shown"),
        (EXIT_ERROR, "a bad trace file"),
    ),
    "explore": (
        (EXIT_OK, "violations found exactly where the spec expects them"),
        (EXIT_DIFFER, "otherwise"),
        (EXIT_ERROR, "bad input"),
    ),
    "conform": (
        (EXIT_OK, "the model agrees with the kernel on every row"),
        (EXIT_DIFFER, "some row of some kernel disagrees (a kernel that cannot boot is such a row)"),
        (EXIT_ERROR, "no kernel booted (or the guest tools are missing)"),
    ),
    "selfcheck": ((EXIT_OK, "every section is ok"), (EXIT_DIFFER, "some section failed")),
    "savings, list": ((EXIT_OK, "done"),),
}


def exit_codes_text(*commands: str) -> str:
    """The EXIT_CODES rows of `commands` (keys of EXIT_CODES; all when none), as text."""
    lines = ["exit codes (2 also for a usage error):"]
    for names, rows in EXIT_CODES.items():
        if commands and not set(commands) & set(names.split(", ")):
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


def cmd_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    shard = Shard.parse(args.shard) if args.shard is not None else None
    save_dir = pathlib.Path(args.save_traces) if args.save_traces else None
    if save_dir is not None and save_dir.exists() and not save_dir.is_dir():
        raise UsageError(f"--save-traces: {save_dir} is not a directory")
    specs, errors = load_spec_files(args.paths or ["specs"])
    if errors:  # one line per bad file; nothing is checked
        err.write("".join(f"{exc.line()}\n" for exc in errors))
        return EXIT_ERROR
    if args.timeout is not None:
        if not 0 < args.timeout <= 3600:
            raise UsageError("--timeout: must be more than 0 and at most 3600 seconds")
        specs = [dataclasses.replace(spec, timeout_ms=max(1, int(args.timeout * 1000))) for spec in specs]
    results = check_specs(specs, workers=args.jobs, cache=_cache(args), shard=shard, scheduler=args.scheduler)
    if args.format == "json":
        out.write(json_out.results_document(results))
    else:
        out.write(text.verdict_table(results))
    if save_dir is not None:
        try:
            save_dir.mkdir(parents=True, exist_ok=True)
            for name, doc in json_out.traces_to_save(results):
                (save_dir / name).write_text(doc, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--save-traces: {exc.strerror or exc}: {exc.filename or save_dir}") from None
    return exit_code(results)


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
    """One spec, or each scheme of a sweep in turn (a blank line between)."""
    codes = []
    for n, spec in enumerate(_units(args.spec, args.scheme)):
        if n:
            out.write("\n")
        codes.append(_explain(spec, args.config, out))
    return max(codes)


def _explain(spec: Spec, config: str | None, out: TextIO) -> int:
    configs = [c.id for c in spec.configs]
    if config:
        if config not in configs:
            raise UsageError(f"--config: {unknown('config of this spec', config, configs)}")
        configs = [config]
    else:
        configs = configs[:1]
    chosen = tuple(c for c in spec.configs if c.id in configs)
    narrowed = dataclasses.replace(spec, configs=chosen)
    results = check_specs([narrowed], workers=1)
    if spec.smp is not None:  # interleaving spec: per-CPU schedules, replayed
        out.write(smp_text.explain_smp(text.explain_header(spec), results))
        return exit_code(results)
    if spec.ops is not None:  # operation spec: the shortest violating traces, replayed
        replays = [replay(r.trace, (r.invariant,)) if r.trace is not None else None for r in results]
        out.write(trace_text.explain_ops(narrowed, list(zip(results, replays, strict=True))))
        return exit_code(results)
    states = [_state(cid, spec.scheme) for cid in configs]
    out.write(text.explain(narrowed, states, results))
    return exit_code(results)


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
    for n, spec in enumerate(units):
        if n:
            out.write("\n")
        codes.append(_explore(spec, args, out))
    return max(codes)


def _explore(spec: Spec, args: argparse.Namespace, out: TextIO) -> int:
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
        found = explore_spec(spec, examples=args.examples, seed=args.seed, configs=configs)
    replays = [replay(e.trace, (e.invariant,)) if e.trace is not None else None for e in found]
    out.write(trace_text.explore_report(spec, list(zip(found, replays, strict=True)), args.examples, args.seed))
    return EXIT_OK if all(e.as_expected for e in found) else EXIT_DIFFER


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


def parse_size(value: str) -> int:
    match = _SIZE.match(value.strip())
    if not match:
        raise UsageError(f"--pool: {value!r} is not a size (e.g. 300G, 512M, 1T)")
    number, unit = int(match.group(1)), match.group(2).upper()
    return number << {"": 0, "K": 10, "M": 20, "G": 30, "T": 40}[unit]


def cmd_savings(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """A row per (scheme, config): --scheme is a preset, a glob over presets or 'all'."""
    names = matching_presets(args.scheme) if args.scheme == "all" or set("*?[") & set(args.scheme) else [args.scheme]
    if not names:
        raise UsageError(f"--scheme: {args.scheme!r} matches no scheme preset (see hvo-verify list)")
    schemes = [preset(name) for name in names]
    configs = parse_config_id(args.config)
    pool = parse_size(args.pool) if args.pool else 0
    rows = [savings(c, scheme, pool) for scheme in schemes for c in configs]
    out.write(json_out.savings_document(rows) if args.format == "json" else text.savings_table(rows))
    return EXIT_OK


def cmd_list(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
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
    out.write("operations ([ops] run = [...]):\n")
    for op in OPS.values():
        names = ", ".join(a.name for a in op.args)
        out.write(f"  {op.name}({names})\n      {op.summary}\n")
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
        for kernel in kernels:
            try:
                reports.append(conform.run_conformance(modes, scenarios, args.timeout, args.n2m, kernel))
            except GuestError as exc:
                reports.append(conform.kernel_failed(kernel, str(exc)))
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
    )
    done: list[tuple[Section, float]] = []
    sink = io.StringIO()  # nothing a section runs may print (Hypothesis, z3): it goes here
    # No section reads or writes the verdict cache, nor do the `check` processes and
    # calls it makes (fuzz, determinism): the mutants patch the checker in memory.
    stack = contextlib.ExitStack()
    stack.enter_context(_environ(verdict_cache.ENV_OFF, "1"))
    for name in names:
        start = time.perf_counter()
        try:
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                result = SECTIONS[name](options)
        except Exception as exc:  # noqa: BLE001 - a crashed section is a failed section, in one line
            first = (str(exc).splitlines() or [""])[0]
            result = Section(name, False, (), (f"crashed: {type(exc).__name__}: {first}",))
        done.append((result, time.perf_counter() - start))
    stack.close()
    out.write(selfcheck_document(done) if args.format == "json" else selfcheck_text(done, verbose=args.verbose))
    return EXIT_OK if all(s.ok for s, _t in done) else EXIT_DIFFER


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="hvo-verify",
        description="Model checker for the Linux HugeTLB Vmemmap Optimization (HVO).",
        epilog=exit_codes_text(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        """A subcommand whose --help ends with its exit codes."""
        return sub.add_parser(
            name, help=help, epilog=exit_codes_text(name), formatter_class=argparse.RawDescriptionHelpFormatter
        )

    p = command("check", "check spec files against their expected verdicts")
    p.add_argument("paths", nargs="*", help="spec files or folders (default: specs/)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="worker processes (default: 2)")
    p.add_argument("--timeout", type=float, help="seconds per solver query, for every spec (default: the spec's, 10)")
    p.add_argument("--save-traces", metavar="DIR", help="write each violated operation check's trace to DIR as JSON")
    _scale_options(p, "jobs (a spec's checks on one config stay together)")
    p.add_argument("--no-cache", action="store_true",
                   help="neither read nor write the verdict cache (~/.cache/hvo-verify; $HVO_VERIFY_CACHE_DIR)")  # fmt: skip
    p.set_defaults(func=cmd_check)
    p = command("explain", "vmemmap diagram and counterexamples of one spec, in kernel terms")
    p.add_argument("spec")
    p.add_argument("--config", help="which of the spec's configs (default: the first)")
    p.add_argument("--scheme", help="which scheme of a spec that sweeps several (default: each in turn)")
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
    p.set_defaults(func=cmd_explore)
    p = command("savings", "vmemmap pages freed per folio and for a pool")
    p.add_argument("--scheme", required=True, help="a scheme preset, a glob over presets ('v6.*') or 'all'")
    p.add_argument("--config", required=True, help="a config id or 'all'")
    p.add_argument("--pool", help="pool size, e.g. 300G")
    p.add_argument("--format", choices=("text", "json"), default="text")
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
    p.set_defaults(func=cmd_conform)
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
    _scale_options(p, "sections")
    p.set_defaults(func=cmd_selfcheck)
    p = command("list", "presets, configs and invariants")
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
    try:
        return func(args, out, err)
    except SpecError as exc:
        err.write(f"{exc.line()}\n")
    except (UsageError, UnknownName) as exc:
        err.write(f"hvo-verify: {exc}\n")
    except EncodingMismatch as exc:
        err.write(f"hvo-verify: internal error (our bug, not a finding): {exc}\n")
    return EXIT_ERROR


def main(argv: Sequence[str] | None = None) -> int:
    return run(sys.argv[1:] if argv is None else argv, sys.stdout, sys.stderr)
