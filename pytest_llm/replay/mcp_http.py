"""MCP servers over streamable HTTP, recorded and replayed in the httpx transport hook.

An MCP request is told apart from other HTTP by what the protocol puts on it: a JSON-RPC body
sent to a client that accepts an event stream, or the `mcp-session-id` /
`mcp-protocol-version` headers. Replaying, the answer is built here and no connection is
made: a request gets its recorded answer with the id asked now (as JSON, or as an event
stream when the server sent progress or logs first), a notification gets 202, the
session's GET stream stays open and silent, its DELETE gets 200. Recording, each POST goes
to the server and its answer (JSON or a whole event stream) is read before the client sees
it. Headers, and so session ids and credentials, are never stored: the server is its URL.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import anyio

from pytest_llm.keys import canonical_url
from pytest_llm.providers.sse import SSEDecoder
from pytest_llm.replay.mcp import McpLink

if TYPE_CHECKING:
    from pytest_llm.replay.recorder import Recorder

# What a replayed `initialize` tells the client its session is: no server gave it.
REPLAY_SESSION = "pytest-llm-replay"
_MCP_HEADERS = ("mcp-session-id", "mcp-protocol-version")


def _messages(content: bytes) -> list[Any]:
    """The JSON-RPC messages of a request or response body (one, a batch, or none)."""
    try:
        decoded = json.loads(content)
    except ValueError:
        return []
    return decoded if isinstance(decoded, list) else [decoded]


def looks_like_mcp(method: str, headers: Any, content: bytes) -> bool:
    """Whether an HTTP request is a streamable-HTTP MCP message."""
    if any(name in headers for name in _MCP_HEADERS):
        return True
    if method != "POST" or "text/event-stream" not in headers.get("accept", ""):
        return False
    messages = _messages(content)
    return bool(messages) and all(
        isinstance(m, dict) and m.get("jsonrpc") == "2.0" for m in messages
    )


def server_identity(url: Any, recorder: Recorder) -> str:
    """The server's URL as the cassette names it: no credentials, parameters sorted."""
    parts = urlsplit(str(url))
    query = recorder.scrubber.query(parts.query)
    return canonical_url(urlunsplit((parts.scheme, parts.netloc, parts.path, query, "")))


def _event_stream(messages: list[dict[str, Any]]) -> bytes:
    return b"".join(
        b"event: message\ndata: " + json.dumps(m, ensure_ascii=False).encode() + b"\n\n"
        for m in messages
    )


def _server_messages(response_headers: Any, content: bytes) -> list[Any]:
    if "text/event-stream" in response_headers.get("content-type", ""):
        decoder = SSEDecoder()
        events = decoder.feed(content) + decoder.flush()
        return [e.get("data") for e in events if isinstance(e.get("data"), dict | list)]
    return _messages(content)


def build(httpx: ModuleType) -> type:
    """The MCP-aware async transport class of one httpx flavour."""

    class SilentStream(httpx.AsyncByteStream):  # type: ignore[name-defined,misc]
        """The session's GET stream in replay: open, silent, until the client closes it."""

        def __init__(self) -> None:
            self._closed = anyio.Event()

        async def __aiter__(self) -> AsyncIterator[bytes]:
            await self._closed.wait()
            return
            yield b""  # an async generator that yields nothing

        async def aclose(self) -> None:
            self._closed.set()

    class McpTransport(httpx.AsyncBaseTransport):  # type: ignore[name-defined,misc]
        """MCP messages to the cassette; any other request to `other` as before."""

        def __init__(self, network: Any, other: Any, recorder: Recorder) -> None:
            self.network, self.other, self.recorder = network, other, recorder

        async def handle_async_request(self, request: Any) -> Any:
            try:
                content = request.content
            except httpx.RequestNotRead:  # a streamed upload: not an MCP message
                return await self.other.handle_async_request(request)
            method = request.method.upper()
            if not looks_like_mcp(method, request.headers, content):
                return await self.other.handle_async_request(request)
            recorder = self.recorder
            query = request.url.query
            query = query.decode() if isinstance(query, bytes) else str(query)
            secrets = recorder.scrubber.secrets_in(request.headers.multi_items(), query)
            link = McpLink(recorder, server_identity(request.url, recorder), secrets)
            if recorder.can_record:
                return await self._live(request, method, content, link)
            return self._replay(request, method, content, link)

        async def _live(self, request: Any, method: str, content: bytes, link: McpLink) -> Any:
            for message in _messages(content) if method == "POST" else ():
                link.from_client(message)
            response = await self.network.handle_async_request(request)
            if method != "POST":  # the session's event stream, its end: live, not recorded
                return response
            body = await response.aread()
            await response.aclose()
            for message in _server_messages(response.headers, body):
                link.from_server(message)
            drop = ("content-encoding", "content-length", "transfer-encoding")
            headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in drop]
            return httpx.Response(
                response.status_code, headers=headers, content=body, request=request
            )

        def _replay(self, request: Any, method: str, content: bytes, link: McpLink) -> Any:
            if method == "GET":
                headers = {"content-type": "text/event-stream"}
                return httpx.Response(200, headers=headers, stream=SilentStream(), request=request)
            if method != "POST":
                return httpx.Response(200, request=request)
            answers: list[dict[str, Any]] = []
            initialize = False
            for message in _messages(content):
                answers += link.answer(message)
                initialize = initialize or (
                    isinstance(message, dict) and message.get("method") == "initialize"
                )
            if not answers:  # notifications, or the client's answers to the server
                return httpx.Response(202, request=request)
            headers = {"mcp-session-id": REPLAY_SESSION} if initialize else {}
            if len(answers) == 1:
                headers["content-type"] = "application/json"
                body = json.dumps(answers[0], ensure_ascii=False).encode()
            else:
                headers["content-type"] = "text/event-stream"
                body = _event_stream(answers)
            return httpx.Response(200, headers=headers, content=body, request=request)

    return McpTransport
