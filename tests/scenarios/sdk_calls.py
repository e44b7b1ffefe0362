"""Every kind of SDK call pytest-llm records and replays; runs inside pytester.

Each test saves what the SDK returned to RESULTS_FILE, so the outer test can check
that replay hands the application exactly what recording did.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import anthropic
import httpx
import openai
import pytest

OPENAI_URL = os.environ["FAKE_OPENAI_BASE_URL"]
ANTHROPIC_URL = os.environ["FAKE_ANTHROPIC_BASE_URL"]
REPLAY = os.environ["PHASE"] == "replay"

# Built at import time with no api_key argument: in replay the environment has no key.
oa = openai.OpenAI(base_url=OPENAI_URL)
an = anthropic.Anthropic(base_url=ANTHROPIC_URL)
USER = [{"role": "user", "content": "Name three colours"}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]
ANTHROPIC_TOOLS = [
    {
        "name": "get_weather",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
]


def save(name: str, value: Any) -> None:
    with open(os.environ["RESULTS_FILE"], "a", encoding="utf-8") as handle:
        handle.write(json.dumps({name: value}, sort_keys=True) + "\n")


def dump(obj: Any) -> Any:
    return obj.model_dump(mode="json")


def check_calls(llm: Any, count: int) -> None:
    assert len(llm.calls) == count
    assert all(call.replayed is REPLAY for call in llm.calls)
    assert llm.cassette_path.exists() or not REPLAY


def test_openai_chat(llm):
    reply = oa.chat.completions.create(model="gpt-4o-mini", messages=USER, temperature=0)
    save("chat", dump(reply))
    check_calls(llm, 1)
    call = llm.calls[0]
    assert (call.provider, call.endpoint, call.model) == (
        "openai",
        "/v1/chat/completions",
        "gpt-4o-mini",
    )
    assert call.served_model == reply.model != call.model
    assert call.text == reply.choices[0].message.content
    assert call.usage.total_tokens == reply.usage.total_tokens > 0
    assert call.request["temperature"] == 0


def test_openai_chat_stream_and_tools(llm):
    stream = oa.chat.completions.create(
        model="gpt-4o-mini", messages=USER, stream=True, stream_options={"include_usage": True}
    )
    chunks = [dump(chunk) for chunk in stream]
    tool = oa.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        tools=TOOLS,
    )
    save("chat_stream", chunks)
    save("chat_tool", dump(tool))
    check_calls(llm, 2)
    assert len(chunks) > 3
    assert llm.calls[0].text == "".join(
        c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]
    )
    assert llm.calls[0].usage.output_tokens == chunks[-1]["usage"]["completion_tokens"]
    assert [t.name for t in llm.calls[1].tool_calls] == ["get_weather"]
    assert llm.calls[1].tool_calls[0].arguments == json.loads(
        tool.choices[0].message.tool_calls[0].function.arguments
    )


def test_openai_responses_and_embeddings(llm):
    reply = oa.responses.create(model="gpt-4o", input="Say hi")
    events = [dump(e) for e in oa.responses.create(model="gpt-4o", input="Say hi", stream=True)]
    b64 = oa.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    floats = oa.embeddings.create(
        model="text-embedding-3-small", input="c", encoding_format="float"
    )
    save("responses", dump(reply))
    save("responses_stream", events)
    save("embeddings", [dump(b64), dump(floats)])
    check_calls(llm, 4)
    assert llm.calls[0].text == reply.output_text
    assert events[-1]["type"] == "response.completed"
    assert llm.calls[1].text == events[-1]["response"]["output"][0]["content"][0]["text"]
    assert isinstance(llm.calls[2].response["data"][0]["embedding"], str)  # base64 as sent
    assert len(b64.data[0].embedding) == 8


def test_openai_async(llm):
    async def main() -> list[Any]:
        client = openai.AsyncOpenAI(base_url=OPENAI_URL)
        chat = client.chat.completions.create(model="gpt-4o-mini", messages=USER)

        async def streamed() -> list[Any]:
            stream = await client.chat.completions.create(
                model="gpt-4.1", messages=USER, stream=True
            )
            return [dump(chunk) async for chunk in stream]

        async def responses_stream() -> list[Any]:
            stream = await client.responses.create(model="gpt-4o", input="async", stream=True)
            return [dump(event) async for event in stream]

        embed = client.embeddings.create(model="text-embedding-3-small", input="async")
        results = await asyncio.gather(chat, streamed(), responses_stream(), embed)
        return [dump(results[0]), results[1], results[2], dump(results[3])]

    save("openai_async", asyncio.run(main()))
    check_calls(llm, 4)


def test_anthropic_sync(llm):
    message = an.messages.create(model="claude-haiku-4-5", max_tokens=100, messages=USER)
    raw = [
        dump(e)
        for e in an.messages.create(
            model="claude-haiku-4-5", max_tokens=100, messages=USER, stream=True
        )
    ]
    with an.messages.stream(
        model="claude-sonnet-4-6", max_tokens=100, messages=USER, system="Be brief"
    ) as stream:
        texts = list(stream.text_stream)
        final = stream.get_final_message()
    tool = an.messages.create(
        model="claude-haiku-4-5",
        max_tokens=100,
        tools=ANTHROPIC_TOOLS,
        messages=[{"role": "user", "content": "weather in Paris?"}],
    )
    count = an.messages.count_tokens(model="claude-haiku-4-5", messages=USER)
    save("anthropic", [dump(message), raw, texts, dump(final), dump(tool), dump(count)])
    check_calls(llm, 5)
    assert llm.calls[0].text == message.content[0].text
    assert llm.calls[0].usage.input_tokens == message.usage.input_tokens
    assert llm.calls[2].text == "".join(texts) == final.content[0].text
    assert llm.calls[2].response["stop_reason"] == final.stop_reason
    assert [t.name for t in llm.calls[3].tool_calls] == ["get_weather"]
    assert llm.calls[4].endpoint == "/v1/messages/count_tokens"


def test_anthropic_async(llm):
    async def main() -> list[Any]:
        client = anthropic.AsyncAnthropic(base_url=ANTHROPIC_URL)
        message = await client.messages.create(
            model="claude-haiku-4-5", max_tokens=50, messages=USER
        )
        raw = await client.messages.create(
            model="claude-haiku-4-5", max_tokens=50, messages=USER, stream=True
        )
        events = [dump(e) async for e in raw]
        async with client.messages.stream(
            model="claude-opus-4-1", max_tokens=50, messages=USER
        ) as stream:
            texts = [t async for t in stream.text_stream]
        count = await client.messages.count_tokens(model="claude-haiku-4-5", messages=USER)
        return [dump(message), events, texts, dump(count)]

    save("anthropic_async", asyncio.run(main()))
    check_calls(llm, 4)


def test_plain_httpx_like_older_sdks(llm):
    # Older SDK releases send through httpx (not httpx2) with the same wire format.
    headers = {"Authorization": f"Bearer {os.environ.get('OPENAI_API_KEY', 'none')}"}
    body = {"model": "gpt-3.5-turbo", "messages": USER}
    with httpx.Client(base_url=OPENAI_URL, headers=headers) as client:
        plain = client.post("/chat/completions", json=body).json()
        with client.stream("POST", "/chat/completions", json={**body, "stream": True}) as r:
            # Events are stored decoded: the JSON comes back equal, not byte for byte.
            lines = [line.removeprefix("data: ") for line in r.iter_lines() if line]
            events = [json.loads(line) for line in lines[:-1]]

    async def main() -> Any:
        async with httpx.AsyncClient(base_url=OPENAI_URL, headers=headers) as client:
            return (await client.post("/embeddings", json={"model": "e", "input": "x"})).json()

    save("httpx", [plain, events, asyncio.run(main())])
    check_calls(llm, 3)
    assert lines[-1] == "[DONE]"


@pytest.mark.llm
def test_marker_without_fixture():
    reply = oa.chat.completions.create(model="gpt-4o-mini", messages=USER, seed=7)
    save("marker", dump(reply))
