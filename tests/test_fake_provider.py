"""The fake provider must be indistinguishable from the real APIs for the official SDKs."""

from __future__ import annotations

import asyncio
import gzip
import http.client
import json
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest
from fake_provider import SERVED_SUFFIX, FakeProvider

USER: Any = [{"role": "user", "content": "hello there"}]
OPENAI_TOOLS: Any = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]
RESPONSES_TOOLS: Any = [
    {"type": "function", "name": "get_weather", "parameters": {"type": "object"}, "strict": False}
]
ANTHROPIC_TOOLS: Any = [{"name": "get_weather", "input_schema": {"type": "object"}}]


@pytest.fixture(scope="module")
def srv() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        yield provider


@pytest.fixture(autouse=True)
def _fresh(srv: FakeProvider) -> None:
    srv.reset()


@pytest.fixture
def oai(srv: FakeProvider) -> openai.OpenAI:
    return openai.OpenAI(base_url=srv.openai_base_url, api_key="sk-test", max_retries=0)


@pytest.fixture
def ant(srv: FakeProvider) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        base_url=srv.anthropic_base_url, api_key="sk-ant-test", max_retries=0
    )


def raw_post(srv: FakeProvider, path: str, body: Any, **headers: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection(srv.url.removeprefix("http://"), timeout=10)
    conn.request("POST", path, json.dumps(body), {"content-type": "application/json", **headers})
    return conn.getresponse()


# --- OpenAI chat ---------------------------------------------------------------------------


def test_chat_create(srv: FakeProvider, oai: openai.OpenAI) -> None:
    r = oai.chat.completions.create(model="gpt-4o-mini", messages=USER)
    text = r.choices[0].message.content
    assert text is not None and text.startswith("[gpt-4o-mini] reply to: hello there #")
    assert r.model == "gpt-4o-mini" + SERVED_SUFFIX
    assert r.system_fingerprint == "fp_fake"
    assert r.choices[0].finish_reason == "stop"
    assert r.usage is not None
    assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (2 + 3, len(text.split()))
    assert r.usage.prompt_tokens_details and r.usage.prompt_tokens_details.cached_tokens == 0
    [req] = srv.requests
    assert (req.method, req.path) == ("POST", "/v1/chat/completions")
    assert req.headers["authorization"] == "Bearer sk-test"
    assert req.body == {"model": "gpt-4o-mini", "messages": USER}


def test_answer_depends_on_whole_request(oai: openai.OpenAI) -> None:
    def ask(**kw: Any) -> str | None:
        r = oai.chat.completions.create(**({"model": "gpt-4o-mini", "messages": USER} | kw))
        content: str | None = r.choices[0].message.content
        return content

    base = ask()
    assert ask() == base
    assert ask(model="gpt-4o") != base
    assert ask(temperature=0.5) != base  # same prompt and model, different hash
    assert "reply to: bye" in (ask(messages=[{"role": "user", "content": "bye"}]) or "")


def test_chat_multiline_answer(oai: openai.OpenAI) -> None:
    messages: Any = [{"role": "user", "content": "write a poem"}]
    text = oai.chat.completions.create(model="m", messages=messages).choices[0].message.content
    assert text is not None and len(text.splitlines()) == 3


def test_chat_stream_with_usage(oai: openai.OpenAI) -> None:
    stream = oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=USER,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("[gpt-4o-mini] reply to: hello there #")
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 3
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == len(text.split())
    assert {c.model for c in chunks} == {"gpt-4o-mini" + SERVED_SUFFIX}


def test_chat_stream_without_usage(oai: openai.OpenAI) -> None:
    chunks = list(oai.chat.completions.create(model="m", messages=USER, stream=True))
    assert all(c.usage is None for c in chunks) and chunks[-1].choices[0].finish_reason == "stop"


def test_chat_tool_call(oai: openai.OpenAI) -> None:
    messages: Any = [{"role": "user", "content": "What's the weather in Tokyo?"}]
    r = oai.chat.completions.create(model="gpt-4o", messages=messages, tools=OPENAI_TOOLS)
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    [call] = choice.message.tool_calls or []
    assert call.type == "function" and call.id.startswith("call_")
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Tokyo"}

    # Streaming: the SDK's accumulating helper must rebuild the same call from deltas.
    with oai.chat.completions.stream(model="gpt-4o", messages=messages, tools=OPENAI_TOOLS) as s:
        final = s.get_final_completion()
    [streamed] = final.choices[0].message.tool_calls or []
    assert streamed.function.name == "get_weather"
    assert json.loads(streamed.function.arguments) == {"city": "Tokyo"}
    assert final.choices[0].finish_reason == "tool_calls"

    # A tool result is answered with text, not another tool call.
    follow_up: Any = [
        *messages,
        {"role": "assistant", "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "sunny 21C"},
    ]
    r2 = oai.chat.completions.create(model="gpt-4o", messages=follow_up, tools=OPENAI_TOOLS)
    assert "reply to: sunny 21C" in (r2.choices[0].message.content or "")


# --- OpenAI responses and embeddings -------------------------------------------------------


def test_responses_create(oai: openai.OpenAI) -> None:
    r = oai.responses.create(model="gpt-4.1", input="hello there", instructions="be brief")
    assert r.output_text.startswith("[gpt-4.1] reply to: hello there #")
    assert r.model == "gpt-4.1" + SERVED_SUFFIX and r.status == "completed"
    assert r.instructions == "be brief"
    assert r.usage is not None
    assert r.usage.input_tokens == (2 + 3) + (2 + 3)
    assert r.usage.output_tokens == len(r.output_text.split())


def test_responses_stream(oai: openai.OpenAI) -> None:
    events = list(oai.responses.create(model="gpt-4.1", input="hello there", stream=True))
    types = [e.type for e in events]
    assert types[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert types[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert types.count("response.output_text.delta") > 3
    assert [e.sequence_number for e in events] == list(range(len(events)))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    done = events[-1]
    assert done.type == "response.completed"
    assert done.response.output_text == text and text.startswith("[gpt-4.1] reply to: hello")

    with oai.responses.stream(model="gpt-4.1", input="hello there") as s:
        assert s.get_final_response().output_text == text


def test_responses_function_call(oai: openai.OpenAI) -> None:
    r = oai.responses.create(model="gpt-4.1", input="weather in Oslo?", tools=RESPONSES_TOOLS)
    [item] = r.output
    assert item.type == "function_call" and item.name == "get_weather"
    assert item.call_id.startswith("call_") and json.loads(item.arguments) == {"city": "Oslo"}

    with oai.responses.stream(model="gpt-4.1", input="weather?", tools=RESPONSES_TOOLS) as s:
        types = [e.type for e in s]
        final = s.get_final_response()
    assert "response.function_call_arguments.delta" in types
    assert "response.function_call_arguments.done" in types
    [streamed] = final.output
    assert streamed.type == "function_call" and json.loads(streamed.arguments) == {"city": "Paris"}

    follow_up: Any = [
        {"role": "user", "content": "weather in Oslo?"},
        {"type": "function_call_output", "call_id": item.call_id, "output": "cold"},
    ]
    r2 = oai.responses.create(model="gpt-4.1", input=follow_up, tools=RESPONSES_TOOLS)
    assert "reply to: cold" in r2.output_text


def test_embeddings(srv: FakeProvider, oai: openai.OpenAI) -> None:
    default = oai.embeddings.create(model="text-embedding-3-small", input=["a b", "c"])
    assert srv.requests[-1].body["encoding_format"] == "base64"  # the SDK's silent default
    floats = oai.embeddings.create(
        model="text-embedding-3-small", input=["a b", "c"], encoding_format="float"
    )
    assert [d.embedding for d in default.data] == [d.embedding for d in floats.data]
    assert len(default.data) == 2 and len(default.data[0].embedding) == 8
    assert default.data[0].embedding != default.data[1].embedding
    assert default.usage.prompt_tokens == 3 and default.model.endswith(SERVED_SUFFIX)
    single = oai.embeddings.create(model="text-embedding-3-small", input="a b")
    assert single.data[0].embedding == default.data[0].embedding
    other = oai.embeddings.create(model="text-embedding-3-large", input="a b")
    assert other.data[0].embedding != single.data[0].embedding


# --- Anthropic -----------------------------------------------------------------------------


def test_messages_create(srv: FakeProvider, ant: anthropic.Anthropic) -> None:
    m = ant.messages.create(model="claude-x", max_tokens=50, system="be nice", messages=USER)
    [block] = m.content
    assert block.type == "text" and block.text.startswith("[claude-x] reply to: hello there #")
    assert m.model == "claude-x" + SERVED_SUFFIX and m.stop_reason == "end_turn"
    assert m.usage.input_tokens == (2 + 3) + (2 + 3)
    assert m.usage.output_tokens == len(block.text.split())
    assert m.usage.cache_read_input_tokens == 0
    [req] = srv.requests
    assert req.path == "/v1/messages"
    # anthropic 2.x sends the API key as a bearer token, not x-api-key.
    assert req.headers["authorization"] == "Bearer sk-ant-test"
    assert "anthropic-version" in req.headers


def test_messages_raw_stream(ant: anthropic.Anthropic) -> None:
    events = list(ant.messages.create(model="claude-x", max_tokens=50, messages=USER, stream=True))
    types = [e.type for e in events]
    assert types[:2] == ["message_start", "content_block_start"]
    assert types[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    text = "".join(
        e.delta.text
        for e in events
        if e.type == "content_block_delta" and e.delta.type == "text_delta"
    )
    assert text.startswith("[claude-x] reply to: hello there #")
    assert events[-2].type == "message_delta" and events[-2].usage.output_tokens == len(
        text.split()
    )


def test_messages_stream_helper(ant: anthropic.Anthropic) -> None:
    with ant.messages.stream(model="claude-x", max_tokens=50, messages=USER) as s:
        pieces = list(s.text_stream)
        final = s.get_final_message()
    assert len(pieces) > 3
    assert final.content[0].type == "text" and final.content[0].text == "".join(pieces)
    assert final.usage.output_tokens == len("".join(pieces).split())
    assert final.model == "claude-x" + SERVED_SUFFIX


def test_messages_tool_use(ant: anthropic.Anthropic) -> None:
    messages: Any = [{"role": "user", "content": "weather in Lima?"}]
    m = ant.messages.create(
        model="claude-x", max_tokens=50, messages=messages, tools=ANTHROPIC_TOOLS
    )
    [block] = m.content
    assert m.stop_reason == "tool_use"
    assert block.type == "tool_use" and block.name == "get_weather"
    assert block.input == {"city": "Lima"} and block.id.startswith("toolu_")

    with ant.messages.stream(
        model="claude-x", max_tokens=50, messages=messages, tools=ANTHROPIC_TOOLS
    ) as s:
        final = s.get_final_message()
    assert final.content[0].type == "tool_use" and final.content[0].input == {"city": "Lima"}

    follow_up: Any = [
        *messages,
        {"role": "assistant", "content": [block.model_dump()]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": block.id, "content": "warm"}],
        },
    ]
    m2 = ant.messages.create(
        model="claude-x", max_tokens=50, messages=follow_up, tools=ANTHROPIC_TOOLS
    )
    assert m2.content[0].type == "text" and "reply to: warm" in m2.content[0].text


def test_count_tokens_matches_usage(ant: anthropic.Anthropic) -> None:
    count = ant.messages.count_tokens(model="claude-x", messages=USER)
    m = ant.messages.create(model="claude-x", max_tokens=5, messages=USER)
    assert count.input_tokens == m.usage.input_tokens == 5


def test_beta_client_query_string(srv: FakeProvider, ant: anthropic.Anthropic) -> None:
    m = ant.beta.messages.create(model="claude-x", max_tokens=5, messages=USER)
    assert m.content[0].type == "text" and "hello there" in m.content[0].text
    # anthropic 2.x keeps `beta=true` as a client-side qualifier; older SDKs put it on the URL.
    assert srv.requests[-1].path.startswith("/v1/messages")
    resp = raw_post(
        srv, "/v1/messages?beta=true", {"model": "c", "max_tokens": 5, "messages": USER}
    )
    assert json.loads(resp.read())["type"] == "message"
    assert srv.requests[-1].path == "/v1/messages?beta=true"


# --- async clients -------------------------------------------------------------------------


def test_async_clients(srv: FakeProvider) -> None:
    async def main() -> tuple[str, str, str]:
        oai = openai.AsyncOpenAI(base_url=srv.openai_base_url, api_key="sk-test")
        ant = anthropic.AsyncAnthropic(base_url=srv.anthropic_base_url, api_key="sk-ant-test")
        chat = await oai.chat.completions.create(model="gpt-4o", messages=USER)
        stream = await oai.chat.completions.create(model="gpt-4o", messages=USER, stream=True)
        streamed = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        async with ant.messages.stream(model="claude-x", max_tokens=5, messages=USER) as s:
            message = await s.get_final_message()
        assert message.content[0].type == "text"
        await oai.close()
        await ant.close()
        return chat.choices[0].message.content or "", streamed, message.content[0].text

    chat, streamed, message = asyncio.run(main())
    assert chat.startswith("[gpt-4o] reply to: hello there #")
    assert streamed.startswith("[gpt-4o] reply to: hello there #") and streamed != chat
    assert message.startswith("[claude-x] reply to: hello there #")


# --- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "exc", "code"),
    [
        ("error-400", openai.BadRequestError, "invalid_value"),
        ("error-404", openai.NotFoundError, "model_not_found"),
        ("always-500", openai.InternalServerError, None),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_openai_errors(
    oai: openai.OpenAI, model: str, exc: type[openai.APIStatusError], code: str | None, stream: bool
) -> None:
    with pytest.raises(exc) as info:
        oai.chat.completions.create(model=model, messages=USER, stream=stream)
    assert info.value.code == code
    assert info.value.response.headers["x-request-id"].startswith("req_")
    assert info.value.response.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("model", "exc", "kind"),
    [
        ("error-400", anthropic.BadRequestError, "invalid_request_error"),
        ("error-404", anthropic.NotFoundError, "not_found_error"),
        ("always-500", anthropic.InternalServerError, "api_error"),
    ],
)
def test_anthropic_errors(
    ant: anthropic.Anthropic, model: str, exc: type[anthropic.APIStatusError], kind: str
) -> None:
    with pytest.raises(exc) as info:
        ant.messages.create(model=model, max_tokens=5, messages=USER)
    body: Any = info.value.body
    assert body["type"] == "error" and body["error"]["type"] == kind
    assert info.value.request_id == info.value.response.headers["request-id"]


def test_always_500_is_retried(srv: FakeProvider) -> None:
    client = openai.OpenAI(base_url=srv.openai_base_url, api_key="sk-test", max_retries=2)
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="always-500", messages=USER)
    assert len(srv.requests) == 3


def test_flaky_429_recovers_with_retries(srv: FakeProvider) -> None:
    oai = openai.OpenAI(base_url=srv.openai_base_url, api_key="sk-test", max_retries=2)
    r = oai.chat.completions.create(model="flaky-429", messages=USER)
    assert r.choices[0].message.content and "reply to: hello there" in r.choices[0].message.content
    ant = anthropic.Anthropic(base_url=srv.anthropic_base_url, api_key="k", max_retries=2)
    m = ant.messages.create(model="flaky-429", max_tokens=5, messages=USER)
    assert m.content[0].type == "text"
    assert [r.path for r in srv.requests] == ["/v1/chat/completions"] * 2 + ["/v1/messages"] * 2


def test_flaky_429_without_retries(srv: FakeProvider, oai: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as info:
        oai.chat.completions.create(model="flaky-429", messages=USER)
    assert info.value.code == "rate_limit_exceeded"
    assert info.value.response.headers["x-should-retry"] == "true"
    assert info.value.response.headers["retry-after"] == "0"
    # A different body is a different "first attempt"; the same body now succeeds.
    with pytest.raises(openai.RateLimitError):
        oai.chat.completions.create(model="flaky-429", messages=USER, temperature=0)
    oai.chat.completions.create(model="flaky-429", messages=USER)


# --- HTTP details --------------------------------------------------------------------------


def test_gzip_and_provider_headers(oai: openai.OpenAI, ant: anthropic.Anthropic) -> None:
    raw = oai.chat.completions.with_raw_response.create(model="gpt-4o", messages=USER)
    assert raw.headers["content-encoding"] == "gzip"
    assert raw.headers["x-request-id"].startswith("req_")
    assert raw.headers["x-ratelimit-remaining-requests"] == "9999"
    assert raw.headers["set-cookie"] == "__cf_bm=fake; path=/"
    assert raw.parse().choices[0].message.content
    araw = ant.messages.with_raw_response.create(model="claude-x", max_tokens=5, messages=USER)
    assert araw.headers["content-encoding"] == "gzip"
    assert araw.headers["request-id"].startswith("req_")
    assert araw.headers["anthropic-ratelimit-requests-remaining"] == "999"


def test_gzip_only_when_accepted(srv: FakeProvider) -> None:
    body = {"model": "m", "messages": USER}
    plain = raw_post(srv, "/v1/chat/completions", body)
    assert plain.getheader("content-encoding") is None
    assert json.loads(plain.read())["object"] == "chat.completion"
    zipped = raw_post(srv, "/v1/chat/completions", body, **{"accept-encoding": "gzip"})
    assert zipped.getheader("content-encoding") == "gzip"
    assert json.loads(gzip.decompress(zipped.read()))["object"] == "chat.completion"


def test_stream_is_chunked_and_uncompressed(srv: FakeProvider) -> None:
    body = {"model": "m", "messages": USER, "stream": True}
    resp = raw_post(srv, "/v1/chat/completions", body, **{"accept-encoding": "gzip"})
    assert resp.getheader("transfer-encoding") == "chunked"
    assert resp.getheader("content-encoding") is None
    assert resp.getheader("content-type", "").startswith("text/event-stream")
    data = resp.read().decode()
    assert data.startswith("data: {") and data.endswith("data: [DONE]\n\n")


def test_routes_by_suffix_and_ignores_query(srv: FakeProvider) -> None:
    for path in ("/api/v1/chat/completions", "/openai/deployments/x/chat/completions?v=1"):
        resp = raw_post(srv, path, {"model": "m", "messages": USER})
        assert resp.status == 200 and json.loads(resp.read())["object"] == "chat.completion"
    azure = openai.OpenAI(base_url=srv.url + "/openai/deployments/x", api_key="k")
    assert azure.chat.completions.create(model="m", messages=USER).choices
    resp = raw_post(
        srv, "/proxy/anthropic/v1/messages/count_tokens", {"model": "c", "messages": USER}
    )
    assert json.loads(resp.read()) == {"input_tokens": 5}


def test_unknown_path_is_openai_shaped_404(srv: FakeProvider) -> None:
    resp = raw_post(srv, "/v1/nope", {"model": "m"})
    assert resp.status == 404
    error = json.loads(resp.read())["error"]
    assert error["type"] == "invalid_request_error" and "/v1/nope" in error["message"]


def test_keep_alive(srv: FakeProvider) -> None:
    conn = http.client.HTTPConnection(srv.url.removeprefix("http://"), timeout=10)
    for prompt in ("one", "two", "three"):
        body = {"model": "m", "messages": [{"role": "user", "content": prompt}]}
        conn.request("POST", "/v1/chat/completions", json.dumps(body))
        resp = conn.getresponse()
        assert prompt in json.loads(resp.read())["choices"][0]["message"]["content"]
    assert conn.sock is not None  # never closed by the server in between
    conn.close()


def test_delay_and_incremental_delivery(srv: FakeProvider) -> None:
    oai = openai.OpenAI(
        base_url=srv.openai_base_url, api_key="k", default_headers={"x-fake-delay-ms": "100"}
    )
    start = time.monotonic()
    arrivals = [
        time.monotonic() - start
        for _ in oai.chat.completions.create(model="m", messages=USER, stream=True)
    ]
    # Each chunk arrives ~100ms after the previous one instead of all at once at the end:
    # at least 0.4 s between the first and the last, so a busy machine that delays a read
    # by a few hundred ms still leaves the spread well above 0.1 s.
    assert len(arrivals) >= 5
    assert arrivals[0] < arrivals[-1] - 0.1
    t = time.monotonic()
    oai.chat.completions.create(model="m", messages=USER)
    assert time.monotonic() - t >= 0.1  # a sleep never ends early


def test_stop_closes_keep_alive_connections() -> None:
    srv = FakeProvider().start()
    client = openai.OpenAI(base_url=srv.openai_base_url, api_key="k", max_retries=0)
    client.chat.completions.create(model="m", messages=USER)
    srv.stop()
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="m", messages=USER)
    assert len(srv.requests) == 1
