"""What a test sees of its LLM traffic: the calls and their sums."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar, overload

from pytest_llm.checks.prices import PriceTable, default_table
from pytest_llm.providers import Endpoint, endpoint_of
from pytest_llm.steps import MODEL, TOOL, RequestedToolCall, Step, ToolUse
from pytest_llm.usage import ToolCall, Usage, as_int

# Providers of stored interactions that are tools, not models (see cassettes/tool_steps.py).
_TOOLS = ("http", "mcp", "function")


_T = TypeVar("_T")


class _once(Generic[_T]):
    """`functools.cached_property` without its lock.

    Python 3.11's takes a lock on every first access, a microsecond each: six of them for
    every call that a test's report record reads. The values are computed from the stored
    interaction alone, so two threads that both compute one get the same. Plain fields such
    as `model` and `status` are kept too: a replayed call's decision, figures, price and
    trajectory read them 3 to 6 times each (1 µs of a replayed call, measured).
    """

    def __init__(self, compute: Callable[[Any], _T]) -> None:
        self.compute = compute
        self.name = compute.__name__
        self.__doc__ = compute.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> _once[_T]: ...
    @overload
    def __get__(self, instance: object, owner: type | None = None) -> _T: ...
    def __get__(self, instance: object, owner: type | None = None) -> _T | _once[_T]:
        if instance is None:
            return self
        # A non-data descriptor: once the value is in the instance's dict, it is found there.
        value = instance.__dict__[self.name] = self.compute(instance)
        return value


@dataclass(eq=False)
class LLMCall:
    """One call to a provider, made live or replayed from the cassette."""

    interaction: dict[str, Any] = field(repr=False)
    replayed: bool
    fault: str | None = None
    prices: PriceTable | None = field(default=None, repr=False)
    index: int | None = None  # the call's place in llm.calls
    # Answered by a narrower key from a recording whose whole request differs (SPEC "Stale").
    stale: bool = False
    stale_diff: list[str] = field(default_factory=list)

    @_once
    def _endpoint(self) -> Endpoint:
        return endpoint_of(self.provider, self.endpoint)

    @_once
    def provider(self) -> str:
        """The wire format: `"openai"`, `"anthropic"`, `"google"` or a registered one."""
        return str(self.interaction.get("provider", ""))

    @_once
    def endpoint(self) -> str:
        """The URL path the call was sent to."""
        request = self.interaction["request"]
        return str(request.get("path") or self.interaction.get("endpoint", ""))

    @_once
    def request(self) -> dict[str, Any]:
        """The decoded request body."""
        body = self.interaction["request"].get("body")
        return body if isinstance(body, dict) else {}

    @_once
    def model(self) -> str:
        """The model the application asked for."""
        # Gemini names the model in the path, not the body.
        return str(self.request.get("model", self._endpoint.model))

    @_once
    def status(self) -> int:
        """The HTTP status the provider answered with."""
        return int(self.interaction["response"]["status"])

    @property
    def response(self) -> Any:
        """The decoded response; for a stream, the message assembled from its events."""
        response = self.interaction["response"]
        return response["final"] if "events" in response else response.get("body")

    @property
    def events(self) -> list[dict[str, Any]] | None:
        """A stream's events in order, or None for a call that did not stream."""
        events: list[dict[str, Any]] | None = self.interaction["response"].get("events")
        return events

    @_once
    def served_model(self) -> str | None:
        """The model that answered, as the response named it."""
        value = self.interaction.get("served_model")
        return str(value) if value is not None else None

    @_once
    def text(self) -> str:
        """The assistant's text ("" for errors, embeddings and pure tool calls)."""
        return self._endpoint.text(self.response)

    @_once
    def tool_calls(self) -> list[ToolCall]:
        """The tool calls the model made, in order."""
        return self._endpoint.tool_calls(self.response)

    @_once
    def usage(self) -> Usage:
        """Token usage the provider reported for this call."""
        return self._endpoint.usage(self.response)

    @_once
    def cost_usd(self) -> float | None:
        """What the call cost live; None while its model has no known price."""
        if self.provider in _TOOLS:  # plain HTTP, MCP, a tool function: no model spend
            return 0.0
        if self.status >= 400 or self.status == 0:  # refused or unanswered: not billed
            return 0.0 if self.price_model is not None else None
        table = self.prices or default_table()
        model = self.price_model
        return (
            None
            if model is None
            else table.cost(model, self.usage, cache_write_tokens=self._cache_writes)
        )

    @_once
    def price_model(self) -> str | None:
        """The model id the price is looked up under (the served one first), None if unpriced."""
        table = self.prices or default_table()
        for model in (self.served_model, self.model):
            info = table.lookup(model)
            if info is not None and info.priced:
                return model
        return None

    @property
    def _cache_writes(self) -> int:
        response = self.response
        raw = response.get("usage") if isinstance(response, dict) else None
        return as_int(raw.get("cache_creation_input_tokens")) if isinstance(raw, dict) else 0

    @property
    def latency_s(self) -> float:
        """Seconds from request to the last byte, as recorded."""
        return float(self.interaction.get("latency_s") or 0.0)

    @property
    def key(self) -> str:
        """The digest that finds this call in its cassette."""
        return str(self.interaction.get("key", ""))

    def step(self) -> Step:
        """This call as a model step of the trajectory."""
        return Step(MODEL, self.model, self.provider, self.request, self.response, self.replayed)

    def __repr__(self) -> str:
        how = "replayed" if self.replayed else "recorded"
        return f"<LLMCall {self.provider} {self.endpoint} model={self.model!r} {how}>"


