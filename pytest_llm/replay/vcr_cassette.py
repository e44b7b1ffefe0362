"""What pytest-recording's `vcr` fixture gives a marked test: vcrpy's `Cassette`, read-only.

Suites read it in autouse fixtures (`record_mode`, `all_played`, `play_counts`) and assert on
what was sent (`vcr.requests[0].body`). The object is a view of the test's recorder: `data` is
what the test's cassettes held when it started, in file order, then what it recorded; a replay
counts against the interaction that answered it. Requests are vcrpy's own `Request` objects.

vcrpy is imported when a test first reads its requests or asks `in`, not before: importing it
imports every HTTP library it can patch (requests, botocore, httpx, urllib3: 150 ms), which a
suite that only reads the record mode and play counts should not pay. An async test has it
imported when it starts (`preload`), so that nothing is imported on its event loop's thread.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from pytest_llm.cassettes.interaction import encode_json, replay_body, replay_events
from pytest_llm.cassettes.plain_http import body_part, decode_body, is_plain
from pytest_llm.replay.settings import RecordMode

# Where a model call went when the cassette does not say (model calls are stored without
# their host, so the same recording serves any base URL).
_PUBLIC_BASE = {
    "openai": "https://api.openai.com",
    "anthropic": "https://api.anthropic.com",
    "google": "https://generativelanguage.googleapis.com",
    "bedrock": "https://bedrock-runtime.us-east-1.amazonaws.com",
}
Matcher = Callable[[Any, Any], Any]


class CassetteRecordMode(str):
    """A record mode as suites compare it: equal to its string, to vcrpy's RecordMode member
    (itself a str) and to cassetter's (a plain Enum, compared by name)."""

    __slots__ = ()

    @property
    def value(self) -> str:
        """The mode's string, as on an Enum member."""
        return str(self)

    @property
    def name(self) -> str:
        """The member's name (NONE, ONCE...), as on an Enum member."""
        return str(self).upper()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, enum.Enum):
            value = other.value if isinstance(other.value, str) else other.name.lower()
            return str(self) == value
        return str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = str.__hash__

    def __repr__(self) -> str:
        return f"<RecordMode.{self.name}: {str(self)!r}>"


def vcr_record_mode(mode: RecordMode) -> CassetteRecordMode:
    """The record mode a `vcr` cassette reports; `rewrite` is `new_episodes`, as
    pytest-recording hands it to vcrpy (which has no rewrite). The other modes' values are
    vcrpy's own."""
    if mode is RecordMode.REWRITE:
        return CassetteRecordMode(RecordMode.NEW_EPISODES.value)
    return CassetteRecordMode(mode.value)


def preload() -> None:
    """Import what the view's requests and matchers need (see the module docstring)."""
    import vcr.matchers  # type: ignore[import-untyped]
    import vcr.request  # type: ignore[import-untyped]  # noqa: F401


def matcher_functions(names: list[str], custom: dict[str, Matcher]) -> tuple[Matcher, ...]:
    """vcrpy's functions for matcher names (cassetter's `json_body` is vcrpy's `body`), with
    the ones a conftest registered or replaced; unknown names are left out."""
    from vcr import VCR

    built_in = VCR().matchers
    known = {**built_in, "json_body": built_in["body"], **custom}
    return tuple(known[name] for name in names if name in known)


def _request_type() -> Any:
    from vcr.request import Request

    return Request


def vcr_request(interaction: dict[str, Any], base: str | None = None) -> Any:
    """A stored interaction's request as vcrpy's Request (body as bytes, headers a dict).

    A model call's URL is `base` (where the test sent it) or its provider's public URL.
    """
    request = interaction.get("request") or {}
    headers = {str(k): str(v) for k, v in (request.get("headers") or {}).items()}
    if is_plain(interaction):
        body = decode_body(body_part(request)) or None
        return _request_type()(
            str(request.get("method", "GET")), str(request.get("url", "")), body, headers
        )
    path = str(request.get("path", ""))
    query = str(request.get("query") or "")
    if base is None:
        base = _PUBLIC_BASE.get(str(interaction.get("provider")), "https://localhost")
    uri = base + path + (f"?{query}" if query and "?" not in path else "")
    if "body" in request and "content-type" not in {k.lower() for k in headers}:
        headers["content-type"] = "application/json"  # stored decoded: say what it was
    body = encode_json(request["body"]) if "body" in request else None
    return _request_type()(str(request.get("method") or "POST"), uri, body, headers)


