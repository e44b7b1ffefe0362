"""vcrpy's way of matching a request to a recording, for tests written for pytest-recording.

vcrpy matches on parts of the request (by default method, scheme, host, port, path and query)
and never on the body. Each part becomes one field of a key, so a cassette is indexed once
like any other. Model calls are stored without their host (the same recording serves any base
URL), so for them scheme, host and port are left out of the key on both sides.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, parse_qsl, urlsplit

from pytest_llm.cassettes.plain_http import body_part, is_plain
from pytest_llm.keys import canonical_request, http_body_digest

DEFAULT_VCR_MATCH_ON = ("method", "scheme", "host", "port", "path", "query")
# vcrpy's built-in matchers (`url` is its old name of `uri`; `json_body` is cassetter's);
# `body`, `raw_body` and `json_body` compare the canonical body here.
KNOWN_MATCHERS = frozenset(
    {*DEFAULT_VCR_MATCH_ON, "uri", "url", "body", "raw_body", "json_body", "headers"}
)
_HOSTLESS = frozenset({"scheme", "host", "port"})
_BODY_MATCHERS = frozenset({"body", "raw_body", "json_body"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Framing headers differ between a live request and its stored form (bodies are decoded).
_FRAMING = frozenset({"content-type", "content-length", "transfer-encoding", "content-encoding"})


@dataclass(frozen=True, slots=True)
class VcrSpec:
    """The vcrpy matchers a test matches on: built-in ones make the key (see KNOWN_MATCHERS);
    `custom` ones (registered with register_matcher, or replacing a built-in) are then called
    on each recording of that key, with vcrpy Requests, as vcrpy calls them."""

    match_on: tuple[str, ...] = DEFAULT_VCR_MATCH_ON
    custom: tuple[str, ...] = ()

    @property
    def uses_body(self) -> bool:
        """Whether a built-in matcher looks at the body (vcrpy's default does not)."""
        return not _BODY_MATCHERS.isdisjoint(self.match_on)

    @property
    def uses_headers(self) -> bool:
        """Whether the `headers` matcher is on."""
        return "headers" in self.match_on

    @property
    def names(self) -> tuple[str, ...]:
        """Every matcher's name, for messages."""
        return (*self.match_on, *self.custom)

    @property
    def whole(self) -> bool:
        """Never the whole request: every model call answered this way is checked for staleness."""
        return False


@dataclass(frozen=True, slots=True)
class RequestView:
    """The parts of a request that vcrpy's matchers look at, in stored (scrubbed) form."""

    method: str
    url: str  # scheme://host[:port]/path?query, or only /path?query for a model call
    body: str  # canonical JSON, or a digest of a text or binary body
    headers: tuple[tuple[str, str], ...] = ()
    model_call: bool = False


def view_of_call(
    method: str,
    path: str,
    query: str,
    body: dict[str, Any],
    headers: dict[str, str],
    spec: VcrSpec | None = None,
) -> RequestView:
    """A model call (live or stored) as vcrpy's matchers see it; with `spec`, the body and
    headers only when its matchers look at them (every call and recording is viewed)."""
    canonical = (
        json.dumps(canonical_request(body), sort_keys=True, separators=(",", ":"))
        if spec is None or spec.uses_body
        else ""
    )
    return RequestView(
        method.upper(),
        path + (f"?{query}" if query else ""),
        canonical,
        _headers(headers) if spec is None or spec.uses_headers else (),
        model_call=True,
    )


def view_of_plain(
    method: str,
    url: str,
    stored_body: dict[str, Any],
    headers: dict[str, str],
    spec: VcrSpec | None = None,
) -> RequestView:
    """A plain HTTP request (live or stored) as vcrpy's matchers see it (see view_of_call)."""
    return RequestView(
        method.upper(),
        url,
        http_body_digest(stored_body) if spec is None or spec.uses_body else "",
        _headers(headers) if spec is None or spec.uses_headers else (),
    )


def view_of_interaction(interaction: dict[str, Any], spec: VcrSpec | None = None) -> RequestView:
    """A stored interaction's request as vcrpy's matchers see it (see view_of_call)."""
    request = interaction["request"]
    headers = (
        {str(k): str(v) for k, v in (request.get("headers") or {}).items()}
        if spec is None or spec.uses_headers
        else {}
    )
    if is_plain(interaction):
        return view_of_plain(
            str(request["method"]), str(request["url"]), body_part(request), headers, spec
        )
    path, _, inline_query = str(request["path"]).partition("?")
    return view_of_call(
        str(request.get("method") or "POST"),
        path,
        str(request.get("query") or inline_query),
        request["body"],
        headers,
        spec,
    )


def _headers(headers: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k.lower(), v) for k, v in headers.items() if k.lower() not in _FRAMING))


def _part(view: RequestView, matcher: str, parts: SplitResult) -> Any:
    if matcher == "method":
        return view.method
    if matcher == "scheme":
        return parts.scheme.lower()
    if matcher == "host":
        return (parts.hostname or "").lower()
    if matcher == "port":
        return parts.port or _DEFAULT_PORTS.get(parts.scheme.lower(), 0)
    if matcher == "path":
        return parts.path or "/"
    if matcher == "query":
        return sorted(parse_qsl(parts.query, keep_blank_values=True))
    if matcher in ("uri", "url"):
        return [_part(view, name, parts) for name in ("scheme", "host", "port", "path", "query")]
    if matcher in ("body", "raw_body", "json_body"):
        return view.body
    if matcher == "headers":
        return list(view.headers)
    return None  # a matcher we do not know is warned about, and matches everything


def vcr_key(view: RequestView, spec: VcrSpec) -> str:
    """The key of a request under vcrpy's matchers: equal keys match, as vcrpy's would."""
    parts = urlsplit(view.url)
    fields: list[Any] = ["call" if view.model_call else "http"]
    for matcher in spec.match_on:
        if view.model_call and matcher in _HOSTLESS:
            continue
        if view.model_call and matcher in ("uri", "url"):
            fields.append([_part(view, "path", parts), _part(view, "query", parts)])
            continue
        fields.append([matcher, _part(view, matcher, parts)])
    return "vcr:" + _KEY_JSON.encode(fields)


# Built once: json.dumps with options builds an encoder per call (every call and recording).
_KEY_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str)
