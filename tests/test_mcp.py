"""MCP servers recorded and replayed through the official `mcp` SDK's client session: over
stdio (the server is a command on PATH, removed from PATH for the replay) and over
streamable HTTP (the server is stopped for the replay), with the network blocked."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from fake_provider import FakeProvider
from kit import MCP_TOKEN as TOKEN
from kit import all_text, inner_file
from mcp_server import McpHttpServer

CLIENT = """
import asyncio
import json

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client


async def stdio_session(work):
    params = StdioServerParameters(
        command="calc-mcp", args=["--quiet"], env={"CALC_TOKEN": os.environ["CALC_TOKEN"]}
    )
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            return await work(session)


async def http_session(work):
    async with streamable_http_client(os.environ["MCP_URL"]) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            return await work(session)


async def calculate(session):
    tools = await session.list_tools()
    added = await session.call_tool("add", {"a": int(os.environ.get("ADD_A", "2")), "b": 3})
    progress = []

    async def seen(value, total, message):
        progress.append(value)

    counted = await session.call_tool("count", {"n": 3}, progress_callback=seen)
    length = await session.call_tool("token_length", {})
    return {
        "tools": sorted(t.name for t in tools.tools),
        "added": added.structured_content,
        "counted": counted.content[0].text,
        "progress": progress,
        "length": length.structured_content,
    }


EXPECTED = {
    "tools": ["add", "count", "shout", "token_length"],
    "added": {"result": 5},
    "counted": "counted to 3",
    "progress": [1.0, 2.0, 3.0],
    "length": {"result": len(os.environ["CALC_TOKEN"])},
}
"""


def _cassette(pytester: pytest.Pytester, test: str) -> list[dict[str, object]]:
    path = pytester.path / "cassettes" / "test_app" / f"{test}.yaml"
    return list(yaml.safe_load(path.read_text())["interactions"])


def test_a_stdio_server_replays_with_its_command_gone_and_nothing_spawned(
    pytester: pytest.Pytester, inner_env: FakeProvider, calc_on_path: Path
) -> None:
    inner_file(
        pytester,
        CLIENT
        + """
def test_stdio(llm):
    assert asyncio.run(stdio_session(calculate)) == EXPECTED
    tools = [(s.name, s.via, s.input, s.output["structuredContent"]) for s in llm.steps]
    assert tools == [
        ("add", "mcp", {"a": 2, "b": 3}, {"result": 5}),
        ("count", "mcp", {"n": 3}, {"result": "counted to 3"}),
        ("token_length", "mcp", {}, {"result": len(os.environ["CALC_TOKEN"])}),
    ]
""",
    )
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    stored = _cassette(pytester, "test_stdio")
    assert [(i["provider"], i["server"], i["request"]["path"]) for i in stored] == [
        ("mcp", "calc-mcp --quiet", "initialize"),
        ("mcp", "calc-mcp --quiet", "tools/list"),
        ("mcp", "calc-mcp --quiet", "tools/call"),
        ("mcp", "calc-mcp --quiet", "tools/call"),
        ("mcp", "calc-mcp --quiet", "tools/call"),
    ]
    assert [m["method"] for m in stored[3]["response"]["messages"]] == [
        "notifications/progress"
    ] * 3
    assert TOKEN not in all_text(pytester.path / "cassettes")
    (calc_on_path / "calc-mcp").unlink()  # the server cannot be started any more
    result = pytester.runpytest("--llm-block-network", "--llm-strict", "--llm-report=r.md")
    result.assert_outcomes(passed=1)
    assert "1. tool add via mcp (a=2, b=3)\n" in (pytester.path / "r.md").read_text()


def test_a_streamable_http_server_replays_stopped_with_no_id_or_session_in_any_key(
    pytester: pytest.Pytester, inner_env: FakeProvider, mcp_http: McpHttpServer
) -> None:
    inner_file(
        pytester,
        CLIENT
        + """
def test_http(llm):
    assert asyncio.run(http_session(calculate)) == EXPECTED
    assert [(s.kind, s.name, s.via) for s in llm.steps] == [
        ("tool", "add", "mcp"), ("tool", "count", "mcp"), ("tool", "token_length", "mcp"),
    ]
""",
    )
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    stored = _cassette(pytester, "test_http")
    assert {i["server"] for i in stored} == {mcp_http.url.replace("/mcp", "/mcp")}
    assert [i["request"]["path"] for i in stored] == [
        "initialize",
        "tools/list",
        "tools/call",
        "tools/call",
        "tools/call",
    ]
    text = all_text(pytester.path / "cassettes")
    assert "mcp-session-id" not in text.lower()
    assert '"id"' not in text and "\nid:" not in text
    mcp_http.stop()
    result = pytester.runpytest("--llm-block-network", "--llm-strict")
    result.assert_outcomes(passed=1)


def test_a_changed_tool_argument_is_a_miss_naming_the_param_and_the_record_command(
    pytester: pytest.Pytester,
    inner_env: FakeProvider,
    calc_on_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inner_file(
        pytester,
        CLIENT
        + """
def test_stdio(llm):
    asyncio.run(stdio_session(calculate))
