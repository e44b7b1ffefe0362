"""A suite written for pytest-recording moves to pytest-llm with no change (SPEC "Coming from
pytest-recording", "Stale recordings").

The project in `tests/vcr_project/` (files end in `.txt` so this suite does not collect them) is
written the usual pytest-recording ways. It is recorded by pytest-recording itself, then two
things change the way they do in real suites (a prompt edited in a test, a library default that
moved), then it runs under pytest-llm alone, offline, with nothing answering: every test passes
and exactly the two changed tests are listed as stale.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shlex
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from fake_provider import FakeProvider
from kit import (
    ANTHROPIC_KEY,
    CORPUS,
    OPENAI_KEY,
    all_text,
    vcrpy_chat,
    with_keys,
    without_keys,
    write_vcrpy_cassette,
)
from tool_server import ToolServer

PROJECT = Path(__file__).parent / "vcr_project"

NODEIDS = [
    "test_anthropic_match.py::test_haiku[autumn]",
    "test_anthropic_match.py::test_haiku[spring]",
    "test_anthropic_match.py::test_stream_anthropic",
    "test_anthropic_match.py::test_summary",
    "test_chat.py::TestConversation::test_turns",
    "test_chat.py::test_ask_capital",
    "test_chat.py::test_stream_story",
    "test_chat.py::test_weather_tool_loop",
    "test_shared.py::test_crm_lookup",
    "test_shared.py::test_greeting",
    "test_shared.py::test_greeting_from_shared",
    "test_shared.py::test_no_vcr_at_all",
]
PROMPT_CHANGED = "test_chat.py::test_ask_capital"
DEFAULT_CHANGED = "test_anthropic_match.py::test_summary"
PROMPT_DIFF = re.compile(r"\$\.messages\[0\]\.content: recorded .*France.*, now .*Italy.*")
DEFAULT_DIFF = "$.max_tokens: recorded 256, now 1024"

# Where pytest-recording writes: <test dir>/cassettes/<module>/<test>.yaml.
CASSETTES = {
    "test_anthropic_match/test_haiku[autumn].yaml": 1,
    "test_anthropic_match/test_haiku[spring].yaml": 1,
    "test_anthropic_match/test_stream_anthropic.yaml": 1,
    "test_anthropic_match/test_summary.yaml": 1,
    "test_chat/TestConversation.test_turns.yaml": 2,
    "test_chat/test_ask_capital.yaml": 1,
    "test_chat/test_stream_story.yaml": 1,
    "test_chat/test_weather_tool_loop.yaml": 3,  # two model calls and the weather tool
    "test_shared/shared.yaml": 1,  # the default_cassette marker's name
    "test_shared/test_crm_lookup.yaml": 1,  # the mocked CRM host is in ignore_hosts
}

# Every inner run: test order as written (a test reads the cassette an earlier one recorded).
ORDERED = ("-p", "no:randomly")

# Nothing listens on the discard port: a request that is not replayed cannot be answered.
DEAD = "http://127.0.0.1:9/v1"


@pytest.fixture
def project(
    pytester: pytest.Pytester,
    inner_env: FakeProvider,
    tool: ToolServer,
) -> pytest.Pytester:
    """The pytest-recording style project, copied into the pytester directory."""
    for source in PROJECT.glob("*.txt"):
        (pytester.path / source.name.removesuffix(".txt")).write_text(source.read_text())
    return pytester


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def _header(result: pytest.RunResult) -> list[str]:
    lines = result.stdout.lines
    end = next(i for i, line in enumerate(lines) if line.startswith("collected"))
    return lines[:end]


def _section(result: pytest.RunResult, title: str) -> str:
    """The lines of a terminal-summary section, from its title to the next unindented line."""
    lines = result.stdout.lines
    start = next((i for i, line in enumerate(lines) if title in line), None)
    assert start is not None, f"no {title!r} section in:\n{result.stdout.str()}"
    end = start + 1
    while end < len(lines) and lines[end].startswith(" "):
        end += 1
    return "\n".join(lines[start:end])


def _per_test(section: str) -> dict[str, str]:
    """The stale section's lines under each test id (ids are the lines indented by two)."""
    blocks: dict[str, str] = {}
    current = None
    for line in section.splitlines()[1:]:
        if re.fullmatch(r"  \S+::\S+", line):
            current = line.strip()
            blocks[current] = ""
        elif current is not None:
            blocks[current] += line.strip() + "\n"
    return blocks


def _failure_sections(result: pytest.RunResult) -> dict[str, str]:
    """Each failed test's report section, by the name pytest prints in its `___ name ___` line."""
    sections: dict[str, str] = {}
    name = None
    for line in result.stdout.lines:
        match = re.fullmatch(r"_{3,} (\S+) _{3,}", line)
        if match:
            name = match.group(1)
            sections[name] = ""
        elif line.startswith("=") and name is not None:
            name = None
        elif name is not None:
            sections[name] += line + "\n"
    return sections


