"""Read text, tool calls and usage out of decoded Anthropic responses."""

from __future__ import annotations

import json
from typing import Any

from pytest_llm.usage import ToolCall, Usage, as_int


def text(operation: str, response: dict[str, Any]) -> str:
    """The concatenated text blocks of a message."""
    if operation != "messages":
        return ""
    return "".join(
        str(block.get("text", ""))
        for block in response.get("content") or []
        if isinstance(block, dict) and block.get("type") == "text"
    )


def tool_calls(operation: str, response: dict[str, Any]) -> list[ToolCall]:
    """The message's tool_use blocks."""
    if operation != "messages":
        return []
    return [
        ToolCall(
            str(block.get("id", "")),
            str(block.get("name", "")),
            block.get("input"),
            json.dumps(block.get("input"), ensure_ascii=False),
        )
        for block in response.get("content") or []
        if isinstance(block, dict) and block.get("type") == "tool_use"
    ]


def usage(response: dict[str, Any]) -> Usage:
    """Anthropic counts cache reads and writes apart from input_tokens; we fold them in.

    That keeps `input_tokens` meaning "everything the prompt cost" for both providers,
    with cache reads also shown in `cached_tokens`.
    """
    raw = response.get("usage")
    if not isinstance(raw, dict):  # count_tokens: a free call, its count is not spend
        return Usage()
    cached = as_int(raw.get("cache_read_input_tokens"))
    inp = as_int(raw.get("input_tokens")) + cached + as_int(raw.get("cache_creation_input_tokens"))
    out = as_int(raw.get("output_tokens"))
    return Usage(inp, out, inp + out, cached)
