"""A fake OpenAI + Anthropic HTTP API that speaks the real wire formats (stdlib only).

Every answer depends on the request (model, last message, and a hash of the whole
canonical body), so a test can tell a correct replay from a wrong one.  Special models
trigger provider-shaped errors: ``error-400``, ``error-404``, ``always-500`` and
``flaky-429`` (429 on the first attempt of a given body, success afterwards).

Usage::

    with FakeProvider() as srv:
        client = openai.OpenAI(base_url=srv.openai_base_url, api_key="sk-test")
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import itertools
import json
import re
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, cast

import fake_bedrock
import fake_gemini
import fake_ollama

JSON = dict[str, Any]
Event = tuple[str | None, JSON | str]  # (SSE event name or None, data)

# Checked in order: "/messages/count_tokens" must win over "/messages".
_ROUTES = (
    ("/chat/completions", "chat"),
    ("/responses", "responses"),
    ("/embeddings", "embeddings"),
    ("/messages/count_tokens", "count_tokens"),
    ("/messages", "messages"),
    ("/complete", "complete"),
)
_ERROR_MODELS = {"error-400": 400, "error-404": 404, "always-500": 500}
_OPENAI_ERRORS: dict[int, tuple[str, str | None, str | None, str]] = {
    # status: (type, param, code, message template)
    400: ("invalid_request_error", "model", "invalid_value", "Invalid model '{model}'."),
    404: (
        "invalid_request_error",
        None,
        "model_not_found",
        "The model `{model}` does not exist or you do not have access to it.",
    ),
    429: ("requests", None, "rate_limit_exceeded", "Rate limit reached for requests on {model}."),
    500: (
        "server_error",
        None,
        None,
        "The server had an error while processing your request. Sorry about that!",
    ),
}
_ANTHROPIC_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "model: {model} is not supported"),
    404: ("not_found_error", "model: {model}"),
    429: ("rate_limit_error", "This request would exceed the rate limit for your organization."),
    500: ("api_error", "Internal server error"),
}
SERVED_SUFFIX = "-2025-01-01"


@dataclass
class RecordedRequest:
    method: str
    path: str  # including the query string
    headers: dict[str, str]  # lower-cased keys
    body: Any  # decoded JSON, or None


@dataclass
class _Reply:
    status: int
    headers: dict[str, str]
    body: JSON | None = None
    events: list[Event] | None = None  # set for SSE replies
    sse_named: bool = True  # OpenAI chat streams have no `event:` lines
    frames: list[bytes] | None = None  # set for AWS eventstream replies (Bedrock)
    ndjson: list[JSON] | None = None  # set for NDJSON stream replies (Ollama)


@dataclass
class _Answer:
    served: str
    digest: str
    input_tokens: int
    text: str | None = None  # None means "answer with a tool call"
    tool: str = ""
    arguments: str = "{}"
    ids: dict[str, str] = field(default_factory=dict)

    @property
    def output_tokens(self) -> int:
        return _words(self.text if self.text is not None else self.arguments)


def _canonical(body: Any) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def _words(text: str) -> int:
    return len(text.split())


def _pieces(text: str) -> list[str]:
    """Split like a tokenizer would: each piece keeps its leading space."""
    return [p for p in re.split(r"(?= )", text) if p] or [""]


def _text(content: Any) -> str:
    """Plain text of any message/content-part/tool-result shape of either API."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(t for t in map(_text, content) if t)
    if isinstance(content, dict):
        for key in ("text", "content", "output"):
            if key in content:
                return _text(content[key])
    return ""


