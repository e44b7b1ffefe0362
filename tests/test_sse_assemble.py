"""SSE parsing/rendering and stream assembly, checked against real recorded cassettes."""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_llm.providers import assemble_events as assemble
from pytest_llm.providers.assemble import (
    assemble_anthropic_messages,
    assemble_openai_chat,
    assemble_openai_responses,
)
from pytest_llm.providers.sse import (
    SSEDecoder,
    looks_like_sse,
    parse_sse,
    render_sse_chunks,
    render_sse_event,
    render_sse_events,
)

CORPUS = Path(__file__).parents[2] / "shared" / "corpus"

needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus not found at {CORPUS}")

CHAT = ("openai", "/v1/chat/completions")
RESPONSES = ("openai", "/v1/responses")
MESSAGES = ("anthropic", "/v1/messages")

# (cassette, interaction count, provider/endpoint)
STREAM_CASSETTES: list[tuple[str, int, tuple[str, str]]] = [
    ("pydantic-ai/test_run_stream_sync_streams_real_model.yaml", 2, CHAT),
    ("llm/test_tool_use_basic.yaml", 2, CHAT),
    ("opentelemetry-python-contrib/test_chat_completion_streaming.yaml", 1, CHAT),
    ("dd-trace-py/chat_completion_streamed.yaml", 1, CHAT),
    ("pydantic-ai/test_openai_responses_stream.yaml", 2, RESPONSES),
    ("llm/test_responses_basic_streaming.yaml", 1, RESPONSES),
    ("llm-anthropic/test_prompt.yaml", 1, MESSAGES),
    ("llm-anthropic/test_tools.yaml", 2, MESSAGES),
    ("openllmetry/test_anthropic_tools_streaming_legacy.yaml", 1, MESSAGES),
    ("pydantic-ai/test_anthropic_model_thinking_part_redacted_stream.yaml", 1, MESSAGES),
    ("openinference/test_anthropic_instrumentation_messages_streaming.yaml", 1, MESSAGES),
]

CASES = [
    pytest.param(name, index, api, id=f"{name.split('/')[-1].removesuffix('.yaml')}[{index}]")
    for name, count, api in STREAM_CASSETTES
    for index in range(count)
]


def response_body(name: str, index: int) -> str:
    """The recorded response body text of one interaction, whatever the cassette layout."""
    document = yaml.safe_load((CORPUS / name).read_text(encoding="utf-8"))
    response = document["interactions"][index]["response"]
    # Old vcrpy httpx stubs (dd-trace-py) store decoded text under `content:`.
    raw = response["body"]["string"] if "body" in response else response["content"]
    if isinstance(raw, bytes):
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        raw = raw.decode("utf-8")
    assert isinstance(raw, str)
    return raw


def events_of(name: str, index: int = 0) -> list[dict[str, Any]]:
    return parse_sse(response_body(name, index))


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def decode_in_chunks(data: bytes, size: int) -> list[dict[str, Any]]:
    decoder = SSEDecoder()
    events: list[dict[str, Any]] = []
    for piece in chunked(data, size):
        events.extend(decoder.feed(piece))
    return events + decoder.flush()


# --- SSE against the corpus -------------------------------------------------------------


@needs_corpus
@pytest.mark.parametrize(("name", "index", "api"), CASES)
def test_corpus_parse_render_round_trip(name: str, index: int, api: tuple[str, str]) -> None:
    body = response_body(name, index)
    assert looks_like_sse(body)
    events = parse_sse(body)
    assert events
    for event in events:
        assert isinstance(event["data"], dict) or event["data"] == "[DONE]"
        assert set(event) <= {"event", "data"}
    rendered = render_sse_events(events)
    assert parse_sse(rendered.decode("utf-8")) == events
    # Rendering is canonical: a second pass gives identical bytes.
    assert render_sse_events(parse_sse(rendered.decode("utf-8"))) == rendered


@needs_corpus
@pytest.mark.parametrize("size", [1, 7])
@pytest.mark.parametrize(("name", "index", "api"), CASES)
def test_corpus_incremental_decoder_matches(
    name: str, index: int, api: tuple[str, str], size: int
) -> None:
    body = response_body(name, index)
    expected = parse_sse(body)
    assert decode_in_chunks(body.encode("utf-8"), size) == expected
    # The canonical rendering must decode the same way when streamed.
    assert decode_in_chunks(render_sse_events(expected), size) == expected


