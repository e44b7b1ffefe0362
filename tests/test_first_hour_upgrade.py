"""The model-upgrade workflow as the README gives it (issue 26, point 3).

After `--llm-record=rewrite --llm-model gpt-4o-mini=gpt-4.1-mini`, a plain replay missed on
`$.model` and suggested recording the old model again; and the drift summary counted calls
whose answers had not changed at all (score 1.000) as "changed".
"""

from __future__ import annotations

import pytest
from fake_provider import FakeProvider
from kit import inner_file, without_keys

UPGRADE = ("--llm-record=rewrite", "--llm-model", "gpt-4o-mini=gpt-4.1-mini")
APP = """
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


def test_agent(llm):
    assert ask("Say hi", model="gpt-4o-mini")
    reply = oa.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "What is the weather in Oslo?"}],
        tools=TOOLS,
    )
    assert reply.choices[0].message.tool_calls[0].function.arguments == '{"city": "Oslo"}'
"""


def test_calls_that_answer_the_same_on_the_new_model_are_not_counted_as_changed(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    inner_file(pytester, APP)
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    result = pytester.runpytest(*UPGRADE)
    result.assert_outcomes(passed=1)
    # The text answer names its model, so it changed; the tool call is the same one.
    result.stdout.fnmatch_lines(
        [
            "drift against the baseline: 1 of 2 call(s) changed "
            "(1 answered as before, score 1.000)",
            "  0.* test_app.py::test_agent[[]0[]]  gpt-4o-mini -> gpt-4.1-mini  tokens *",
        ]
    )
    assert "test_agent[1]" not in result.stdout.str()
    # The run also says what the replay needs next.
    result.stdout.fnmatch_lines(
        [
            "recorded with --llm-model gpt-4o-mini=gpt-4.1-mini: the cassettes now ask the new "
            "model, the code the old one;",
            "  change the model in the code, or replay with the same --llm-model, or the replay "
            "misses on $.model",
        ]
    )


def test_replay_after_an_upgrade_says_to_change_the_code_or_keep_mapping_the_model(
    pytester: pytest.Pytester, inner_env: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    inner_file(pytester, APP)
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    pytester.runpytest(*UPGRADE).assert_outcomes(passed=1)
    inner_env.stop()
    without_keys(monkeypatch)

    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*$.model: recorded 'gpt-4.1-mini', now 'gpt-4o-mini'",
            "*only the model differs: the recording asks 'gpt-4.1-mini', the code 'gpt-4o-mini' "
            "(as after --llm-record=rewrite --llm-model gpt-4o-mini=gpt-4.1-mini)",
            "*to keep 'gpt-4.1-mini': change the model in the code, or replay with: "
            "pytest test_app.py::test_agent --llm-model gpt-4o-mini=gpt-4.1-mini",
            "*to go back to 'gpt-4o-mini', re-record it as below",
            "*record it with: pytest test_app.py::test_agent --llm-record=rewrite",
        ]
    )
    # Both ways out that it names work offline.
    pytester.runpytest("--llm-model", "gpt-4o-mini=gpt-4.1-mini").assert_outcomes(passed=1)
    inner_file(pytester, APP.replace("gpt-4o-mini", "gpt-4.1-mini"), name="test_app")
    pytester.runpytest("--llm-strict").assert_outcomes(passed=1)
