"""An agent's trajectory: `llm.steps`, `llm.tool_calls`, the tool-call assertions and the step
budget, on an agent loop that asks the fake provider through the real OpenAI client."""

from __future__ import annotations

import re

import pytest
from fake_provider import FakeProvider
from kit import inner_file

import pytest_llm
from pytest_llm import ANY, assert_no_tool_call, assert_tool_calls
from pytest_llm.steps import RequestedToolCall

AGENT = """
import json
import re

import httpx

import pytest_llm
from pytest_llm import ANY, assert_no_tool_call, assert_tool_calls

NAMES = ("search", "fetch_page", "delete_user")
TOOLS = [
    {"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
    for n in NAMES
]


def run_agent(prompt):
    messages = [{"role": "user", "content": prompt}]
    while True:
        reply = oa.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=TOOLS)
        message = reply.choices[0].message
        if not message.tool_calls:
            return message.content
        messages.append(message.model_dump(exclude_none=True))
        for call in message.tool_calls:
            content = f"result of {call.function.name}"
            messages.append({"role": "tool", "tool_call_id": call.id, "content": content})
"""


def _calls(*items: tuple[str, dict[str, object]]) -> list[RequestedToolCall]:
    return [RequestedToolCall(name, args, call) for call, (name, args) in enumerate(items)]


SEQUENCE = _calls(
    ("search", {"q": "cats", "limit": 3}),
    ("fetch_page", {"url": "https://example.org/cats"}),
    ("summarise", {"style": "short"}),
)


