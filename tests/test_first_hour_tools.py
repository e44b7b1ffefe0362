"""A new user's agent calls its tool on 127.0.0.1 (issue 26, point 1).

Loopback hosts pass through live by default (llm_passthrough_hosts), so the tool call is not
recorded. The record run says so in its summary, and in replay, with the tool server gone, the
refused connection is a pytest-llm message naming the host, the ini key and the fix, not a
bare `Connection refused`; an application that catches it gets that message in its miss too.
"""

from __future__ import annotations

import pytest
from fake_provider import FakeProvider
from kit import inner_file, without_keys
from tool_server import ToolServer

AGENT = """
import asyncio

import aiohttp
import httpx
import requests

TOOL = os.environ["TOOL_URL"]


async def weather_aiohttp():
    async with aiohttp.ClientSession() as session:
        async with session.get(TOOL + "/weather", params={"city": "Oslo"}) as reply:
            return await reply.json()


async def weather_async():
    async with httpx.AsyncClient() as client:
        return (await client.get(TOOL + "/weather", params={"city": "Oslo"})).json()


def weather_agent(client_kind="httpx", swallow=False):
    first = ask("What is the weather in Oslo? Use the weather tool.")
    try:
        if client_kind == "httpx":
            tool = httpx.get(TOOL + "/weather", params={"city": "Oslo"}).json()
        elif client_kind == "httpx-async":
            tool = asyncio.run(weather_async())
        elif client_kind == "aiohttp":
            tool = asyncio.run(weather_aiohttp())
        else:
            tool = requests.get(TOOL + "/weather", params={"city": "Oslo"}).json()
    except Exception as exc:
        if not swallow:
            raise
        tool = {"error": str(exc)[:20]}  # an agent hands the tool's error to the model
    return ask(f"{first} The tool said {tool}. Answer the user.")


@pytest.mark.parametrize("client_kind", ["aiohttp", "httpx", "httpx-async", "requests"])
def test_agent(llm, client_kind):
    assert weather_agent(client_kind)


def test_agent_that_catches_tool_errors(llm):
    assert weather_agent(swallow=True)
"""


def _host(tool: ToolServer) -> str:
    return tool.url.removeprefix("http://")


def test_recording_names_the_loopback_tool_it_let_through_unrecorded(
    pytester: pytest.Pytester, inner_env: FakeProvider, tool: ToolServer
) -> None:
    inner_file(pytester, AGENT)
    result = pytester.runpytest("--llm-record=once")
    result.assert_outcomes(passed=5)
    assert len(tool.requests) == 5  # live, as llm_passthrough_hosts says
    result.stdout.fnmatch_lines(
        [
            "not recorded: plain HTTP to these hosts passed through live "
            "(ini llm_passthrough_hosts), so replay needs them running:",
            f"  {_host(tool)}  (5 tests, e.g. test_app.py::test_agent*",
            "  to record them too, set `llm_passthrough_hosts =` (empty) and record again",
        ]
    )
    # Replay with the server up passes and says nothing: the host is meant to be live.
    result = pytester.runpytest()
    result.assert_outcomes(passed=5)
    assert "not recorded:" not in result.stdout.str()


def test_replay_without_the_tool_server_explains_the_refused_connection(
    pytester: pytest.Pytester,
    inner_env: FakeProvider,
    tool: ToolServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inner_file(pytester, AGENT)
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=5)
    tool.stop()
    inner_env.stop()
    without_keys(monkeypatch)

    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=5)
    # The client's own exception type, so the application's handling is unchanged.
    result.stdout.fnmatch_lines(
        [
            "FAILED test_app.py::test_agent[[]aiohttp[]] - aiohttp.client_exceptions.Client*",
            "FAILED test_app.py::test_agent[[]httpx[]] - httpx.ConnectError: pytest-llm: conne*",
            "FAILED test_app.py::test_agent[[]httpx-async[]] - httpx.ConnectError: pytest-llm*",
            "FAILED test_app.py::test_agent[[]requests[]] - requests.exceptions.ConnectionErr*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            f"*pytest-llm: connection to {_host(tool)} refused. Plain HTTP to this host is not "
            "recorded: it passes through live because ini llm_passthrough_hosts lists it "
            "(127.0.0.1, ::1, localhost).",
            "*in replay such a server must be running; to record its answers instead, set "
            "`llm_passthrough_hosts =` (empty) in the ini and record with:",
            "*pytest 'test_app.py::test_agent?httpx?' --llm-record=new_episodes",
        ]
    )
    # aiohttp's error keeps its type and message, and carries the explanation as a note.
    result.stdout.fnmatch_lines(
        [
            "E *aiohttp.client_exceptions.ClientConnectorError: Cannot connect to host *",
            f"E *pytest-llm: connection to {_host(tool)} refused. Plain HTTP to this host*",
        ]
    )
    # The agent that swallowed the error asked the model something nobody recorded: its miss
    # names the refused connection as the cause.
    result.stdout.fnmatch_lines(
        [
            "*pytest-llm: no recording for this call in cassettes/test_app/"
            "test_agent_that_catches_tool_errors.yaml",
            "*earlier in this test:",
            f"*pytest-llm: connection to {_host(tool)} refused.*",
        ]
    )


def test_following_the_advice_records_the_tool_and_replays_it_offline(
    pytester: pytest.Pytester,
    inner_env: FakeProvider,
    tool: ToolServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inner_file(pytester, AGENT)
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=5)
    pytester.makeini("[pytest]\nllm_passthrough_hosts =\n")
    result = pytester.runpytest("--llm-record=new_episodes")
    result.assert_outcomes(passed=5)
    assert "not recorded:" not in result.stdout.str()
    tool.stop()
    inner_env.stop()
    without_keys(monkeypatch)
    pytester.runpytest().assert_outcomes(passed=5)
