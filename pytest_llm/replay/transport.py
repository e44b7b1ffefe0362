"""The one place that touches httpx: calls of httpx and httpx2 clients, recorded or replayed.

Current SDKs send through `httpx2`, older ones through `httpx`; both have the same
transport interface, so one set of classes is built per module. We hook
`Client._transport_for_url`, which every request passes, so clients created before
the test (at import time) and custom transports are covered alike, and a replayed call
never reaches the real transport: no connection is attempted.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from types import ModuleType, SimpleNamespace
from typing import Any

from pytest_llm.cassettes.interaction import (
    replay_body,
    replay_events,
    replay_headers,
)
from pytest_llm.providers import recognize, recognize_path, stream_content_types
from pytest_llm.replay import (
    aiohttp_hook,
    botocore_hook,
    mcp_http,
    mcp_stdio,
    requests_hook,
    tools,
)
from pytest_llm.replay.on_import import when_imported
from pytest_llm.replay.pending import PendingCall, StreamCapture, replay_chunks
from pytest_llm.replay.plain import (
    IN_HTTPX_HOOK,
    PlainCall,
    host_port,
    passes_through,
    prepare_plain,
    replay_parts,
)
from pytest_llm.replay.recorder import Decision, Recorder
from pytest_llm.replay.settings import ReplayTiming

_INJECTED = " (injected by pytest-llm)"
_CUT_MESSAGE = "peer closed connection without sending complete message body" + _INJECTED


class Interceptor:
    """Routes the LLM calls of the running test to its recorder; the rest pass untouched."""

    def __init__(self) -> None:
        # Process-wide on purpose: the app may call from threads that share no context
        # with the test, and pytest runs one test at a time in a process.
        self.recorder: Recorder | None = None
        # --llm-model OLD=NEW: requested model ids rewritten in flight.
        self.model_map: dict[str, str] = {}
        self._restore: list[Callable[[], None]] = []

    def install(self) -> None:
        """Hook every importable httpx flavour (idempotent)."""
        if self._restore:
            return
        for name in ("httpx2", "httpx"):
            try:
                module = importlib.import_module(name)
            except ImportError:
                continue
            kit = _kit(module, self)
            # Transports that answer inside this process (see _hook).
            in_process = tuple(
                getattr(module, name)
                for name in ("MockTransport", "ASGITransport", "WSGITransport")
                if hasattr(module, name)
            )
            for client, transport, passthrough, network, method, mcp in (
                (
                    module.Client,
                    kit.Transport,
                    kit.Passthrough,
                    module.HTTPTransport,
                    "handle_request",
                    None,
                ),
                (
                    module.AsyncClient,
                    kit.AsyncTransport,
                    kit.AsyncPassthrough,
                    module.AsyncHTTPTransport,
                    "handle_async_request",
                    mcp_http.build(module),  # MCP clients are async
                ),
            ):
                self._hook(
                    client, transport, passthrough, in_process, _Network(network, method), mcp
                )
        # Plain HTTP of the other client libraries an application may use for its tools (and
        # the LLM calls of SDKs that send through them: google-genai's async client through
        # aiohttp, boto3 through botocore), hooked when the library is imported (now, or
        # later in the run): never imported here.
        libraries: tuple[tuple[str, Callable[[], Callable[[], None] | None]], ...] = (
            ("requests", lambda: requests_hook.install(lambda: self.recorder)),
            ("aiohttp", lambda: aiohttp_hook.install(lambda: self.recorder, self.prepare)),
            ("botocore", lambda: botocore_hook.install(self.prepare)),
        )
        for name, install in libraries:
            self._restore.append(
                when_imported(name, functools.partial(self._hook_library, install))
            )
        # Functions wrapped with pytest_llm.tool find the running test's recorder here.
        self._restore.append(tools.install(lambda: self.recorder))
        # MCP servers over stdio: their spawn is answered from the cassette in replay.
        self._restore.append(mcp_stdio.install(lambda: self.recorder))

    def _hook_library(self, install: Callable[[], Callable[[], None] | None]) -> None:
        restore = install()
        if restore is not None:
            self._restore.append(restore)

    def _hook(
        self,
        client: type,
        transport: type,
        passthrough: type,
        in_process: tuple[type, ...],
        network: _Network,
        mcp: type | None = None,
    ) -> None:
        original = client.__dict__["_transport_for_url"]
        interceptor = self

        def _transport_for_url(self: Any, url: Any) -> Any:
            inner = original(self, url)
            recorder = interceptor.recorder
            if recorder is None:
                return inner
            llm = recognize_path(url.path) is not None
            if not llm and not recorder.settings.records_host(url.host):
                # Plain HTTP to a passthrough host: live and unrecorded, which the summary
                # says, and a refused connection says why nothing answers it in replay.
                chosen = inner
                if passes_through(recorder, str(url)) and isinstance(inner, network.cls):
                    chosen = passthrough(inner, recorder, host_port(str(url)))
            else:
                # In a pytest-recording test, plain HTTP to a mock (a mock transport, or one
                # whose network method a mocking library such as pytest-httpx replaced) is
                # answered from the cassette when it holds it, and otherwise by the mock.
                mocked = recorder.vcr is not None and (
                    isinstance(inner, in_process) or network.mocked(inner)
                )
                chosen = transport(inner, interceptor, mocked)
            # MCP over streamable HTTP, on any host: its messages are told apart per request.
            return chosen if llm or mcp is None else mcp(inner, chosen, recorder)

        client._transport_for_url = _transport_for_url  # type: ignore[attr-defined]
        self._restore.append(lambda: setattr(client, "_transport_for_url", original))

    def uninstall(self) -> None:
        """Put the clients back as they were."""
        while self._restore:
            self._restore.pop()()

    def prepare(self, method: str, url: Any, headers: Any, content: bytes) -> PendingCall | None:
        """The pending LLM call of a request, None to pass it through; raises ReplayMiss."""
        recorder = self.recorder
        if recorder is None:
            return None
        try:
            body = json.loads(content)
        except ValueError:
            return None
        endpoint = recognize(method, str(url.path), body)
        if endpoint is None:
            return None
        items = header_items(headers)
        vcr = recorder.vcr
        raw = content  # the JSON that `body` was decoded from
        if vcr is not None:  # a pytest-recording test: its vcr_config decides what is kept
            if vcr.ignores(str(url.host)):
                return None
            seen = vcr.seen(method, str(url), items, content)
            if seen is None:
                return None
            if seen != (str(url), items, content):
                url, items = type(url)(seen[0]), seen[1]
                if seen[2] != content:
                    with contextlib.suppress(ValueError):
                        body, raw = json.loads(seen[2]), seen[2]
        query = url.query
        query = query.decode() if isinstance(query, bytes) else str(query)
        fault = recorder.take_fault(endpoint, body)
        if fault is not None and fault != "stream_cut":
            # Answered before cassette or provider: nothing is used up, nothing recorded.
            return PendingCall(recorder, endpoint, Decision("", None), url, items, body, fault)
        secrets = recorder.scrubber.secrets_in(items, query)
        decision = recorder.decide(
            endpoint,
            body,
            secrets,
            cut=fault is not None,
            request=(method, str(url), items),
            raw=raw,
        )
        return PendingCall(recorder, endpoint, decision, url, items, body, fault)

    def delays(self, interaction: dict[str, Any], count: int) -> list[float]:
        """Pauses before each replayed chunk: none, or the recorded pace."""
        recorder = self.recorder
        if recorder is None or recorder.settings.replay_timing is not ReplayTiming.RECORDED:
            return [0.0] * count
        latency = float(interaction.get("latency_s") or 0.0)
        first = float(interaction.get("ttft_s") or latency)
        rest = max(latency - first, 0.0) / max(count - 1, 1)
        return [first] + [rest] * (count - 1)


def header_items(headers: Any) -> list[tuple[str, str]]:
    """`headers.multi_items()`: every header, its name lowercased, both decoded.

    httpx's Headers look their encoding up again for each name and value; their raw pairs
    are decoded here with it looked up once (the request's headers are read on every call).
    Other header objects (the aiohttp and botocore hooks') give their own items.
    """
    raw = getattr(headers, "raw", None)
    encoding = getattr(headers, "encoding", None)
    if type(raw) is not list or type(encoding) is not str:
        return list(headers.multi_items())
    return [(name.lower().decode(encoding), value.decode(encoding)) for name, value in raw]


class _Network:
    """httpx's network transport class, and its request method as pytest-llm found it."""

    def __init__(self, cls: type, method: str) -> None:
        self.cls, self.method = cls, method
        self.original = cls.__dict__[method]

    def mocked(self, transport: Any) -> bool:
        """Whether `transport` is a network one whose method a mocking library replaced."""
        return isinstance(transport, self.cls) and self.cls.__dict__[self.method] is not (
            self.original
        )


def _is_event_stream(headers: Any) -> bool:
    kind = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return kind in stream_content_types()


def _live_headers(headers: Any) -> list[tuple[str, str]]:
    # Chunks are handed on decoded, so the encoding and length no longer apply.
    drop = ("content-encoding", "content-length", "transfer-encoding")
    return [(k, v) for k, v in headers.multi_items() if k.lower() not in drop]


def _kit(httpx: ModuleType, interceptor: Interceptor) -> SimpleNamespace:
    """Transport and stream classes built on one httpx flavour's base classes."""

    class ReplayStream(httpx.SyncByteStream):  # type: ignore[name-defined,misc]
        def __init__(self, chunks: list[bytes], delays: list[float]) -> None:
            self.chunks, self.delays = chunks, delays

        def __iter__(self) -> Iterator[bytes]:
            for chunk, delay in zip(self.chunks, self.delays, strict=True):
                if delay:
                    time.sleep(delay)
                yield chunk

    class AsyncReplayStream(httpx.AsyncByteStream):  # type: ignore[name-defined,misc]
        def __init__(self, chunks: list[bytes], delays: list[float]) -> None:
            self.chunks, self.delays = chunks, delays

        async def __aiter__(self) -> AsyncIterator[bytes]:
            for chunk, delay in zip(self.chunks, self.delays, strict=True):
                if delay:
                    await asyncio.sleep(delay)
                yield chunk

    class TeeStream(httpx.SyncByteStream):  # type: ignore[name-defined,misc]
        """Hands each live chunk on as it arrives, keeping a copy for the cassette."""

        def __init__(self, live: Any, capture: StreamCapture) -> None:
            self.live, self.capture = live, capture
            self.chunks = live.iter_bytes()

        def __iter__(self) -> Iterator[bytes]:
            for chunk in self.chunks:
                self.capture.feed(chunk)
                yield chunk
            self.capture.finish()

        def close(self) -> None:
            # A consumer that stops early still gets the whole answer recorded: the
            # provider sends (and bills) it anyway, and a replay must not end short.
            try:
                if not self.capture.done:
                    for chunk in self.chunks:
                        self.capture.feed(chunk)
                    self.capture.finish()
            except httpx.HTTPError:
                pass  # a stream that broke got no complete answer: record nothing
            finally:
                self.live.close()

    class AsyncTeeStream(httpx.AsyncByteStream):  # type: ignore[name-defined,misc]
        def __init__(self, live: Any, capture: StreamCapture) -> None:
            self.live, self.capture = live, capture
            self.chunks = live.aiter_bytes()

        async def __aiter__(self) -> AsyncIterator[bytes]:
            async for chunk in self.chunks:
                self.capture.feed(chunk)
                yield chunk
            self.capture.finish()

        async def aclose(self) -> None:
            try:
                if not self.capture.done:
                    async for chunk in self.chunks:
                        self.capture.feed(chunk)
                    self.capture.finish()
            except httpx.HTTPError:
                pass
            finally:
                await self.live.aclose()

    class CutStream(httpx.SyncByteStream):  # type: ignore[name-defined,misc]
        """Delivers the first part of an answer (`replay_chunks(cut=True)`), then fails as a
        dropped connection does."""

        def __init__(self, chunks: list[bytes], delays: list[float]) -> None:
            self.chunks = chunks

        def __iter__(self) -> Iterator[bytes]:
            yield from self.chunks
            raise httpx.RemoteProtocolError(_CUT_MESSAGE)

    class AsyncCutStream(httpx.AsyncByteStream):  # type: ignore[name-defined,misc]
        def __init__(self, chunks: list[bytes], delays: list[float]) -> None:
            self.chunks = chunks

        async def __aiter__(self) -> AsyncIterator[bytes]:
            for chunk in self.chunks:
                yield chunk
            raise httpx.RemoteProtocolError(_CUT_MESSAGE)

    class PlainTee(httpx.SyncByteStream):  # type: ignore[name-defined,misc]
        """Hands a plain answer's chunks on as they arrive, and records the whole at the end."""

        def __init__(self, live: Any, call: PlainCall) -> None:
            self.live, self.call = live, call
            self.chunks = live.iter_bytes()
            self.kept: list[bytes] = []

        def __iter__(self) -> Iterator[bytes]:
            for chunk in self.chunks:
                self.kept.append(chunk)
                yield chunk
            self.finish()

        def finish(self) -> None:
            headers = list(self.live.headers.multi_items())
            self.call.record(self.live.status_code, headers, b"".join(self.kept))

        def close(self) -> None:
            try:
                if not self.call.done:  # read early or not at all: the rest is still recorded
                    self.kept += list(self.chunks)
                    self.finish()
            except httpx.HTTPError:
                pass  # no complete answer: record nothing
            finally:
                self.live.close()

    class AsyncPlainTee(httpx.AsyncByteStream):  # type: ignore[name-defined,misc]
        def __init__(self, live: Any, call: PlainCall) -> None:
            self.live, self.call = live, call
            self.chunks = live.aiter_bytes()
            self.kept: list[bytes] = []

        async def __aiter__(self) -> AsyncIterator[bytes]:
            async for chunk in self.chunks:
                self.kept.append(chunk)
                yield chunk
            self.finish()

        def finish(self) -> None:
            headers = list(self.live.headers.multi_items())
            self.call.record(self.live.status_code, headers, b"".join(self.kept))

        async def aclose(self) -> None:
            try:
                if not self.call.done:
                    self.kept += [chunk async for chunk in self.chunks]
                    self.finish()
            except httpx.HTTPError:
                pass
            finally:
                await self.live.aclose()

    def plain_call(request: Any, content: bytes, mocked: bool) -> PlainCall | None:
        return prepare_plain(
            interceptor.recorder,
            request.method,
            str(request.url),
            request.headers.multi_items(),
            content,
            httpx.__name__,
            mocked=mocked,
        )

    def plain_replay(request: Any, interaction: dict[str, Any]) -> Any:
        status, headers, body = replay_parts(interaction)
        return httpx.Response(status, headers=headers, content=body, request=request)

    def plain_live(request: Any, live: Any, call: PlainCall, tee: type) -> Any:
        return httpx.Response(
            live.status_code,
            headers=_live_headers(live.headers),
            stream=tee(live, call),
            request=request,
            extensions=live.extensions,
        )

    def injected(request: Any, call: PendingCall) -> Any:
        """The answer of a fault served at the transport (or the exception it raises)."""
        fault = str(call.fault)
        served = call.serve_fault(str(request.url.path))
        if served is not None:
            status, headers, content = served
            return httpx.Response(status, headers=headers, content=content, request=request)
        if fault == "timeout":
            raise httpx.ReadTimeout("The read operation timed out" + _INJECTED, request=request)
        raise httpx.ConnectError("[Errno 111] Connection refused" + _INJECTED, request=request)

    def cut(request: Any, interaction: dict[str, Any], stream_type: type) -> Any:
        chunks = replay_chunks(interaction, cut=True)  # then the stream fails
        headers = replay_headers(interaction)
        status = interaction["response"]["status"]
        stream = stream_type(chunks, [])
        return httpx.Response(status, headers=headers, stream=stream, request=request)

    def with_model(request: Any, content: bytes) -> tuple[Any, bytes]:
        """The request with its model rewritten by --llm-model, and its new content."""
        mapping = interceptor.model_map
        if not mapping or b'"model"' not in content:
            return request, content
        try:
            body = json.loads(content)
        except ValueError:
            return request, content
        if not isinstance(body, dict) or body.get("model") not in mapping:
            return request, content
        body["model"] = mapping[body["model"]]
        content = json.dumps(body, ensure_ascii=False).encode()
        headers = [
            (k, v) for k, v in request.headers.multi_items() if k.lower() != "content-length"
        ]
        rebuilt = httpx.Request(
            request.method,
            request.url,
            headers=headers,
            content=content,
            extensions=request.extensions,
        )
        return rebuilt, content

    def replay(request: Any, interaction: dict[str, Any], stream_type: type) -> Any:
        status = interaction["response"]["status"]
        headers = replay_headers(interaction)
        if "events" in interaction["response"]:
            chunks = replay_events(interaction)
            stream = stream_type(chunks, interceptor.delays(interaction, len(chunks)))
            return httpx.Response(status, headers=headers, stream=stream, request=request)
        body = replay_body(interaction)
        # The body's stream and length given, as a server's answer has them: `content=`
        # would have httpx search the headers for its length and insert it, on every call.
        headers.append(("content-length", str(len(body))))
        return httpx.Response(
            status, headers=headers, stream=httpx.ByteStream(body), request=request
        )

    def request_content(request: Any) -> bytes:
        try:
            return bytes(request.content)
        except httpx.RequestNotRead:
            return bytes(request.read())

    class Transport(httpx.BaseTransport):  # type: ignore[name-defined,misc]
        def __init__(self, inner: Any, owner: Interceptor, mocked: bool = False) -> None:
            self.inner, self.mocked = inner, mocked

        def handle_request(self, request: Any) -> Any:
            token = IN_HTTPX_HOOK.set(True)
            try:
                return self._handle(request)
            finally:
                IN_HTTPX_HOOK.reset(token)

        def _handle(self, request: Any) -> Any:
            request, content = with_model(request, request_content(request))
            call = interceptor.prepare(request.method, request.url, request.headers, content)
            if call is None:
                plain = plain_call(request, content, self.mocked)
                if plain is None:
                    return self.inner.handle_request(request)
                if plain.interaction is not None:
                    return plain_replay(request, plain.interaction)
                return plain_live(request, self.inner.handle_request(request), plain, PlainTee)
            if call.fault is not None and call.fault != "stream_cut":
                return injected(request, call)
            if call.fault == "stream_cut":
                interaction = call.decision.interaction
                if interaction is None:  # nothing recorded yet: fetch the whole answer, then cut
                    call.check_can_send()
                    live = self.inner.handle_request(request)
                    try:
                        content = live.read()
                    finally:
                        live.close()
                    headers = list(live.headers.multi_items())
                    interaction = call.finish(live.status_code, headers, content)
                return cut(request, interaction, CutStream)
            if call.decision.interaction is not None:
                interaction = call.decision.interaction
                if "events" not in interaction["response"]:
                    delay = interceptor.delays(interaction, 1)[0]
                    if delay:
                        time.sleep(delay)
                return replay(request, interaction, ReplayStream)
            call.check_can_send()
            live = self.inner.handle_request(request)
            if _is_event_stream(live.headers):
                capture = StreamCapture(call, live.status_code, list(live.headers.multi_items()))
                return httpx.Response(
                    live.status_code,
                    headers=_live_headers(live.headers),
                    stream=TeeStream(live, capture),
                    request=request,
                    extensions=live.extensions,
                )
            try:
                content = live.read()
            finally:
                live.close()
            interaction = call.finish(live.status_code, list(live.headers.multi_items()), content)
            return replay(request, interaction, ReplayStream)

    class AsyncTransport(httpx.AsyncBaseTransport):  # type: ignore[name-defined,misc]
        def __init__(self, inner: Any, owner: Interceptor, mocked: bool = False) -> None:
            self.inner, self.mocked = inner, mocked

        async def handle_async_request(self, request: Any) -> Any:
            token = IN_HTTPX_HOOK.set(True)
            try:
                return await self._handle(request)
            finally:
                IN_HTTPX_HOOK.reset(token)

        async def _handle(self, request: Any) -> Any:
            try:
                content = bytes(request.content)
            except httpx.RequestNotRead:
                content = bytes(await request.aread())
            request, content = with_model(request, content)
            call = interceptor.prepare(request.method, request.url, request.headers, content)
            if call is None:
                plain = plain_call(request, content, self.mocked)
                if plain is None:
                    return await self.inner.handle_async_request(request)
                if plain.interaction is not None:
                    return plain_replay(request, plain.interaction)
                live = await self.inner.handle_async_request(request)
                return plain_live(request, live, plain, AsyncPlainTee)
            if call.fault is not None and call.fault != "stream_cut":
                return injected(request, call)
            if call.fault == "stream_cut":
                interaction = call.decision.interaction
                if interaction is None:
                    call.check_can_send()
                    live = await self.inner.handle_async_request(request)
                    try:
                        content = await live.aread()
                    finally:
                        await live.aclose()
                    headers = list(live.headers.multi_items())
                    interaction = call.finish(live.status_code, headers, content)
                return cut(request, interaction, AsyncCutStream)
            if call.decision.interaction is not None:
                interaction = call.decision.interaction
                if "events" not in interaction["response"]:
                    delay = interceptor.delays(interaction, 1)[0]
                    if delay:
                        await asyncio.sleep(delay)
                return replay(request, interaction, AsyncReplayStream)
            call.check_can_send()
            live = await self.inner.handle_async_request(request)
            if _is_event_stream(live.headers):
                capture = StreamCapture(call, live.status_code, list(live.headers.multi_items()))
                return httpx.Response(
                    live.status_code,
                    headers=_live_headers(live.headers),
                    stream=AsyncTeeStream(live, capture),
                    request=request,
                    extensions=live.extensions,
                )
            try:
                content = await live.aread()
            finally:
                await live.aclose()
            interaction = call.finish(live.status_code, list(live.headers.multi_items()), content)
            return replay(request, interaction, AsyncReplayStream)

    class Passthrough(httpx.BaseTransport):  # type: ignore[name-defined,misc]
        """The network transport, for plain HTTP to a passthrough host (llm_passthrough_hosts)."""

        def __init__(self, inner: Any, recorder: Recorder, host: str) -> None:
            self.inner, self.recorder, self.host = inner, recorder, host

        def handle_request(self, request: Any) -> Any:
            self.recorder.pass_through(self.host)
            try:
                return self.inner.handle_request(request)
            except httpx.ConnectError as exc:
                raise httpx.ConnectError(self.recorder.refused(self.host), request=request) from exc

    class AsyncPassthrough(httpx.AsyncBaseTransport):  # type: ignore[name-defined,misc]
        def __init__(self, inner: Any, recorder: Recorder, host: str) -> None:
            self.inner, self.recorder, self.host = inner, recorder, host

        async def handle_async_request(self, request: Any) -> Any:
            self.recorder.pass_through(self.host)
            try:
                return await self.inner.handle_async_request(request)
            except httpx.ConnectError as exc:
                raise httpx.ConnectError(self.recorder.refused(self.host), request=request) from exc

    return SimpleNamespace(
        Transport=Transport,
        AsyncTransport=AsyncTransport,
        Passthrough=Passthrough,
        AsyncPassthrough=AsyncPassthrough,
    )
