"""assert_json_schema on plain values and on real recorded structured-output calls."""

from __future__ import annotations

import copy
import datetime
import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pydantic
import pytest
import yaml

from pytest_llm.calls import LLM, LLMCall
from pytest_llm.checks.json_schema import assert_json_schema
from pytest_llm.providers import assemble_events as assemble
from pytest_llm.providers import recognize_path
from pytest_llm.providers.sse import looks_like_sse, parse_sse

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus not found at {CORPUS}")

ORDER = {
    "type": "object",
    "properties": {
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"sku": {"type": "string"}, "qty": {"type": "integer"}},
                "required": ["sku", "qty"],
                "additionalProperties": False,
            },
        },
        "status": {"enum": ["pending", "shipped"]},
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    },
    "required": ["items", "status"],
    "additionalProperties": False,
}
GOOD_ORDER = {"items": [{"sku": "A-1", "qty": 2}], "status": "pending"}


def failure(*args: Any, **kwargs: Any) -> str:
    """The message assert_json_schema fails with; also checks it hides its internals."""
    with pytest.raises(AssertionError) as excinfo:
        assert_json_schema(*args, **kwargs)
    # Raised outside any except block: no chained internal traceback in the report.
    assert excinfo.value.__context__ is None or excinfo.value.__suppress_context__
    return str(excinfo.value)


def body(message: str) -> list[str]:
    """The lines after the heading (what failed, and in which test)."""
    lines = message.splitlines()[1:]
    while lines and lines[0].startswith("  in "):
        del lines[0]
    return lines


def violation_lines(message: str) -> list[str]:
    return [line.strip() for line in message.splitlines() if line.strip().startswith("$")]


# --- reading the vcrpy corpus into LLMCall objects --------------------------------------------


class _VcrLoader(yaml.SafeLoader):
    """Safe loading, with Python tags (`!!python/object/apply:...istr`) built as plain data."""


