"""OpenAI-compatible services through their own clients: Azure OpenAI (`AzureOpenAI`) and
Mistral (`mistralai`)."""

from __future__ import annotations

import pytest
import yaml
from fake_provider import FakeProvider
from kit import all_text, inner_file

AZURE_KEY = "planted-azure-key-0123456789abcdef"

AZURE = """
import asyncio

azure = openai.AzureOpenAI(
    azure_endpoint=os.environ["FAKE_URL"], api_version="2024-10-21",
    api_key=os.environ.get("AZURE_OPENAI_API_KEY", "replay"),
)
async_azure = openai.AsyncAzureOpenAI(
    azure_endpoint=os.environ["FAKE_URL"], api_version="2024-10-21",
    api_key=os.environ.get("AZURE_OPENAI_API_KEY", "replay"),
)
HI = [{"role": "user", "content": "Say hi"}]

def test_a(llm):
    said = azure.chat.completions.create(model="my-gpt-4o-mini", messages=HI)
    pieces = [c.choices[0].delta.content or "" for c in azure.chat.completions.create(
        model="my-gpt-4o-mini", messages=HI, stream=True) if c.choices]

    async def main():
        return await async_azure.chat.completions.create(model="my-gpt-4o-mini", messages=HI)

    later = asyncio.run(main())
    assert said.choices[0].message.content.startswith("[my-gpt-4o-mini] reply to: Say hi")
    assert "".join(pieces).startswith("[my-gpt-4o-mini] reply to: Say hi")
    assert later.choices[0].message.content == said.choices[0].message.content
    assert [c.provider for c in llm.calls] == ["openai"] * 3
    assert llm.calls[0].endpoint == "/openai/deployments/my-gpt-4o-mini/chat/completions"
    assert llm.calls[1].text == "".join(pieces)
"""


def test_azure_openai_records_and_replays_sync_async_and_streams(
    pytester: pytest.Pytester, inner_env: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", AZURE_KEY)
    inner_file(pytester, AZURE)
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    path = pytester.path / "cassettes" / "test_app" / "test_a.yaml"
    stored = yaml.safe_load(path.read_text())["interactions"]
    assert {i["request"]["query"] for i in stored} == {"api-version=2024-10-21"}
    assert AZURE_KEY not in all_text(pytester.path / "cassettes")
    monkeypatch.delenv("AZURE_OPENAI_API_KEY")
    inner_env.stop()
    pytester.runpytest().assert_outcomes(passed=1)


MISTRAL = """
import asyncio
from mistralai.client import Mistral

KEY = os.environ.get("MISTRAL_API_KEY", "replay")
mistral = Mistral(api_key=KEY, server_url=os.environ["FAKE_URL"])
HI = [{"role": "user", "content": "Say hi"}]

def test_a(llm):
    said = mistral.chat.complete(model="mistral-small-latest", messages=HI, temperature=0.3)
    streamed = mistral.chat.stream(model="mistral-small-latest", messages=HI)
    deltas = [e.data.choices[0].delta.content for e in streamed]
    pieces = [d for d in deltas if isinstance(d, str)]

    async def main():
        return await mistral.chat.complete_async(model="mistral-small-latest", messages=HI)

    later = asyncio.run(main())
    assert said.choices[0].message.content.startswith("[mistral-small-latest] reply to: Say hi")
    assert later.choices[0].message.content.startswith("[mistral-small-latest] reply to: Say hi")
    assert [c.provider for c in llm.calls] == ["openai"] * 3
    assert [c.model for c in llm.calls] == ["mistral-small-latest"] * 3
    assert llm.calls[1].text == "".join(pieces)
    assert llm.calls[0].usage.total_tokens == said.usage.total_tokens
"""


def test_mistral_records_and_replays_through_its_own_client(
    pytester: pytest.Pytester, inner_env: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("mistralai")
    monkeypatch.setenv("MISTRAL_API_KEY", "planted-mistral-key-0123456789")
    inner_file(pytester, MISTRAL)
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    assert "planted-mistral-key" not in all_text(pytester.path / "cassettes")
    monkeypatch.delenv("MISTRAL_API_KEY")
    inner_env.stop()
    pytester.runpytest().assert_outcomes(passed=1)
