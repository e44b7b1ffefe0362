"""The terminal summary as a new user read it (issue 26, point 7).

Long names were cut from the left and lost their file; the `rec` column left plain HTTP out;
a vcr test with only plain HTTP calls had no row; the total said `(1 tests)`; and the header
named `<rootdir>/cassettes` for a vcr suite whose cassettes sit beside its tests.
"""

from __future__ import annotations

import pytest
from tool_server import ToolServer

from pytest_llm.report.summary import summary_table

HTTP_ONLY = """
import os

import httpx
import pytest


@pytest.mark.vcr
def test_weather():
    reply = httpx.get(os.environ["TOOL_URL"] + "/weather", params={"city": "Oslo"})
    assert reply.status_code == 200
"""


def _record(nodeid: str, replayed: bool = True) -> dict:
    usage = {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15, "cached_tokens": 0}
    call = {"replayed": replayed, "fault": None, "cost_usd": 0.0001, "model": "gpt-4o-mini"}
    call["usage"] = usage
    return {"nodeid": nodeid, "usage": usage, "cost_usd": 0.0001, "calls": [call], "http": []}


def test_a_long_name_keeps_its_file_and_its_test() -> None:
    nodeid = (
        "tests/integration/agents/test_customer_support_agent.py::TestEscalation::"
        "test_escalates_refund_over_limit[gpt-4o]"
    )
    row = summary_table([_record(nodeid)])[1]
    name = row[:36]
    assert name == "test_…nt.py::test_escala…mit[gpt-4o]"
    # Folders, then the class, go before any part of the file or test name.
    row = summary_table([_record("tests/unit/deep/test_app.py::TestX::test_priced")])[1]
    assert row.startswith("…/test_app.py::TestX::test_priced ")
    row = summary_table([_record("tests/unit/test_app.py::TestRefunds::test_priced_refund")])[1]
    assert row.startswith("test_app.py::…::test_priced_refund ")


def test_a_vcr_suite_of_plain_http_is_counted_and_its_cassettes_located(
    pytester: pytest.Pytester, tool: ToolServer
) -> None:
    pytester.makepyfile(**{"tests/test_api": HTTP_ONLY})
    record = pytester.runpytest("-p", "no:recording", "--record-mode=once")
    record.assert_outcomes(passed=1)
    assert (pytester.path / "tests/cassettes/test_api/test_weather.yaml").is_file()
    assert not (pytester.path / "cassettes").exists()
    record.stdout.fnmatch_lines(
        [
            "pytest-llm: record mode none, cassettes in */cassettes",
            "pytest-llm: tests marked vcr: cassettes/<module>/ beside their test file",
            "test                                  repl  rec  tokens in       out  cost live",
            "tests/test_api.py::test_weather          0    1          0         0          -",
            "total (1 test)                           0    1          0         0          -",
            "repl and rec count plain HTTP requests too: 0 replayed, 1 recorded",
            "0 call(s) replayed, 1 recorded, 1 cassette(s) written",
        ]
    )
    tool.stop()
    replay = pytester.runpytest("-p", "no:recording")
    replay.assert_outcomes(passed=1)
    replay.stdout.fnmatch_lines(
        [
            "tests/test_api.py::test_weather          1    0          0         0          -",
            "total (1 test)                           1    0          0         0          -",
            "1 call(s) replayed, 0 recorded, 0 cassette(s) written",
        ]
    )
