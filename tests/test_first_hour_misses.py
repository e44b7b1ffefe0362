"""What a new user did after a miss message (issue 26, points 2 and 4).

Point 2: the miss of a changed prompt suggested new_episodes, which kept the old recording
beside the new one, and --llm-strict then failed the run without naming `pytest-llm prune`.
Point 4: miss messages printed `$.prompt.messages[0].content` while `ignore=` wants
`$.messages[0].content`, and an ignore path that named nothing was accepted silently.
"""

from __future__ import annotations

import shlex

import pytest
import yaml
from fake_provider import FakeProvider
from kit import inner_file

from pytest_llm.cli import main

CHAT = 'def test_a(llm):\n    ask("Name three colours")\n\ndef test_b(llm):\n    ask("hi")\n'
CHANGED = CHAT.replace("three", "four")


def _interactions(pytester: pytest.Pytester) -> list[dict]:
    path = pytester.path / "cassettes" / "test_app" / "test_a.yaml"
    return list(yaml.safe_load(path.read_text())["interactions"])


def _suggested(result: pytest.RunResult) -> list[str]:
    """The arguments of the command that the miss message says records the call."""
    line = next(s for s in result.stdout.lines if "record it with: pytest " in s)
    return shlex.split(line.split("record it with: pytest ", 1)[1])


def test_the_suggested_command_leaves_no_stale_recording_for_strict(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    inner_file(pytester, CHAT)
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=2)
    inner_file(pytester, CHANGED)
    miss = pytester.runpytest()
    miss.assert_outcomes(passed=1, failed=1)
    miss.stdout.fnmatch_lines(
        [
            "*differs in:",
            "*$.messages[[]0[]].content: recorded 'Name three colours', now 'Name four colours'",
            "*record it with: pytest test_app.py::test_a --llm-record=rewrite",
            "*(rewrite replaces this test's recordings; new_episodes would keep the old one "
            "beside the new, unused, which --llm-strict fails on until `pytest-llm prune`)",
        ]
    )
    pytester.runpytest(*_suggested(miss)).assert_outcomes(passed=1)
    assert [i["request"]["body"]["messages"][0]["content"] for i in _interactions(pytester)] == [
        "Name four colours"
    ]
    strict = pytester.runpytest("--llm-strict")
    strict.assert_outcomes(passed=2)
    assert strict.ret == 0
    assert "not used" not in strict.stdout.str()


def test_strict_names_prune_after_new_episodes_kept_the_old_recording(
    pytester: pytest.Pytester, inner_env: FakeProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    inner_file(pytester, CHAT)
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=2)
    inner_file(pytester, CHANGED)
    pytester.runpytest("test_app.py::test_a", "--llm-record=new_episodes").assert_outcomes(passed=1)
    assert len(_interactions(pytester)) == 2  # the old one stays beside the new

    strict = pytester.runpytest("--llm-strict")
    strict.assert_outcomes(passed=2)
    assert strict.ret == pytest.ExitCode.TESTS_FAILED
    strict.stdout.fnmatch_lines(
        [
            "1 recorded interaction(s) were not used by any passing test "
            "(--llm-strict: failing the run)",
            "  1 unused in cassettes/test_app/test_a.yaml",
            "  remove them with: pytest-llm prune (after a run of the whole suite)",
        ]
    )
    capsys.readouterr()
    assert main(["prune"]) == 0
    assert len(_interactions(pytester)) == 1
    assert pytester.runpytest("--llm-strict").ret == 0


def test_a_path_copied_from_a_miss_message_works_in_ignore(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    body = """
        @pytest.mark.llm(ignore=[{path!r}])
        def test_a(llm):
            oa.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{{"role": "system", "content": "{system}"}},
                          {{"role": "user", "content": "hi"}}],
            )
        """
    inner_file(pytester, body.format(path="max_tokens", system="Be terse."))
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    inner_file(pytester, body.format(path="max_tokens", system="Be brief."))
    miss = pytester.runpytest()
    miss.assert_outcomes(failed=1)
    line = next(s for s in miss.stdout.lines if "recorded 'Be terse.'" in s)
    path = line.strip().split(":", 1)[0]
    assert path == "$.messages[0].content"

    inner_file(pytester, body.format(path=path, system="Be brief."))
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert "matched no field" not in result.stdout.str()


def test_an_ignore_path_that_names_nothing_is_warned_about(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    pytester.makeini("[pytest]\nllm_match_ignore =\n    max_token\n    messages[*].name\n")
    inner_file(
        pytester,
        """
        @pytest.mark.llm(ignore=["$.prompt.messages[0].content"])
        def test_a(llm):
            ask("hi", max_tokens=5)

        def test_b(llm):
            oa.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "x", "name": "ada"}]
            )
        """,
    )
    result = pytester.runpytest("--llm-record=once")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "warning: ignore path(s) that matched no field of any recorded request: "
            "$.max_token, $.prompt.messages[[]0[]].content",
            "  check the spelling against the request body, as miss messages print it "
            "($.messages[[]1[]].content); a path that names nothing leaves the key unchanged",
        ]
    )
    # messages[*].name named a field in test_b: not listed. Replay says the same.
    replay = pytester.runpytest()
    replay.assert_outcomes(passed=2)
    replay.stdout.fnmatch_lines(["warning: ignore path(s) that matched no field*"])


def test_a_call_added_after_the_recorded_ones_is_recorded_with_new_episodes(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    inner_file(pytester, CHAT)
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=2)
    inner_file(pytester, CHAT.replace('colours")\n', 'colours")\n    ask("Name a fruit")\n', 1))
    miss = pytester.runpytest()
    miss.assert_outcomes(passed=1, failed=1)
    miss.stdout.fnmatch_lines(
        ["*record it with: pytest test_app.py::test_a --llm-record=new_episodes"]
    )
    # The advice, not pytest's own words (an in-process run may warn about assert rewriting).
    assert "--llm-record=rewrite" not in miss.stdout.str()
    pytester.runpytest(*_suggested(miss)).assert_outcomes(passed=1)
    assert pytester.runpytest("--llm-strict").ret == 0  # nothing left unused
