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


# The endpoints that paths name (`recognize_path`), and that stored calls name by provider
# and path (`endpoint_of`): every call asks two or three times (the transport hook, the
# recording's check, the call's figures), and a suite sends few distinct paths. A
# provider's `operation` and path `model` depend on the path alone; both are forgotten when
# the registry is read again (`registry.load`).
_MAX_REMEMBERED = 4096


class _Remembered:
    def __init__(self, loaded: tuple[Provider, ...] = ()) -> None:
        self.loaded = loaded
        self.paths: dict[str, Endpoint | None] = {}
        self.stored: dict[tuple[str, str], Endpoint] = {}


_remembered = _Remembered()


def _current() -> _Remembered:
    global _remembered
    remembered, loaded = _remembered, providers()
    if remembered.loaded is not loaded:
        remembered = _remembered = _Remembered(loaded)
    return remembered


def recognize_path(path: str) -> Endpoint | None:
    """The endpoint a URL path (query string excluded) names."""
    remembered = _current()
    paths = remembered.paths
    try:
        return paths[path]
    except KeyError:
        pass
    endpoint = None
    for provider in remembered.loaded:
        operation = provider.operation(path)
        if operation is not None:
            endpoint = Endpoint(provider.name, operation, provider.model(path, {}))
            break
    if len(paths) < _MAX_REMEMBERED:
        paths[path] = endpoint
    return endpoint


def endpoint_of(provider: str, path: str) -> Endpoint:
    """The endpoint of a stored call: its recorded provider reads its path."""
    path = path.split("?", 1)[0]
    stored = _current().stored
    try:
        return stored[provider, path]
    except KeyError:
        pass
    recorded = get(provider)
    operation = recorded.operation(path) if recorded is not None else None
    if recorded is None or operation is None:
        endpoint = recognize_path(path) or Endpoint(provider, "")
    else:
        endpoint = Endpoint(provider, operation, recorded.model(path, {}))
    if len(stored) < _MAX_REMEMBERED:
        stored[provider, path] = endpoint
    return endpoint


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
