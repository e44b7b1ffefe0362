"""Real vcrpy cassettes, imported, replay through today's SDKs as they were recorded.

For each file of the shared corpus: `pytest-llm import` it, then an inner test sends every
recorded request again with the current `openai` / `anthropic` SDK (replay only, network
blocked, every interaction required to be used) and checks that the SDK parsed the same
text, tool calls and usage as the recording holds, or raised its own exception class for
the recorded error status.
"""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from kit import CORPUS, without_keys

from pytest_llm.cassettes import store
from pytest_llm.cassettes.vcr_import import output_name
from pytest_llm.cli import main
from pytest_llm.providers import recognize_path

FILES = sorted(p for p in CORPUS.glob("*/*") if p.suffix in (".yaml", ".json"))

_RETRYABLE = frozenset({408, 409, 429}) | frozenset(range(500, 600))
_SUFFIX = {
    "chat.completions": "/chat/completions",
    "responses": "/responses",
    "embeddings": "/embeddings",
    "messages": "/messages",
    "messages.count_tokens": "/messages/count_tokens",
}

# Requests the current SDK cannot re-create from their recorded body through its typed method,
# and why. They are sent with the SDK's own low-level `client.post` instead, which sends the
# body as recorded and parses the answer with the same response model.
LOW_LEVEL = {
    "dd-trace-py/embedding.yaml": (
        "recorded by openai 1.0.0-beta.3 with no encoding_format; embeddings.create() now always "
        "adds encoding_format=base64, which changes the request and so its key"
    ),
}

