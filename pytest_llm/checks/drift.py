"""What changed between a call and its baseline: meaning, JSON structure, schema, tokens, cost.

Calls pair up by position within a test (keys differ when the model changed). The comparison
is a plain dict, the `drift` entry of the JSON report.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from pytest_llm.usage import ToolCall, Usage

_DIFF_LIMIT = 20  # JSON differences kept per call: a report, not a dump


class _Call(Protocol):
    @property
    def model(self) -> str: ...
    @property
    def served_model(self) -> str | None: ...
    @property
    def text(self) -> str: ...
    @property
    def tool_calls(self) -> list[ToolCall]: ...
    @property
    def usage(self) -> Usage: ...
    @property
    def cost_usd(self) -> float | None: ...
    @property
    def latency_s(self) -> float: ...
    @property
    def interaction(self) -> dict[str, Any]: ...


Scorer = Callable[[str, str], tuple[float, str]]


def default_scorer(method: str | None = None) -> Scorer:
    """Text similarity by the similarity backends (the session default when `method` is None)."""

    def score(actual: str, expected: str) -> tuple[float, str]:
        from pytest_llm.checks.similarity import similarity

        result = similarity(actual, expected, method=method)
        return result.value, result.method

    return score


def structured(call: _Call) -> Any:
    """The call's JSON output: tool-call arguments, or its text when that is JSON; else None."""
    if call.tool_calls:
        return [{"name": t.name, "arguments": t.arguments} for t in call.tool_calls]
    text = call.text.strip()
    if text[:1] in ("{", "["):
        try:
            return json.loads(text)
        except ValueError:
            return None
    return None


def _leaves(value: Any, path: str = "$") -> dict[str, Any]:
    if isinstance(value, dict):
        found: dict[str, Any] = {}
        for key, item in value.items():
            found.update(_leaves(item, f"{path}.{key}"))
        return found or {path: {}}
    if isinstance(value, list):
        found = {}
        for index, item in enumerate(value):
            found.update(_leaves(item, f"{path}[{index}]"))
        return found or {path: []}
    return {path: value}


def leaf_agreement(old: Any, new: Any) -> float:
    """The share of JSON leaves (paths to scalar values) present in both with equal values."""
    before, after = _leaves(old), _leaves(new)
    paths = set(before) | set(after)
    same = sum(1 for p in paths if p in before and p in after and before[p] == after[p])
    return same / len(paths) if paths else 1.0


def _json_path(path: list[Any]) -> str:
    out = "$"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def json_diff(old: Any, new: Any) -> list[dict[str, Any]]:
    """Each structural difference: its `$.path`, the kind of change, the old and new values."""
    from deepdiff import DeepDiff
    from deepdiff.helper import notpresent

    changes: list[dict[str, Any]] = []
    for kind, items in DeepDiff(old, new, view="tree").items():
        for item in items:
            changes.append(
                {
                    "path": _json_path(item.path(output_format="list")),
                    "change": kind.replace("_", " "),
                    "old": None if item.t1 is notpresent else _plain(item.t1),
                    "new": None if item.t2 is notpresent else _plain(item.t2),
                }
            )
    changes.sort(key=lambda c: c["path"])
    return changes[:_DIFF_LIMIT]


