"""Anthropic's legacy Text Completions (`/v1/complete`) are LLM calls, streamed or not.

The `anthropic` SDK dropped `completions` in 1.0, so the suites that still call it send
through httpx themselves (or through an old SDK); that is what these tests do.
"""

from __future__ import annotations

import pytest
import yaml
from fake_provider import FakeProvider
from kit import ANTHROPIC_KEY, all_text, inner_file

LEGACY = """
import httpx

URL = os.environ["FAKE_ANTHROPIC_BASE_URL"] + "/v1/complete"
KEY = os.environ.get("ANTHROPIC_API_KEY", "")
HEADERS = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
PROMPT = "\\n\\nHuman: Name three colours\\n\\nAssistant:"

def test_a(llm):
    body = {"model": "claude-2.1", "prompt": PROMPT, "max_tokens_to_sample": 50}
    reply = httpx.post(URL, json=body, headers=HEADERS).json()
    with httpx.stream("POST", URL, json=body | {"stream": True}, headers=HEADERS) as streamed:
        lines = [line for line in streamed.iter_lines() if line.startswith("data:")]
    assert reply["completion"].startswith(" [claude-2.1] reply to: Name three colours")
    assert len(lines) > 3
    assert [(c.provider, c.model) for c in llm.calls] == [("anthropic", "claude-2.1")] * 2
    assert llm.calls[0].text == reply["completion"]
    assert llm.calls[1].text.startswith(" [claude-2.1] reply to: Name three colours")
    assert llm.calls[1].response["stop_reason"] == "stop_sequence"
"""


def test_legacy_complete_records_and_replays_as_anthropic_calls(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    inner_file(pytester, LEGACY)
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    path = pytester.path / "cassettes" / "test_app" / "test_a.yaml"
    stored = yaml.safe_load(path.read_text())["interactions"]
    assert [i["endpoint"] for i in stored] == ["/v1/complete", "/v1/complete"]
    final = stored[1]["response"]["final"]
    assert final["completion"].startswith(" [claude-2.1] reply to: Name three colours")
    assert len(stored[1]["response"]["events"]) > 3
    assert ANTHROPIC_KEY not in all_text(pytester.path / "cassettes")
    inner_env.stop()
    pytester.runpytest().assert_outcomes(passed=1)
