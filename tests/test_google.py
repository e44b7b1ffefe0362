"""Gemini through the real `google-genai` client: recorded, then replayed offline as LLM calls."""

from __future__ import annotations

import textwrap

import pytest
import yaml
from fake_provider import FakeProvider
from kit import all_text

genai = pytest.importorskip("google.genai")

GEMINI_KEY = "AIzaSy-planted-gemini-key-0123456789"

PRELUDE = """
import os
import pytest
from google import genai
from google.genai import types

URL = os.environ["FAKE_URL"]
# Built at import time: in replay the plugin's placeholder key lets it be built.
client = genai.Client(http_options=types.HttpOptions(base_url=URL))
vertex = genai.Client(
    vertexai=True, api_key=os.environ.get("GEMINI_API_KEY"),
    http_options=types.HttpOptions(base_url=URL),
)
"""


@pytest.fixture
def gemini_env(inner_env: FakeProvider, monkeypatch: pytest.MonkeyPatch) -> FakeProvider:
    """Inner runs reach the fake Gemini API with a planted key; GOOGLE_API_KEY unset."""
    monkeypatch.setenv("GEMINI_API_KEY", GEMINI_KEY)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_GENAI_USE_VERTEXAI", raising=False)
    return inner_env


def _write(pytester: pytest.Pytester, body: str) -> None:
    pytester.makepyfile(test_app=PRELUDE + textwrap.dedent(body))


