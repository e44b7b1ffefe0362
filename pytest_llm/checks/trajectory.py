"""What a test asserts about an agent's trajectory: its tool calls, in what order, with what
arguments, which never happened, and how many steps it took."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

ORDERS = ("exact", "in_order", "any_order")
LIMITS = ("max_steps", "max_tool_calls")


class _AnyValue:
    """Equal to everything: `pytest_llm.ANY` in the arguments of an expected tool call."""

    def __eq__(self, other: object) -> bool:
        return True

    def __ne__(self, other: object) -> bool:
        return False

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return "ANY"


ANY: Any = _AnyValue()


class _ToolCall(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def arguments(self) -> Any: ...


def _tool_calls(llm_or_calls: Any, function: str) -> list[_ToolCall]:
    calls = getattr(llm_or_calls, "tool_calls", llm_or_calls)
    if isinstance(calls, Iterable) and not isinstance(calls, str | bytes | Mapping):
        return list(calls)
    raise TypeError(
        f"{function} takes the llm fixture or a list of its tool_calls, "
        f"not {type(llm_or_calls).__name__}"
    )


def _expected(item: Any, position: int) -> tuple[str, Mapping[str, Any] | None]:
    """(name, arguments subset or None) of one expected item; raises TypeError when malformed."""
    if isinstance(item, str):
        return item, None
    if (
        isinstance(item, Sequence)
        and len(item) == 2
        and isinstance(item[0], str)
        and isinstance(item[1], Mapping)
    ):
        return item[0], item[1]
    raise TypeError(
        f"expected[{position}] must be a tool name or a (name, arguments dict) pair, not {item!r}"
    )


def _value_matches(actual: Any, wanted: Any) -> bool:
    if isinstance(wanted, re.Pattern):
        return isinstance(actual, str) and wanted.search(actual) is not None
    if isinstance(wanted, Mapping):
        return isinstance(actual, Mapping) and _subset(actual, wanted)
    if isinstance(wanted, list | tuple) and isinstance(actual, list | tuple):
        return len(actual) == len(wanted) and all(map(_value_matches, actual, wanted))
    return bool(wanted == actual)


def _subset(actual: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    return all(key in actual and _value_matches(actual[key], w) for key, w in wanted.items())


def _matches(call: _ToolCall, wanted: tuple[str, Mapping[str, Any] | None]) -> bool:
    name, arguments = wanted
    if call.name != name:
        return False
    if arguments is None:
        return True
    return isinstance(call.arguments, Mapping) and _subset(call.arguments, arguments)


def _show_expected(wanted: tuple[str, Mapping[str, Any] | None]) -> str:
    name, arguments = wanted
    if arguments is None:
        return name
    return f"{name}({', '.join(f'{k}={_show_value(v)}' for k, v in arguments.items())})"


def _show_value(value: Any) -> str:
    if isinstance(value, re.Pattern):
        return f"re.compile({value.pattern!r})"
    return repr(value)


def _show_call(call: _ToolCall) -> str:
    arguments = call.arguments
    if isinstance(arguments, Mapping):
        text = ", ".join(f"{k}={v!r}" for k, v in arguments.items())
    else:
        text = "<invalid JSON>" if arguments is None else repr(arguments)
    if len(text) > 100:
        text = text[:97] + "..."
    return f"{call.name}({text})"


def _listing(calls: Sequence[_ToolCall], mark: int | None = None) -> list[str]:
    if not calls:
        return ["the model asked for no tool call"]
    lines = [f"the model's tool calls, in order ({len(calls)}):"]
    for index, call in enumerate(calls):
        pointer = "  <-- here" if index == mark else ""
        where = getattr(call, "call", None)  # one call's own tool_calls carry no index
        origin = f"  (llm.calls[{where}])" if where is not None else ""
        lines.append(f"  [{index}] {_show_call(call)}{origin}{pointer}")
    return lines


def _first_mismatch(
    calls: Sequence[_ToolCall], wanted: list[tuple[str, Mapping[str, Any] | None]], order: str
) -> tuple[str, int | None] | None:
    """(what went wrong, index of the tool call it points at) or None when `calls` fit."""
    if order == "exact":
        for index, want in enumerate(wanted):
            if index >= len(calls):
                return (
                    f"expected[{index}] {_show_expected(want)}: the model made only "
                    f"{len(calls)} tool call(s)",
                    None,
                )
            if not _matches(calls[index], want):
                return (
                    f"expected[{index}] {_show_expected(want)}, found {_show_call(calls[index])}",
                    index,
                )
        if len(calls) > len(wanted):
            extra = len(wanted)
            return (
                f"unexpected tool call [{extra}] {_show_call(calls[extra])} after the "
                f"{len(wanted)} expected (order='exact' allows nothing more)",
                extra,
            )
        return None
    if order == "in_order":
        position = 0
        for index, want in enumerate(wanted):
            found = next((i for i in range(position, len(calls)) if _matches(calls[i], want)), None)
            if found is None:
                after = f" after tool call [{position - 1}]" if position else ""
                elsewhere = [i for i, c in enumerate(calls) if _matches(c, want)]
                hint = f" (it is at [{elsewhere[0]}], out of order)" if elsewhere else ""
                return (
                    f"expected[{index}] {_show_expected(want)} not found{after}{hint}",
                    position if position < len(calls) else None,
                )
            position = found + 1
        return None
    free = list(range(len(calls)))
    for index, want in enumerate(wanted):
        found = next((i for i in free if _matches(calls[i], want)), None)
        if found is None:
            return f"expected[{index}] {_show_expected(want)} not found", None
        free.remove(found)
    return None


def assert_tool_calls(llm: Any, expected: Sequence[Any], *, order: str = "in_order") -> None:
    """Fail unless the model asked for the `expected` tool calls (names or (name, arguments
    subset) pairs; values may be `ANY` or compiled regexes), `order` "exact", "in_order" or
    "any_order"."""
    __tracebackhide__ = True
    if order not in ORDERS:
        raise ValueError(f"order must be one of {', '.join(ORDERS)}, not {order!r}")
    if isinstance(expected, str | bytes) or not isinstance(expected, Sequence):
        raise TypeError(
            f"expected must be a list of tool names or (name, arguments) pairs, not {expected!r}"
        )
    wanted = [_expected(item, i) for i, item in enumerate(expected)]
    calls = _tool_calls(llm, "assert_tool_calls")
    mismatch = _first_mismatch(calls, wanted, order)
    if mismatch is None:
        return
    problem, mark = mismatch
    shown = ", ".join(_show_expected(w) for w in wanted) or "nothing"
    lines = [
        f"tool calls do not match (order={order!r}): {problem}",
        f"expected: {shown}",
        *_listing(calls, mark),
    ]
    raise AssertionError("\n".join(lines))


def assert_no_tool_call(llm: Any, name: str) -> None:
    """Fail when the model asked for the tool `name` at any point of the test."""
    __tracebackhide__ = True
    calls = _tool_calls(llm, "assert_no_tool_call")
    found = [index for index, call in enumerate(calls) if call.name == name]
    if not found:
        return
    where = ", ".join(f"[{i}]" for i in found)
    lines = [
        f"the model called {name!r}, which it must never call: tool call(s) {where}",
        *_listing(calls, found[0]),
    ]
    raise AssertionError("\n".join(lines))


def trajectory_problems(llm: Any, limits: Mapping[str, float | int | None]) -> list[str]:
    """The llm_budget limits on steps and tool calls that `llm` breaks, as sentences."""
    problems = []
    for name, value in (
        ("max_steps", len(llm.steps)),
        ("max_tool_calls", len(llm.tool_calls)),
    ):
        limit = limits.get(name)
        if limit is not None and value > limit:
            what = name.removeprefix("max_").replace("_", " ")
            problems.append(f"{what} {value} > {name}={limit}")
    return problems


def trajectory_message(llm: Any, problems: list[str], *, where: str = "") -> str:
    """The failure text of a broken step budget: the limits, the steps, the tool calls."""
    head = "step budget exceeded" + (f" in {where}" if where else "") + ": "
    steps = list(llm.steps)
    lines = [head + "; ".join(problems), f"steps ({len(steps)}):"]
    for index, step in enumerate(steps):
        how = "replayed" if step.replayed else "live"
        lines.append(f"  [{index}] {step.kind} {step.name} via {step.via}  {how}")
    lines += _listing(list(llm.tool_calls))
    return "\n".join(lines)
