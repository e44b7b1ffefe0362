"""The run's figures per test and per call, as plain JSON-ready dicts: the JSON report's data.

Records are plain dicts so pytest-xdist workers can send them to the controller.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from pytest_llm.calls import HttpCall, LLMCall
from pytest_llm.checks.drift import answer_text

__all__ = [
    "REPORT_VERSION",
    "document",
    "drifted_calls",
    "stale_calls",
    "test_record",
    "totals",
    "unknown_prices",
]

REPORT_VERSION = 1


def _usage(records: Iterable[dict[str, Any]]) -> dict[str, int]:
    # Summed by hand: Counter.update checks each mapping against an ABC (a tenth of a test's
    # report record).
    total = dict.fromkeys(("input_tokens", "output_tokens", "total_tokens", "cached_tokens"), 0)
    for record in records:
        for name, count in record["usage"].items():
            total[name] = total.get(name, 0) + count
    return total


def _cost(records: Iterable[dict[str, Any]]) -> float | None:
    priced = [r["cost_usd"] for r in records if r["cost_usd"] is not None]
    return sum(priced) if priced else None


def call_record(
    call: LLMCall, drift: dict[str, Any] | None = None, *, texts: bool = True
) -> dict[str, Any]:
    """One call as the report shows it; without `texts`, its answer's text is left out (only
    the report files show it: the terminal summary needs the figures)."""
    record = {
        "provider": call.provider,
        "endpoint": call.endpoint,
        "model": call.model,
        "served_model": call.served_model,
        "status": call.status,
        "usage": call.usage.as_dict(),
        "cost_usd": call.cost_usd,
        "replayed": call.replayed,
        "fault": call.fault,
        "drift": drift,
        "stale": call.stale,
        "stale_diff": list(call.stale_diff),
        "sample": call.interaction.get("sample"),
    }
    if texts:
        record["text"] = call.text
        record["answer"] = answer_text(call)
    return record


def test_record(
    nodeid: str,
    calls: Iterable[LLMCall],
    drift: list[dict[str, Any] | None] | None = None,
    *,
    rerecord: str | None = None,
    samples: dict[str, Any] | None = None,
    http: Iterable[HttpCall] = (),
    passthrough: Iterable[str] = (),
    ignore: dict[str, bool] | None = None,
    texts: bool = True,
) -> dict[str, Any]:
    """One test and its calls, each with its drift against the baseline when re-recording.

    `rerecord` is the command that re-records the test (the summary prints it for stale calls);
    `samples` is the pass rate of a test marked llm(samples=N) (see checks.samples.record);
    `http` its plain HTTP requests, and `passthrough` the hosts (host:port) whose requests went
    through live while it recorded, unrecorded (llm_passthrough_hosts); `ignore` says per
    ignore path whether it named a field of the test's requests; `texts`, whether the calls'
    answers are kept (see call_record).
    """
    calls = list(calls)
    entries = list(drift or []) + [None] * len(calls)
    records = [call_record(call, entries[i], texts=texts) for i, call in enumerate(calls)]
    return {
        "nodeid": nodeid,
        "usage": _usage(records),
        "cost_usd": _cost(records),
        "calls": records,
        "http": [
            {"method": h.method, "url": h.url, "status": h.status, "replayed": h.replayed}
            for h in http
        ],
        "passthrough": sorted(passthrough),
        "ignore_matched": dict(ignore or {}),
        "rerecord": rerecord,
        "samples": samples,
    }


def was_recorded(call: dict[str, Any]) -> bool:
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
    http = [request for test in tests for request in test.get("http", ())]
    return {
        "tests": len(tests),
        "calls": len(calls),
        "replayed": sum(1 for call in calls if call["replayed"]),
        "recorded": sum(1 for call in calls if was_recorded(call)),
        "http_replayed": sum(1 for request in http if request["replayed"]),
        "http_recorded": sum(1 for request in http if not request["replayed"]),
        "faults": sum(1 for call in calls if call["fault"] is not None),
        "stale": sum(1 for call in calls if call.get("stale")),
        "usage": _usage(calls),
        "cost_usd": _cost(calls),
        "unknown_price_models": dict(sorted(unknown_prices(tests).items())),
    }


def document(tests: list[dict[str, Any]]) -> dict[str, Any]:
    """The JSON report."""
    ordered = sorted(tests, key=lambda t: t["nodeid"])
    return {"version": REPORT_VERSION, "totals": totals(ordered), "tests": ordered}


def drifted_calls(tests: list[dict[str, Any]]) -> list[tuple[dict[str, Any], int, dict[str, Any]]]:
    """(test, call index, drift) of every call that changed against its baseline, worst first."""
    found = []
    for test in tests:
        for index, call in enumerate(test["calls"]):
            drift = call.get("drift")
            if drift is None:
                continue
            # An identical answer from another requested model (--llm-model) is no change
            # to review; a served model that moved behind the same name is.
            changed = (
                drift["score"] < 1.0
                or drift["served_model_changed"]
                or drift["json_diff"]
                or drift["schema_valid"]["baseline"] != drift["schema_valid"]["new"]
            )
            if changed:
                found.append((test, index, drift))
    found.sort(key=lambda item: (item[2]["score"], item[0]["nodeid"], item[1]))
    return found


def stale_calls(tests: list[dict[str, Any]]) -> list[tuple[dict[str, Any], int, dict[str, Any]]]:
    """(test, call index, call) of every call answered from a stale recording, by test."""
    found = [
        (test, index, call)
        for test in tests
        for index, call in enumerate(test["calls"])
        if call.get("stale")
    ]
    found.sort(key=lambda item: (item[0]["nodeid"], item[1]))
    return found
