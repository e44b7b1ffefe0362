"""A suite recorded by cassetter moves as a pytest-recording suite does (SPEC "Coming from
pytest-recording": "Coming from cassetter").

The project in `tests/cassetter_suite/` was recorded by cassetter 0.16.1 itself, against
`fake_provider.py` and `tool_server.py`: YAML cassettes with structured JSON bodies, SSE
streams as text and a binary image, and one TOML cassette. (To record it again: copy the
project, drop the `.txt` suffixes, `pip install cassetter`, point FAKE_OPENAI_BASE_URL,
FAKE_ANTHROPIC_BASE_URL and TOOL_URL at the two servers, run `pytest -p no:recording
--record-mode=once`, and set the ports in the cassettes back to 8401 and 8400.) cassetter is
not a dependency of this project: installed next to pytest-recording, the two clash on
`--record-mode` in every pytest run that does not disable one of them.

It runs under pytest-llm alone, offline, with nothing answering.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest
import yaml
from kit import without_keys

PROJECT = Path(__file__).parent / "cassetter_suite"
TESTS = 6
TOOL_URL = "http://127.0.0.1:8400"  # where the tool server listened while cassetter recorded


def test_a_cassetter_suite_replays_in_place_offline_under_pytest_llm(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    for source in PROJECT.glob("*.txt"):
        (pytester.path / source.name.removesuffix(".txt")).write_text(source.read_text())
    shutil.copytree(PROJECT / "cassettes", pytester.path / "cassettes")
    cassettes = pytester.path / "cassettes" / "test_app"
    chat = yaml.safe_load((cassettes / "test_chat.yaml").read_text())["interactions"][0]
    assert chat["response"]["body"]["type"] == "json"  # cassetter's format, not vcrpy's
    stream = yaml.safe_load((cassettes / "test_stream.yaml").read_text())["interactions"][0]
    assert stream["response"]["body"]["type"] == "text"
    toml = tomllib.loads((cassettes / "in_toml.toml").read_text())["interactions"][0]
    assert toml["response"]["body_type"] == "json"

    without_keys(monkeypatch)
    monkeypatch.setenv("FAKE_OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # nothing listens
    monkeypatch.setenv("FAKE_ANTHROPIC_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("TOOL_URL", TOOL_URL)
    before = {p.name: p.read_bytes() for p in cassettes.iterdir()}
    result = pytester.runpytest("-p", "no:recording", "--block-network")
    result.assert_outcomes(passed=TESTS)
    assert "stale recordings" not in result.stdout.str()
    assert {p.name: p.read_bytes() for p in cassettes.iterdir()} == before


def test_a_changed_request_to_a_cassetter_recording_is_listed_as_stale(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    for source in PROJECT.glob("*.txt"):
        (pytester.path / source.name.removesuffix(".txt")).write_text(source.read_text())
    shutil.copytree(PROJECT / "cassettes", pytester.path / "cassettes")
    test_file = pytester.path / "test_app.py"
    test_file.write_text(test_file.read_text().replace('"Name a river"', '"Name a long river"'))
    without_keys(monkeypatch)
    monkeypatch.setenv("FAKE_OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("FAKE_ANTHROPIC_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("TOOL_URL", TOOL_URL)
    result = pytester.runpytest("-p", "no:recording", "-k", "test_chat")
    result.assert_outcomes(passed=1, deselected=TESTS - 1)
    result.stdout.fnmatch_lines(
        ["stale recordings: 1 call(s) in 1 test(s)*", "  test_app.py::test_chat"]
    )
    diff = "      $.messages[0].content: recorded 'Name a river', now 'Name a long river'"
    assert diff in result.stdout.lines


def test_cassetter_bodies_that_do_not_decode_name_the_interaction(tmp_path: Path) -> None:
    from pytest_llm.cassettes.vcr_import import VcrImportError, import_file

    broken = tmp_path / "broken.yaml"
    interaction = {
        "request": {"method": "GET", "uri": "http://tools.example/a.png", "body": {"type": "none"}},
        "response": {"status": 200, "headers": {}, "body": {"type": "binary", "content": "zz"}},
    }
    broken.write_text(yaml.safe_dump({"version": 1, "interactions": [interaction]}))
    with pytest.raises(VcrImportError) as caught:
        import_file(broken)
    assert str(caught.value) == (
        f"cannot import {broken}:2: interaction #0: the response's binary body is not hex\n"
        "  fix: fix or remove that interaction, or re-record it"
    )
    not_toml = tmp_path / "broken.toml"
    not_toml.write_text("version = \n")
    with pytest.raises(VcrImportError, match=r"broken.toml: not valid TOML \(.*line 1"):
        import_file(not_toml)


CASSETTER_OBJECT = """
from dataclasses import dataclass, field

import pytest


@dataclass(frozen=True)
class Cassetter:
    '''What cassetter's vcr_config may return instead of a dict: its frozen configuration.'''

    cassette_library_dir: str | None = None
    record_mode: str | None = None
    match_on: list[str] | None = None
    filter_headers: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def vcr_config():
    return Cassetter(match_on=["method", "path", "query"])
"""


def test_a_cassetter_object_returned_by_vcr_config_is_read_as_its_keys(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    (pytester.path / "test_app.py").write_text((PROJECT / "test_app.py.txt").read_text())
    pytester.makeconftest(CASSETTER_OBJECT)
    shutil.copytree(PROJECT / "cassettes", pytester.path / "cassettes")
    # Another port than the recording's: only match_on without the port finds the recordings.
    monkeypatch.setenv("TOOL_URL", "http://127.0.0.1:8402")
    result = pytester.runpytest("-p", "no:recording", "-k", "test_tools")
    result.assert_outcomes(passed=1, deselected=TESTS - 1)
    assert "is not supported" not in result.stdout.str()