@needs_corpus
@pytest.mark.parametrize("ending", ["\r\n", "\r"])
@pytest.mark.parametrize(("name", "index", "api"), CASES)
def test_corpus_line_endings(name: str, index: int, api: tuple[str, str], ending: str) -> None:
    body = response_body(name, index)
    # JSON payloads escape their newlines, so every raw "\n" here is SSE framing.
    converted = body.replace("\n", ending)
    expected = parse_sse(body)
    assert parse_sse(converted) == expected
    assert decode_in_chunks(converted.encode("utf-8"), 1) == expected


@needs_corpus
def test_corpus_ping_and_padding_quirks() -> None:
    # Anthropic pads JSON with trailing spaces (`"index":0  }`) and sends `{"type": "ping"}`.
    name = "pydantic-ai/test_anthropic_model_thinking_part_redacted_stream.yaml"
    body = response_body(name, 0)
    assert '"index":0  }' in body
    events = parse_sse(body)
    assert [e["event"] for e in events].count("ping") == 3
    assert {"event": "ping", "data": {"type": "ping"}} in events
    assert b'data: {"type":"ping"}\n\n' in render_sse_events(events)
    # OpenAI chat has no `event:` lines; its terminator is not JSON.
    chat = events_of("llm/test_tool_use_basic.yaml")
    assert all("event" not in e for e in chat)
    assert chat[-1] == {"data": "[DONE]"}
    assert render_sse_event(chat[-1]) == b"data: [DONE]\n\n"


# --- SSE unit behaviour ------------------------------------------------------------------


def test_parse_multiline_data_comments_and_unterminated_last_event() -> None:
    text = ': keep-alive\n\nevent: a\ndata: line1\ndata: line2\n\n:c\ndata:{"x":1}'
    assert parse_sse(text) == [
        {"event": "a", "data": "line1\nline2"},
        {"data": {"x": 1}},
    ]
    assert render_sse_event({"event": "a", "data": "line1\nline2"}) == (
        b"event: a\ndata: line1\ndata: line2\n\n"
    )


def test_parse_field_details() -> None:
    assert parse_sse("data:  two spaces\n\n") == [{"data": " two spaces"}]
    assert parse_sse("data\n\n") == [{"data": ""}]
    assert parse_sse("data:\ndata:\n\n") == [{"data": "\n"}]
    assert parse_sse("unknown: x\n\n") == []
    assert parse_sse("\n\n\n") == []
    assert parse_sse("\ufeffdata: x\n\n") == [{"data": "x"}]
    assert parse_sse("id: 7\nretry: 3000\ndata: x\n\n") == [{"data": "x", "id": "7", "retry": 3000}]
    assert parse_sse("retry: soon\ndata: x\n\n") == [{"data": "x"}]
    assert parse_sse("event: only\n\n") == [{"event": "only"}]


def test_id_and_retry_round_trip() -> None:
    event = {"event": "e", "data": {"a": [1, 2]}, "id": "abc", "retry": 250}
    wire = render_sse_event(event)
    assert wire == b'event: e\nid: abc\nretry: 250\ndata: {"a":[1,2]}\n\n'
    assert parse_sse(wire.decode()) == [event]


def test_json_scalars_stay_raw_so_rendering_is_exact() -> None:
    for text in ("42", '"hi"', "true", "null", "[DONE]", "{not json"):
        wire = f"data: {text}\n\n"
        events = parse_sse(wire)
        assert events == [{"data": text}]
        assert render_sse_event(events[0]) == wire.encode()


def test_render_is_compact_and_faithful() -> None:
    event = {"event": "x", "data": {"t": "é 🦅\n", "n": 1.0, "z": None, "l": []}}
    wire = render_sse_event(event)
    assert wire == 'event: x\ndata: {"t":"é 🦅\\n","n":1.0,"z":null,"l":[]}\n\n'.encode()
    assert parse_sse(wire.decode()) == [event]


def test_render_lone_surrogate_stays_escaped() -> None:
    event = {"data": {"text": "\ud83d"}}
    wire = render_sse_event(event)
    assert wire == b'data: {"text":"\\ud83d"}\n\n'
    assert parse_sse(wire.decode()) == [event]


