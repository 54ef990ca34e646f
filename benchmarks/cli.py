"""Command line: ``python -m benchmarks run --url URL --model NAME ...`` (see ``--help``).

Bad input ends with one line on stderr naming the option, the value and the fix (exit 2),
before any request is sent; never a traceback.  Exit status: 0 done, 1 nothing measured (every
warm-up request failed, or no request of the run succeeded: every one failed, or was rate limited
with HTTP 429, one line saying which with the counts), 2 bad input, 130 interrupted by SIGINT / 143
by SIGTERM (results measured so far are still printed and written).  What escapes ``main`` (a closed
stdout, a pipe closed early, an unexpected error) is mapped in ``benchmarks/exits.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import signal
import sys
import types
import typing
from pathlib import Path

from rich.console import Console

from . import eventloop, exits
from .export import KINDS, export, parse_spec
from .inputs import InputError
from .loadgen import BenchmarkConfig, ConfigError, run_benchmark
from .options import ConfigField, config_fields
from .outputs import Output, OutputError
from .payload import check_url
from .raw import RAW_FILE, Recorder
from .report import RESULTS_FILE, ProgressBar, literal_console, print_report, write_json
from .secrets import quoted, scrub


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> typing.NoReturn:  # one line instead of usage + traceback-like noise
        sys.stderr.write(scrub(f"benchmarks: error: {message} (see python -m benchmarks run --help)") + "\n")
        raise SystemExit(2)


def _list_of(kind, example: str, most: float = float("inf")):
    def parse(text: str):
        try:
            values = tuple(kind(x) for x in text.split(",") if x.strip())
        except ValueError:
            values = ()
        if not values or any(not 0 < v <= most or v == float("inf") for v in values):
            noun = "integers" if kind is int else "numbers"
            bound = f" up to {most:,}" if most != float("inf") else ""
            raise argparse.ArgumentTypeError(
                f"invalid value {text!r}: use comma-separated positive {noun}{bound}, e.g. {example}"
            )
        return values

    return parse


# Options are bounded where they are parsed (benchmarks/limits.py says why each bound): one line, exit 2.
def _positive(kind, example: str, most: float = float("inf"), least: float = 0):
    def parse(text: str):
        try:
            v = kind(text)
        except ValueError:
            v = 0
        if not (v >= least if least else v > 0) or not v <= most or v == float("inf"):
            noun = kind.__name__.replace("float", "number").replace("int", "integer")
            if least:
                bound = f" of at least {least:g}"
            elif most != float("inf"):
                bound = f" up to {most:,}" if kind is int else f" up to {most:g}"
            else:
                bound = ""
            raise argparse.ArgumentTypeError(f"invalid value {text!r}: use a positive {noun}{bound}, e.g. {example}")
        return v

    return parse


def _count(most: int):
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            v = -1
        if not 0 <= v <= most:
            raise argparse.ArgumentTypeError(
                f"invalid value {text!r}: use 0 or a positive integer up to {most:,}, e.g. 2"
            )
        return v

    return parse


def _non_negative(most: float):
    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            v = -1.0
        if not 0 <= v <= most:
            raise argparse.ArgumentTypeError(
                f"invalid value {text!r}: use 0 or a positive number of seconds up to {most:g}, e.g. 1.5"
            )
        return v

    return parse


def _parsed_by(parse):
    """An Option's own parser: its ValueError is argparse's one line."""

    def wrapped(text: str):
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return wrapped


def _cli_type(f: ConfigField):
    """The argparse type of a config field, from its type and bounds (the parsers above, their lines unchanged)."""
    opt, kind = f.option, f.type
    if opt.parse is not None:
        return _parsed_by(opt.parse)
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    if typing.get_origin(kind) is tuple:
        return _list_of(args[0], opt.example, opt.le if opt.le is not None else float("inf"))
    if typing.get_origin(kind) in (typing.Union, types.UnionType) and len(args) == 1:
        kind = args[0]
    if kind not in (int, float):
        return None
    most = opt.le if opt.le is not None else float("inf")
    if opt.ge == 0:
        return _count(int(most)) if kind is int else _non_negative(most)
    if kind is float and opt.ge:
        return _positive(float, opt.example, most, opt.ge)
    if opt.ge is None and opt.gt is None:
        return kind
    return _positive(kind, opt.example, int(most) if kind is int and most != float("inf") else most)


SECTION_TITLES = {
    "workload": "workload shapes (docs/load-generator.md)",
    "guards": 'guards: past these a level is INVALID (docs/tuning.md, "Invalid levels")',
}


def add_config_options(run: argparse.ArgumentParser, config_class: type = BenchmarkConfig) -> None:
    """One option per BenchmarkConfig field (benchmarks/options.py), in field order: the load modes exclusive and
    required, the workload shapes and the guards each in their own group."""
    load = run.add_mutually_exclusive_group(required=True)
    groups: dict[str, argparse._ArgumentGroup] = {}
    where: argparse._ActionsContainer
    for f in config_fields(config_class):
        opt = f.option
        if opt.exclusive:
            where = load
        elif opt.section in SECTION_TITLES:
            where = groups.get(opt.section) or groups.setdefault(
                opt.section, run.add_argument_group(SECTION_TITLES[opt.section])
            )
        else:
            where = run
        flag = opt.flag_for(f.name, f.default)
        kwargs: dict = {"help": opt.help or None, "dest": f.name}
        if f.type is bool:
            kwargs["action"] = "store_false" if f.default is True else "store_true"
        else:
            choices = typing.get_args(f.type) if typing.get_origin(f.type) is typing.Literal else None
            default = os.environ.get(opt.env) if opt.env else f.default
            metavar = opt.metavar or (None if choices else flag.removeprefix("--").replace("-", "_").upper())
            kwargs.update(type=_cli_type(f), metavar=metavar, choices=choices)
            if default is dataclasses.MISSING:
                kwargs["required"] = True
            elif not opt.exclusive and default is not None:
                kwargs["default"] = default
        where.add_argument(flag, **{k: v for k, v in kwargs.items() if v is not None})


def _flag_of(name: str, config_class: type = BenchmarkConfig) -> str:
    """The option a config field's error names (`request_rates` -> `--request-rate`)."""
    return next(
        (f.option.flag_for(f.name, f.default) for f in config_fields(config_class) if f.name == name),
        "--" + name.replace("_", "-"),
    )


