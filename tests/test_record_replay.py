"""Record against the fake provider, stop it, and replay offline with no key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_provider import FakeProvider
from kit import ANTHROPIC_KEY, OPENAI_KEY, all_text, inner_file, with_keys, without_keys

SCENARIO = Path(__file__).parent / "scenarios" / "sdk_calls.py"
SCENARIO_TESTS = 8


def _results(path: Path) -> dict[str, object]:
    merged: dict[str, object] = {}
    for line in path.read_text().splitlines():
        merged.update(json.loads(line))
    return merged


def test_record_then_replay_offline_with_no_key(
    pytester: pytest.Pytester, inner_env: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_calls=SCENARIO.read_text())
    recorded, replayed = pytester.path / "record.jsonl", pytester.path / "replay.jsonl"

    with_keys(monkeypatch)
    monkeypatch.setenv("PHASE", "record")
    monkeypatch.setenv("RESULTS_FILE", str(recorded))
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=SCENARIO_TESTS)
    assert len(inner_env.requests) == 24
    cassettes = sorted((pytester.path / "cassettes" / "test_calls").glob("*.yaml"))
    assert [c.stem for c in cassettes] == sorted(
        [
            "test_anthropic_async",
            "test_anthropic_sync",
            "test_marker_without_fixture",
            "test_openai_async",
            "test_openai_chat",
            "test_openai_chat_stream_and_tools",
            "test_openai_responses_and_embeddings",
            "test_plain_httpx_like_older_sdks",
        ]
    )

    inner_env.stop()
    without_keys(monkeypatch)
    monkeypatch.setenv("PHASE", "replay")
    monkeypatch.setenv("RESULTS_FILE", str(replayed))
    result = pytester.runpytest("--llm-block-network")
    result.assert_outcomes(passed=SCENARIO_TESTS)
    result.stdout.fnmatch_lines(["24 call(s) replayed, 0 recorded, 0 cassette(s) written"])

    before, after = _results(recorded), _results(replayed)
    assert sorted(before) == sorted(after)
    for name in before:
        assert after[name] == before[name], name

    written = all_text(pytester.path / "cassettes")
    assert OPENAI_KEY not in written and ANTHROPIC_KEY not in written
    assert "authorization" not in written.lower() and "x-api-key" not in written.lower()


RAW_ANSWERS = """
import asyncio


def test_sync(llm):
    raw = oa.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "sync"}]
    )
    assert raw.headers["content-length"] == str(len(raw.http_response.content))
    assert "reply to: sync #" in raw.parse().choices[0].message.content


def test_async(llm):
    async def call():
        client = openai.AsyncOpenAI(base_url=os.environ["FAKE_OPENAI_BASE_URL"])
        raw = await client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "async"}]
        )
        await client.close()
        return raw

    raw = asyncio.run(call())
    assert raw.headers["content-length"] == str(len(raw.http_response.content))
    assert "reply to: async #" in raw.parse().choices[0].message.content
"""


def test_a_replayed_answer_carries_its_own_length_even_after_a_hand_edit(
    pytester: pytest.Pytester, inner_env: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    inner_file(pytester, RAW_ANSWERS)
    with_keys(monkeypatch)
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=2)
    inner_env.stop()
    without_keys(monkeypatch)
    # A hand edit leaves a length that the stored (decoded, re-encoded) body does not have.
    for cassette in (pytester.path / "cassettes" / "test_app").glob("*.yaml"):
        text = cassette.read_text()
        assert "content-length" not in text  # framing headers are not stored
        edited = text.replace(
            "    headers:\n      content-type:",
            "    headers:\n      content-length: '3'\n      content-type:",
        )
        assert edited != text
        cassette.write_text(edited)
    pytester.runpytest("--llm-block-network").assert_outcomes(passed=2)
