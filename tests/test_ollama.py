"""Ollama's native `/api/chat` through the `ollama` client: NDJSON streams stored as events."""

from __future__ import annotations

import pytest
import yaml
from fake_provider import FakeProvider
from kit import inner_file

pytest.importorskip("ollama")

OLLAMA = """
import asyncio
import ollama

local = ollama.Client(host=os.environ["FAKE_URL"])
HI = [{"role": "user", "content": "Say hi"}]
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}

def test_a(llm):
    said = local.chat(model="llama3.2", messages=HI, options={"temperature": 0, "seed": 1})
    streamed = local.chat(model="llama3.2", messages=HI, stream=True)
    pieces = [part.message.content for part in streamed]
    asked = [{"role": "user", "content": "What is the weather in Oslo?"}]
    tool = local.chat(model="llama3.2", messages=asked, tools=[WEATHER])

    async def main():
        return await ollama.AsyncClient(host=os.environ["FAKE_URL"]).chat(
            model="llama3.2", messages=HI)

    later = asyncio.run(main())
    assert said.message.content == "[llama3.2] reply to: Say hi" == "".join(pieces)
    assert later.message.content == said.message.content
    assert tool.message.tool_calls[0].function.arguments == {"city": "Oslo"}
    assert [c.provider for c in llm.calls] == ["ollama"] * 4
    assert [c.text for c in llm.calls[:2]] == [said.message.content] * 2
    assert llm.calls[1].usage.output_tokens == said.eval_count
    assert [(t.name, t.arguments) for t in llm.calls[2].tool_calls] == [
        ("get_weather", {"city": "Oslo"})]
"""


def test_ollama_chat_records_ndjson_streams_and_replays_them(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    inner_file(pytester, OLLAMA)
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    path = pytester.path / "cassettes" / "test_app" / "test_a.yaml"
    stored = yaml.safe_load(path.read_text())["interactions"]
    stream = stored[1]["response"]
    assert len(stream["events"]) > 3
    assert stream["final"]["message"]["content"] == "[llama3.2] reply to: Say hi"
    inner_env.stop()
    pytester.runpytest().assert_outcomes(passed=1)
