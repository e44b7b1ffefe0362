"""Bad configuration: a clear error naming the setting and the valid values, or the folder.

Complements test_record_modes.py (unknown modes, match_on, marker arguments, replay
timing) and test_costs_and_budgets.py (a price file that does not parse, or is missing).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from fake_provider import FakeProvider
from kit import inner_file

from pytest_llm.cassettes.cassette import Cassette
from pytest_llm.errors import CassetteError


@pytest.mark.parametrize("name", ["llm_autouse", "llm_placeholder_keys"])
def test_a_boolean_ini_key_that_is_not_a_boolean_is_a_usage_error_naming_it(
    pytester: pytest.Pytester, name: str
) -> None:
    pytester.makeini(f"[pytest]\n{name} = maybe\n")
    pytester.makepyfile("def test_a(llm):\n    pass\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*pytest-llm: ini {name}: *'maybe'*valid: true, false*"])


def test_a_price_file_that_is_a_folder_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nllm_prices = prices\n")
    (pytester.path / "prices").mkdir()
    pytester.makepyfile("def test_a():\n    pass\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*pytest-llm: ini llm_prices: *prices: cannot read the price file (Is a directory)*"]
    )


def test_a_price_file_that_is_not_text_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nllm_prices = prices.toml\n")
    (pytester.path / "prices.toml").write_bytes(b"\xff\xfe\x00 binary garbage")
    pytester.makepyfile("def test_a():\n    pass\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*pytest-llm: ini llm_prices: *prices.toml*not UTF-8*"])


def test_a_cassette_folder_that_is_a_file_fails_the_tests_that_use_it(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    (pytester.path / "recordings").write_text("not a folder")
    inner_file(pytester, "def test_a(llm):\n    ask('x')\n\ndef test_b():\n    pass\n")
    result = pytester.runpytest("--llm-record=once", "--llm-cassette-dir=recordings")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*cannot use cassette *recordings/test_app/test_a.yaml: cannot read it (Not a directory)"]
    )
    assert inner_env.requests == []


# The inner test takes its cassette folder away while it runs, so the save at its end
# fails whoever runs the suite (root ignores permission bits; not a file in the way).
FOLDER_TAKEN = """
import pathlib
import shutil


def test_recorded_then_folder_taken(llm):
    ask("paid for")
    folder = pathlib.Path("cassettes/test_app")
    shutil.rmtree(folder, ignore_errors=True)
    folder.parent.mkdir(exist_ok=True)
    folder.write_text("a file where the folder was")


def test_after(llm):
    ask("still recorded")


def test_plain():
    pass
"""


def test_a_cassette_that_cannot_be_written_fails_its_test_and_the_run_goes_on(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    inner_file(pytester, FOLDER_TAKEN)
    result = pytester.runpytest("--llm-record=once", "-p", "no:randomly", "--llm-report=r.json")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == 2, result.stdout.str()  # the test's own call phase passed
    assert outcomes.get("errors") == 1 or outcomes.get("failed") == 1
    result.stdout.fnmatch_lines(
        [
            "*cannot use cassette cassettes/test_app/test_recorded_then_folder_taken.yaml: "
            "cannot write it: cassettes/test_app is a file, not a folder; the calls this test "
            "recorded are not saved",
            "*fix: make that folder writable, or record into another one with "
            "--llm-cassette-dir=DIR*",
        ]
    )
    # The session ended normally: summary, report, and the other tests' results.
    result.stdout.fnmatch_lines(["*call(s) replayed*recorded*"])
    assert (pytester.path / "r.json").is_file()
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root may write anywhere"
)
def test_a_read_only_cassette_folder_is_named_in_the_error(tmp_path: Path) -> None:
    folder = tmp_path / "cassettes"
    folder.mkdir()
    path = folder / "test_a.yaml"
    cassette = Cassette.load(path)
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    cassette.append(
        {
            "key": "k",
            "recorded_at": "t",
            "request": {"path": "/v1/chat/completions", "body": body},
            "response": {"status": 200, "body": {}},
        }
    )
    folder.chmod(0o555)
    try:
        with pytest.raises(CassetteError) as error:
            cassette.save()
    finally:
        folder.chmod(0o755)
    assert f"{folder} is not writable (Permission denied)" in str(error.value)
    assert cassette.dirty  # kept in memory: a later save may still succeed
    cassette.save()
    assert path.is_file()


def test_a_file_in_place_of_the_folder_is_named_in_the_error(tmp_path: Path) -> None:
    cassette = Cassette.load(tmp_path / "deep" / "er" / "test_a.yaml")
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    cassette.append(
        {
            "key": "k",
            "recorded_at": "t",
            "request": {"path": "/v1/chat/completions", "body": body},
            "response": {"status": 200, "body": {}},
        }
    )
    (tmp_path / "deep").write_text("in the way")
    with pytest.raises(CassetteError, match=r"deep is a file, not a folder; the calls this"):
        cassette.save()
    (tmp_path / "deep").unlink()
    cassette.save()
    assert (tmp_path / "deep" / "er" / "test_a.yaml").is_file()
    shutil.rmtree(tmp_path / "deep")


def test_a_cassette_that_cannot_be_written_is_reported_without_a_traceback(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    inner_file(pytester, FOLDER_TAKEN)
    result = pytester.runpytest("--llm-record=once", "-k", "folder_taken")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*cannot use cassette *: cannot write it: *"])
    assert "Traceback" not in result.stdout.str() and "cassette.py:" not in result.stdout.str()
