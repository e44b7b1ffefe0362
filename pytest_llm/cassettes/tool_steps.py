"""Tool steps in a cassette: MCP requests (`provider: mcp`) and `pytest_llm.tool` functions
(`provider: function`), stored beside the model's calls.

Their entries have the shape of a model call's (a request with a `path` and a decoded `body`,
a response with a `status`), so every reader of cassettes (load checks, `ls`, `show`, prune)
takes them as they are: `path` is the MCP method or the function's qualified name, `body` the
params or the arguments.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from pytest_llm._version import __version__

MCP = "mcp"
FUNCTION = "function"
TOOL_PROVIDERS = (MCP, FUNCTION)


def is_tool_step(interaction: dict[str, Any]) -> bool:
    """Whether a stored interaction is an MCP request or a tool function, not a model call."""
    return interaction.get("provider") in TOOL_PROVIDERS


def canonical_json(value: Any) -> str:
    """The one JSON text of a value: key order and whitespace do not matter."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def key_params(params: Any) -> Any:
    """MCP params as the key sees them: `_meta` (progress tokens, which are request ids) out."""
    if isinstance(params, dict):
        return {k: v for k, v in params.items() if k != "_meta" and v is not None}
    return params if params is not None else {}


def tool_key(provider: str, where: str, name: str, body: Any) -> str:
    """The key of a tool step: provider, server (MCP) or function, method, canonical body.

    JSON-RPC ids and session ids are in no part of it: they change every run.
    """
    canonical = canonical_json([provider, where, name, body])
    return hashlib.sha256(canonical.encode()).hexdigest()[:20]


def stored_tool_key(interaction: dict[str, Any]) -> str:
    """The key of a stored tool step, recomputed from what it stores."""
    request = interaction.get("request") or {}
    provider = str(interaction.get("provider", ""))
    body = request.get("body")
    if provider == MCP:
        body = key_params(body)
    where = str(interaction.get("server", "")) if provider == MCP else ""
    return tool_key(provider, where, str(request.get("path", "")), body)


def _entry(provider: str, test: str, **facts: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"key": "", "provider": provider}
    entry.update({k: v for k, v in facts.items() if v is not None})
    entry["recorded_at"] = datetime.now(UTC).isoformat(timespec="microseconds")
    entry["versions"] = {"pytest_llm": __version__}
    if test:
        entry["test"] = test
    return entry


def function_interaction(
    qualname: str, name: str, arguments: dict[str, Any], result: Any, test: str, latency_s: float
) -> dict[str, Any]:
    """The cassette entry of one call of a `pytest_llm.tool` function."""
    entry = _entry(FUNCTION, test, tool=name, latency_s=round(latency_s, 4))
    entry["request"] = {"path": qualname, "body": arguments}
    entry["response"] = {"status": 200, "body": result}
    entry["key"] = stored_tool_key(entry)
    return entry


def mcp_interaction(
    server: str,
    method: str,
    params: Any,
    answer: dict[str, Any],
    messages: list[dict[str, Any]],
    test: str,
    latency_s: float,
) -> dict[str, Any]:
    """The cassette entry of one MCP request: `answer` is the JSON-RPC response (its `result`
    or `error` is kept, not its id); `messages` what the server sent before it (progress,
    logs, its own requests)."""
    tool = params.get("name") if method == "tools/call" and isinstance(params, dict) else None
    entry = _entry(MCP, test, server=server, tool=tool, latency_s=round(latency_s, 4))
    entry["request"] = {"path": method, "body": params if params is not None else {}}
    response: dict[str, Any] = {"status": 200}
    if "error" in answer:
        response["error"] = answer["error"]
    else:
        response["body"] = answer.get("result")
    if messages:
        response["messages"] = messages
    entry["response"] = response
    entry["key"] = stored_tool_key(entry)
    return entry
