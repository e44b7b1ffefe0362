"""Amazon Bedrock runtime: `invoke` / `invoke-with-response-stream` (the model's own format;
Claude's is Anthropic Messages, which `AnthropicBedrock` sends) and `converse` /
`converse-stream` (Bedrock's own format). The model is in the path, URL-encoded by boto3.

Streams are AWS eventstream frames. They are stored as decoded events, `{event, data}`: an
`invoke` stream's `chunk` carries base64 JSON, stored decoded; replay encodes it again.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar
from urllib.parse import unquote

from pytest_llm.providers import anthropic
from pytest_llm.providers.assemble import assemble_anthropic_messages
from pytest_llm.providers.base import (
    DeclaredSchema,
    Event,
    FaultAnswer,
    Provider,
    StreamDecoder,
    lift_sampling,
)
from pytest_llm.providers.eventstream import CONTENT_TYPE, FrameDecoder, encode_frame
from pytest_llm.usage import ToolCall, Usage, as_int

_PATH = re.compile(r"/model/([^/]+)/(invoke|invoke-with-response-stream|converse|converse-stream)$")
_OPERATIONS = {
    "invoke": "invoke",
    "invoke-with-response-stream": "invoke_stream",
    "converse": "converse",
    "converse-stream": "converse_stream",
}
# Converse's inferenceConfig, under the names the key groups sampling by.
_SAMPLING = {
    "maxTokens": "max_tokens",
    "temperature": "temperature",
    "topP": "top_p",
    "stopSequences": "stop_sequences",
}


class _Decoder:
    """Frames into `{event, data}`; an `invoke` chunk's base64 bytes decoded to its JSON."""

    def __init__(self) -> None:
        self._frames = FrameDecoder()

    def feed(self, chunk: bytes) -> list[dict[str, Any]]:
        events = []
        for headers, payload in self._frames.feed(chunk):
            try:
                data: Any = json.loads(payload) if payload else {}
            except ValueError:
                data = payload.decode("utf-8", errors="replace")
            if headers.get(":message-type") == "exception":
                name = headers.get(":exception-type", "exception")
                events.append({"event": name, "exception": True, "data": data})
                continue
            name = headers.get(":event-type", "")
            if name == "chunk" and isinstance(data, dict) and isinstance(data.get("bytes"), str):
                data = json.loads(base64.b64decode(data["bytes"]))
            events.append({"event": name, "data": data})
        return events

    def flush(self) -> list[dict[str, Any]]:
        return []


def _render(event: Mapping[str, Any]) -> bytes:
    name, data = str(event.get("event", "")), event.get("data")
    if event.get("exception"):
        headers = {":exception-type": name, ":content-type": "application/json"}
        headers[":message-type"] = "exception"
        return encode_frame(headers, json.dumps(data).encode())
    if name == "chunk":
        data = {"bytes": base64.b64encode(json.dumps(data).encode()).decode()}
    headers = {":event-type": name, ":content-type": "application/json", ":message-type": "event"}
    return encode_frame(headers, json.dumps(data).encode())


