"""A pytest-recording test's vcr_config, as the recorder applies it (free of pytest).

`rules_from_config` checks the keys; the recorder then asks `VcrRules` which requests to leave
alone, how to key the others (vcrpy's matchers), and what to store.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_llm.cassettes.interaction import replay_body, replay_events
from pytest_llm.cassettes.plain_http import decode_body, encode_body, is_plain
from pytest_llm.cassettes.vcr_match import DEFAULT_VCR_MATCH_ON, KNOWN_MATCHERS, VcrSpec
from pytest_llm.providers import assemble_events
from pytest_llm.providers.sse import looks_like_sse, parse_sse
from pytest_llm.scrub import Filters

# The vcr_config keys that pytest-llm honours (SPEC, "Coming from pytest-recording").
HONOURED = frozenset(
    {
        "filter_headers",
        "filter_query_parameters",
        "filter_post_data_parameters",
        "match_on",
        "record_mode",
        "ignore_hosts",
        "ignore_localhost",
        "allowed_hosts",
        "before_record_request",
        "before_record_response",
        "decode_compressed_response",
        "serializer",
    }
)
_LOCALHOST = frozenset({"localhost", "127.0.0.1", "0.0.0.0", "::1"})
Hook = Callable[[Any], Any]
# A live request as a pytest-recording test's own matchers see it: method, URL, headers, body.
LiveRequest = tuple[str, str, list[tuple[str, str]], bytes | None]
# Picks, among recordings of a key, those the test's own matchers accept, in order.
Pairwise = Callable[[list[dict[str, Any]], LiveRequest], list[dict[str, Any]]]


@dataclass(frozen=True)
class VcrRules:
    """How one pytest-recording test's requests are matched, filtered and stored."""

    spec: VcrSpec = field(default_factory=VcrSpec)
    filters: Filters = field(default_factory=Filters)
    ignore_hosts: frozenset[str] = frozenset()
    allowed_hosts: tuple[str, ...] = ()
    before_request: Hook | None = None
    before_response: Hook | None = None
    # More cassettes to replay from (the marker's positional names); only the test's own
    # cassette is written.
    extra: tuple[Path, ...] = ()
    # vcrpy's Request, imported when the test starts (never in the middle of an async call)
    # for before_record_request to receive.
    request_type: Any = None
    # Matchers registered in pytest_recording_configure (or replacing built-in ones),
    # called on the recordings that the built-in matchers' key found.
    pairwise: Pairwise | None = None
    # Reads a cassette into vcrpy's layout with a serializer or persister registered in
    # pytest_recording_configure (None when the file is missing); None for vcrpy's own.
    document: Callable[[Path], Any] | None = None

    def ignores(self, host: str) -> bool:
        """Whether requests to `host` pass through live, never recorded nor replayed."""
        return host.strip("[]").lower() in self.ignore_hosts

    def seen(
        self, method: str, url: str, headers: list[tuple[str, str]], content: bytes
    ) -> tuple[str, list[tuple[str, str]], bytes] | None:
        """The request as vcr_config's before_record_request leaves it: URL, headers and body
        to match and store, or None when the hook drops it (it then passes through live)."""
        if self.before_request is None or self.request_type is None:
            return url, headers, content
        request = self.before_request(self.request_type(method, url, content, dict(headers)))
        if request is None:
            return None
        body = request.body if isinstance(request.body, bytes) else bytes(request.body or b"")
        return str(request.uri), [(str(k), str(v)) for k, v in request.headers.items()], body

    def stored(self, interaction: dict[str, Any]) -> dict[str, Any] | None:
        """A new recording as vcr_config's before_record_response leaves it; None when the
        hook drops it (the live answer is then used once and not stored)."""
        if self.before_response is None:
            return interaction
        response = interaction["response"]
        plain = is_plain(interaction)
        if plain:
            content = decode_body(response)
        elif "events" in response:
            content = b"".join(replay_events(interaction))
        else:
            content = replay_body(interaction)
        headers = {str(k): str(v) for k, v in (response.get("headers") or {}).items()}
        kept = self._kept_response(int(response["status"]), headers, content)
        if kept is None:
            return None
        status, headers, new = kept
        changed = {**response, "status": status, "headers": headers}
        if new != content:
            for name in ("body", "events", "final", "text", "base64"):
                changed.pop(name, None)
            if plain:
                changed.update(encode_body(new, headers.get("content-type", "")))
            else:
                changed.update(_decoded_answer(new))
            if "events" in changed:
                # The assembled message is stored next to the events: built again from
                # the new ones, or what the hook scrubbed out would stay in it.
                path = str(interaction.get("request", {}).get("path", ""))
                final = assemble_events(str(interaction.get("provider")), path, changed["events"])
                changed["final"] = final
        return {**interaction, "response": changed}

    def _kept_response(
        self, status: int, headers: Mapping[str, str], content: bytes
    ) -> tuple[int, dict[str, str], bytes] | None:
        assert self.before_response is not None
        response = {
            "status": {"code": status, "message": ""},
            "headers": {k: [v] for k, v in headers.items()},
            "body": {"string": content},
        }
        kept = self.before_response(response)
        if kept is None:
            return None
        code = kept.get("status", {}).get("code", status)
        body = kept.get("body", {}).get("string", b"")
        if isinstance(body, str):
            body = body.encode()
        pairs = {
            str(k): str(v[0] if isinstance(v, list) and v else v)
            for k, v in (kept.get("headers") or {}).items()
        }
        return int(code), pairs, bytes(body)


