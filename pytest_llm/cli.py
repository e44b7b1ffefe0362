"""The pytest-llm command: import vcrpy cassettes, list, show and sum up pytest-llm ones.

Exit codes: 0 all went well, 1 a file could not be used (read, converted or written),
2 the command line itself is wrong (unknown option, missing path).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_llm._version import __version__
from pytest_llm.errors import display

if TYPE_CHECKING:
    from pytest_llm.cassettes.catalog import CallInfo, CassetteInfo, Group, Scan
    from pytest_llm.checks.prices import PriceTable

OK, PROBLEM, USAGE = 0, 1, 2
_PARTLY = "*"
_PARTLY_NOTE = f"{_PARTLY} some calls have no known price; the cost shown is that of the others"


class UsageError(Exception):
    """A command line that cannot be carried out as written (exit code 2)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pytest-llm",
        description="Inspect pytest-llm cassettes, and import vcrpy / pytest-recording ones.",
        epilog="Exit codes: 0 ok, 1 a file could not be used, 2 bad command line.",
    )
    parser.add_argument("--version", action="version", version=f"pytest-llm {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    json_help = "print machine-readable JSON instead of a table"
    prices_help = "a price file (TOML or YAML, as ini llm_prices) merged over the packaged prices"

    imp = commands.add_parser(
        "import",
        help="convert vcrpy / pytest-recording cassettes into pytest-llm ones",
        description="Convert vcrpy / pytest-recording cassettes of OpenAI and Anthropic "
        "traffic: one pytest-llm cassette per input file, with the same file name, in --out "
        "(default: the current directory, not the input's folder). Secrets and cookies are "
        "removed; calls to other services are kept, as plain HTTP interactions. Tests marked "
        "vcr need no import: they read vcrpy cassettes in place.",
    )
    imp.add_argument("files", nargs="+", metavar="FILE", type=Path, help="vcrpy cassette(s)")
    imp.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="where to write (default: the current directory)",
    )
    imp.add_argument("--force", action="store_true", help="replace cassettes that already exist")
    imp.add_argument(
        "--scrub-header",
        action="append",
        default=[],
        metavar="NAME",
        help="also remove this header (repeatable; as ini llm_scrub_headers)",
    )
    imp.add_argument(
        "--scrub-pattern",
        action="append",
        default=[],
        metavar="REGEX",
        help="also replace this regex in bodies (repeatable; as ini llm_scrub_patterns)",
    )
    imp.add_argument("--json", action="store_true", help=json_help)

    ls = commands.add_parser(
        "ls",
        help="list cassettes with calls, models, tokens, cost and age",
        description="List the pytest-llm cassettes under DIR with their calls, requested "
        "models, tokens, cost at current prices and age of the newest recording.",
    )
    ls.add_argument(
        "dir", nargs="?", type=Path, metavar="DIR", help="default: ./cassettes if it exists, else ."
    )
    ls.add_argument("--prices", type=Path, metavar="FILE", help=prices_help)
    ls.add_argument("--json", action="store_true", help=json_help)

    show = commands.add_parser(
        "show",
        help="print a cassette's conversation",
        description="Print each recorded call of a cassette: model, prompt (system, messages "
        "or input), the answer's text or tool calls, status and token usage.",
    )
    show.add_argument("cassette", type=Path, metavar="CASSETTE", help="a pytest-llm cassette")
    show.add_argument("--prices", type=Path, metavar="FILE", help=prices_help)
    show.add_argument("--json", action="store_true", help=json_help)

    stats = commands.add_parser(
        "stats",
        help="totals by provider and model",
        description="Sum the calls, errors, tokens and cost of the cassettes under DIR by "
        "provider and requested model.",
    )
    stats.add_argument(
        "dir", nargs="?", type=Path, metavar="DIR", help="default: ./cassettes if it exists, else ."
    )
    stats.add_argument("--prices", type=Path, metavar="FILE", help=prices_help)
    stats.add_argument("--json", action="store_true", help=json_help)

    diff = commands.add_parser(
        "diff",
        help="drift between two cassettes or folders of cassettes",
        description="Compare the answers of NEW with those of OLD, call by call (files pair up "
        "by relative path, calls by position): text similarity, JSON differences, schema "
        "validity, token and cost deltas, served-model changes. The same report as the "
        "plugin's --llm-report.",
    )
    diff.add_argument("old", type=Path, metavar="OLD", help="the baseline cassette or folder")
    diff.add_argument("new", type=Path, metavar="NEW", help="the new cassette or folder")
    diff.add_argument(
        "--method", metavar="NAME", help="similarity method (default: the offline default)"
    )
    diff.add_argument(
        "--min-score",
        type=float,
        metavar="X",
        help="exit with 1 when a call scores below X (0-1)",
    )
    diff.add_argument(
        "--report",
        action="append",
        default=[],
        type=Path,
        metavar="PATH",
        help="also write the report to PATH (.json, .md or .html; repeatable)",
    )
    diff.add_argument("--prices", type=Path, metavar="FILE", help=prices_help)
    diff.add_argument("--json", action="store_true", help=json_help)

    prune = commands.add_parser(
        "prune",
        help="remove the interactions that the last pytest run did not use",
        description="Remove from the cassettes under DIR the interactions that the last "
        "pytest run loaded but did not use (pytest-llm keeps that record in .pytest_cache). "
        "Cassettes that a failing or skipped test used are left alone; after a partial run "
        "(-k, -m, deselected or stopped tests) prune refuses unless --force.",
    )
    prune.add_argument(
        "dir", nargs="?", type=Path, metavar="DIR", help="default: ./cassettes if it exists, else ."
    )
    prune.add_argument("--dry-run", action="store_true", help="say what would go; change nothing")
    prune.add_argument("--force", action="store_true", help="prune after a partial run too")
    prune.add_argument("--json", action="store_true", help=json_help)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `pytest-llm` and `python -m pytest_llm`; returns the exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error argparse reported
        return exc.code if isinstance(exc.code, int) else USAGE
    if args.command is None:
        parser.print_help(sys.stderr)
        return USAGE
    handler = {
        "import": _import,
        "ls": _ls,
        "show": _show,
        "stats": _stats,
        "diff": _diff,
        "prune": _prune,
    }[args.command]
    try:
        return handler(args)
    except UsageError as exc:
        print(f"pytest-llm {args.command}: {exc}", file=sys.stderr)
        return USAGE
    except BrokenPipeError:
        # The reader went away (`| head`); stop quietly, as other command-line tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return OK