def _converse_message(response: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    output = response.get("output")
    message = output.get("message") if isinstance(output, Mapping) else None
    content = message.get("content") if isinstance(message, Mapping) else None
    return [b for b in content or [] if isinstance(b, Mapping)]


def assemble_converse(events: Iterable[Event]) -> dict[str, Any]:
    """Fold `converse-stream` events into the answer `converse` gives."""
    blocks: dict[int, dict[str, Any]] = {}
    tool_inputs: dict[int, str] = {}
    result: dict[str, Any] = {}
    role = "assistant"
    for event in events:
        name, data = event.get("event"), event.get("data")
        if not isinstance(data, Mapping):
            continue
        index = as_int(data.get("contentBlockIndex"))
        if name == "messageStart":
            role = str(data.get("role", role))
        elif name == "contentBlockStart":
            start = data.get("start")
            tool = start.get("toolUse") if isinstance(start, Mapping) else None
            if isinstance(tool, Mapping):
                blocks[index] = {"toolUse": copy.deepcopy(dict(tool))}
        elif name == "contentBlockDelta":
            delta = data.get("delta")
            if not isinstance(delta, Mapping):
                continue
            if isinstance(delta.get("text"), str):
                block = blocks.setdefault(index, {"text": ""})
                block["text"] = str(block.get("text", "")) + delta["text"]
            tool = delta.get("toolUse")
            if isinstance(tool, Mapping):
                blocks.setdefault(index, {"toolUse": {}})
                tool_inputs[index] = tool_inputs.get(index, "") + str(tool.get("input", ""))
        elif name == "messageStop":
            result["stopReason"] = data.get("stopReason")
        elif name == "metadata":
            result |= {k: copy.deepcopy(v) for k, v in data.items() if k in ("usage", "metrics")}
        elif event.get("exception"):
            result["error"] = {"type": name, **dict(data)}
    for index, raw in tool_inputs.items():
        try:
            blocks[index]["toolUse"]["input"] = json.loads(raw) if raw.strip() else {}
        except ValueError:
            blocks[index]["toolUse"]["input"] = raw
    content = [blocks[i] for i in sorted(blocks)]
    return {"output": {"message": {"role": role, "content": content}}, **result}


class Bedrock(Provider):
    """`AnthropicBedrock` and boto3's `bedrock-runtime`."""

    name: ClassVar[str] = "bedrock"
    # SigV4: the signature, and a session's token (the access key id is inside Authorization).
    secret_headers: ClassVar[frozenset[str]] = frozenset({"authorization", "x-amz-security-token"})
    secret_params: ClassVar[frozenset[str]] = frozenset(
        {"x-amz-security-token", "x-amz-signature", "x-amz-credential"}
    )
    stream_content_type: ClassVar[str] = CONTENT_TYPE

    def operation(self, path: str) -> str | None:
        """invoke, invoke_stream, converse or converse_stream."""
        match = _PATH.search(path.rstrip("/"))
        return _OPERATIONS[match.group(2)] if match else None

    def recognize(self, path: str, body: Any) -> str | None:
        """By path: the model is in it, and the body is any JSON object."""
        return self.operation(path) if isinstance(body, dict) else None

    def model(self, path: str, body: Mapping[str, Any]) -> str:
        """The model id of the path, decoded (boto3 writes `:` as `%3A`)."""
        match = _PATH.search(path.rstrip("/"))
        return unquote(match.group(1)) if match else ""

    def key_view(self, operation: str, model: str, body: dict[str, Any]) -> dict[str, Any]:
        """The model from the path, streaming from the operation, inferenceConfig lifted."""
        view = lift_sampling(body, "inferenceConfig", _SAMPLING)
        view["model"] = model
        if operation.endswith("_stream"):
            view["stream"] = True
        return view

    def text(self, operation: str, response: dict[str, Any]) -> str:
        """Converse's text blocks; an invoke answer read as Anthropic Messages."""
        if operation.startswith("converse"):
            return "".join(str(b["text"]) for b in _converse_message(response) if "text" in b)
        return anthropic.text("messages", response)

    def tool_calls(self, operation: str, response: dict[str, Any]) -> list[ToolCall]:
        """Converse's toolUse blocks; an invoke answer's tool_use blocks."""
        if not operation.startswith("converse"):
            return anthropic.tool_calls("messages", response)
        calls = []
        for block in _converse_message(response):
            tool = block.get("toolUse")
            if isinstance(tool, Mapping):
                arguments = tool.get("input")
                calls.append(
                    ToolCall(
                        str(tool.get("toolUseId", "")),
                        str(tool.get("name", "")),
                        arguments,
                        json.dumps(arguments, ensure_ascii=False),
                    )
                )
        return calls

    def usage(self, operation: str, response: dict[str, Any]) -> Usage:
        """Converse's `usage` (cache reads folded into input); invoke's Anthropic usage."""
        if not operation.startswith("converse"):
            return anthropic.usage(response)
        raw = response.get("usage")
        if not isinstance(raw, Mapping):
            return Usage()
        cached = as_int(raw.get("cacheReadInputTokens"))
        inp = as_int(raw.get("inputTokens")) + cached + as_int(raw.get("cacheWriteInputTokens"))
        out = as_int(raw.get("outputTokens"))
        return Usage(inp, out, inp + out, cached)

    def stream_decoder(self) -> StreamDecoder:
        """AWS eventstream frames, decoded."""
        return _Decoder()

    def render_stream(self, events: list[dict[str, Any]]) -> list[bytes]:
        """Each stored event as a valid frame again."""
        return [_render(event) for event in events]

    def assemble(self, operation: str, events: Iterable[Event]) -> dict[str, Any] | None:
        """Converse events into a converse answer; invoke chunks as Anthropic Messages."""
        if operation == "converse_stream":
            return assemble_converse(events)
        if operation == "invoke_stream":
            return assemble_anthropic_messages(events)
        return None

    def declared_tools(self, request: Mapping[str, Any]) -> dict[str, DeclaredSchema]:
        """`toolConfig.tools[i].toolSpec.inputSchema.json`."""
        found: dict[str, DeclaredSchema] = {}
        config = request.get("toolConfig")
        tools = config.get("tools") if isinstance(config, Mapping) else None
        for i, tool in enumerate(tools or []):
            spec = tool.get("toolSpec") if isinstance(tool, Mapping) else None
            if isinstance(spec, Mapping) and spec.get("name"):
                schema = (spec.get("inputSchema") or {}).get("json")
                where = f"toolConfig.tools[{i}].toolSpec.inputSchema.json"
                found.setdefault(str(spec["name"]), DeclaredSchema(schema, where))
        return found

    def fault(self, fault: str, model: str, note: str) -> FaultAnswer:
        """Bedrock's errors: ThrottlingException (429), ServiceUnavailableException (503),
        InternalServerException (500), named in `x-amzn-ErrorType` as boto3 reads them."""
        if fault == "rate_limit":
            kind, status, message = "ThrottlingException", 429, "Too many requests, please wait"
        elif fault == "overloaded":
            kind, status = "ServiceUnavailableException", 503
            message = "Bedrock is unable to process your request."
        else:
            kind, status, message = "InternalServerException", 500, "Internal server error"
        headers = [
            ("x-amzn-errortype", f"{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/")
        ]
        headers.append(("x-amzn-requestid", "pytest-llm-fault"))
        return FaultAnswer(status, {"message": message + note}, headers)
