"""Plain HTTP (tools, search, images) recorded and replayed beside the model's calls.

An agent-style test asks the fake provider, then calls a tool server through httpx, httpx2,
requests and aiohttp (sync and async). It is recorded with both servers up, then replayed
with both stopped and every socket refused.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import yaml
from fake_provider import FakeProvider
from kit import inner_file, without_keys
from tool_server import DOWNLOAD_CHUNKS, IMAGE, ToolServer

FLAVOURS = ["httpx", "httpx-async", "httpx2", "httpx2-async", "requests", "aiohttp"]

AGENT = """
import asyncio
import base64
import json

import aiohttp
import httpx
import httpx2
import requests

TOOL = os.environ["TOOL_URL"]
PHASE = os.environ["PHASE"]
RESULTS = os.environ["RESULTS_DIR"]


def results(weather, contact, image, missing, download, slow):
    return {
        "weather": weather,
        "contact": contact,
        "image": base64.b64encode(image).decode(),
        "missing": missing,
        "download": download,
        "slow": slow.decode(),
    }


def via_httpx(module):
    with module.Client() as c:
        w = c.get(TOOL + "/weather", params={"units": "metric", "city": "Oslo"})
        p = c.post(TOOL + "/contacts", json={"name": "Ada", "tags": ["vip"]})
        i = c.get(TOOL + "/image.png")
        m = c.get(TOOL + "/nothing-here")
        d = c.get(TOOL + "/download")
        with c.stream("GET", TOOL + "/slow") as s:
            chunks = s.iter_bytes()
            first = next(chunks)
            c.get(TOOL + "/release")
            slow = first + b"".join(chunks)
    return results(
        [w.status_code, w.json()], [p.status_code, p.json()], i.content, m.status_code,
        d.text, slow,
    )


async def via_httpx_async(module):
    async with module.AsyncClient() as c:
        w = await c.get(TOOL + "/weather", params={"units": "metric", "city": "Oslo"})
        p = await c.post(TOOL + "/contacts", json={"name": "Ada", "tags": ["vip"]})
        i = await c.get(TOOL + "/image.png")
        m = await c.get(TOOL + "/nothing-here")
        d = await c.get(TOOL + "/download")
        async with c.stream("GET", TOOL + "/slow") as s:
            chunks = s.aiter_bytes()
            first = await chunks.__anext__()
            await c.get(TOOL + "/release")
            slow = first + b"".join([chunk async for chunk in chunks])
    return results(
        [w.status_code, w.json()], [p.status_code, p.json()], i.content, m.status_code,
        d.text, slow,
    )


def via_requests():
    with requests.Session() as s:
        w = s.get(TOOL + "/weather", params={"units": "metric", "city": "Oslo"})
        p = s.post(TOOL + "/contacts", json={"name": "Ada", "tags": ["vip"]})
        i = s.get(TOOL + "/image.png")
        m = s.get(TOOL + "/nothing-here")
        d = s.get(TOOL + "/download")
        with s.get(TOOL + "/slow", stream=True) as r:
            chunks = r.iter_content(chunk_size=None)
            first = next(chunks)
            s.get(TOOL + "/release")
            slow = first + b"".join(chunks)
    return results(
        [w.status_code, w.json()], [p.status_code, p.json()], i.content, m.status_code,
        d.text, slow,
    )


async def via_aiohttp():
    async with aiohttp.ClientSession() as s:
        async with s.get(TOOL + "/weather", params={"units": "metric", "city": "Oslo"}) as r:
            w = [r.status, await r.json()]
        async with s.post(TOOL + "/contacts", json={"name": "Ada", "tags": ["vip"]}) as r:
            p = [r.status, await r.json()]
        async with s.get(TOOL + "/image.png") as r:
            i = await r.read()
        async with s.get(TOOL + "/nothing-here") as r:
            m = r.status
        async with s.get(TOOL + "/download") as r:
            d = await r.text()
        async with s.get(TOOL + "/slow") as r:
            first = await r.content.readany()
            async with s.get(TOOL + "/release") as released:
                await released.read()
            slow = first + await r.content.read()
    return results(w, p, i, m, d, slow)


