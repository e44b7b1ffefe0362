"""Ollama's native API: `/api/chat`, whose streams are NDJSON (one JSON object a line).

The OpenAI-compatible `/v1/chat/completions` of an Ollama server is the openai provider's.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from pytest_llm.providers.base import (
    DeclaredSchema,
    Event,
    FaultAnswer,
    Provider,
    StreamDecoder,
    lift_sampling,
)
from pytest_llm.usage import ToolCall, Usage, as_int

# `options` fields, under the names the key groups sampling by.
_SAMPLING = {
    "temperature": "temperature",
    "seed": "seed",
    "top_p": "top_p",
    "top_k": "top_k",
    "num_predict": "max_tokens",
    "stop": "stop",
    "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
}


class _Lines:
    """NDJSON: each complete line is one event, `{data: <the object>}`."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[dict[str, Any]]:
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        return [self._event(line) for line in lines if line.strip()]

    def flush(self) -> list[dict[str, Any]]:
        rest, self._buffer = self._buffer, b""
        return [self._event(rest)] if rest.strip() else []

    @staticmethod
    def _event(line: bytes) -> dict[str, Any]:
        text = line.decode("utf-8", errors="replace")
        try:
            return {"data": json.loads(text)}
        except ValueError:
            return {"data": text}


def assemble_chat(events: Iterable[Event]) -> dict[str, Any]:
    """Stream lines folded into the unstreamed `/api/chat` answer."""
    result: dict[str, Any] = {}
    content: list[str] = []
    thinking: list[str] = []
    tool_calls: list[Any] = []
    role = "assistant"
    for event in events:
        data = event.get("data")
        if not isinstance(data, Mapping):
            continue
        message = data.get("message")
        if isinstance(message, Mapping):
            role = str(message.get("role") or role)
            content.append(str(message.get("content") or ""))
            thinking.append(str(message.get("thinking") or ""))
            tool_calls += copy.deepcopy(list(message.get("tool_calls") or []))
        result |= {k: copy.deepcopy(v) for k, v in data.items() if k != "message"}
    message_out: dict[str, Any] = {"role": role, "content": "".join(content)}
    if any(thinking):
        message_out["thinking"] = "".join(thinking)
    if tool_calls:
        message_out["tool_calls"] = tool_calls
    return {**result, "message": message_out}


class Ollama(Provider):
    """`ollama.Client.chat` (and `AsyncClient.chat`), streamed or not."""

    name: ClassVar[str] = "ollama"
    stream_content_type: ClassVar[str] = "application/x-ndjson"

    def operation(self, path: str) -> str | None:
        """`/api/chat`, after any prefix."""
        return "chat" if path.rstrip("/").endswith("/api/chat") else None

    def key_view(self, operation: str, model: str, body: dict[str, Any]) -> dict[str, Any]:
        """`options` lifted to the usual sampling names.

        The key sees `stream` as the other formats do (absent = false): the `ollama` client
        always says which it wants, though the server streams when it is not told.
        """
        return lift_sampling(body, "options", _SAMPLING)

    def text(self, operation: str, response: dict[str, Any]) -> str:
        """The message's content."""
        message = response.get("message")
        return str(message.get("content") or "") if isinstance(message, Mapping) else ""

    def tool_calls(self, operation: str, response: dict[str, Any]) -> list[ToolCall]:
        """The message's tool calls (arguments arrive decoded)."""
        message = response.get("message")
        calls = message.get("tool_calls") if isinstance(message, Mapping) else None
        found = []
        for call in calls or []:
            function = call.get("function") if isinstance(call, Mapping) else None
            if isinstance(function, Mapping):
                arguments = function.get("arguments")
                raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
                decoded = arguments
                if isinstance(arguments, str):
                    try:
                        decoded = json.loads(arguments)
                    except ValueError:
                        decoded = None
                found.append(
                    ToolCall(str(call.get("id", "")), str(function.get("name", "")), decoded, raw)
                )
        return found

    def usage(self, operation: str, response: dict[str, Any]) -> Usage:
        """`prompt_eval_count` and `eval_count`."""
        inp, out = as_int(response.get("prompt_eval_count")), as_int(response.get("eval_count"))
        return Usage(inp, out, inp + out, 0)

    def stream_decoder(self) -> StreamDecoder:
        """NDJSON lines."""
        return _Lines()

    def render_stream(self, events: list[dict[str, Any]]) -> list[bytes]:
        """One line per event."""
        return [
            (e["data"] if isinstance(e.get("data"), str) else json.dumps(e.get("data"))).encode()
            + b"\n"
            for e in events
        ]

    def assemble(self, operation: str, events: Iterable[Event]) -> dict[str, Any] | None:
        """The chat answer the stream's lines add up to."""
        return assemble_chat(events)

    def declared_output_schema(
        self, operation: str, request: Mapping[str, Any]
    ) -> DeclaredSchema | None:
        """`format` when it is a JSON Schema (`"json"` asks for any JSON object)."""
        fmt = request.get("format")
        if isinstance(fmt, Mapping):
            return DeclaredSchema(fmt, "format")
        if fmt == "json":
            return DeclaredSchema({"type": "object"}, "format")
        return None

    def fault(self, fault: str, model: str, note: str) -> FaultAnswer:
        """Ollama's `{"error": ...}` bodies."""
        if fault == "rate_limit":
            return FaultAnswer(429, {"error": "too many requests" + note})
        if fault == "overloaded":
            return FaultAnswer(503, {"error": "server busy, please try again" + note})
        return FaultAnswer(500, {"error": "an internal error occurred" + note})