def test_an_agent_run_is_recorded_as_steps_and_tool_calls_and_replays_offline(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    inner_file(
        pytester,
        AGENT
        + """
def test_agent(llm):
    answer = run_agent("agent: search(q=cats) fetch_page(url=https://example.org/cats)")
    assert "done after 2 tool call(s)" in answer
    assert [(s.kind, s.name, s.via) for s in llm.steps] == [
        ("model", "gpt-4o-mini", "openai"),
    ] * 3
    assert all(s.replayed == llm.calls[0].replayed for s in llm.steps)
    assert llm.steps[0].input["messages"][0]["role"] == "user"
    assert llm.steps[0].output["choices"][0]["finish_reason"] == "tool_calls"
    assert [(t.name, t.arguments, t.call) for t in llm.tool_calls] == [
        ("search", {"q": "cats"}, 0),
        ("fetch_page", {"url": "https://example.org/cats"}, 1),
    ]
    assert_tool_calls(llm, ["search", "fetch_page"], order="exact")
    assert_tool_calls(llm, [("fetch_page", {"url": re.compile(r"cats$")})])
    assert_tool_calls(llm, [("fetch_page", {"url": ANY}), "search"], order="any_order")
    assert_no_tool_call(llm, "delete_user")
""",
    )
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    inner_env.stop()
    pytester.runpytest("--llm-block-network", "--llm-strict").assert_outcomes(passed=1)


def test_plain_http_tools_are_tool_steps_between_the_model_steps(
    pytester: pytest.Pytester, inner_env: FakeProvider, tool: object
) -> None:
    pytester.makeini("[pytest]\nllm_passthrough_hosts =\n")
    inner_file(
        pytester,
        AGENT
        + """
def test_agent(llm):
    run_agent("agent: search(q=cats)")
    first = llm.calls[0].tool_calls[0]
    weather = httpx.get(os.environ["TOOL_URL"] + "/weather", params={"city": "Oslo"})
    assert weather.status_code == 200
    oa.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "ok"}])
    assert [(s.kind, s.via) for s in llm.steps] == [
        ("model", "openai"), ("model", "openai"), ("tool", "http"), ("model", "openai"),
    ]
    http = llm.steps[2]
    assert http.name.startswith("GET http://127.0.0.1:") and "/weather?city=Oslo" in http.name
    assert http.output == weather.json()
    assert llm.steps[3].name == "gpt-4o"
    assert first.name == llm.tool_calls[0].name == "search"
""",
    )
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    pytester.runpytest("--llm-block-network").assert_outcomes(passed=1)


def test_exact_order_points_at_the_first_call_that_differs() -> None:
    with pytest.raises(AssertionError) as caught:
        assert_tool_calls(SEQUENCE, ["search", "summarise", "fetch_page"], order="exact")
    assert str(caught.value) == (
        "tool calls do not match (order='exact'): expected[1] summarise, found "
        "fetch_page(url='https://example.org/cats')\n"
        "expected: search, summarise, fetch_page\n"
        "the model's tool calls, in order (3):\n"
        "  [0] search(q='cats', limit=3)  (llm.calls[0])\n"
        "  [1] fetch_page(url='https://example.org/cats')  (llm.calls[1])  <-- here\n"
        "  [2] summarise(style='short')  (llm.calls[2])"
    )


def test_exact_order_allows_nothing_more_and_nothing_less() -> None:
    with pytest.raises(AssertionError, match=r"unexpected tool call \[2\] summarise\("):
        assert_tool_calls(SEQUENCE, ["search", "fetch_page"], order="exact")
    with pytest.raises(AssertionError, match=r"expected\[3\] search: the model made only 3"):
        expected = ["search", "fetch_page", "summarise", "search"]
        assert_tool_calls(SEQUENCE, expected, order="exact")


def test_in_order_is_a_subsequence_and_says_when_a_call_came_too_early() -> None:
    assert_tool_calls(SEQUENCE, ["search", "summarise"])
    with pytest.raises(AssertionError) as caught:
        assert_tool_calls(SEQUENCE, ["fetch_page", "search"])
    message = str(caught.value)
    assert message.splitlines()[0] == (
        "tool calls do not match (order='in_order'): expected[1] search not found after "
        "tool call [1] (it is at [0], out of order)"
    )
    assert "  [2] summarise(style='short')  (llm.calls[2])  <-- here" in message


def test_arguments_are_a_subset_with_any_and_regex_values() -> None:
    assert_tool_calls(SEQUENCE, [("search", {"q": "cats"}), ("summarise", {"style": ANY})])
    assert_tool_calls(SEQUENCE, [("fetch_page", {"url": re.compile(r"^https://")})])
    with pytest.raises(AssertionError) as caught:
        assert_tool_calls(SEQUENCE, [("search", {"q": re.compile("dogs"), "limit": 3})])
    assert "expected[0] search(q=re.compile('dogs'), limit=3) not found" in str(caught.value)
    with pytest.raises(AssertionError, match=r"expected\[0\] search\(page=ANY\) not found"):
        assert_tool_calls(SEQUENCE, [("search", {"page": ANY})])  # ANY needs the key


def test_any_order_needs_each_expected_call_once() -> None:
    assert_tool_calls(SEQUENCE, ["summarise", "search"], order="any_order")
    with pytest.raises(AssertionError, match=r"expected\[1\] search not found"):
        assert_tool_calls(SEQUENCE, ["search", "search"], order="any_order")


def test_no_tool_call_names_where_the_forbidden_tool_was_called() -> None:
    assert_no_tool_call(SEQUENCE, "delete_user")
    with pytest.raises(AssertionError) as caught:
        assert_no_tool_call(SEQUENCE, "fetch_page")
    lines = str(caught.value).splitlines()
    assert lines[0] == ("the model called 'fetch_page', which it must never call: tool call(s) [1]")
    assert lines[3].endswith("<-- here")


def test_a_run_without_tool_calls_says_so() -> None:
    with pytest.raises(AssertionError, match="the model asked for no tool call"):
        assert_tool_calls([], ["search"])


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((SEQUENCE, ["search"]), ValueError, "order must be one of exact, in_order, any_order"),
        ((SEQUENCE, "search"), TypeError, "expected must be a list"),
        ((SEQUENCE, [("search",)]), TypeError, r"expected\[0\] must be a tool name or"),
        ((42, ["search"]), TypeError, "takes the llm fixture or a list of its tool_calls"),
    ],
)
def test_misuse_is_a_clear_error(args: tuple[object, object], error: type, message: str) -> None:
    order = "sideways" if error is ValueError else "in_order"
    with pytest.raises(error, match=message):
        assert_tool_calls(*args, order=order)


def test_any_is_the_public_matcher() -> None:
    assert pytest_llm.ANY is ANY
    assert object() == ANY
    assert [ANY, ANY] == [1, "x"]
    assert repr(ANY) == "ANY"
    assert str(SEQUENCE[0]) == "search(q='cats', limit=3)"


