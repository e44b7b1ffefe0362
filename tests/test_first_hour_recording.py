"""pytest-recording still installed after the move to pytest-llm (issue 26, point 6).

Cassettes that pytest-llm wrote (or converted) at pytest-recording's paths were handed to vcrpy
by pytest-recording, which crashed with `TypeError: Request.__init__() got an unexpected keyword
argument 'path'`. Now such a test fails in one line that says what to do.
"""

from __future__ import annotations

import pytest
from fake_provider import FakeProvider
from kit import inner_file

VCR_TEST = """
@pytest.mark.vcr
def test_chat():
    assert ask("Name a colour")
"""
CASSETTE = "cassettes/test_app/test_chat.yaml"


def test_our_cassette_under_pytest_recording_fails_in_one_clear_line(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    inner_file(pytester, VCR_TEST)
    # Recorded by pytest-llm in place, with pytest-recording left out.
    pytester.runpytest("-p", "no:recording", "--record-mode=once").assert_outcomes(passed=1)
    assert (pytester.path / CASSETTE).read_text().startswith("# pytest-llm cassette")

    result = pytester.runpytest()  # pytest-recording is installed here and loads
    result.assert_outcomes(errors=1)
    text = result.stdout.str()
    assert "TypeError" not in text and "unexpected keyword argument" not in text
    result.stdout.fnmatch_lines(
        [
            "*pytest-recording is loaded and serves the vcr marker",
            f"pytest-llm: {CASSETTE} is a pytest-llm cassette, which pytest-recording (vcrpy) "
            "cannot read: uninstall pytest-recording, or run with -p no:recording, and "
            "pytest-llm serves the vcr marker",
            "ERROR test_app.py::test_chat - Failed: pytest-llm: *",
        ]
    )
    # Following it: the same suite replays.
    pytester.runpytest("-p", "no:recording").assert_outcomes(passed=1)


def test_pytest_recordings_own_cassettes_are_left_to_it(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    inner_file(pytester, VCR_TEST)
    pytester.runpytest("--record-mode=once").assert_outcomes(passed=1)  # vcrpy records
    assert not (pytester.path / CASSETTE).read_text().startswith("# pytest-llm")
    pytester.runpytest("--record-mode=none").assert_outcomes(passed=1)
