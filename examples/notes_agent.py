"""A notes assistant: an OpenAI tool loop over the team's notes MCP server and one local tool.

The model sees the MCP server's tools (listed at the start of each session) and `today`, a
local Python function. It asks for tools until it can answer; each result goes back to it.
"""

from __future__ import annotations

import datetime
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

MODEL = "gpt-4o-mini"
MAX_TURNS = 6
NOTES_SERVER = StdioServerParameters(
    command=sys.executable, args=[str(Path(__file__).with_name("notes_server.py"))]
)
SYSTEM = "You answer questions about the team's notes. Use the tools; never delete notes."


def today() -> str:
    """Today's date (ISO): the answer changes every day, which a test cannot live with."""
    return datetime.date.today().isoformat()


# Local tools by name: a test may wrap them (see test_notes_agent.py).
LOCAL_TOOLS: dict[str, Callable[..., Any]] = {"today": today}
LOCAL_SPECS = [
    {
        "type": "function",
        "function": {
            "name": "today",
            "description": "Today's date",
            "parameters": {"type": "object", "properties": {}},
        },
    }
]


def _spec(tool: Any) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description or "",
            "parameters": tool.input_schema,
        },
    }


async def ask(client: openai.AsyncOpenAI, question: str) -> str:
    """The assistant's answer to `question`, after as many tool calls as it needs."""
    async with stdio_client(NOTES_SERVER) as (read, write), ClientSession(read, write) as notes:
        await notes.initialize()
        listed = await notes.list_tools()
        tools = [_spec(tool) for tool in listed.tools] + LOCAL_SPECS
        messages: list[Any] = [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": question},
        ]
        for _ in range(MAX_TURNS):
            reply = await client.chat.completions.create(
                model=MODEL, messages=messages, tools=tools
            )
            message = reply.choices[0].message
            if not message.tool_calls:
                return message.content or ""
            messages.append(message.model_dump(exclude_none=True))
            for call in message.tool_calls:
                name = call.function.name
                arguments = json.loads(call.function.arguments or "{}")
                if name in LOCAL_TOOLS:
                    result = json.dumps(LOCAL_TOOLS[name](**arguments))
                else:
                    answer = await notes.call_tool(name, arguments)
                    result = "\n".join(getattr(c, "text", "") for c in answer.content)
                messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
    return "I could not finish in time."
