"""Recognise provider endpoints and read what matters out of their decoded JSON.

Every wire format is one `Provider` (see `base.py`) in the registry; nothing outside the
registry asks which provider a call belongs to in order to decide how to read it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pytest_llm.providers.base import DeclaredSchema, Event, FaultAnswer, Provider
from pytest_llm.providers.registry import get, providers
from pytest_llm.usage import ToolCall, Usage

__all__ = [
    "DeclaredSchema",
    "Endpoint",
    "FaultAnswer",
    "Provider",
    "ToolCall",
    "Usage",
    "assemble_events",
    "endpoint_of",
    "recognize",
    "recognize_path",
    "secret_headers",
    "secret_params",
    "stream_content_types",
    "stream_format",
]

_NONE = Provider()


@dataclass(frozen=True, slots=True)
class Endpoint:
    """An LLM operation, independent of host and path prefix (proxies, Azure, OpenRouter).

    `model` is set for formats that name the model in the path (Gemini); it is not part of
    what makes two endpoints the same.
    """

    provider: str
    operation: str
    model: str = field(default="", compare=False)

    @property
    def format(self) -> Provider:
        """The provider that reads this endpoint's JSON (one that reads nothing if unknown)."""
        return get(self.provider) or _NONE

    def text(self, response: Any) -> str:
        """The assistant's text in a decoded response ("" when it has none)."""
        return self.format.text(self.operation, response) if isinstance(response, dict) else ""

    def tool_calls(self, response: Any) -> list[ToolCall]:
        """The tool calls in a decoded response, in order."""
        if not isinstance(response, dict):
            return []
        return self.format.tool_calls(self.operation, response)

    def usage(self, response: Any) -> Usage:
        """Token usage as the provider reported it; zeros when it reported none."""
        if not isinstance(response, dict):
            return Usage()
        return self.format.usage(self.operation, response)

    def served_model(self, response: Any) -> str | None:
        """The model that answered, as the response names it."""
        return self.format.served_model(response) if isinstance(response, dict) else None

    def key_view(self, body: dict[str, Any]) -> dict[str, Any]:
        """The canonical body as the key groups it (see Provider.key_view)."""
        return self.format.key_view(self.operation, self.model, body)


def recognize_path(path: str) -> Endpoint | None:
    """The endpoint a URL path (query string excluded) names."""
    for provider in providers():
        operation = provider.operation(path)
        if operation is not None:
            return Endpoint(provider.name, operation, provider.model(path, {}))
    return None


def endpoint_of(provider: str, path: str) -> Endpoint:
    """The endpoint of a stored call: its recorded provider reads its path."""
    path = path.split("?", 1)[0]
    known = get(provider)
    operation = known.operation(path) if known is not None else None
    if known is None or operation is None:
        return recognize_path(path) or Endpoint(provider, "")
    return Endpoint(provider, operation, known.model(path, {}))


def recognize(method: str, path: str, body: Any) -> Endpoint | None:
    """The endpoint of a request, or None when it is not an LLM call we handle.

    Path alone is not enough: an unrelated service may expose `/messages`, so each
    provider judges the body too.
    """
    if method.upper() != "POST":
        return None
    for provider in providers():
        operation = provider.recognize(path, body)
        if operation is not None:
            return Endpoint(provider.name, operation, provider.model(path, body))
    return None


def assemble_events(provider: str, path: str, events: Iterable[Event]) -> dict[str, Any] | None:
    """Assemble a stream by provider and endpoint path (query string ignored); None when
    the format has no assembly for it."""
    known = get(provider)
    operation = known.operation(path.split("?", 1)[0].split("#", 1)[0]) if known else None
    return known.assemble(operation, events) if known and operation else None


def stream_format(provider: str) -> Provider:
    """The provider whose stream format a stored stream of `provider` is written in."""
    return get(provider) or _NONE


def stream_content_types() -> frozenset[str]:
    """Every registered provider's stream content type, without parameters."""
    return frozenset(p.stream_content_type.split(";", 1)[0] for p in providers())


def secret_headers() -> frozenset[str]:
    """Every registered provider's credential headers."""
    return frozenset().union(*(p.secret_headers for p in providers()))


def secret_params() -> frozenset[str]:
    """Every registered provider's credential query parameters."""
    return frozenset().union(*(p.secret_params for p in providers()))
