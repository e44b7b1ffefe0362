"""A small MCP server for the tests, built with the official `mcp` SDK.

`python mcp_server.py` serves it over stdio; `McpHttpServer` serves it over streamable HTTP
on 127.0.0.1 in a thread of the test process. Its `secret` tool answers with the value of
CALC_TOKEN, so a test can check that what a server is given never reaches a cassette.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
from types import TracebackType

from mcp.server import MCPServer
from mcp.server.mcpserver import Context

server = MCPServer("calc")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def shout(text: str) -> str:
    """The text in capitals."""
    return text.upper()


@server.tool()
async def count(n: int, ctx: Context) -> str:
    """Count to n, reporting progress on the way."""
    for step in range(1, n + 1):
        await ctx.report_progress(step, n)
    return f"counted to {n}"


@server.tool()
def token_length() -> int:
    """The length of the token the server was started with (never the token itself)."""
    return len(os.environ.get("CALC_TOKEN", ""))


class McpHttpServer:
    """The server over streamable HTTP, on a socket bound before the thread starts (a client
    connecting early waits in the backlog: nothing to poll)."""

    def __init__(self) -> None:
        import uvicorn

        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(16)
        port = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/mcp"
        app = server.streamable_http_app(host="127.0.0.1")
        config = uvicorn.Config(app, log_level="warning", lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def __enter__(self) -> McpHttpServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: the next connection is refused."""
        if self._thread.is_alive():
            self._server.should_exit = True
            self._thread.join()
        self._socket.close()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


if __name__ == "__main__":
    sys.exit(server.run())
