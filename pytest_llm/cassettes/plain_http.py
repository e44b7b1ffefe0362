"""Plain HTTP interactions (tools, search, images): how a live exchange is stored and replayed.

A body is kept as decoded JSON when it is JSON, as text when it is text, and as base64 only when
it is binary (an image), so a reviewer reads what a tool answered in the pull-request diff.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from pytest_llm._version import __version__
from pytest_llm.keys import http_key

PROVIDER = "http"
_TEXT_TYPES = ("json", "xml", "javascript", "x-www-form-urlencoded", "yaml", "csv", "html")


def is_plain(interaction: dict[str, Any]) -> bool:
    """Whether a stored interaction is plain HTTP rather than a model call."""
    return interaction.get("provider") == PROVIDER


def _is_texty(content_type: str) -> bool:
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind.startswith("text/") or any(name in kind for name in _TEXT_TYPES)


def encode_body(content: bytes, content_type: str) -> dict[str, Any]:
    """The stored form of a body: `body` (decoded JSON), `text`, or `base64`; {} when empty."""
    if not content:
        return {}
    kind = content_type.lower()
    if "json" in kind or not kind:
        try:
            return {"body": json.loads(content)}
        except ValueError:
            pass
    if _is_texty(kind) or not kind:
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            if kind or text.isprintable() or "\n" in text:
                return {"text": text}
    return {"base64": base64.b64encode(content).decode("ascii")}


def decode_body(stored: dict[str, Any]) -> bytes:
    """The bytes of a stored body."""
    if "body" in stored:
        return json.dumps(stored["body"], ensure_ascii=False, separators=(",", ":")).encode()
    if "text" in stored:
        return str(stored["text"]).encode()
    if "base64" in stored:
        return base64.b64decode(str(stored["base64"]))
    return b""


def body_part(stored: dict[str, Any]) -> dict[str, Any]:
    """Only the body fields of a stored request or response."""
    return {name: stored[name] for name in ("body", "text", "base64") if name in stored}


@dataclass(frozen=True, slots=True)
class PlainExchange:
    """A plain HTTP request and its answer, scrubbed and encoded, ready to be stored."""

    method: str
    url: str  # credential parameters already removed
    request_headers: dict[str, str]
    request_body: dict[str, Any]  # from encode_body
    status: int
    response_headers: dict[str, str]
    response_body: dict[str, Any]  # from encode_body
    latency_s: float = 0.0
    client: str | None = None  # which library sent it: httpx, requests, aiohttp


def plain_key(method: str, url: str, request_body: dict[str, Any]) -> str:
    """The key of a plain request as it is stored."""
    return http_key(method, url, request_body)


def to_plain_interaction(exchange: PlainExchange, test: str = "") -> dict[str, Any]:
    """The cassette entry of a plain HTTP exchange: facts first, then request and response.

    `test` is the node id of the test that recorded it (a rewrite replaces only its own).
    """
    request: dict[str, Any] = {"method": exchange.method.upper(), "url": exchange.url}
    if exchange.request_headers:
        request["headers"] = exchange.request_headers
    request.update(exchange.request_body)
    response: dict[str, Any] = {"status": exchange.status, "headers": exchange.response_headers}
    response.update(exchange.response_body)
    entry: dict[str, Any] = {
        "key": plain_key(exchange.method, exchange.url, exchange.request_body),
        "provider": PROVIDER,
        "endpoint": urlsplit(exchange.url).path or "/",
        "method": exchange.method.upper(),
        "url": exchange.url,
        "latency_s": round(exchange.latency_s, 4),
        "recorded_at": datetime.now(UTC).isoformat(timespec="microseconds"),
        "versions": {"client": exchange.client, "pytest_llm": __version__},
    }
    if test:
        entry["test"] = test
    entry["request"] = request
    entry["response"] = response
    return entry


def stored_key(interaction: dict[str, Any]) -> str:
    """The key of a stored plain interaction, recomputed from its request."""
    request = interaction.get("request") or {}
    return plain_key(str(request.get("method", "GET")), str(request.get("url", "")), request)