INNER = r'''
import base64
import inspect
import json
import os
import struct

import anthropic
import openai
import pytest

SPEC = json.loads(open(os.environ["CORPUS_SPEC"], encoding="utf-8").read())
STATUS_ERRORS = {
    400: "BadRequestError",
    401: "AuthenticationError",
    403: "PermissionDeniedError",
    404: "NotFoundError",
    409: "ConflictError",
    422: "UnprocessableEntityError",
    429: "RateLimitError",
}


def kwargs_for(method, body, drop=()):
    """Recorded fields the method names are passed as themselves, the rest in extra_body."""
    params = inspect.signature(method).parameters
    kwargs = {k: v for k, v in body.items() if k in params and k not in drop}
    extra = {k: v for k, v in body.items() if k not in params and k not in drop}
    if extra:
        kwargs["extra_body"] = extra
    return kwargs


def floats(embedding):
    if isinstance(embedding, str):
        raw = base64.b64decode(embedding)
        return list(struct.unpack(f"<{len(raw) // 4}f", raw))
    return list(embedding)


def json_or_none(text):
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None


def openai_chat(client, call):
    body = call["body"]
    if not body.get("stream"):
        reply = client.chat.completions.create(**kwargs_for(client.chat.completions.create, body))
        message = reply.choices[0].message if reply.choices else None
        calls = [(t.function.name, json_or_none(t.function.arguments))
                 for t in (message.tool_calls or [])] if message else []
        usage = reply.usage
        return {
            "text": (message.content or "") if message else "",
            "tool_calls": calls,
            "usage": [usage.prompt_tokens, usage.completion_tokens] if usage else [0, 0],
        }
    stream = client.chat.completions.create(**kwargs_for(client.chat.completions.create, body))
    text, tools, usage, chunks = "", {}, [0, 0], 0
    for chunk in stream:
        chunks += 1
        if chunk.usage:
            usage = [chunk.usage.prompt_tokens, chunk.usage.completion_tokens]
        for choice in chunk.choices:
            if choice.index != 0:
                continue
            text += choice.delta.content or ""
            for delta in choice.delta.tool_calls or []:
                entry = tools.setdefault(delta.index, ["", ""])
                if delta.function and delta.function.name:
                    entry[0] += delta.function.name
                if delta.function and delta.function.arguments:
                    entry[1] += delta.function.arguments
    calls = [(name, json_or_none(args)) for name, args in (tools[i] for i in sorted(tools))]
    return {"text": text, "tool_calls": calls, "usage": usage, "chunks": chunks}


def openai_responses_result(response):
    calls = [(item.name, json_or_none(item.arguments))
             for item in response.output if item.type == "function_call"]
    usage = response.usage
    return {
        "text": response.output_text,
        "tool_calls": calls,
        "usage": [usage.input_tokens, usage.output_tokens] if usage else [0, 0],
    }


def openai_responses(client, call):
    body = call["body"]
    reply = client.responses.create(**kwargs_for(client.responses.create, body))
    if not body.get("stream"):
        return openai_responses_result(reply)
    final, chunks = None, 0
    for event in reply:
        chunks += 1
        if event.type in ("response.completed", "response.incomplete", "response.failed"):
            final = event.response
    result = openai_responses_result(final)
    result["chunks"] = chunks
    return result


def openai_embeddings(client, call):
    body = call["body"]
    if call["low_level"]:
        reply = client.post(
            "/embeddings", body=body, cast_to=openai.types.CreateEmbeddingResponse
        )
    else:
        reply = client.embeddings.create(**kwargs_for(client.embeddings.create, body))
    return {
        "count": len(reply.data),
        "head": floats(reply.data[0].embedding)[:4] if reply.data else [],
        "usage": [reply.usage.prompt_tokens, 0],
    }


def anthropic_usage(usage):
    cached = usage.cache_read_input_tokens or 0
    written = usage.cache_creation_input_tokens or 0
    return [usage.input_tokens + cached + written, usage.output_tokens]


def anthropic_messages(client, call):
    body = call["body"]
    messages = client.beta.messages if call["beta"] else client.messages
    if body.get("stream"):
        with messages.stream(**kwargs_for(messages.stream, body, drop=("stream",))) as stream:
            message = stream.get_final_message()
    else:
        message = messages.create(**kwargs_for(messages.create, body))
    return {
        "text": "".join(b.text for b in message.content if b.type == "text"),
        "tool_calls": [(b.name, b.input) for b in message.content if b.type == "tool_use"],
        "usage": anthropic_usage(message.usage),
    }


def anthropic_count_tokens(client, call):
    messages = client.beta.messages if call["beta"] else client.messages
    reply = messages.count_tokens(**kwargs_for(messages.count_tokens, call["body"]))
    return {"input_tokens": reply.input_tokens}


DRIVERS = {
    "chat.completions": openai_chat,
    "responses": openai_responses,
    "embeddings": openai_embeddings,
    "messages": anthropic_messages,
    "messages.count_tokens": anthropic_count_tokens,
}


def client_for(call):
    if call["provider"] == "openai":
        return openai.OpenAI(base_url=call["base_url"], max_retries=call["retries"])
    return anthropic.Anthropic(max_retries=call["retries"])


@pytest.mark.llm(cassette=SPEC["cassette"])
def test_replays_as_recorded(llm):
    for number, call in enumerate(SPEC["calls"]):
        client = client_for(call)
        expect = call["expect"]
        drive = DRIVERS[call["operation"]]
        if expect["status"] >= 400:
            sdk = openai if call["provider"] == "openai" else anthropic
            with pytest.raises(sdk.APIStatusError) as info:
                drive(client, call)
            error = info.value
            assert error.status_code == expect["status"], number
            wanted = STATUS_ERRORS.get(expect["status"], "InternalServerError")
            assert type(error).__name__ == wanted, number
            assert expect["error"] in str(error), number
            continue
        got = drive(client, call)
        if "head" in got:
            assert got["count"] == expect["count"], number
            assert got["head"] == pytest.approx(expect["head"], rel=1e-6), number
        for field in ("text", "tool_calls", "usage", "chunks", "input_tokens"):
            if field in expect:
                assert json.loads(json.dumps(got[field])) == expect[field], (number, field)
    assert len(llm.calls) == SPEC["interactions"]
    assert all(c.replayed for c in llm.calls)
'''


def _should_retry(interaction: dict[str, Any]) -> bool:
    """Whether the SDK retries this answer: its x-should-retry header, else the status."""
    status = int(interaction["response"]["status"])
    if status < 400:
        return False
    header = str(interaction["response"].get("headers", {}).get("x-should-retry", ""))
    if header in ("true", "false"):
        return header == "true"
    return status in _RETRYABLE


