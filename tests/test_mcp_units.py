"""The MCP and tool-step core without sockets or processes: server names, message handling,
the replayed process's lifecycle, and the miss messages' other cases."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from pytest_llm.cassettes.cassette import Cassette
from pytest_llm.cassettes.tool_steps import mcp_interaction
from pytest_llm.replay.mcp import MISS_CODE, McpLink
from pytest_llm.replay.mcp_http import looks_like_mcp
from pytest_llm.replay.mcp_stdio import (
    RecordedServer,
    ReplayedServer,
    given_values,
    server_identity,
)
from pytest_llm.replay.recorder import Recorder
from pytest_llm.replay.settings import RecordMode, Settings
from pytest_llm.scrub import SCRUBBED, Scrubber

COMMAND = "pytest tests/test_x.py::test_a"


def _recorder(tmp_path: Path, mode: RecordMode, stored: list[dict[str, object]]) -> Recorder:
    path = tmp_path / "c.yaml"
    cassette = Cassette(path, list(stored) if stored else None)
    settings = Settings(path, mode, frozenset(), COMMAND, test="tests/test_x.py::test_a")
    return Recorder(cassette, settings, Scrubber())


def _recorded(method: str, params: object, result: object, **extra: object) -> dict[str, object]:
    answer = {"result": result}
    messages = list(extra.get("messages", []))  # type: ignore[call-overload]
    return mcp_interaction("calc-mcp", method, params, answer, messages, "t", 0.01)


@pytest.mark.parametrize(
    ("command", "root", "expected"),
    [
        (
            ["/venv/bin/python3.11", "/project/server.py", "--port", "1"],
            "/project",
            "python server.py --port 1",
        ),
        (["/usr/bin/node", "/elsewhere/x.js"], "/project", "node /elsewhere/x.js"),
        ("calc-mcp --quiet", None, "calc-mcp --quiet"),
        ([], None, ""),
    ],
)
def test_a_stdio_server_is_named_portably(command: object, root: str | None, expected: str) -> None:
    assert server_identity(command, root) == expected


@pytest.mark.parametrize(
    ("method", "headers", "content", "expected"),
    [
        (
            "POST",
            {"accept": "application/json, text/event-stream"},
            b'{"jsonrpc": "2.0", "id": 1, "method": "ping"}',
            True,
        ),
        ("GET", {"mcp-session-id": "abc"}, b"", True),
        ("POST", {"accept": "application/json"}, b'{"jsonrpc": "2.0", "id": 1}', False),
        ("POST", {"accept": "text/event-stream"}, b"not json", False),
        ("POST", {"accept": "text/event-stream"}, b'{"model": "x"}', False),
    ],
)
def test_an_mcp_http_message_is_told_apart_from_other_http(
    method: str, headers: dict[str, str], content: bytes, expected: bool
) -> None:
    assert looks_like_mcp(method, headers, content) is expected


def test_replay_answers_with_the_id_asked_now_and_readdresses_progress(tmp_path: Path) -> None:
    progress = {"method": "notifications/progress", "params": {"progressToken": 7, "progress": 1}}
    stored = _recorded(
        "tools/call",
        {"name": "count", "arguments": {"n": 1}, "_meta": {"progressToken": "<token>"}},
        {"content": []},
        messages=[progress],
    )
    link = McpLink(_recorder(tmp_path, RecordMode.NONE, [stored]), "calc-mcp")
    asked = {
        "jsonrpc": "2.0",
        "id": 41,
        "method": "tools/call",
        "params": {"name": "count", "arguments": {"n": 1}, "_meta": {"progressToken": 41}},
    }
    sent = link.answer(asked)
    assert sent[0]["params"]["progressToken"] == 41
    assert sent[1] == {"jsonrpc": "2.0", "id": 41, "result": {"content": []}}
    assert link.answer({"jsonrpc": "2.0", "method": "notifications/initialized"}) == []
    again = link.answer({**asked, "id": 42})  # recorded once, asked twice
    assert again[0]["error"]["code"] == MISS_CODE
    assert "this exact MCP request was recorded 1 time(s) and asked 2 times" in str(again[0])
    assert link.recorder.misses


def test_a_miss_in_a_cassette_not_recorded_yet_says_so(tmp_path: Path) -> None:
    link = McpLink(_recorder(tmp_path, RecordMode.NONE, []), "calc-mcp")
    sent = link.answer({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}})
    message = sent[0]["error"]["message"]
    assert "  the cassette does not exist yet" in message
    assert message.endswith(f"record it with: {COMMAND} --llm-record=once")


def test_recording_pairs_answers_with_requests_and_ignores_the_rest(tmp_path: Path) -> None:
    recorder = _recorder(tmp_path, RecordMode.ALL, [])
    link = McpLink(recorder, "calc-mcp", secrets=["server-secret-123456"])
    link.from_server({"jsonrpc": "2.0", "method": "notifications/message"})  # nothing in flight
    link.from_client({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "x"}})
    link.from_server({"jsonrpc": "2.0", "method": "notifications/progress", "params": {}})
    link.from_server({"jsonrpc": "2.0", "id": 9, "result": {}})  # answers nothing asked
    link.from_server({"jsonrpc": "2.0", "id": 1, "result": {"text": "server-secret-123456"}})
    link.from_server("not a message")
    (stored,) = recorder.stored
    assert stored["response"]["body"] == {"text": SCRUBBED}  # what the server was given
    assert [m["method"] for m in stored["response"]["messages"]] == ["notifications/progress"]
    assert [use.name for use in recorder.tool_uses] == ["x"]


def test_the_replayed_server_exits_when_its_stdin_closes_or_it_is_stopped(tmp_path: Path) -> None:
    link = McpLink(_recorder(tmp_path, RecordMode.NONE, []), "calc-mcp")

    async def lifecycle() -> None:
        server = ReplayedServer(link)
        assert server.pid == -1 and server.stderr is None and server.returncode is None
        await server.stdin.aclose()
        assert await server.wait() == 0
        with pytest.raises(anyio.EndOfStream):
            await server.stdout.receive()
        with pytest.raises(anyio.ClosedResourceError):
            await server.stdin.send(b"{}\n")
        for stop in ("terminate", "kill"):
            other = ReplayedServer(link)
            getattr(other, stop)()
            assert other.returncode is not None and other.returncode < 0
            await other.aclose()
        signalled = ReplayedServer(link)
        signalled.send_signal(15)  # type: ignore[arg-type]
        assert signalled.returncode == -15
        await signalled.stdout.aclose()

    anyio.run(lifecycle)


def test_what_the_application_gives_a_stdio_server_is_secret_but_its_defaults_are_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp-passed-on-from-here-0123")
    env = {"PATH": "/usr/bin", "HOME": "/root", "GITHUB_TOKEN": "ghp-passed-on-from-here-0123"}
    assert given_values(env) == ["ghp-passed-on-from-here-0123"]
    assert given_values(None) == []


def test_steps_and_requested_tool_calls_read_as_a_person_writes_them() -> None:
    from pytest_llm.steps import RequestedToolCall, Step, describe_arguments

    assert str(Step("tool", "add", "mcp", {"a": 1}, 2, replayed=True)) == "tool add via mcp"
    assert str(RequestedToolCall("add", None, 0)) == "add(<invalid JSON>)"
    assert describe_arguments([1, 2]) == "[1, 2]"
    assert describe_arguments({"text": "x" * 200}, width=20) == "text='xxxxxxxxxxx..."


ANSWERING_SERVER = (
    "import sys\n"
    "sys.stdin.readline()\n"
    'sys.stdout.write(\'{"jsonrpc": "2.0", "id": 1, "result": {"pong": true}}\\n\')\n'
    "sys.stdout.flush()\n"
    "sys.stdin.read()\n"
)


def test_a_recorded_server_is_the_live_process_with_its_pipes_read(tmp_path: Path) -> None:
    import sys

    recorder = _recorder(tmp_path, RecordMode.ALL, [])
    link = McpLink(recorder, "python -c ...")

    async def session() -> None:
        live = await anyio.open_process([sys.executable, "-c", ANSWERING_SERVER])
        server = RecordedServer(live, link)
        assert server.pid == live.pid and server.stderr is live.stderr
        await server.stdin.send(b'{"jsonrpc": "2.0", "id": 1, "method": "ping"}\n')
        answer = b""
        while not answer.endswith(b"\n"):
            answer += await server.stdout.receive()
        assert b'"pong"' in answer
        server.terminate()
        assert await server.wait() != 0
        assert server.returncode == live.returncode
        await server.stdin.aclose()
        await server.stdout.aclose()
        await server.aclose()

    anyio.run(session)
    (stored,) = recorder.stored
    assert (stored["request"]["path"], stored["response"]["body"]) == ("ping", {"pong": True})
