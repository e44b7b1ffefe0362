"""The canonical key that finds a recorded interaction for a live request."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

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


def parse_match_on(names: Iterable[str]) -> frozenset[str]:
    """Validate `match_on` names; ValueError lists the valid ones."""
    chosen = frozenset(str(n).strip() for n in names if str(n).strip())
    unknown = sorted(chosen - VALID_MATCH_ON)
    if unknown:
        raise ValueError(
            f"unknown match_on field(s) {', '.join(map(repr, unknown))}; "
            f"valid: {', '.join(sorted(VALID_MATCH_ON))}"
        )
    if not chosen:
        raise ValueError(f"match_on is empty; valid fields: {', '.join(sorted(VALID_MATCH_ON))}")
    return chosen


def _normalize(value: Any) -> Any:
    # 1 and 1.0 mean the same temperature; JSON encoders disagree on how to write them.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _normalize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalize(v) for v in value]
    return value


def key_fields(
    endpoint: Endpoint, body: dict[str, Any], match_on: frozenset[str]
) -> dict[str, Any]:
    """The parts of a request body that its key is made of, by field group."""
    fields: dict[str, Any] = {"endpoint": f"{endpoint.provider}.{endpoint.operation}"}
    prompt: dict[str, Any] = {}
    for name, value in body.items():
        if name in IGNORED_FIELDS:
            continue
        if name in ("model", "stream"):
            if name in match_on:
                fields[name] = value
        elif name in SAMPLING_FIELDS:
            if "sampling" in match_on or name in match_on:
                fields[name] = value
        elif "prompt" in match_on:
            prompt[name] = value
    if "stream" in match_on:
        fields["stream"] = bool(body.get("stream"))
    if prompt:
        fields["prompt"] = prompt
    return _normalize(fields)  # type: ignore[no-any-return]


def make_key(endpoint: Endpoint, body: dict[str, Any], match_on: frozenset[str]) -> str:
    """A short stable digest of the key fields: key order and JSON whitespace do not matter."""
    canonical = json.dumps(
        key_fields(endpoint, body, match_on),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:20]
