"""pytest-llm never blocks a running event loop (SPEC "Async").

Async tests of both SDKs (streams too), plain HTTP through httpx and aiohttp, a stale
recording, faults and misses, recorded then replayed under BlockBuster (any blocking call on
the loop's thread fails the test) and under `loop_guard` (any file, folder, import or process
call that pytest-llm makes there fails it).
"""

from __future__ import annotations

import re

import loop_guard
import pytest
from fake_provider import FakeProvider
from kit import without_keys
from tool_server import ToolServer

CONFTEST = """
import gc
import os

import anthropic
import loop_guard
import openai
import pytest
from blockbuster import blockbuster_ctx


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def clients():
    # Built off the loop, one pair per test: each test has an event loop of its own.
    return (
        openai.AsyncOpenAI(base_url=os.environ["FAKE_OPENAI_BASE_URL"], max_retries=2),
        anthropic.AsyncAnthropic(base_url=os.environ["FAKE_ANTHROPIC_BASE_URL"], max_retries=2),
    )


@pytest.fixture(autouse=True)
def _nothing_blocks_the_loop():
    loop_guard.violations.clear()
    loop_guard.active = True
    try:
        with blockbuster_ctx():
            yield
    finally:
        loop_guard.active = False
        # The clients' sockets are finalized here, not in the middle of whatever runs next
        # (CPython 3.11's ast.parse fails when a finalizer parses during its conversion).
        gc.collect()
    assert not loop_guard.violations, loop_guard.violations
"""

TESTS = """
import os

import aiohttp
import httpx
import pytest

pytestmark = pytest.mark.anyio
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Name a river"}]}


@pytest.mark.llm
async def test_openai(llm, clients):
    oa, _ = clients
    reply = await oa.chat.completions.create(**CHAT)
    assert reply.choices[0].message.content.startswith("[gpt-4o-mini] reply to: Name a river")
    stream = await oa.chat.completions.create(**CHAT, stream=True)
    chunks = [c async for c in stream]
    assert len(chunks) > 2
    response = await oa.responses.create(model="gpt-4o-mini", input="Name a lake")
    assert "Name a lake" in response.output_text


@pytest.mark.llm
async def test_anthropic(llm, clients):
    _, an = clients
    ask = {"model": "claude-haiku-4-5", "max_tokens": 50}
    reply = await an.messages.create(**ask, messages=[{"role": "user", "content": "Hello"}])
    assert "Hello" in reply.content[0].text
    async with an.messages.stream(**ask, messages=[{"role": "user", "content": "Count"}]) as s:
        final = await s.get_final_message()
    assert "Count" in final.content[0].text


@pytest.mark.llm
async def test_plain_http(llm):
    async with httpx.AsyncClient() as client:
        weather = (await client.get(os.environ["TOOL_URL"] + "/weather?city=Oslo")).json()
    async with aiohttp.ClientSession() as session:
        async with session.get(os.environ["TOOL_URL"] + "/weather?city=Rome") as reply:
            rome = await reply.json()
    assert (weather["city"], rome["city"]) == ("Oslo", "Rome")
    assert len(llm.http) == 2


@pytest.mark.llm(cassette="test_app/test_openai", match_on=["model"])
async def test_stale(llm, clients):
    oa, _ = clients
    changed = {**CHAT, "messages": [{"role": "user", "content": "Name a sea"}]}
    await oa.chat.completions.create(**changed)
    assert llm.calls[0].stale and llm.calls[0].stale_diff


@pytest.mark.llm(cassette="test_app/test_openai")
@pytest.mark.llm_faults("rate_limit", "server_error")
async def test_faults_then_retry(llm, clients):
    oa, _ = clients
    await oa.chat.completions.create(**CHAT)
    assert [call.fault for call in llm.calls] == ["rate_limit", "server_error", None]


@pytest.mark.llm(cassette="test_app/test_anthropic")
@pytest.mark.llm_faults("overloaded", "timeout")
async def test_anthropic_faults_then_retry(llm, clients):
    _, an = clients
    reply = await an.messages.create(
        model="claude-haiku-4-5", max_tokens=50, messages=[{"role": "user", "content": "Hello"}]
    )
    assert "Hello" in reply.content[0].text
    assert [call.fault for call in llm.calls] == ["overloaded", "timeout", None]


@pytest.mark.llm(cassette="test_app/test_openai")
@pytest.mark.llm_faults("stream_cut")
async def test_stream_cut(llm, clients):
    oa, _ = clients
    with pytest.raises(Exception):
        stream = await oa.chat.completions.create(**CHAT, stream=True)
        async for _ in stream:
            pass
    assert llm.calls[0].fault == "stream_cut"


@pytest.mark.llm(cassette="test_app/test_openai")
async def test_model_miss(llm, clients):
    oa, _ = clients
    await oa.chat.completions.create(**{**CHAT, "model": "gpt-4.1"})


@pytest.mark.llm(cassette="test_app/test_plain_http")
async def test_http_miss(llm):
    async with aiohttp.ClientSession() as session:
        await session.get(os.environ["TOOL_URL"] + "/weather?city=Lima")
"""
MISSES = ["test_app.py::test_model_miss", "test_app.py::test_http_miss"]
RECORDED = ["test_openai", "test_anthropic", "test_plain_http"]