def config_from(args: argparse.Namespace, config_class: type = BenchmarkConfig):
    """The config the parsed options describe (a load mode not given is its empty default)."""
    values = {}
    for f in config_fields(config_class):
        value = getattr(args, f.name)
        values[f.name] = f.default if value is None and f.option.exclusive else value
    return config_class(**values)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m benchmarks", description="Streaming load generator for OpenAI-compatible endpoints.")
    p.add_argument(
        exits.DEBUG_FLAG,
        action="store_true",
        help=f"print the traceback of an internal error (also ${exits.DEBUG_ENV}=1)",
    )
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    r = sub.add_parser(
        "run", help="benchmark an endpoint", description="Benchmark an OpenAI-compatible streaming endpoint."
    )
    r.add_argument(exits.DEBUG_FLAG, action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    add_config_options(r)
    r.add_argument("--out", help="write results JSON here")
    r.add_argument(
        "--export",
        action="append",
        default=[],
        metavar="FORMAT:FILE",
        help="also write a genai-bench or inference-perf summary (one file per level), e.g. genai-bench:gb.json",
    )
    r.add_argument(
        "--raw",
        metavar="FILE",
        help="also write every request's raw record, JSON lines, for benchmarks.merge (benchmarks/raw.py)",
    )
    r.add_argument(
        "--clock-reference",
        metavar="URL",
        help="with --raw: a time endpoint or any server's Date header to measure this clock's offset against",
    )
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _fail(option: str, value: object, fix: str) -> int:
    sys.stderr.write(scrub(f"benchmarks: error: {option} {quoted(value)}: {fix}") + "\n")
    return 2


def _error(e: OutputError) -> int:
    """An output refused or not writable: the writer's one line (path, what, nothing changed, fix)."""
    sys.stderr.write(f"benchmarks: error: {e}\n")
    return 2


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


async def _run(config: BenchmarkConfig, quiet: bool, err: Console, recorder=None):
    """Returns (result, the signal that stopped the run or None)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    stopped_by: list[int] = []

    def on_signal(signum: int) -> None:
        err.print(
            f"{signal.Signals(signum).name}: stopping, keeping what was measured (send it again to quit at once)",
            style="yellow",
        )
        stopped_by.append(signum)
        stop.set()
        for s in STOP_SIGNALS:  # a second signal has its default effect: quit at once
            loop.remove_signal_handler(s)

    for s in STOP_SIGNALS:
        loop.add_signal_handler(s, on_signal, s)
    bar = None if quiet else ProgressBar(err)
    try:
        if recorder is not None:
            await recorder.begin()
        result = await run_benchmark(config, stop=stop, progress=bar)
        if recorder is not None:
            await recorder.finish()
    finally:
        if bar is not None:
            bar.close()
    return result, (stopped_by[0] if stopped_by else None)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config = config_from(args)
    try:
        config.validate()
    except ConfigError as e:
        return _fail(_flag_of(e.field), e.value, e.fix)
    if args.clock_reference and (not args.raw or check_url(args.clock_reference)):
        return _fail(
            "--clock-reference",
            args.clock_reference,
            check_url(args.clock_reference) or "it applies only with --raw FILE",
        )
    results = Output(args.out, RESULTS_FILE, f"--out {args.out}") if args.out else None
    raw_out = Output(args.raw, RAW_FILE, f"--raw {args.raw}") if args.raw else None
    try:
        if raw_out is not None:
            raw_out.open()  # refused or locked: before the run
        return _checked_run(args, config, results, raw_out)
    except OutputError as e:
        return _error(e)
    finally:
        for o in (results, raw_out):
            if o is not None:
                o.close()


def _checked_run(
    args: argparse.Namespace, config: BenchmarkConfig, results: Output | None, raw_out: Output | None = None
) -> int:
    """The run, with --out locked and checked and each --export checked before the first request."""
    if results is not None:
        results.open()
    exports = []
    for spec in args.export:
        try:
            fmt, path = parse_spec(spec)
        except ValueError as e:
            return _fail("--export", spec, str(e))
        with Output(Path(path), KINDS[fmt], f"--export {spec}"):  # refused, or not writable: before the run
            pass
        exports.append((fmt, path))
    out, err = literal_console(), literal_console(stderr=True)
    if not out.is_terminal:  # files and pipes: wide enough for the whole table
        out = literal_console(width=160)
    try:
        recorder = Recorder(args.clock_reference) if raw_out is not None else None
        result, signum = eventloop.run(_run(config, args.quiet, err, recorder))
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except InputError as e:  # files are read and named in validate(); this is the net under it
        sys.stderr.write(f"benchmarks: error: {e}\n")
        return 2
    if results is not None:
        write_json(result, results)
        err.print(f"results written to {args.out}")
    if recorder is not None and raw_out is not None:
        recorder.write(result, raw_out)
        err.print(f"raw records written to {args.raw}")
    for fmt, path in exports if result.levels else ():
        written = export(result, fmt, path)
        err.print(f"{fmt} summary written to {', '.join(written)}")
    print_report(result, out)  # after the files: a reader that leaves early (`| head`) costs no results
    if result.aborted:
        sys.stderr.write(f"benchmarks: error: {' '.join(result.aborted.split())[:300]}\n")
        return 1
    if result.all_failed:
        sys.stderr.write(
            scrub(f"benchmarks: error: {result.all_failed} (see the errors above and the server's log)") + "\n"
        )
        return 1
    if result.interrupted:
        return 128 + (signum or signal.SIGINT)
    return 0
