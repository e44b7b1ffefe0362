"""LiteLLM, the router that many applications call instead of an SDK: its calls to OpenAI and
Anthropic endpoints record and replay as LLM calls, sync, async and streaming."""

from __future__ import annotations

import importlib.util

import pytest
import yaml
from fake_provider import FakeProvider
from kit import all_text, inner_file

KEY = "planted-litellm-openai-key-0123456789"

LITELLM = """
import asyncio

import litellm

OPENAI = dict(api_base=os.environ["FAKE_OPENAI_BASE_URL"], api_key=os.environ.get("KEY", "replay"))
ANTHROPIC = dict(api_base=os.environ["FAKE_URL"], api_key=os.environ.get("KEY", "replay"))
HI = [{"role": "user", "content": "Say hi"}]


def test_a(llm):
    said = litellm.completion(model="openai/gpt-4o-mini", messages=HI, temperature=0, **OPENAI)
    pieces = [
        chunk.choices[0].delta.content or ""
        for chunk in litellm.completion(
            model="openai/gpt-4o-mini", messages=HI, stream=True, **OPENAI
        )
    ]

    async def main():
        return await litellm.acompletion(model="openai/gpt-4o-mini", messages=HI, **OPENAI)

    later = asyncio.run(main())
    claude = litellm.completion(
        model="anthropic/claude-haiku-4-5", messages=HI, max_tokens=50, **ANTHROPIC
    )
    for reply in (said, later):
        assert reply.choices[0].message.content.startswith("[gpt-4o-mini] reply to: Say hi")
    assert "".join(pieces).startswith("[gpt-4o-mini] reply to: Say hi")
    assert "Say hi" in claude.choices[0].message.content
    assert [(c.provider, c.model) for c in llm.calls] == [
        ("openai", "gpt-4o-mini"), ("openai", "gpt-4o-mini"), ("openai", "gpt-4o-mini"),
        ("anthropic", "claude-haiku-4-5"),
    ]
    assert llm.calls[1].text == "".join(pieces)
    assert llm.calls[0].usage.total_tokens == said.usage.total_tokens
    assert llm.calls[0].request["temperature"] == 0
    with open("replayed.txt", "a") as out:
        out.write(f"{[c.replayed for c in llm.calls]}\\n")
"""


def test_litellm_calls_record_and_replay_as_llm_calls(
    pytester: pytest.Pytester, inner_env: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    if importlib.util.find_spec("litellm") is None:
        pytest.skip("litellm is not installed")
    monkeypatch.setenv("KEY", KEY)
    inner_file(pytester, LITELLM)
    # In a subprocess: LiteLLM, once imported, breaks the terminal output of every later
    # in-process inner run of this worker (pytester then finds no summary line).
    recording = pytester.runpytest_subprocess("--llm-record=once")
    recording.assert_outcomes(passed=1)
    assert "githubusercontent" not in recording.stdout.str() + recording.stderr.str()
    assert len(inner_env.requests) == 4  # each call reached the provider once, nothing twice
    [cassette] = (pytester.path / "cassettes").rglob("*.yaml")
    interactions = yaml.safe_load(cassette.read_text())["interactions"]
    assert [i["provider"] for i in interactions] == ["openai"] * 3 + ["anthropic"]
    assert KEY not in all_text(pytester.path / "cassettes")

    monkeypatch.delenv("KEY")
    inner_env.stop()
    pytester.runpytest_subprocess("--llm-block-network").assert_outcomes(passed=1)
    replayed = (pytester.path / "replayed.txt").read_text().splitlines()
    assert replayed == ["[False, False, False, False]", "[True, True, True, True]"]
