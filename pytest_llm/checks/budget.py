"""Token and cost budgets over a test's calls: `assert_token_budget` and the llm_budget marker."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, Protocol

from pytest_llm.usage import Usage

LIMITS = ("max_input_tokens", "max_output_tokens", "max_total_tokens", "max_cost_usd", "max_calls")
# The llm_budget marker also bounds an agent's trajectory (checks/trajectory.py).
MARKER_LIMITS = (*LIMITS, "max_steps", "max_tool_calls")


class _Call(Protocol):
    @property
    def provider(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def usage(self) -> Usage: ...
    @property
    def cost_usd(self) -> float | None: ...
    @property
    def replayed(self) -> bool: ...


def _calls(calls_or_llm: Any) -> list[_Call]:
    calls = getattr(calls_or_llm, "calls", calls_or_llm)
    if hasattr(calls, "usage") and hasattr(calls, "cost_usd"):  # a single call
        return [calls]
    if isinstance(calls, Iterable) and not isinstance(calls, str | bytes | Mapping):
        return list(calls)
    raise TypeError(
        "assert_token_budget takes the llm fixture, a list of its calls or one call, "
        f"not {type(calls_or_llm).__name__}"
    )


def usd(value: float | None) -> str:
    """Dollars with enough digits to show a test-sized cost ($0.0012, $3.50, $1,204.10)."""
    if value is None:
        return "unknown"
    if value >= 1:
        return f"${value:,.2f}"
    if 0 < value < 0.0000005:
        return "<$0.000001"
    text = f"{value:.6f}".rstrip("0")
    return "$" + (text if len(text.split(".")[1]) >= 2 else f"{value:.2f}")


def _decimal(value: float | int) -> str:
    """A limit as the user would write it in dollars: 0.000001, never 1e-06."""
    return format(Decimal(repr(value)), "f")


def _row(label: str, usage: Usage, cost: str, tail: str = "") -> str:
    return (
        f"  {label:<34} in {usage.input_tokens:>8,}  out {usage.output_tokens:>7,}  "
        f"total {usage.total_tokens:>8,}  {cost:>10}{tail}"
    )


def budget_problems(calls: list[_Call], limits: Mapping[str, float | int | None]) -> list[str]:
    """Each limit the calls break, as a sentence; empty when all hold."""
    total = Usage()
    for call in calls:
        total = total + call.usage
    problems = []
    for name, value in (
        ("max_input_tokens", total.input_tokens),
        ("max_output_tokens", total.output_tokens),
        ("max_total_tokens", total.total_tokens),
        ("max_calls", len(calls)),
    ):
        limit = limits.get(name)
        if limit is not None and value > limit:
            what = name.removeprefix("max_").replace("_", " ")
            problems.append(f"{what} {value:,} > {name}={limit:,}")
    max_cost = limits.get("max_cost_usd")
    if max_cost is not None:
        unpriced = sorted({c.model for c in calls if c.cost_usd is None})
        if unpriced:
            problems.append(
                f"cost cannot be checked against max_cost_usd={_decimal(max_cost)}: no known "
                "price for "
                + ", ".join(repr(m) for m in unpriced)
                + " (add it to the price file named by the ini key llm_prices)"
            )
        else:
            cost = sum(c.cost_usd or 0.0 for c in calls)
            if cost > max_cost:
                problems.append(f"cost {usd(cost)} > max_cost_usd={_decimal(max_cost)}")
    return problems


def budget_message(calls: list[_Call], problems: list[str], *, where: str = "") -> str:
    """The failure text: the broken limits, then every call's tokens and cost."""
    head = "token budget exceeded" + (f" in {where}" if where else "") + ": "
    lines = [head + "; ".join(problems), f"calls ({len(calls)}):"]
    total = Usage()
    costs: list[float] = []
    for index, call in enumerate(calls):
        total = total + call.usage
        if call.cost_usd is not None:
            costs.append(call.cost_usd)
        how = "replayed" if call.replayed else "live"
        lines.append(
            _row(
                f"[{index}] {call.provider} {call.model}",
                call.usage,
                usd(call.cost_usd),
                f"  {how}",
            )
        )
    lines.append(_row("total", total, usd(sum(costs) if costs else None)))
    return "\n".join(lines)


def check_limits(
    limits: Mapping[str, Any], *, source: str, allowed: tuple[str, ...] = LIMITS
) -> dict[str, float | int]:
    """Validated limits: known names, numbers >= 0; raises ValueError naming the source."""
    unknown = sorted(set(limits) - set(allowed))
    if unknown:
        raise ValueError(
            f"{source}: unknown limit(s) {', '.join(unknown)}; valid: {', '.join(allowed)}"
        )
    clean: dict[str, float | int] = {}
    for name, value in limits.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"{source}: {name} must be a number >= 0, not {value!r}")
        clean[name] = value
    if not clean:
        raise ValueError(f"{source}: give at least one limit: {', '.join(allowed)}")
    return clean


def assert_token_budget(
    calls_or_llm: Any,
    *,
    max_input_tokens: int | None = None,
    max_output_tokens: int | None = None,
    max_total_tokens: int | None = None,
    max_cost_usd: float | None = None,
    max_calls: int | None = None,
) -> None:
    """Fail when the calls used more tokens, dollars or calls than allowed."""
    __tracebackhide__ = True
    limits = check_limits(
        {
            "max_input_tokens": max_input_tokens,
            "max_output_tokens": max_output_tokens,
            "max_total_tokens": max_total_tokens,
            "max_cost_usd": max_cost_usd,
            "max_calls": max_calls,
        },
        source="assert_token_budget",
    )
    calls = _calls(calls_or_llm)
    problems = budget_problems(calls, limits)
    if problems:
        raise AssertionError(budget_message(calls, problems))