MIXED_EVENTS: list[dict[str, Any]] = [
    {"event": "message_start", "data": {"type": "message_start", "n": 1.0, "z": None}},
    {"data": {"choices": [{"delta": {"content": "é 🦅\n\u2028"}}]}},
    {"event": "ping", "data": {"type": "ping"}},
    {"data": "[DONE]"},
    {"event": "e", "data": {"a": [1, 2]}, "id": "abc", "retry": 250},
    {"event": "only"},
    {"data": []},
    {"event": "x", "data": {"text": "\ud83d"}},
]


@pytest.mark.parametrize("count", [0, 1, 2, len(MIXED_EVENTS)])
def test_stream_rendered_at_once_is_each_event_rendered(count: int) -> None:
    events = MIXED_EVENTS[:count]
    assert render_sse_chunks(events) == [render_sse_event(e) for e in events]


def test_stream_holding_the_separator_text_still_renders_each_event(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The stream's data are encoded together and cut at a random text; data that hold that
    # very text must not shift the cut.
    monkeypatch.setattr("pytest_llm.providers.sse.secrets.token_hex", lambda n: "cafe")
    events = [{"data": {"a": ["x", "cafe", "y"]}}, {"event": "b", "data": ["cafe"]}]
    assert render_sse_chunks(events) == [
        b'data: {"a":["x","cafe","y"]}\n\n',
        b'event: b\ndata: ["cafe"]\n\n',
    ]


def test_render_rejects_line_break_in_event_name() -> None:
    with pytest.raises(ValueError):
        render_sse_event({"event": "a\nb", "data": "x"})


def test_decoder_splits_utf8_and_crlf_across_chunks() -> None:
    wire = 'data: {"t":"🦅"}\r\n\r\n'.encode()
    decoder = SSEDecoder()
    out: list[dict[str, Any]] = []
    for byte in chunked(wire, 1):
        out.extend(decoder.feed(byte))
    assert out == [{"data": {"t": "🦅"}}]
    assert decoder.flush() == []

    decoder = SSEDecoder()
    # A CR ending one chunk and the LF starting the next are one line break, not two.
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\ndata: b\r") == []
    assert decoder.feed(b"\n\r\n") == [{"data": "a\nb"}]
    assert decoder.flush() == []


def test_decoder_flush_emits_partial_last_event() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"event: x\ndata: [DO") == []
    assert decoder.flush() == [{"event": "x", "data": "[DO"}]


def test_looks_like_sse() -> None:
    assert looks_like_sse("data: {}\n\n")
    assert looks_like_sse("event: ping\ndata: {}\n\n")
    assert looks_like_sse(": comment\n\n")
    assert looks_like_sse("\ufeff\n\ndata: x")
    assert looks_like_sse("retry: 10\n\n")
    assert not looks_like_sse('{"error": {"message": "bad"}}')
    assert not looks_like_sse("")
    assert not looks_like_sse("database: x")
    assert not looks_like_sse("hello")


# --- assembly against the corpus ---------------------------------------------------------


@needs_corpus
def test_openai_chat_tool_call_with_usage() -> None:
    events = events_of("pydantic-ai/test_run_stream_sync_streams_real_model.yaml", 0)
    result = assemble_openai_chat(events)
    assert result["id"] == "chatcmpl-Dx0XpqH8w09uBXwq1zFGYdETjtnEl"
    assert result["object"] == "chat.completion"
    assert result["created"] == 1782955817
    assert result["model"] == "gpt-4o-mini-2024-07-18"
    assert result["system_fingerprint"] == "fp_d0469e1700"
    assert result["service_tier"] == "default"
    [choice] = result["choices"]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["logprobs"] is None
    assert choice["message"]["content"] is None
    assert choice["message"]["tool_calls"] == [
        {
            "id": "call_ZR5UUuTt3pf61kjwAJIYdVMj",
            "type": "function",
            "function": {"name": "get_capital", "arguments": '{"country":"UK"}'},
        }
    ]
    assert result["usage"]["prompt_tokens"] == 53
    assert result["usage"]["completion_tokens"] == 15
    assert result["usage"]["total_tokens"] == 68
    assert "obfuscation" not in json.dumps(result)

    text = assemble_openai_chat(
        events_of("pydantic-ai/test_run_stream_sync_streams_real_model.yaml", 1)
    )
    assert text["choices"][0]["message"] == {
        "role": "assistant",
        "content": "The capital of the UK is London.",
        "refusal": None,
    }
    assert text["usage"]["total_tokens"] == 87