@dataclass(frozen=True, eq=False)
class HttpCall:
    """One plain HTTP request of the test (a tool, a search API, an image), live or replayed."""

    interaction: dict[str, Any] = field(repr=False)
    replayed: bool

    @property
    def method(self) -> str:
        """The HTTP method, upper case."""
        return str(self.interaction["request"]["method"])

    @property
    def url(self) -> str:
        """The URL, without credential parameters."""
        return str(self.interaction["request"]["url"])

    @property
    def status(self) -> int:
        """The status the server answered with."""
        return int(self.interaction["response"]["status"])

    def step(self) -> Step:
        """This request as a tool step of the trajectory."""
        request, response = self.interaction["request"], self.interaction["response"]
        return Step(
            TOOL,
            f"{self.method} {self.url}",
            "http",
            request.get("body", request.get("text")),
            response.get("body", response.get("text")),
            self.replayed,
        )

    def __repr__(self) -> str:
        how = "replayed" if self.replayed else "recorded"
        return f"<HttpCall {self.method} {self.url} {self.status} {how}>"


class LLM:
    """The `llm` fixture: the test's calls, their sums, and its cassette."""

    def __init__(
        self,
        cassette_path: Path,
        calls: list[LLMCall],
        baseline: list[LLMCall],
        http: list[HttpCall] | None = None,
        *,
        sample: int = 0,
        trail: list[LLMCall | HttpCall | ToolUse] | None = None,
    ) -> None:
        self.cassette_path = cassette_path
        # Which sample of a test marked llm(samples=N) is running (0 without samples=).
        self.sample = sample
        self._calls = calls
        self._baseline = baseline
        self._http = http if http is not None else []
        # Everything the test's recorder kept, in the order it happened (see `steps`).
        self._trail: list[LLMCall | HttpCall | ToolUse] = (
            trail if trail is not None else [*calls, *self._http]
        )

    @property
    def calls(self) -> list[LLMCall]:
        """The calls made so far, in order."""
        return list(self._calls)

    @property
    def http(self) -> list[HttpCall]:
        """The test's plain HTTP requests (not model calls) so far, in order."""
        return list(self._http)

    @property
    def steps(self) -> list[Step]:
        """The trajectory so far: model calls and tool calls (MCP, functions, HTTP), in order."""
        steps: list[Step] = []
        for item in list(self._trail):
            if not isinstance(item, ToolUse) or item.is_tool_call:
                steps.append(item.step())
        return steps

    @property
    def tool_calls(self) -> list[RequestedToolCall]:
        """Every tool call the model asked for, across the test's calls, in order."""
        return requested_tool_calls(self._calls)

    @property
    def baseline(self) -> list[LLMCall]:
        """When re-recording, the previous recording's calls (empty otherwise)."""
        return list(self._baseline)

    @property
    def usage(self) -> Usage:
        """Token usage summed over the test's calls."""
        total = Usage()
        for call in self._calls:
            total = total + call.usage
        return total

    @property
    def cost_usd(self) -> float | None:
        """Cost summed over priced calls; None when no call is priced."""
        priced = [c.cost_usd for c in self._calls if c.cost_usd is not None]
        return sum(priced) if priced else None

    def __repr__(self) -> str:
        return f"<llm {len(self._calls)} call(s), cassette={self.cassette_path}>"


def requested_tool_calls(calls: list[LLMCall]) -> list[RequestedToolCall]:
    """The tool calls that the answers of `calls` asked for, in order.

    An attempt that a fault answered is left out: its retry asks again.
    """
    return [
        RequestedToolCall(tool.name, tool.arguments, index, tool.id)
        for index, call in enumerate(calls)
        if call.fault is None
        for tool in call.tool_calls
    ]
