"""MCP servers over stdio, recorded and replayed where they are spawned: `anyio.open_process`.

The SDK's `stdio_client` (and every framework built on it) spawns the server through
`anyio.open_process`, looked up on the `anyio` module at each call, so one hook covers
clients whatever name they imported. It is the seam because the spawn itself must not
happen in replay: the hook hands the SDK a process of our own whose stdout answers each
JSON-RPC line written to its stdin from the cassette. Recording, the real process runs and
its pipes are read as they pass. Only spawns made from the `mcp` package are touched; any
other subprocess of the test runs as it would.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
from collections.abc import Callable, Mapping
from types import FrameType
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import ByteReceiveStream, ByteSendStream, Process

from pytest_llm.replay.mcp import McpLink

if TYPE_CHECKING:
    from signal import Signals

    from pytest_llm.replay.recorder import Recorder

_PYTHON = re.compile(r"^python[\d.]*(\.exe)?$", re.IGNORECASE)


def server_identity(command: Any, root: Any = None) -> str:
    """How a stdio server is named in the cassette: its command and arguments, portable.

    The interpreter is `python` whatever its path or version, and a path argument under the
    project's root (else the working folder) is written relative to it, so a cassette recorded
    on one machine replays on another (CI's checkout, another virtualenv).
    """
    if isinstance(command, str | bytes):
        return os.fsdecode(command)
    parts = [os.fsdecode(part) for part in command]
    if not parts:
        return ""
    program = os.path.basename(parts[0])
    if _PYTHON.match(program):
        program = "python"
    base = os.fsdecode(root) if root else os.getcwd()
    args = [_portable(arg, base) for arg in parts[1:]]
    return " ".join([program, *args])


def _portable(arg: str, base: str) -> str:
    if os.path.isabs(arg):
        relative = os.path.relpath(arg, base)
        if not relative.startswith(".."):
            return relative
    return arg


# What the SDK's stdio client passes on from this process's own environment by default (the
# rest of a server's environment is what the application gave it: its keys and tokens).
_INHERITED = frozenset(
    {"HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER", "APPDATA", "HOMEDRIVE", "HOMEPATH"}
    | {"LOCALAPPDATA", "PATHEXT", "PROCESSOR_ARCHITECTURE", "SYSTEMDRIVE", "SYSTEMROOT"}
    | {"TEMP", "USERNAME", "USERPROFILE"}
)


def given_values(env: Mapping[str, str] | None) -> list[str]:
    """The environment values the application gave the server, never to be written: every
    value but the few the SDK inherits by default (even one this process has too, such as a
    key passed on from its own environment)."""
    return [value for name, value in (env or {}).items() if name.upper() not in _INHERITED]


def _spawned_by_mcp() -> bool:
    """Whether the caller of open_process is the `mcp` SDK (its stdio client)."""
    frame: FrameType | None = sys._getframe(2)
    for _ in range(3):
        if frame is None:
            return False
        if str(frame.f_globals.get("__name__", "")).split(".")[0] == "mcp":
            return True
        frame = frame.f_back
    return False


def _lines(buffer: bytearray, chunk: bytes) -> list[Any]:
    """The JSON messages completed by `chunk` (partial lines wait in `buffer`)."""
    buffer += chunk
    messages = []
    while (end := buffer.find(b"\n")) >= 0:
        line = bytes(buffer[:end]).strip()
        del buffer[: end + 1]
        if line:
            try:
                messages.append(json.loads(line))
            except ValueError:
                continue  # not JSON-RPC: the client's own parse reports it
    return messages


class _ReplayStdin(ByteSendStream):
    def __init__(self, process: ReplayedServer) -> None:
        self._process = process
        self._buffer = bytearray()

    async def send(self, item: bytes) -> None:
        if self._process.returncode is not None:
            raise anyio.ClosedResourceError
        for message in _lines(self._buffer, item):
            for answer in self._process.link.answer(message):
                line = json.dumps(answer, ensure_ascii=False) + "\n"
                await self._process.out.send(line.encode())

    async def aclose(self) -> None:
        self._process.exit(0)  # a server exits when its stdin closes


class _ReplayStdout(ByteReceiveStream):
    def __init__(self, process: ReplayedServer) -> None:
        self._process = process

    async def receive(self, max_bytes: int = 65536) -> bytes:
        try:
            return await self._process.out_reader.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise anyio.EndOfStream from None

    async def aclose(self) -> None:
        self._process.out_reader.close()


class ReplayedServer(Process):
    """A stdio MCP server played back from the cassette: nothing is spawned."""

    def __init__(self, link: McpLink) -> None:
        self.link = link
        self.out, self.out_reader = anyio.create_memory_object_stream[bytes](math.inf)
        self._returncode: int | None = None
        self._stdin = _ReplayStdin(self)
        self._stdout = _ReplayStdout(self)
        self._exited = anyio.Event()

    def exit(self, code: int) -> None:
        if self._returncode is None:
            self._returncode = code
            self.out.close()
            self._exited.set()

    async def wait(self) -> int:
        await self._exited.wait()
        return self._returncode or 0

    def terminate(self) -> None:
        self.exit(-15)

    def kill(self) -> None:
        self.exit(-9)

    def send_signal(self, signal: Signals) -> None:
        self.exit(-int(signal))

    @property
    def pid(self) -> int:
        return -1  # no process: nothing may be signalled in its name

    @property
    def returncode(self) -> int | None:
        return self._returncode

    @property
    def stdin(self) -> ByteSendStream:
        return self._stdin

    @property
    def stdout(self) -> ByteReceiveStream:
        return self._stdout

    @property
    def stderr(self) -> ByteReceiveStream | None:
        return None

    async def aclose(self) -> None:
        self.exit(0)
        self.out_reader.close()


class _TeeStdin(ByteSendStream):
    def __init__(self, live: ByteSendStream, link: McpLink) -> None:
        self._live, self._link = live, link
        self._buffer = bytearray()

    async def send(self, item: bytes) -> None:
        for message in _lines(self._buffer, item):
            self._link.from_client(message)
        await self._live.send(item)

    async def aclose(self) -> None:
        await self._live.aclose()


class _TeeStdout(ByteReceiveStream):
    def __init__(self, live: ByteReceiveStream, link: McpLink) -> None:
        self._live, self._link = live, link
        self._buffer = bytearray()

    async def receive(self, max_bytes: int = 65536) -> bytes:
        chunk = await self._live.receive(max_bytes)
        for message in _lines(self._buffer, chunk):
            self._link.from_server(message)
        return chunk

    async def aclose(self) -> None:
        await self._live.aclose()


class RecordedServer(Process):
    """The live server process, its pipes read by the recorder as they pass."""

    def __init__(self, live: Process, link: McpLink) -> None:
        self._live = live
        assert live.stdin is not None and live.stdout is not None  # spawned with pipes
        self._stdin = _TeeStdin(live.stdin, link)
        self._stdout = _TeeStdout(live.stdout, link)

    def __getattr__(self, name: str) -> Any:
        # What else the SDK looks at on its process (its transport, to close it) is the live one's.
        return getattr(self._live, name)

    async def wait(self) -> int:
        return await self._live.wait()

    def terminate(self) -> None:
        self._live.terminate()

    def kill(self) -> None:
        self._live.kill()

    def send_signal(self, signal: Signals) -> None:
        self._live.send_signal(signal)

    @property
    def pid(self) -> int:
        return self._live.pid

    @property
    def returncode(self) -> int | None:
        return self._live.returncode

    @property
    def stdin(self) -> ByteSendStream:
        return self._stdin

    @property
    def stdout(self) -> ByteReceiveStream:
        return self._stdout

    @property
    def stderr(self) -> ByteReceiveStream | None:
        return self._live.stderr

    async def aclose(self) -> None:
        await self._live.aclose()


def install(source: Callable[[], Recorder | None]) -> Callable[[], None]:
    """Hook `anyio.open_process` for the run; returns the undo."""
    original = anyio.open_process

    async def open_process(command: Any, **kwargs: Any) -> Process:
        recorder = source()
        if recorder is None or not _spawned_by_mcp():
            return await original(command, **kwargs)
        server = server_identity(command, recorder.settings.root)
        link = McpLink(recorder, server, given_values(kwargs.get("env")))
        if not recorder.can_record:
            return ReplayedServer(link)
        return RecordedServer(await original(command, **kwargs), link)

    anyio.open_process = open_process

    def restore() -> None:
        anyio.open_process = original

    return restore