def _conversation(api: str, body: JSON) -> list[tuple[str, str]]:
    """(role, text) pairs; role "tool" marks tool results, which never trigger a tool call."""
    msgs: list[tuple[str, str]] = []
    system = body.get("instructions") if api == "responses" else body.get("system")
    if system:
        msgs.append(("system", _text(system)))
    if api == "responses":
        inp = body.get("input")
        items = [{"role": "user", "content": inp}] if isinstance(inp, str) else inp or []
        for item in items:
            is_result = item.get("type") == "function_call_output"
            msgs.append(("tool" if is_result else item.get("role", "assistant"), _text(item)))
        return msgs
    if api == "complete":  # "\n\nHuman: ...\n\nAssistant:"
        turns = str(body.get("prompt", "")).split("Human:")
        return [("user", turns[-1].split("Assistant:")[0].strip())]
    for m in body.get("messages") or []:
        content = m.get("content")
        is_result = isinstance(content, list) and any(
            isinstance(b, dict) and b.get("type") == "tool_result" for b in content
        )
        msgs.append(("tool" if is_result else str(m.get("role")), _text(content)))
    return msgs


def _example(schema: Any, model: str, depth: int = 0) -> Any:
    """A document that fits a (simple) JSON Schema, with the model's name in its strings."""
    if not isinstance(schema, dict) or depth > 6:
        return None
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        return {name: _example(sub, model, depth + 1) for name, sub in props.items()}
    if kind == "array":
        return [_example(schema.get("items"), model, depth + 1)]
    return {"integer": len(model), "number": 1.5, "boolean": True, "null": None}.get(
        str(kind), f"{model} value"
    )


def _declared_json_schema(api: str, body: JSON) -> Any:
    if api == "chat":
        fmt = body.get("response_format") or {}
        return (fmt.get("json_schema") or {}).get("schema") if isinstance(fmt, dict) else None
    if api == "responses":
        fmt = (body.get("text") or {}).get("format") or {}
        return fmt.get("schema") if fmt.get("type") == "json_schema" else None
    fmt = (body.get("output_config") or {}).get("format") or {}
    return fmt.get("schema") if fmt.get("type") == "json_schema" else None


def _answer(api: str, body: JSON, seq: int, served_suffix: str = SERVED_SUFFIX) -> _Answer:
    model = str(body.get("model", ""))
    digest = hashlib.sha256(_canonical(body).encode()).hexdigest()[:6]
    msgs = _conversation(api, body)
    role, last = msgs[-1] if msgs else ("user", "")
    ans = _Answer(
        served=model + served_suffix,
        digest=digest,
        input_tokens=sum(_words(t) + 3 for _, t in msgs),
        ids={
            p: f"{p}{seq:06d}{digest}"
            for p in ("chatcmpl-", "resp_", "msg_", "call_", "fc_", "toolu_")
        },
    )
    tools = body.get("tools") or []
    plan = _plan(msgs)
    done = sum(1 for r, _ in msgs if r == "tool")
    if tools and plan and done < len(plan):
        ans.tool, arguments = plan[done]
        ans.arguments = json.dumps(arguments)
    elif tools and plan:
        ans.text = f"[{model}] done after {done} tool call(s) #{digest}"
    elif tools and role == "user" and "weather" in last.lower():
        first = tools[0]
        ans.tool = str(first.get("name") or first.get("function", {}).get("name") or "tool")
        city = re.search(r"weather in (\w+)", last, re.IGNORECASE)
        ans.arguments = json.dumps({"city": city.group(1) if city else "Paris"})
    elif _declared_json_schema(api, body) is not None:
        # Structured output: a document that keeps the declared schema.
        ans.text = json.dumps(_example(_declared_json_schema(api, body), model))
    elif "poem" in last.lower():
        ans.text = f"[{model}] a poem for: {last}\nroses are red, tokens are blue\nend #{digest}"
    else:
        ans.text = f"[{model}] reply to: {last} #{digest}"
    return ans


_PLAN_STEP = re.compile(r"(\w+)(?:\(([^)]*)\))?")


def _plan(msgs: list[tuple[str, str]]) -> list[tuple[str, dict[str, Any]]]:
    """An agent's plan written in the first user message: `agent: search(q=cats) fetch(n=2)`.

    The model then calls those tools one per turn, in order, and answers with text once every
    tool result is in (tests of trajectories need a model that asks for a known sequence).
    """
    first = next((text for role, text in msgs if role == "user"), "")
    _, found, plan = first.partition("agent:")
    if not found:
        return []
    steps = []
    for name, args in _PLAN_STEP.findall(plan):
        arguments: dict[str, Any] = {}
        for pair in filter(None, (p.strip() for p in args.split(","))):
            key, _, value = pair.partition("=")
            arguments[key.strip()] = int(value) if value.strip().isdigit() else value.strip()
        steps.append((name, arguments))
    return steps


