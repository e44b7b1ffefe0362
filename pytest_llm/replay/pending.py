"""A recognised LLM call between its decision and its stored answer, whatever client sent it.

The httpx transport and the aiohttp hook both hand a live answer here: read whole
(`PendingCall.finish`) or, for a stream, chunk by chunk as it passes (`StreamCapture`).
"""

from __future__ import annotations

import ipaddress
import json
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from pytest_llm.cassettes.interaction import Exchange, replay_body, replay_events, sdk_version
from pytest_llm.errors import RecordingRefused
from pytest_llm.providers import Endpoint, secret_headers, stream_content_types
from pytest_llm.providers.sse import looks_like_sse
from pytest_llm.replay.faults import HTTP_FAULTS, fault_interaction, http_fault
from pytest_llm.replay.recorder import Decision, Recorder
from pytest_llm.replay.settings import KEY_ENV as _KEY_ENV
from pytest_llm.replay.settings import PLACEHOLDER_KEY


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class PendingCall:
    """A recognised LLM call between the decision and its stored answer."""

    def __init__(
        self,
        recorder: Recorder,
        endpoint: Endpoint,
        decision: Decision,
        url: Any,
        headers: list[tuple[str, str]],
        body: dict[str, Any],
        fault: str | None = None,
    ) -> None:
        self.recorder = recorder
        self.endpoint = endpoint
        self.decision = decision
        self.fault = fault
        self.url = url
        self.headers = headers
        self.body = body
        self.start = time.perf_counter()

    def serve_fault(self, path: str) -> tuple[int, list[tuple[str, str]], bytes] | None:
        """Record the injected fault in the test's calls; the HTTP answer it is (status,
        headers, body), or None for a transport fault that the client library raises."""
        fault, provider = str(self.fault), self.endpoint.provider
        if fault not in HTTP_FAULTS:
            self.recorder.add_fault(fault_interaction(fault, provider, path, self.body, 0, None))
            return None
        model = str(self.body.get("model", self.endpoint.model))
        status, headers, content = http_fault(fault, provider, model)
        body = json.loads(content)
        self.recorder.add_fault(fault_interaction(fault, provider, path, self.body, status, body))
        return status, headers, content

    def check_can_send(self) -> None:
        """Refuse to send our placeholder key to a real provider while recording."""
        host = str(self.url.host)
        credentials = secret_headers()
        carries_placeholder = any(
            name.lower() in credentials and PLACEHOLDER_KEY in value for name, value in self.headers
        )
        if carries_placeholder and not _is_loopback(host):
            env = _KEY_ENV.get(self.endpoint.provider, "the provider's API key variable")
            raise RecordingRefused(
                f"pytest-llm: recording a call to {host} needs a real API key, but the client "
                f"has pytest-llm's replay placeholder.\n  fix: set {env} and run again, or "
                f"replay only with --llm-record=none"
            )
        self.start = time.perf_counter()

    def exchange(self, status: int, headers: list[tuple[str, str]], **answer: Any) -> Exchange:
        """The scrubbed exchange of this call and its answer."""
        scrubber = self.recorder.scrubber
        query = self.url.query
        query = query.decode() if isinstance(query, bytes) else str(query)
        secrets = scrubber.secrets_in(self.headers, query)
        raw_headers = {name.lower(): value for name, value in self.headers}
        for field in ("body", "events", "text"):
            if answer.get(field) is not None and field != "text":
                answer[field] = scrubber.body(answer[field], secrets)
        if answer.get("text") is not None:
            answer["text"] = scrubber.text(answer["text"], secrets)
        return Exchange(
            endpoint=self.endpoint,
            key=self.decision.key,
            path=str(self.url.path),
            query=scrubber.query(query),
            request_headers={
                k: v
                for k, v in scrubber.headers(self.headers, secrets).items()
                if k != "content-type"  # always JSON: the body is stored decoded
            },
            request_body=scrubber.request(self.body, secrets),
            status=status,
            response_headers=scrubber.headers(headers, secrets),
            latency_s=time.perf_counter() - self.start,
            sdk=sdk_version(raw_headers),
            **answer,
        )

    def finish(self, status: int, headers: list[tuple[str, str]], content: bytes) -> dict[str, Any]:
        """Record a complete answer read whole (a stream whose delivery will be cut, too)."""
        text = content.decode("utf-8", errors="replace")
        try:
            exchange = self.exchange(status, headers, body=json.loads(text) if text else None)
        except ValueError:
            streamed = any(
                k.lower() == "content-type" and v.split(";", 1)[0] in stream_content_types()
                for k, v in headers
            )
            if streamed or looks_like_sse(text):
                decoder = self.endpoint.format.stream_decoder()
                events = decoder.feed(content) + decoder.flush()
                exchange = self.exchange(status, headers, events=events)
            else:
                exchange = self.exchange(status, headers, text=text)
        return self.recorder.record(exchange, cut=self.fault == "stream_cut")


class StreamCapture:
    """Collects a live stream's events as they pass through, and records them at the end."""

    def __init__(self, call: PendingCall, status: int, headers: list[tuple[str, str]]) -> None:
        self.call = call
        self.status = status
        self.headers = headers
        self.decoder = call.endpoint.format.stream_decoder()
        self.events: list[dict[str, Any]] = []
        self.ttft_s: float | None = None
        self.done = False

    def feed(self, chunk: bytes) -> None:
        """Take one chunk as it arrives."""
        if self.ttft_s is None and chunk:
            self.ttft_s = time.perf_counter() - self.call.start
        self.events += self.decoder.feed(chunk)

    def finish(self) -> None:
        """The stream ended: record it once."""
        if self.done:
            return
        self.done = True
        self.events += self.decoder.flush()
        exchange = self.call.exchange(
            self.status, self.headers, events=self.events, ttft_s=self.ttft_s
        )
        self.call.recorder.record(exchange)


# Decides an LLM call: (method, URL, headers, body bytes) -> the pending call, or None.
Prepare = Callable[[str, Any, Any, bytes], PendingCall | None]


class RequestUrl:
    """The parts of a URL the LLM path reads, named as httpx names them."""

    def __init__(self, url: str) -> None:
        self._url = url
        parts = urlsplit(url)
        self.path, self.query, self.host = parts.path, parts.query, parts.hostname or ""

    def __str__(self) -> str:
        return self._url


class RequestHeaders:
    """Request headers with httpx's `multi_items`."""

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        self._items = list(items)

    def multi_items(self) -> list[tuple[str, str]]:
        return list(self._items)


def as_url(url: str) -> RequestUrl:
    """A URL string as the LLM path reads it."""
    return RequestUrl(url)


def as_headers(items: Iterable[tuple[str, str]]) -> RequestHeaders:
    """Header pairs as the LLM path reads them."""
    return RequestHeaders(items)


def replay_chunks(interaction: dict[str, Any], *, cut: bool) -> list[bytes]:
    """A recorded answer as the chunks a client library reads: its events, or its body in two
    halves; a cut stream (stream_cut) keeps only the first half of them."""
    if "events" in interaction["response"]:
        chunks = replay_events(interaction)
    else:
        content = replay_body(interaction)
        chunks = [content[: len(content) // 2], content[len(content) // 2 :]]
    return chunks[: max(1, len(chunks) // 2)] if cut else chunks
