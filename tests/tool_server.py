"""A small tool server on loopback: what an agent calls besides the model (weather, a CRM, images).

Routes: `GET /weather?city=&units=` (JSON), `POST /contacts` (JSON body, 201), `GET /image.png`
(binary), anything else 404, `GET /download` (a chunked body), and `GET /slow` with
`GET /release`: `/slow` sends its first chunk and holds the rest until `/release` is asked (or
10 s pass), so a test can prove a client saw the first chunk before the body ended.
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

# A real PNG header and bytes that are not UTF-8: the body must round-trip byte for byte.
IMAGE = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) + hashlib.sha256(b"tool").digest()
DOWNLOAD_CHUNKS = [b"line one\n", b"line two\n", b"line three\n"]


class ToolServer:
    """The server and what it saw; a context manager that starts and stops it."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.released = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Set-Cookie", "session=tool-cookie-secret")
                self.end_headers()
                self.wfile.write(body)

            def _json(self, status: int, value: Any) -> None:
                self._send(status, json.dumps(value).encode(), "application/json")

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def do_GET(self) -> None:
                self._handle("GET", b"")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self._handle("POST", self.rfile.read(length))

            def _handle(self, method: str, body: bytes) -> None:
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                server.requests.append(
                    {"method": method, "path": url.path, "query": query, "body": body}
                )
                if url.path == "/weather":
                    city = query.get("city", "?")
                    self._json(200, {"city": city, "units": query.get("units"), "temp": 21.5})
                elif url.path == "/contacts" and method == "POST":
                    self._json(201, {"id": 7, "saved": json.loads(body)})
                elif url.path == "/image.png":
                    self._send(200, IMAGE, "image/png")
                elif url.path == "/download":
                    self._stream(DOWNLOAD_CHUNKS, wait=False)
                elif url.path == "/slow":
                    self._stream([b"first chunk\n"], wait=True)
                elif url.path == "/release":
                    server.released.set()
                    self._json(200, {"released": True})
                else:
                    self._json(404, {"error": f"no route {url.path}"})

            def _stream(self, chunks: list[bytes], *, wait: bool) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for chunk in chunks:
                    self._chunk(chunk)
                if wait:
                    released = server.released.wait(10)
                    self._chunk(b"released\n" if released else b"timed out\n")
                    server.released.clear()
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The server's base URL."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> ToolServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop serving and close the listening socket: later connections are refused."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()
