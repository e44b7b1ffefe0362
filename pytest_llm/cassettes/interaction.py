"""Turn one live exchange into the interaction a cassette stores, and back into wire parts."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pytest_llm._version import __version__
from pytest_llm.providers import Endpoint, assemble_events, stream_format

# Statuses whose retry the SDKs schedule from retry-after headers (or back off on their own).
_RETRYABLE = frozenset({408, 409, 429}) | frozenset(range(500, 600))
# The SDKs ignore a server delay above this and back off instead; so a replay does too.
_MAX_HONOURED_DELAY_S = 60.0


@dataclass(frozen=True, slots=True)
class Exchange:
    """A live request and its answer, decoded and scrubbed, ready to be stored."""

    endpoint: Endpoint
    key: str
    path: str
    query: str
    request_headers: dict[str, str]
    request_body: dict[str, Any]
    status: int
    response_headers: dict[str, str]
    body: Any = None
    events: list[dict[str, Any]] | None = None
    text: str | None = None
    latency_s: float = 0.0
    ttft_s: float | None = None
    sdk: str | None = None


def to_interaction(exchange: Exchange, test: str = "") -> dict[str, Any]:
    """The cassette entry: facts for a reader first, then request and response.

    `test` is the node id of the test that recorded it: a rewrite of that test replaces
    only its own recordings in a cassette that several tests share.
    """
    response: dict[str, Any] = {"status": exchange.status, "headers": exchange.response_headers}
    answer: Any = exchange.body
    if exchange.events is not None:
        final = assemble_events(exchange.endpoint.provider, exchange.path, exchange.events)
        response["events"] = exchange.events
        response["final"] = final
        answer = final
    elif exchange.text is not None:
        response["text"] = exchange.text
    else:
        response["body"] = exchange.body
    request: dict[str, Any] = {"method": "POST", "path": exchange.path}
    if exchange.query:
        request["query"] = exchange.query
    if exchange.request_headers:
        request["headers"] = exchange.request_headers
    request["body"] = exchange.request_body
    entry: dict[str, Any] = {"key": exchange.key}
    if test:
        entry["test"] = test
    entry |= {
        "provider": exchange.endpoint.provider,
        "endpoint": exchange.path,
        "model": exchange.request_body.get("model") or exchange.endpoint.model or None,
    }
    if isinstance(answer, dict):
        served = exchange.endpoint.served_model(answer)
        if served is not None:
            entry["served_model"] = served
        if answer.get("system_fingerprint"):
            entry["system_fingerprint"] = answer["system_fingerprint"]
    entry["usage"] = exchange.endpoint.usage(answer).as_dict()
    entry["latency_s"] = round(exchange.latency_s, 4)
    if exchange.ttft_s is not None:
        entry["ttft_s"] = round(exchange.ttft_s, 4)
    entry["recorded_at"] = datetime.now(UTC).isoformat(timespec="microseconds")
    entry["versions"] = {"sdk": exchange.sdk, "pytest_llm": __version__}
    entry["request"] = request
    entry["response"] = response
    return entry


def encode_json(value: Any) -> bytes:
    """Compact JSON, as the providers send it."""
    return _COMPACT.encode(value).encode()


# Built once: json.dumps with options builds an encoder per call, on every replayed answer.
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def replay_headers(interaction: dict[str, Any]) -> list[tuple[str, str]]:
    """The recorded headers, with retry delays shortened so an SDK never sleeps in replay.

    Never a content-length: the answer is sent re-encoded (or cut), so a recorded length
    (a hand edit's) would not describe it; each client hook gives the length of what it sends.
    """
    response = interaction["response"]
    headers = {str(k).lower(): str(v) for k, v in (response.get("headers") or {}).items()}
    headers.pop("content-length", None)
    if "events" in response:
        headers["content-type"] = stream_format(
            str(interaction.get("provider"))
        ).stream_content_type
    elif "body" in response:
        headers.setdefault("content-type", "application/json")
    if response["status"] in _RETRYABLE and _delay_s(headers) <= _MAX_HONOURED_DELAY_S:
        # A positive delay below a microsecond: the SDK takes it as the server's word
        # and retries at once, instead of its own exponential backoff.
        headers["retry-after-ms"] = "0.0001"
    return list(headers.items())


def _delay_s(headers: dict[str, str]) -> float:
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        try:
            return float(headers[name]) / divisor
        except (KeyError, ValueError):
            continue
    return 0.0


def replay_body(interaction: dict[str, Any]) -> bytes:
    """The bytes of a non-stream recorded answer."""
    response = interaction["response"]
    if "text" in response:
        return str(response["text"]).encode()
    return encode_json(response.get("body"))


# The wire chunks of recorded streams, rendered once each: a test suite replays the same
# recordings again and again. Keyed by the identity of the events list, which the entry
# keeps alive, so an id is never reused while its entry is there; bounded, oldest first out.
_RENDERED: dict[int, tuple[list[Any], tuple[bytes, ...]]] = {}
_RENDERED_MAX = 4096
_RENDERED_LOCK = threading.Lock()


def replay_events(interaction: dict[str, Any]) -> list[bytes]:
    """A recorded stream as wire chunks, one per event."""
    events = interaction["response"]["events"]
    with _RENDERED_LOCK:
        entry = _RENDERED.get(id(events))
    if entry is not None and entry[0] is events:
        return list(entry[1])
    chunks = stream_format(str(interaction.get("provider"))).render_stream(events)
    with _RENDERED_LOCK:
        if len(_RENDERED) >= _RENDERED_MAX:
            del _RENDERED[next(iter(_RENDERED))]
        _RENDERED[id(events)] = (events, tuple(chunks))
    return chunks


def sdk_version(headers: dict[str, str]) -> str | None:
    """Which SDK sent a request, from the headers it always sends."""
    agent = headers.get("user-agent", "")
    if agent.startswith(("OpenAI/", "Anthropic/", "AsyncOpenAI/", "AsyncAnthropic/")):
        return agent
    version = headers.get("x-stainless-package-version")
    return f"{headers.get('x-stainless-lang', 'sdk')} {version}" if version else agent or None