def _plain(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return repr(value)


def schema_valid(call: _Call) -> bool | None:
    """Whether the call's output keeps the schema its request declared (None: none declared)."""
    from pytest_llm.checks.json_schema import assert_json_schema

    try:
        assert_json_schema(call)
    except AssertionError as exc:
        if "no schema to check against" in str(exc):
            return None
        return False
    except (TypeError, ValueError):
        return None
    return True


def answer_text(call: _Call) -> str:
    """What a call answered, for a person: its text, or its tool calls (`name({...})`)."""
    if call.text:
        return call.text
    return "\n".join(f"{tc.name}({tc.arguments_json})" for tc in call.tool_calls)


def compare(call: _Call, base: _Call, scorer: Scorer) -> dict[str, Any]:
    """The drift entry of one call against its baseline."""
    old_json, new_json = structured(base), structured(call)
    if old_json is not None and new_json is not None:
        # Structured output is compared by its values, not by the wording of its JSON text.
        score, method = leaf_agreement(old_json, new_json), "json-leaves"
    elif call.text or base.text:
        score, method = scorer(call.text, base.text)
    elif old_json is not None or new_json is not None:
        score, method = 0.0, "json-leaves"
    else:
        score, method = 1.0, "empty"
    cost_delta = None
    if call.cost_usd is not None and base.cost_usd is not None:
        cost_delta = call.cost_usd - base.cost_usd
    old_fp = base.interaction.get("system_fingerprint")
    new_fp = call.interaction.get("system_fingerprint")
    return {
        "baseline_model": base.model,
        "baseline_served_model": base.served_model,
        "served_model_changed": (
            call.model == base.model
            and None not in (call.served_model, base.served_model)
            and call.served_model != base.served_model
        ),
        "system_fingerprint_changed": bool(old_fp and new_fp and old_fp != new_fp),
        "method": method,
        "score": round(score, 4),
        "baseline_text": base.text,
        "baseline_answer": answer_text(base),
        "json_diff": (
            json_diff(old_json, new_json) if old_json is not None and new_json is not None else None
        ),
        "schema_valid": {"baseline": schema_valid(base), "new": schema_valid(call)},
        "token_delta": {
            "input_tokens": call.usage.input_tokens - base.usage.input_tokens,
            "output_tokens": call.usage.output_tokens - base.usage.output_tokens,
            "total_tokens": call.usage.total_tokens - base.usage.total_tokens,
        },
        "cost_delta": cost_delta,
        "latency_delta_s": round(call.latency_s - base.latency_s, 4),
    }


def compare_all(
    calls: Sequence[_Call], baseline: Sequence[_Call], scorer: Scorer
) -> list[dict[str, Any] | None]:
    """Drift of each call against the baseline call at the same position (None: no partner)."""
    return [
        compare(call, baseline[i], scorer) if i < len(baseline) else None
        for i, call in enumerate(calls)
    ]


def drifted(entry: dict[str, Any] | None, min_score: float) -> bool:
    """Whether a drift entry falls below `min_score`."""
    return entry is not None and float(entry["score"]) < min_score


def describe(entry: dict[str, Any], index: int, model: str) -> str:
    """One line for a failure or the summary: score, models, token and cost deltas."""
    tokens = entry["token_delta"]["total_tokens"]
    cost = entry["cost_delta"]
    parts = [
        f"[{index}] score {entry['score']:.3f} ({entry['method']})",
        f"{entry['baseline_model']} -> {model}",
        f"tokens {tokens:+,}",
    ]
    if cost is not None:
        parts.append(f"cost {cost:+.6f} USD")
    if entry["served_model_changed"]:
        parts.append(f"served model changed from {entry['baseline_served_model']}")
    if entry["json_diff"]:
        parts.append(f"{len(entry['json_diff'])} JSON change(s)")
    return ", ".join(parts)


def assert_no_drift(
    call: Any,
    baseline: Any,
    *,
    min_score: float | None = None,
    schema: Any = None,
    method: str | None = None,
) -> None:
    """Fail when a call's answer drifted from its baseline in meaning, JSON or schema."""
    __tracebackhide__ = True
    if baseline is None:
        raise AssertionError(
            "assert_no_drift: no baseline call to compare with; llm.baseline holds the previous "
            "recording only while re-recording (--llm-record=rewrite or all)"
        )
    from pytest_llm.checks.similarity import default_min_score

    entry = compare(call, baseline, default_scorer(method))
    problems: list[str] = []
    detail: list[str] = []
    old_json, new_json = structured(baseline), structured(call)
    if old_json is not None and new_json is not None:
        if entry["json_diff"]:
            problems.append(f"{len(entry['json_diff'])} JSON change(s)")
            detail += [
                f"  {c['path']}: {c['change']}: {c['old']!r} -> {c['new']!r}"
                for c in entry["json_diff"]
            ]
    else:
        threshold = default_min_score(entry["method"]) if min_score is None else min_score
        source = "given" if min_score is not None else f"default for {entry['method']}"
        if entry["score"] < threshold:
            problems.append(
                f"text similarity {entry['score']:.3f} < min_score {threshold} ({source})"
            )
            detail += [
                f"  baseline ({baseline.model}): {_shorten(baseline.text)}",
                f"  new      ({call.model}): {_shorten(call.text)}",
            ]
    problems += _schema_problems(call, baseline, schema, entry)
    if problems:
        where = f"llm.calls[{call.index}]" if getattr(call, "index", None) is not None else "call"
        raise AssertionError(
            f"assert_no_drift: {where} drifted from its baseline: "
            + "; ".join(problems)
            + ("\n" + "\n".join(detail) if detail else "")
        )


def _schema_problems(call: Any, baseline: Any, schema: Any, entry: dict[str, Any]) -> list[str]:
    if schema is None:
        valid = entry["schema_valid"]
        if valid["baseline"] is True and valid["new"] is False:
            return ["the new answer breaks the schema its request declared; the baseline kept it"]
        return []
    from pytest_llm.checks.json_schema import assert_json_schema

    problems = []
    for label, side in (("baseline", baseline), ("new answer", call)):
        try:
            assert_json_schema(side, schema)
        except AssertionError as exc:
            first = str(exc).splitlines()[0].removeprefix("assert_json_schema: ")
            problems.append(f"{label} breaks the given schema ({first})")
    return problems


def _shorten(text: str, width: int = 160) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= width else flat[: width - 1] + "…")