def rules_from_config(
    config: Mapping[str, Any],
    cassette_dir: Path,
    extra: tuple[str, ...] = (),
    matchers: Mapping[str, Callable[[Any, Any], Any]] | None = None,
) -> tuple[VcrRules, list[str]]:
    """The rules of a merged vcr_config, and the keys it has that pytest-llm does not honour.

    `matchers` are the ones pytest_recording_configure registered (or replaced), by name:
    they are called on each candidate recording (the caller sets `pairwise` for them).
    Raises ValueError naming the key for a value of the wrong shape.
    """
    unknown = sorted(str(k) for k in config if k not in HONOURED)
    match_on = config.get("match_on", DEFAULT_VCR_MATCH_ON)
    if isinstance(match_on, str) or not isinstance(match_on, list | tuple):
        raise ValueError(f"match_on={match_on!r}: expected a list of matcher names")
    names: list[str] = []
    custom: list[str] = []
    for name in match_on:
        if not isinstance(name, str):  # vcrpy itself takes only names here
            unknown.append(f"match_on={getattr(name, '__name__', repr(name))}")
        elif matchers and name in matchers:
            custom.append(name)
        elif name not in KNOWN_MATCHERS:
            unknown.append(f"match_on={name}")
        else:
            names.append(name)
    ignore_hosts = {str(h).lower() for h in config.get("ignore_hosts") or ()}
    if config.get("ignore_localhost"):
        ignore_hosts |= _LOCALHOST
    allowed = config.get("allowed_hosts") or ()
    if isinstance(allowed, str):
        allowed = allowed.split(",")
    for name in ("before_record_request", "before_record_response"):
        if config.get(name) is not None and not callable(config[name]):
            raise ValueError(f"{name}={config[name]!r}: expected a function")
    request_type: Any = None
    if config.get("before_record_request") is not None:
        from vcr.request import Request  # type: ignore[import-untyped]

        request_type = Request
    rules = VcrRules(
        spec=VcrSpec(tuple(names), tuple(custom)),
        request_type=request_type,
        filters=Filters(
            headers=_named(config, "filter_headers"),
            query=_named(config, "filter_query_parameters"),
            post_data=_named(config, "filter_post_data_parameters"),
        ),
        ignore_hosts=frozenset(ignore_hosts),
        allowed_hosts=tuple(str(h) for h in allowed),
        before_request=config.get("before_record_request"),
        before_response=config.get("before_record_response"),
        extra=tuple(
            Path(name) if Path(name).is_absolute() else cassette_dir / name for name in extra
        ),
    )
    return rules, unknown


def _named(config: Mapping[str, Any], key: str) -> dict[str, str | None]:
    """vcrpy's filter list: names to drop, or (name, value) pairs to store value instead."""
    found: dict[str, str | None] = {}
    for entry in config.get(key) or ():
        if isinstance(entry, str):
            found[entry] = None
        elif isinstance(entry, list | tuple) and len(entry) == 2 and isinstance(entry[0], str):
            name, value = entry
            if callable(value):
                raise ValueError(f"{key}: a function as the value of {name!r} is not supported")
            found[name] = None if value is None else _text(value)
        else:
            raise ValueError(f"{key}: {entry!r} is neither a name nor a (name, value) pair")
    return found


def _decoded_answer(content: bytes) -> dict[str, Any]:
    """A model answer's new bytes as the cassette keeps them: JSON, a stream, or text."""
    text = content.decode("utf-8", errors="replace")
    try:
        return {"body": json.loads(text) if text else None}
    except ValueError:
        pass
    if looks_like_sse(text):
        return {"events": parse_sse(text)}
    return {"text": text}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
