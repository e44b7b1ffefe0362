"""Keys that survive upgrades by declaration, and the stale recordings they must never hide."""

from __future__ import annotations

import html
import json
import textwrap

import pytest
from fake_provider import FakeProvider
from kit import inner_file

PREFIX = "$.max_tokens: recorded 100, now 200"


def _record(pytester: pytest.Pytester, body: str, *args: str) -> None:
    inner_file(pytester, body)
    pytester.runpytest("--llm-record=once", *args).assert_outcomes(passed=1)


def _probe(call: str) -> str:
    """A test whose body makes `call` and writes what pytest-llm says of its staleness."""
    return textwrap.dedent(
        f"""
        def test_a(llm):
            {call}
            call = llm.calls[0]
            with open("stale.json", "w") as out:
                json.dump([call.stale, call.stale_diff], out)
        """
    )


def _stale_of(pytester: pytest.Pytester) -> tuple[bool, list[str]]:
    stale, diff = json.loads((pytester.path / "stale.json").read_text())
    return stale, diff


def _has_lines(result: pytest.RunResult, lines: list[str]) -> None:
    """fnmatch_lines for lines with brackets in them (fnmatch reads [..] as a set)."""
    result.stdout.fnmatch_lines([line.replace("[", "[[]") for line in lines])


def _has_lines_err(result: pytest.RunResult, lines: list[str]) -> None:
    result.stderr.fnmatch_lines([line.replace("[", "[[]") for line in lines])


def _inner(pytester: pytest.Pytester, body: str) -> None:
    inner_file(pytester, "import json\n" + body)