def test_async_calls_never_block_the_loop_in_record_replay_stale_faults_and_misses(
    pytester: pytest.Pytester,
    inner_env: FakeProvider,
    tool: ToolServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_app=TESTS)
    pytester.makeini("[pytest]\nllm_passthrough_hosts =\n")  # the tool server is recorded too
    recorded = pytester.runpytest("--llm-record=once", *(f"test_app.py::{n}" for n in RECORDED))
    recorded.assert_outcomes(passed=len(RECORDED))
    assert len(inner_env.requests) == 5 and len(tool.requests) == 2

    inner_env.stop()
    tool.stop()
    without_keys(monkeypatch)
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=7, failed=2)
    failed = sorted(re.findall(r"^FAILED (\S+)", result.stdout.str(), re.MULTILINE))
    assert failed == sorted(MISSES)
    output = result.stdout.str()
    assert "Blocking call" not in output and "loop_guard" not in output
    result.stdout.fnmatch_lines(
        [
            "pytest-llm: no recording for this call in cassettes/test_app/test_openai.yaml",
            "  call: openai chat.completions  model='gpt-4.1'*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "pytest-llm: no recording for this HTTP request in "
            "cassettes/test_app/test_plain_http.yaml",
            "  request: GET http://127.0.0.1:*/weather?city=Lima",
        ]
    )
    assert not loop_guard.active


VCR_CONFTEST = (
    CONFTEST
    + """

def model(r1, r2):
    import json

    assert json.loads(r1.body or "{}").get("model") == json.loads(r2.body or "{}").get("model")


def without_trace(request):
    request.uri = request.uri.split("&trace=")[0]
    return request


def upper_case(response):
    response["headers"]["x-seen"] = ["yes"]
    return response


def pytest_recording_configure(config, vcr):
    vcr.register_matcher("model", model)
    vcr.before_record_request = without_trace
    vcr.before_record_response = upper_case
"""
)

VCR_TESTS = """
import os
import uuid

import aiohttp
import pytest

pytestmark = pytest.mark.anyio


@pytest.mark.vcr(match_on=["method", "path", "model"])
async def test_vcr_async(vcr, clients):
    oa, _ = clients
    for model in ("gpt-4o-mini", "gpt-4.1"):
        reply = await oa.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "Name a hill"}]
        )
        assert reply.choices[0].message.content.startswith(f"[{model}] reply to: Name a hill")
    url = os.environ["TOOL_URL"] + f"/weather?city=Oslo&trace={uuid.uuid4().hex}"
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as reply:
            assert (await reply.json())["city"] == "Oslo"
    assert len(vcr) == 3
    assert vcr.play_count in (0, 3)
"""


def test_a_vcr_tests_own_matchers_and_hooks_never_block_the_loop(
    pytester: pytest.Pytester,
    inner_env: FakeProvider,
    tool: ToolServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytester.makeconftest(VCR_CONFTEST)
    pytester.makepyfile(test_app=VCR_TESTS)
    pytester.runpytest("-p", "no:recording", "--record-mode=once").assert_outcomes(passed=1)
    assert len(inner_env.requests) == 2 and len(tool.requests) == 1
    written = (pytester.path / "cassettes" / "test_app" / "test_vcr_async.yaml").read_text()
    assert "trace=" not in written  # the hook assigned to vcr.before_record_request
    assert written.count("x-seen: 'yes'") == 3  # and to vcr.before_record_response
    inner_env.stop()
    tool.stop()
    without_keys(monkeypatch)
    result = pytester.runpytest("-p", "no:recording")
    result.assert_outcomes(passed=1)
    assert "Blocking call" not in result.stdout.str()