# --- OpenAI Chat Completions --------------------------------------------------------------


def _chat(body: JSON, a: _Answer) -> JSON | list[Event]:
    usage = {
        "prompt_tokens": a.input_tokens,
        "completion_tokens": a.output_tokens,
        "total_tokens": a.input_tokens + a.output_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }
    call = {"id": a.ids["call_"], "type": "function"}
    finish = "stop" if a.text is not None else "tool_calls"
    base = {
        "id": a.ids["chatcmpl-"],
        "created": int(time.time()),
        "model": a.served,
        "service_tier": "default",
        "system_fingerprint": "fp_fake",
    }
    if not body.get("stream"):
        message: JSON = {"role": "assistant", "content": a.text, "refusal": None, "annotations": []}
        if a.text is None:
            message["tool_calls"] = [
                call | {"function": {"name": a.tool, "arguments": a.arguments}}
            ]
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
        return base | {"object": "chat.completion", "choices": [choice], "usage": usage}

    with_usage = bool((body.get("stream_options") or {}).get("include_usage"))

    def chunk(delta: JSON, finish_reason: str | None = None) -> Event:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        extra = {"usage": None} if with_usage else {}
        return None, base | {"object": "chat.completion.chunk", "choices": [choice]} | extra

    if a.text is not None:
        events = [chunk({"role": "assistant", "content": "", "refusal": None})]
        events += [chunk({"content": p}) for p in _pieces(a.text)]
    else:
        first = call | {"index": 0, "function": {"name": a.tool, "arguments": ""}}
        events = [chunk({"role": "assistant", "content": None, "tool_calls": [first]})]
        events += [
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": p}}]})
            for p in _pieces(a.arguments)
        ]
    events.append(chunk({}, finish))
    if with_usage:
        events.append(
            (None, base | {"object": "chat.completion.chunk", "choices": [], "usage": usage})
        )
    events.append((None, "[DONE]"))
    return events


# --- OpenAI Responses -------------------------------------------------------------------


def _responses(body: JSON, a: _Answer) -> JSON | list[Event]:
    created = int(time.time())
    usage = {
        "input_tokens": a.input_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": a.output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": a.input_tokens + a.output_tokens,
    }
    part: JSON = {"type": "output_text", "text": a.text or "", "annotations": [], "logprobs": []}
    item: JSON
    if a.text is not None:
        item_id = a.ids["msg_"]
        item = {"id": item_id, "type": "message", "status": "completed", "role": "assistant"}
        item["content"] = [part]
    else:
        item_id = a.ids["fc_"]
        item = {"id": item_id, "type": "function_call", "status": "completed"}
        item |= {"call_id": a.ids["call_"], "name": a.tool, "arguments": a.arguments}

    def response(status: str) -> JSON:
        done = status == "completed"
        return {
            "id": a.ids["resp_"],
            "object": "response",
            "created_at": created,
            "status": status,
            "completed_at": created if done else None,
            "background": False,
            "error": None,
            "incomplete_details": None,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "metadata": body.get("metadata") or {},
            "model": a.served,
            "output": [item] if done else [],
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "previous_response_id": body.get("previous_response_id"),
            "reasoning": {"effort": None, "summary": None},
            "service_tier": "default",
            "store": body.get("store", True),
            "temperature": body.get("temperature", 1.0),
            "text": {"format": {"type": "text"}, "verbosity": "medium"},
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": body.get("tools") or [],
            "top_p": body.get("top_p", 1.0),
            "truncation": "disabled",
            "usage": usage if done else None,
            "user": None,
        }

    if not body.get("stream"):
        return response("completed")

    raw: list[JSON] = [
        {"type": "response.created", "response": response("in_progress")},
        {"type": "response.in_progress", "response": response("in_progress")},
    ]
    loc: JSON = {"item_id": item_id, "output_index": 0}
    if a.text is not None:
        started = item | {"status": "in_progress", "content": []}
        raw.append({"type": "response.output_item.added", "output_index": 0, "item": started})
        cloc = loc | {"content_index": 0}
        empty = part | {"text": ""}
        raw.append({"type": "response.content_part.added", "part": empty} | cloc)
        for p in _pieces(a.text):
            raw.append({"type": "response.output_text.delta", "delta": p, "logprobs": []} | cloc)
        raw.append({"type": "response.output_text.done", "text": a.text, "logprobs": []} | cloc)
        raw.append({"type": "response.content_part.done", "part": part} | cloc)
    else:
        started = item | {"status": "in_progress", "arguments": ""}
        raw.append({"type": "response.output_item.added", "output_index": 0, "item": started})
        for p in _pieces(a.arguments):
            raw.append({"type": "response.function_call_arguments.delta", "delta": p} | loc)
        done = {"type": "response.function_call_arguments.done", "arguments": a.arguments}
        raw.append(done | {"name": a.tool} | loc)
    raw.append({"type": "response.output_item.done", "output_index": 0, "item": item})
    raw.append({"type": "response.completed", "response": response("completed")})
    return [(e["type"], e | {"sequence_number": i}) for i, e in enumerate(raw)]


