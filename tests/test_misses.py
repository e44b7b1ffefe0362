"""A call with no recording fails the test at once, with what differs and how to record it."""

from __future__ import annotations

import pytest
from fake_provider import FakeProvider
from kit import inner_file

ROLL = "def test_a(llm):\n    for _ in range({times}):\n        ask('roll', temperature=1)\n"


def _record(pytester: pytest.Pytester, body: str) -> None:
    inner_file(pytester, body)
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)


def test_a_changed_prompt_is_never_answered_with_the_old_reply(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    _record(pytester, 'def test_a(llm):\n    ask("Name three colours", temperature=0.2)\n')
    inner_file(pytester, 'def test_a(llm):\n    ask("Name four colours", temperature=0.2)\n')
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*no recording for this call in *test_a.yaml",
            "*call: openai chat.completions  model='gpt-4o-mini'  temperature=0.2  stream=False",
            "*nearest recorded request (interaction #0) differs in:",
            "*record it with: pytest test_app.py::test_a --llm-record=rewrite",
        ]
    )
    assert (
        "$.messages[0].content: recorded 'Name three colours', now 'Name four colours'"
        in result.stdout.str()
    )
    assert len(inner_env.requests) == 1  # only the recording run reached the provider


def test_sampling_parameters_are_part_of_the_key(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    _record(pytester, 'def test_a(llm):\n    ask("hi", temperature=0, seed=1)\n')
    inner_file(pytester, 'def test_a(llm):\n    ask("hi", temperature=0, seed=2)\n')
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*$.seed: recorded 1, now 2"])


def test_match_on_narrows_the_key(pytester: pytest.Pytester, inner_env: FakeProvider) -> None:
    _record(pytester, 'def test_a(llm):\n    ask("hi", temperature=0, seed=1)\n')
    inner_file(
        pytester,
        """
        @pytest.mark.llm(match_on=["model", "prompt"])
        def test_a(llm):
            assert "reply to: hi" in ask("hi", temperature=0.9, seed=5)
        """,
    )
    pytester.runpytest().assert_outcomes(passed=1)
    assert len(inner_env.requests) == 1


def test_one_call_more_than_recorded_is_a_miss_that_says_so(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    _record(
        pytester, "def test_a(llm):\n    for _ in range(3):\n        ask('roll', temperature=1)\n"
    )
    inner_file(
        pytester, "def test_a(llm):\n    for _ in range(4):\n        ask('roll', temperature=1)\n"
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*this exact call was recorded 3 time(s) and asked a 4th time"])


def test_repeated_calls_replay_their_answers_in_recorded_order(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    _record(
        pytester, "def test_a(llm):\n    for _ in range(3):\n        ask('roll', temperature=1)\n"
    )
    path = pytester.path / "cassettes" / "test_app" / "test_a.yaml"
    text = path.read_text()
    # Give the three identical recordings distinct answers, as sampling at 1.0 would.
    for word in ("first", "second", "third"):
        text = text.replace("content: '[gpt-4o-mini] reply to: roll", f"content: '{word}", 1)
    path.write_text(text)
    inner_file(
        pytester,
        """
        def test_a(llm):
            answers = [ask('roll', temperature=1).split()[0] for _ in range(3)]
            assert answers == ["first", "second", "third"]
        """,
    )
    pytester.runpytest().assert_outcomes(passed=1)


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
def test_a_miss_fails_even_when_the_application_catches_exceptions(
    pytester: pytest.Pytester, inner_env: FakeProvider, sdk: str
) -> None:
    call = {
        "openai": 'ask("hi")',
        "anthropic": 'an.messages.create(model="claude-haiku-4-5", max_tokens=9, '
        'messages=[{"role": "user", "content": "hi"}])',
    }[sdk]
    inner_file(
        pytester,
        f"""
        def test_a(llm):
            try:
                {call}
            except Exception:
                pass  # an application that falls back quietly
        """,
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(failed=1)
    # one miss only: the SDK did not retry it (pytest repeats the message in full in the
    # short summary when $CI is set, so count in the failure section)
    failures = result.stdout.str().split("short test summary info")[0]
    assert failures.count("record it with:") == 1
    assert inner_env.requests == []


def test_a_miss_in_a_thread_whose_error_nobody_reads_still_fails_the_test(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    inner_file(
        pytester,
        """
        import threading

        def test_a(llm):
            def work():
                try:
                    ask("in a thread")
                except BaseException:
                    pass
            thread = threading.Thread(target=work)
            thread.start()
            thread.join()
        """,
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*no recording for this call*"])