def _load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def _vcrpy_json(response: dict[str, Any]) -> Any:
    """The JSON body of a response as vcrpy stored it: the bytes as sent, maybe gzipped."""
    body = response["body"]["string"]
    if isinstance(body, bytes) and body[:2] == b"\x1f\x8b":
        body = gzip.decompress(body)
    return json.loads(body)


def _hashes(root: Path) -> dict[str, tuple[str, int]]:
    return {
        str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_a_pytest_recording_suite_replays_offline_under_pytest_llm_and_shows_stale_recordings(
    project: pytest.Pytester,
    inner_env: FakeProvider,
    tool: ToolServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Phase 1: pytest-recording records, pytest-llm is loaded too and leaves vcr to it.
    addopts = os.environ.get("PYTEST_ADDOPTS", "")
    monkeypatch.setenv("PYTEST_ADDOPTS", addopts.replace("-p no:recording", ""))
    result = project.runpytest("--record-mode=once", *ORDERED)
    result.assert_outcomes(passed=len(NODEIDS))
    cassettes = project.path / "cassettes"
    found = {str(p.relative_to(cassettes)): p for p in cassettes.rglob("*.yaml")}
    assert sorted(found) == sorted(CASSETTES)
    for name, count in CASSETTES.items():
        cassette = _load(found[name])
        assert cassette["version"] == 1, name  # vcrpy's format, not ours
        assert len(cassette["interactions"]) == count, name
        for interaction in cassette["interactions"]:
            assert {"body", "headers", "method", "uri"} <= set(interaction["request"]), name
            assert interaction["response"]["status"]["code"] == 200, name
            assert "key" not in interaction, name
    assert OPENAI_KEY not in all_text(cassettes) and ANTHROPIC_KEY not in all_text(cassettes)
    recorded = len(inner_env.requests)
    assert recorded == 12  # every model call of the suite was answered live
    said = [line for line in _header(result) if "pytest-recording" in line]
    assert len(said) == 1, _header(result)

    # Phase 2: a prompt edited in one test, a library default moved under another.
    _edit(project.path / "test_chat.py", "capital of France", "capital of Italy")
    _edit(project.path / "llm_app.py", "SUMMARY_MAX_TOKENS = 256", "SUMMARY_MAX_TOKENS = 1024")

    # Phase 3: nothing can answer, no key, pytest-recording not loaded.
    port = int(inner_env.url.rsplit(":", 1)[1])
    inner_env.stop()
    tool.stop()
    without_keys(monkeypatch)
    # The Anthropic module matches on method and path only: its recordings answer whatever
    # host and port the client is pointed at.
    monkeypatch.setenv("FAKE_ANTHROPIC_BASE_URL", DEAD.removesuffix("/v1"))
    offline = ("-p", "no:recording", "--block-network", *ORDERED)
    result = project.runpytest(*offline, "--llm-report=r.json")
    result.assert_outcomes(passed=len(NODEIDS))
    stale = _section(result, "stale recordings")
    blocks = _per_test(stale)
    assert sorted(blocks) == sorted([PROMPT_CHANGED, DEFAULT_CHANGED]), stale
    assert DEFAULT_DIFF in blocks[DEFAULT_CHANGED].splitlines()
    assert any(PROMPT_DIFF.fullmatch(line) for line in blocks[PROMPT_CHANGED].splitlines()), stale
    rerecord = re.search(r"re-record: pytest (.+)$", blocks[PROMPT_CHANGED], re.MULTILINE)
    assert rerecord, stale

    report = json.loads((project.path / "r.json").read_text())
    calls = {test["nodeid"]: test["calls"] for test in report["tests"]}
    vcr_tests = [n for n in NODEIDS if n != "test_shared.py::test_no_vcr_at_all"]
    assert set(vcr_tests) <= set(calls)
    for nodeid in vcr_tests:
        flags = [call["stale"] for call in calls[nodeid]]
        if nodeid in (PROMPT_CHANGED, DEFAULT_CHANGED):
            assert flags == [True], (nodeid, calls[nodeid])
        else:
            assert flags and not any(flags), (nodeid, calls[nodeid])
            assert all(call["stale_diff"] == [] for call in calls[nodeid])
    assert len(calls["test_chat.py::test_weather_tool_loop"]) == 2
    assert not calls.get("test_shared.py::test_no_vcr_at_all")  # it takes no part
    assert DEFAULT_DIFF in calls[DEFAULT_CHANGED][0]["stale_diff"]
    assert any(PROMPT_DIFF.fullmatch(line) for line in calls[PROMPT_CHANGED][0]["stale_diff"])

    # --llm-strict fails exactly the two, and says why.
    result = project.runpytest(*offline, "--llm-strict")
    result.assert_outcomes(passed=len(NODEIDS) - 2, failed=2)
    failed = sorted(re.findall(r"^FAILED (\S+)", result.stdout.str(), re.MULTILINE))
    assert failed == sorted([PROMPT_CHANGED, DEFAULT_CHANGED])
    sections = _failure_sections(result)
    assert DEFAULT_DIFF in sections["test_summary"]
    assert PROMPT_DIFF.search(sections["test_ask_capital"]), sections["test_ask_capital"]

    # Converting on write: one more turn recorded into a vcr cassette by pytest-llm alone.
    turns = project.path / "cassettes" / "test_chat" / "TestConversation.test_turns.yaml"
    before = _load(turns)["interactions"]
    _edit(
        project.path / "test_chat.py",
        '"What is my name?"]',
        '"What is my name?", "Where do I live?"]',
    )
    with_keys(monkeypatch)
    with FakeProvider(port=port) as again:
        result = project.runpytest(
            "-p", "no:recording", "--record-mode=new_episodes", "test_chat.py::TestConversation"
        )
        result.assert_outcomes(passed=1)
        assert [r.body["messages"][-1]["content"] for r in again.requests] == ["Where do I live?"]
        interactions = _load(turns)["interactions"]
        assert [i.get("key") is not None for i in interactions] == [True, True, True]
        assert [i["provider"] for i in interactions] == ["openai"] * 3
        last_turns = [i["request"]["body"]["messages"][-1]["content"] for i in interactions]
        assert last_turns == ["Hi, I am Ada.", "What is my name?", "Where do I live?"]
        answers = [i["response"]["body"]["choices"][0]["message"]["content"] for i in interactions]
        assert answers[:2] == [
            _vcrpy_json(i["response"])["choices"][0]["message"]["content"] for i in before
        ]
        assert OPENAI_KEY not in turns.read_text()

        # rewrite starts a vcr cassette over, in pytest-llm's format.
        again.reset()
        monkeypatch.setenv("FAKE_ANTHROPIC_BASE_URL", again.anthropic_base_url)
        spring = project.path / "cassettes" / "test_anthropic_match" / "test_haiku[spring].yaml"
        result = project.runpytest(
            "-p", "no:recording", "--record-mode=rewrite", "test_anthropic_match.py::test_haiku"
        )
        result.assert_outcomes(passed=2)
        assert len(again.requests) == 2
        rewritten = _load(spring)["interactions"]
        assert [(i["provider"], i.get("key") is not None) for i in rewritten] == [
            ("anthropic", True)
        ]

        # The command the stale section printed re-records the edited prompt.
        again.reset()
        result = project.runpytest("-p", "no:recording", *shlex.split(rerecord[1]))
        result.assert_outcomes(passed=1)
        assert [r.body["messages"][0]["content"] for r in again.requests] == [
            "What is the capital of Italy?"
        ]

    # Offline again: the converted cassettes replay, and only the library default is stale.
    without_keys(monkeypatch)
    result = project.runpytest(*offline, "--llm-strict")
    result.assert_outcomes(passed=len(NODEIDS) - 1, failed=1)
    assert re.findall(r"^FAILED (\S+)", result.stdout.str(), re.MULTILINE) == [DEFAULT_CHANGED]


CONFIG_PROJECT = """
import os

import openai
import pytest


def _yaml_suffix(path):
    return path if path.endswith(".yaml") else path + ".yaml"


@pytest.fixture
def vcr_config():
    return {"filter_headers": ["authorization"], "path_transformer": _yaml_suffix}


def client():
    return openai.OpenAI(base_url=os.environ["APP_BASE_URL"], max_retries=0)


@pytest.mark.vcr
def test_one():
    reply = client().chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "one"}]
    )
    assert reply.choices[0].message.content == "first"


@pytest.mark.vcr
def test_two():
    reply = client().chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "two"}]
    )
    assert reply.choices[0].message.content == "second"


@pytest.mark.vcr
def test_three():
    client().embeddings.create(model="text-embedding-3-small", input="three")
"""


def test_an_unknown_vcr_config_key_is_warned_about_once_and_a_miss_names_method_and_url(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_keys(monkeypatch)
    monkeypatch.setenv("APP_BASE_URL", DEAD)
    pytester.makepyfile(test_app=CONFIG_PROJECT)
    cassettes = pytester.path / "cassettes" / "test_app"
    write_vcrpy_cassette(
        cassettes / "test_one.yaml", vcrpy_chat("one", "first", DEAD + "/chat/completions")
    )
    write_vcrpy_cassette(
        cassettes / "test_two.yaml", vcrpy_chat("two", "second", DEAD + "/chat/completions")
    )
    # test_three's cassette holds a chat call; the test asks for embeddings.
    write_vcrpy_cassette(
        cassettes / "test_three.yaml", vcrpy_chat("x", "y", DEAD + "/chat/completions")
    )
    result = pytester.runpytest("-p", "no:recording", *ORDERED)
    result.assert_outcomes(passed=2, failed=1)
    output = result.stdout.str() + result.stderr.str()
    assert output.count("path_transformer") == 1, output
    assert "'filter_headers'" not in output  # honoured keys are not warned about
    failure = _failure_sections(result)["test_three"]
    assert f"POST {DEAD}/embeddings" in failure, failure


CORPUS_OFFLINE = """
import socket

import pytest


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("no connection may be opened in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
"""

CORPUS_REPLAY = r'''
import gzip
import json
import os
from pathlib import Path

import httpx
import yaml

CORPUS = Path(os.environ["CORPUS_DIR"])


class _Loader(yaml.SafeLoader):
    """Reads the ddapm proxy's cassette, whose header names are tagged multidict.istr."""


_Loader.add_multi_constructor(
    "tag:yaml.org,2002:python/object/apply:",
    lambda loader, suffix, node: loader.construct_sequence(node)[0],
)


def _raw(body):
    if isinstance(body, dict):
        if "parsed_body" in body:
            return json.dumps(body["parsed_body"]).encode()
        body = body.get("string", "")
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode()
    if body[:2] == b"\x1f\x8b":
        return gzip.decompress(body)
    return body


def _request_body(request):
    if "parsed_body" in request:
        return json.dumps(request["parsed_body"]).encode()
    return _raw(request.get("body"))


def _response_body(response):
    if "parsed_body" in response:
        return json.dumps(response["parsed_body"]).encode()
    if "content" in response and "body" not in response:
        return _raw(response["content"])
    return _raw(response.get("body"))


def _status(response):
    status = response.get("status")
    return status["code"] if isinstance(status, dict) else response["status_code"]


def _meaning(data):
    """JSON as data; SSE as its events' names and decoded data, whatever the spacing."""
    text = data.decode()
    try:
        return json.loads(text)
    except ValueError:
        events = []
        for line in text.splitlines():
            field, _, value = line.partition(":")
            if field in ("event", "data"):
                value = value.strip()
                try:
                    value = json.loads(value)
                except ValueError:
                    pass
                events.append((field, value))
        assert events, text[:200]
        return events


def replay_all(name):
    cassette = yaml.load((CORPUS / name).read_text(), Loader=_Loader)
    with httpx.Client() as client:
        for interaction in cassette["interactions"]:
            request, recorded = interaction["request"], interaction["response"]
            answer = client.request(
                request["method"],
                request["uri"],
                content=_request_body(request),
                headers={"content-type": "application/json"},
            )
            assert answer.status_code == _status(recorded), name
            assert _meaning(answer.content) == _meaning(_response_body(recorded)), name
'''


def test_the_corpus_replays_in_place_under_the_vcr_fixture(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_keys(monkeypatch)
    monkeypatch.setenv("CORPUS_DIR", str(CORPUS))
    files = sorted(CORPUS.glob("*/*.yaml"))
    assert len(files) >= 30
    pytester.makeconftest(CORPUS_OFFLINE)
    pytester.makepyfile(corpus_replay=CORPUS_REPLAY)
    folders = sorted({f.parent.name for f in files})
    for folder in folders:
        tests = [
            textwrap.dedent(
                f"""
                @pytest.mark.default_cassette({f.name!r})
                def test_{i}(vcr, llm):
                    assert vcr is None  # not marked vcr: it takes part, as it names vcr
                    replay_all({str(f.relative_to(CORPUS))!r})
                    assert llm.calls and all(call.replayed for call in llm.calls)
                """
            )
            for i, f in enumerate(files)
            if f.parent.name == folder
        ]
        module = textwrap.dedent(
            f"""
            import os

            import pytest

            from corpus_replay import replay_all


            @pytest.fixture(scope="module")
            def vcr_cassette_dir():
                return os.path.join(os.environ["CORPUS_DIR"], {folder!r})
            """
        )
        name = "test_" + re.sub(r"\W", "_", folder)
        pytester.makepyfile(**{name: module + "".join(tests)})
    before = _hashes(CORPUS)
    result = pytester.runpytest("-p", "no:recording", "--record-mode=none")
    assert _hashes(CORPUS) == before
    result.assert_outcomes(passed=len(files))