def _plain(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        seq = loader.construct_sequence(node, deep=True)
        # multidict's istr header keys are `apply: [name]`: the name is what a reader wants.
        return seq[0] if len(seq) == 1 and isinstance(seq[0], str) else seq
    return loader.construct_scalar(node)  # type: ignore[arg-type]


_VcrLoader.add_multi_constructor("tag:yaml.org,2002:python/", _plain)
_VcrLoader.add_multi_constructor("!", _plain)


def _text(raw: Any) -> str:
    if isinstance(raw, bytes):
        raw = (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode("utf-8")
    assert isinstance(raw, str)
    return raw


def corpus_calls(name: str) -> list[LLMCall]:
    """Every interaction of a corpus cassette, as the llm fixture would hand it to a test."""
    document = yaml.load((CORPUS / name).read_text(encoding="utf-8"), Loader=_VcrLoader)
    calls = []
    for record in document["interactions"]:
        request, response = record["request"], record["response"]
        path = urlsplit(request["uri"]).path
        endpoint = recognize_path(path)
        assert endpoint is not None, path
        body = request.get("parsed_body") or json.loads(_text(request["body"]))
        answer: dict[str, Any] = {"status": response["status"]["code"]}
        if "parsed_body" in response:
            answer["body"] = response["parsed_body"]
        else:
            text = _text(response["body"]["string"])
            if looks_like_sse(text):
                answer["events"] = parse_sse(text)
                answer["final"] = assemble(endpoint.provider, path, answer["events"])
            else:
                answer["body"] = json.loads(text)
        interaction = {
            "provider": endpoint.provider,
            "request": {"path": path, "body": body},
            "response": answer,
        }
        calls.append(LLMCall(interaction=interaction, replayed=True))
    return calls


def corpus_call(name: str, index: int = 0) -> LLMCall:
    return corpus_calls(name)[index]


def edited(call: LLMCall, edit: Any) -> LLMCall:
    """A copy of a recorded call whose response body `edit` changes in place."""
    interaction = copy.deepcopy(call.interaction)
    edit(interaction["response"].get("body") or interaction["response"]["final"])
    return LLMCall(interaction=interaction, replayed=True)


def synthetic(provider: str, path: str, request: dict[str, Any], body: Any) -> LLMCall:
    interaction = {
        "provider": provider,
        "request": {"path": path, "body": request},
        "response": {"status": 200, "body": body},
    }
    return LLMCall(interaction=interaction, replayed=True)


def chat_answer(content: str | None, **message: Any) -> dict[str, Any]:
    choice = {"index": 0, "finish_reason": message.pop("finish_reason", "stop")}
    choice["message"] = {"role": "assistant", "content": content, **message}
    return {"model": "gpt-4o-2024-08-06", "choices": [choice]}


# --- violations: every one, sorted by path, with value and rule --------------------------------


def test_every_violation_is_listed_with_its_path_value_and_rule() -> None:
    order = {
        "items": [{"sku": "A-1", "qty": "three"}, {"sku": "B-2"}],
        "status": "shipped!",
        "note": 7,
        "gift": True,
    }
    message = failure(order, ORDER)
    assert "value: 5 violations of the given schema (JSON Schema draft 2020-12)" in message
    assert violation_lines(message) == [
        "$.gift: additionalProperties: 'gift' is not allowed "
        "(allowed: 'items', 'status', 'note'); found true",
        '$.items[0].qty: type: expected integer; found "three"',
        '$.items[1]: \'qty\' is a required property; found {"sku": "B-2"}',
        "$.note: anyOf: expected string or null; found 7",
        '$.status: enum: expected one of "pending", "shipped"; found "shipped!"',
    ]


def test_a_missing_required_property_names_it_at_its_object() -> None:
    message = failure({"items": []}, ORDER)
    assert violation_lines(message) == ["$: 'status' is a required property; found {\"items\": []}"]


def test_extra_properties_are_listed_one_by_one_with_what_is_allowed() -> None:
    order = {**GOOD_ORDER, "items": [{"sku": "A", "qty": 1, "colour": "red", "size": 9}]}
    assert violation_lines(failure(order, ORDER)) == [
        "$.items[0].colour: additionalProperties: 'colour' is not allowed "
        "(allowed: 'sku', 'qty'); found \"red\"",
        "$.items[0].size: additionalProperties: 'size' is not allowed "
        "(allowed: 'sku', 'qty'); found 9",
    ]


def test_deep_array_paths_sort_by_index_not_by_text() -> None:
    items = [{"sku": f"S{i}", "qty": 1} for i in range(12)]
    items[2]["qty"] = items[10]["qty"] = "x"  # type: ignore[assignment]
    paths = [
        line.split(":")[0]
        for line in violation_lines(failure({**GOOD_ORDER, "items": items}, ORDER))
    ]
    assert paths == ["$.items[2].qty", "$.items[10].qty"]


def test_bounds_patterns_and_odd_keys_are_spelled_out() -> None:
    schema = {
        "type": "object",
        "properties": {
            "score": {"type": "number", "minimum": 0, "maximum": 1},
            "code": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "tags": {"type": "array", "maxItems": 2, "uniqueItems": True},
            "first name": {"type": "string", "minLength": 2},
        },
    }
    value = {"score": 1.5, "code": "abcd", "tags": ["a", "a", "b"], "first name": "A"}
    assert violation_lines(failure(value, schema)) == [
        "$.code: pattern: expected to match '^[A-Z]{3}$'; found \"abcd\"",
        '$["first name"]: minLength: expected at least 2 characters; found "A"',
        "$.score: maximum: expected <= 1; found 1.5",
        '$.tags: maxItems: expected at most 2 items; found ["a", "a", "b"]',
        '$.tags: uniqueItems: expected no duplicate items; found ["a", "a", "b"]',
    ]


def test_long_values_are_shortened() -> None:
    line = violation_lines(
        failure({"note": "x" * 500}, {"properties": {"note": {"maxLength": 10}}})
    )
    found = line[0].split("; found ")[1]
    assert len(found) == 60 and found.endswith("...")


def test_formats_are_checked() -> None:
    schema = {"properties": {"when": {"type": "string", "format": "date"}}}
    assert_json_schema({"when": "2024-02-29"}, schema)
    assert violation_lines(failure({"when": "2024-02-30"}, schema)) == [
        "$.when: format: expected a valid 'date'; found \"2024-02-30\""
    ]


def test_alternatives_report_the_closest_miss() -> None:
    schema = {
        "oneOf": [
            {"type": "object", "properties": {"kind": {"const": "a"}}, "required": ["kind"]},
            {"type": "object", "properties": {"size": {"type": "integer"}}, "required": ["size"]},
        ]
    }
    assert violation_lines(failure({"size": "big"}, schema)) == [
        "$.size: oneOf: no alternative matches; closest is alternative 2 of 2: "
        'type: expected integer; found "big"'
    ]


def test_a_json_string_is_parsed_before_validation() -> None:
    assert_json_schema(json.dumps(GOOD_ORDER), ORDER)
    message = failure('{"items": [], "status": "lost"}', ORDER)
    assert (
        body(message)[0] == "JSON text: 1 violation of the given schema (JSON Schema draft 2020-12)"
    )


def test_json_encoded_twice_is_pointed_out() -> None:
    message = failure(json.dumps(json.dumps(GOOD_ORDER)), ORDER)
    assert "$: type: expected object; found" in message
    assert "the value is a string that holds JSON: the JSON was encoded twice" in message


# --- JSON Schema drafts ---------------------------------------------------------------------


def test_dollar_schema_picks_the_draft() -> None:
    # Draft 7 tuple validation: `items` as a list; under 2020-12 that is not a valid schema.
    tuple_schema: dict[str, Any] = {
        "type": "array",
        "items": [{"type": "integer"}, {"type": "string"}],
    }
    draft7 = {"$schema": "http://json-schema.org/draft-07/schema#", **tuple_schema}
    assert_json_schema([1, "a"], draft7)
    message = failure([1, 2], draft7)
    assert "(JSON Schema draft 7)" in message
    assert violation_lines(message) == ["$[1]: type: expected string; found 2"]
    with pytest.raises(ValueError, match=r"not a valid JSON Schema \(draft 2020-12\): \$\.items: "):
        assert_json_schema([1, "a"], tuple_schema)


# --- pydantic models --------------------------------------------------------------------------


class Item(pydantic.BaseModel):
    sku: str
    qty: int


class Order(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    items: list[Item]
    status: str


def test_a_pydantic_model_reports_its_errors_in_the_same_format() -> None:
    value = {"items": [{"sku": "A", "qty": "three"}, {"sku": "B"}], "status": 4, "gift": True}
    message = failure(value, Order)
    assert "value: 4 violations of the pydantic model Order" in message
    assert violation_lines(message) == [
        "$.gift: Extra inputs are not permitted (extra_forbidden); found true",
        "$.items[0].qty: Input should be a valid integer, unable to parse string as an "
        'integer (int_parsing); found "three"',
        '$.items[1]: \'qty\' is a required property (missing); found {"sku": "B"}',
        "$.status: Input should be a valid string (string_type); found 4",
    ]
    assert_json_schema({"items": [{"sku": "A", "qty": 1}], "status": "ok"}, Order)


def test_a_pydantic_model_keeps_its_json_semantics() -> None:
    class Strict(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(strict=True)
        when: datetime.date

    # Strict mode takes a date from JSON text, as it would from the API's answer.
    assert_json_schema('{"when": "2024-01-02"}', Strict)
    assert "$.when: Input should be a valid date" in failure('{"when": "soon"}', Strict)


def test_a_pydantic_instance_is_checked_as_its_json() -> None:
    class Loose(pydantic.BaseModel):
        qty: Any

    assert violation_lines(failure(Loose(qty="x"), Order))[0].startswith("$: 'items' is a required")


# --- invalid JSON, fences and prose ---------------------------------------------------------


def test_invalid_json_shows_line_column_and_a_caret() -> None:
    text = '{\n  "items": [\n    {"sku": "A", "qty": 1}\n    {"sku": "B", "qty": 2}\n  ]\n}'
    lines = body(failure(text, ORDER))
    assert lines[0] == "JSON text: not valid JSON: Expecting ',' delimiter at line 4, column 5"
    assert lines[1:] == [
        '  2 |   "items": [',
        '  3 |     {"sku": "A", "qty": 1}',
        '  4 |     {"sku": "B", "qty": 2}',
        "    |     ^",
        "  5 |   ]",
        "  6 | }",
    ]
    # A fragment inside broken JSON is not offered as "JSON in prose".
    assert "extract=True" not in "\n".join(lines)


def test_a_long_line_is_windowed_around_the_error() -> None:
    text = '{"bio": "' + "b" * 300 + '", "age": forty}'
    lines = body(failure(text, {}))
    assert lines[0] == "JSON text: not valid JSON: Expecting value at line 1, column 320"
    source, caret = lines[1:]
    assert source.startswith("  1 | ...bbb") and source.endswith('"age": forty}')
    assert source[caret.index("^")] == "f"


def test_empty_text_is_invalid_json() -> None:
    assert "JSON text: not valid JSON: the text is empty" in failure("", ORDER)


FENCED = 'Here is the order:\n```json\n{"items": [], "status": "pending"}\n```\n'


def test_a_markdown_fence_is_named_and_needs_extract() -> None:
    message = failure(FENCED, ORDER)
    assert "not valid JSON: Expecting value at line 1, column 1" in message
    assert "the JSON is wrapped in a Markdown fence; pass extract=True to accept it" in message
    assert_json_schema(FENCED, ORDER, extract=True)


def test_extracted_json_is_still_validated() -> None:
    fenced = FENCED.replace('"pending"', '"lost"')
    lines = violation_lines(failure(fenced, ORDER, extract=True))
    assert lines == ['$.status: enum: expected one of "pending", "shipped"; found "lost"']


def test_broken_json_inside_a_fence_is_located_in_the_whole_text() -> None:
    message = failure(FENCED.replace("[]", "[,]"), ORDER, extract=True)
    assert (
        "not valid JSON: Expecting value at line 3, column 12 (inside the Markdown fence)"
        in message
    )
    assert '  3 | {"items": [,], "status": "pending"}\n    |            ^' in message


def test_prose_around_json_is_named_and_needs_extract() -> None:
    text = 'Sure! The order is {"items": [], "status": "shipped"}. Anything else?'
    message = failure(text, ORDER)
    assert "not valid JSON: Expecting value at line 1, column 1" in message
    assert (
        "the text has prose around a JSON object (at line 1, column 20); "
        "pass extract=True to accept it"
    ) in message
    assert_json_schema(text, ORDER, extract=True)


def test_trailing_prose_after_json_is_named_too() -> None:
    text = '{"items": [], "status": "shipped"}\nLet me know if you need more.'
    message = failure(text, ORDER)
    assert "not valid JSON: Extra data at line 2, column 1" in message
    assert "prose around a JSON object (at line 1, column 1)" in message
    assert_json_schema(text, ORDER, extract=True)


def test_extract_finds_nothing_in_plain_prose() -> None:
    message = failure("I cannot help with that.", ORDER, extract=True)
    assert "extract=True found no JSON object or array in the text either" in message


# --- calls: the schema the request declared ---------------------------------------------------


STRUCTURED = [
    # (cassette, interaction): each answer keeps the contract its request declared.
    ("pydantic-ai/test_openai_native_output.yaml", 0),  # tool call under a response_format
    ("pydantic-ai/test_openai_native_output.yaml", 1),  # response_format json_schema content
    ("openllmetry/test_parsed_completion.yaml", 0),  # beta.chat.completions.parse
    ("openllmetry/test_parsed_completion.yaml", 2),
    ("pydantic-ai/test_multiple_parallel_tool_calls.yaml", 0),  # four Anthropic tool_use
    ("llm-anthropic/test_schema_prompt.yaml", 0),  # Anthropic output_config, streamed
    ("pydantic-ai/test_openai_tool_output.yaml", 1),  # tool output `final_result`
    ("llm/test_responses_tool_use.yaml", 0),  # Responses function_call
    ("openinference/test_tool_calls.yaml", 0),  # two chat tool calls
]


@needs_corpus
@pytest.mark.parametrize(("name", "index"), STRUCTURED)
def test_recorded_answers_keep_their_declared_contract(name: str, index: int) -> None:
    assert_json_schema(corpus_call(name, index))


@needs_corpus
def test_a_failing_call_says_which_call_and_which_schema() -> None:
    call = edited(
        corpus_call("pydantic-ai/test_openai_native_output.yaml", 1),
        lambda body: body["choices"][0]["message"].update(content='{"city": "Mexico City"}'),
    )
    assert failure(call).splitlines() == [
        "assert_json_schema: message content: 1 violation",
        "  in LLM call: openai /v1/chat/completions, model 'gpt-4o', served by 'gpt-4o-2024-08-06'",
        "  in test tests/test_json_schema.py::test_a_failing_call_says_which_call_and_which_schema",
        "message content: 1 violation of the request's response_format.json_schema.schema "
        "('result') (JSON Schema draft 2020-12)",
        '  $: \'country\' is a required property; found {"city": "Mexico City"}',
    ]


@needs_corpus
def test_a_streamed_anthropic_answer_against_a_stricter_schema() -> None:
    call = corpus_call("llm-anthropic/test_schema_prompt.yaml")
    declared = call.request["output_config"]["format"]["schema"]
    stricter = copy.deepcopy(declared)
    stricter["properties"]["age"]["minimum"] = 5
    stricter["properties"]["bio"]["maxLength"] = 40
    message = failure(call, stricter)
    assert "anthropic /v1/messages, model 'claude-sonnet-4-5'" in message
    assert "text content: 2 violations of the given schema" in message
    assert violation_lines(message) == [
        "$.age: minimum: expected >= 5; found 4",
        '$.bio: maxLength: expected at most 40 characters; found "Biscuit is a golden retriever '
        "with a gentle soul and bou...",
    ]


@needs_corpus
def test_a_structured_output_checked_with_a_pydantic_model() -> None:
    class Joke(pydantic.BaseModel):
        rating: int = pydantic.Field(le=3)
        joke: str

    message = failure(corpus_call("openllmetry/test_parsed_completion.yaml", 0), Joke)
    assert "message content: 1 violation of the pydantic model Joke" in message
    assert violation_lines(message) == [
        "$.rating: Input should be less than or equal to 3 (less_than_equal); found 5"
    ]


@needs_corpus
def test_every_tool_call_is_checked_and_each_failure_named() -> None:
    call = corpus_call("pydantic-ai/test_multiple_parallel_tool_calls.yaml")
    schema = {"type": "object", "properties": {"name": {"enum": ["Alice", "Bob"]}}}
    message = failure(call, schema)
    assert message.splitlines()[0] == (
        "assert_json_schema: tool call 'retrieve_entity_info' #3: 1 violation; "
        "tool call 'retrieve_entity_info' #4: 1 violation"
    )
    assert "tool call 'retrieve_entity_info' (1 of 4" not in message
    assert (
        "tool call 'retrieve_entity_info' (3 of 4, id toolu_01XFyAjstT3966qvRynZyVPo) arguments: "
        "1 violation of the given schema"
    ) in message
    assert "(4 of 4, id toolu_013mnQZbgtK2oe3Mo3XKJsx3) arguments" in message
    assert violation_lines(message) == [
        '$.name: enum: expected one of "Alice", "Bob"; found "Charlie"',
        '$.name: enum: expected one of "Alice", "Bob"; found "Daisy"',
    ]


@needs_corpus
def test_tool_selects_one_tool_call_by_name() -> None:
    call = corpus_call("openinference/test_tool_calls.yaml")
    needs_country = {"type": "object", "required": ["city", "country"]}
    message = failure(call, needs_country, tool="get_population")
    assert "tool call 'get_population' (2 of 2, id call_ZfEORmbRGEJZ4b7dAuVSPnaf)" in message
    assert "get_weather" not in message
    assert_json_schema(call, tool="get_weather")


@needs_corpus
def test_an_unknown_tool_name_lists_the_calls_and_the_declared_tools() -> None:
    message = failure(corpus_call("openinference/test_tool_calls.yaml"), tool="get_wether")
    assert message.splitlines()[:2] == [
        "assert_json_schema: no tool call named 'get_wether'",
        "  in LLM call: openai /v1/chat/completions, model 'gpt-4o-mini', "
        "served by 'gpt-4o-mini-2024-07-18'",
    ]
    assert body(message) == [
        "  tool calls the model made: 'get_weather', 'get_population'",
        "  tools the request declared: 'get_weather', 'get_population'",
    ]


@needs_corpus
def test_tool_arguments_against_the_declared_parameters() -> None:
    call = edited(
        corpus_call("llm/test_responses_tool_use.yaml"),
        lambda body: body["output"][0].update(arguments='{"a": "1231", "c": 2}'),
    )
    message = failure(call)
    assert "model 'gpt-5.5', served by 'gpt-5.5-2026-04-23'" in message
    assert (
        "tool call 'multiply' (1 of 1, id call_nJmCK7SJe3ajdYYplIbH0KgL) arguments: 2 violations "
        "of the request's tools[0].parameters for 'multiply' (JSON Schema draft 2020-12)"
    ) in message
    assert violation_lines(message) == [
        '$: \'b\' is a required property; found {"a": "1231", "c": 2}',
        '$.a: type: expected integer; found "1231"',
    ]


@needs_corpus
def test_invalid_tool_arguments_are_a_parse_error() -> None:
    def cut(body: dict[str, Any]) -> None:
        body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] = '{"city": "San'

    message = failure(edited(corpus_call("openinference/test_tool_calls.yaml"), cut))
    assert (
        "tool call 'get_weather' (1 of 2, id call_S1xa8vawU2HXSrvSeUcqSCZm) arguments: "
        "not valid JSON: Unterminated string starting at line 1, column 10"
    ) in message
    assert '  1 | {"city": "San\n    |          ^' in message
    assert "get_population" not in message


@needs_corpus
def test_a_tool_the_request_never_declared_fails() -> None:
    call = edited(
        corpus_call("openinference/test_tool_calls.yaml"),
        lambda body: body["choices"][0]["message"]["tool_calls"][1]["function"].update(
            name="delete_city"
        ),
    )
    message = failure(call)
    assert (
        "tool call 'delete_city' (2 of 2, id call_ZfEORmbRGEJZ4b7dAuVSPnaf) arguments: " in message
    )
    assert (
        "the model called 'delete_city', a tool the request did not declare "
        "(declared tools: 'get_weather', 'get_population')"
    ) in message


@needs_corpus
def test_no_schema_given_and_none_declared_says_so() -> None:
    message = failure(corpus_call("pydantic-ai/test_multiple_parallel_tool_calls.yaml", 1))
    assert body(message) == [
        "text content: no schema to check against",
        "  none was given, and the request declared no response format "
        "(response_format, text.format or output_config.format)",
        "  the request declared tools ('retrieve_entity_info'), but the model called none",
        "  pass schema= (a JSON Schema dict or a pydantic model class)",
    ]


def test_responses_text_format_is_the_declared_schema() -> None:
    request = {
        "model": "gpt-4o",
        "input": "A city?",
        "text": {"format": {"type": "json_schema", "name": "city", "schema": ORDER}},
    }
    text = json.dumps({"items": [], "status": "gone"})
    output = [{"type": "message", "content": [{"type": "output_text", "text": text}]}]
    message = failure(synthetic("openai", "/v1/responses", request, {"output": output}))
    assert "output_text: 1 violation of the request's text.format.schema ('city')" in message


def test_json_object_mode_requires_an_object() -> None:
    request = {"model": "gpt-4o", "messages": [], "response_format": {"type": "json_object"}}
    call = synthetic("openai", "/v1/chat/completions", request, chat_answer("[1, 2]"))
    message = failure(call)
    assert "request's response_format json_object (any JSON object)" in message
    assert "$: type: expected object; found [1, 2]" in message


def test_a_cut_off_answer_and_a_refusal_are_explained() -> None:
    request = {"model": "gpt-4o", "response_format": {"type": "json_object"}}
    cut = chat_answer('{"items": [{"sku": "A', finish_reason="length")
    message = failure(synthetic("openai", "/v1/chat/completions", request, cut))
    assert "not valid JSON: Unterminated string" in message
    assert "the answer was cut off (finish_reason 'length'); raise max_tokens" in message
    refused = chat_answer(None, refusal="I can't help with that.")
    message = failure(synthetic("openai", "/v1/chat/completions", request, refused))
    assert "not valid JSON: the text is empty" in message
    assert "the model refused: I can't help with that." in message


def test_an_error_response_is_named() -> None:
    request = {"model": "gpt-4o", "response_format": {"type": "json_object"}}
    error = {"error": {"message": "Invalid schema for response_format 'x'", "type": "invalid"}}
    message = failure(synthetic("openai", "/v1/chat/completions", request, error))
    assert "the call failed: Invalid schema for response_format 'x'" in message


def test_a_call_index_is_named_when_the_call_knows_it() -> None:
    class IndexedCall:
        index = 3
        provider = "anthropic"
        endpoint = "/v1/messages"
        request: ClassVar = {"model": "claude-haiku-4-5"}
        response: ClassVar = {"content": [{"type": "text", "text": '{"qty": "1"}'}]}

    message = failure(IndexedCall(), {"properties": {"qty": {"type": "integer"}}})
    assert message.splitlines()[:2] == [
        "assert_json_schema: text content: 1 violation",
        "  in llm.calls[3]: anthropic /v1/messages, model 'claude-haiku-4-5'",
    ]


# --- usage errors -------------------------------------------------------------------------------


def test_a_plain_value_needs_a_schema() -> None:
    with pytest.raises(TypeError, match=r"needs schema= .* to check a dict"):
        assert_json_schema({"a": 1})


def test_tool_needs_a_call() -> None:
    with pytest.raises(TypeError, match=r"tool='f' picks a tool call of an LLM call"):
        assert_json_schema("{}", {}, tool="f")


def test_the_llm_fixture_itself_is_not_a_call() -> None:
    with pytest.raises(TypeError, match=r"pass one call \(such as llm.calls\[0\]\)"):
        assert_json_schema(LLM(Path("c.yaml"), [], []), {})


def test_the_schema_must_be_a_dict_or_a_pydantic_model() -> None:
    with pytest.raises(TypeError, match="not the class int"):
        assert_json_schema({}, int)
    with pytest.raises(TypeError, match="not a list"):
        assert_json_schema({}, [])


def test_the_module_imports_neither_pytest_nor_pydantic() -> None:
    code = (
        "import sys\n"
        "from pytest_llm.checks.json_schema import assert_json_schema\n"
        "assert_json_schema('{\"a\": 1}', {'type': 'object'})\n"
        "print(sorted(m for m in ('pytest', '_pytest', 'pydantic') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
