"""What a run keeps and imports: nothing it no longer needs, nothing the suite does not use.

A cassette stays in memory while a test that uses it is still to run, and is let go after
the last one (kept, every cassette read stays to the end of the run, where the garbage
collector walks it again and again). The `vcr` fixture imports vcrpy (which imports every
HTTP library it can patch) only for a test that reads its requests; an async test has it
imported before its event loop runs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from fake_provider import FakeProvider
from kit import CHAT, inner_file, vcrpy_chat, with_keys, without_keys, write_vcrpy_cassette

TESTS = Path(__file__).parent

LIVE_CONFTEST = """
import gc
import json
import os
from pathlib import Path

from pytest_llm.cassettes.cassette import Cassette

LIVE = []


def pytest_runtest_logfinish(nodeid, location):
    # After the plugin's teardown: which cassettes of this project are still reachable
    # (what earlier runs in this process left to the collector is collected first).
    gc.collect()
    here = os.getcwd()
    names = sorted(
        o.path.stem
        for o in gc.get_objects()
        if isinstance(o, Cassette) and str(o.path).startswith(here)
    )
    LIVE.append([nodeid.split("::")[-1], names])


def pytest_sessionfinish(session):
    Path(os.environ["LIVE_FILE"]).write_text(json.dumps(LIVE))
"""

LIVE_TESTS = """
@pytest.mark.llm
def test_a():
    assert ask("a").startswith("[gpt-4o-mini] reply to: a")


@pytest.mark.llm(cassette="shared")
def test_s1():
    assert ask("s1").startswith("[gpt-4o-mini] reply to: s1")


@pytest.mark.llm
def test_b():
    assert ask("b").startswith("[gpt-4o-mini] reply to: b")


@pytest.mark.llm(cassette="shared")
def test_s2():
    assert ask("s2").startswith("[gpt-4o-mini] reply to: s2")
"""


def test_a_cassette_is_let_go_after_the_last_test_that_uses_it(
    pytester: pytest.Pytester, inner_env: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeconftest(LIVE_CONFTEST)
    inner_file(pytester, LIVE_TESTS)
    live = pytester.path / "live.json"
    monkeypatch.setenv("LIVE_FILE", str(live))
    pytester.runpytest("--llm-record=once", "-p", "no:randomly").assert_outcomes(passed=4)
    inner_env.stop()
    without_keys(monkeypatch)
    result = pytester.runpytest("--llm-block-network", "-p", "no:randomly")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["4 call(s) replayed, 0 recorded, 0 cassette(s) written"])
    # The shared cassette stays between its two tests (it is read once), then goes.
    assert json.loads(live.read_text()) == [
        ["test_a", []],
        ["test_s1", ["shared"]],
        ["test_b", ["shared"]],
        ["test_s2", []],
    ]


VCR_CONFTEST = """
import json
import os
import sys
from pathlib import Path


def pytest_sessionfinish(session):
    imported = {name: name in sys.modules for name in ("vcr", "yaml")}
    Path(os.environ["IMPORTED_FILE"]).write_text(json.dumps(imported))
"""

VCR_TESTS = (
    """
import openai
import pytest
"""
    + CHAT
    + """

@pytest.mark.vcr
def test_counts(vcr):
    assert chat("Name a river") == "Nile"
    assert vcr.play_count == 1 and vcr.all_played
    assert vcr.record_mode == "none" and vcr.write_protected


@pytest.mark.vcr
def test_reads_requests(vcr):
    assert chat("Name a lake") == "Baikal"
    assert b"Name a lake" in vcr.requests[0].body
"""
)


def _vcr_project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = pytester.path / "cassettes" / "test_app"
    write_vcrpy_cassette(folder / "test_counts.yaml", vcrpy_chat("Name a river", "Nile"))
    write_vcrpy_cassette(folder / "test_reads_requests.yaml", vcrpy_chat("Name a lake", "Baikal"))
    without_keys(monkeypatch)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-placeholder")
    imported = pytester.path / "imported.json"
    monkeypatch.setenv("IMPORTED_FILE", str(imported))
    return imported


def test_a_vcr_test_that_reads_no_request_never_imports_vcrpy_nor_pyyaml(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeconftest(VCR_CONFTEST)
    pytester.makepyfile(test_app=VCR_TESTS)
    imported = _vcr_project(pytester, monkeypatch)
    # A process of its own: this one imported vcrpy long ago.
    run = ("-p", "no:recording", "--record-mode=none", "--llm-block-network")
    pytester.runpytest_subprocess(*run, "-k", "counts").assert_outcomes(passed=1)
    # yaml-rs read the vcrpy cassette: PyYAML, which vcrpy writes with, was not needed.
    assert json.loads(imported.read_text()) == {"vcr": False, "yaml": False}
    pytester.runpytest_subprocess(*run).assert_outcomes(passed=2)
    assert json.loads(imported.read_text())["vcr"] is True


ASYNC_CONFTEST = """
import loop_guard
import pytest


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(autouse=True)
def _nothing_blocks_the_loop():
    loop_guard.violations.clear()
    loop_guard.active = True
    try:
        yield
    finally:
        loop_guard.active = False
    assert not loop_guard.violations, loop_guard.violations
"""

ASYNC_TESTS = """
import openai
import pytest


@pytest.mark.anyio
@pytest.mark.vcr
async def test_reads_requests(vcr):
    oa = openai.AsyncOpenAI(base_url="https://api.openai.com/v1")
    reply = await oa.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Name a lake"}]
    )
    assert reply.choices[0].message.content == "Baikal"
    request = vcr.requests[0]
    assert b"Name a lake" in request.body
    assert request not in vcr  # played already
"""


def test_an_async_vcr_test_reads_its_requests_without_importing_on_its_loop(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeconftest(ASYNC_CONFTEST)
    pytester.makepyfile(test_app=ASYNC_TESTS)
    folder = pytester.path / "cassettes" / "test_app"
    write_vcrpy_cassette(folder / "test_reads_requests.yaml", vcrpy_chat("Name a lake", "Baikal"))
    with_keys(monkeypatch)
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])
    )
    result = pytester.runpytest_subprocess("-p", "no:recording", "--record-mode=none")
    result.assert_outcomes(passed=1)