def _replay_offline(
    pytester: pytest.Pytester, provider: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> pytest.RunResult:
    provider.stop()
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    return pytester.runpytest()


def _interactions(pytester: pytest.Pytester, name: str = "test_a") -> list[dict]:
    path = pytester.path / "cassettes" / "test_app" / f"{name}.yaml"
    return list(yaml.safe_load(path.read_text())["interactions"])


SYNC = """
def test_a(llm):
    reply = client.models.generate_content(
        model="gemini-2.5-flash", contents="Say hi",
        config=types.GenerateContentConfig(temperature=0.2, seed=7),
    )
    chunks = [c.text for c in client.models.generate_content_stream(
        model="gemini-2.5-flash", contents="Tell me a story")]
    count = client.models.count_tokens(model="gemini-2.5-flash", contents="Say hi")
    embedded = client.models.embed_content(model="gemini-embedding-001", contents=["hi"])
    assert reply.text.startswith("[gemini-2.5-flash] reply to: Say hi")
    assert "".join(chunks).startswith("[gemini-2.5-flash] reply to: Tell me a story")
    assert len(chunks) > 3
    assert count.total_tokens == 5
    assert len(embedded.embeddings[0].values) == 8
    calls = llm.calls
    assert [c.provider for c in calls] == ["google"] * 4
    assert [c.model for c in calls] == [
        "gemini-2.5-flash", "gemini-2.5-flash", "gemini-2.5-flash", "gemini-embedding-001"]
    assert calls[0].served_model == "gemini-2.5-flash-001"
    assert calls[0].text == reply.text
    assert calls[1].text == "".join(chunks)
    assert calls[0].usage.input_tokens == 5 and calls[0].usage.output_tokens > 0
    assert calls[1].usage.total_tokens > 0
    assert calls[2].usage.total_tokens == 0  # counting tokens is free
    assert calls[0].cost_usd is not None and calls[0].cost_usd > 0
    assert calls[0].endpoint.endswith("/models/gemini-2.5-flash:generateContent")
"""


def test_gemini_sync_calls_record_then_replay_offline_as_llm_calls(
    pytester: pytest.Pytester, gemini_env: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(pytester, SYNC)
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    assert len(gemini_env.requests) == 4
    stored = _interactions(pytester)
    assert [i["provider"] for i in stored] == ["google"] * 4
    assert stored[0]["model"] == "gemini-2.5-flash"
    assert stored[0]["request"]["body"]["generationConfig"] == {"temperature": 0.2, "seed": 7}
    stream = stored[1]["response"]
    assert len(stream["events"]) > 3
    assert stream["final"]["candidates"][0]["finishReason"] == "STOP"
    assert stream["final"]["usageMetadata"]["totalTokenCount"] > 0
    text = all_text(pytester.path / "cassettes")
    assert GEMINI_KEY not in text
    assert "x-goog-api-key" not in text
    # One event per line: a reviewer scrolls one line per chunk.
    event_lines = [line for line in text.splitlines() if "candidates" in line and "data" in line]
    assert len(event_lines) == len(stream["events"])

    _replay_offline(pytester, gemini_env, monkeypatch).assert_outcomes(passed=1)
    assert len(gemini_env.requests) == 4


ASYNC = """
import asyncio

def test_a(llm):
    async def main():
        reply = await client.aio.models.generate_content(
            model="gemini-2.5-pro", contents="Say hi")
        chunks = [c.text async for c in await client.aio.models.generate_content_stream(
            model="gemini-2.5-pro", contents="Tell me a story")]
        count = await client.aio.models.count_tokens(model="gemini-2.5-pro", contents="x y")
        return reply, chunks, count

    reply, chunks, count = asyncio.run(main())
    assert reply.text.startswith("[gemini-2.5-pro] reply to: Say hi")
    assert "".join(chunks) == llm.calls[1].text
    assert count.total_tokens == 5
    assert [c.provider for c in llm.calls] == ["google"] * 3
    assert llm.calls[0].cost_usd > 0
"""


def test_gemini_async_calls_record_then_replay_offline(
    pytester: pytest.Pytester, gemini_env: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(pytester, ASYNC)
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    assert len(gemini_env.requests) == 3
    _replay_offline(pytester, gemini_env, monkeypatch).assert_outcomes(passed=1)
    assert len(gemini_env.requests) == 3


VERTEX = """
def test_a(llm):
    reply = vertex.models.generate_content(model="gemini-2.0-flash", contents="Say hi")
    embedded = vertex.models.embed_content(model="text-embedding-005", contents=["hi"])
    assert reply.text.startswith("[gemini-2.0-flash] reply to: Say hi")
    assert [c.provider for c in llm.calls] == ["google", "google"]
    path = "/v1beta1/publishers/google/models/gemini-2.0-flash:generateContent"
    assert llm.calls[0].endpoint == path
    assert llm.calls[1].model == "text-embedding-005"
    assert llm.calls[1].usage.input_tokens == 2
"""


def test_vertex_ai_paths_record_then_replay(
    pytester: pytest.Pytester, gemini_env: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(pytester, VERTEX)
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    assert GEMINI_KEY not in all_text(pytester.path / "cassettes")
    _replay_offline(pytester, gemini_env, monkeypatch).assert_outcomes(passed=1)
    assert len(gemini_env.requests) == 2


TOOLS_AND_SCHEMA = """
from pytest_llm import assert_json_schema

WEATHER = types.FunctionDeclaration(
    name="get_weather",
    description="Weather in a city",
    parameters_json_schema={
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
)
RECIPE = {
    "type": "object",
    "properties": {"title": {"type": "string"}, "minutes": {"type": "integer"}},
    "required": ["title", "minutes"],
}

def test_a(llm):
    reply = client.models.generate_content(
        model="gemini-2.5-flash", contents="What is the weather in Oslo?",
        config=types.GenerateContentConfig(tools=[types.Tool(function_declarations=[WEATHER])]),
    )
    assert reply.function_calls[0].args == {"city": "Oslo"}
    call = llm.calls[0]
    assert [(t.name, t.arguments) for t in call.tool_calls] == [("get_weather", {"city": "Oslo"})]
    assert_json_schema(call, tool="get_weather")

    client.models.generate_content(
        model="gemini-2.5-flash", contents="A recipe",
        config=types.GenerateContentConfig(
            response_mime_type="application/json", response_schema=RECIPE),
    )
    assert_json_schema(llm.calls[1])  # the request's responseSchema
    with pytest.raises(AssertionError) as failure:
        assert_json_schema(llm.calls[1], {"type": "object", "required": ["steps"]})
    assert "'steps' is a required property" in str(failure.value)
"""


def test_function_calls_are_tool_calls_and_the_response_schema_is_declared(
    pytester: pytest.Pytester, gemini_env: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(pytester, TOOLS_AND_SCHEMA)
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    _replay_offline(pytester, gemini_env, monkeypatch).assert_outcomes(passed=1)


FAULTS = """
from google.genai import errors

RETRY = types.HttpOptions(
    base_url=URL,
    retry_options=types.HttpRetryOptions(attempts=3, initial_delay=0, jitter=0, max_delay=0),
)
retrying = genai.Client(http_options=RETRY)

@pytest.mark.llm_faults("rate_limit", "overloaded", provider="google")
def test_a(llm):
    reply = retrying.models.generate_content(model="gemini-2.5-flash", contents="Say hi")
    assert reply.text.startswith("[gemini-2.5-flash]")
    assert [c.fault for c in llm.calls] == ["rate_limit", "overloaded", None]
    assert [c.status for c in llm.calls] == [429, 503, 200]
    assert llm.calls[0].response["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert llm.calls[1].response["error"]["status"] == "UNAVAILABLE"

@pytest.mark.llm_faults("server_error")
def test_b(llm):
    with pytest.raises(errors.ServerError) as raised:
        client.models.generate_content(model="gemini-2.5-flash", contents="Say hi")
    assert "500 INTERNAL" in str(raised.value)

def test_c(llm):
    reply = retrying.models.generate_content(model="flaky-429", contents="Say hi")
    assert [c.status for c in llm.calls] == [429, 200]
    assert reply.text.startswith("[flaky-429]")
"""


def test_faults_answer_in_geminis_format_through_the_sdks_retries(
    pytester: pytest.Pytester, gemini_env: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(pytester, FAULTS)
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=3)
    assert len(gemini_env.requests) == 3  # faults never reach the provider
    _replay_offline(pytester, gemini_env, monkeypatch).assert_outcomes(passed=3)


MISS = """
def test_a(llm):
    client.models.generate_content(
        model="gemini-2.5-flash", contents="Say hi",
        config=types.GenerateContentConfig(temperature=0.9),
    )
"""


def test_a_gemini_miss_names_the_model_from_the_path(
    pytester: pytest.Pytester, gemini_env: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GEMINI_API_KEY")
    _write(pytester, MISS)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*call: google generate_content  model='gemini-2.5-flash'  temperature=0.9  stream=False"]
    )
    assert gemini_env.requests == []


KEY_IN_QUERY = """
import httpx

def test_a(llm):
    url = URL + "/v1beta/models/gemini-2.5-flash:generateContent?key=" + os.environ.get(
        "GEMINI_API_KEY", "none")
    body = {"contents": [{"role": "user", "parts": [{"text": "Say hi"}]}]}
    reply = httpx.post(url, json=body).json()
    assert reply["candidates"][0]["content"]["parts"][0]["text"].startswith("[gemini-2.5-flash]")
    assert [c.provider for c in llm.calls] == ["google"]
"""


def test_a_key_in_the_query_never_reaches_the_file(
    pytester: pytest.Pytester, gemini_env: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(pytester, KEY_IN_QUERY)
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    assert f"key={GEMINI_KEY}" in gemini_env.requests[0].path
    assert GEMINI_KEY not in all_text(pytester.path / "cassettes")
    _replay_offline(pytester, gemini_env, monkeypatch).assert_outcomes(passed=1)


ASYNC_FAULTS = """
import asyncio
from google.genai import errors

RETRY = types.HttpOptions(
    base_url=URL,
    retry_options=types.HttpRetryOptions(attempts=2, initial_delay=0, jitter=0, max_delay=0),
)

@pytest.mark.llm_faults("rate_limit")
def test_a(llm):
    async def main():
        retrying = genai.Client(http_options=RETRY)
        return await retrying.aio.models.generate_content(model="gemini-2.5-flash", contents="Hi")

    assert asyncio.run(main()).text.startswith("[gemini-2.5-flash]")
    assert [(c.fault, c.status) for c in llm.calls] == [("rate_limit", 429), (None, 200)]

@pytest.mark.llm_faults("stream_cut")
def test_b(llm):
    async def main():
        stream = await client.aio.models.generate_content_stream(
            model="gemini-2.5-flash", contents="Tell me a story")
        return [c.text async for c in stream]

    with pytest.raises(Exception) as raised:
        asyncio.run(main())
    assert "Response payload is not completed (injected by pytest-llm)" in str(raised.value)
    assert [c.fault for c in llm.calls] == ["stream_cut"]
"""


def test_async_faults_go_through_aiohttp_as_gemini_answers(
    pytester: pytest.Pytester, gemini_env: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(pytester, ASYNC_FAULTS)
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=2)
    assert len(gemini_env.requests) == 2  # the retry, and the stream fetched whole to be cut
    _replay_offline(pytester, gemini_env, monkeypatch).assert_outcomes(passed=2)