def test_a_call_answered_through_ignore_is_stale_and_still_passes(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    _record(pytester, 'def test_a(llm):\n    ask("hi", max_tokens=100)\n')
    _inner(
        pytester,
        '@pytest.mark.llm(ignore=["max_tokens"])\n' + _probe('ask("hi", max_tokens=200)'),
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert _stale_of(pytester) == (True, [PREFIX])
    _has_lines(
        result,
        [
            "*stale recordings: 1 call(s) in 1 test(s) were answered from a recording of a "
            "request the code no longer sends",
            "  test_app.py::test_a",
            "    call 0 (gpt-4o-mini):",
            f"      {PREFIX}",
            "    re-record: pytest test_app.py::test_a --llm-record=all",
        ],
    )
    assert len(inner_env.requests) == 1  # replayed, not sent


def test_a_call_outside_match_on_is_stale(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    _record(pytester, 'def test_a(llm):\n    ask("hi", temperature=0.2, seed=1)\n')
    _inner(
        pytester,
        '@pytest.mark.llm(match_on=["model", "prompt"])\n'
        + _probe('ask("hi", temperature=0.9, seed=1)'),
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert _stale_of(pytester) == (True, ["$.temperature: recorded 0.2, now 0.9"])


def test_a_call_that_still_sends_what_was_recorded_is_not_stale(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    _record(pytester, 'def test_a(llm):\n    ask("hi", max_tokens=100)\n')
    _inner(
        pytester,
        '@pytest.mark.llm(ignore=["max_tokens"])\n' + _probe('ask("hi", max_tokens=100)'),
    )
    result = pytester.runpytest("--llm-strict")
    result.assert_outcomes(passed=1)
    assert _stale_of(pytester) == (False, [])
    assert "stale recordings" not in result.stdout.str()


def test_ini_ignore_on_one_line_with_wildcards_through_the_anthropic_sdk(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    pytester.makeini(
        "[pytest]\nllm_match_ignore = max_tokens, messages[*].content[*].cache_control\n"
    )
    call = (
        'an.messages.create(model="claude-haiku-4-5", max_tokens={tokens}, messages=[{{"role": '
        '"user", "content": [{{"type": "text", "text": "hi"{extra}}}]}}])'
    )
    _record(pytester, "def test_a(llm):\n    " + call.format(tokens=50, extra="") + "\n")
    cache = ', "cache_control": {"type": "ephemeral"}'
    _inner(pytester, _probe(call.format(tokens=60, extra=cache)))
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert _stale_of(pytester) == (
        True,
        [
            "$.max_tokens: recorded 50, now 60",
            '$.messages[0].content[0].cache_control: recorded absent, now {"type": "ephemeral"}',
        ],
    )


def test_without_ignore_the_same_change_is_a_miss(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    _record(pytester, 'def test_a(llm):\n    ask("hi", max_tokens=100)\n')
    inner_file(pytester, 'def test_a(llm):\n    ask("hi", max_tokens=200)\n')
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*$.max_tokens: recorded 100, now 200"])


def test_null_and_absent_are_the_same_in_the_key_and_never_stale(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    nulls = (
        'oa.chat.completions.create(model="gpt-4o-mini", temperature=None, '
        'messages=[{"role": "user", "content": "hi", "name": None}])'
    )
    _record(pytester, f"def test_a(llm):\n    {nulls}\n")
    sent = inner_env.requests[-1].body
    assert sent["temperature"] is None and sent["messages"][0]["name"] is None
    # An upgrade that stops sending the nulls asks the same thing.
    _inner(pytester, _probe('ask("hi")'))
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert _stale_of(pytester) == (False, [])
    # Narrowed keys compare the whole request: nulls still count as absent there.
    _inner(pytester, '@pytest.mark.llm(match_on=["model", "prompt"])\n' + _probe('ask("hi")'))
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert _stale_of(pytester) == (False, [])
    assert len(inner_env.requests) == 1


def test_strict_fails_a_test_answered_from_a_stale_recording(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    _record(pytester, 'def test_a(llm):\n    ask("hi", max_tokens=100)\n')
    inner_file(
        pytester,
        '@pytest.mark.llm(ignore=["max_tokens"])\n'
        'def test_a(llm):\n    ask("hi", max_tokens=200)\n',
    )
    result = pytester.runpytest("--llm-strict")
    result.assert_outcomes(failed=1)
    _has_lines(
        result,
        [
            "*pytest-llm: 1 call(s) answered from a stale recording (--llm-strict)*",
            "*call 0: openai /v1/chat/completions model='gpt-4o-mini'",
            f"*{PREFIX}",
            "*re-record it with: pytest test_app.py::test_a --llm-record=all",
        ],
    )
    result.stdout.fnmatch_lines(["*stale recordings: 1 call(s)*(--llm-strict: failing them)"])


def test_the_printed_command_re_records_the_stale_call(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    _record(pytester, 'def test_a(llm):\n    ask("hi", max_tokens=100)\n')
    _inner(
        pytester,
        '@pytest.mark.llm(ignore=["max_tokens"])\n' + _probe('ask("hi", max_tokens=200)'),
    )
    pytester.runpytest("test_app.py::test_a", "--llm-record=all").assert_outcomes(passed=1)
    result = pytester.runpytest("--llm-strict")
    result.assert_outcomes(passed=1)
    assert _stale_of(pytester) == (False, [])
    cassette = (pytester.path / "cassettes" / "test_app" / "test_a.yaml").read_text()
    assert "max_tokens: 200" in cassette and "max_tokens: 100" not in cassette


def test_the_json_report_has_stale_fields_on_every_call(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    _record(pytester, 'def test_a(llm):\n    ask("hi", max_tokens=100)\n    ask("bye")\n')
    inner_file(
        pytester,
        """
        @pytest.mark.llm(ignore=["max_tokens"])
        def test_a(llm):
            ask("hi", max_tokens=200)
            ask("bye")
        """,
    )
    reports = ("--llm-report=report.json", "--llm-report=report.md", "--llm-report=report.html")
    pytester.runpytest(*reports).assert_outcomes(passed=1)
    report = json.loads((pytester.path / "report.json").read_text())
    calls = report["tests"][0]["calls"]
    assert [(c["stale"], c["stale_diff"]) for c in calls] == [(True, [PREFIX]), (False, [])]
    assert report["totals"]["stale"] == 1
    markdown = (pytester.path / "report.md").read_text()
    assert "### Stale recordings: 1 call(s)" in markdown
    assert f"- `test_app.py::test_a` call 0 (gpt-4o-mini):\n  - `{PREFIX}`" in markdown
    assert "re-record: `pytest test_app.py::test_a --llm-record=all`" in markdown
    page = (pytester.path / "report.html").read_text()
    assert "<h2>Stale recordings: 1 call(s)</h2>" in page
    assert f"<li><code>{html.escape(PREFIX)}</code></li>" in page


def test_the_stale_section_comes_back_from_xdist_workers(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    body = """
        @pytest.mark.llm(ignore=["max_tokens"])
        def test_{name}(llm):
            ask("{name}", max_tokens={tokens})
        """
    first = "".join(body.format(name=n, tokens=100) for n in ("a", "b", "c"))
    inner_file(pytester, first)
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=3)
    changed = "".join(body.format(name=n, tokens=100 if n == "b" else 200) for n in "abc")
    inner_file(pytester, changed)
    result = pytester.runpytest("-n", "2", "-p", "no:randomly")
    result.assert_outcomes(passed=3)
    _has_lines(
        result,
        [
            "*stale recordings: 2 call(s) in 2 test(s)*",
            "  test_app.py::test_a",
            f"      {PREFIX}",
            "    re-record: pytest test_app.py::test_a --llm-record=all",
            "  test_app.py::test_c",
        ],
    )
    assert "test_app.py::test_b" not in result.stdout.str().split("stale recordings")[1]


@pytest.mark.parametrize("value", ["model prompt stream", "model, prompt", "model,prompt\n seed"])
def test_ini_match_on_takes_names_on_one_line(
    pytester: pytest.Pytester, inner_env: FakeProvider, value: str
) -> None:
    pytester.makeini(f"[pytest]\nllm_match_on = {value}\n")
    _record(pytester, 'def test_a(llm):\n    ask("hi", seed=1, top_p=0.5)\n')
    inner_file(pytester, 'def test_a(llm):\n    ask("hi", seed=1, top_p=0.7)\n')
    pytester.runpytest().assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("where", "bad"),
    [
        ("ini", "messages[].content"),
        ("ini", "reasoning..summary"),
        ("marker", "messages[x]"),
    ],
)
def test_a_bad_ignore_path_is_a_usage_error_that_shows_the_syntax(
    pytester: pytest.Pytester, inner_env: FakeProvider, where: str, bad: str
) -> None:
    if where == "ini":
        pytester.makeini(f"[pytest]\nllm_match_ignore = max_tokens {bad}\n")
        inner_file(pytester, "def test_a(llm):\n    pass\n")
        source = "ini llm_match_ignore"
    else:
        inner_file(pytester, f"@pytest.mark.llm(ignore=[{bad!r}])\ndef test_a(llm):\n    pass\n")
        source = "@pytest.mark.llm on test_app.py::test_a(ignore=...)"
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    _has_lines_err(
        result,
        [
            f"*pytest-llm: {source}: {bad!r} is not a JSON path into the request body: write "
            "field names joined by dots, [N] or [*] for list items and * for any index or key, "
            "e.g. max_tokens, reasoning.summary, messages[*].content[*].cache_control"
        ],
    )


TOOL_LOOP = """
TOOLS = [{{"type": "function", "function": {{"name": "get_weather", "parameters": {{
    "type": "object", "properties": {{"city": {{"type": "string"}}}}}}}}}}]


def test_loop(llm):
    messages = [{{"role": "user", "content": "What is the weather in Paris?"}}]
    first = oa.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=TOOLS)
    message = first.choices[0].message
    messages.append(message.model_dump(exclude_none=True))
    parts = [{{"type": "text", "text": t}} for t in {result!r}]
    messages.append({{"role": "tool", "tool_call_id": message.tool_calls[0].id, "content": parts}})
    oa.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=TOOLS)
"""


def test_a_tool_loops_second_call_is_compared_with_the_second_recording(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    _record(pytester, TOOL_LOOP.format(result=["18C", "sunny", "light wind"]))
    inner_file(pytester, TOOL_LOOP.format(result=["21C", "rain", "storm"]))
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    _has_lines(
        result,
        [
            "*the 2nd chat.completions call as recorded (interaction #1) differs in:",
            "*$.messages[2].content[0].text: recorded '18C', now '21C'",
            "*$.messages[2].content[1].text: recorded 'sunny', now 'rain'",
            "*$.messages[2].content[2].text: recorded 'light wind', now 'storm'",
        ],
    )
    assert "$.messages[1]: " not in result.stdout.str()


def test_ignore_paths_leave_exactly_the_named_parts_out_of_the_key() -> None:
    from pytest_llm.keys import KeySpec, canonical_request, make_key, parse_ignore, parse_match_on
    from pytest_llm.providers import Endpoint

    chat = Endpoint("openai", "chat.completions")
    body = {
        "model": "m",
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "s", "cache_control": {}}]},
            {"role": "user", "content": "hi"},
        ],
        "tools": [{"name": "a"}, {"name": "b"}],
        "reasoning": {"summary": "auto", "effort": "low"},
    }
    ignore = parse_ignore(["$.messages[*].content[*].cache_control", "tools[1]", "reasoning.*"])
    assert canonical_request(body, ignore) == {
        "model": "m",
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "s"}]},
            {"role": "user", "content": "hi"},
        ],
        "tools": [{"name": "a"}],
        "reasoning": {},
    }
    changed = {**body, "tools": [{"name": "a"}, {"name": "c"}], "reasoning": {"summary": None}}
    spec = KeySpec(ignore=ignore)
    assert make_key(chat, changed, spec) == make_key(chat, body, spec)
    assert make_key(chat, changed, KeySpec()) != make_key(chat, body, KeySpec())
    # A path that names nothing in this request changes nothing (an index past the end too).
    assert canonical_request(body, parse_ignore("tools[5] absent.field")) == canonical_request(body)
    assert not spec.whole and KeySpec().whole
    with pytest.raises(ValueError, match="match_on is empty"):
        parse_match_on(" , ")


def test_the_strict_message_names_each_stale_call_and_shortens_long_diffs() -> None:
    from pytest_llm.calls import LLMCall
    from pytest_llm.replay.misses import stale_message

    request = {"path": "/v1/chat/completions", "body": {"model": "m"}}
    interaction = {"provider": "openai", "request": request, "response": {"status": 200}}
    diff = [f"$.messages[{i}].content: recorded 'a', now 'b'" for i in range(15)]
    calls = [LLMCall(interaction, replayed=True, index=0), LLMCall(interaction, replayed=True)]
    calls[1].index, calls[1].stale, calls[1].stale_diff = 1, True, diff
    message = stale_message(calls, "pytest t.py::test_a").splitlines()
    assert message[1:] == [
        "  call 1: openai /v1/chat/completions model='m'",
        *[f"    {line}" for line in diff[:12]],
        "    ... and 3 more",
        "  re-record it with: pytest t.py::test_a --llm-record=all",
    ]
    assert stale_message(calls[:1], "pytest t.py::test_a") == ""
