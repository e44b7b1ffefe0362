"""MCP traffic of a test, recorded and replayed message by message (JSON-RPC 2.0).

One `McpLink` stands for one connection to one server (a spawned stdio process, or a
streamable HTTP endpoint). Recording, it sees every message in both directions and stores
each request with its answer as a `provider: mcp` interaction. Replaying, it answers the
client's requests from the cassette, by server, method and canonical params: JSON-RPC ids,
progress tokens and session ids are in no key, and the answer carries the id asked now.
The transports (`mcp_stdio`, `mcp_http`) only move bytes to and from it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_llm.cassettes.tool_steps import MCP, is_tool_step, key_params, mcp_interaction, tool_key
from pytest_llm.errors import ReplayMiss
from pytest_llm.replay.tool_misses import tool_miss_message

if TYPE_CHECKING:
    from pytest_llm.replay.recorder import Recorder

# What a JSON-RPC error of a replay miss says in its code: the SDK raises it at once, and the
# test fails with the whole message even if the application swallows the error.
MISS_CODE = -32603


@dataclass
class _Pending:
    method: str
    params: Any
    start: float = field(default_factory=time.perf_counter)
    messages: list[dict[str, Any]] = field(default_factory=list)
    known: bool = False  # already in the cassette (record mode new_episodes)


def _is_request(message: dict[str, Any]) -> bool:
    return "method" in message and "id" in message


def _progress_token(params: Any) -> Any:
    meta = params.get("_meta") if isinstance(params, dict) else None
    return meta.get("progressToken") if isinstance(meta, dict) else None


class McpLink:
    """One connection of the test to an MCP server, identified by `server` (the command and
    its arguments, or the URL)."""

    def __init__(self, recorder: Recorder, server: str, secrets: list[str] | None = None) -> None:
        self.recorder = recorder
        self.server = server
        if secrets:  # what the server was given (its environment): never written
            recorder.scrubber.remember(secrets)
        self._pending: dict[Any, _Pending] = {}
        self._last: _Pending | None = None

    # --- recording: every message, both ways ----------------------------------------------

    def from_client(self, message: Any) -> None:
        """A message the client sent to the live server."""
        if isinstance(message, dict) and _is_request(message):
            method, params = str(message["method"]), message.get("params")
            pending = _Pending(method, params)
            # Record mode new_episodes keeps what is recorded: only new requests are stored.
            known = self.recorder.decide_tool(self.key(method, params), lambda _: "")
            pending.known = known is not None
            self._pending[message["id"]] = self._last = pending

    def from_server(self, message: Any) -> None:
        """A message the live server sent: an answer is recorded with its request, anything
        else (progress, logs, the server's own requests) kept with the request in flight."""
        if not isinstance(message, dict):
            return
        if "method" not in message and ("result" in message or "error" in message):
            pending = self._pending.pop(message.get("id"), None)
            if pending is not None and not pending.known:
                self._record(pending, message)
            return
        in_flight = self._last if self._last in self._pending.values() else None
        if in_flight is not None:
            in_flight.messages.append(message)

    def _record(self, pending: _Pending, answer: dict[str, Any]) -> None:
        recorder = self.recorder
        secrets = recorder.scrubber.secrets_in([], "")
        params = recorder.scrubber.body(_without_ids(pending.params), secrets)
        interaction = mcp_interaction(
            self.server,
            pending.method,
            params,
            recorder.scrubber.body({k: v for k, v in answer.items() if k != "id"}, secrets),
            [recorder.scrubber.body(m, secrets) for m in pending.messages],
            recorder.settings.test,
            time.perf_counter() - pending.start,
        )
        recorder.record_tool(interaction)

    # --- replaying: the cassette answers ---------------------------------------------------

    def key(self, method: str, params: Any) -> str:
        """The key of a request to this server."""
        secrets = self.recorder.scrubber.secrets_in([], "")
        stored = self.recorder.scrubber.body(_without_ids(params), secrets)
        return tool_key(MCP, self.server, method, key_params(stored))

    def answer(self, message: Any) -> list[dict[str, Any]]:
        """What the server would send back for one client message: for a request, the
        recorded messages then the recorded answer with this request's id; nothing for a
        notification or an answer to the server. A miss is a JSON-RPC error whose message is
        the miss message (raised at once by the SDK); the test fails with it either way."""
        if not isinstance(message, dict) or not _is_request(message):
            return []
        method, params = str(message["method"]), message.get("params")
        try:
            interaction = self.recorder.decide_tool(
                self.key(method, params), lambda times: self._miss(method, params, times)
            )
        except ReplayMiss as miss:
            error = {"code": MISS_CODE, "message": str(miss)}
            return [{"jsonrpc": "2.0", "id": message["id"], "error": error}]
        if interaction is None:  # new_episodes: not recorded yet; the caller goes live
            return []
        response = interaction["response"]
        recorded_token = _progress_token(interaction["request"].get("body"))
        token = _progress_token(params)
        sent = [_retoken(m, recorded_token, token) for m in response.get("messages") or []]
        answer: dict[str, Any] = {"jsonrpc": "2.0", "id": message["id"]}
        if "error" in response:
            answer["error"] = response["error"]
        else:
            answer["result"] = response.get("body")
        return [*sent, answer]

    def _miss(self, method: str, params: Any, times_recorded: int) -> str:
        recorder = self.recorder
        cassette = recorder.cassette
        candidates = [
            (position, _fields(i.get("server"), i["request"]["path"], i["request"].get("body")))
            for position, i in enumerate(cassette.interactions)
            if is_tool_step(i) and i.get("provider") == MCP
        ]
        same = [c for c in candidates if c[1]["method"] == method] or candidates
        shown = [f"server: {self.server}", f"request: {method}" + _tool_name(method, params)]
        return tool_miss_message(
            "MCP request",
            shown,
            _fields(self.server, method, _without_ids(params)),
            same,
            cassette,
            recorder.settings,
            times_recorded=times_recorded,
        )


def _fields(server: Any, method: str, params: Any) -> dict[str, Any]:
    return {"server": server, "method": method, "params": key_params(params)}


def _tool_name(method: str, params: Any) -> str:
    if method == "tools/call" and isinstance(params, dict):
        return f" {params.get('name')}"
    return ""


def _without_ids(params: Any) -> Any:
    """Params as stored: a progress token (the request's id) is kept only as a marker."""
    if not isinstance(params, dict) or "_meta" not in params:
        return params if params is not None else {}
    meta = {k: v for k, v in params["_meta"].items() if k != "progressToken"}
    if "progressToken" in params["_meta"]:
        meta["progressToken"] = "<token>"
    rest = {k: v for k, v in params.items() if k != "_meta"}
    return {**rest, "_meta": meta} if meta else rest


def _retoken(message: dict[str, Any], recorded: Any, now: Any) -> dict[str, Any]:
    """A recorded progress notification, addressed to the progress token asked now."""
    params = message.get("params")
    if now is None or not isinstance(params, dict) or "progressToken" not in params:
        return message
    if recorded not in (None, "<token>", params["progressToken"]):
        return message
    return {**message, "params": {**params, "progressToken": now}}
