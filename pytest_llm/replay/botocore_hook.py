"""LLM calls of boto3 clients (`bedrock-runtime`), recorded and replayed at botocore's
`Endpoint._send`.

Every request of every botocore client passes there once signed, whether the client was made
before the test or during it, and a replayed call never reaches the HTTP session: no
connection is attempted. A replayed answer is a real `AWSResponse` whose raw body yields the
recorded bytes (eventstream frames one per chunk), so botocore parses it as live, CRCs included.
Requests that are not LLM calls pass through untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from pytest_llm.cassettes.interaction import replay_headers
from pytest_llm.replay.pending import (
    PendingCall,
    Prepare,
    StreamCapture,
    as_headers,
    as_url,
    replay_chunks,
)

_INJECTED = " (injected by pytest-llm)"


class _Raw:
    """A response body with the read interface botocore uses of urllib3's."""

    def __init__(self, chunks: Iterable[bytes], fail: Callable[[], Exception] | None = None):
        self._chunks = iter(chunks)
        self._buffer = b""
        self._fail = fail

    def stream(self, amt: int = 1024, decode_content: bool | None = None) -> Iterator[bytes]:
        if self._buffer:
            yield self._buffer
            self._buffer = b""
        yield from self._chunks
        if self._fail is not None:
            raise self._fail()

    def read(self, amt: int | None = None, decode_content: bool | None = None) -> bytes:
        while amt is None or len(self._buffer) < amt:
            chunk = next(self._chunks, None)
            if chunk is None:
                if self._fail is not None and not self._buffer:
                    raise self._fail()
                break
            self._buffer += chunk
        size = len(self._buffer) if amt is None else amt
        taken, self._buffer = self._buffer[:size], self._buffer[size:]
        return taken

    def close(self) -> None:
        pass

    def release_conn(self) -> None:
        pass


class _Tee(_Raw):
    """A live stream's body, handed on chunk by chunk and recorded at its end."""

    def __init__(self, live: Any, capture: StreamCapture) -> None:
        super().__init__(self._passing(live, capture))
        self._live, self._capture = live, capture

    @staticmethod
    def _passing(live: Any, capture: StreamCapture) -> Iterator[bytes]:
        for chunk in live.stream(4096):
            capture.feed(chunk)
            yield chunk
        capture.finish()

    def close(self) -> None:
        # A consumer that stops early still gets the whole answer recorded (as with httpx).
        try:
            if not self._capture.done:
                for _ in self._chunks:
                    pass
        except Exception:  # a stream that broke got no complete answer: record nothing
            pass
        finally:
            self._live.close()


def install(prepare: Prepare) -> Callable[[], None] | None:
    """Hook botocore's Endpoint._send; the undo function, or None when botocore is absent."""
    try:
        from botocore import exceptions  # type: ignore[import-untyped]
        from botocore.awsrequest import AWSResponse  # type: ignore[import-untyped]
        from botocore.endpoint import Endpoint  # type: ignore[import-untyped]
    except ImportError:
        return None
    original = Endpoint.__dict__["_send"]

    def answer(request: Any, status: int, headers: Any, raw: _Raw) -> Any:
        return AWSResponse(request.url, status, dict(headers), raw)

    def _send(self: Any, request: Any) -> Any:
        body = request.body
        content = body if isinstance(body, bytes) else (body or b"")
        if not isinstance(content, bytes | str):
            return original(self, request)  # a file-like upload: never an LLM call
        content = content.encode() if isinstance(content, str) else content
        items = [
            (str(k), v.decode() if isinstance(v, bytes) else str(v))
            for k, v in request.headers.items()
        ]
        call = prepare(request.method, as_url(request.url), as_headers(items), content)
        if call is None:
            return original(self, request)
        return llm(self, request, call)

    def llm(endpoint: Any, request: Any, call: PendingCall) -> Any:
        fault, interaction = call.fault, call.decision.interaction
        url = as_url(request.url)
        if fault is not None and fault != "stream_cut":
            served = call.serve_fault(url.path)
            if served is not None:
                status, headers, content = served
                return answer(request, status, headers, _Raw([content]))
            if fault == "timeout":
                raise exceptions.ReadTimeoutError(endpoint_url=request.url + _INJECTED)
            raise exceptions.EndpointConnectionError(endpoint_url=request.url + _INJECTED)
        if interaction is None:
            call.check_can_send()
            live = original(endpoint, request)
            items = list(live.headers.items())
            kind = live.headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if kind == call.endpoint.format.stream_content_type and fault is None:
                capture = StreamCapture(call, live.status_code, items)
                return answer(request, live.status_code, live.headers, _Tee(live.raw, capture))
            interaction = call.finish(live.status_code, items, live.content)
            if fault is None:
                return answer(request, live.status_code, live.headers, _Raw([live.content]))
        recorded = interaction["response"]
        chunks = replay_chunks(interaction, cut=fault == "stream_cut")
        fail = None
        if fault == "stream_cut":

            def fail() -> Exception:
                message = "Response ended prematurely" + _INJECTED
                error: Exception = exceptions.ResponseStreamingError(error=message)
                return error

        headers = replay_headers(interaction)
        if fault is None:
            headers.append(("content-length", str(sum(map(len, chunks)))))
        return answer(request, int(recorded["status"]), headers, _Raw(chunks, fail))

    Endpoint._send = _send
    return lambda: setattr(Endpoint, "_send", original)
