"""The canonical key that finds a recorded interaction for a live request."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeAlias
from urllib.parse import parse_qsl, urlencode, urlsplit

from pytest_llm.providers import Endpoint

# Fields that never change what the model answers (SPEC "Keys").
IGNORED_FIELDS = frozenset(
    {"user", "metadata", "store", "stream_options", "prompt_cache_key", "safety_identifier"}
)

SAMPLING_FIELDS = frozenset(
    {
        "temperature",
        "seed",
        "top_p",
        "top_k",
        "n",
        "max_tokens",
        "max_completion_tokens",
        "max_output_tokens",
        "stop",
        "stop_sequences",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "reasoning_effort",
        "verbosity",
        "thinking",
    }
)

GROUPS = frozenset({"model", "prompt", "stream", "sampling"})
VALID_MATCH_ON = GROUPS | SAMPLING_FIELDS
DEFAULT_MATCH_ON = GROUPS


def split_names(values: str | Iterable[str]) -> list[str]:
    """Names listed one per line, or on one line separated by spaces or commas."""
    if isinstance(values, str):
        values = [values]
    return [name for value in values for name in re.split(r"[\s,]+", str(value)) if name]


def parse_match_on(names: str | Iterable[str]) -> frozenset[str]:
    """Validate `match_on` names; ValueError lists the valid ones."""
    chosen = frozenset(split_names(names))
    unknown = sorted(chosen - VALID_MATCH_ON)
    if unknown:
        raise ValueError(
            f"unknown match_on field(s) {', '.join(map(repr, unknown))}; "
            f"valid: {', '.join(sorted(VALID_MATCH_ON))}"
        )
    if not chosen:
        raise ValueError(f"match_on is empty; valid fields: {', '.join(sorted(VALID_MATCH_ON))}")
    return chosen


# One step of an ignore path: a field name, a list index, or WILDCARD (any index or key).
Step: TypeAlias = str | int
WILDCARD = "*"
_STEP = re.compile(r"\.([A-Za-z0-9_\-]+|\*)|\[(\d+|\*)\]")
IGNORE_SYNTAX = (
    "write field names joined by dots, [N] or [*] for list items and * for any index or key, "
    "e.g. max_tokens, reasoning.summary, messages[*].content[*].cache_control"
)


def parse_path(text: str) -> tuple[Step, ...]:
    """The steps of a JSON path into a request body; ValueError explains the syntax."""
    rest = str(text).strip()
    # "$.a.b" as stale_diff lines write it, or "a.b": both start with a dot after the root.
    rest = rest[1:] if rest.startswith("$.") else "." + rest
    steps: list[Step] = []
    position = 0
    while position < len(rest):
        match = _STEP.match(rest, position)
        if match is None or (position == 0 and not match.group(0).startswith(".")):
            break
        name, index = match.groups()
        step = name if name is not None else index
        steps.append(WILDCARD if step == WILDCARD else int(step) if index else step)
        position = match.end()
    if not steps or position != len(rest):
        raise ValueError(f"{text!r} is not a JSON path into the request body: {IGNORE_SYNTAX}")
    return tuple(steps)


def format_path(steps: tuple[Step, ...]) -> str:
    """An ignore path as messages print it: `$.messages[*].content`."""
    text = "$"
    for step in steps:
        text += f"[{step}]" if isinstance(step, int) or step == WILDCARD else f".{step}"
    return text


def path_matches(body: Any, steps: tuple[Step, ...]) -> bool:
    """Whether `steps` name at least one field of `body` (an ignore path that names none is
    likely misspelt, or written against another layout)."""
    return bool(steps) and _without(body, steps) != body


def parse_ignore(paths: str | Iterable[str]) -> tuple[tuple[Step, ...], ...]:
    """Validate `ignore` paths (same list syntax as match_on); ValueError explains the syntax."""
    return tuple(dict.fromkeys(parse_path(path) for path in split_names(paths)))


@dataclass(frozen=True, slots=True)
class KeySpec:
    """How a request is keyed: the field groups it is matched on and the parts left out."""

    match_on: frozenset[str] = DEFAULT_MATCH_ON
    ignore: tuple[tuple[Step, ...], ...] = ()

    @property
    def whole(self) -> bool:
        """Whether the key covers the whole canonical request (no call can then be stale)."""
        return self.match_on >= GROUPS and not self.ignore


WHOLE = KeySpec()


def _without(value: Any, path: tuple[Step, ...]) -> Any:
    """`value` with the parts that `path` names left out (copied where it changes)."""
    step, rest = path[0], path[1:]
    if isinstance(value, dict):
        names = set(value) if step == WILDCARD else {step} & set(value)
        if not rest:
            return {k: v for k, v in value.items() if k not in names}
        return {k: _without(v, rest) if k in names else v for k, v in value.items()}
    if isinstance(value, list):
        if step == WILDCARD:
            places = set(range(len(value)))
        else:
            places = {step} if isinstance(step, int) and step < len(value) else set()
        if not rest:
            return [v for i, v in enumerate(value) if i not in places]
        return [_without(v, rest) if i in places else v for i, v in enumerate(value)]
    return value


def _normalize(value: Any) -> Any:
    # 1 and 1.0 mean the same temperature; JSON encoders disagree on how to write them.
    kind = type(value)
    if kind is str or kind is int or kind is bool:  # most of a request: nothing to do
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        # Both providers treat an explicit null as unset: an upgrade that starts or stops
        # sending nulls asks the same thing.
        return {k: _normalize(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_normalize(v) for v in value]
    return value


def canonical_request(body: dict[str, Any], ignore: tuple[tuple[Step, ...], ...] = ()) -> Any:
    """The request body as keys and staleness see it: nulls, noise and ignored parts left out."""
    for path in ignore:
        body = _without(body, path)
    canonical = _normalize({k: v for k, v in body.items() if k not in IGNORED_FIELDS})
    if not canonical.get("stream"):  # stream=false asks what an absent stream asks
        canonical.pop("stream", None)
    return canonical


def _spec(match_on: KeySpec | frozenset[str]) -> KeySpec:
    return match_on if isinstance(match_on, KeySpec) else KeySpec(match_on)


def key_fields(
    endpoint: Endpoint, body: dict[str, Any], match_on: KeySpec | frozenset[str]
) -> dict[str, Any]:
    """The parts of a request body that its key is made of, by field group."""
    spec = _spec(match_on)
    match_on = spec.match_on
    fields: dict[str, Any] = {"endpoint": f"{endpoint.provider}.{endpoint.operation}"}
    prompt: dict[str, Any] = {}
    canonical = endpoint.key_view(canonical_request(body, spec.ignore))
    for name, value in canonical.items():
        if name in ("model", "stream"):
            if name in match_on:
                fields[name] = value
        elif name in SAMPLING_FIELDS:
            if "sampling" in match_on or name in match_on:
                fields[name] = value
        elif "prompt" in match_on:
            prompt[name] = value
    if "stream" in match_on:
        fields["stream"] = bool(canonical.get("stream"))
    if prompt:
        fields["prompt"] = prompt
    return fields


def make_key(endpoint: Endpoint, body: dict[str, Any], match_on: KeySpec | frozenset[str]) -> str:
    """A short stable digest of the key fields: key order and JSON whitespace do not matter."""
    canonical = _KEY_JSON.encode(key_fields(endpoint, body, match_on))
    return hashlib.sha256(canonical.encode()).hexdigest()[:20]


# Built once: json.dumps with options builds an encoder per call, on every replayed call.
_KEY_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def canonical_url(url: str) -> str:
    """scheme://host:port/path?query with the port explicit and the parameters sorted."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    port = parts.port or _DEFAULT_PORTS.get(scheme, 0)
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return f"{scheme}://{host}:{port}{parts.path or '/'}" + (f"?{query}" if query else "")


def http_body_digest(stored: dict[str, Any]) -> str:
    """The canonical form of a stored plain-HTTP body: JSON canonicalised, else a hash."""
    if "body" in stored:
        return json.dumps(
            _normalize(stored["body"]), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
    if "text" in stored:
        return "sha256:" + hashlib.sha256(str(stored["text"]).encode()).hexdigest()
    if "base64" in stored:
        raw = base64.b64decode(str(stored["base64"]))
        return "sha256:" + hashlib.sha256(raw).hexdigest()
    return ""


def http_key(method: str, url: str, stored_body: dict[str, Any]) -> str:
    """The key of a plain HTTP request: method, canonical URL and canonical body."""
    canonical = f"{method.upper()} {canonical_url(url)}\n{http_body_digest(stored_body)}"
    return hashlib.sha256(canonical.encode()).hexdigest()[:20]