def _answer(interaction: dict[str, Any]) -> Any:
    response = interaction["response"]
    return response["final"] if "events" in response else response.get("body")


def _floats(embedding: Any) -> list[float]:
    if isinstance(embedding, str):
        raw = base64.b64decode(embedding)
        return list(struct.unpack(f"<{len(raw) // 4}f", raw))
    return [float(v) for v in embedding]


def _expect(interaction: dict[str, Any], operation: str) -> dict[str, Any]:
    """What the SDK must make of the recorded answer, read with pytest-llm's own readers."""
    status = int(interaction["response"]["status"])
    endpoint = recognize_path(interaction["request"]["path"])
    assert endpoint is not None
    answer = _answer(interaction)
    if status >= 400:
        error = answer.get("error") if isinstance(answer, dict) else None
        message = error.get("message", "") if isinstance(error, dict) else ""
        return {"status": status, "error": message}
    usage = endpoint.usage(answer)
    expect: dict[str, Any] = {"status": status, "usage": [usage.input_tokens, usage.output_tokens]}
    if operation == "embeddings":
        expect["count"] = len(answer["data"])
        expect["head"] = _floats(answer["data"][0]["embedding"])[:4]
    elif operation == "messages.count_tokens":
        expect = {"status": status, "input_tokens": answer["input_tokens"]}
    else:
        expect["text"] = endpoint.text(answer)
        expect["tool_calls"] = [[c.name, c.arguments] for c in endpoint.tool_calls(answer)]
        if operation != "messages" and "events" in interaction["response"]:
            # Event by event: the SDK yields one item per JSON event ([DONE] is not one).
            events = interaction["response"]["events"]
            expect["chunks"] = sum(1 for e in events if isinstance(e.get("data"), dict))
    return expect


def _plan(interactions: list[dict[str, Any]], low_level: bool) -> list[dict[str, Any]]:
    """One SDK call per request the application made; retries the SDK makes on its own."""
    calls: list[dict[str, Any]] = []
    index = 0
    while index < len(interactions):
        first = interactions[index]
        last = index
        while (
            last + 1 < len(interactions)
            and _should_retry(interactions[last])
            and interactions[last + 1]["key"] == first["key"]
        ):
            last += 1
        path = first["request"]["path"]
        endpoint = recognize_path(path)
        assert endpoint is not None
        prefix = path.removesuffix(_SUFFIX[endpoint.operation])
        calls.append(
            {
                "provider": endpoint.provider,
                "operation": endpoint.operation,
                "beta": "beta=true" in first["request"].get("query", ""),
                "base_url": "https://api.openai.com" + prefix,
                "retries": last - index,
                "low_level": low_level,
                "body": first["request"]["body"],
                "expect": _expect(interactions[last], endpoint.operation),
            }
        )
        index = last + 1
    return calls


def _name(path: Path) -> str:
    return path.relative_to(CORPUS).as_posix()


@pytest.mark.parametrize("source", FILES, ids=_name)
def test_corpus_cassette_replays_through_current_sdk(
    source: Path,
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = pytester.path / "cassettes" / "corpus"
    assert main(["import", str(source), "--out", str(out)]) == 0
    capsys.readouterr()
    cassette = out / output_name(source)
    interactions = store.read(cassette)
    assert interactions

    spec = {
        "cassette": f"corpus/{cassette.name}",
        "interactions": len(interactions),
        "calls": _plan(interactions, _name(source) in LOW_LEVEL),
    }
    spec_path = pytester.path / "spec.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    monkeypatch.setenv("CORPUS_SPEC", str(spec_path))
    without_keys(monkeypatch)
    for name in ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    pytester.makepyfile(test_corpus=INNER)

    result = pytester.runpytest(
        "--llm-record=none",
        "--llm-block-network",
        "--llm-strict",
        "-p",
        "no:cacheprovider",
        # hypothesis' end-of-run summary costs seconds per inner run and plays no part here.
        "-p",
        "no:hypothesispytest",
    )
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == 1 and result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines([f"*{len(interactions)} call(s) replayed, 0 recorded*"])