@needs_corpus
def test_openai_chat_llm_tool_use() -> None:
    first = assemble_openai_chat(events_of("llm/test_tool_use_basic.yaml", 0))
    [call] = first["choices"][0]["message"]["tool_calls"]
    assert call["id"] == "call_1EYWDzueHEp8OsB8jJSEp7WB"
    assert call["function"] == {"name": "multiply", "arguments": '{"a":1231,"b":2331}'}
    assert (first["usage"]["prompt_tokens"], first["usage"]["completion_tokens"]) == (54, 20)

    second = assemble_openai_chat(events_of("llm/test_tool_use_basic.yaml", 1))
    content = second["choices"][0]["message"]["content"]
    assert content.startswith("The result of \\( 1231 \\times 2331 \\)")
    assert "2,869,461" in content
    assert second["choices"][0]["finish_reason"] == "stop"
    assert second["usage"]["total_tokens"] == 113


@needs_corpus
def test_openai_chat_otel_and_old_layout() -> None:
    otel = assemble_openai_chat(
        events_of("opentelemetry-python-contrib/test_chat_completion_streaming.yaml")
    )
    assert otel["model"] == "gpt-4-0613"
    assert otel["system_fingerprint"] is None
    assert otel["choices"][0]["message"]["content"] == '"This is a test."'
    assert otel["usage"]["prompt_tokens"] == 12
    assert otel["usage"]["completion_tokens"] == 5

    # 2023 stream: no usage chunk, no logprobs/system_fingerprint keys at all.
    old = assemble_openai_chat(events_of("dd-trace-py/chat_completion_streamed.yaml"))
    assert old["choices"] == [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "The Los Angeles Dodgers won the World Series in 2020.",
                "refusal": None,
            },
            "finish_reason": "stop",
        }
    ]
    assert old["usage"] is None
    assert "system_fingerprint" not in old


@needs_corpus
def test_openai_responses_completed() -> None:
    name = "pydantic-ai/test_openai_responses_stream.yaml"
    call = assemble_openai_responses(events_of(name, 0))
    assert call["id"] == "resp_67e554a155508191900ee113293c4c830794405d35281ae2"
    assert call["status"] == "completed"
    [item] = call["output"]
    assert item["type"] == "function_call"
    assert item["name"] == "get_capital"
    assert item["call_id"] == "call_kL0PCQV7M2WMoVX8V8OtYSAL"
    assert item["arguments"] == '{"country":"France"}'
    assert call["usage"]["input_tokens"] == 255
    assert call["usage"]["output_tokens"] == 16

    text = assemble_openai_responses(events_of(name, 1))
    assert text["output"][0]["content"][0]["text"] == "The capital of France is Paris."
    assert text["usage"]["total_tokens"] == 287

    pong = assemble_openai_responses(events_of("llm/test_responses_basic_streaming.yaml"))
    assert pong["model"] == "gpt-5.5-2026-04-23"
    assert pong["output"][0]["content"][0]["text"] == "pong"
    assert pong["output"][0]["phase"] == "final_answer"
    assert (pong["usage"]["input_tokens"], pong["usage"]["output_tokens"]) == (11, 5)


@needs_corpus
@pytest.mark.parametrize("index", [0, 1])
def test_openai_responses_cut_stream_rebuilt(index: int) -> None:
    events = events_of("pydantic-ai/test_openai_responses_stream.yaml", index)
    complete = assemble_openai_responses(events)

    def type_of(event: dict[str, Any]) -> str:
        data = event["data"]
        return str(data.get("type")) if isinstance(data, dict) else ""

    without_final = [e for e in events if type_of(e) != "response.completed"]
    rebuilt = assemble_openai_responses(without_final)
    assert rebuilt["id"] == complete["id"]
    assert rebuilt["status"] == "in_progress"
    assert rebuilt["output"] == complete["output"]

    # Cut before any `.done` event: only the deltas are left to rebuild from.
    deltas_only = [e for e in without_final if not type_of(e).endswith(".done")]
    partial = assemble_openai_responses(deltas_only)
    [item] = partial["output"]
    if index == 0:
        assert item["arguments"] == '{"country":"France"}'
    else:
        assert item["content"][0]["text"] == "The capital of France is Paris."


