"""Cassettes written by cassetter (a vcrpy replacement), as vcrpy's layout, for the importer.

cassetter keeps vcrpy's `version: 1` / `interactions` shape but types each body: in YAML
`body: {type: json | text | binary | none, content: ...}` (JSON structured, SSE as text,
binary as hex), in TOML `body_type` / `body_content` beside the headers (JSON as a string,
since TOML has no null). The status is a bare integer. This module turns one such record into
the vcrpy record the importer already reads, so both formats have one conversion.
"""

from __future__ import annotations

import json
import tomllib
from typing import Any

_TYPES = frozenset({"json", "text", "binary", "none"})


class CassetterFormatError(ValueError):
    """A cassetter body that cannot be decoded; the message says which part and why."""


def parse_toml(text: str) -> Any:
    """A TOML cassette as data; raises CassetterFormatError with the line where known."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CassetterFormatError(f"not valid TOML ({exc})") from None


def is_cassetter(record: Any) -> bool:
    """Whether a record is cassetter's (a typed body) rather than vcrpy's."""
    if not isinstance(record, dict):
        return False
    parts = [record.get("request"), record.get("response")]
    return any(isinstance(part, dict) and _typed(part) is not None for part in parts)


def to_vcrpy(record: dict[str, Any]) -> dict[str, Any]:
    """The vcrpy record of a cassetter one: bodies as bytes, the status as vcrpy nests it."""
    request = dict(record.get("request") or {})
    response = dict(record.get("response") or {})
    request["body"] = _bytes(request, "request")
    response["body"] = {"string": _bytes(response, "response")}
    for name in ("body_type", "body_content"):
        request.pop(name, None)
        response.pop(name, None)
    status = response.get("status")
    if not isinstance(status, dict):
        response["status"] = {"code": status, "message": ""}
    return {"request": request, "response": response}


def _typed(part: dict[str, Any]) -> tuple[str, Any] | None:
    """(type, content) of a typed body, or None when the body is vcrpy's."""
    body = part.get("body")
    if isinstance(body, dict) and body.get("type") in _TYPES and set(body) <= {"type", "content"}:
        return str(body["type"]), body.get("content")
    if part.get("body_type") in _TYPES:
        return str(part["body_type"]), part.get("body_content")
    return None


def _bytes(part: dict[str, Any], name: str) -> bytes | None:
    typed = _typed(part)
    if typed is None:
        body = part.get("body")
        return body if isinstance(body, bytes | None) else str(body).encode()
    kind, content = typed
    if kind == "none" or content is None:
        return None
    if kind == "binary":
        try:
            return bytes.fromhex(str(content))
        except ValueError:
            raise CassetterFormatError(f"the {name}'s binary body is not hex") from None
    if kind == "json" and not isinstance(content, str):
        return json.dumps(content, ensure_ascii=False).encode()
    return str(content).encode()  # text, or JSON that TOML keeps as a string
