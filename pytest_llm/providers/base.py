"""The provider protocol: everything pytest-llm needs to know about one wire format.

A provider is one module with one subclass of `Provider`, listed in `registry.BUILTIN` or
registered by a third party through the `pytest_llm.providers` entry point. It works on
decoded JSON only and never imports an SDK: the SDK is the thing under test.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from pytest_llm.providers.sse import SSEDecoder, render_sse_chunks
from pytest_llm.usage import ToolCall, Usage

__all__ = ["DeclaredSchema", "FaultAnswer", "Provider", "StreamDecoder"]

Event = Mapping[str, Any]


class StreamDecoder(Protocol):
    """Turns a stream's bytes, however chunked, into the events stored in a cassette."""

    def feed(self, chunk: bytes) -> list[dict[str, Any]]:
        """The events that `chunk` completes."""
        ...

    def flush(self) -> list[dict[str, Any]]:
        """The events left when the stream ends."""
        ...


@dataclass(frozen=True, slots=True)
class DeclaredSchema:
    """A JSON Schema a request declared, and where in the request it was found."""

    schema: Any
    where: str  # e.g. "generationConfig.responseSchema", shown in assertion messages


@dataclass(frozen=True, slots=True)
class FaultAnswer:
    """The HTTP answer of an injected fault, as the provider itself sends that failure."""

    status: int
    body: Any
    headers: list[tuple[str, str]] = field(default_factory=list)


class Provider:
    """One wire format. Override what the format has; the defaults say "nothing there".

    `operation` names an endpoint independently of host and path prefix (proxies, Azure,
    Vertex): "chat.completions", "messages", "generate_content"...
    """

    #: The `provider` of its calls in `llm.calls` and in cassettes.
    name: ClassVar[str] = ""
    #: Headers and query parameters that carry its credentials: never written to a file.
    secret_headers: ClassVar[frozenset[str]] = frozenset()
    secret_params: ClassVar[frozenset[str]] = frozenset()
    #: The environment variable its SDK reads the API key from (named in error messages).
    key_env: ClassVar[str | None] = None

    def operation(self, path: str) -> str | None:
        """The operation a URL path (no query string) names, or None when it is not ours."""
        return None

    def recognize(self, path: str, body: Any) -> str | None:
        """The operation of a POST request, judged by path and decoded body.

        Path alone is not enough where paths are generic (`/messages`): by default the body
        must name a model too.
        """
        if not isinstance(body, dict) or "model" not in body:
            return None
        return self.operation(path)

    def model(self, path: str, body: Mapping[str, Any]) -> str:
        """The model a request asks for: in the body by default, in the path for some."""
        value = body.get("model")
        return str(value) if value is not None else ""

    def key_view(self, operation: str, model: str, body: dict[str, Any]) -> dict[str, Any]:
        """The canonical request body as the key reads it.

        The key groups its top-level fields: `model`, `stream`, sampling parameters under
        their usual names (`temperature`, `top_p`, `max_tokens`, `seed`...) and the rest as
        the prompt. A format that nests or renames them lifts them up here.
        """
        return body

    def text(self, operation: str, response: dict[str, Any]) -> str:
        """The assistant's text in a decoded response ("" when it has none)."""
        return ""

    def tool_calls(self, operation: str, response: dict[str, Any]) -> list[ToolCall]:
        """The tool calls the model asked for, in order."""
        return []

    def usage(self, operation: str, response: dict[str, Any]) -> Usage:
        """Token usage as the provider reported it; zeros when it reported none."""
        return Usage()

    def served_model(self, response: dict[str, Any]) -> str | None:
        """The model that answered, as the response names it."""
        value = response.get("model")
        return str(value) if value is not None else None

    #: The content type of its streams (SSE unless it says otherwise).
    stream_content_type: ClassVar[str] = "text/event-stream; charset=utf-8"

    def stream_decoder(self) -> StreamDecoder:
        """A decoder of one live stream's bytes into stored events (SSE by default)."""
        return SSEDecoder()

    def render_stream(self, events: list[dict[str, Any]]) -> list[bytes]:
        """Stored events back into wire chunks, one per event, for replay."""
        return render_sse_chunks(events)

    def assemble(self, operation: str, events: Iterable[Event]) -> dict[str, Any] | None:
        """Fold a recorded stream's decoded events into the non-streaming answer."""
        return None

    def declared_output_schema(
        self, operation: str, request: Mapping[str, Any]
    ) -> DeclaredSchema | None:
        """The schema the request asked the answer to follow, if the format declares it here.

        None lets the generic reader look at `response_format`, `text.format` and
        `output_config.format`.
        """
        return None

    def declared_tools(self, request: Mapping[str, Any]) -> dict[str, DeclaredSchema]:
        """Tool name -> the parameters schema the request declared, for formats that nest
        tools differently from OpenAI and Anthropic (empty: the generic reader decides)."""
        return {}

    def fault(self, fault: str, model: str, note: str) -> FaultAnswer | None:
        """The answer of an HTTP fault ("rate_limit", "server_error", "overloaded") in this
        format, its message ending with `note`; None borrows OpenAI's format."""
        return None


def lift_sampling(body: dict[str, Any], nested: str, names: Mapping[str, str]) -> dict[str, Any]:
    """`body` with the sampling fields a format nests under `nested` lifted to the top,
    under the names the key groups them by (`names`); `nested` keeps the rest, or goes."""
    view = {k: v for k, v in body.items() if k != nested}
    config = body.get(nested)
    if isinstance(config, Mapping):
        rest = {k: v for k, v in config.items() if k not in names}
        view |= {names[k]: v for k, v in config.items() if k in names}
        if rest:
            view[nested] = rest
    return view
