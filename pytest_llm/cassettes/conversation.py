"""A stored interaction as a conversation a person reads: who said what, and what came back."""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass, field
from typing import Any

from pytest_llm.calls import LLMCall
from pytest_llm.cassettes.plain_http import is_plain
from pytest_llm.cassettes.tool_steps import is_tool_step
from pytest_llm.providers import endpoint_of

_MAX_EMBEDDING_INPUTS = 5


@dataclass(frozen=True, slots=True)
class Turn:
    """One message of the prompt, or one part of the answer: a role and its text."""

    role: str
    text: str

    def __post_init__(self) -> None:
        # Prompts written as indented triple-quoted strings read better flush left.
        object.__setattr__(self, "text", textwrap.dedent(self.text.strip("\n")).rstrip())


@dataclass
class View:
    """What `show` prints for one interaction."""

    operation: str
    prompt: list[Turn] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)
    answer: list[Turn] = field(default_factory=list)
    output_format: str = ""


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _tool_call(name: Any, arguments: Any) -> str:
    text = arguments if isinstance(arguments, str) else _json(arguments)
    return f"{name}({text})"


def _parts(content: Any) -> str:
    """The text of a message's content: a string, or a list of typed parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        content = [content]
    if not isinstance(content, list):
        return _json(content)
    pieces: list[str] = []
    for part in content:
        if isinstance(part, str):
            pieces.append(part)
        elif not isinstance(part, dict):
            pieces.append(_json(part))
        elif isinstance(part.get("text"), str):
            pieces.append(part["text"])
        elif part.get("type") == "tool_use":
            pieces.append("-> " + _tool_call(part.get("name"), part.get("input")))
        elif part.get("type") == "tool_result":
            pieces.append(f"[result of {part.get('tool_use_id')}] {_parts(part.get('content'))}")
        elif part.get("type") == "thinking" and isinstance(part.get("thinking"), str):
            pieces.append(f"[thinking] {part['thinking']}")
        else:
            pieces.append(f"[{part.get('type', 'part')}]")
    return "\n".join(p for p in pieces if p)


def _openai_chat(body: dict[str, Any]) -> list[Turn]:
    turns: list[Turn] = []
    for message in body.get("messages") or []:
        if not isinstance(message, dict):
            continue
        role = str(message.get("role", "?"))
        lines = [_parts(message.get("content"))]
        if role == "tool" and message.get("tool_call_id"):
            lines = [f"[result of {message['tool_call_id']}] {lines[0]}"]
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {} if isinstance(call, dict) else {}
            lines.append("-> " + _tool_call(function.get("name"), function.get("arguments")))
        turns.append(Turn(role, "\n".join(line for line in lines if line)))
    return turns


def _openai_responses(body: dict[str, Any]) -> list[Turn]:
    turns: list[Turn] = []
    if body.get("instructions"):
        turns.append(Turn("instructions", _parts(body["instructions"])))
    items = body.get("input")
    if isinstance(items, str):
        return [*turns, Turn("user", items)]
    for item in items or []:
        if not isinstance(item, dict):
            turns.append(Turn("input", _parts(item)))
            continue
        kind = item.get("type", "message")
        if kind == "message" or "role" in item:
            turns.append(Turn(str(item.get("role", "user")), _parts(item.get("content"))))
        elif kind == "function_call":
            turns.append(
                Turn("assistant", "-> " + _tool_call(item.get("name"), item.get("arguments")))
            )
        elif kind == "function_call_output":
            output = _parts(item.get("output"))
            turns.append(Turn("tool", f"[result of {item.get('call_id', '?')}] {output}"))
        else:
            turns.append(Turn(str(kind), f"[{kind}]"))
    return turns


def _embeddings(body: dict[str, Any]) -> list[Turn]:
    inputs = body.get("input")
    items = inputs if isinstance(inputs, list) and not _is_token_list(inputs) else [inputs]
    turns = [Turn("input", s if isinstance(s, str) else _json(s)) for s in items]
    if len(turns) > _MAX_EMBEDDING_INPUTS:
        more = len(turns) - _MAX_EMBEDDING_INPUTS
        turns = [*turns[:_MAX_EMBEDDING_INPUTS], Turn("input", f"... and {more} more")]
    return turns


def _is_token_list(value: list[Any]) -> bool:
    return bool(value) and all(isinstance(v, int) for v in value)


def _anthropic(body: dict[str, Any]) -> list[Turn]:
    turns: list[Turn] = []
    if body.get("system"):
        turns.append(Turn("system", _parts(body["system"])))
    for message in body.get("messages") or []:
        if isinstance(message, dict):
            turns.append(Turn(str(message.get("role", "?")), _parts(message.get("content"))))
    return turns


def _tools(body: dict[str, Any]) -> list[str]:
    names: list[str] = []
    for tool in body.get("tools") or []:
        if not isinstance(tool, dict):
            continue
        function = tool.get("function")
        name = function.get("name") if isinstance(function, dict) else tool.get("name")
        names.append(str(name or tool.get("type", "?")))
    return names


def _output_format(body: dict[str, Any]) -> str:
    """The structured output the request asked for, e.g. `json_schema final_result`."""
    chat = body.get("response_format")
    text = body.get("text")
    config = body.get("output_config")
    for spec in (
        chat,
        text.get("format") if isinstance(text, dict) else None,
        config.get("format") if isinstance(config, dict) else None,
        body.get("output_format"),
    ):
        if isinstance(spec, dict) and spec.get("type") not in (None, "text"):
            nested = spec.get("json_schema")
            name = nested.get("name") if isinstance(nested, dict) else spec.get("name")
            return f"{spec['type']} {name}" if name else str(spec["type"])
    return ""


def _error(response: Any) -> str:
    if isinstance(response, dict):
        error = response.get("error")
        if isinstance(error, dict) and error.get("message"):
            kind = error.get("type") or error.get("code")
            return f"{kind}: {error['message']}" if kind else str(error["message"])
        if isinstance(error, str):
            return error
        return _json(response)
    return "" if response is None else str(response)


def _answer(call: LLMCall, operation: str) -> list[Turn]:
    response = call.response
    if "text" in call.interaction["response"]:
        response = call.interaction["response"]["text"]
    if call.status >= 400 or not isinstance(response, dict):
        return [Turn("error" if call.status >= 400 else "answer", _error(response))]
    if isinstance(response.get("error"), dict):  # an error event inside a stream
        return [Turn("error", _error(response))]
    if operation == "embeddings":
        data = [d for d in response.get("data") or [] if isinstance(d, dict)]
        vector = data[0].get("embedding") if data else None
        shape = "base64" if isinstance(vector, str) else f"{len(vector or [])} dimensions"
        return [Turn("answer", f"{len(data)} embedding(s), {shape}")]
    if operation == "messages.count_tokens":
        return [Turn("answer", f"input_tokens: {response.get('input_tokens')}")]
    turns: list[Turn] = []
    if call.text:
        turns.append(Turn("assistant", call.text))
    turns += [Turn("tool call", _tool_call(tc.name, tc.arguments_json)) for tc in call.tool_calls]
    if not turns:
        refusal = _refusal(response)
        turns.append(Turn("refusal", refusal) if refusal else Turn("assistant", ""))
    return turns


def _refusal(response: dict[str, Any]) -> str:
    choices = response.get("choices") or []
    message = choices[0].get("message") if choices and isinstance(choices[0], dict) else None
    return str(message.get("refusal") or "") if isinstance(message, dict) else ""


def _plain_body(part: dict[str, Any]) -> str:
    if "body" in part:
        return _json(part["body"])
    if "text" in part:
        return str(part["text"])
    if "base64" in part:
        size = len(str(part["base64"])) * 3 // 4
        return f"<binary, about {size:,} bytes, stored as base64>"
    return ""


def _plain(interaction: dict[str, Any]) -> View:
    """A plain HTTP request (a tool, an image) and what came back."""
    request, response = interaction["request"], interaction["response"]
    asked = f"{request.get('method', '?')} {request.get('url', '')}"
    body = _plain_body(request)
    answer = f"{response.get('status')}\n{_plain_body(response)}".rstrip()
    return View(
        "http",
        [Turn("request", f"{asked}\n{body}".rstrip())],
        [],
        [Turn("response", answer)],
    )


def _tool_step(interaction: dict[str, Any]) -> View:
    """An MCP request or a tool function's call, and its result."""
    request, response = interaction["request"], interaction["response"]
    where = f"{interaction.get('server')} " if interaction.get("server") else ""
    asked = f"{where}{request.get('path', '')}\n{_json(request.get('body'))}"
    answer = _json(response["error"] if "error" in response else response.get("body"))
    return View(
        str(interaction.get("provider")),
        [Turn("request", asked.rstrip())],
        [],
        [Turn("result", answer)],
    )


def view(interaction: dict[str, Any]) -> View:
    """The prompt, tools and answer of a stored interaction, as readable turns."""
    if is_plain(interaction):
        return _plain(interaction)
    if is_tool_step(interaction):
        return _tool_step(interaction)
    call = LLMCall(interaction, replayed=True)
    operation = endpoint_of(call.provider, call.endpoint).operation
    body = call.request
    if operation == "chat.completions":
        prompt = _openai_chat(body)
    elif operation == "responses":
        prompt = _openai_responses(body)
    elif operation == "embeddings":
        prompt = _embeddings(body)
    elif operation.startswith("messages"):
        prompt = _anthropic(body)
    elif operation == "completions":
        prompt = [Turn("prompt", _parts(body.get("prompt")))]
    else:
        prompt = [Turn("request", _json(body))]
    return View(
        operation or "?", prompt, _tools(body), _answer(call, operation), _output_format(body)
    )