def test_the_budget_marker_bounds_steps_and_tool_calls(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    inner_file(
        pytester,
        AGENT
        + """
@pytest.mark.llm_budget(max_tool_calls=1)
def test_too_many_tools():
    run_agent("agent: search(q=a) fetch_page(url=b)")


@pytest.mark.llm_budget(max_steps=1)
def test_too_many_steps():
    run_agent("agent: search(q=a)")


@pytest.mark.llm_budget(max_steps=3, max_tool_calls=2)
def test_within():
    run_agent("agent: search(q=a) fetch_page(url=b)")
""",
    )
    result = pytester.runpytest("--llm-record=once")
    result.assert_outcomes(passed=1, failed=2)
    text = result.stdout.str()
    assert "step budget exceeded in @llm_budget: tool calls 2 > max_tool_calls=1" in text
    assert "step budget exceeded in @llm_budget: steps 2 > max_steps=1" in text
    assert "  [0] model gpt-4o-mini via openai  live" in text
    assert "  [1] fetch_page(url='b')  (llm.calls[1])" in text


def test_a_bad_step_budget_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
import pytest

@pytest.mark.llm_budget(max_steps=-1)
def test_x():
    pass
"""
    )
    result = pytester.runpytest()
    assert "max_steps must be a number >= 0, not -1" in result.stderr.str()


def test_re_recording_lists_a_changed_tool_call_sequence_and_the_reports_show_steps(
    pytester: pytest.Pytester, inner_env: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    inner_file(
        pytester,
        AGENT
        + """
def test_agent(llm):
    run_agent(os.environ["PLAN"])


def test_same(llm):
    run_agent("agent: search(q=a)")
""",
    )
    monkeypatch.setenv("PLAN", "agent: search(q=cats) fetch_page(url=u)")
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=2)
    monkeypatch.setenv("PLAN", "agent: search(q=cats) delete_user(id=3)")
    result = pytester.runpytest(
        "--llm-record=rewrite",
        "--llm-report=report.json",
        "--llm-report=report.md",
        "--llm-report=report.html",
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "tool-call sequence changed against the baseline in 1 test(s)",
            "  test_app.py::test_agent: search, fetch_page -> search, delete_user",
        ]
    )
    report = json.loads((pytester.path / "report.json").read_text())
    tests = {t["nodeid"]: t for t in report["tests"]}
    agent = tests["test_app.py::test_agent"]
    assert agent["tool_calls_changed"] is True
    assert [t["name"] for t in agent["baseline_tool_calls"]] == ["search", "fetch_page"]
    assert agent["tool_calls"][1] == {"name": "delete_user", "arguments": {"id": 3}, "call": 1}
    assert tests["test_app.py::test_same"]["tool_calls_changed"] is False
    assert [s["kind"] for s in agent["steps"]] == ["model"] * 3
    markdown = (pytester.path / "report.md").read_text()
    assert "### Tool-call sequence changed in 1 test(s)" in markdown
    assert "1. model gpt-4o-mini via openai, live" in markdown
    page = (pytester.path / "report.html").read_text()
    assert "<h2>Steps</h2>" in page and "<li>model gpt-4o-mini via openai, live</li>" in page
    replay = pytester.runpytest("--llm-report=again.json")
    replay.assert_outcomes(passed=2)
    again = json.loads((pytester.path / "again.json").read_text())
    assert all(t["tool_calls_changed"] is False for t in again["tests"])
    assert all(t["baseline_tool_calls"] is None for t in again["tests"])


def test_re_recording_lists_a_changed_tool_call_sequence_without_a_report_file(
    pytester: pytest.Pytester, inner_env: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without --llm-report the records leave the steps out, except a re-recording test's.
    inner_file(pytester, AGENT + '\n\ndef test_agent(llm):\n    run_agent(os.environ["PLAN"])\n')
    monkeypatch.setenv("PLAN", "agent: search(q=cats) fetch_page(url=u)")
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    monkeypatch.setenv("PLAN", "agent: search(q=cats) delete_user(id=3)")
    result = pytester.runpytest("--llm-record=rewrite")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "tool-call sequence changed against the baseline in 1 test(s)",
            "  test_app.py::test_agent: search, fetch_page -> search, delete_user",
        ]
    )


def test_one_calls_own_tool_calls_can_be_asserted_too() -> None:
    from pytest_llm.usage import ToolCall

    asked = [ToolCall("call_1", "search", {"q": "x"}, '{"q": "x"}')]
    assert_tool_calls(asked, [("search", {"q": "x"})], order="exact")
    with pytest.raises(AssertionError) as caught:
        assert_no_tool_call(asked, "search")
    assert "  [0] search(q='x')  <-- here" in str(caught.value)
