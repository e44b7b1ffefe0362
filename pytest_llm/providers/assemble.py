"""Fold a recorded stream of SSE events into the response the non-streaming API would return."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "assemble_anthropic_messages",
    "assemble_openai_chat",
    "assemble_openai_responses",
]

Event = Mapping[str, Any]


def _payloads(events: Iterable[Event]) -> list[dict[str, Any]]:
    # Raw-string data (`[DONE]`, keep-alives) carries no state for any of the assemblers.
    return [event["data"] for event in events if isinstance(event.get("data"), dict)]


# --- OpenAI chat completions -------------------------------------------------------------


def _merge_tool_call_deltas(calls: dict[int, dict[str, Any]], deltas: list[Any]) -> None:
    for delta in deltas:
        if not isinstance(delta, dict):
            continue
        index = delta.get("index", len(calls))
        call = calls.setdefault(index, {})
        for key, value in delta.items():
            if key == "index" or value is None:
                continue
            if key == "function" and isinstance(value, dict):
                function = call.setdefault("function", {})
                for fkey, fvalue in value.items():
                    if fvalue is None:
                        continue
                    previous = function.get(fkey)
                    if fkey == "arguments" and isinstance(previous, str):
                        function[fkey] = previous + fvalue
                    else:
                        function[fkey] = fvalue
            else:
                call[key] = copy.deepcopy(value)


def _merge_message_delta(message: dict[str, Any], delta: Mapping[str, Any]) -> None:
    for key, value in delta.items():
        if key == "tool_calls" or value is None:
            continue
        previous = message.get(key)
        if key == "role":
            message[key] = value
        elif isinstance(previous, str) and isinstance(value, str):
            message[key] = previous + value
        elif isinstance(previous, list) and isinstance(value, list):
            previous.extend(copy.deepcopy(value))
        elif isinstance(previous, dict) and isinstance(value, dict):
            # `audio` and the legacy `function_call` stream their string fields piecewise.
            for sub_key, sub_value in value.items():
                old = previous.get(sub_key)
                if isinstance(old, str) and isinstance(sub_value, str) and sub_key != "id":
                    previous[sub_key] = old + sub_value
                elif sub_value is not None:
                    previous[sub_key] = copy.deepcopy(sub_value)
        else:
            message[key] = copy.deepcopy(value)


def _merge_logprobs(choice: dict[str, Any], logprobs: Mapping[str, Any]) -> None:
    current = choice.get("logprobs")
    if not isinstance(current, dict):
        choice["logprobs"] = copy.deepcopy(dict(logprobs))
        return
    for key in ("content", "refusal"):
        items = logprobs.get(key)
        if items:
            existing = current.get(key)
            if not isinstance(existing, list):
                existing = current[key] = []
            existing.extend(copy.deepcopy(items))


def assemble_openai_chat(events: Iterable[Event]) -> dict[str, Any]:
    """Merge `chat.completion.chunk` events into a `chat.completion` object."""
    result: dict[str, Any] = {}
    messages: dict[int, dict[str, Any]] = {}
    tool_calls: dict[int, dict[int, dict[str, Any]]] = {}
    choices: dict[int, dict[str, Any]] = {}
    usage: Any = None
    error: Any = None
    for chunk in _payloads(events):
        if "error" in chunk and "choices" not in chunk:
            error = copy.deepcopy(chunk["error"])
            continue
        # Azure interleaves content-filter records (`object: ""`) that are not chunks.
        if chunk.get("object", "chat.completion.chunk") != "chat.completion.chunk":
            continue
        for key in ("id", "created", "model"):
            if key in chunk and key not in result:
                result[key] = copy.deepcopy(chunk[key])
        for key in ("service_tier", "system_fingerprint"):
            if key in chunk:
                result[key] = copy.deepcopy(chunk[key])
        if chunk.get("usage") is not None:
            usage = copy.deepcopy(chunk["usage"])
        for delta_choice in chunk.get("choices") or []:
            index = delta_choice.get("index", 0)
            choice = choices.setdefault(index, {"index": index})
            message = messages.setdefault(index, {"role": "assistant", "content": None})
            delta = delta_choice.get("delta") or {}
            _merge_message_delta(message, delta)
            if delta.get("tool_calls"):
                _merge_tool_call_deltas(tool_calls.setdefault(index, {}), delta["tool_calls"])
            if "logprobs" in delta_choice:
                if delta_choice["logprobs"] is not None:
                    _merge_logprobs(choice, delta_choice["logprobs"])
                else:
                    choice.setdefault("logprobs", None)
            if delta_choice.get("finish_reason") is not None or "finish_reason" not in choice:
                choice["finish_reason"] = delta_choice.get("finish_reason")

    assembled_choices: list[dict[str, Any]] = []
    for index in sorted(choices):
        message = messages[index]
        message.setdefault("refusal", None)
        if index in tool_calls:
            message["tool_calls"] = [tool_calls[index][i] for i in sorted(tool_calls[index])]
        choice = choices[index]
        out: dict[str, Any] = {"index": index, "message": message}
        if "logprobs" in choice:
            out["logprobs"] = choice["logprobs"]
        out["finish_reason"] = choice.get("finish_reason")
        assembled_choices.append(out)

    assembled: dict[str, Any] = {
        "id": result.get("id"),
        "object": "chat.completion",
        "created": result.get("created"),
        "model": result.get("model"),
        "choices": assembled_choices,
        "usage": usage,
    }
    for key in ("service_tier", "system_fingerprint"):
        if key in result:
            assembled[key] = result[key]
    if error is not None:
        assembled["error"] = error
    return assembled


# --- OpenAI Responses ----------------------------------------------------------------------

_FINAL_RESPONSE_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})
_SNAPSHOT_EVENTS = frozenset({"response.created", "response.queued", "response.in_progress"})


def _content_part(item: dict[str, Any], index: Any) -> dict[str, Any] | None:
    content = item.get("content")
    if not isinstance(content, list) or not isinstance(index, int):
        return None
    while len(content) <= index:
        content.append({"type": "output_text", "text": "", "annotations": []})
    part = content[index]
    return part if isinstance(part, dict) else None


def _append_text(target: dict[str, Any] | None, key: str, delta: Any) -> None:
    if target is not None and isinstance(delta, str):
        previous = target.get(key)
        target[key] = (previous if isinstance(previous, str) else "") + delta


def assemble_openai_responses(events: Iterable[Event]) -> dict[str, Any]:
    """The final `response` object of a Responses API stream, rebuilt if the stream was cut."""
    payloads = _payloads(events)
    for payload in reversed(payloads):
        if payload.get("type") in _FINAL_RESPONSE_EVENTS and isinstance(
            payload.get("response"), dict
        ):
            return copy.deepcopy(payload["response"])

    # No terminal event: replay the deltas the way the SDK builds its running snapshot.
    response: dict[str, Any] = {}
    items: dict[int, dict[str, Any]] = {}
    for payload in payloads:
        kind = payload.get("type")
        index = payload.get("output_index")
        item = items.get(index) if isinstance(index, int) else None
        if kind in _SNAPSHOT_EVENTS and isinstance(payload.get("response"), dict):
            response = copy.deepcopy(payload["response"])
            for position, known in enumerate(response.get("output") or []):
                if isinstance(known, dict):
                    items.setdefault(position, known)
        elif kind in ("response.output_item.added", "response.output_item.done"):
            if isinstance(index, int) and isinstance(payload.get("item"), dict):
                items[index] = copy.deepcopy(payload["item"])
        elif kind in ("response.content_part.added", "response.content_part.done"):
            if item is not None and isinstance(payload.get("part"), dict):
                content = item.setdefault("content", [])
                part_index = payload.get("content_index", len(content))
                if _content_part(item, part_index) is not None:
                    content[part_index] = copy.deepcopy(payload["part"])
        elif kind == "response.output_text.delta" and item is not None:
            part = _content_part(item, payload.get("content_index"))
            _append_text(part, "text", payload.get("delta"))
        elif kind == "response.refusal.delta" and item is not None:
            part = _content_part(item, payload.get("content_index"))
            if part is not None and part.get("type") != "refusal":
                part.update({"type": "refusal", "refusal": ""})
                part.pop("text", None)
                part.pop("annotations", None)
            _append_text(part, "refusal", payload.get("delta"))
        elif kind == "response.function_call_arguments.delta" and item is not None:
            _append_text(item, "arguments", payload.get("delta"))
        elif kind == "response.function_call_arguments.done" and item is not None:
            if isinstance(payload.get("arguments"), str):
                item["arguments"] = payload["arguments"]
        elif kind == "response.output_text.done" and item is not None:
            part = _content_part(item, payload.get("content_index"))
            if part is not None and isinstance(payload.get("text"), str):
                part["text"] = payload["text"]
        elif kind == "error":
            nested = payload.get("error")
            response["error"] = (
                copy.deepcopy(nested)
                if isinstance(nested, dict)
                else {key: payload[key] for key in ("code", "message", "param") if key in payload}
            )
    response["output"] = [items[i] for i in sorted(items)]
    return response


# --- Anthropic messages --------------------------------------------------------------------


def _finish_tool_input(block: dict[str, Any], buffer: str) -> None:
    if not buffer.strip():
        block.setdefault("input", {})
        return
    try:
        block["input"] = json.loads(buffer)
    except ValueError:
        # Invalid JSON from the model is worth seeing as-is rather than silently becoming `{}`.
        block["input"] = buffer


def assemble_anthropic_messages(events: Iterable[Event]) -> dict[str, Any]:
    """Apply Messages stream events to `message_start.message`, as the SDK's `MessageStream`."""
    message: dict[str, Any] = {}
    blocks: dict[int, dict[str, Any]] = {}
    json_buffers: dict[int, str] = {}
    error: Any = None
    for payload in _payloads(events):
        kind = payload.get("type")
        index = payload.get("index")
        block = blocks.get(index) if isinstance(index, int) else None
        if kind == "message_start" and isinstance(payload.get("message"), dict):
            message = copy.deepcopy(payload["message"])
            content = message.get("content")
            blocks = dict(enumerate(copy.deepcopy(content))) if isinstance(content, list) else {}
            json_buffers = {}
        elif kind == "content_block_start" and isinstance(index, int):
            blocks[index] = copy.deepcopy(payload.get("content_block") or {})
        elif kind == "content_block_delta" and block is not None and isinstance(index, int):
            delta = payload.get("delta") or {}
            delta_type = delta.get("type")
            if delta_type == "text_delta":
                _append_text(block, "text", delta.get("text"))
            elif delta_type == "input_json_delta":
                json_buffers[index] = json_buffers.get(index, "") + (
                    delta.get("partial_json") or ""
                )
            elif delta_type == "thinking_delta":
                _append_text(block, "thinking", delta.get("thinking"))
            elif delta_type == "signature_delta":
                block["signature"] = delta.get("signature")
            elif delta_type == "citations_delta":
                citations = block.get("citations")
                if not isinstance(citations, list):
                    citations = block["citations"] = []
                citations.append(copy.deepcopy(delta.get("citation")))
        elif kind == "content_block_stop" and block is not None and isinstance(index, int):
            if index in json_buffers:
                _finish_tool_input(block, json_buffers.pop(index))
        elif kind == "message_delta":
            for key, value in (payload.get("delta") or {}).items():
                if key != "container" or value is not None:
                    message[key] = copy.deepcopy(value)
            # Delta usage holds cumulative totals; fields it omits or nulls keep their start value.
            usage = message.get("usage")
            if not isinstance(usage, dict):
                usage = message["usage"] = {}
            for key, value in (payload.get("usage") or {}).items():
                if value is not None:
                    usage[key] = copy.deepcopy(value)
        elif kind == "error":
            error = copy.deepcopy(payload.get("error", payload))

    # A cut stream can leave tool input unterminated; keep what arrived.
    for index, buffer in json_buffers.items():
        _finish_tool_input(blocks[index], buffer)
    if blocks or "content" in message:
        message["content"] = [blocks[i] for i in sorted(blocks)]
    if error is not None:
        if not message:
            # Same shape as a non-streaming error body.
            return {"type": "error", "error": error}
        message["error"] = error
    return message