# --- OpenAI Embeddings ------------------------------------------------------------------


def _embeddings(body: JSON, a: _Answer) -> JSON:
    inputs = body.get("input")
    # A list of ints is one pre-tokenized input, not several.
    if not isinstance(inputs, list) or all(isinstance(x, int) for x in inputs):
        inputs = [inputs]
    texts = [x if isinstance(x, str) else json.dumps(x) for x in inputs]
    data = []
    for i, text in enumerate(texts):
        seed = hashlib.sha256(f"{body.get('model')}\0{text}".encode()).digest()
        # (b - 128) / 128 is exact in float32, so float and base64 formats agree.
        vec = [(b - 128) / 128 for b in seed[:8]]
        emb: list[float] | str = vec
        if body.get("encoding_format") == "base64":
            emb = base64.b64encode(struct.pack(f"<{len(vec)}f", *vec)).decode()
        data.append({"object": "embedding", "index": i, "embedding": emb})
    tokens = sum(_words(t) for t in texts)
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    return {"object": "list", "data": data, "model": a.served, "usage": usage}


# --- Anthropic Messages -----------------------------------------------------------------


def _messages(body: JSON, a: _Answer) -> JSON | list[Event]:
    usage = {
        "input_tokens": a.input_tokens,
        "output_tokens": a.output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "service_tier": "standard",
    }
    if a.text is not None:
        block: JSON = {"type": "text", "text": a.text}
        stop = "end_turn"
    else:
        block = {"type": "tool_use", "id": a.ids["toolu_"], "name": a.tool}
        block["input"] = json.loads(a.arguments)
        stop = "tool_use"
    message: JSON = {"id": a.ids["msg_"], "type": "message", "role": "assistant"}
    message["model"] = a.served
    if not body.get("stream"):
        tail = {"stop_reason": stop, "stop_sequence": None, "usage": usage}
        return message | {"content": [block]} | tail

    start_usage = usage | {"output_tokens": 1}
    start = message | {"content": [], "stop_reason": None, "stop_sequence": None}
    raw: list[JSON] = [{"type": "message_start", "message": start | {"usage": start_usage}}]
    if a.text is not None:
        raw.append(
            {"type": "content_block_start", "index": 0, "content_block": block | {"text": ""}}
        )
        raw.append({"type": "ping"})
        deltas = [{"type": "text_delta", "text": p} for p in _pieces(a.text)]
    else:
        raw.append(
            {"type": "content_block_start", "index": 0, "content_block": block | {"input": {}}}
        )
        raw.append({"type": "ping"})
        pieces = ["", *_pieces(a.arguments)]  # the real API opens with an empty partial_json
        deltas = [{"type": "input_json_delta", "partial_json": p} for p in pieces]
    raw += [{"type": "content_block_delta", "index": 0, "delta": d} for d in deltas]
    raw.append({"type": "content_block_stop", "index": 0})
    delta = {"stop_reason": stop, "stop_sequence": None}
    raw.append(
        {"type": "message_delta", "delta": delta, "usage": {"output_tokens": a.output_tokens}}
    )
    raw.append({"type": "message_stop"})
    return [(e["type"], e) for e in raw]


