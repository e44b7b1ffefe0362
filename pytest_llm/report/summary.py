"""The run's figures per test and per call: the terminal summary table and the JSON report.

Records are plain JSON-ready dicts so pytest-xdist workers can send them to the controller.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pytest_llm.calls import LLMCall
from pytest_llm.cassettes.store import write_atomic
from pytest_llm.checks.budget import usd
from pytest_llm.replay.settings import REPORT_FORMATS

__all__ = ["REPORT_FORMATS", "document", "test_record", "write"]

REPORT_VERSION = 1
_NAME_WIDTH = 36
_DEFAULT_ROWS = 20
_DRIFT_ROWS = 10


def _usage(records: Iterable[dict[str, Any]]) -> dict[str, int]:
    total: Counter[str] = Counter(
        {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0, "cached_tokens": 0}
    )
    for record in records:
        total.update(record["usage"])
    return dict(total)


def _cost(records: Iterable[dict[str, Any]]) -> float | None:
    priced = [r["cost_usd"] for r in records if r["cost_usd"] is not None]
    return sum(priced) if priced else None


def call_record(call: LLMCall, drift: dict[str, Any] | None = None) -> dict[str, Any]:
    """One call as the report shows it."""
    return {
        "provider": call.provider,
        "endpoint": call.endpoint,
        "model": call.model,
        "served_model": call.served_model,
        "status": call.status,
        "usage": call.usage.as_dict(),
        "cost_usd": call.cost_usd,
        "replayed": call.replayed,
        "fault": call.fault,
        "text": call.text,
        "drift": drift,
    }


def test_record(
    nodeid: str, calls: Iterable[LLMCall], drift: list[dict[str, Any] | None] | None = None
) -> dict[str, Any]:
    """One test and its calls, each with its drift against the baseline when re-recording."""
    calls = list(calls)
    entries = list(drift or []) + [None] * len(calls)
    records = [call_record(call, entries[i]) for i, call in enumerate(calls)]
    return {
        "nodeid": nodeid,
        "usage": _usage(records),
        "cost_usd": _cost(records),
        "calls": records,
    }


def _recorded(call: dict[str, Any]) -> bool:
    # A cut stream fetched live was recorded; other faults never reach a provider.
    return not call["replayed"] and call["fault"] in (None, "stream_cut")


def unknown_prices(tests: list[dict[str, Any]]) -> Counter[str]:
    """Models answered with success but absent from the price table, with their call counts."""
    return Counter(
        call["model"] or "(no model)"
        for test in tests
        for call in test["calls"]
        if call["cost_usd"] is None and call.get("status", 200) < 400
    )


def totals(tests: list[dict[str, Any]]) -> dict[str, Any]:
    """Sums over the run."""
    calls = [call for test in tests for call in test["calls"]]
    return {
        "tests": len(tests),
        "calls": len(calls),
        "replayed": sum(1 for call in calls if call["replayed"]),
        "recorded": sum(1 for call in calls if _recorded(call)),
        "faults": sum(1 for call in calls if call["fault"] is not None),
        "usage": _usage(calls),
        "cost_usd": _cost(calls),
        "unknown_price_models": dict(sorted(unknown_prices(tests).items())),
    }


def document(tests: list[dict[str, Any]]) -> dict[str, Any]:
    """The JSON report."""
    ordered = sorted(tests, key=lambda t: t["nodeid"])
    return {"version": REPORT_VERSION, "totals": totals(ordered), "tests": ordered}


def write(path: Path, tests: list[dict[str, Any]]) -> None:
    """Write the report in the format its suffix names (.json, .md or .html)."""
    data = document(tests)
    suffix = path.suffix.lower()
    if suffix == ".json":
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    else:
        from pytest_llm.report import pages as report_pages

        text = report_pages.markdown(data) if suffix == ".md" else report_pages.page(data)
    write_atomic(path, text)


def _shorten(name: str, width: int) -> str:
    return name if len(name) <= width else "…" + name[-(width - 1) :]


def _line(
    name: str, replayed: Any, recorded: Any, tokens_in: Any, tokens_out: Any, cost: str
) -> str:
    return (
        f"{_shorten(name, _NAME_WIDTH):<{_NAME_WIDTH}} {replayed:>5} {recorded:>4} "
        f"{tokens_in:>10} {tokens_out:>9} {cost:>10}"
    )


def summary_table(tests: list[dict[str, Any]], *, verbose: bool = False) -> list[str]:
    """Per test and in total: calls replayed and recorded, tokens, live cost (80 columns)."""
    with_calls = [t for t in tests if t["calls"]]
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
        lines.append(
            _line(
                test["nodeid"],
                sum(1 for c in test["calls"] if c["replayed"]),
                sum(1 for c in test["calls"] if _recorded(c)),
                f"{test['usage']['input_tokens']:,}",
                f"{test['usage']['output_tokens']:,}",
                usd(test["cost_usd"]),
            )
        )
    if hidden:
        lines.append(f"… {hidden} more test(s) with calls: -v lists all, --llm-report=PATH.json")
    total = totals(with_calls)
    lines.append(
        _line(
            f"total ({total['tests']} tests)",
            total["replayed"],
            total["recorded"],
            f"{total['usage']['input_tokens']:,}",
            f"{total['usage']['output_tokens']:,}",
            usd(total["cost_usd"]),
        )
    )
    if total["faults"]:
        lines.append(f"{total['faults']} call(s) answered by an injected fault (llm_faults)")
    unknown = total["unknown_price_models"]
    if unknown:
        names = ", ".join(f"{model} ({count})" for model, count in unknown.items())
        lines.append(f"no known price, left out of the cost: {names}")
        lines.append("  add them to a price file named by the ini key llm_prices")
    return lines


def drifted_calls(tests: list[dict[str, Any]]) -> list[tuple[dict[str, Any], int, dict[str, Any]]]:
    """(test, call index, drift) of every call that changed against its baseline, worst first."""
    found = []
    for test in tests:
        for index, call in enumerate(test["calls"]):
            drift = call.get("drift")
            if drift is None:
                continue
            changed = (
                drift["score"] < 1.0
                or drift["served_model_changed"]
                or drift["json_diff"]
                or drift["baseline_model"] != call["model"]
            )
            if changed:
                found.append((test, index, drift))
    found.sort(key=lambda item: (item[2]["score"], item[0]["nodeid"], item[1]))
    return found


def drift_lines(tests: list[dict[str, Any]], min_score: float | None) -> list[str]:
    """The summary's drift section: changed calls, worst first."""
    compared = sum(1 for t in tests for c in t["calls"] if c.get("drift") is not None)
    if not compared:
        return []
    found = drifted_calls(tests)
    below = [f for f in found if min_score is not None and f[2]["score"] < min_score]
    head = f"drift against the baseline: {len(found)} of {compared} call(s) changed"
    if min_score is not None:
        head += f", {len(below)} below --llm-drift-min-score={min_score}"
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
    return lines
