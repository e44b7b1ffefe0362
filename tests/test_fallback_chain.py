"""The issue's bar: a fallback chain across Gemini, Bedrock and OpenAI replays offline, with
every call in `llm.calls` (tokens, cost, schema) and in the drift report when re-recorded."""

from __future__ import annotations

import json

import pytest
from fake_provider import FakeProvider

pytest.importorskip("google.genai")
pytest.importorskip("botocore")

CHAIN = """
import os
import boto3
import openai
import pytest
from botocore.config import Config
from google import genai
from google.genai import errors, types
from pytest_llm import assert_json_schema

URL = os.environ["FAKE_URL"]
BEDROCK_MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"
gemini = genai.Client(http_options=types.HttpOptions(base_url=URL))
runtime = boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url=URL,
                       config=Config(retries={"max_attempts": 0, "mode": "legacy"}))
oa = openai.OpenAI(base_url=os.environ["FAKE_OPENAI_BASE_URL"], max_retries=0)
ANSWER = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}


def answer(question):
    try:
        return gemini.models.generate_content(model="gemini-2.5-flash", contents=question,
            config=types.GenerateContentConfig(
                response_mime_type="application/json", response_schema=ANSWER)).text
    except errors.APIError:
        pass
    try:
        said = runtime.converse(modelId=BEDROCK_MODEL,
                                messages=[{"role": "user", "content": [{"text": question}]}])
        return said["output"]["message"]["content"][0]["text"]
    except runtime.exceptions.ThrottlingException:
        pass
    reply = oa.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": question}])
    return reply.choices[0].message.content


@pytest.mark.llm_faults("overloaded", provider="google")
@pytest.mark.llm_faults("rate_limit", provider="bedrock")
def test_falls_back_to_the_last_provider(llm):
    assert answer("Do you sell gift cards?").startswith("[gpt-4o-mini] reply to:")
    assert [(c.provider, c.fault, c.status) for c in llm.calls] == [
        ("google", "overloaded", 503), ("bedrock", "rate_limit", 429), ("openai", None, 200)]


@pytest.mark.llm_faults("server_error", provider="google")
def test_falls_back_to_bedrock(llm):
    assert answer("Do you sell gift cards?").startswith(f"[{BEDROCK_MODEL}] reply to:")
    assert [c.provider for c in llm.calls] == ["google", "bedrock"]
    bedrock = llm.calls[1]
    assert bedrock.usage.total_tokens > 0 and bedrock.cost_usd > 0


def test_the_first_provider_answers(llm):
    text = answer("Do you sell gift cards?")
    assert_json_schema(text, ANSWER)
    (call,) = llm.calls
    assert call.provider == "google" and call.usage.total_tokens > 0 and call.cost_usd > 0
    assert_json_schema(call)  # the schema the request declared


def test_each_provider_answers(llm):
    for question in ("one", "two", "three"):
        gemini.models.generate_content(model="gemini-2.5-flash", contents=question)
    runtime.converse(modelId=BEDROCK_MODEL, messages=[{"role": "user", "content": [{"text": "x"}]}])
    oa.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
    assert [c.provider for c in llm.calls] == ["google"] * 3 + ["bedrock", "openai"]
"""


def test_a_gemini_bedrock_openai_chain_replays_offline_with_every_call_reported(
    pytester: pytest.Pytester, inner_env: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "AIza-planted-gemini-key-0123456789")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAPLANTED0123456789")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "planted-secret-0123456789")
    pytester.makepyfile(test_chain=CHAIN)
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=4)
    assert len(inner_env.requests) == 8  # faults never reach a provider

    for name in ("GEMINI_API_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    inner_env.stop()
    result = pytester.runpytest("--llm-report=report.json")
    result.assert_outcomes(passed=4)
    report = json.loads((pytester.path / "report.json").read_text())
    calls = [c for test in report["tests"] for c in test["calls"]]
    assert sorted({c["provider"] for c in calls}) == ["bedrock", "google", "openai"]
    answered = [c for c in calls if c["fault"] is None]
    assert all(c["usage"]["total_tokens"] > 0 and c["cost_usd"] > 0 for c in answered)


def test_re_recording_the_chain_reports_drift_for_every_provider(
    pytester: pytest.Pytester, inner_env: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "AIza-planted-gemini-key-0123456789")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAPLANTED0123456789")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "planted-secret-0123456789")
    pytester.makepyfile(test_chain=CHAIN)
    pytester.runpytest("--llm-record=once", "-k", "each").assert_outcomes(passed=1)
    result = pytester.runpytest("--llm-record=rewrite", "--llm-report=drift.json", "-k", "each")
    result.assert_outcomes(passed=1)
    (test,) = json.loads((pytester.path / "drift.json").read_text())["tests"]
    assert [c["provider"] for c in test["calls"]] == ["google"] * 3 + ["bedrock", "openai"]
    for call in test["calls"]:
        drift = call["drift"]
        assert drift is not None and drift["score"] == pytest.approx(1.0)
        assert drift["baseline_model"] == call["model"]
        assert drift["token_delta"]["total_tokens"] == 0
