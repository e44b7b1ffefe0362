"""vcrpy / pytest-recording cassettes become pytest-llm ones, in every dialect of the corpus."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from kit import CORPUS

from pytest_llm.cassettes import store
from pytest_llm.cassettes.cassette import interaction_key
from pytest_llm.cassettes.vcr_import import VcrImportError, import_file, output_name
from pytest_llm.cassettes.vcr_yaml import VcrLoader
from pytest_llm.keys import DEFAULT_MATCH_ON, make_key
from pytest_llm.providers import recognize_path
from pytest_llm.scrub import SECRET_HEADERS, Scrubber

CHAT, RESPONSES, EMBEDDINGS = "/v1/chat/completions", "/v1/responses", "/v1/embeddings"
MESSAGES, COUNT_TOKENS = "/v1/messages", "/v1/messages/count_tokens"
OPENROUTER = "/api/v1/chat/completions"

# From /work/shared/corpus/MANIFEST.md: provider, statuses in order, whether the requests
# stream, requested models, and endpoint paths (query string apart).
# fmt: off
MANIFEST: dict[str, tuple[str, list[int], bool, set[str], set[str]]] = {
    "pydantic-ai/test_openai_tool_output.yaml": ("openai", [200, 200], False, {"gpt-4o"}, {CHAT}),
    "pydantic-ai/test_openai_native_output.yaml": ("openai", [200, 200], False, {"gpt-4o"}, {CHAT}),
    "pydantic-ai/test_run_stream_sync_streams_real_model.yaml":
        ("openai", [200, 200], True, {"gpt-4o-mini"}, {CHAT}),
    "pydantic-ai/test_openai_web_search_tool_model_not_supported.yaml":
        ("openai", [400], False, {"gpt-4o"}, {CHAT}),
    "pydantic-ai/test_openai_responses_stream.yaml":
        ("openai", [200, 200], True, {"gpt-4o"}, {RESPONSES}),
    "pydantic-ai/test_openai_responses_model_http_error.yaml":
        ("openai", [400], True, {"gpt-4o"}, {RESPONSES}),
    "pydantic-ai/TestOpenAI.test_query.yaml":
        ("openai", [200], False, {"text-embedding-3-small"}, {EMBEDDINGS}),
    "pydantic-ai/TestOpenAI.test_embed_error.yaml":
        ("openai", [404], False, {"nonexistent"}, {EMBEDDINGS}),
    "pydantic-ai/test_anthropic_model_instructions.yaml":
        ("anthropic", [200], False, {"claude-3-opus-latest"}, {MESSAGES}),
    "pydantic-ai/test_anthropic_model_thinking_part_redacted_stream.yaml":
        ("anthropic", [200], True, {"claude-sonnet-4-5-20250929"}, {MESSAGES}),
    "pydantic-ai/test_multiple_parallel_tool_calls.yaml":
        ("anthropic", [200, 200], False, {"claude-haiku-4-5"}, {MESSAGES}),
    "pydantic-ai/test_anthropic_count_tokens_error.yaml":
        ("anthropic", [404], False, {"claude-does-not-exist"}, {COUNT_TOKENS}),
    "llm/test_responses_basic_non_streaming.yaml":
        ("openai", [200], False, {"gpt-5.5"}, {RESPONSES}),
    "llm/test_responses_basic_streaming.yaml": ("openai", [200], True, {"gpt-5.5"}, {RESPONSES}),
    "llm/test_tool_use_basic.yaml": ("openai", [200, 200], True, {"gpt-4o-mini"}, {CHAT}),
    "llm/test_responses_tool_use.yaml": ("openai", [200, 200], False, {"gpt-5.5"}, {RESPONSES}),
    "llm-anthropic/test_prompt.yaml": ("anthropic", [200], True, {"claude-sonnet-4-5"}, {MESSAGES}),
    "llm-anthropic/test_tools.yaml":
        ("anthropic", [200, 200], True, {"claude-haiku-4-5-20251001"}, {MESSAGES}),
    "llm-anthropic/test_schema_prompt.yaml":
        ("anthropic", [200], True, {"claude-sonnet-4-5"}, {MESSAGES}),
    "opentelemetry-python-contrib/test_chat_completion_404.yaml":
        ("openai", [404], False, {"this-model-does-not-exist"}, {CHAT}),
    "opentelemetry-python-contrib/test_chat_completion_streaming.yaml":
        ("openai", [200], True, {"gpt-4"}, {CHAT}),
    "opentelemetry-python-contrib/test_embeddings_with_encoding_format.yaml":
        ("openai", [200], False, {"text-embedding-3-small"}, {EMBEDDINGS}),
    "opentelemetry-python-contrib/test_responses_create_streaming[content_mode0].yaml":
        ("openai", [200], True, {"gpt-4o-mini"}, {RESPONSES}),
    "openllmetry/test_anthropic_message_create_legacy.yaml":
        ("anthropic", [200], False, {"claude-3-opus-20240229"}, {MESSAGES}),
    "openllmetry/test_anthropic_tools_streaming_legacy.yaml":
        ("anthropic", [200], True, {"claude-3-5-sonnet-20240620"}, {MESSAGES}),
    "openllmetry/test_parsed_completion.yaml":
        ("openai", [200, 200, 200], False, {"gpt-4o"}, {CHAT}),
    "openinference/test_anthropic_instrumentation_messages_streaming.yaml":
        ("anthropic", [200], True, {"claude-sonnet-4-6"}, {MESSAGES}),
    "openinference/test_tool_calls.yaml": ("openai", [200], False, {"gpt-4o-mini"}, {CHAT}),
    "langsmith-sdk/test_openai_agents_test_wrap_openai_nests_under_agent_trace.yaml":
        ("openai", [200, 401, 200], False, {"gpt-4.1", "gpt-4o-mini"}, {CHAT, RESPONSES}),
    "langsmith-sdk/test_anthropic_test_prepopulated_invocation_params.yaml": (
        "anthropic", [200, 404, 200, 200], False,
        {"claude-3-5-haiku-latest", "claude-4-5-haiku", "claude-haiku-4-5-20251001"},
        {MESSAGES},
    ),
    "dd-trace-py/chat_completion_error.yaml": ("openai", [401], False, {"gpt-3.5-turbo"}, {CHAT}),
    "dd-trace-py/chat_completion_streamed.yaml": ("openai", [200], True, {"gpt-3.5-turbo"}, {CHAT}),
    "dd-trace-py/embedding.yaml":
        ("openai", [200], False, {"text-embedding-ada-002"}, {EMBEDDINGS}),
    "dd-trace-py/response.yaml": ("openai", [200], False, {"gpt-4.1"}, {RESPONSES}),
    "dd-trace-py/anthropic_completion_error.yaml":
        ("anthropic", [400], False, {"claude-3-opus-20240229"}, {MESSAGES}),
    "dd-trace-py/anthropic_completion_invalid_api_key.yaml":
        ("anthropic", [401], False, {"claude-3-opus-20240229"}, {MESSAGES}),
    "dd-trace-py/openai_chat_completions_post_7efd1a80.yaml":
        ("openai", [200], False, {"gpt-3.5-turbo-0125"}, {CHAT}),
    "dd-trace-py/anthropic_v1_messages_post_ff6be522.json":
        ("anthropic", [200], False, {"claude-sonnet-4-5-20250929"}, {MESSAGES}),
    "pydantic-ai/test_openrouter_errors_raised.yaml":
        ("openai", [429, 429, 429], False, {"google/gemini-2.0-flash-exp:free"}, {OPENROUTER}),
}
# fmt: on

# The order in which the recorder writes an interaction's fields (recording.to_interaction).
FIELD_ORDER = [
    "key",
    "provider",
    "endpoint",
    "model",
    "served_model",
    "system_fingerprint",
    "usage",
    "latency_s",
    "recorded_at",
    "versions",
    "request",
    "response",
]


def test_the_table_covers_the_whole_corpus() -> None:
    on_disk = {p.relative_to(CORPUS).as_posix() for p in CORPUS.glob("*/*") if p.suffix != ".md"}
    assert on_disk == set(MANIFEST)


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_corpus_cassette_imports_as_the_manifest_says(name: str, tmp_path: Path) -> None:
    provider, statuses, streams, models, paths = MANIFEST[name]
    result = import_file(CORPUS / name)
    interactions = result.interactions

    assert result.skipped == []
    assert [i["response"]["status"] for i in interactions] == statuses
    assert {i["provider"] for i in interactions} == {provider}
    assert {i["model"] for i in interactions} == models
    assert {i["request"]["path"] for i in interactions} == paths
    for interaction in interactions:
        request, response = interaction["request"], interaction["response"]
        assert bool(request["body"].get("stream")) is streams
        # A stream request answered with a JSON error is stored as that error, not as events.
        assert ("events" in response) is (streams and response["status"] < 400)
        if "events" in response:
            assert response["final"] is not None
            assert response["headers"]["content-type"].startswith("text/event-stream")
        else:
            assert "text" not in response, "every corpus body is JSON or SSE"
        if response["status"] < 400:
            assert interaction["served_model"]
            assert interaction["usage"]["total_tokens"] > 0 or "events" in response
        assert [f for f in FIELD_ORDER if f in interaction] == list(interaction)
        # The key the recorder would compute for this request, found by the cassette index.
        endpoint = recognize_path(request["path"])
        assert endpoint is not None
        assert interaction["key"] == make_key(endpoint, request["body"], DEFAULT_MATCH_ON)
        assert interaction_key(interaction, DEFAULT_MATCH_ON) == interaction["key"]
        # Stale transport headers never survive: the stored body is decoded.
        for header in ("content-length", "content-encoding", "transfer-encoding"):
            assert header not in response["headers"]

    written = tmp_path / output_name(CORPUS / name)
    store.write_atomic(written, store.dumps(store.document(interactions)))
    assert store.read(written) == interactions
    assert "!!" not in written.read_text(), "no YAML tags (binary, python objects) are stored"


def _secret_values() -> set[str]:
    """Every value of a secret header anywhere in the corpus, request or response."""
    values: set[str] = set()
    for path in CORPUS.glob("*/*"):
        if path.suffix == ".md":
            continue
        document = yaml.load(path.read_text(), Loader=VcrLoader)
        records = document.get("interactions") or [document]
        for record in records:
            for side in ("request", "response"):
                for name, value in (record[side].get("headers") or {}).items():
                    lower = str(name).lower()
                    if lower not in SECRET_HEADERS or value is None:
                        continue
                    for item in value if isinstance(value, list) else [value]:
                        if lower in ("cookie", "set-cookie") and "=" in str(item):
                            # The cookie's value, e.g. __cf_bm=<this>; path=/
                            values.add(str(item).split("=", 1)[1].split(";", 1)[0])
                        else:
                            values.add(str(item))
    return values


def test_no_secret_or_cookie_of_the_corpus_reaches_an_imported_cassette(tmp_path: Path) -> None:
    secrets = _secret_values()
    # The corpus does hold them: org ids, Cloudflare cookies, a placeholder bearer token.
    assert {"pydantic-28gund", "test_openai_org_id", "test_set_cookie"} <= secrets
    assert "Bearer test_openai_api_key" in secrets
    written = []
    for name in MANIFEST:
        result = import_file(CORPUS / name)
        written.append(store.dumps(store.document(result.interactions)))
    text = "\n".join(written)
    for secret in secrets:
        assert secret not in text
    for literal in ("__cf_bm", "_cfuvid", "test_openai_api_key", "4257e925-ee99-4ee8-9c62"):
        assert literal not in text
    lowered = text.lower()
    for header in sorted(SECRET_HEADERS):
        assert f"{header}:" not in lowered


# --- the dialects, one at a time ----------------------------------------------------------------


def _write(tmp_path: Path, text: str, name: str = "cassette.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _vcr(*interactions: dict[str, Any]) -> str:
    return yaml.safe_dump({"interactions": list(interactions), "version": 1}, sort_keys=False)


CHAT_BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}
CHAT_ANSWER = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!"}}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
}


def _chat(
    answer: Any,
    headers: dict[str, Any] | None = None,
    *,
    status: int = 200,
    request_headers: dict[str, Any] | None = None,
    uri: str = "https://api.openai.com/v1/chat/completions",
) -> dict[str, Any]:
    return {
        "request": {
            "body": json.dumps(CHAT_BODY),
            "headers": {"Content-Type": ["application/json"], **(request_headers or {})},
            "method": "POST",
            "uri": uri,
        },
        "response": {
            "body": {"string": answer},
            "headers": headers or {},
            "status": {"code": status, "message": "OK"},
        },
    }


def test_gzip_bytes_are_decoded_with_or_without_their_header(tmp_path: Path) -> None:
    packed = gzip.compress(json.dumps(CHAT_ANSWER).encode())
    with_header = _chat(packed, {"Content-Encoding": ["gzip"], "Content-Length": ["99"]})
    without_header = _chat(packed, {})
    result = import_file(_write(tmp_path, _vcr(with_header, without_header)))
    assert [i["response"]["body"] for i in result.interactions] == [CHAT_ANSWER, CHAT_ANSWER]
    assert result.interactions[0]["response"]["headers"] == {"content-type": "application/json"}


def test_a_stale_gzip_header_on_a_decoded_body_is_ignored(tmp_path: Path) -> None:
    answer = _chat(json.dumps(CHAT_ANSWER, indent=2), {"Content-Encoding": ["gzip"]})
    [interaction] = import_file(_write(tmp_path, _vcr(answer))).interactions
    assert interaction["response"]["body"] == CHAT_ANSWER
    assert interaction["usage"]["total_tokens"] == 7


def test_a_body_in_an_encoding_we_cannot_read_is_a_clear_error(tmp_path: Path) -> None:
    answer = _chat(b"\x8b\x00\xff\xfe brotli", {"Content-Encoding": ["br"]})
    with pytest.raises(VcrImportError) as info:
        import_file(_write(tmp_path, _vcr(answer)))
    message = str(info.value)
    assert message.startswith("cannot import ")
    assert "cassette.yaml:2: interaction #0: the body is compressed with 'br'" in message
    assert "decode_compressed_response=True" in message


def test_sse_with_no_content_type_is_read_as_a_stream(tmp_path: Path) -> None:
    sse = (
        'data: {"id":"c","object":"chat.completion.chunk","model":"m",'
        '"choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n'
        'data: {"id":"c","object":"chat.completion.chunk","model":"m",'
        '"choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}\n\n'
        "data: [DONE]\n\n"
    )
    # Also under a wrong content-type, as hand-edited cassettes have.
    for headers in ({}, {"Content-Type": ["application/json"]}):
        [interaction] = import_file(_write(tmp_path, _vcr(_chat(sse, headers)))).interactions
        response = interaction["response"]
        assert [e["data"] for e in response["events"]][-1] == "[DONE]"
        assert response["final"]["choices"][0]["message"]["content"] == "Hello"
        assert response["headers"]["content-type"] == "text/event-stream"


def test_single_quoted_sse_with_blank_lines_becomes_its_events() -> None:
    [interaction] = import_file(CORPUS / "llm" / "test_responses_basic_streaming.yaml").interactions
    events = interaction["response"]["events"]
    assert events[0]["event"] == "response.created"
    assert all(e["event"] == e["data"]["type"] for e in events)
    assert interaction["response"]["final"]["status"] == "completed"


def test_python_tags_are_read_as_strings_and_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    text = _vcr(_chat(json.dumps(CHAT_ANSWER))).replace(
        "    headers:\n      Content-Type:",
        "    headers:\n"
        "      ? !!python/object/apply:multidict._multidict.istr\n"
        "      - X-Custom\n"
        "      : - kept\n"
        f"      ? !!python/object/apply:os.system ['touch {marker}']\n"
        "      : - nothing\n"
        "      Content-Type:",
        1,
    )
    [interaction] = import_file(_write(tmp_path, text)).interactions
    assert not marker.exists()
    assert interaction["request"]["headers"]["x-custom"] == "kept"


def test_null_and_scalar_header_values_are_tolerated(tmp_path: Path) -> None:
    answer = _chat(
        json.dumps(CHAT_ANSWER),
        {"request-id": None, "x-request-id": "req_1", "openai-version": ["2020-10-01", None]},
        request_headers={"User-Agent": None},
    )
    [interaction] = import_file(_write(tmp_path, _vcr(answer))).interactions
    headers = interaction["response"]["headers"]
    assert headers["x-request-id"] == "req_1" and headers["openai-version"] == "2020-10-01"
    assert "request-id" not in headers


def test_retries_of_one_request_stay_in_order_with_distinct_times(tmp_path: Path) -> None:
    limited = _chat(
        json.dumps({"error": {"message": "slow down"}}),
        {"Date": ["Tue, 30 Jan 2024 21:59:57 GMT"]},
        status=429,
    )
    ok = _chat(json.dumps(CHAT_ANSWER), {"Date": ["Tue, 30 Jan 2024 21:59:57 GMT"]})
    interactions = import_file(_write(tmp_path, _vcr(limited, limited, ok))).interactions
    assert [i["response"]["status"] for i in interactions] == [429, 429, 200]
    assert len({i["key"] for i in interactions}) == 1
    times = [i["recorded_at"] for i in interactions]
    assert times[0] == "2024-01-30T21:59:57.000000+00:00"
    assert times == sorted(set(times))


def test_non_llm_interactions_are_kept_as_plain_http(tmp_path: Path) -> None:
    other = {
        "request": {
            "body": None,
            "headers": {"Authorization": ["Bearer tool-secret-value-123"]},
            "method": "GET",
            "uri": "https://example.com/x?api_key=zzz-secret&q=1",
        },
        "response": {
            "body": {"string": "ok"},
            "headers": {"Content-Type": ["text/plain"]},
            "status": {"code": 200},
        },
    }
    image = {
        "request": {
            "body": None,
            "headers": {},
            "method": "GET",
            "uri": "https://cdn.example/a.png",
        },
        "response": {
            "body": {"string": b"\x89PNG\r\n\x1a\n\xff\xfe"},
            "headers": {"Content-Type": ["image/png"]},
            "status": {"code": 200},
        },
    }
    posted = _chat(json.dumps(CHAT_ANSWER), uri="https://telemetry.example.com/v1/traces")
    result = import_file(
        _write(tmp_path, _vcr(other, _chat(json.dumps(CHAT_ANSWER)), posted, image))
    )
    assert result.skipped == []
    providers = [i["provider"] for i in result.interactions]
    assert providers == ["http", "openai", "http", "http"]
    plain, _, telemetry, picture = result.interactions
    assert plain["url"] == "https://example.com/x?q=1"
    assert plain["response"]["text"] == "ok"
    assert "tool-secret-value-123" not in json.dumps(plain)
    assert telemetry["request"]["body"]["model"] == "gpt-4o-mini"
    assert picture["response"]["base64"] == "iVBORw0KGgr//g=="


def test_credentials_are_scrubbed_from_headers_query_and_bodies(tmp_path: Path) -> None:
    token = "sk-proj-vcrpy-token-0123456789"
    answer = dict(CHAT_ANSWER, echo=f"you sent {token}", account="acct_12345")
    interaction = _chat(
        json.dumps(answer),
        {"Set-Cookie": ["__cf_bm=abc; path=/"], "openai-organization": ["org-x"]},
        request_headers={"Authorization": [f"Bearer {token}"], "Cookie": ["_cfuvid=zzz"]},
        uri="https://my-azure.example.com/v1/chat/completions?api-key=abcdefgh123&beta=true",
    )
    scrubber = Scrubber(patterns=[r"acct_\d+"])
    [stored] = import_file(_write(tmp_path, _vcr(interaction)), scrubber).interactions
    text = store.dumps(store.document([stored]))
    for secret in (token, "abcdefgh123", "__cf_bm", "_cfuvid", "org-x", "acct_12345"):
        assert secret not in text
    assert stored["response"]["body"]["echo"] == "you sent <scrubbed>"
    assert stored["request"]["query"] == "beta=true"


def test_anthropic_beta_query_is_kept_on_the_request() -> None:
    name = "pydantic-ai/test_anthropic_model_instructions.yaml"
    [interaction] = import_file(CORPUS / name).interactions
    assert interaction["request"]["query"] == "beta=true"
    assert interaction["endpoint"] == "/v1/messages"


def test_old_httpx_layout_and_pretty_json_are_read() -> None:
    [error] = import_file(CORPUS / "dd-trace-py" / "chat_completion_error.yaml").interactions
    assert error["response"]["status"] == 401
    assert error["response"]["body"]["error"]["code"] == "invalid_api_key"
    assert error["versions"]["sdk"] == "OpenAI/Python 1.1.1"
    assert error["recorded_at"].startswith("2024-01-30T21:59:57")


def test_pydantic_ai_parsed_body_is_stored_as_is() -> None:
    name = "pydantic-ai/test_openai_tool_output.yaml"
    first, second = import_file(CORPUS / name).interactions
    assert first["request"]["body"]["tool_choice"] == "required"
    calls = first["response"]["body"]["choices"][0]["message"]["tool_calls"]
    assert calls[0]["function"]["name"] == "get_user_country"
    assert second["request"]["body"]["messages"][-1]["role"] == "tool"


def test_langchain_gzipped_requests_and_responses_lists(tmp_path: Path) -> None:
    record = _chat(json.dumps(CHAT_ANSWER))
    document = {"requests": [record["request"]], "responses": [record["response"]]}
    path = tmp_path / "test_chat.yaml.gz"
    path.write_bytes(gzip.compress(yaml.safe_dump(document).encode()))
    [interaction] = import_file(path).interactions
    assert interaction["response"]["body"] == CHAT_ANSWER
    assert output_name(path) == "test_chat.yaml"


def test_output_names_keep_the_source_name() -> None:
    assert output_name(Path("a/test_x[case-1].yaml")) == "test_x[case-1].yaml"
    assert output_name(Path("b/test_y.yml")) == "test_y.yml"
    assert output_name(Path("c/anthropic_post_ff6be522.json")) == "anthropic_post_ff6be522.yaml"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (
            "- just\n- a list\n",
            "not a vcrpy cassette: expected an 'interactions' list, found a list",
        ),
        ("name: x\nvalue: 1\n", "found a mapping with keys 'name', 'value'"),
        ("", "found an empty file"),
        ("interactions:\n  - request: [\n", "not valid YAML"),
    ],
)
def test_a_file_that_is_not_a_vcrpy_cassette_is_refused_by_name(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = _write(tmp_path, content, "not_vcr.yaml")
    with pytest.raises(VcrImportError) as info:
        import_file(path)
    assert str(path) in str(info.value) or "not_vcr.yaml" in str(info.value)
    assert problem in str(info.value)


def test_binary_and_pytest_llm_files_are_refused(tmp_path: Path) -> None:
    binary = tmp_path / "image.yaml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    with pytest.raises(VcrImportError, match=r"image\.yaml:1: not UTF-8 text"):
        import_file(binary)

    converted = import_file(CORPUS / "llm" / "test_tool_use_basic.yaml").interactions
    ours = _write(tmp_path, store.dumps(store.document(converted)), "ours.yaml")
    with pytest.raises(VcrImportError, match="already a pytest-llm cassette"):
        import_file(ours)


def test_a_broken_interaction_names_its_number_and_line(tmp_path: Path) -> None:
    good = _chat(json.dumps(CHAT_ANSWER))
    broken = _chat(json.dumps(CHAT_ANSWER))
    del broken["response"]["status"]
    text = _vcr(good, broken)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if n > 2 and row == "- request:")
    with pytest.raises(VcrImportError) as info:
        import_file(_write(tmp_path, text))
    assert f"cassette.yaml:{line}: interaction #1: the response has no usable status" in str(
        info.value
    )


def test_ddapm_test_agent_json_is_read_too() -> None:
    path = CORPUS / "dd-trace-py" / "anthropic_v1_messages_post_ff6be522.json"
    [interaction] = import_file(path).interactions
    assert interaction["response"]["body"]["type"] == "message"
    assert "anthropic-organization-id" not in interaction["response"]["headers"]


def test_embeddings_keep_base64_as_the_api_sent_it() -> None:
    [interaction] = import_file(CORPUS / "pydantic-ai" / "TestOpenAI.test_query.yaml").interactions
    embedding = interaction["response"]["body"]["data"][0]["embedding"]
    assert isinstance(embedding, str)
    assert len(base64.b64decode(embedding)) % 4 == 0


BODY = json.dumps({"choices": [{"message": {"content": "hello " * 40}}]}).encode()


@pytest.mark.parametrize(
    "raw",
    [
        gzip.compress(BODY),
        gzip.compress(BODY) + gzip.compress(b" more"),  # two members
        gzip.compress(BODY) + b"junk",
        gzip.compress(BODY)[:-6],  # cut short
        b"\x1f\x8b not gzip",
    ],
    ids=["one member", "two members", "trailing junk", "cut short", "not gzip"],
)
def test_a_gzip_body_inflates_or_fails_as_gzip_decompress_does(raw: bytes) -> None:
    from pytest_llm.cassettes.vcr_import import _gunzip

    def outcome(inflate: Any) -> Any:
        try:
            return inflate(raw)
        except Exception as exc:  # the type and message the converter turns into its error
            return type(exc), str(exc)

    assert outcome(_gunzip) == outcome(gzip.decompress)
