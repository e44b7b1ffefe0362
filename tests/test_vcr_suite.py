"""A suite written against pytest-recording's objects moves whole (SPEC "Coming from
pytest-recording", "Async").

The project in `tests/vcr_suite/` uses the patterns of a large open-source agent framework's
model tests: autouse fixtures that read the `vcr` cassette (`record_mode`, `all_played`,
`play_counts`), tests asserting on `vcr.requests[i].body`, a conftest whose
`pytest_recording_configure` registers a serializer that stores JSON bodies parsed, a matcher of
its own and one that replaces the built-in `host`, and assigns `before_record_request`; a module
that imports `vcr.cassette.Cassette` for typing; async tests under BlockBuster (any blocking
call on the event loop fails them); unmarked tests that receive `vcr=None`.

It is recorded by pytest-recording itself; then the code changes the way it does in real
suites; then it runs under pytest-llm alone, offline, with nothing answering. Both runs are
subprocesses: the async tests leave clients of closed event loops for the collector, and
CPython 3.11's ast.parse fails when a finalizer runs in the middle of one in this process.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from fake_provider import FakeProvider
from kit import ANTHROPIC_KEY, OPENAI_KEY, all_text, without_keys
from tool_server import ToolServer

PROJECT = Path(__file__).parent / "vcr_suite"
ORDERED = ("-p", "no:randomly")
TESTS = 8
STALE = "test_sync.py::test_capital"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def _stale_tests(result: pytest.RunResult) -> list[str]:
    lines = result.stdout.lines
    start = next(i for i, line in enumerate(lines) if "stale recordings" in line)
    tests = []
    for line in lines[start + 1 :]:
        if not line.startswith(" "):
            break
        if re.fullmatch(r"  \S+::\S+", line):
            tests.append(line.strip())
    return tests


@pytest.fixture
def project(
    pytester: pytest.Pytester, inner_env: FakeProvider, tool: ToolServer
) -> pytest.Pytester:
    """The pytest-recording style project, copied into the pytester directory."""
    for source in PROJECT.glob("*.txt"):
        (pytester.path / source.name.removesuffix(".txt")).write_text(source.read_text())
    return pytester


def test_a_suite_built_on_pytest_recordings_objects_passes_whole_offline_under_pytest_llm(
    project: pytest.Pytester,
    inner_env: FakeProvider,
    tool: ToolServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Phase 1: pytest-recording records (pytest-llm is loaded too and leaves vcr to it).
    recorded = project.runpytest_subprocess("--record-mode=once", *ORDERED)
    recorded.assert_outcomes(passed=TESTS)
    cassettes = project.path / "cassettes"
    files = sorted(str(p.relative_to(cassettes)) for p in cassettes.rglob("*.yaml"))
    assert files == [
        "test_async/test_chat_async.yaml",
        "test_async/test_streams_async.yaml",
        "test_async/test_tools_async.yaml",
        "test_sync/test_capital.yaml",
        "test_sync/test_models.yaml",
        "test_sync/test_tool_loop.yaml",
    ]
    tool_loop = yaml.safe_load((cassettes / "test_sync" / "test_tool_loop.yaml").read_text())
    weather, chat = tool_loop["interactions"]
    assert weather["response"]["body"]["parsed_json"]["temp"] == 21.5  # the project's serializer
    assert "parsed_json" in chat["request"] and "key" not in chat
    text = all_text(cassettes)
    assert "trace_id=" not in text  # the project's before_record_request
    assert OPENAI_KEY not in text and ANTHROPIC_KEY not in text

    # Phase 2: a prompt edited; two calls swapped (only the project's `model` matcher tells
    # them apart); the tool server reached under another name (only its `host` matcher says
    # localhost is 127.0.0.1).
    _edit(project.path / "test_sync.py", "capital of France", "capital of Italy")
    _edit(
        project.path / "test_sync.py",
        """    first = agent.ask("Name a colour", model="gpt-4o-mini")
    second = agent.ask("Name a colour", model="gpt-4.1")""",
        """    second = agent.ask("Name a colour", model="gpt-4.1")
    first = agent.ask("Name a colour", model="gpt-4o-mini")""",
    )
    monkeypatch.setenv("TOOL_URL", tool.url.replace("127.0.0.1", "localhost"))

    # Phase 3: nothing answers, no key, pytest-recording not loaded.
    inner_env.stop()
    tool.stop()
    without_keys(monkeypatch)
    before = {p: p.read_bytes() for p in cassettes.rglob("*") if p.is_file()}
    result = project.runpytest_subprocess("-p", "no:recording", "--block-network", *ORDERED)
    result.assert_outcomes(passed=TESTS)
    assert _stale_tests(result) == [STALE]
    assert {p: p.read_bytes() for p in cassettes.rglob("*") if p.is_file()} == before
