"""Recognise provider endpoints and read what matters out of their decoded JSON."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pytest_llm.providers import anthropic, openai
from pytest_llm.usage import ToolCall, Usage

__all__ = ["Endpoint", "ToolCall", "Usage", "recognize", "recognize_path"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """An LLM operation, independent of host and path prefix (proxies, Azure, OpenRouter)."""

    provider: str
    operation: str

    def text(self, response: Any) -> str:
        """The assistant's text in a decoded response ("" when it has none)."""
        if not isinstance(response, dict):
            return ""
        if self.provider == "openai":
            return openai.text(self.operation, response)
        return anthropic.text(self.operation, response)

    def tool_calls(self, response: Any) -> list[ToolCall]:
        """The tool calls in a decoded response, in order."""
        if not isinstance(response, dict):
            return []
        if self.provider == "openai":
            return openai.tool_calls(self.operation, response)
        return anthropic.tool_calls(self.operation, response)

    def usage(self, response: Any) -> Usage:
        """Token usage as the provider reported it; zeros when it reported none."""
        if not isinstance(response, dict):
            return Usage()
        if self.provider == "openai":
            return openai.usage(response)
        return anthropic.usage(response)


# Longest suffix first: "/messages/count_tokens" must win over "/messages".
_SUFFIXES: tuple[tuple[str, Endpoint], ...] = (
    ("/chat/completions", Endpoint("openai", "chat.completions")),
    ("/messages/count_tokens", Endpoint("anthropic", "messages.count_tokens")),
    ("/messages", Endpoint("anthropic", "messages")),
    ("/responses", Endpoint("openai", "responses")),
    ("/embeddings", Endpoint("openai", "embeddings")),
    ("/completions", Endpoint("openai", "completions")),
)


def recognize_path(path: str) -> Endpoint | None:
    """The endpoint a URL path (query string excluded) names, by suffix."""
    path = path.rstrip("/")
    for suffix, endpoint in _SUFFIXES:
        if path.endswith(suffix):
            return endpoint
    return None


def recognize(method: str, path: str, body: Any) -> Endpoint | None:
    """The endpoint of a request, or None when it is not an LLM call we handle.

    Path alone is not enough: an unrelated service may expose `/messages`, so the
    body must look like a model request too.
    """
    if method.upper() != "POST" or not isinstance(body, dict) or "model" not in body:
        return None
    return recognize_path(path)
