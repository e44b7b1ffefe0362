"""Calls sent through `aiohttp`, recorded and replayed at `ClientSession._request`.

LLM calls (google-genai's async client sends through aiohttp when it is installed) are
decided as the httpx transport decides them; everything else is plain HTTP.

Every request of a session passes there, whichever helper (`get`, `post`, `request`) sent it.
A replayed answer is a real `ClientResponse` whose body sits in aiohttp's own `StreamReader`,
so `read`, `text`, `json`, `content.iter_chunked` and the context managers behave as live. While
recording, the live body is pumped chunk by chunk into a second reader the caller consumes, so
a long download passes through as it arrives and is stored whole at its end.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Callable
from http import HTTPStatus
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from pytest_llm.cassettes.interaction import replay_headers
from pytest_llm.replay.pending import (
    PendingCall,
    Prepare,
    StreamCapture,
    as_headers,
    as_url,
    replay_chunks,
)
from pytest_llm.replay.plain import (
    IN_HTTPX_HOOK,
    host_port,
    passes_through,
    prepare_plain,
    replay_parts,
)

if TYPE_CHECKING:
    from pytest_llm.replay.recorder import Recorder

_INJECTED = " (injected by pytest-llm)"


class _Unkeyable(Exception):
    """A request body that cannot be turned into bytes before sending (a stream, a form)."""


def _content(data: Any, json_value: Any) -> tuple[bytes, str]:
    """The bytes aiohttp will send for `data=` / `json=`, and their content type."""
    if json_value is not None:
        return json.dumps(json_value).encode(), "application/json"
    if data is None:
        return b"", ""
    if isinstance(data, bytes | bytearray):
        return bytes(data), "application/octet-stream"
    if isinstance(data, str):
        return data.encode(), "text/plain; charset=utf-8"
    if isinstance(data, dict | list | tuple):
        return urlencode(list(data.items()) if isinstance(data, dict) else data).encode(), (
            "application/x-www-form-urlencoded"
        )
    raise _Unkeyable(type(data).__name__)


class _Idle:
    """Stands in for the connection behind a reader we feed ourselves (no flow control)."""

    _reading_paused = False
    connected = True  # a reader waits for more data only while its connection is up

    def pause_reading(self) -> None:
        pass

    def resume_reading(self, resume_parser: bool = True) -> None:
        pass


def install(
    recorder_of: Callable[[], Recorder | None], prepare: Prepare | None = None
) -> Callable[[], None] | None:
    """Hook aiohttp's ClientSession._request; the undo function, or None when it is absent.

    `prepare` recognises and decides LLM calls (the interceptor's); without it every request
    is plain HTTP.
    """
    try:
        import aiohttp
        from aiohttp import streams
        from aiohttp.helpers import noop
        from multidict import CIMultiDict, CIMultiDictProxy
        from yarl import URL
    except ImportError:
        return None
    original = aiohttp.ClientSession.__dict__["_request"]
    takes_writer = "stream_writer" in inspect.signature(aiohttp.ClientResponse.__init__).parameters

    def reader(body: bytes | None, cut: bool = False) -> Any:
        loop = asyncio.get_running_loop()
        stream = streams.StreamReader(_Idle(), max(len(body or b""), 2**16), loop=loop)  # type: ignore[arg-type]
        if body is not None:
            stream.feed_data(body)
            if cut:  # as a dropped connection ends a body
                message = "Response payload is not completed" + _INJECTED
                stream.set_exception(aiohttp.ClientPayloadError(message))
            else:
                stream.feed_eof()
        return stream

    def replayed(method: str, url: Any, headers: Any, interaction: dict[str, Any]) -> Any:
        return answer(method, url, headers, *replay_parts(interaction))

    def answer(
        method: str,
        url: Any,
        headers: Any,
        status: int,
        answer_headers: list[tuple[str, str]],
        body: bytes,
        cut: bool = False,
    ) -> Any:
        info = aiohttp.RequestInfo(url, method, CIMultiDictProxy(CIMultiDict(headers)), url)
        extra: dict[str, Any] = {"stream_writer": SimpleNamespace(output_size=0)}
        response = aiohttp.ClientResponse(
            method,
            url,
            writer=None,
            continue100=None,
            timer=None,  # type: ignore[arg-type]
            request_info=info,
            traces=[],
            loop=asyncio.get_running_loop(),
            session=None,  # type: ignore[arg-type]
            **(extra if takes_writer else {}),
        )
        response.status = status
        response.reason = _reason(status)
        response._headers = CIMultiDictProxy(CIMultiDict(answer_headers))
        response._raw_headers = tuple((k.encode(), v.encode()) for k, v in answer_headers)
        response.content = reader(body, cut)
        return response

    def tee(response: Any, feed: Callable[[bytes], None], done: Callable[[], None]) -> None:
        live = response.content
        mirror = reader(None)
        release, wait_for_close = response.release, response.wait_for_close
        deferred: list[bool] = []

        async def pump() -> None:
            try:
                while chunk := await live.readany():
                    feed(chunk)
                    mirror.feed_data(chunk)
            except Exception as exc:  # the caller sees the failure; nothing is recorded
                mirror.set_exception(exc)
                return
            finally:
                if deferred:
                    release()
            done()
            mirror.feed_eof()

        task = asyncio.ensure_future(pump())

        # Leaving `async with` releases the connection at once, often before the body was
        # read: the release waits for the body, so what the server sent is still recorded.
        def release_after_body() -> Any:
            if task.done():
                return release()
            deferred.append(True)
            return noop()

        async def wait_for_body_then_close() -> None:
            await asyncio.wait([task])
            await wait_for_close()

        response.content = mirror
        response.release = release_after_body
        response.wait_for_close = wait_for_body_then_close

    async def _request(self: Any, method: str, str_or_url: Any, **kwargs: Any) -> Any:
        recorder = recorder_of()
        if recorder is None or IN_HTTPX_HOOK.get():
            return await original(self, method, str_or_url, **kwargs)
        try:
            content, content_type = _content(kwargs.get("data"), kwargs.get("json"))
        except _Unkeyable:
            return await original(self, method, str_or_url, **kwargs)
        url = URL(str(self._build_url(str_or_url)))
        if kwargs.get("params"):
            url = url.extend_query(kwargs["params"])
        headers = CIMultiDict(self.headers)
        headers.update(kwargs.get("headers") or {})
        if content_type and "content-type" not in headers:
            headers["content-type"] = content_type
        if prepare is not None:
            pending = prepare(method, as_url(str(url)), as_headers(headers.items()), content)
            if pending is not None:
                return await llm(pending, self, method, str_or_url, url, headers, kwargs)
        call = prepare_plain(recorder, method, str(url), headers.items(), content, "aiohttp")
        if call is None:
            try:
                return await original(self, method, str_or_url, **kwargs)
            except aiohttp.ClientConnectorError as exc:
                # Its constructor wants aiohttp's connection internals: the explanation
                # goes on the error itself, as a note that tracebacks print.
                if passes_through(recorder, str(url)):
                    exc.add_note(recorder.refused(host_port(str(url))))
                raise
        if call.interaction is not None:
            return replayed(method.upper(), url, headers, call.interaction)
        response = await original(self, method, str_or_url, **kwargs)
        kept: list[bytes] = []
        items = list(response.headers.items())
        tee(response, kept.append, lambda: call.record(response.status, items, b"".join(kept)))
        return response

    async def llm(
        call: PendingCall,
        session: Any,
        method: str,
        str_or_url: Any,
        url: Any,
        headers: Any,
        kwargs: dict[str, Any],
    ) -> Any:
        """An LLM call: a fault, a replay, or a live answer recorded as it passes."""
        fault, interaction = call.fault, call.decision.interaction
        if fault is not None and fault != "stream_cut":
            served = call.serve_fault(str(url.path))
            if served is not None:
                status, fault_headers, content = served
                return answer(method.upper(), url, headers, status, fault_headers, content)
            if fault == "timeout":
                raise aiohttp.ServerTimeoutError("Timeout on reading data from socket" + _INJECTED)
            raise aiohttp.ClientConnectionError("Cannot connect to host" + _INJECTED)
        if interaction is None:
            call.check_can_send()
            response = await original(session, method, str_or_url, **kwargs)
            items = list(response.headers.items())
            streams_events = "text/event-stream" in response.headers.get("content-type", "")
            if streams_events and fault is None:
                capture = StreamCapture(call, response.status, items)
                tee(response, capture.feed, capture.finish)
                return response
            interaction = call.finish(response.status, items, await response.read())
            if fault is None:
                return response  # its body was read whole and stays readable
        recorded = interaction["response"]
        chunks = replay_chunks(interaction, cut=fault == "stream_cut")
        answer_headers = replay_headers(interaction)
        status = int(recorded["status"])
        content = b"".join(chunks)
        return answer(method.upper(), url, headers, status, answer_headers, content, bool(fault))

    aiohttp.ClientSession._request = _request  # type: ignore[method-assign]
    return lambda: setattr(aiohttp.ClientSession, "_request", original)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