def fetch(flavour):
    if flavour == "requests":
        return via_requests()
    if flavour == "aiohttp":
        return asyncio.run(via_aiohttp())
    module = httpx2 if flavour.startswith("httpx2") else httpx
    if flavour.endswith("-async"):
        return asyncio.run(via_httpx_async(module))
    return via_httpx(module)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_agent(llm, flavour):
    assert "Oslo" in ask("What should I wear in Oslo today?")
    got = fetch(flavour)
    path = os.path.join(RESULTS, flavour + ".json")
    if PHASE == "record":
        with open(path, "w") as f:
            json.dump(got, f)
    else:
        with open(path) as f:
            assert got == json.load(f)
    assert [(h.method, h.status) for h in llm.http] == [
        ("GET", 200), ("POST", 201), ("GET", 200), ("GET", 404), ("GET", 200), ("GET", 200),
        ("GET", 200),
    ]
    assert {h.replayed for h in llm.http} == {PHASE == "replay"}
    assert llm.http[0].url.endswith("/weather?units=metric&city=Oslo")
    assert len(llm.calls) == 1 and llm.calls[0].replayed == (PHASE == "replay")
"""

NO_SOCKETS = """
import os
import socket

import pytest


@pytest.fixture(autouse=True)
def _no_sockets(monkeypatch):
    if os.environ.get("PHASE") != "replay":
        return

    def refuse(*args, **kwargs):
        raise OSError("sockets are blocked in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
"""


@pytest.fixture
def agent_project(
    pytester: pytest.Pytester,
    inner_env: FakeProvider,
    tool: ToolServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> pytest.Pytester:
    """An inner project whose tests mix model calls and tool calls, with every host recorded."""
    results = tmp_path / "results"
    results.mkdir()
    monkeypatch.setenv("RESULTS_DIR", str(results))
    pytester.makeini("[pytest]\nllm_passthrough_hosts =\n")
    pytester.makeconftest(NO_SOCKETS)
    inner_file(pytester, AGENT.replace("FLAVOURS", repr(FLAVOURS)))
    return pytester


def _interactions(pytester: pytest.Pytester, flavour: str) -> list[dict]:
    path = pytester.path / "cassettes" / "test_app" / f"test_agent[{flavour}].yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))["interactions"]


def test_model_and_tool_calls_replay_offline_with_every_server_stopped(
    agent_project: pytest.Pytester,
    inner_env: FakeProvider,
    tool: ToolServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PHASE", "record")
    agent_project.runpytest("--llm-record=once").assert_outcomes(passed=len(FLAVOURS))
    assert len(tool.requests) == 7 * len(FLAVOURS)

    inner_env.stop()
    tool.stop()
    without_keys(monkeypatch)
    monkeypatch.setenv("PHASE", "replay")
    for _ in range(2):  # the same answers every run
        result = agent_project.runpytest("--llm-strict")
        result.assert_outcomes(passed=len(FLAVOURS))
    # Images and the rest compared byte for byte with what the recording run received.
    assert len(tool.requests) == 7 * len(FLAVOURS)


def test_the_cassette_shows_both_kinds_readably(
    agent_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PHASE", "record")
    agent_project.runpytest("--llm-record=once").assert_outcomes(passed=len(FLAVOURS))
    for flavour in FLAVOURS:
        interactions = _interactions(agent_project, flavour)
        assert [i["provider"] for i in interactions][:1] == ["openai"]
        plain = [i for i in interactions if i["provider"] == "http"]
        assert len(plain) == 7
        weather, contact, image, missing, download = plain[:5]
        assert weather["request"]["method"] == "GET"
        assert weather["url"].endswith("/weather?units=metric&city=Oslo")
        assert weather["response"]["body"] == {"city": "Oslo", "units": "metric", "temp": 21.5}
        assert contact["request"]["body"] == {"name": "Ada", "tags": ["vip"]}
        assert contact["response"]["status"] == 201
        assert base64.b64decode(image["response"]["base64"]) == IMAGE
        assert "base64" not in json.dumps([weather, contact, missing, download])
        assert missing["response"]["status"] == 404
        assert download["response"]["text"] == b"".join(DOWNLOAD_CHUNKS).decode()
    text = (agent_project.path / "cassettes" / "test_app" / "test_agent[requests].yaml").read_text()
    assert "text: |" in text  # the downloaded lines are block text a reviewer reads
    assert "tool-cookie-secret" not in text


SIMPLE = """
import httpx

TOOL = os.environ["TOOL_URL"]


def test_tool(llm):
    city = os.environ.get("CITY", "Oslo")
    r = httpx.get(
        TOOL + "/weather",
        params={"city": city, "api_key": "tool-query-secret-123"},
        headers={"Authorization": "Bearer tool-header-secret-456"},
    )
    assert r.json()["city"] == os.environ.get("CITY", "Oslo")
    assert [(h.method, h.status, h.replayed) for h in llm.http] == [
        ("GET", 200, os.environ.get("PHASE") == "replay")
    ]
"""


@pytest.fixture
def simple_project(
    pytester: pytest.Pytester,
    inner_env: FakeProvider,
    tool: ToolServer,
    monkeypatch: pytest.MonkeyPatch,
) -> pytest.Pytester:
    """An inner project with one test that calls the tool server once."""
    monkeypatch.setenv("PHASE", "record")
    inner_file(pytester, SIMPLE)
    return pytester


def test_an_unrecorded_tool_call_fails_with_the_request_and_the_nearest_recording(
    simple_project: pytest.Pytester, tool: ToolServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    simple_project.makeini("[pytest]\nllm_passthrough_hosts =\n")
    simple_project.runpytest("--llm-record=once").assert_outcomes(passed=1)
    tool.stop()
    monkeypatch.setenv("PHASE", "replay")
    monkeypatch.setenv("CITY", "Bergen")
    result = simple_project.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*pytest-llm: no recording for this HTTP request in cassettes/test_app/test_tool.yaml",
            "*request: GET http://127.0.0.1:*/weather?city=Bergen",
            "*nearest recorded request (interaction #0) differs in:",
            "*$.query.city: recorded 'Oslo', now 'Bergen'",
            "*record it with: pytest test_app.py::test_tool --llm-record=rewrite",
        ]
    )
    assert len(tool.requests) == 1  # the replay run sent nothing


def test_secrets_in_tool_requests_never_reach_the_cassette(
    simple_project: pytest.Pytester,
) -> None:
    simple_project.makeini("[pytest]\nllm_passthrough_hosts =\n")
    simple_project.runpytest("--llm-record=once").assert_outcomes(passed=1)
    text = (simple_project.path / "cassettes" / "test_app" / "test_tool.yaml").read_text()
    assert "tool-query-secret-123" not in text
    assert "tool-header-secret-456" not in text
    assert "tool-cookie-secret" not in text
    assert "/weather?city=Oslo" in text


@pytest.mark.parametrize(
    "ini", ["", "[pytest]\nllm_record_http = false\nllm_passthrough_hosts =\n"]
)
def test_loopback_by_default_and_everything_with_record_http_off_stays_live(
    simple_project: pytest.Pytester, tool: ToolServer, ini: str
) -> None:
    if ini:
        simple_project.makeini(ini)
    inner_file(
        simple_project,
        """
        import httpx

        def test_tool(llm):
            assert httpx.get(os.environ["TOOL_URL"] + "/weather").status_code == 200
            assert llm.http == []
        """,
    )
    simple_project.runpytest("--llm-record=once").assert_outcomes(passed=1)
    assert not (simple_project.path / "cassettes").exists()  # nothing recorded
    simple_project.runpytest().assert_outcomes(passed=1)  # and it stays live in replay
    assert len(tool.requests) == 2


def test_the_command_line_reads_plain_interactions(
    simple_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_llm.cli import main

    simple_project.makeini("[pytest]\nllm_passthrough_hosts =\n")
    simple_project.runpytest("--llm-record=once").assert_outcomes(passed=1)
    monkeypatch.chdir(simple_project.path)
    cassette = "cassettes/test_app/test_tool.yaml"
    for argv in (["ls", "cassettes"], ["stats", "cassettes"], ["show", cassette]):
        assert main(argv) == 0
    assert main(["diff", cassette, cassette]) == 0
