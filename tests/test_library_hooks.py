"""The hooks for `requests` and `aiohttp` are installed when the library is imported, not before.

Each inner run is a fresh process (`runpytest_subprocess`), so the libraries that the run
imports are exactly what pytest, the SDKs and pytest-llm import.
"""

from __future__ import annotations

import pytest
from fake_provider import FakeProvider
from kit import inner_file, without_keys
from tool_server import ToolServer

APP = """
import sys


def test_a_model_call_imports_no_http_library_it_does_not_use(llm):
    assert ask("hello")
    assert "requests" not in sys.modules
    assert "yaml" not in sys.modules or PHASE == "record"  # PyYAML writes; replay never needs it


@pytest.mark.llm
def test_requests_imported_in_the_test_is_recorded_and_replayed():
    import requests  # first imported here, after the test's recorder started

    reply = requests.get(os.environ["TOOL_URL"] + "/weather", params={"city": "Oslo"})
    assert reply.json()["city"] == "Oslo"


@pytest.mark.llm
def test_aiohttp_imported_by_the_sdk_is_recorded_and_replayed():
    import asyncio

    import aiohttp  # the openai SDK imported it already: hooked when the recorder started

    async def weather():
        async with aiohttp.ClientSession() as session:
            async with session.get(os.environ["TOOL_URL"] + "/weather?city=Bergen") as reply:
                return await reply.json()

    assert asyncio.run(weather())["city"] == "Bergen"
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """An inner project that calls a model, then a tool through requests and aiohttp."""
    pytester.makeini("[pytest]\nllm_passthrough_hosts =\n")
    inner_file(pytester, 'PHASE = os.environ["PHASE"]\n' + APP)
    return pytester


def test_client_libraries_are_hooked_when_imported_and_never_imported_for_it(
    project: pytest.Pytester,
    inner_env: FakeProvider,
    tool: ToolServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PHASE", "record")
    project.runpytest_subprocess("--llm-record=once").assert_outcomes(passed=3)
    assert len(tool.requests) == 2

    inner_env.stop()
    tool.stop()
    without_keys(monkeypatch)
    monkeypatch.setenv("PHASE", "replay")
    result = project.runpytest_subprocess("--llm-strict")
    result.assert_outcomes(passed=3)
    assert len(tool.requests) == 2  # the replay run sent nothing
