"""Amazon Bedrock through `AnthropicBedrock` and boto3's `bedrock-runtime`: LLM calls whose
eventstream frames are stored decoded and replayed as valid frames."""

from __future__ import annotations

import textwrap

import pytest
import yaml
from fake_provider import FakeProvider
from kit import all_text

pytest.importorskip("botocore")

ACCESS_KEY = "AKIAPLANTEDACCESSKEY01"
SECRET_KEY = "planted/secret/access/key/0123456789"
SESSION_TOKEN = "planted-session-token-0123456789"
MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"

PRELUDE = f"""
import json
import os
import pytest
import boto3
from anthropic import AnthropicBedrock

URL = os.environ["FAKE_URL"]
MODEL = "{MODEL}"
bedrock = AnthropicBedrock(aws_region="us-east-1", base_url=URL)
runtime = boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url=URL)
HI = [{{"role": "user", "content": "Say hi"}}]
"""


@pytest.fixture
def aws_env(inner_env: FakeProvider, monkeypatch: pytest.MonkeyPatch) -> FakeProvider:
    """Planted AWS credentials, a session token among them."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_REGION", "AWS_BEARER_TOKEN_BEDROCK"):
        monkeypatch.delenv(name, raising=False)
    return inner_env


def _write(pytester: pytest.Pytester, body: str) -> None:
    pytester.makepyfile(test_app=PRELUDE + textwrap.dedent(body))


def _replay(
    pytester: pytest.Pytester, provider: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> pytest.RunResult:
    """Offline and with no AWS credentials: the clients sign with the plugin's placeholder,
    at another X-Amz-Date, and neither is part of any key."""
    provider.stop()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    return pytester.runpytest()


def _stored(pytester: pytest.Pytester) -> list[dict]:
    path = pytester.path / "cassettes" / "test_app" / "test_a.yaml"
    return list(yaml.safe_load(path.read_text())["interactions"])


ANTHROPIC_BEDROCK = """
def test_a(llm):
    reply = bedrock.messages.create(model=MODEL, max_tokens=50, messages=HI)
    with bedrock.messages.stream(model=MODEL, max_tokens=50, messages=HI) as stream:
        streamed = stream.get_final_message()
    assert reply.content[0].text.startswith(f"[{MODEL}] reply to: Say hi")
    assert streamed.content[0].text.startswith(f"[{MODEL}] reply to: Say hi")
    assert [(c.provider, c.model) for c in llm.calls] == [("bedrock", MODEL)] * 2
    assert [c.text for c in llm.calls] == [reply.content[0].text, streamed.content[0].text]
    assert llm.calls[1].usage.output_tokens == streamed.usage.output_tokens > 0
"""


def test_anthropic_bedrock_records_decoded_frames_and_replays_them(
    pytester: pytest.Pytester, aws_env: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(pytester, ANTHROPIC_BEDROCK)
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    stored = _stored(pytester)
    assert [i["endpoint"] for i in stored] == [
        f"/model/{MODEL}/invoke",
        f"/model/{MODEL}/invoke-with-response-stream",
    ]
    events = stored[1]["response"]["events"]
    assert events[0] == {"event": "chunk", "data": events[0]["data"]}
    assert events[0]["data"]["type"] == "message_start"  # decoded, not base64
    text = all_text(pytester.path / "cassettes")
    for secret in (ACCESS_KEY, SECRET_KEY, SESSION_TOKEN, "x-amz-security-token"):
        assert secret not in text
    _replay(pytester, aws_env, monkeypatch).assert_outcomes(passed=1)
    assert len(aws_env.requests) == 2


BOTO3 = """
from botocore.config import Config
from pytest_llm import assert_json_schema

