"""The OpenAI wire format (and the OpenAI-compatible servers reached through `base_url`)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, ClassVar

from pytest_llm.providers.assemble import assemble_openai_chat, assemble_openai_responses
from pytest_llm.providers.base import Event, FaultAnswer, Provider
from pytest_llm.usage import ToolCall, Usage, as_int

# Longest suffix first: "/chat/completions" must win over "/completions".
_SUFFIXES = (
    ("/chat/completions", "chat.completions"),
    ("/responses", "responses"),
    ("/embeddings", "embeddings"),
    ("/completions", "completions"),
)


def text(operation: str, response: dict[str, Any]) -> str:
    """The assistant's text: first choice for chat, all output_text parts for Responses."""
    if operation == "chat.completions":
        choices = response.get("choices") or []
        message = choices[0].get("message") or {} if choices else {}
        content = message.get("content")
        if isinstance(content, list):  # some compatible servers send content parts
            return "".join(p.get("text", "") for p in content if isinstance(p, dict))
        return content if isinstance(content, str) else ""
    if operation == "responses":
        parts: list[str] = []
        for item in response.get("output") or []:
            if isinstance(item, dict) and item.get("type") == "message":
                for part in item.get("content") or []:
                    if isinstance(part, dict) and part.get("type") == "output_text":
                        parts.append(str(part.get("text", "")))
        return "".join(parts)
    if operation == "completions":
        choices = response.get("choices") or []
        return str(choices[0].get("text", "")) if choices else ""
    return ""


def _tool_call(call_id: Any, name: Any, raw: Any) -> ToolCall:
    raw_text = raw if isinstance(raw, str) else json.dumps(raw)
    try:
        decoded = json.loads(raw_text)
    except ValueError:
        decoded = None
    return ToolCall(str(call_id or ""), str(name or ""), decoded, raw_text)


def tool_calls(operation: str, response: dict[str, Any]) -> list[ToolCall]:
    """Function tool calls of the first choice (chat) or of the output items (Responses)."""
    calls: list[ToolCall] = []
    if operation == "chat.completions":
        choices = response.get("choices") or []
        message = choices[0].get("message") or {} if choices else {}
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            calls.append(
                _tool_call(call.get("id"), function.get("name"), function.get("arguments"))
            )
    elif operation == "responses":
        for item in response.get("output") or []:
            if isinstance(item, dict) and item.get("type") == "function_call":
                calls.append(
                    _tool_call(item.get("call_id"), item.get("name"), item.get("arguments"))
                )
    return calls


def usage(response: dict[str, Any]) -> Usage:
    """Chat and embeddings report prompt/completion tokens; Responses input/output tokens."""
    raw = response.get("usage")
    if not isinstance(raw, dict):
        return Usage()
    if "input_tokens" in raw:
        details = raw.get("input_tokens_details") or {}
        inp, out = as_int(raw.get("input_tokens")), as_int(raw.get("output_tokens"))
    else:
        details = raw.get("prompt_tokens_details") or {}
        inp, out = as_int(raw.get("prompt_tokens")), as_int(raw.get("completion_tokens"))
    total = as_int(raw.get("total_tokens")) or inp + out
    return Usage(inp, out, total, as_int(details.get("cached_tokens")))


def _error(kind: str, code: str | None, message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


class OpenAI(Provider):
    """Chat Completions, Responses, Embeddings and legacy Completions, by path suffix."""

    name: ClassVar[str] = "openai"
    secret_headers: ClassVar[frozenset[str]] = frozenset(
        {"authorization", "api-key", "openai-organization", "openai-project"}
    )
    secret_params: ClassVar[frozenset[str]] = frozenset({"api-key", "api_key"})
    key_env: ClassVar[str | None] = "OPENAI_API_KEY"

    def operation(self, path: str) -> str | None:
        """Chat, Responses, Embeddings or Completions, whatever prefix the host puts first."""
        path = path.rstrip("/")
        return next((op for suffix, op in _SUFFIXES if path.endswith(suffix)), None)

    def text(self, operation: str, response: dict[str, Any]) -> str:
        """The first choice's text (chat, completions) or the output_text parts (Responses)."""
        return text(operation, response)

    def tool_calls(self, operation: str, response: dict[str, Any]) -> list[ToolCall]:
        """Function tool calls of the first choice or of the output items."""
        return tool_calls(operation, response)

    def usage(self, operation: str, response: dict[str, Any]) -> Usage:
        """prompt/completion tokens, or Responses' input/output tokens."""
        return usage(response)

    def served_model(self, response: dict[str, Any]) -> str | None:
        """The response's `model`; Responses error events nest it under `response`."""
        value = response.get("model")
        nested = response.get("response")
        if value is None and isinstance(nested, dict):
            value = nested.get("model")
        return str(value) if value is not None else None

    def assemble(self, operation: str, events: Iterable[Event]) -> dict[str, Any] | None:
        """Chunks into a chat.completion; Responses events into the final response."""
        if operation == "chat.completions":
            return assemble_openai_chat(events)
        if operation == "responses":
            return assemble_openai_responses(events)
        return None

    def fault(self, fault: str, model: str, note: str) -> FaultAnswer:
        """OpenAI's error bodies and rate-limit headers (an overloaded engine answers 503)."""
        headers = [("x-request-id", "req_pytest_llm_fault")]
        if fault == "rate_limit":
            message = (
                f"Rate limit reached for {model} on requests per min (RPM): Limit 500, "
                "Used 500, Requested 1. Please try again in 120ms."
            )
            headers += [
                ("retry-after", "1"),
                ("x-ratelimit-limit-requests", "500"),
                ("x-ratelimit-remaining-requests", "0"),
                ("x-ratelimit-reset-requests", "120ms"),
                ("x-ratelimit-limit-tokens", "200000"),
                ("x-ratelimit-remaining-tokens", "0"),
                ("x-ratelimit-reset-tokens", "1s"),
            ]
            return FaultAnswer(
                429, _error("requests", "rate_limit_exceeded", message + note), headers
            )
        if fault == "overloaded":
            message = "The engine is currently overloaded, please try again later."
            return FaultAnswer(503, _error("server_error", None, message + note), headers)
        message = "The server had an error while processing your request. Sorry about that!"
        return FaultAnswer(500, _error("server_error", None, message + note), headers)
