"""The network guard, proven at the socket layer.

An audit hook inside the inner run logs every "socket.getaddrinfo" and "socket.connect"
event (the C socket module raises them before any name lookup or connect system call),
so replay is shown to make no connection at all. For --llm-block-network, a real listener
on a non-loopback address of this machine counts the connections that arrive: none with
the guard, every attempt without it.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_provider import FakeProvider

# The hook is added in the test body, after the plugin's own guard; it stays in the
# process (audit hooks cannot be removed), so it logs only while LLM_AUDIT_LOG still names
# the file it was added for.
SUITE = """
import asyncio
import os
import socket
import sys

import _socket
import anthropic
import httpx2
import openai
import pytest


def audit_connections():
    log = os.environ["LLM_AUDIT_LOG"]

    def hook(event, args):
        if os.environ.get("LLM_AUDIT_LOG") != log:
            return
        if event == "socket.connect":
            with open(log, "a") as f:
                f.write(f"connect {args[1]!r}\\n")
        elif event == "socket.getaddrinfo":
            with open(log, "a") as f:
                f.write(f"getaddrinfo {args[0]!r}\\n")

    sys.addaudithook(hook)


def test_calls(llm):
    audit_connections()
    # without FAKE_* the clients talk to api.openai.com and api.anthropic.com
    oa = openai.OpenAI(base_url=os.environ.get("FAKE_OPENAI_BASE_URL"), max_retries=0)
    an = anthropic.Anthropic(base_url=os.environ.get("FAKE_ANTHROPIC_BASE_URL"), max_retries=0)
    messages = [{"role": "user", "content": "hello"}]
    oa.chat.completions.create(model="gpt-4o-mini", messages=messages)
    list(oa.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True))
    an.messages.create(model="claude-haiku-4-5", max_tokens=9, messages=messages)

    async def async_call():
        client = openai.AsyncOpenAI(base_url=os.environ.get("FAKE_OPENAI_BASE_URL"))
        await client.chat.completions.create(model="gpt-4o-mini", messages=messages)

    asyncio.run(async_call())
    assert len(llm.calls) == 4


@pytest.mark.llm
def test_escapes():
    audit_connections()
    host, port = os.environ["LISTENER_HOST"], int(os.environ["LISTENER_PORT"])

    def python_socket():
        socket.create_connection((host, port), timeout=2).close()

    def c_socket():
        raw = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
        raw.settimeout(2)
        try:
            raw.connect((host, port))
        finally:
            raw.close()

    def asyncio_stream():
        async def connect():
            _, writer = await asyncio.open_connection(host, port)
            writer.close()

        asyncio.run(connect())

    def http_client():
        try:
            httpx2.get(f"http://{host}:{port}/", timeout=2)
        # The listener hangs up at once: depending on timing the client sees the close or a
        # reset. Either way it had connected (a refused connection raises ConnectError).
        except (httpx2.RemoteProtocolError, httpx2.ReadError):
            pass

    outcomes = []
    for attempt in (python_socket, c_socket, asyncio_stream, http_client):
        try:
            attempt()
            outcomes.append(f"{attempt.__name__}: connected")
        except Exception as exc:
            blocked = "--llm-block-network refused a connection to" in repr(exc.__context__ or exc)
            blocked = blocked or "--llm-block-network refused a connection to" in str(exc)
            outcomes.append(f"{attempt.__name__}: {'refused' if blocked else repr(exc)}")
    # loopback stays open: the fake provider answers
    socket.create_connection(("127.0.0.1", int(os.environ["FAKE_PORT"])), timeout=2).close()
    with open("outcomes.txt", "w") as f:
        f.write("\\n".join(outcomes))
"""


def log_of(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_replay_makes_no_connection_and_no_name_lookup(
    pytester: pytest.Pytester, inner_env: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_net=SUITE)
    recording = pytester.path / "record.log"
    monkeypatch.setenv("LLM_AUDIT_LOG", str(recording))
    pytester.runpytest("--llm-record=once", "-k", "test_calls").assert_outcomes(passed=1)
    port = inner_env.url.rsplit(":", 1)[1]
    # The hook sees what recording does: connections to the provider.
    assert f"connect ('127.0.0.1', {port})" in log_of(recording)

    inner_env.stop()
    for name in ("FAKE_OPENAI_BASE_URL", "FAKE_ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name)
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(name)
    replaying = pytester.path / "replay.log"
    monkeypatch.setenv("LLM_AUDIT_LOG", str(replaying))
    pytester.runpytest("-k", "test_calls").assert_outcomes(passed=1)
    assert log_of(replaying) == []  # not api.openai.com, not api.anthropic.com, nothing


def outward_address() -> str:
    """An address of this machine that is not loopback (the one it would route out by)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.123", 9))  # UDP: picks a route, sends nothing
        address = str(probe.getsockname()[0])
    except OSError:
        address = ""
    finally:
        probe.close()
    if not address or address.startswith("127."):
        pytest.skip("this machine has no non-loopback address to listen on")
    return address


@pytest.fixture
def listener() -> Iterator[tuple[str, int, list[object]]]:
    """A TCP listener on a non-loopback address that counts and drops what connects."""
    server = socket.create_server((outward_address(), 0))
    server.settimeout(0.1)
    arrived: list[object] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, peer = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            arrived.append(peer)
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    host, port = server.getsockname()[:2]
    yield host, port, arrived
    stop.set()
    thread.join()
    server.close()


@pytest.mark.parametrize("block", [True, False], ids=["blocked", "control"])
def test_block_network_refuses_every_non_loopback_connection(
    pytester: pytest.Pytester,
    inner_env: FakeProvider,
    monkeypatch: pytest.MonkeyPatch,
    listener: tuple[str, int, list[object]],
    block: bool,
) -> None:
    host, port, arrived = listener
    pytester.makepyfile(test_net=SUITE)
    # This is about the network guard: plain HTTP stays live, as before it was recorded.
    pytester.makeini("[pytest]\nllm_record_http = false\n")
    audit = pytester.path / "audit.log"
    monkeypatch.setenv("LLM_AUDIT_LOG", str(audit))
    monkeypatch.setenv("LISTENER_HOST", host)
    monkeypatch.setenv("LISTENER_PORT", str(port))
    monkeypatch.setenv("FAKE_PORT", inner_env.url.rsplit(":", 1)[1])
    args = ["--llm-block-network"] if block else []
    pytester.runpytest("-k", "test_escapes", *args).assert_outcomes(passed=1)
    outcomes = (pytester.path / "outcomes.txt").read_text().splitlines()
    ways = ["python_socket", "c_socket", "asyncio_stream", "http_client"]
    attempts = [line for line in log_of(audit) if line.startswith(f"connect ('{host}'")]
    deadline = time.monotonic() + (0.3 if block else 5.0)  # let the listener accept them
    while time.monotonic() < deadline and len(arrived) < len(ways):
        time.sleep(0.02)
    if block:
        assert outcomes == [f"{way}: refused" for way in ways]
        assert arrived == []
        assert attempts == []  # refused before the socket layer's connect
    else:  # the same attempts, unguarded, really connect: the test above can fail
        assert outcomes == [f"{way}: connected" for way in ways]
        assert len(arrived) == len(ways)
        assert len(attempts) == len(ways)
