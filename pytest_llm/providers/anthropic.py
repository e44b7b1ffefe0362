"""The Anthropic Messages wire format (Messages, count_tokens)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from pytest_llm.providers.assemble import assemble_anthropic_messages
from pytest_llm.providers.base import Event, FaultAnswer, Provider
from pytest_llm.usage import ToolCall, Usage, as_int


def text(operation: str, response: dict[str, Any]) -> str:
    """The concatenated text blocks of a message."""
    if operation != "messages":
        return ""
    return "".join(
        str(block.get("text", ""))
        for block in response.get("content") or []
        if isinstance(block, dict) and block.get("type") == "text"
    )


def tool_calls(operation: str, response: dict[str, Any]) -> list[ToolCall]:
    """The message's tool_use blocks."""
    if operation != "messages":
        return []
    return [
        ToolCall(
            str(block.get("id", "")),
            str(block.get("name", "")),
            block.get("input"),
            json.dumps(block.get("input"), ensure_ascii=False),
        )
        for block in response.get("content") or []
        if isinstance(block, dict) and block.get("type") == "tool_use"
    ]


def usage(response: dict[str, Any]) -> Usage:
    """Anthropic counts cache reads and writes apart from input_tokens; we fold them in.

    That keeps `input_tokens` meaning "everything the prompt cost" for both providers,
    with cache reads also shown in `cached_tokens`.
    """
    raw = response.get("usage")
    if not isinstance(raw, dict):  # count_tokens: a free call, its count is not spend
        return Usage()
    cached = as_int(raw.get("cache_read_input_tokens"))
    inp = as_int(raw.get("input_tokens")) + cached + as_int(raw.get("cache_creation_input_tokens"))
    out = as_int(raw.get("output_tokens"))
    return Usage(inp, out, inp + out, cached)


def _assemble_completion(events: Iterable[Event]) -> dict[str, Any]:
    """Legacy `/v1/complete` stream events: each `completion` event adds its text."""
    result: dict[str, Any] = {}
    pieces: list[str] = []
    for event in events:
        data = event.get("data")
        if not isinstance(data, dict):
            continue
        if data.get("type") == "error":
            result["error"] = data.get("error", data)
        if data.get("type") != "completion":
            continue
        pieces.append(str(data.get("completion") or ""))
        result |= {k: v for k, v in data.items() if k != "completion" and v is not None}
    return result | {"completion": "".join(pieces)} if pieces or not result else result


def _error(kind: str, message: str) -> dict[str, Any]:
    return {
        "type": "error",
        "error": {"type": kind, "message": message},
        "request_id": "req_pytest_llm_fault",
    }


class Anthropic(Provider):
    """Messages and count_tokens, by path suffix."""

    name: ClassVar[str] = "anthropic"
    secret_headers: ClassVar[frozenset[str]] = frozenset(
        {"authorization", "x-api-key", "anthropic-organization-id"}
    )
    key_env: ClassVar[str | None] = "ANTHROPIC_API_KEY"

    def operation(self, path: str) -> str | None:
        """`/messages/count_tokens`, `/messages` or the legacy `/complete`, after any prefix."""
        path = path.rstrip("/")
        if path.endswith("/messages/count_tokens"):
            return "messages.count_tokens"
        if path.endswith("/complete"):
            return "complete"
        return "messages" if path.endswith("/messages") else None

    def text(self, operation: str, response: dict[str, Any]) -> str:
        """The concatenated text blocks of a message; a legacy completion's `completion`."""
        if operation == "complete":
            return str(response.get("completion") or "")
        return text(operation, response)

    def tool_calls(self, operation: str, response: dict[str, Any]) -> list[ToolCall]:
        """The message's tool_use blocks."""
        return tool_calls(operation, response)

    def usage(self, operation: str, response: dict[str, Any]) -> Usage:
        """Input with cache reads and writes folded in (see `usage`)."""
        return usage(response)

    def assemble(self, operation: str, events: Iterable[Event]) -> dict[str, Any] | None:
        """Stream events applied to `message_start.message`, as the SDK's MessageStream."""
        if operation == "complete":
            return _assemble_completion(events)
        return assemble_anthropic_messages(events) if operation == "messages" else None

    def fault(self, fault: str, model: str, note: str) -> FaultAnswer:
        """Anthropic's error bodies, its 529 overloaded_error and rate-limit headers."""
        headers = [("request-id", "req_pytest_llm_fault")]
        if fault == "rate_limit":
            reset = (datetime.now(UTC) + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
            message = (
                "This request would exceed the rate limit for your organization of 50 requests "
                "per minute. Please reduce the prompt length or the maximum tokens requested, "
                "or try again later."
            )
            headers += [
                ("retry-after", "1"),
                ("anthropic-ratelimit-requests-limit", "50"),
                ("anthropic-ratelimit-requests-remaining", "0"),
                ("anthropic-ratelimit-requests-reset", reset),
            ]
            return FaultAnswer(429, _error("rate_limit_error", message + note), headers)
        if fault == "overloaded":
            return FaultAnswer(529, _error("overloaded_error", "Overloaded" + note), headers)
        return FaultAnswer(500, _error("api_error", "Internal server error" + note), headers)
