"""The trajectory of an agent run: model steps, tool steps, and the tool calls the model asked for.

These are value types only; `calls.LLM` builds them from what the test's recorder kept, in the
order it happened.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MODEL = "model"
TOOL = "tool"


@dataclass(frozen=True)
class Step:
    """One step of a test's trajectory: a model call or a tool call, in the order they ran.

    `kind` is "model" or "tool"; `name` the requested model or the tool's name; `via` the
    provider of a model step, or "mcp", "function" or "http" for a tool step.
    """

    kind: str
    name: str
    via: str
    input: Any = field(repr=False)
    output: Any = field(repr=False)
    replayed: bool

    def __str__(self) -> str:
        return f"{self.kind} {self.name} via {self.via}"


@dataclass(frozen=True)
class RequestedToolCall:
    """A tool call the model asked for: its name, decoded arguments and the index of the call
    in `llm.calls` whose answer asked it (None arguments: the model wrote invalid JSON)."""

    name: str
    arguments: Any
    call: int
    id: str = ""

    def __str__(self) -> str:
        return f"{self.name}({describe_arguments(self.arguments)})"


@dataclass(eq=False)
class ToolUse:
    """A tool that the test ran through pytest-llm (an MCP request or a `pytest_llm.tool`
    function), live or replayed: `interaction` is its cassette entry."""

    interaction: dict[str, Any] = field(repr=False)
    replayed: bool

    @property
    def via(self) -> str:
        """ "mcp" or "function"."""
        return str(self.interaction.get("provider", ""))

    @property
    def name(self) -> str:
        """The tool's name (an MCP request other than tools/call is named by its method)."""
        return str(self.interaction.get("tool") or self.interaction["request"].get("path", ""))

    @property
    def input(self) -> Any:
        """The decoded arguments (an MCP request other than tools/call: its params)."""
        body = self.interaction["request"].get("body")
        if self.via == "mcp" and self.is_tool_call and isinstance(body, dict):
            return body.get("arguments") or {}
        return body

    @property
    def output(self) -> Any:
        """The decoded result (MCP: the result, or the error the server answered)."""
        response = self.interaction["response"]
        return response["error"] if "error" in response else response.get("body")

    def step(self) -> Step:
        """This use as a tool step of the trajectory."""
        return Step(TOOL, self.name, self.via, self.input, self.output, self.replayed)

    @property
    def is_tool_call(self) -> bool:
        """Whether this is a call of a tool (not an MCP handshake, listing or notification)."""
        return self.via != "mcp" or self.interaction["request"].get("path") == "tools/call"

    def __repr__(self) -> str:
        how = "replayed" if self.replayed else "recorded"
        return f"<ToolUse {self.via} {self.name} {how}>"


def describe_arguments(arguments: Any, width: int = 80) -> str:
    """Arguments as a reader scans them in a failure: `city='Paris', days=3`, cut at `width`."""
    if isinstance(arguments, dict):
        text = ", ".join(f"{k}={v!r}" for k, v in arguments.items())
    elif arguments is None:
        text = "<invalid JSON>"
    else:
        text = repr(arguments)
    return text if len(text) <= width else text[: width - 3] + "..."