@needs_corpus
def test_anthropic_text_and_usage_merge() -> None:
    result = assemble_anthropic_messages(events_of("llm-anthropic/test_prompt.yaml"))
    assert result["id"] == "msg_017A4s3HAsrqf5d2WvBmrpLr"
    assert result["model"] == "claude-sonnet-4-5-20250929"
    assert result["content"] == [{"type": "text", "text": "- Captain\n- Scoop"}]
    assert result["stop_reason"] == "end_turn"
    assert result["stop_sequence"] is None
    # message_delta's totals override message_start; fields it omits survive.
    assert result["usage"]["output_tokens"] == 10
    assert result["usage"]["input_tokens"] == 17
    assert result["usage"]["service_tier"] == "standard"
    assert result["usage"]["cache_creation"] == {
        "ephemeral_5m_input_tokens": 0,
        "ephemeral_1h_input_tokens": 0,
    }

    poem = assemble_anthropic_messages(
        events_of("openinference/test_anthropic_instrumentation_messages_streaming.yaml")
    )
    assert poem["content"] == [{"type": "text", "text": "Sunlight scatters off air molecules."}]
    assert (poem["usage"]["input_tokens"], poem["usage"]["output_tokens"]) == (21, 13)


@needs_corpus
def test_anthropic_tools_gzip_cassette() -> None:
    calls = assemble_anthropic_messages(events_of("llm-anthropic/test_tools.yaml", 0))
    assert calls["stop_reason"] == "tool_use"
    assert [(b["type"], b["id"], b["name"], b["input"]) for b in calls["content"]] == [
        ("tool_use", "toolu_01LtHJmixrs9NcWQkK8hu8hj", "pelican_name_generator", {}),
        ("tool_use", "toolu_01N8a4jWyf116qKTMqKKmjyt", "pelican_name_generator", {}),
    ]
    assert calls["usage"]["output_tokens"] == 62

    answer = assemble_anthropic_messages(events_of("llm-anthropic/test_tools.yaml", 1))
    [block] = answer["content"]
    assert block["text"].startswith(
        "Here are two great names for your pet pelican:\n\n1. **Charles**"
    )
    assert block["text"].endswith("feathered friend! 🦅")
    assert answer["usage"]["input_tokens"] == 678
    assert answer["usage"]["output_tokens"] == 82


@needs_corpus
def test_anthropic_input_json_delta() -> None:
    events = events_of("openllmetry/test_anthropic_tools_streaming_legacy.yaml")
    result = assemble_anthropic_messages(events)
    text, weather, clock = result["content"]
    assert text["text"].startswith("Certainly! I can help you with that information.")
    assert text["text"].endswith("Let me fetch that data for you.")
    assert weather == {
        "type": "tool_use",
        "id": "toolu_014x5X91kx3fvdhpLvwXZWE2",
        "name": "get_weather",
        "input": {"location": "San Francisco, CA", "unit": "celsius"},
    }
    assert clock["name"] == "get_time"
    assert clock["input"] == {"timezone": "America/Los_Angeles"}
    assert result["stop_reason"] == "tool_use"
    # This old delta carries only output_tokens: input_tokens must come from message_start.
    assert result["usage"]["input_tokens"] == 506
    assert result["usage"]["output_tokens"] == 153

    # Cut before the last content_block_stop: the complete JSON that did arrive is still used.
    stops = [i for i, e in enumerate(events) if e.get("event") == "content_block_stop"]
    cut = assemble_anthropic_messages(events[: stops[-1]])
    assert cut["content"][2]["input"] == {"timezone": "America/Los_Angeles"}
    assert cut["stop_reason"] is None


@needs_corpus
def test_anthropic_redacted_thinking() -> None:
    result = assemble_anthropic_messages(
        events_of("pydantic-ai/test_anthropic_model_thinking_part_redacted_stream.yaml")
    )
    first, second, text = result["content"]
    assert first["type"] == second["type"] == "redacted_thinking"
    assert first["data"].startswith("EqkECkYIBxgCKkA8AZ4noDfV5VcOJe")
    assert second["data"].startswith("EtgBCkYIBxgCKkDQfGkwzflEJP5asG3o")
    assert text["text"].startswith(
        "I notice that you've sent what appears to be some kind of test string or command."
    )
    assert text["text"].endswith("How can I assist you today with a legitimate task or question?")
    assert (result["usage"]["input_tokens"], result["usage"]["output_tokens"]) == (92, 189)