def vcr_response(interaction: dict[str, Any]) -> dict[str, Any]:
    """A stored interaction's response as the dict vcrpy keeps (body bytes under `string`)."""
    response = interaction.get("response") or {}
    status = int(response.get("status", 200))
    if is_plain(interaction):
        content = decode_body(body_part(response))
    elif "events" in response:
        content = b"".join(replay_events(interaction))
    else:
        content = replay_body(interaction)
    try:
        message = HTTPStatus(status).phrase
    except ValueError:
        message = ""
    return {
        "status": {"code": status, "message": message},
        "headers": {str(k): [str(v)] for k, v in (response.get("headers") or {}).items()},
        "body": {"string": content},
    }


def base_of(url: str) -> str:
    """scheme://host[:port] of a URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def rebased(url: str, other: str) -> str:
    """`url` with the scheme, host and port of `other`."""
    return base_of(other) + url[len(base_of(url)) :]


class VcrCassette:
    """The read API of vcrpy's Cassette over one test's recorder (see the module docstring)."""

    def __init__(
        self,
        recorder: Any,
        path: str,
        mode: RecordMode,
        match_on: list[str],
        custom: dict[str, Matcher] | None = None,
        before_request: Callable[[Any], Any] | None = None,
    ) -> None:
        self._recorder = recorder
        self._path = path
        self.record_mode = vcr_record_mode(mode)
        self._match_on = match_on  # matcher names, with the conftest's own in `custom`
        self._custom = custom or {}
        self._matchers: tuple[Matcher, ...] | None = None  # their functions, at first use
        self._before_request = before_request
        self._loaded: list[dict[str, Any]] = list(recorder.loaded)

    @property
    def path(self) -> str:
        """The cassette file of the test."""
        return self._path

    def _interactions(self) -> list[dict[str, Any]]:
        return [*self._loaded, *self._recorder.stored]

    def _request(self, interaction: dict[str, Any]) -> Any:
        sent = self._recorder.sent_to.get(id(interaction))
        return vcr_request(interaction, base_of(sent) if sent else None)

    @property
    def data(self) -> list[tuple[Any, dict[str, Any]]]:
        """(request, response) pairs, as vcrpy holds them."""
        return [(self._request(i), vcr_response(i)) for i in self._interactions()]

    @property
    def requests(self) -> list[Any]:
        """The recorded requests (vcrpy Request objects), in file order, then new recordings."""
        return [self._request(i) for i in self._interactions()]

    @property
    def responses(self) -> list[dict[str, Any]]:
        """The recorded responses as vcrpy's dicts."""
        return [vcr_response(i) for i in self._interactions()]

    @property
    def play_counts(self) -> Counter[int]:
        """How many times each interaction (by index in `data`) answered a request."""
        where = {id(interaction): index for index, interaction in enumerate(self._interactions())}
        counts: Counter[int] = Counter()
        for interaction in self._recorder.played:
            index = where.get(id(interaction))
            if index is not None:
                counts[index] += 1
        return counts

    @property
    def play_count(self) -> int:
        """How many requests were answered from the cassette."""
        return sum(self.play_counts.values())

    @property
    def all_played(self) -> bool:
        """Whether every interaction in `data` answered a request (vcrpy's definition)."""
        return len(self.play_counts) == len(self)

    @property
    def write_protected(self) -> bool:
        """Whether the cassette takes no new recordings (vcrpy's definition)."""
        mode = self.record_mode
        return bool(mode == "none" or (mode == "once" and self._loaded))

    def __len__(self) -> int:
        return len(self._interactions())

    def __contains__(self, request: Any) -> bool:
        """Whether an unplayed recording matches `request`, with the test's matchers."""
        from vcr.matchers import requests_match

        if self._matchers is None:
            self._matchers = matcher_functions(self._match_on, self._custom)
        matchers = self._matchers
        if self._before_request is not None:
            request = self._before_request(request)
            if request is None:
                return False
        counts = self.play_counts
        for index, interaction in enumerate(self._interactions()):
            if counts[index]:
                continue
            recorded = self._request(interaction)
            if not is_plain(interaction):  # a model call's host is never part of its match
                recorded.uri = rebased(recorded.uri, request.uri)
            if requests_match(request, recorded, matchers):
                return True
        return False

    def __str__(self) -> str:
        return f"<Cassette containing {len(self)} recorded response(s)>"

    __repr__ = __str__
