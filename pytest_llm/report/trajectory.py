"""Each test's trajectory in the run's report: its steps, the tool calls its model asked for,
and whether that sequence changed against the baseline when re-recording."""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

from pytest_llm.calls import HttpCall, LLMCall, requested_tool_calls
from pytest_llm.steps import RequestedToolCall, ToolUse, describe_arguments

_ROWS = 10


def _tool_calls(calls: Iterable[RequestedToolCall]) -> list[dict[str, Any]]:
    return [{"name": t.name, "arguments": t.arguments, "call": t.call} for t in calls]


def _sequence(tool_calls: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(t["name"], repr(t["arguments"])) for t in tool_calls]


def record(
    calls: list[LLMCall],
    trail: Iterable[LLMCall | HttpCall | ToolUse],
    baseline: list[LLMCall],
) -> dict[str, Any]:
    """The trajectory fields of a test's report record (JSON-ready, for xdist too).

    `tool_calls_changed` is true when re-recording (there is a baseline) and the model asked
    for other tools, or the same tools with other arguments, or in another order.
    """
    steps = []
    for item in trail:
        if isinstance(item, ToolUse) and not item.is_tool_call:
            continue
        step = item.step()
        entry = {"kind": step.kind, "name": step.name, "via": step.via, "replayed": step.replayed}
        if step.kind == "tool" and step.via != "http":
            entry["input"] = describe_arguments(step.input)
        steps.append(entry)
    now = _tool_calls(requested_tool_calls(calls))
    before = _tool_calls(requested_tool_calls(baseline)) if baseline else None
    return {
        "steps": steps,
        "tool_calls": now,
        "baseline_tool_calls": before,
        "tool_calls_changed": before is not None and _sequence(before) != _sequence(now),
    }


def _names(tool_calls: list[dict[str, Any]]) -> str:
    return ", ".join(t["name"] for t in tool_calls) or "(none)"


def changed(tests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tests whose tool-call sequence changed against the baseline, by node id."""
    return sorted((t for t in tests if t.get("tool_calls_changed")), key=lambda t: t["nodeid"])


def summary_lines(tests: list[dict[str, Any]]) -> list[str]:
    """The terminal summary's section on changed tool-call sequences (empty when none)."""
    found = changed(tests)
    if not found:
        return []
    lines = [f"tool-call sequence changed against the baseline in {len(found)} test(s)"]
    for test in found[:_ROWS]:
        before, now = _names(test["baseline_tool_calls"]), _names(test["tool_calls"])
        lines.append(f"  {test['nodeid']}: {before} -> {now}")
    if len(found) > _ROWS:
        lines.append(f"  … {len(found) - _ROWS} more: --llm-report=PATH.json lists all")
    return lines


def _step_text(step: dict[str, Any]) -> str:
    text = f"{step['kind']} {step['name']} via {step['via']}"
    if "input" in step:
        text += f" ({step['input']})"
    return text + ("" if step["replayed"] else ", live")


def markdown(tests: list[dict[str, Any]]) -> list[str]:
    """The Markdown report's sections: changed sequences, then each test's steps."""
    out: list[str] = []
    found = changed(tests)
    if found:
        out += [f"### Tool-call sequence changed in {len(found)} test(s)", ""]
        for test in found:
            out.append(
                f"- `{test['nodeid']}`: {_names(test['baseline_tool_calls'])} → "
                f"{_names(test['tool_calls'])}"
            )
        out.append("")
    with_steps = [t for t in tests if t.get("steps")]
    if with_steps:
        out += ["### Steps", ""]
        for test in with_steps:
            out += [
                "<details>",
                f"<summary><code>{html.escape(test['nodeid'])}</code>: "
                f"{len(test['steps'])} step(s)</summary>",
                "",
            ]
            out += [f"{i}. {_step_text(s)}" for i, s in enumerate(test["steps"], 1)]
            out += ["", "</details>", ""]
    return out


def page(tests: list[dict[str, Any]]) -> list[str]:
    """The HTML report's sections: changed sequences, then each test's steps."""
    e = html.escape
    out: list[str] = []
    found = changed(tests)
    if found:
        out.append(f"<h2>Tool-call sequence changed in {len(found)} test(s)</h2><ul>")
        for test in found:
            out.append(
                f"<li><code>{e(test['nodeid'])}</code>: {e(_names(test['baseline_tool_calls']))}"
                f" → {e(_names(test['tool_calls']))}</li>"
            )
        out.append("</ul>")
    with_steps = [t for t in tests if t.get("steps")]
    if with_steps:
        out.append("<h2>Steps</h2>")
        for test in with_steps:
            items = "".join(f"<li>{e(_step_text(s))}</li>" for s in test["steps"])
            out.append(
                f"<details><summary><code>{e(test['nodeid'])}</code>: "
                f"{len(test['steps'])} step(s)</summary><ol>{items}</ol></details>"
            )
    return out