def _count_tokens(body: JSON, a: _Answer) -> JSON:
    return {"input_tokens": a.input_tokens}


def _complete(body: JSON, a: _Answer) -> JSON | list[Event]:
    """Anthropic's legacy Text Completions (`/v1/complete`)."""
    head = {"type": "completion", "id": a.ids["msg_"].replace("msg_", "compl_"), "model": a.served}
    text = " " + str(a.text)
    if not body.get("stream"):
        return head | {"completion": text, "stop_reason": "stop_sequence", "stop": "\n\nHuman:"}
    events: list[Event] = [
        ("completion", head | {"completion": p, "stop_reason": None}) for p in _pieces(text)
    ]
    events.insert(1, ("ping", {"type": "ping"}))
    last = head | {"completion": "", "stop_reason": "stop_sequence", "stop": "\n\nHuman:"}
    return [*events, ("completion", last)]


_BUILDERS = {
    "chat": _chat,
    "responses": _responses,
    "embeddings": _embeddings,
    "messages": _messages,
    "count_tokens": _count_tokens,
    "complete": _complete,
}


# --- server -----------------------------------------------------------------------------


class FakeProvider:
    """Fake OpenAI + Anthropic API on 127.0.0.1, served from a daemon thread."""

    def __init__(self, port: int = 0) -> None:
        # 0: a free port. A test that restarts a provider passes the old one, so that
        # recorded URLs (which vcrpy matches on, port included) still point at it.
        self.port = port
        self.requests: list[RecordedRequest] = []
        # What the "served" model id appends to the requested one; a test may change it to
        # play a provider that moved an alias to a new snapshot.
        self.served_suffix = SERVED_SUFFIX
        self._lock = threading.Lock()
        self._attempts: dict[str, int] = {}
        self._seq = itertools.count(1)
        self._scripts: dict[str, list[str]] = {}
        self._scripted: dict[str, int] = {}
        self._server: _Server | None = None
        self._connections: set[socket.socket] = set()

    def start(self) -> FakeProvider:
        self._server = _Server(("127.0.0.1", self.port), _Handler)
        self._server.provider = self
        serve = self._server.serve_forever
        threading.Thread(target=serve, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        # Idle keep-alive connections would otherwise keep being served after stop().
        with self._lock:
            connections, self._connections = self._connections, set()
        for conn in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                conn.shutdown(socket.SHUT_RDWR)

    def script(self, model: str, texts: list[str]) -> None:
        """Answer requests for `model` with `texts` in turn, cycling (a model sampled at
        temperature > 0 gives a different answer to the same prompt); a text
        'tool:NAME {"arg": 1}' is a tool call instead."""
        with self._lock:
            self._scripts[model] = list(texts)
            self._scripted[model] = 0

    def reset(self) -> None:
        """Forget recorded requests and flaky-429 attempt counts."""
        with self._lock:
            self.requests.clear()
            self._attempts.clear()

    def __enter__(self) -> FakeProvider:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeProvider is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def openai_base_url(self) -> str:
        return self.url + "/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    def _handle(self, method: str, path: str, headers: dict[str, str], body: Any) -> _Reply:
        seq = next(self._seq)
        with self._lock:
            self.requests.append(RecordedRequest(method, path, headers, body))
        if path.split("?", 1)[0].rstrip("/").endswith("/api/chat") and isinstance(body, dict):
            answer, lines = fake_ollama.chat(body)
            if answer is not None:
                return _Reply(200, {}, body=answer)
            return _Reply(200, {}, ndjson=lines)
        bedrock = fake_bedrock.route(path)
        if bedrock is not None and method == "POST":
            return self._bedrock(*bedrock, body, seq)
        gemini = fake_gemini.route(path)
        if gemini is not None and method == "POST":
            return self._gemini(*gemini, body, seq)
        route = path.split("?", 1)[0].rstrip("/")
        api = next((name for suffix, name in _ROUTES if route.endswith(suffix)), None)
        vendor = "anthropic" if api in ("messages", "count_tokens", "complete") else "openai"
        reply_headers = _provider_headers(vendor, seq)
        if api is None or method != "POST":
            return _error(vendor, 404, reply_headers, message=f"Invalid URL ({method} {route})")
        if not isinstance(body, dict):
            message = "We could not parse the JSON body of your request."
            return _error(vendor, 400, reply_headers, message=message)
        model = str(body.get("model", ""))
        status = _ERROR_MODELS.get(model)
        if model == "flaky-429":
            key = f"{api} {_canonical(body)}"
            with self._lock:
                self._attempts[key] = self._attempts.get(key, 0) + 1
                status = 429 if self._attempts[key] == 1 else None
        if status is not None:
            return _error(vendor, status, reply_headers, model=model)
        try:
            answer = _answer(api, body, seq, self.served_suffix)
            with self._lock:
                texts = self._scripts.get(model)
                if texts:
                    text = texts[self._scripted[model] % len(texts)]
                    self._scripted[model] += 1
                    if text.startswith("tool:"):  # 'tool:NAME {"arg": 1}' asks for a tool
                        name, _, arguments = text.removeprefix("tool:").partition(" ")
                        answer.text, answer.tool = None, name
                        answer.arguments = arguments or "{}"
                    else:
                        answer.text = text
            result = _BUILDERS[api](body, answer)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            # Malformed (but valid JSON) requests: answer like the API, don't kill the thread.
            return _error(vendor, 400, reply_headers, message=f"Malformed request: {exc!r}")
        if isinstance(result, list):
            return _Reply(200, reply_headers, events=result, sse_named=api != "chat")
        return _Reply(200, reply_headers, body=result)

    def _bedrock(self, model: str, operation: str, body: Any, seq: int) -> _Reply:
        headers = {"x-amzn-requestid": f"req-{seq:06d}"}
        if "flaky-429" in model:
            key = f"{model}:{operation} {_canonical(body)}"
            with self._lock:
                self._attempts[key] = self._attempts.get(key, 0) + 1
                if self._attempts[key] == 1:
                    headers["x-amzn-errortype"] = "ThrottlingException:http://internal.amazon.com/"
                    return _Reply(429, headers, body=fake_bedrock.throttled())
        stream = operation.endswith("stream")
        if operation.startswith("converse"):
            answer, frames = fake_bedrock.converse(model, body, stream)
            if stream:
                return _Reply(200, headers, frames=frames)
            return _Reply(200, headers, body=answer)
        request = dict(body) | {"model": model, "stream": stream}
        result = _messages(request, _answer("messages", request, seq, self.served_suffix))
        if isinstance(result, list):
            frames = fake_bedrock.chunk_frames(
                [data for _, data in result if isinstance(data, dict)]
            )
            return _Reply(200, headers, frames=frames)
        return _Reply(200, headers, body=result)

    def _gemini(self, model: str, method: str, body: Any, seq: int) -> _Reply:
        headers = {"x-gemini-service-tier": "standard", "server-timing": f"gfet4t7; dur={seq}"}
        status = fake_gemini.ERROR_MODELS.get(model)
        if model == "flaky-429":
            key = f"{model}:{method} {_canonical(body)}"
            with self._lock:
                self._attempts[key] = self._attempts.get(key, 0) + 1
                status = 429 if self._attempts[key] == 1 else None
        if status is None and not isinstance(body, dict):
            status = 400
        if status is not None:
            return _Reply(status, headers, body=fake_gemini.error(status))
        status, answer, events = fake_gemini.answer(model, method, body, seq)
        if events:
            return _Reply(status, headers, events=[(None, e) for e in events], sse_named=False)
        return _Reply(status, headers, body=answer)

    @property
    def gemini_base_url(self) -> str:
        return self.url


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 resets connections when 50 async calls arrive at once.
    request_queue_size = 256
    provider: FakeProvider

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client dropping its connection is normal (timeouts, stop()); anything else is a bug.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _provider_headers(vendor: str, seq: int) -> dict[str, str]:
    request_id = f"req_{seq:06d}{hashlib.sha256(str(seq).encode()).hexdigest()[:18]}"
    headers = {"set-cookie": "__cf_bm=fake; path=/"}
    if vendor == "openai":
        return headers | {
            "x-request-id": request_id,
            "openai-processing-ms": "42",
            "openai-version": "2020-10-01",
            "x-ratelimit-limit-requests": "10000",
            "x-ratelimit-remaining-requests": "9999",
        }
    return headers | {
        "request-id": request_id,
        "anthropic-ratelimit-requests-limit": "1000",
        "anthropic-ratelimit-requests-remaining": "999",
    }


def _error(
    vendor: str, status: int, headers: dict[str, str], model: str = "", message: str = ""
) -> _Reply:
    """Provider-shaped error body; `message` overrides the per-status template."""
    retry = status in (429, 500)
    # retry-after: 0 is ignored by the SDKs (they need > 0); retry-after-ms keeps tests fast.
    extra = {"retry-after": "0", "retry-after-ms": "10"} if retry else {}
    headers = headers | extra | {"x-should-retry": "true" if retry else "false"}
    if vendor == "openai":
        kind, param, code, template = _OPENAI_ERRORS[status]
        if message:
            param, code = None, None
        text = message or template.format(model=model)
        err = {"message": text, "type": kind, "param": param, "code": code}
        return _Reply(status, headers, body={"error": err})
    kind, template = _ANTHROPIC_ERRORS[status]
    err = {"type": kind, "message": message or template.format(model=model)}
    return _Reply(
        status, headers, body={"type": "error", "error": err, "request_id": headers["request-id"]}
    )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive + chunked streaming
    # Small writes go out at once: with Nagle and delayed ACKs each call waited ~40 ms.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep pytest output clean

    def setup(self) -> None:
        super().setup()
        provider = cast(_Server, self.server).provider
        with provider._lock:
            provider._connections.add(self.connection)

    def finish(self) -> None:
        provider = cast(_Server, self.server).provider
        with provider._lock:
            provider._connections.discard(self.connection)
        super().finish()

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        raw = self.rfile.read(int(headers.get("content-length") or 0))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        provider = cast(_Server, self.server).provider
        reply = provider._handle(self.command, self.path, headers, body)
        try:
            delay = max(0.0, float(headers.get("x-fake-delay-ms", 0)) / 1000)
        except ValueError:
            delay = 0.0
        try:
            if reply.ndjson is not None:
                frames = [json.dumps(line).encode() + b"\n" for line in reply.ndjson]
                self._send_frames(replace(reply, frames=frames), "application/x-ndjson")
            elif reply.frames is not None:
                self._send_frames(reply)
            elif reply.events is None:
                self._send_json(reply, delay, "gzip" in headers.get("accept-encoding", ""))
            else:
                self._send_events(reply, delay)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # client went away mid-stream

    def _start(self, reply: _Reply, content_type: str) -> None:
        self.send_response(reply.status)
        self.send_header("content-type", content_type)
        for name, value in reply.headers.items():
            self.send_header(name, value)

    def _send_json(self, reply: _Reply, delay: float, use_gzip: bool) -> None:
        data = json.dumps(reply.body).encode()
        time.sleep(delay)
        self._start(reply, "application/json")
        if use_gzip:
            data = gzip.compress(data, mtime=0)
            self.send_header("content-encoding", "gzip")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_frames(self, reply: _Reply, kind: str = fake_bedrock.CONTENT_TYPE) -> None:
        self._start(reply, kind)
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for payload in reply.frames or []:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(payload), payload))  # one chunk per frame
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _send_events(self, reply: _Reply, delay: float) -> None:
        self._start(reply, "text/event-stream; charset=utf-8")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for name, data in reply.events or []:
            time.sleep(delay)
            text = data if isinstance(data, str) else json.dumps(data)
            event = (f"event: {name}\n" if reply.sse_named else "") + f"data: {text}\n\n"
            payload = event.encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(payload), payload))  # one chunk per event
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
