"""Read text, tool calls and usage out of decoded OpenAI responses."""

from __future__ import annotations

import json
from typing import Any

from pytest_llm.usage import ToolCall, Usage, as_int


def text(operation: str, response: dict[str, Any]) -> str:
    """The assistant's text: first choice for chat, all output_text parts for Responses."""
    if operation == "chat.completions":
        choices = response.get("choices") or []
        message = choices[0].get("message") or {} if choices else {}
        content = message.get("content")
        if isinstance(content, list):  # some compatible servers send content parts
            return "".join(p.get("text", "") for p in content if isinstance(p, dict))
        return content if isinstance(content, str) else ""
    if operation == "responses":
        parts: list[str] = []
        for item in response.get("output") or []:
            if isinstance(item, dict) and item.get("type") == "message":
                for part in item.get("content") or []:
                    if isinstance(part, dict) and part.get("type") == "output_text":
                        parts.append(str(part.get("text", "")))
        return "".join(parts)
    if operation == "completions":
        choices = response.get("choices") or []
        return str(choices[0].get("text", "")) if choices else ""
    return ""


def _tool_call(call_id: Any, name: Any, raw: Any) -> ToolCall:
    raw_text = raw if isinstance(raw, str) else json.dumps(raw)
    try:
        decoded = json.loads(raw_text)
    except ValueError:
        decoded = None
    return ToolCall(str(call_id or ""), str(name or ""), decoded, raw_text)


def tool_calls(operation: str, response: dict[str, Any]) -> list[ToolCall]:
    """Function tool calls of the first choice (chat) or of the output items (Responses)."""
    calls: list[ToolCall] = []
    if operation == "chat.completions":
        choices = response.get("choices") or []
        message = choices[0].get("message") or {} if choices else {}
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            calls.append(
                _tool_call(call.get("id"), function.get("name"), function.get("arguments"))
            )
    elif operation == "responses":
        for item in response.get("output") or []:
            if isinstance(item, dict) and item.get("type") == "function_call":
                calls.append(
                    _tool_call(item.get("call_id"), item.get("name"), item.get("arguments"))
                )
    return calls


def usage(response: dict[str, Any]) -> Usage:
    """Chat and embeddings report prompt/completion tokens; Responses input/output tokens."""
    raw = response.get("usage")
    if not isinstance(raw, dict):
        return Usage()
    if "input_tokens" in raw:
        details = raw.get("input_tokens_details") or {}
        inp, out = as_int(raw.get("input_tokens")), as_int(raw.get("output_tokens"))
    else:
        details = raw.get("prompt_tokens_details") or {}
        inp, out = as_int(raw.get("prompt_tokens")), as_int(raw.get("completion_tokens"))
    total = as_int(raw.get("total_tokens")) or inp + out
    return Usage(inp, out, total, as_int(details.get("cached_tokens")))
