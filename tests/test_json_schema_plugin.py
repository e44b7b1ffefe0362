"""assert_json_schema through the plugin: record structured calls, replay them offline."""

from __future__ import annotations

import pytest
from fake_provider import FakeProvider
from kit import inner_file, with_keys, without_keys

# The fake provider answers a declared json_schema with a document that keeps it, and any
# other prompt with "[model] reply to: <prompt> #digest": a prompt that carries a JSON object
# then comes back as JSON wrapped in prose.
STRUCTURED = """
from pytest_llm.checks.json_schema import assert_json_schema

PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
    "additionalProperties": False,
}
FORMAT = {"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON}}
CITY = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
CHAT_TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": CITY}}]
RESPONSES_TOOLS = [{"type": "function", "name": "get_weather", "parameters": CITY}]
ANTHROPIC_TOOLS = [{"name": "get_weather", "input_schema": CITY}]
WEATHER = [{"role": "user", "content": "What is the weather in Paris?"}]


def person(**kwargs):
    content = 'Answer as JSON: {"name": "Ada", "age": 36}'
    messages = [{"role": "user", "content": content}]
    oa.chat.completions.create(model="gpt-4o-mini", messages=messages, **kwargs)


def test_answers_keep_the_contract_their_requests_declared(llm):
    person(response_format=FORMAT)
    oa.chat.completions.create(model="gpt-4o-mini", messages=WEATHER, tools=CHAT_TOOLS)
    oa.responses.create(model="gpt-4o", input=WEATHER, tools=RESPONSES_TOOLS)
    an.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=WEATHER,
                       tools=ANTHROPIC_TOOLS)
    assert_json_schema(llm.calls[0])
    for call in llm.calls[1:]:
        assert [t.name for t in call.tool_calls] == ["get_weather"]
        assert_json_schema(call)
        assert_json_schema(call, tool="get_weather")


def test_prose_around_the_json_needs_extract(llm):
    person()
    assert_json_schema(llm.calls[0], PERSON, extract=True)
    assert_json_schema(llm.calls[0], PERSON)


def test_tool_arguments_break_a_stricter_schema(llm):
    oa.chat.completions.create(model="gpt-4o-mini", messages=WEATHER, tools=CHAT_TOOLS)
    stricter = {
        "type": "object",
        "properties": {"city": {"type": "integer"}},
        "required": ["city", "country"],
    }
    assert_json_schema(llm.calls[0], stricter)
"""

E = "E       "  # how pytest prefixes the lines of an exception message
FAILURE_LINES = [
    # the prose-wrapped answer, without extract=True
    E + "AssertionError: assert_json_schema: message content: not valid JSON",
    E + "  in llm.calls[[]0]: openai /v1/chat/completions, model 'gpt-4o-mini', "
    "served by 'gpt-4o-mini-2025-01-01'",
    E + "  in test test_app.py::test_prose_around_the_json_needs_extract",
    E + "message content: not valid JSON: Expecting value at line 1, column 2",
    E + '  1 | [[]gpt-4o-mini] reply to: Answer as JSON: {"name": "Ada", "age": 36} #*',
    E + "    |  ^",
    E + "  the text has prose around a JSON object (at line 1, column 41); "
    "pass extract=True to accept it",
    "",
    "test_app.py:*: AssertionError",
    # the tool call against a schema it does not meet
    E + "AssertionError: assert_json_schema: tool call 'get_weather': 2 violations",
    E + "  in llm.calls[[]0]: openai /v1/chat/completions, model 'gpt-4o-mini', "
    "served by 'gpt-4o-mini-2025-01-01'",
    E + "  in test test_app.py::test_tool_arguments_break_a_stricter_schema",
    E + "tool call 'get_weather' (1 of 1, id call_*) arguments: 2 violations of the given "
    "schema (JSON Schema draft 2020-12)",
    E + '  $: \'country\' is a required property; found {"city": "Paris"}',
    E + '  $.city: type: expected integer; found "Paris"',
    "",
    "test_app.py:*: AssertionError",
]


def test_structured_calls_recorded_then_checked_in_replay(
    pytester: pytest.Pytester, inner_env: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    inner_file(pytester, STRUCTURED)
    with_keys(monkeypatch)
    recorded = pytester.runpytest("--llm-record=once")
    recorded.assert_outcomes(passed=1, failed=2)
    recorded.stdout.fnmatch_lines(FAILURE_LINES)
    assert len(inner_env.requests) == 6

    inner_env.stop()
    without_keys(monkeypatch)
    replayed = pytester.runpytest("--llm-block-network")
    replayed.assert_outcomes(passed=1, failed=2)
    replayed.stdout.fnmatch_lines(FAILURE_LINES)
    replayed.stdout.fnmatch_lines(["*6 call(s) replayed, 0 recorded*"])
    # The failure points at the test's line, with no frames from inside the assertion.
    output = replayed.stdout.str()
    assert "json_schema.py" not in output
    for internal in ("raise AssertionError(failure)", "_check(value", "During handling"):
        assert internal not in output
