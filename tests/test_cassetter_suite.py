"""A suite recorded by cassetter moves as a pytest-recording suite does (SPEC "Coming from
pytest-recording": "Coming from cassetter").

The project in `tests/cassetter_suite/` is recorded by cassetter itself (YAML cassettes with
structured JSON bodies and SSE text, a binary image, one TOML cassette), then runs under
pytest-llm alone with cassetter and pytest-recording left out, offline, with nothing answering.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import yaml
from fake_provider import FakeProvider
from kit import ANTHROPIC_KEY, OPENAI_KEY, all_text, without_keys
from tool_server import ToolServer

PROJECT = Path(__file__).parent / "cassetter_suite"
TESTS = 6


def test_a_cassetter_suite_replays_in_place_under_pytest_llm(
    pytester: pytest.Pytester,
    inner_env: FakeProvider,
    tool: ToolServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for source in PROJECT.glob("*.txt"):
        (pytester.path / source.name.removesuffix(".txt")).write_text(source.read_text())
    # cassetter records; pytest-llm sees it loaded and leaves the vcr names to it.
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:hypothesispytest -p no:recording")
    recorded = pytester.runpytest("--record-mode=once")
    recorded.assert_outcomes(passed=TESTS)
    assert "pytest-llm: cassetter is loaded and serves the vcr marker" in recorded.stdout.str()
    cassettes = pytester.path / "cassettes" / "test_app"
    names = sorted(p.name for p in cassettes.iterdir())
    assert names == [
        "in_toml.toml",
        "test_async_stream.yaml",
        "test_chat.yaml",
        "test_stream.yaml",
        "test_tools.yaml",
    ]
    chat = yaml.safe_load((cassettes / "test_chat.yaml").read_text())["interactions"][0]
    assert chat["response"]["body"]["type"] == "json"  # cassetter's format, not vcrpy's
    stream = yaml.safe_load((cassettes / "test_stream.yaml").read_text())["interactions"][0]
    assert stream["response"]["body"]["type"] == "text"
    toml = tomllib.loads((cassettes / "in_toml.toml").read_text())["interactions"][0]
    assert toml["response"]["body_type"] == "json"
    assert OPENAI_KEY not in all_text(cassettes) and ANTHROPIC_KEY not in all_text(cassettes)

    inner_env.stop()
    tool.stop()
    without_keys(monkeypatch)
    before = {p.name: p.read_bytes() for p in cassettes.iterdir()}
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:hypothesispytest -p no:recording -p no:cassetter")
    result = pytester.runpytest("--block-network")
    result.assert_outcomes(passed=TESTS)
    assert "stale recordings" not in result.stdout.str()
    assert {p.name: p.read_bytes() for p in cassettes.iterdir()} == before
