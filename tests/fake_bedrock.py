"""Bedrock runtime's wire format for the fake provider (stdlib only).

`converse` and `converse-stream` in Bedrock's own format; `invoke` and its stream carry the
Anthropic Messages answers the fake already builds, a stream's events as eventstream `chunk`
frames of base64 JSON, as Bedrock sends them. `flaky-429` in the model id is throttled once.
"""

from __future__ import annotations

import base64
import json
import re
import struct
import zlib
from typing import Any
from urllib.parse import unquote

JSON = dict[str, Any]
_PATH = re.compile(r"/model/([^/]+)/(invoke|invoke-with-response-stream|converse|converse-stream)$")
CONTENT_TYPE = "application/vnd.amazon.eventstream"


def route(path: str) -> tuple[str, str] | None:
    """(model id, operation) of a Bedrock runtime path, or None."""
    match = _PATH.search(path.split("?", 1)[0])
    return (unquote(match.group(1)), match.group(2)) if match else None


def frame(event: str, payload: JSON) -> bytes:
    """One eventstream frame with string headers and both CRCs."""
    headers = b""
    for name, value in (
        (":event-type", event),
        (":content-type", "application/json"),
        (":message-type", "event"),
    ):
        headers += bytes([len(name)]) + name.encode() + b"\x07"
        headers += struct.pack(">H", len(value)) + value.encode()
    body = json.dumps(payload).encode()
    prelude = struct.pack(">II", 12 + len(headers) + len(body) + 4, len(headers))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    message = prelude + headers + body
    return message + struct.pack(">I", zlib.crc32(message))


def chunk_frames(events: list[JSON]) -> list[bytes]:
    """Anthropic stream events as `invoke-with-response-stream` chunks."""
    return [
        frame("chunk", {"bytes": base64.b64encode(json.dumps(e).encode()).decode(), "p": "abc"})
        for e in events
    ]


def throttled() -> JSON:
    return {"message": "Too many requests, please wait before trying again."}


def _last_user_text(body: JSON) -> str:
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "user":
            return " ".join(str(b.get("text", "")) for b in message.get("content") or [])
    return ""


def converse(model: str, body: JSON, stream: bool) -> tuple[JSON | None, list[bytes]]:
    """A converse answer, or its stream's frames."""
    last = _last_user_text(body)
    tools = ((body.get("toolConfig") or {}).get("tools")) or []
    usage = {"inputTokens": len(last.split()) + 3, "outputTokens": 0, "totalTokens": 0}
    if tools and "weather" in last.lower():
        city = re.search(r"weather in (\w+)", last, re.IGNORECASE)
        name = tools[0]["toolSpec"]["name"]
        args = {"city": city.group(1) if city else "Paris"}
        block: JSON = {"toolUse": {"toolUseId": "tooluse_1", "name": name, "input": args}}
        stop = "tool_use"
    else:
        block = {"text": f"[{model}] reply to: {last}"}
        stop = "end_turn"
    usage["outputTokens"] = len(json.dumps(block).split())
    usage["totalTokens"] = usage["inputTokens"] + usage["outputTokens"]
    if not stream:
        message = {"role": "assistant", "content": [block]}
        return {
            "output": {"message": message},
            "stopReason": stop,
            "usage": usage,
            "metrics": {"latencyMs": 12},
        }, []
    frames = [frame("messageStart", {"role": "assistant", "p": "ab"})]
    if "text" in block:
        pieces = [p for p in re.split(r"(?= )", block["text"]) if p]
        frames += [
            frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": p}})
            for p in pieces
        ]
    else:
        tool = block["toolUse"]
        start = {"toolUse": {"toolUseId": tool["toolUseId"], "name": tool["name"]}}
        frames.append(frame("contentBlockStart", {"contentBlockIndex": 0, "start": start}))
        raw = json.dumps(tool["input"])
        for part in (raw[: len(raw) // 2], raw[len(raw) // 2 :]):
            delta = {"toolUse": {"input": part}}
            frames.append(frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": delta}))
    frames.append(frame("contentBlockStop", {"contentBlockIndex": 0}))
    frames.append(frame("messageStop", {"stopReason": stop}))
    frames.append(frame("metadata", {"usage": usage, "metrics": {"latencyMs": 12}}))
    return None, frames
