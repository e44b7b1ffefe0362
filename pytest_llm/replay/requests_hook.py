"""Plain HTTP of the `requests` library, recorded and replayed at `HTTPAdapter.send`.

Every `requests.Session` sends through an adapter, and the default one is `HTTPAdapter`, so
hooking its `send` covers `requests.get`, sessions made before the test, and redirects (each hop
is its own request). A replayed answer is built by the adapter's own `build_response` over an
in-memory urllib3 response: cookies, encoding, `iter_content` and `stream=True` all behave.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from pytest_llm.replay.plain import (
    IN_HTTPX_HOOK,
    PlainCall,
    host_port,
    passes_through,
    prepare_plain,
    replay_parts,
)

if TYPE_CHECKING:
    from pytest_llm.replay.recorder import Recorder


def _content(body: Any) -> bytes:
    """The bytes of a prepared request's body (bytes, text, a file or an iterator)."""
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    if hasattr(body, "read"):
        data = body.read()
        return data.encode() if isinstance(data, str) else bytes(data)
    return b"".join(part.encode() if isinstance(part, str) else bytes(part) for part in body)


class _Body(io.BytesIO):
    """A recorded body that says it is closed once read to its end, as a socket file does
    (urllib3's `stream` reads until then)."""

    def __init__(self, content: bytes) -> None:
        super().__init__(content)
        self._size = len(content)

    def isclosed(self) -> bool:
        return self.closed or self.tell() >= self._size


class _TeeRaw:
    """The live urllib3 response, read decoded by requests, with a copy kept for the cassette."""

    def __init__(self, raw: Any, call: PlainCall) -> None:
        self._raw = raw
        self._call = call
        self._kept: list[bytes] = []

    def read(self, amt: int | None = None, *args: Any, **kwargs: Any) -> bytes:
        chunk: bytes = self._raw.read(amt, decode_content=True)
        if chunk:
            self._kept.append(chunk)
        else:
            self._finish()
        return chunk

    def stream(self, amt: int | None = 2**16, decode_content: bool = True) -> Iterator[bytes]:
        # urllib3's own stream hands a chunked body on chunk by chunk, as it arrives.
        for chunk in self._raw.stream(amt, decode_content=True):
            if chunk:
                self._kept.append(chunk)
                yield chunk
        self._finish()

    def _finish(self) -> None:
        if self._call.done:
            return
        headers = list(self._raw.headers.items())
        self._call.record(self._raw.status, headers, b"".join(self._kept))

    def close(self) -> None:
        try:
            if not self._call.done:  # closed before the end: the rest is still recorded
                while self.read(2**16):
                    pass
        except Exception:  # a broken answer is not recorded; requests reports the error
            pass
        finally:
            self._raw.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


def install(recorder_of: Callable[[], Recorder | None]) -> Callable[[], None] | None:
    """Hook requests' HTTPAdapter.send; the undo function, or None when requests is absent."""
    try:
        import requests
        import urllib3
        from requests.adapters import HTTPAdapter
    except ImportError:
        return None
    original = HTTPAdapter.__dict__["send"]

    def send(self: Any, request: Any, stream: bool = False, *args: Any, **kwargs: Any) -> Any:
        recorder = recorder_of()
        if recorder is None or IN_HTTPX_HOOK.get():
            return original(self, request, stream, *args, **kwargs)
        content = _content(request.body)
        if request.body is not None and not isinstance(request.body, bytes | str):
            request.body = content  # an iterator or file was read for the key: send the bytes
        call = prepare_plain(
            recorder,
            str(request.method),
            str(request.url),
            request.headers.items(),
            content,
            "requests",
        )
        if call is None:
            try:
                return original(self, request, stream, *args, **kwargs)
            except requests.ConnectionError as exc:
                if not passes_through(recorder, str(request.url)):
                    raise
                message = recorder.refused(host_port(str(request.url)))
                raise requests.ConnectionError(message, request=request) from exc
        if call.interaction is not None:
            status, headers, body = replay_parts(call.interaction)
            raw = urllib3.HTTPResponse(
                body=_Body(body),
                headers=urllib3.HTTPHeaderDict(headers),
                status=status,
                preload_content=False,
                decode_content=False,
                request_url=request.url,
            )
            response = self.build_response(request, raw)
        else:
            response = original(self, request, True, *args, **kwargs)
            response.raw = _TeeRaw(response.raw, call)
        if not stream:
            _ = response.content  # read now, as requests does without stream=True
        return response

    HTTPAdapter.send = send  # type: ignore[method-assign]
    return lambda: setattr(HTTPAdapter, "send", original)
