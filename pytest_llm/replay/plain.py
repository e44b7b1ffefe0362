"""Plain HTTP requests of a test (tools, search, images): the client-neutral part of their hooks.

Each client library's hook (httpx, requests, aiohttp) turns its request into method, URL,
headers and bytes, asks `prepare_plain`, and then either replays `replay_parts` or sends the
request live and hands the answer's bytes to `PlainCall.record` as they arrive.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from contextvars import ContextVar
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pytest_llm.cassettes.plain_http import PlainExchange, decode_body, encode_body
from pytest_llm.providers import recognize
from pytest_llm.replay.recorder import Decision, Recorder

# True while the httpx hook sends a request through its inner transport: when that transport
# is built on another client library (LiteLLM's async OpenAI client sends through aiohttp),
# that library's hook leaves the request alone, so that it is recorded once, not twice.
IN_HTTPX_HOOK: ContextVar[bool] = ContextVar("pytest_llm_in_httpx_hook", default=False)

# A replayed answer's body is complete and decoded: these would describe other bytes.
_FRAMING = frozenset({"content-length", "content-encoding", "transfer-encoding"})


class PlainCall:
    """A plain HTTP request between its decision (replay or live) and its stored answer."""

    def __init__(
        self,
        recorder: Recorder,
        decision: Decision,
        method: str,
        url: str,
        headers: dict[str, str],
        body: dict[str, Any],
        secrets: list[str],
        client: str,
    ) -> None:
        self.recorder = recorder
        self.decision = decision
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.secrets = secrets
        self.client = client
        self.start = time.perf_counter()
        self.done = False

    @property
    def interaction(self) -> dict[str, Any] | None:
        """The recording to replay, or None when the request goes live."""
        return self.decision.interaction

    def record(self, status: int, headers: Iterable[tuple[str, str]], content: bytes) -> None:
        """Store the live answer once (scrubbed), when its last byte has arrived."""
        if self.done:
            return
        self.done = True
        headers = list(headers)
        kept = self.recorder.scrubber.headers(headers, self.secrets)
        content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
        stored = _scrubbed(self.recorder, encode_body(content, content_type), self.secrets)
        exchange = PlainExchange(
            method=self.method,
            url=self.url,
            request_headers=self.headers,
            request_body=self.body,
            status=status,
            response_headers=kept,
            response_body=stored,
            latency_s=time.perf_counter() - self.start,
            client=self.client,
        )
        self.recorder.record_plain(exchange, self.decision.key)


def _scrubbed(
    recorder: Recorder, stored: dict[str, Any], secrets: list[str], *, request: bool = False
) -> dict[str, Any]:
    scrubber = recorder.scrubber
    if "body" in stored:
        body = stored["body"]
        return {
            "body": scrubber.request(body, secrets) if request else scrubber.body(body, secrets)
        }
    if "text" in stored:
        text = stored["text"]
        return {"text": scrubber.form(text, secrets) if request else scrubber.text(text, secrets)}
    return stored  # binary: nothing a pattern could match


def _is_llm_call(method: str, path: str, content: bytes) -> bool:
    if method.upper() != "POST" or not content.lstrip().startswith(b"{"):
        return False
    try:
        return recognize(method, path, json.loads(content)) is not None
    except ValueError:
        return False


def host_port(url: str) -> str:
    """`host:port` of a URL as messages and stored URLs write it (IPv6 in brackets)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return (f"[{host}]" if ":" in host else host) + (f":{parts.port}" if parts.port else "")


def passes_through(recorder: Recorder | None, url: str) -> bool:
    """Whether plain HTTP to `url` goes live, unrecorded, as a passthrough host's does."""
    return (
        recorder is not None
        and recorder.settings.record_http
        and recorder.vcr is None
        and not recorder.settings.records_host(urlsplit(url).hostname or "")
    )


def prepare_plain(
    recorder: Recorder | None,
    method: str,
    url: str,
    headers: Iterable[tuple[str, str]],
    content: bytes,
    client: str,
    *,
    mocked: bool = False,
) -> PlainCall | None:
    """The plain call of a request, or None to let it through live; raises ReplayMiss.

    `mocked`: the request goes to a test's mock (see Recorder.decide_plain), which answers
    it when no recording does; it is then neither recorded nor a miss.
    """
    if recorder is None or not recorder.settings.record_http:
        return None
    headers = list(headers)
    vcr = recorder.vcr
    if vcr is not None:  # a pytest-recording test: its vcr_config decides what is recorded
        if vcr.ignores(urlsplit(url).hostname or ""):
            return None
        seen = vcr.seen(method, url, headers, content)
        if seen is None:
            return None
        url, headers, content = seen
    parts = urlsplit(url)
    # LLM endpoints are recorded whatever the host (a local llama.cpp server is still a model).
    if not recorder.settings.records_host(parts.hostname or "") and not _is_llm_call(
        method, parts.path, content
    ):
        if vcr is None:  # a vcr test's ignored hosts are its vcr_config's business
            recorder.pass_through(host_port(url))
        return None
    scrubber = recorder.scrubber
    secrets = scrubber.secrets_in(headers, parts.query)
    netloc = host_port(url)
    clean_url = urlunsplit(
        (parts.scheme, netloc, parts.path, scrubber.query(parts.query), "")
    )  # user:password@ and credential parameters never reach the file
    content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
    body = _scrubbed(recorder, encode_body(content, content_type), secrets, request=True)
    kept = scrubber.headers(headers, secrets)
    decision = recorder.decide_plain(method.upper(), clean_url, body, kept, mocked=mocked)
    if mocked and decision.interaction is None:
        return None
    return PlainCall(recorder, decision, method.upper(), clean_url, kept, body, secrets, client)


def replay_parts(interaction: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body bytes of a recorded plain answer."""
    response = interaction["response"]
    headers = [
        (str(k), str(v))
        for k, v in (response.get("headers") or {}).items()
        if str(k).lower() not in _FRAMING
    ]
    content = decode_body(response)
    names = {k.lower() for k, _ in headers}
    if "body" in response and "content-type" not in names:
        headers.append(("content-type", "application/json"))
    headers.append(("content-length", str(len(content))))
    return int(response["status"]), headers, content