""",
    )
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    (calc_on_path / "calc-mcp").unlink()
    monkeypatch.setenv("ADD_A", "7")
    result = pytester.runpytest("--llm-block-network")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*pytest-llm: no recording of this MCP request in cassettes*test_stdio.yaml",
            "*  server: calc-mcp --quiet",
            "*  request: tools/call add",
            "*  nearest recorded MCP request (interaction #2) differs in:",
            "*    $.params.arguments.a: recorded 2, now 7",
            "*  record it with: pytest test_app.py::test_stdio --llm-record=new_episodes",
        ]
    )


def test_credentials_sent_to_an_http_server_never_reach_the_cassette(
    pytester: pytest.Pytester, inner_env: FakeProvider, mcp_http: McpHttpServer
) -> None:
    inner_file(
        pytester,
        CLIENT
        + """
import httpx2


async def with_credentials():
    headers = {"Authorization": f"Bearer {os.environ['CALC_TOKEN']}"}
    async with httpx2.AsyncClient(headers=headers) as client:
        async with streamable_http_client(os.environ["MCP_URL"], http_client=client) as (r, w):
            async with ClientSession(r, w) as session:
                await session.initialize()
                return await session.call_tool("shout", {"text": os.environ["CALC_TOKEN"]})


def test_http(llm):
    result = asyncio.run(with_credentials())
    assert result.structured_content == {"result": os.environ["CALC_TOKEN"].upper()}
""",
    )
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    text = all_text(pytester.path / "cassettes")
    assert TOKEN not in text
    assert "shout" in text


def test_an_agent_with_every_kind_of_tool_replays_with_nothing_started(
    pytester: pytest.Pytester,
    inner_env: FakeProvider,
    calc_on_path: Path,
    mcp_http: McpHttpServer,
    tool: object,
) -> None:
    pytester.makeini("[pytest]\nllm_passthrough_hosts =\n")
    inner_file(
        pytester,
        CLIENT
        + """
import httpx

import pytest_llm
from pytest_llm import assert_tool_calls

FUNCTIONS = [
    {"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
    for n in ("add", "shout", "double", "weather")
]


@pytest_llm.tool
def double(n):
    return n * 2


PLAN = "agent: add(a=2,b=3) shout(text=hi) double(n=4) weather"


async def run_agent(stdio, http):
    messages = [{"role": "user", "content": PLAN}]
    while True:
        reply = oa.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=FUNCTIONS)
        message = reply.choices[0].message
        if not message.tool_calls:
            return message.content
        messages.append(message.model_dump(exclude_none=True))
        for call in message.tool_calls:
            name, args = call.function.name, json.loads(call.function.arguments)
            if name == "add":
                result = (await stdio.call_tool("add", args)).structured_content
            elif name == "shout":
                result = (await http.call_tool("shout", args)).structured_content
            elif name == "double":
                result = double(**args)
            else:
                result = httpx.get(os.environ["TOOL_URL"] + "/weather").json()
            messages.append(
                {"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)}
            )


def test_agent(llm):
    async def both(stdio):
        return await http_session(lambda http: run_agent(stdio, http))

    answer = asyncio.run(stdio_session(both))
    assert "done after 4 tool call(s)" in answer
    assert_tool_calls(llm, ["add", "shout", "double", "weather"], order="exact")
    assert [(s.kind, s.via) for s in llm.steps] == [
        ("model", "openai"), ("tool", "mcp"), ("model", "openai"), ("tool", "mcp"),
        ("model", "openai"), ("tool", "function"), ("model", "openai"), ("tool", "http"),
        ("model", "openai"),
    ]
""",
    )
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    (calc_on_path / "calc-mcp").unlink()
    mcp_http.stop()
    tool.stop()  # type: ignore[attr-defined]
    inner_env.stop()
    result = pytester.runpytest("--llm-block-network", "--llm-strict")
    result.assert_outcomes(passed=1)


def test_replaying_mcp_and_tools_makes_no_file_import_or_process_call_on_the_event_loop(
    pytester: pytest.Pytester,
    inner_env: FakeProvider,
    calc_on_path: Path,
    mcp_http: McpHttpServer,
) -> None:
    inner_file(
        pytester,
        CLIENT
        + """
import sys
import threading

import pytest_llm

WATCHED = ("open", "import", "subprocess.Popen", "os.listdir", "os.scandir", "os.mkdir")
seen = []
loop_thread = []


def audit(event, args):
    if event not in WATCHED or threading.get_ident() not in loop_thread:
        return
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_globals.get("__name__", "").startswith("pytest_llm"):
            seen.append((event, frame.f_globals["__name__"], frame.f_code.co_name))
            return
        frame = frame.f_back


sys.addaudithook(audit)


@pytest_llm.tool
async def double(n):
    return n * 2


async def everything():
    loop_thread.append(threading.get_ident())
    try:
        await stdio_session(calculate)
        await http_session(calculate)
        assert await double(4) == 8
    finally:
        loop_thread.clear()


def test_async(llm):
    asyncio.run(everything())
    # Recording, the SDK's own spawn passes through pytest-llm's hook: only replay is ours.
    replaying = all(step.replayed for step in llm.steps)
    assert not replaying or seen == [], seen
    assert {where for _, _, where in seen} <= {"open_process"}
""",
    )
    pytester.runpytest_subprocess("--llm-record=once").assert_outcomes(passed=1)
    (calc_on_path / "calc-mcp").unlink()
    mcp_http.stop()
    pytester.runpytest_subprocess("--llm-block-network", "--llm-strict").assert_outcomes(passed=1)
