"""`@pytest_llm.tool`: a Python tool's results recorded by canonical arguments and replayed
without running it, inside an agent loop that asks the fake provider through the real client."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml
from fake_provider import FakeProvider
from kit import inner_file

import pytest_llm

TOOLS = """
import asyncio
import json
from pathlib import Path

import pytest_llm

RUNS = Path(os.environ["RUNS_FILE"])


@pytest_llm.tool
def lookup(city, units="metric"):
    with RUNS.open("a") as runs:
        runs.write(f"lookup {city}\\n")
    return {"city": city, "temp": 21, "units": units}


@pytest_llm.tool(name="forecast")
async def days_ahead(city, days):
    with RUNS.open("a") as runs:
        runs.write(f"forecast {city}\\n")
    return [f"{city} day {n}" for n in range(days)]


SCHEMA = {"type": "object"}
FUNCTIONS = [
    {"type": "function", "function": {"name": n, "parameters": SCHEMA}}
    for n in ("lookup", "forecast")
]


def agent(prompt):
    messages = [{"role": "user", "content": prompt}]
    while True:
        reply = oa.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=FUNCTIONS)
        message = reply.choices[0].message
        if not message.tool_calls:
            return message.content
        messages.append(message.model_dump(exclude_none=True))
        for call in message.tool_calls:
            arguments = json.loads(call.function.arguments)
            if call.function.name == "lookup":
                result = lookup(**arguments)
            else:
                result = asyncio.run(days_ahead(**arguments))
            messages.append(
                {"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)}
            )
"""


@pytest.fixture
def runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A file each real run of a tool appends to: replay must leave it alone."""
    path = tmp_path / "runs.txt"
    monkeypatch.setenv("RUNS_FILE", str(path))
    return path


def test_tool_results_are_recorded_then_replayed_without_running_the_function(
    pytester: pytest.Pytester, inner_env: FakeProvider, runs: Path
) -> None:
    inner_file(
        pytester,
        TOOLS
        + """
def test_agent(llm):
    answer = agent("agent: lookup(city=Oslo) forecast(city=Oslo, days=2)")
    assert "done after 2 tool call(s)" in answer
    assert [(s.kind, s.name, s.via) for s in llm.steps] == [
        ("model", "gpt-4o-mini", "openai"),
        ("tool", "lookup", "function"),
        ("model", "gpt-4o-mini", "openai"),
        ("tool", "forecast", "function"),
        ("model", "gpt-4o-mini", "openai"),
    ]
    assert llm.steps[1].input == {"city": "Oslo", "units": "metric"}
    assert llm.steps[1].output == {"city": "Oslo", "temp": 21, "units": "metric"}
    assert llm.steps[3].output == ["Oslo day 0", "Oslo day 1"]
    assert llm.steps[1].replayed == llm.steps[0].replayed
""",
    )
    recording = pytester.runpytest("--llm-record=once")
    recording.assert_outcomes(passed=1)
    # Three model calls and two tool results, counted alike whether recorded or replayed.
    recording.stdout.fnmatch_lines(["0 call(s) replayed, 5 recorded, 1 cassette(s) written"])
    assert runs.read_text() == "lookup Oslo\nforecast Oslo\n"
    cassette = yaml.safe_load(
        (pytester.path / "cassettes" / "test_app" / "test_agent.yaml").read_text()
    )
    tools = [i for i in cassette["interactions"] if i["provider"] == "function"]
    assert [(i["tool"], i["request"]["path"], i["request"]["body"]) for i in tools] == [
        ("lookup", "test_app.lookup", {"city": "Oslo", "units": "metric"}),
        ("forecast", "test_app.days_ahead", {"city": "Oslo", "days": 2}),
    ]
    runs.unlink()
    inner_env.stop()
    result = pytester.runpytest("--llm-block-network", "--llm-strict")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["5 call(s) replayed, 0 recorded, 0 cassette(s) written"])
    assert not runs.exists()


def test_a_tool_called_with_other_arguments_in_replay_is_a_miss_naming_the_argument(
    pytester: pytest.Pytester, inner_env: FakeProvider, runs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inner_file(
        pytester,
        TOOLS
        + """
def test_tool(llm):
    assert lookup(os.environ.get("CITY", "Oslo"))["city"]
""",
    )
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    pytester.runpytest("--llm-strict").assert_outcomes(passed=1)
    monkeypatch.setenv("CITY", "Rome")
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*pytest-llm: no recording of this tool call in cassettes*test_tool.yaml",
            "*  tool: lookup(city='Rome', units='metric')  (test_app.lookup)",
            "*  nearest recorded tool call (interaction #0) differs in:",
            "*    $.arguments.city: recorded 'Oslo', now 'Rome'",
            "*  record it with: pytest test_app.py::test_tool --llm-record=new_episodes",
        ]
    )


def test_arguments_or_results_that_are_not_json_are_an_error_naming_the_function(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    inner_file(
        pytester,
        """
import pytest_llm


@pytest_llm.tool
def opens(path):
    return open(path)


@pytest_llm.tool
def echo(value):
    return value


def test_result(llm, tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(TypeError) as caught:
        opens(str(tmp_path / "f"))
    assert str(caught.value).startswith(
        "pytest-llm: tool test_app.opens returned TextIOWrapper, which is not JSON-serialisable"
    )


def test_argument(llm):
    with pytest.raises(TypeError) as caught:
        echo({1, 2})
    assert str(caught.value).startswith(
        "pytest-llm: the arguments of tool test_app.echo are not JSON-serialisable"
    )


def test_outside_a_participating_test_it_just_runs(tmp_path):
    assert echo({1, 2}) == {1, 2}
""",
    )
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=3)


def test_outside_a_run_a_tool_is_the_plain_function() -> None:
    @pytest_llm.tool
    def add(a: int, b: int) -> int:
        return a + b

    @pytest_llm.tool
    async def mul(a: int, b: int) -> int:
        return a * b

    assert add(2, 3) == 5
    assert asyncio.run(mul(2, 3)) == 6
    assert add.__name__ == "add"
