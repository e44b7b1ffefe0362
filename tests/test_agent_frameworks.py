"""Agents built with real frameworks record against the fake provider and replay offline with
their MCP server's command gone: the OpenAI Agents SDK (function tools and an MCP stdio server)
and pydantic-ai (an MCP toolset)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_provider import FakeProvider
from kit import inner_file

OPENAI_AGENTS = """
import asyncio

from agents import Agent, OpenAIResponsesModel, Runner, function_tool, set_tracing_disabled
from agents.mcp import MCPServerStdio
from openai import AsyncOpenAI

import pytest_llm
from pytest_llm import assert_no_tool_call, assert_tool_calls

set_tracing_disabled(True)  # traces would go to the provider's cloud


@function_tool
@pytest_llm.tool
def lookup(city: str) -> str:
    \"\"\"The weather of a city.\"\"\"
    return f"sunny in {city}"


async def run_agent(prompt):
    client = AsyncOpenAI(base_url=os.environ["FAKE_OPENAI_BASE_URL"])
    params = {"command": "calc-mcp", "args": ["--quiet"]}
    async with MCPServerStdio(params=params, cache_tools_list=True) as calc:
        agent = Agent(
            name="calc",
            instructions="Use the tools.",
            tools=[lookup],
            mcp_servers=[calc],
            model=OpenAIResponsesModel(model="gpt-4o-mini", openai_client=client),
        )
        result = await Runner.run(agent, prompt)
    return result.final_output


@pytest.mark.llm_budget(max_steps=5, max_tool_calls=2)
def test_agent(llm):
    answer = asyncio.run(run_agent("agent: add(a=2, b=3) lookup(city=Oslo)"))
    assert "done after 2 tool call(s)" in answer
    assert_tool_calls(llm, [("add", {"a": 2, "b": 3}), "lookup"], order="exact")
    assert_no_tool_call(llm, "shout")
    assert [(s.kind, s.name, s.via) for s in llm.steps] == [
        ("model", "gpt-4o-mini", "openai"),
        ("tool", "add", "mcp"),
        ("model", "gpt-4o-mini", "openai"),
        ("tool", "lookup", "function"),
        ("model", "gpt-4o-mini", "openai"),
    ]
    assert llm.steps[3].output == "sunny in Oslo"
"""

PYDANTIC_AI = """
from fastmcp.client.transports import StdioTransport
from pydantic_ai import Agent
from pydantic_ai.mcp import MCPToolset
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

from pytest_llm import assert_tool_calls


async def run_agent(prompt):
    provider = OpenAIProvider(base_url=os.environ["FAKE_OPENAI_BASE_URL"], api_key="sk-fake")
    model = OpenAIChatModel("gpt-4o-mini", provider=provider)
    toolset = MCPToolset(StdioTransport(command="calc-mcp", args=["--quiet"]))
    agent = Agent(model, toolsets=[toolset])
    async with agent:
        result = await agent.run(prompt)
    return result.output


@pytest.mark.anyio
async def test_agent(llm):
    answer = await run_agent("agent: add(a=2, b=3) shout(text=hi)")
    assert "done after 2 tool call(s)" in answer
    assert_tool_calls(llm, ["add", ("shout", {"text": "hi"})], order="exact")
    assert [(s.kind, s.via) for s in llm.steps] == [
        ("model", "openai"), ("tool", "mcp"), ("model", "openai"), ("tool", "mcp"),
        ("model", "openai"),
    ]
    assert llm.steps[3].output["structuredContent"] == {"result": "HI"}


@pytest.fixture
def anyio_backend():
    return "asyncio"
"""


@pytest.mark.parametrize(
    "agent", [OPENAI_AGENTS, PYDANTIC_AI], ids=["openai-agents", "pydantic-ai"]
)
def test_an_agent_framework_run_replays_offline_with_its_mcp_server_gone(
    pytester: pytest.Pytester, inner_env: FakeProvider, calc_on_path: Path, agent: str
) -> None:
    inner_file(pytester, agent)
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    (calc_on_path / "calc-mcp").unlink()
    inner_env.stop()
    result = pytester.runpytest("--llm-block-network", "--llm-strict")
    result.assert_outcomes(passed=1)
