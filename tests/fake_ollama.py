"""Ollama's native `/api/chat` for the fake provider (stdlib only): NDJSON streams."""

from __future__ import annotations

import re
from typing import Any

JSON = dict[str, Any]


def _last_user(body: JSON) -> str:
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "user":
            return str(message.get("content", ""))
    return ""


def chat(body: JSON) -> tuple[JSON | None, list[JSON]]:
    """The answer, or the stream's lines (Ollama streams unless `stream` is false)."""
    model = str(body.get("model", ""))
    last = _last_user(body)
    prompt = sum(len(str(m.get("content", "")).split()) + 3 for m in body.get("messages") or [])
    message: JSON = {"role": "assistant", "content": f"[{model}] reply to: {last}"}
    tools = body.get("tools") or []
    if tools and "weather" in last.lower():
        city = re.search(r"weather in (\w+)", last, re.IGNORECASE)
        name = tools[0]["function"]["name"]
        args = {"city": city.group(1) if city else "Paris"}
        message = {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {"name": name, "arguments": args}}],
        }
    out = len(str(message["content"]).split()) or 4
    done = {
        "done": True,
        "done_reason": "stop",
        "total_duration": 1000,
        "prompt_eval_count": prompt,
        "eval_count": out,
    }
    head = {"model": model, "created_at": "2026-12-07T08:00:00Z"}
    if body.get("stream") is False:
        return {**head, "message": message, **done}, []
    pieces = [p for p in re.split(r"(?= )", str(message["content"])) if p] or [""]
    lines = [
        {**head, "message": {"role": "assistant", "content": p}, "done": False} for p in pieces
    ]
    if "tool_calls" in message:
        lines = [{**head, "message": message, "done": False}]
    lines.append({**head, "message": {"role": "assistant", "content": ""}, **done})
    return None, lines
