"""Record modes, their precedence, and the errors for bad values."""

from __future__ import annotations

import pytest
import yaml
from fake_provider import FakeProvider
from kit import inner_file, without_keys

ONE_CALL = """
def test_a(llm):
    assert "colours" in ask("Name three colours")
"""


def _interactions(pytester: pytest.Pytester, name: str = "test_a") -> list[dict]:
    path = pytester.path / "cassettes" / "test_app" / f"{name}.yaml"
    return yaml.safe_load(path.read_text())["interactions"]


def test_none_is_the_default_and_fails_closed(
    pytester: pytest.Pytester, inner_env: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_keys(monkeypatch)
    inner_file(pytester, ONE_CALL)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*pytest-llm: no recording for this call in *test_app*test_a.yaml",
            "*call: openai chat.completions  model='gpt-4o-mini'  stream=False",
            "*the cassette does not exist yet",
            "*record it with: pytest test_app.py::test_a --llm-record=once",
        ]
    )
    assert inner_env.requests == []
    assert not (pytester.path / "cassettes").exists()


def test_once_records_a_missing_cassette_then_only_replays(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    inner_file(pytester, ONE_CALL)
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    assert len(inner_env.requests) == 1
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    assert len(inner_env.requests) == 1
    assert len(_interactions(pytester)) == 1


def test_new_episodes_replays_known_calls_and_records_new_ones(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    inner_file(pytester, ONE_CALL)
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    inner_file(
        pytester,
        """
        def test_a(llm):
            ask("Name three colours")
            ask("Name four animals")
            assert [c.replayed for c in llm.calls] == [True, False]
        """,
    )
    pytester.runpytest("--llm-record=new_episodes").assert_outcomes(passed=1)
    assert [r.body["messages"][0]["content"] for r in inner_env.requests] == [
        "Name three colours",
        "Name four animals",
    ]
    assert len(_interactions(pytester)) == 2


def test_all_calls_the_provider_again_and_replaces_the_entries(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    inner_file(pytester, ONE_CALL)
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    first = _interactions(pytester)
    pytester.runpytest("--llm-record=all").assert_outcomes(passed=1)
    second = _interactions(pytester)
    assert len(inner_env.requests) == 2
    assert len(second) == 1
    assert second[0]["key"] == first[0]["key"]
    assert second[0]["recorded_at"] > first[0]["recorded_at"]


def test_rewrite_starts_empty_and_keeps_the_old_answers_as_baseline(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    inner_file(pytester, ONE_CALL)
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    inner_file(
        pytester,
        """
        def test_a(llm):
            ask("Name three colours", model="gpt-4.1-mini")
            assert [c.model for c in llm.baseline] == ["gpt-4o-mini"]
            assert [c.model for c in llm.calls] == ["gpt-4.1-mini"]
            assert llm.baseline[0].text.startswith("[gpt-4o-mini]")
        """,
    )
    pytester.runpytest("--llm-record=rewrite").assert_outcomes(passed=1)
    assert [i["model"] for i in _interactions(pytester)] == ["gpt-4.1-mini"]


def test_rewrite_that_records_nothing_leaves_the_old_cassette(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    inner_file(pytester, ONE_CALL)
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    path = pytester.path / "cassettes" / "test_app" / "test_a.yaml"
    before = path.read_bytes()
    inner_env.stop()  # the provider is down: the re-recording run fails
    result = pytester.runpytest("--llm-record=rewrite")
    result.assert_outcomes(failed=1)
    assert path.read_bytes() == before


def test_marker_beats_cli_and_cli_beats_ini(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    pytester.makeini("[pytest]\nllm_record_mode = once\n")
    inner_file(
        pytester,
        """
        @pytest.mark.llm(record="once")
        def test_marker(llm):
            ask("marker wins")

        def test_cli(llm):
            ask("cli wins")
        """,
    )
    result = pytester.runpytest("--llm-record=none")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["FAILED test_app.py::test_cli*"])
    assert [r.body["messages"][0]["content"] for r in inner_env.requests] == ["marker wins"]
    # without the CLI option, the ini's `once` applies
    pytester.runpytest().assert_outcomes(passed=2)


@pytest.mark.parametrize(
    ("args", "ini", "marker", "expected"),
    [
        (
            ["--llm-record=sometimes"],
            "",
            "",
            "*pytest-llm: --llm-record: unknown record mode 'sometimes'; "
            "valid: none, once, new_episodes, all, rewrite",
        ),
        (
            [],
            "llm_record_mode = always",
            "",
            "*pytest-llm: ini llm_record_mode: unknown record mode 'always'; valid: none, once,*",
        ),
        (
            [],
            "",
            '@pytest.mark.llm(record="maybe")',
            "*pytest-llm: @pytest.mark.llm on test_app.py::test_a(record=...): unknown record "
            "mode 'maybe'; valid: none, once, new_episodes, all, rewrite",
        ),
        (
            [],
            "",
            '@pytest.mark.llm(match_on=["colour"])',
            "*unknown match_on field(s) 'colour'; valid: *model*prompt*",
        ),
        (
            [],
            "",
            '@pytest.mark.llm(cassete="x")',
            "*unexpected argument(s) cassete; valid keywords: cassette, ignore, match_on, "
            "min_pass_rate, record, samples",
        ),
        (
            ["--llm-replay-timing=slow"],
            "",
            "",
            "*--llm-replay-timing: unknown value 'slow'; valid: fast, recorded",
        ),
        ([], "llm_match_on =\n    model\n    tone", "", "*ini llm_match_on: unknown match_on*"),
    ],
)
def test_bad_values_are_usage_errors_listing_the_valid_ones(
    pytester: pytest.Pytester,
    inner_env: FakeProvider,
    args: list[str],
    ini: str,
    marker: str,
    expected: str,
) -> None:
    pytester.makeini(f"[pytest]\n{ini}\n")
    inner_file(pytester, f"{marker}\ndef test_a(llm):\n    ask('x')\n")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([expected])
    assert inner_env.requests == []
