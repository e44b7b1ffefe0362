"""`pytest-llm prune`: the last run's usage record, and what is (and is not) removed."""

from __future__ import annotations

import json

import pytest
import yaml
from fake_provider import FakeProvider
from kit import inner_file

from pytest_llm.cli import main

TWO_CALLS = """
def test_a(llm):
    ask("Name three colours")
    ask("Name four fruits")

def test_b(llm):
    ask("Name a planet")
"""
ONE_CALL = TWO_CALLS.replace('    ask("Name four fruits")\n', "")


def _count(pytester: pytest.Pytester, name: str) -> int:
    path = pytester.path / "cassettes" / "test_app" / f"{name}.yaml"
    return len(yaml.safe_load(path.read_text())["interactions"])


def test_prune_removes_what_the_last_full_run_did_not_use(
    pytester: pytest.Pytester, inner_env: FakeProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    inner_file(pytester, TWO_CALLS)
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=2)
    inner_file(pytester, ONE_CALL)  # the prompt "Name four fruits" is no longer asked
    pytester.runpytest().assert_outcomes(passed=2)
    capsys.readouterr()

    assert main(["prune", "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "would remove 1 unused interaction(s) from cassettes/test_app/test_a.yaml"
    ]
    assert _count(pytester, "test_a") == 2

    assert main(["prune", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "dry_run": False,
        "removed": {"cassettes/test_app/test_a.yaml": 1},
        "skipped": {},
    }
    assert (_count(pytester, "test_a"), _count(pytester, "test_b")) == (1, 1)
    # What is left still replays, and nothing is reported unused any more.
    result = pytester.runpytest("--llm-strict")
    result.assert_outcomes(passed=2)
    assert main(["prune"]) == 0
    assert "nothing to prune" in capsys.readouterr().out


def test_prune_refuses_after_a_partial_run_and_spares_failing_tests(
    pytester: pytest.Pytester, inner_env: FakeProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    inner_file(pytester, TWO_CALLS)
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=2)
    inner_file(pytester, ONE_CALL)
    pytester.runpytest("-k", "not test_b").assert_outcomes(passed=1, deselected=1)
    capsys.readouterr()
    assert main(["prune"]) == 2
    assert "the last run was partial" in capsys.readouterr().err
    assert _count(pytester, "test_a") == 2

    # test_a fails after its one call: its cassette may hold what it would have asked next.
    inner_file(
        pytester,
        ONE_CALL.replace(
            'ask("Name three colours")', 'ask("Name three colours")\n    assert False'
        ),
    )
    pytester.runpytest().assert_outcomes(passed=1, failed=1)
    capsys.readouterr()
    assert main(["prune"]) == 0
    out = capsys.readouterr().out
    assert "left cassettes/test_app/test_a.yaml alone: a failing or skipped test used it" in out
    assert _count(pytester, "test_a") == 2


def test_prune_without_a_run_says_what_to_do(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["prune"]) == 2
    assert "no record of a pytest run here" in capsys.readouterr().err