@needs_corpus
@pytest.mark.parametrize(("name", "index", "api"), CASES)
def test_assemble_dispatch_and_no_mutation(name: str, index: int, api: tuple[str, str]) -> None:
    events = events_of(name, index)
    before = copy.deepcopy(events)
    provider, endpoint = api
    result = assemble(provider, endpoint, events)
    assert result is not None
    assert events == before
    assert assemble(provider, f"https://proxy.example{endpoint}?beta=true", events) == result


# --- cross-check with the SDKs' own stream accumulation ----------------------------------


def _prune(value: Any) -> Any:
    """Drop what SDK models add on top of the wire JSON: null fields and parse helpers."""
    if isinstance(value, dict):
        return {
            key: _prune(item)
            for key, item in value.items()
            if item is not None and key not in ("parsed", "parsed_arguments")
        }
    if isinstance(value, list):
        return [_prune(item) for item in value]
    return value


def _sdk_final(provider: str, endpoint: str, body: bytes) -> tuple[dict[str, Any], Any]:
    httpx2 = pytest.importorskip("httpx2")

    def handler(request: Any) -> Any:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    http_client = httpx2.Client(transport=httpx2.MockTransport(handler))
    if provider == "anthropic":
        anthropic = pytest.importorskip("anthropic")
        client = anthropic.Anthropic(api_key="x", http_client=http_client, max_retries=0)
        with client.messages.stream(
            model="m", max_tokens=16, messages=[{"role": "user", "content": "hi"}]
        ) as stream:
            return stream.get_final_message().to_dict(), anthropic.types.Message

    openai = pytest.importorskip("openai")
    client = openai.OpenAI(api_key="x", http_client=http_client, max_retries=0)
    if endpoint.endswith("chat/completions"):
        with client.chat.completions.stream(
            model="m", messages=[{"role": "user", "content": "hi"}]
        ) as chat_stream:
            final = chat_stream.get_final_completion().to_dict()
        # The SDK snapshot keeps the streaming-only `index` on each tool call.
        for choice in final["choices"]:
            for call in choice["message"].get("tool_calls") or []:
                call.pop("index", None)
        return final, openai.types.chat.ChatCompletion
    with client.responses.stream(model="m", input="hi") as responses_stream:
        # No model to validate against: this SDK's `Response` requires usage fields
        # (`cache_write_tokens`) that 2025 recordings predate, and ours is the recorded object.
        return responses_stream.get_final_response().to_dict(), None


@needs_corpus
@pytest.mark.parametrize(("name", "index", "api"), CASES)
def test_matches_sdk_accumulation(name: str, index: int, api: tuple[str, str]) -> None:
    events = events_of(name, index)
    provider, endpoint = api
    ours = assemble(provider, endpoint, events)
    assert ours is not None
    # Serve our rendering, not the recorded bytes: this also proves replay works.
    sdk, model = _sdk_final(provider, endpoint, render_sse_events(events))
    assert _prune(ours) == _prune(sdk)
    if model is not None:
        # And the assembled dict is a valid non-streaming response for the SDK.
        model.model_validate(ours)


# --- assembly edge cases -----------------------------------------------------------------


def _chunk(choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    data = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    return {"data": {**data, "choices": choices, **extra}}


def test_openai_chat_multiple_choices_logprobs_and_parallel_tools() -> None:
    token = {"token": "a", "logprob": -0.1, "bytes": [97], "top_logprobs": []}
    events = [
        # Azure content-filter preamble: not a chunk.
        {"data": {"object": "", "id": "", "choices": [], "prompt_filter_results": []}},
        _chunk(
            [
                {"index": 1, "delta": {"role": "assistant", "content": "B"}, "logprobs": None},
                {
                    "index": 0,
                    "delta": {"role": "assistant", "content": "a"},
                    "logprobs": {"content": [token], "refusal": None},
                },
            ]
        ),
        _chunk(
            [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {"index": 0, "id": "t0", "type": "function", "function": {"name": "f"}},
                            {"index": 1, "id": "t1", "type": "function", "function": {"name": "g"}},
                        ]
                    },
                    "logprobs": {"content": [token], "refusal": None},
                },
            ]
        ),
        _chunk(
            [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {"index": 1, "function": {"arguments": '{"y"'}},
                            {"index": 0, "function": {"arguments": "{}"}},
                            {"index": 1, "function": {"arguments": ":2}"}},
                        ]
                    },
                },
                {"index": 1, "delta": {"refusal": "no"}, "finish_reason": "stop"},
            ]
        ),
        _chunk([{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]),
        {"data": "[DONE]"},
    ]
    result = assemble_openai_chat(events)
    first, second = result["choices"]
    assert first["message"]["content"] == "a"
    assert first["logprobs"]["content"] == [token, token]
    assert first["finish_reason"] == "tool_calls"
    assert first["message"]["tool_calls"] == [
        {"id": "t0", "type": "function", "function": {"name": "f", "arguments": "{}"}},
        {"id": "t1", "type": "function", "function": {"name": "g", "arguments": '{"y":2}'}},
    ]
    assert second == {
        "index": 1,
        "message": {"role": "assistant", "content": "B", "refusal": "no"},
        "logprobs": None,
        "finish_reason": "stop",
    }
    assert result["usage"] is None