# --- output helpers --------------------------------------------------------------------------


def _emit_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


def _error(command: str, message: str) -> None:
    print(f"pytest-llm {command}: {message}", file=sys.stderr)


def _table(headers: list[str], rows: list[list[str]], right: frozenset[int]) -> str:
    """Columns aligned for a terminal; numbers (`right`) flush right."""
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    lines = []
    for row in [headers, *rows]:
        cells = [
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _money(cost: float | None, fully_priced: bool = True) -> str:
    from pytest_llm.checks.budget import usd  # the plugin's own format, so amounts read the same

    if cost is None:
        return "-"
    return usd(cost) + ("" if fully_priced else _PARTLY)


def _prices(path: Path | None) -> PriceTable:
    from pytest_llm.checks import (
        prices,  # the price table is parsed only by commands that show cost
    )

    if path is not None and not path.is_file():
        raise UsageError(f"no such price file: {display(path)}")
    return prices.load_table(path)


def _root(given: Path | None) -> Path:
    if given is None:
        default = Path("cassettes")
        return default if default.is_dir() else Path()
    if not given.exists():
        raise UsageError(f"no such file or directory: {display(given)}")
    return given


def _scan(args: argparse.Namespace) -> tuple[Path, Scan] | int:
    from pytest_llm.cassettes import catalog
    from pytest_llm.checks.prices import PriceFileError

    root = _root(args.dir)
    try:
        table = _prices(args.prices)
    except PriceFileError as exc:
        _error(args.command, str(exc))
        return PROBLEM
    return root, catalog.scan(root, table)


def _report_problems(command: str, scan: Scan) -> int:
    for error in scan.errors:
        _error(command, str(error))
    if scan.vcrpy:
        names = " ".join(display(p) for p in scan.vcrpy)
        print(
            f"note: {len(scan.vcrpy)} vcrpy cassette(s) left out; convert them with: "
            f"pytest-llm import {names} --out DIR (default: the current directory)",
            file=sys.stderr,
        )
    return PROBLEM if scan.errors else OK


def _errors_json(scan: Scan) -> list[dict[str, Any]]:
    return [{"path": str(e.path), "line": e.line, "error": str(e)} for e in scan.errors]


# --- import ----------------------------------------------------------------------------------


def _import(args: argparse.Namespace) -> int:
    from pytest_llm.cassettes import store
    from pytest_llm.cassettes.vcr_import import VcrImportError, import_file, output_name
    from pytest_llm.scrub import Scrubber

    for pattern in args.scrub_pattern:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise UsageError(f"--scrub-pattern {pattern!r} is not a valid regex ({exc})") from None
    missing = [display(f) for f in args.files if not f.is_file()]
    if missing:
        raise UsageError(f"no such file: {', '.join(missing)}")
    chosen = args.out is not None
    args.out = args.out if chosen else Path()
    if args.out.exists() and not args.out.is_dir():
        raise UsageError(f"--out {display(args.out)} is a file, not a directory")
    targets: dict[Path, Path] = {}
    for source in args.files:
        target = args.out / output_name(source)
        if target in targets.values():
            raise UsageError(
                f"{display(source)} and another input would both be written to "
                f"{display(target)}; import them into different --out directories"
            )
        targets[source] = target

    scrubber = Scrubber(args.scrub_header, args.scrub_pattern)
    written: list[dict[str, Any]] = []
    failed: list[dict[str, str]] = []
    for source, target in targets.items():
        if target.exists() and not args.force:
            failed.append(
                {
                    "source": str(source),
                    "error": f"{display(target)} already exists; pass --force to replace it",
                }
            )
            continue
        try:
            result = import_file(source, scrubber)
        except VcrImportError as exc:
            failed.append({"source": str(source), "error": str(exc)})
            continue
        with store.locked(target.parent):  # as the plugin writes: never beside a live save
            store.write_atomic(target, store.dumps(store.document(result.interactions)))
        written.append(
            {
                "source": str(source),
                "path": str(target),
                "calls": len(result.interactions),
                "skipped": result.skipped,
            }
        )

    if args.json:
        _emit_json({"written": written, "errors": failed})
    else:
        for entry in written:
            skipped = entry["skipped"]
            note = f", {len(skipped)} skipped" if skipped else ""
            print(f"{display(Path(entry['path']))}  ({entry['calls']} call(s){note})")
            for reason in skipped:
                print(f"  skipped {reason}")
        elsewhere = {str(Path(e["source"]).resolve().parent) for e in written} - {
            str(Path.cwd().resolve())
        }
        if written and not chosen and elsewhere:
            # `show` and `ls` suggest this command for a file in tests/cassettes/...: a user
            # looked for the result beside the input.
            print(
                f"note: written into the current directory ({Path.cwd()}), not beside the "
                "input; pass --out DIR to write elsewhere",
                file=sys.stderr,
            )
    for entry in failed:
        _error("import", entry["error"])
    return PROBLEM if failed else OK


# --- ls ----------------------------------------------------------------------------------------


def _cassette_json(info: CassetteInfo) -> dict[str, Any]:
    from pytest_llm.cassettes.catalog import age

    recorded = info.recorded_at
    return {
        "path": str(info.path),
        "calls": len(info.calls),
        "models": info.models,
        "usage": info.usage.as_dict(),
        "cost_usd": info.cost_usd,
        "fully_priced": info.fully_priced,
        "recorded_at": recorded.isoformat() if recorded else None,
        "age": age(recorded),
    }


def _ls(args: argparse.Namespace) -> int:
    from pytest_llm.cassettes.catalog import age

    scanned = _scan(args)
    if isinstance(scanned, int):
        return scanned
    root, scan = scanned
    if args.json:
        _emit_json(
            {
                "root": str(root),
                "cassettes": [_cassette_json(c) for c in scan.cassettes],
                "errors": _errors_json(scan),
                "vcrpy": [str(p) for p in scan.vcrpy],
            }
        )
        return PROBLEM if scan.errors else OK
    if scan.cassettes:
        rows = [
            [
                display(c.path),
                str(len(c.calls)),
                ", ".join(c.models) or "-",
                f"{c.usage.total_tokens:,}",
                _money(c.cost_usd, c.fully_priced),
                age(c.recorded_at),
            ]
            for c in scan.cassettes
        ]
        headers = ["CASSETTE", "CALLS", "MODELS", "TOKENS", "COST", "AGE"]
        print(_table(headers, rows, frozenset({1, 3, 4, 5})))
        if not all(c.fully_priced for c in scan.cassettes):
            print(_PARTLY_NOTE)
    elif not scan.errors:
        print(f"no pytest-llm cassettes under {display(root)}")
    return _report_problems("ls", scan)


# --- show --------------------------------------------------------------------------------------


def _labelled(label: str, text: str, width: int) -> list[str]:
    lines = text.splitlines() or [""]
    pad = " " * width
    return [f"  {label.ljust(width)}{lines[0]}".rstrip()] + [
        f"  {pad}{line}".rstrip() for line in lines[1:]
    ]


def _usage_line(call: CallInfo) -> str:
    usage = call.usage
    text = (
        f"{usage.input_tokens:,} in + {usage.output_tokens:,} out = {usage.total_tokens:,} tokens"
    )
    if usage.cached_tokens:
        text += f" ({usage.cached_tokens:,} cached)"
    return text + f", cost {_money(call.cost_usd)}"


def _show(args: argparse.Namespace) -> int:
    from pytest_llm.calls import LLMCall
    from pytest_llm.cassettes.catalog import call_info, load
    from pytest_llm.cassettes.conversation import view
    from pytest_llm.checks.prices import PriceFileError
    from pytest_llm.errors import CassetteError

    path: Path = args.cassette
    if not path.exists():
        raise UsageError(f"no such file: {display(path)}")
    try:
        table = _prices(args.prices)
        interactions = load(path)
    except (CassetteError, PriceFileError) as exc:
        _error("show", str(exc))
        return PROBLEM

    calls = []
    for index, interaction in enumerate(interactions, 1):
        info = call_info(interaction, table)
        shown = view(interaction)
        llm_call = LLMCall(interaction, replayed=True)
        calls.append((index, info, shown, llm_call))

    if args.json:
        _emit_json(
            {
                "path": str(path),
                "calls": [
                    {
                        "index": index,
                        "provider": info.provider,
                        "endpoint": info.endpoint,
                        "operation": shown.operation,
                        "model": info.model,
                        "served_model": info.served_model,
                        "status": info.status,
                        "stream": info.stream,
                        "recorded_at": info.recorded_at.isoformat() if info.recorded_at else None,
                        "tools": shown.tools,
                        "output_format": shown.output_format or None,
                        "prompt": [{"role": t.role, "text": t.text} for t in shown.prompt],
                        "answer": [{"role": t.role, "text": t.text} for t in shown.answer],
                        "text": llm_call.text,
                        "tool_calls": [
                            {"id": tc.id, "name": tc.name, "arguments": tc.arguments}
                            for tc in llm_call.tool_calls
                        ],
                        "usage": info.usage.as_dict(),
                        "cost_usd": info.cost_usd,
                    }
                    for index, info, shown, llm_call in calls
                ],
            }
        )
        return OK

    print(f"{display(path)}: {len(calls)} call(s)")
    for index, info, shown, _ in calls:
        served = (
            f" (served {info.served_model})"
            if info.served_model and info.served_model != info.model
            else ""
        )
        stream = "  stream" if info.stream else ""
        print()
        print(
            f"#{index}  {info.provider} {info.endpoint}  {info.model}{served}  "
            f"status {info.status}{stream}"
        )
        turns = [*shown.prompt, *shown.answer]
        width = max([len(t.role) for t in turns] + [len("format")]) + 2
        if shown.tools:
            print(*_labelled("tools", ", ".join(shown.tools), width), sep="\n")
        if shown.output_format:
            print(*_labelled("format", shown.output_format, width), sep="\n")
        for turn in shown.prompt:
            print(*_labelled(turn.role, turn.text, width), sep="\n")
        print("  " + "-" * 8 + " answer")
        for turn in shown.answer:
            print(*_labelled(turn.role, turn.text, width), sep="\n")
        if info.provider != "http":  # a plain HTTP request has no tokens and no price
            print(*_labelled("usage", _usage_line(info), width), sep="\n")
    return OK


# --- stats -------------------------------------------------------------------------------------


def _group_json(group: Group) -> dict[str, Any]:
    return {
        "provider": group.provider or None,
        "model": group.model or None,
        "calls": len(group.calls),
        "errors": group.errors,
        "cassettes": len(group.cassettes),
        "usage": group.usage.as_dict(),
        "cost_usd": group.cost_usd,
        "fully_priced": group.fully_priced,
    }


def _stats(args: argparse.Namespace) -> int:
    from pytest_llm.cassettes import catalog

    scanned = _scan(args)
    if isinstance(scanned, int):
        return scanned
    root, scan = scanned
    totals = catalog.stats(scan.cassettes)
    if args.json:
        _emit_json(
            {
                "root": str(root),
                "cassettes": len(scan.cassettes),
                "models": [_group_json(g) for g in totals.models],
                "providers": [_group_json(g) for g in totals.providers],
                "total": _group_json(totals.total),
                "errors": _errors_json(scan),
                "vcrpy": [str(p) for p in scan.vcrpy],
            }
        )
        return PROBLEM if scan.errors else OK
    if totals.total.calls:

        def row(provider: str, model: str, group: Group) -> list[str]:
            usage = group.usage
            counts = [str(len(group.calls)), str(group.errors), str(len(group.cassettes))]
            if provider == "http":  # plain HTTP has no tokens and no price
                return [provider, model, *counts, "-", "-", "-", "-"]
            return [
                provider,
                model,
                *counts,
                f"{usage.input_tokens:,}",
                f"{usage.output_tokens:,}",
                f"{usage.cached_tokens:,}",
                _money(group.cost_usd, group.fully_priced),
            ]

        rows = [row(g.provider, g.model or "-", g) for g in totals.models]
        # A provider's "(all)" row only adds something when it sums several models.
        models_of = Counter(g.provider for g in totals.models)
        rows += [row(g.provider, "(all)", g) for g in totals.providers if models_of[g.provider] > 1]
        rows.append(row("total", "", totals.total))
        headers = ["PROVIDER", "MODEL", "CALLS", "ERRORS", "CASSETTES", "INPUT", "OUTPUT"]
        headers += ["CACHED", "COST"]
        print(_table(headers, rows, frozenset(range(2, 9))))
        if not totals.total.fully_priced:
            print(_PARTLY_NOTE)
    elif not scan.errors:
        print(f"no pytest-llm cassettes under {display(root)}")
    return _report_problems("stats", scan)


if __name__ == "__main__":
    sys.exit(main())


def _diff(args: argparse.Namespace) -> int:
    from pytest_llm.checks.drift import default_scorer
    from pytest_llm.checks.similarity import available_methods
    from pytest_llm.errors import CassetteError
    from pytest_llm.report import cassette_diff, figures, files, summary

    for path in (args.old, args.new):
        if not path.exists():
            raise UsageError(f"{path}: no such file or folder")
    if args.method is not None and args.method not in available_methods():
        known = ", ".join(available_methods())
        raise UsageError(f"--method {args.method}: unknown method; valid: {known}")
    if args.min_score is not None and not 0.0 <= args.min_score <= 1.0:
        raise UsageError(f"--min-score {args.min_score}: expected a number from 0 to 1")
    for path in args.report:
        if path.suffix.lower() not in files.REPORT_FORMATS:
            valid = ", ".join(files.REPORT_FORMATS)
            raise UsageError(f"--report {path}: unknown format; valid suffixes: {valid}")
    try:
        result = cassette_diff.diff(
            args.old, args.new, default_scorer(args.method), _prices(args.prices)
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except CassetteError as exc:
        _error("diff", str(exc))
        return PROBLEM
    for path in args.report:
        files.write(path, result.tests)
    below = [
        (test["nodeid"], index)
        for test in result.tests
        for index, call in enumerate(test["calls"])
        if args.min_score is not None
        and call["drift"] is not None
        and call["drift"]["score"] < args.min_score
    ]
    if args.json:
        document = figures.document(result.tests)
        document["only_old"], document["only_new"] = result.only_old, result.only_new
        _emit_json(document)
    else:
        lines = summary.drift_lines(result.tests, args.min_score, flag="--min-score")
        print("\n".join(lines) if lines else "no calls to compare")
        for label, names in (("only in OLD", result.only_old), ("only in NEW", result.only_new)):
            for name in names:
                print(f"{label}: {name}")
        for path in args.report:
            print(f"report written: {path}")
    return PROBLEM if below else OK


def _prune(args: argparse.Namespace) -> int:
    from pytest_llm.cassettes import pruning
    from pytest_llm.errors import CassetteError

    root = _root(args.dir)
    found = pruning.find_record(Path.cwd())
    if found is None:
        raise UsageError(
            "no record of a pytest run here (.pytest_cache/v/pytest-llm/usage); run the whole "
            "test suite first, from this folder"
        )
    try:
        record = pruning.read_record(found)
    except ValueError as exc:
        _error("prune", str(exc))
        return PROBLEM
    if record.get("partial") and not args.force:
        raise UsageError(
            "the last run was partial (tests were deselected or it stopped early), so "
            "interactions of tests it did not run would look unused; run the whole suite, "
            "or pass --force"
        )
    try:
        plans = pruning.plan(record, root)
    except CassetteError as exc:
        _error("prune", str(exc))
        return PROBLEM
    removed: dict[str, int] = {}
    for item in plans:
        if item.skipped or not item.unused:
            continue
        removed[display(item.path)] = len(item.unused) if args.dry_run else pruning.apply(item)
    if args.json:
        _emit_json(
            {
                "dry_run": args.dry_run,
                "removed": removed,
                "skipped": {display(i.path): i.skipped for i in plans if i.skipped},
            }
        )
        return OK
    verb = "would remove" if args.dry_run else "removed"
    for name, count in removed.items():
        print(f"{verb} {count} unused interaction(s) from {name}")
    for item in plans:
        if item.skipped:
            print(f"left {display(item.path)} alone: {item.skipped}")
    if not removed:
        print("nothing to prune: the last run used every interaction it loaded")
    return OK
