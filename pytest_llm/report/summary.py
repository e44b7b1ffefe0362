"""The terminal summary: the table of calls, tokens and cost per test, and the drift section."""

from __future__ import annotations

from typing import Any

from pytest_llm.checks.budget import usd
from pytest_llm.checks.samples import passes, rate_changed
from pytest_llm.report.figures import drifted_calls, stale_calls, totals, was_recorded

__all__ = [
    "drift_lines",
    "ignore_lines",
    "model_map_lines",
    "passthrough_lines",
    "sample_lines",
    "stale_lines",
    "summary_table",
]

_NAME_WIDTH = 36
_DEFAULT_ROWS = 20
_DRIFT_ROWS = 10
_STALE_TESTS = 20
_STALE_DIFFS = 3


def _middle(text: str, width: int) -> str:
    if len(text) <= width:
        return text
    head = (width - 1) // 2
    return text[:head] + "…" + text[len(text) - (width - 1 - head) :]


def _shorten(name: str, width: int) -> str:
    """A node id cut to `width` keeping its file and its test: folders go first, then classes,
    then the middle of each (cutting from the left lost the file)."""
    if len(name) <= width:
        return name
    path, _, rest = name.partition("::")
    file, test = path.rsplit("/", 1)[-1], rest.rsplit("::", 1)[-1]
    if not rest:
        return _middle(name, width)
    candidates = [f"…/{file}::{rest}"] if "/" in path else []
    if "::" in rest:  # a class between them
        candidates.append(f"{file}::…::{test}")
    for candidate in candidates:
        if len(candidate) <= width:
            return candidate
    room = width - 2  # the "::" between them
    file_room = min(len(file), max(room // 3, room - len(test)))
    return _middle(file, file_room) + "::" + _middle(test, room - file_room)


def _count(total: int, what: str) -> str:
    return f"{total} {what}" + ("" if total == 1 else "s")


def _line(
    name: str, replayed: Any, recorded: Any, tokens_in: Any, tokens_out: Any, cost: str
) -> str:
    return (
        f"{_shorten(name, _NAME_WIDTH):<{_NAME_WIDTH}} {replayed:>5} {recorded:>4} "
        f"{tokens_in:>10} {tokens_out:>9} {cost:>10}"
    )


def summary_table(tests: list[dict[str, Any]], *, verbose: bool = False) -> list[str]:
    """Per test and in total: calls replayed and recorded, tokens, live cost (80 columns)."""
    with_calls = [t for t in tests if t["calls"] or t.get("http")]
    if not with_calls:
        return []
    shown = sorted(with_calls, key=lambda t: t["nodeid"])
    hidden = 0
    if not verbose and len(shown) > _DEFAULT_ROWS:
        # Show where the tokens go: the most expensive tests first.
        shown = sorted(
            shown, key=lambda t: (-(t["cost_usd"] or 0.0), -t["usage"]["total_tokens"], t["nodeid"])
        )
        hidden = len(shown) - _DEFAULT_ROWS
        shown = shown[:_DEFAULT_ROWS]
    lines = [_line("test", "repl", "rec", "tokens in", "out", "cost live")]
    for test in shown:
        http = test.get("http", ())
        lines.append(
            _line(
                test["nodeid"],
                sum(1 for c in test["calls"] if c["replayed"])
                + sum(1 for h in http if h["replayed"]),
                sum(1 for c in test["calls"] if was_recorded(c))
                + sum(1 for h in http if not h["replayed"]),
                f"{test['usage']['input_tokens']:,}",
                f"{test['usage']['output_tokens']:,}",
                usd(test["cost_usd"]) if test["calls"] else "-",  # plain HTTP only: no price
            )
        )
    if hidden:
        lines.append(f"… {hidden} more test(s) with calls: -v lists all, --llm-report=PATH.json")
    total = totals(with_calls)
    lines.append(
        _line(
            f"total ({_count(total['tests'], 'test')})",
            total["replayed"] + total["http_replayed"],
            total["recorded"] + total["http_recorded"],
            f"{total['usage']['input_tokens']:,}",
            f"{total['usage']['output_tokens']:,}",
            usd(total["cost_usd"]) if total["calls"] else "-",
        )
    )
    if total["http_replayed"] or total["http_recorded"]:
        lines.append(
            f"repl and rec count plain HTTP requests too: "
            f"{total['http_replayed']} replayed, {total['http_recorded']} recorded"
        )
    if total["faults"]:
        lines.append(f"{total['faults']} call(s) answered by an injected fault (llm_faults)")
    unknown = total["unknown_price_models"]
    if unknown:
        names = ", ".join(f"{model} ({count})" for model, count in unknown.items())
        lines.append(f"no known price, left out of the cost: {names}")
        lines.append("  add them to a price file named by the ini key llm_prices")
    return lines


def pass_rate(samples: dict[str, Any]) -> str:
    """`k/N` of a test's samples object, with its baseline's when re-recorded: `5/5 -> 3/5`."""
    now = f"{samples['passed']}/{samples['total']}"
    base = samples.get("baseline")
    return f"{base['passed']}/{base['total']} -> {now}" if base else now


def sample_lines(tests: list[dict[str, Any]]) -> list[str]:
    """Per test marked llm(samples=N): `k/N samples passed`, the rate and what it needs."""
    sampled = sorted((t for t in tests if t.get("samples")), key=lambda t: t["nodeid"])
    lines = []
    for test in sampled:
        samples = test["samples"]
        total, passed, needed = samples["total"], samples["passed"], samples["min_pass_rate"]
        verdict = "" if passes(passed, total, needed) else ", below it"
        line = (
            f"{passed}/{total} samples passed  {test['nodeid']}  "
            f"(pass rate {samples['pass_rate']:.2f}, needs {needed:g}{verdict})"
        )
        if samples.get("baseline"):
            line += f"; when last recorded {pass_rate(samples).split(' -> ')[0]}"
        lines.append(line)
    return lines


def drift_lines(
    tests: list[dict[str, Any]], min_score: float | None, *, flag: str = "--llm-drift-min-score"
) -> list[str]:
    """The summary's drift section: changed calls, worst first, then changed pass rates.

    `flag` names the option that set `min_score` (`pytest-llm diff` calls it --min-score).
    """
    compared = sum(1 for t in tests for c in t["calls"] if c.get("drift") is not None)
    rates = sorted((t for t in tests if rate_changed(t.get("samples"))), key=lambda t: t["nodeid"])
    if not compared:
        return _rate_lines(rates)
    found = drifted_calls(tests)
    below = [f for f in found if min_score is not None and f[2]["score"] < min_score]
    head = f"drift against the baseline: {len(found)} of {compared} call(s) changed"
    if compared > len(found):
        head += f" ({compared - len(found)} answered as before, score 1.000)"
    if min_score is not None:
        head += f", {len(below)} below {flag}={min_score}"
    lines = [head]
    for test, index, drift in found[:_DRIFT_ROWS]:
        model = test["calls"][index]["model"]
        change = f"{drift['baseline_model']} -> {model}"
        if drift["served_model_changed"]:
            change += f" (served {drift['baseline_served_model']} -> "
            change += f"{test['calls'][index]['served_model']})"
        tokens = drift["token_delta"]["total_tokens"]
        lines.append(
            f"  {drift['score']:.3f}  {_shorten(test['nodeid'], 44)}[{index}]  {change}  "
            f"tokens {tokens:+,}"
        )
    if len(found) > _DRIFT_ROWS:
        lines.append(f"  … {len(found) - _DRIFT_ROWS} more: --llm-report=PATH.html shows all")
    return lines + _rate_lines(rates)


def _rate_lines(rates: list[dict[str, Any]]) -> list[str]:
    # A drop from 5/5 to 3/5 is drift even when each new answer reads well on its own.
    if not rates:
        return []
    lines = [f"pass rate against the baseline: changed in {len(rates)} test(s)"]
    for test in rates:
        lines.append(f"  {pass_rate(test['samples'])}  {test['nodeid']}")
    return lines


def stale_lines(tests: list[dict[str, Any]], *, strict: bool = False) -> list[str]:
    """The summary's "stale recordings" section: each call answered by a narrower key from a
    recording whose whole request differs from what the code sends now, and how to re-record.
    """
    found = stale_calls(tests)
    if not found:
        return []
    by_test: dict[str, list[tuple[dict[str, Any], int, dict[str, Any]]]] = {}
    for entry in found:
        by_test.setdefault(entry[0]["nodeid"], []).append(entry)
    head = (
        f"stale recordings: {len(found)} call(s) in {len(by_test)} test(s) were answered from a "
        "recording of a request the code no longer sends"
    )
    lines = [head + (" (--llm-strict: failing them)" if strict else "")]
    for nodeid, entries in list(by_test.items())[:_STALE_TESTS]:
        lines.append(f"  {nodeid}")
        for _, index, call in entries:
            diff = call["stale_diff"]
            lines.append(f"    call {index} ({call['model']}):")
            lines += [f"      {line}" for line in diff[:_STALE_DIFFS]]
            if len(diff) > _STALE_DIFFS:
                more = len(diff) - _STALE_DIFFS
                lines.append(f"      ... and {more} more (llm.calls[{index}].stale_diff)")
        command = entries[0][0].get("rerecord") or f"pytest {nodeid!r}"
        lines.append(f"    re-record: {command}")
    if len(by_test) > _STALE_TESTS:
        lines.append(f"  … {len(by_test) - _STALE_TESTS} more: --llm-report=PATH.json lists all")
    return lines


def passthrough_lines(tests: list[dict[str, Any]]) -> list[str]:
    """The hosts whose plain HTTP went through live while tests recorded: not in any cassette."""
    hosts: dict[str, set[str]] = {}
    for test in tests:
        for host in test.get("passthrough", ()):
            hosts.setdefault(host, set()).add(test["nodeid"])
    if not hosts:
        return []
    lines = [
        "not recorded: plain HTTP to these hosts passed through live (ini llm_passthrough_hosts),"
        " so replay needs them running:"
    ]
    for host, nodeids in sorted(hosts.items()):
        lines.append(f"  {host}  ({_count(len(nodeids), 'test')}, e.g. {min(nodeids)})")
    lines.append("  to record them too, set `llm_passthrough_hosts =` (empty) and record again")
    return lines


def ignore_lines(tests: list[dict[str, Any]]) -> list[str]:
    """The ignore paths (marker or ini) that named no field of any request they were used on."""
    matched: dict[str, bool] = {}
    for test in tests:
        for path, hit in test.get("ignore_matched", {}).items():
            matched[path] = matched.get(path, False) or hit
    unmatched = sorted(path for path, hit in matched.items() if not hit)
    if not unmatched:
        return []
    return [
        "warning: ignore path(s) that matched no field of any recorded request: "
        + ", ".join(unmatched),
        "  check the spelling against the request body, as miss messages print it "
        "($.messages[1].content); a path that names nothing leaves the key unchanged",
    ]


def model_map_lines(model_map: dict[str, str], recorded: int) -> list[str]:
    """After recording with --llm-model OLD=NEW: the cassettes ask NEW, the code still OLD."""
    if not model_map or not recorded:
        return []
    mapping = " ".join(f"--llm-model {old}={new}" for old, new in sorted(model_map.items()))
    return [
        f"recorded with {mapping}: the cassettes now ask the new model, the code the old one;",
        "  change the model in the code, or replay with the same --llm-model, or the replay "
        "misses on $.model",
    ]
