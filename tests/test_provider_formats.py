"""The newer wire formats without sockets: eventstream frames, NDJSON lines, their assembly,
declared schemas and fault bodies."""

from __future__ import annotations

import base64
import json

from pytest_llm.providers import assemble_events, recognize
from pytest_llm.providers.bedrock import Bedrock
from pytest_llm.providers.eventstream import FrameDecoder, encode_frame
from pytest_llm.providers.google import Google
from pytest_llm.providers.ollama import Ollama

NOTE = " (injected)"


def test_eventstream_frames_survive_any_chunking_and_bedrock_events_round_trip() -> None:
    bedrock = Bedrock()
    events = [
        {"event": "chunk", "data": {"type": "message_start", "message": {"content": []}}},
        {"event": "throttlingException", "exception": True, "data": {"message": "slow down"}},
    ]
    wire = b"".join(bedrock.render_stream(events))
    decoder = bedrock.stream_decoder()
    decoded = [e for i in range(0, len(wire), 7) for e in decoder.feed(wire[i : i + 7])]
    assert decoded + decoder.flush() == events
    raw = FrameDecoder().feed(bedrock.render_stream(events[:1])[0])
    (headers, payload) = raw[0]
    assert headers[":event-type"] == "chunk"
    assert json.loads(base64.b64decode(json.loads(payload)["bytes"]))["type"] == "message_start"
    assert FrameDecoder().feed(encode_frame({"a": "b"}, b"{}")[:10]) == []


def test_a_converse_stream_with_a_tool_use_assembles_like_converse() -> None:
    events = [
        {"event": "messageStart", "data": {"role": "assistant"}},
        {"event": "contentBlockDelta", "data": {"contentBlockIndex": 0, "delta": {"text": "Hi"}}},
        {
            "event": "contentBlockStart",
            "data": {"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "t", "name": "f"}}},
        },
        {
            "event": "contentBlockDelta",
            "data": {"contentBlockIndex": 1, "delta": {"toolUse": {"input": '{"a": '}}},
        },
        {
            "event": "contentBlockDelta",
            "data": {"contentBlockIndex": 1, "delta": {"toolUse": {"input": "1}"}}},
        },
        {"event": "messageStop", "data": {"stopReason": "tool_use"}},
        {"event": "metadata", "data": {"usage": {"inputTokens": 2, "outputTokens": 3}}},
    ]
    final = assemble_events("bedrock", "/model/m/converse-stream", events)
    assert final is not None
    assert final["output"]["message"]["content"] == [
        {"text": "Hi"},
        {"toolUse": {"toolUseId": "t", "name": "f", "input": {"a": 1}}},
    ]
    bedrock = Bedrock()
    assert [(c.name, c.arguments) for c in bedrock.tool_calls("converse", final)] == [
        ("f", {"a": 1})
    ]
    assert bedrock.usage("converse", final).total_tokens == 5
    assert bedrock.text("converse_stream", final) == "Hi"


def test_bedrock_faults_and_declared_tools() -> None:
    bedrock = Bedrock()
    kinds = {f: bedrock.fault(f, "m", NOTE) for f in ("rate_limit", "overloaded", "server_error")}
    assert [(a.status, a.headers[0][1].split(":")[0]) for a in kinds.values()] == [
        (429, "ThrottlingException"),
        (503, "ServiceUnavailableException"),
        (500, "InternalServerException"),
    ]
    request = {"toolConfig": {"tools": [{"toolSpec": {"name": "f", "inputSchema": {"json": {}}}}]}}
    assert (
        bedrock.declared_tools(request)["f"].where
        == "toolConfig.tools[0].toolSpec.inputSchema.json"
    )


def test_ollama_lines_assemble_and_read() -> None:
    ollama = Ollama()
    decoder = ollama.stream_decoder()
    wire = b"".join(
        ollama.render_stream(
            [
                {"data": {"message": {"role": "assistant", "content": "Hel", "thinking": "h"}}},
                {"data": {"message": {"content": "lo"}, "done": True, "eval_count": 2}},
            ]
        )
    )
    events = decoder.feed(wire[:10]) + decoder.feed(wire[10:] + b"not json") + decoder.flush()
    assert events[-1] == {"data": "not json"}
    final = ollama.assemble("chat", events)
    assert final is not None
    assert final["message"] == {"role": "assistant", "content": "Hello", "thinking": "h"}
    assert ollama.usage("chat", final).output_tokens == 2
    call = {"message": {"tool_calls": [{"function": {"name": "f", "arguments": '{"a": 1}'}}]}}
    assert [(c.name, c.arguments) for c in ollama.tool_calls("chat", call)] == [("f", {"a": 1})]
    broken = {"message": {"tool_calls": [{"function": {"name": "f", "arguments": "{"}}]}}
    assert ollama.tool_calls("chat", broken)[0].arguments is None
    assert ollama.declared_output_schema("chat", {"format": "json"}) is not None
    assert ollama.declared_output_schema("chat", {"format": {"type": "object"}}) is not None
    assert ollama.declared_output_schema("chat", {}) is None
    assert [ollama.fault(f, "m", NOTE).status for f in ("rate_limit", "overloaded", "x")] == [
        429,
        503,
        500,
    ]
    view = ollama.key_view("chat", "m", {"options": {"temperature": 0, "num_ctx": 4}})
    assert view == {"temperature": 0, "options": {"num_ctx": 4}}


def test_gemini_schemas_thoughts_and_predict_usage() -> None:
    google = Google()
    request = {
        "generationConfig": {
            "responseSchema": {
                "type": "OBJECT",
                "nullable": True,
                "properties": {"a": {"type": "ARRAY", "items": {"type": "STRING"}}},
            }
        },
        "tools": [{"functionDeclarations": [{"name": "f"}, {"name": "g", "parameters": None}]}],
    }
    declared = google.declared_output_schema("generate_content", request)
    assert declared is not None
    assert declared.schema == {
        "type": ["object", "null"],
        "properties": {"a": {"type": "array", "items": {"type": "string"}}},
    }
    assert sorted(google.declared_tools(request)) == ["f", "g"]
    response = {
        "candidates": [
            {"content": {"parts": [{"text": "thinking", "thought": True}, {"text": "answer"}]}}
        ]
    }
    assert google.text("generate_content", response) == "answer"
    predicted = {"predictions": [{"embeddings": {"statistics": {"token_count": 3.0}}}]}
    assert google.usage("embed_content", predicted).input_tokens == 3
    assert google.fault("server_error", "m", NOTE).body["error"]["status"] == "INTERNAL"
    assert recognize("POST", "/v1/models/m:generateContent", []) is None
