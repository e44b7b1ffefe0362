"""The checks of a parsed cassette: its shape, its version, and each interaction's parts.

Whichever reader parsed the file, these run on the result before anything replays it, so a
hand edit that the replay path would trip over is one CassetteError naming the file, the
line (when the reader knows it) and the interaction.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_llm.cassettes.format import FORMAT_VERSION, RESTORE
from pytest_llm.errors import CassetteError

# The line of a part of the document (`version`, `interactions`, `#0`...), None when unknown.
LineOf = Callable[[str], int | None]


def interactions(document: Any, path: Path, line: LineOf) -> list[dict[str, Any]]:
    """The checked interactions of a parsed document; CassetteError for anything unexpected."""
    if document is None:
        return []
    if not isinstance(document, dict) or not isinstance(document.get("interactions", []), list):
        raise CassetteError(
            path,
            "expected a mapping with an 'interactions' list",
            line=line("interactions"),
            fix="for a vcrpy / pytest-recording cassette, convert it with: pytest-llm import FILE",
        )
    version = document.get("version")
    if type(version) is not int or version != FORMAT_VERSION:  # `true == 1` in Python
        raise CassetteError(
            path,
            f"unknown cassette format version {version!r} (this pytest-llm reads {FORMAT_VERSION})",
            line=line("version"),
            fix="upgrade pytest-llm, or re-record the cassette",
        )
    items: list[dict[str, Any]] = document.get("interactions") or []
    for number, interaction in enumerate(items):
        problem = check_interaction(interaction)
        if problem:
            raise CassetteError(
                path,
                f"interaction #{number}: {problem}",
                line=line(f"#{number}"),
                fix=RESTORE,
            )
    return items


_NUMBER = (int, float)


def _is_number(value: Any) -> bool:
    return isinstance(value, _NUMBER) and not isinstance(value, bool)


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "text", bool: "a boolean"}.get(
        type(value), "nothing" if value is None else type(value).__name__
    )


def check_interaction(interaction: Any) -> str:
    """What the replay path would trip over in one interaction ("" when nothing)."""
    if not isinstance(interaction, dict):
        return f"expected a mapping, found {_kind(interaction)}"
    request, response = interaction.get("request"), interaction.get("response")
    if not isinstance(request, dict):
        return f"request must be a mapping, found {_kind(request)}"
    plain = interaction.get("provider") == "http"  # a tool or an image: bodies may be text
    problem = _check_plain_request(request) if plain else _check_llm_request(request)
    if problem:
        return problem
    if not isinstance(response, dict):
        return f"response must be a mapping, found {_kind(response)}"
    status = response.get("status")
    if type(status) is not int:
        return f"response.status must be the HTTP status (an integer), found {status!r}"
    for part, parts in (("request", request), ("response", response)):
        if not isinstance(parts.get("headers") or {}, dict):
            return f"{part}.headers must be a mapping"
        for field in ("text", "base64") if plain else ():
            if not isinstance(parts.get(field, ""), str):
                return f"{part}.{field} must be text"
    if "events" in response and not plain:
        events = response["events"]
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            return "response.events must be a list of mappings (one per stream event)"
        if "final" not in response:
            return "response.final is missing (the message assembled from the events)"
    if not isinstance(response.get("text", ""), str):
        return "response.text must be text"
    for field in ("latency_s", "ttft_s"):
        value = interaction.get(field)
        if value is not None and not _is_number(value):
            return f"{field} must be a number of seconds, found {value!r}"
    for field in ("key", "test", "provider", "model", "served_model", "recorded_at"):
        value = interaction.get(field)
        if value is not None and not isinstance(value, str):
            return f"{field} must be text, found {value!r}"
    return ""


def _check_llm_request(request: dict[str, Any]) -> str:
    if not isinstance(request.get("path"), str):
        return f"request.path must be the URL path (text), found {_kind(request.get('path'))}"
    if not isinstance(request.get("body"), dict):
        return "request.body must be the decoded JSON request (a mapping)"
    if not isinstance(request.get("query", ""), str):
        return "request.query must be text"
    return ""


def _check_plain_request(request: dict[str, Any]) -> str:
    for field in ("method", "url"):
        if not isinstance(request.get(field), str):
            return f"request.{field} must be text, found {_kind(request.get(field))}"
    return ""
