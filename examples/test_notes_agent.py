"""The notes assistant's trajectory: which tools it used, in what order, and what it never did.

Its MCP server and its `today` tool are replayed from the cassette too: the test runs with no
server process, no network and the same date every day.
"""

from __future__ import annotations

import asyncio
import re

import notes_agent
import pytest

import pytest_llm
from pytest_llm import ANY, assert_no_tool_call, assert_tool_calls


@pytest.fixture
def recorded_today(monkeypatch):
    """`today` recorded and replayed by pytest-llm instead of read from the clock."""
    monkeypatch.setitem(notes_agent.LOCAL_TOOLS, "today", pytest_llm.tool(notes_agent.today))


@pytest.mark.llm_budget(max_steps=9, max_tool_calls=3)
def test_the_assistant_finds_the_release_note(llm, async_openai_client, recorded_today):
    answer = asyncio.run(notes_agent.ask(async_openai_client, "When does the release ship?"))

    assert "Thursday" in answer
    assert_tool_calls(
        llm,
        [("search_notes", {"query": re.compile("release", re.I)}), ("read_note", {"note_id": 2})],
    )
    assert_tool_calls(llm, ["today", ("search_notes", {"query": ANY})], order="any_order")
    assert_no_tool_call(llm, "delete_note")
    # The trajectory: model, MCP tool, model, MCP tool, model, local tool, model.
    assert [(s.kind, s.via) for s in llm.steps] == [
        ("model", "openai"),
        ("tool", "mcp"),
        ("model", "openai"),
        ("tool", "mcp"),
        ("model", "openai"),
        ("tool", "function"),
        ("model", "openai"),
    ]
    assert llm.steps[3].output["structuredContent"]["result"].startswith("Release 2.4")