def test_openai_chat_error_mid_stream() -> None:
    events = [
        _chunk([{"index": 0, "delta": {"content": "par"}}]),
        {"data": {"error": {"message": "server had an error", "type": "server_error"}}},
    ]
    result = assemble_openai_chat(events)
    assert result["choices"][0]["message"]["content"] == "par"
    assert result["error"]["type"] == "server_error"


def test_openai_responses_error_event_without_completion() -> None:
    events = [
        {
            "event": "response.created",
            "data": {"type": "response.created", "response": {"id": "r"}},
        },
        {"event": "error", "data": {"type": "error", "code": "server_error", "message": "boom"}},
    ]
    result = assemble_openai_responses(events)
    assert result == {"id": "r", "error": {"code": "server_error", "message": "boom"}, "output": []}


def test_anthropic_thinking_signature_citations_and_errors() -> None:
    def event(data: dict[str, Any]) -> dict[str, Any]:
        return {"event": data["type"], "data": data}

    citation = {"type": "char_location", "cited_text": "x", "document_index": 0}
    events = [
        event(
            {
                "type": "message_start",
                "message": {"id": "m", "content": [], "usage": {"input_tokens": 3}},
            }
        ),
        event(
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "thinking", "thinking": "", "signature": ""},
            }
        ),
        event(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "thinking_delta", "thinking": "hm"},
            }
        ),
        event(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "thinking_delta", "thinking": "m"},
            }
        ),
        event(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "signature_delta", "signature": "SIG"},
            }
        ),
        event({"type": "content_block_stop", "index": 0}),
        event(
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {"type": "text", "text": "", "citations": None},
            }
        ),
        event(
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "citations_delta", "citation": citation},
            }
        ),
        event(
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "text_delta", "text": "ok"},
            }
        ),
        event({"type": "content_block_stop", "index": 1}),
        event(
            {
                "type": "content_block_start",
                "index": 2,
                "content_block": {"type": "tool_use", "id": "t", "name": "f", "input": {}},
            }
        ),
        event(
            {
                "type": "content_block_delta",
                "index": 2,
                "delta": {"type": "input_json_delta", "partial_json": '{"a": '},
            }
        ),
        event({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    ]
    result = assemble_anthropic_messages(events)
    assert result["content"][0] == {"type": "thinking", "thinking": "hmm", "signature": "SIG"}
    assert result["content"][1] == {"type": "text", "text": "ok", "citations": [citation]}
    # Truncated tool JSON is kept verbatim rather than silently becoming {}.
    assert result["content"][2]["input"] == '{"a": '
    assert result["usage"] == {"input_tokens": 3}
    assert result["error"] == {"type": "overloaded_error", "message": "Overloaded"}

    only_error = assemble_anthropic_messages([events[-1]])
    assert only_error == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
    }


def test_assemble_dispatch() -> None:
    chat = [_chunk([{"index": 0, "delta": {"content": "x"}}])]
    assert assemble("openai", "/v1/chat/completions", chat) is not None
    azure = "/openai/deployments/d/chat/completions?api-version=2024-10-21"
    assert assemble("openai", azure, chat) is not None
    assert assemble("openai", "/v1/responses/", []) == {"output": []}
    assert assemble("anthropic", "/v1/messages?beta=true", []) == {}
    assert assemble("anthropic", "/v1/messages/count_tokens", []) is None
    assert assemble("openai", "/v1/embeddings", chat) is None
    assert assemble("openai", "/v1/messages", chat) is None
    assert assemble("gemini", "/v1/chat/completions", chat) is None