WEATHER = {"toolSpec": {"name": "get_weather", "inputSchema": {"json": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}}
USER = [{"role": "user", "content": [{"text": "Say hi"}]}]
CONFIG = {"maxTokens": 50, "temperature": 0.5}

def test_a(llm):
    said = runtime.converse(modelId=MODEL, messages=USER, inferenceConfig=CONFIG)
    streamed = runtime.converse_stream(modelId=MODEL, messages=USER, inferenceConfig=CONFIG)
    pieces = [e["contentBlockDelta"]["delta"]["text"] for e in streamed["stream"]
              if "contentBlockDelta" in e]
    weather = [{"role": "user", "content": [{"text": "What is the weather in Oslo?"}]}]
    tool = runtime.converse(modelId=MODEL, messages=weather, toolConfig={"tools": [WEATHER]})
    body = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 50,
                       "messages": [{"role": "user", "content": "Say hi"}]})
    invoked = json.loads(runtime.invoke_model(modelId=MODEL, body=body)["body"].read())
    events = [json.loads(e["chunk"]["bytes"]) for e in
              runtime.invoke_model_with_response_stream(modelId=MODEL, body=body)["body"]]

    text = said["output"]["message"]["content"][0]["text"]
    assert text == f"[{MODEL}] reply to: Say hi" == "".join(pieces)
    assert invoked["content"][0]["text"].startswith(f"[{MODEL}] reply to: Say hi")
    assert events[0]["type"] == "message_start"
    calls = llm.calls
    assert [c.provider for c in calls] == ["bedrock"] * 5
    assert {c.model for c in calls} == {MODEL}
    assert calls[0].text == text == calls[1].text
    assert calls[0].usage.input_tokens == said["usage"]["inputTokens"]
    assert calls[1].usage.total_tokens == calls[0].usage.total_tokens
    asked = [(t.name, t.arguments) for t in calls[2].tool_calls]
    assert asked == [("get_weather", {"city": "Oslo"})]
    assert_json_schema(calls[2], tool="get_weather")
    assert calls[3].text == invoked["content"][0]["text"]
    assert calls[4].text.startswith(f"[{MODEL}] reply to: Say hi")

@pytest.mark.llm_faults("rate_limit", provider="bedrock")
def test_b(llm):
    once = boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url=URL,
                        config=Config(retries={"max_attempts": 0, "mode": "legacy"}))
    with pytest.raises(once.exceptions.ThrottlingException) as raised:
        once.converse(modelId=MODEL, messages=USER)
    assert "Too many requests, please wait (injected by pytest-llm)" in str(raised.value)
    assert [(c.fault, c.status) for c in llm.calls] == [("rate_limit", 429)]
"""


def test_boto3_bedrock_runtime_records_and_replays_every_operation(
    pytester: pytest.Pytester, aws_env: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(pytester, BOTO3)
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=2)
    stored = _stored(pytester)
    assert [i["endpoint"].rsplit("/", 1)[1] for i in stored] == [
        "converse",
        "converse-stream",
        "converse",
        "invoke",
        "invoke-with-response-stream",
    ]
    assert stored[1]["response"]["events"][0] == {
        "event": "messageStart",
        "data": {"role": "assistant", "p": "ab"},
    }
    assert stored[1]["response"]["final"]["stopReason"] == "end_turn"
    text = all_text(pytester.path / "cassettes")
    for secret in (ACCESS_KEY, SECRET_KEY, SESSION_TOKEN):
        assert secret not in text
    assert len(aws_env.requests) == 5
    _replay(pytester, aws_env, monkeypatch).assert_outcomes(passed=2)
    assert len(aws_env.requests) == 5


BOTO3_BROKEN = """
from botocore.config import Config
from botocore.exceptions import ReadTimeoutError

USER = [{"role": "user", "content": [{"text": "Say hi"}]}]
once = boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url=URL,
                    config=Config(retries={"max_attempts": 0, "mode": "legacy"}))

@pytest.mark.llm_faults("timeout", provider="bedrock")
def test_a(llm):
    with pytest.raises(ReadTimeoutError) as raised:
        once.converse(modelId=MODEL, messages=USER)
    assert "(injected by pytest-llm)" in str(raised.value)
    assert [c.fault for c in llm.calls] == ["timeout"]

@pytest.mark.llm_faults("stream_cut", provider="bedrock")
def test_b(llm):
    streamed = once.converse_stream(modelId=MODEL, messages=USER)
    with pytest.raises(Exception) as raised:
        list(streamed["stream"])
    assert "Response ended prematurely (injected by pytest-llm)" in str(raised.value)
    assert [c.fault for c in llm.calls] == ["stream_cut"]
"""


def test_boto3_timeouts_and_cut_streams_are_injected_as_botocore_raises_them(
    pytester: pytest.Pytester, aws_env: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(pytester, BOTO3_BROKEN)
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=2)
    assert len(aws_env.requests) == 1  # the cut stream is fetched whole once, then cut
    _replay(pytester, aws_env, monkeypatch).assert_outcomes(passed=2)
