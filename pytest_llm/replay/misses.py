"""The message of a call that has no recording: what was asked, what is nearest, how to record."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from pytest_llm.cassettes.cassette import Cassette
from pytest_llm.cassettes.plain_http import body_part, is_plain
from pytest_llm.keys import KeySpec, canonical_request, canonical_url, http_body_digest, key_fields
from pytest_llm.providers import Endpoint, endpoint_of
from pytest_llm.replay.json_diff import ABSENT, changes
from pytest_llm.replay.settings import RecordMode, Settings

if TYPE_CHECKING:
    from pytest_llm.calls import LLMCall

_MAX_VALUE = 120
_MAX_DIFFERENCES = 12
_ORDINALS = {1: "st", 2: "nd", 3: "rd"}


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = repr(text) if isinstance(value, str) else text
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 3] + "..."


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else _ORDINALS.get(n % 10, "th")
    return f"{n}{suffix}"


def differences(recorded: Any, asked: Any, *, limit: int | None = _MAX_DIFFERENCES) -> list[str]:
    """Field-by-field differences, as `$.path: recorded X, now Y` lines (at most `limit`)."""
    lines: list[str] = []
    for path, old, new in changes(recorded, asked):
        if old is ABSENT:
            lines.append(f"{path}: recorded absent, now {_short(new)}")
        elif new is ABSENT:
            lines.append(f"{path}: recorded {_short(old)}, now absent")
        else:
            lines.append(f"{path}: recorded {_short(old)}, now {_short(new)}")
    lines.sort()
    if limit is not None and len(lines) > limit:
        lines = [*lines[:limit], f"... and {len(lines) - limit} more"]
    return lines


def _keyed(endpoint: Endpoint, body: dict[str, Any], key: KeySpec) -> dict[str, Any]:
    """The keyed parts of a request body, laid out as the body is: a difference then reads
    `$.messages[1].content`, the path that `ignore=` takes, not the key's `$.prompt....`."""
    fields = key_fields(endpoint, body, key)
    fields.pop("endpoint", None)
    prompt = fields.pop("prompt", {})
    return {**prompt, **fields}


def _nearest(
    endpoint: Endpoint, asked: dict[str, Any], cassette: Cassette, key: KeySpec, ordinal: int
) -> tuple[int, list[str], bool] | None:
    """(position, differences, whether it is the recording at this call's place).

    The recording made at the same place in the test comes first: in a tool loop the
    second call is the second recording changed, not the first recording extended.
    """
    candidates = [
        position
        for position, interaction in enumerate(cassette.interactions)
        if not is_plain(interaction)
        and endpoint_of(str(interaction.get("provider", "")), str(interaction["request"]["path"]))
        == endpoint
    ]
    if ordinal < len(candidates):
        position = candidates[ordinal]
        body = cassette.interactions[position]["request"]["body"]
        return position, differences(_keyed(endpoint, body, key), asked), True
    best: tuple[int, list[str], bool] | None = None
    for position in candidates:
        body = cassette.interactions[position]["request"]["body"]
        lines = differences(_keyed(endpoint, body, key), asked)
        if best is None or len(lines) < len(best[1]):
            best = (position, lines, False)
        if len(lines) <= 1:
            break
    return best


def miss_message(
    endpoint: Endpoint,
    body: dict[str, Any],
    cassette: Cassette,
    settings: Settings,
    *,
    times_recorded: int,
    ordinal: int = 0,
    sampled: bool = False,
) -> str:
    """Everything a person needs to understand and fix a replay miss.

    `ordinal` is how many calls to this endpoint the test made before this one; `sampled`
    says the test runs llm(samples=N), whose missing samples new_episodes records alone.
    """
    asked = _keyed(endpoint, body, settings.key)
    changed = False  # a recording of this call exists, for a request that has changed
    lines = [f"pytest-llm: no recording for this call in {cassette.shown}"]
    view = endpoint.key_view(body)  # Gemini: model from the path, sampling lifted up
    fields = [f"{endpoint.provider} {endpoint.operation}", f"model={view.get('model')!r}"]
    fields += [f"{name}={view[name]!r}" for name in ("temperature", "seed") if name in view]
    fields.append(f"stream={bool(view.get('stream'))}")
    lines.append("  call: " + "  ".join(fields))
    if times_recorded:
        lines.append(
            f"  this exact call was recorded {times_recorded} time(s) and asked a "
            f"{_ordinal(times_recorded + 1)} time"
        )
    elif not cassette.existed:
        lines.append("  the cassette does not exist yet")
    else:
        nearest = _nearest(endpoint, asked, cassette, settings.key, ordinal)
        if nearest is None:
            lines.append(f"  the cassette has no {endpoint.operation} call to compare with")
        else:
            position, diff, in_place = nearest
            which = "nearest recorded request"
            if in_place and ordinal:
                which = f"the {_ordinal(ordinal + 1)} {endpoint.operation} call as recorded"
            if diff:
                lines.append(f"  {which} (interaction #{position}) differs in:")
                lines += [f"    {line}" for line in diff]
                # The recording at this call's place changed; a call past the recorded
                # ones is new, and new_episodes adds it beside them.
                changed = in_place and not sampled
            else:  # the same request, recorded for another sample of the test
                sample = cassette.interactions[position].get("sample")
                owner = f", recorded for sample {sample}" if sample is not None else ""
                lines.append(f"  {which} (interaction #{position}) is this same request{owner}")
            if diff and all(line.startswith("$.model:") for line in diff):
                recorded = cassette.interactions[position]["request"]["body"].get("model")
                lines += _model_lines(str(body.get("model")), str(recorded), settings)
    lines += _record_lines(settings, cassette, changed=changed)
    return "\n".join(lines)


def _model_lines(asked: str, recorded: str, settings: Settings) -> list[str]:
    """Only the model differs: most likely the cassette was re-recorded on a candidate with
    --llm-model, and recording the old model again is not what the user wants."""
    mapping = f"{asked}={recorded}"
    return [
        f"  only the model differs: the recording asks {recorded!r}, the code {asked!r} (as "
        f"after --llm-record=rewrite --llm-model {mapping})",
        f"    to keep {recorded!r}: change the model in the code, or replay with: "
        f"{settings.record_command} --llm-model {mapping}",
        f"    to go back to {asked!r}, re-record it as below",
    ]


def _record_lines(settings: Settings, cassette: Cassette, *, changed: bool) -> list[str]:
    """The command that records a missed call. When a recording of it exists for a request
    that changed, new_episodes would keep that one beside the new, unused, and --llm-strict
    would then fail the run on it: rewrite replaces the test's recordings instead."""
    if changed:
        return [
            f"  record it with: {settings.record_command} --llm-record={RecordMode.REWRITE.value}",
            "    (rewrite replaces this test's recordings; new_episodes would keep the old one "
            "beside the new, unused, which --llm-strict fails on until `pytest-llm prune`)",
        ]
    mode = RecordMode.ONCE if not cassette.existed else RecordMode.NEW_EPISODES
    return [f"  record it with: {settings.record_command} --llm-record={mode.value}"]


def stale_diff(recorded: dict[str, Any], sent: dict[str, Any]) -> list[str]:
    """How the whole canonical request now sent differs from the recorded one (empty if not).

    Nulls and absent fields count as the same here too: an upgrade that starts sending
    nulls asks the same thing and is not flagged.
    """
    before, now = canonical_request(recorded), canonical_request(sent)
    if _dumps(before) == _dumps(now):  # not ==: True == 1 in Python, not in a request
        return []
    return differences(before, now, limit=None)


def _dumps(value: Any) -> str:
    return _STABLE_JSON.encode(value)


# Built once: every call answered by a narrower key is compared (json.dumps with options
# would build an encoder per comparison).
_STABLE_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False, default=str)


def rerecord_command(record_command: str) -> str:
    """The command that re-records a test's stale calls (`all` replaces their recordings)."""
    return f"{record_command} --llm-record={RecordMode.ALL.value}"


def stale_message(calls: Iterable[LLMCall], record_command: str) -> str:
    """Why --llm-strict fails a test answered from stale recordings ("" when none was)."""
    stale = [call for call in calls if call.stale]
    if not stale:
        return ""
    lines = [
        f"pytest-llm: {len(stale)} call(s) answered from a stale recording (--llm-strict): "
        "the request the code sends now is not the one recorded"
    ]
    for call in stale:
        lines.append(f"  call {call.index}: {call.provider} {call.endpoint} model={call.model!r}")
        lines += [f"    {line}" for line in call.stale_diff[:_MAX_DIFFERENCES]]
        if len(call.stale_diff) > _MAX_DIFFERENCES:
            lines.append(f"    ... and {len(call.stale_diff) - _MAX_DIFFERENCES} more")
    lines.append(f"  re-record it with: {rerecord_command(record_command)}")
    return "\n".join(lines)


def _plain_fields(method: str, url: str, stored: dict[str, Any]) -> dict[str, Any]:
    parts = urlsplit(canonical_url(url))
    fields: dict[str, Any] = {
        "method": method.upper(),
        "url": f"{parts.scheme}://{parts.netloc}{parts.path}",
        "query": dict(parse_qsl(parts.query, keep_blank_values=True)),
    }
    if "body" in stored:
        fields["body"] = stored["body"]
    elif stored:
        fields["body"] = http_body_digest(stored)
    return fields


def plain_miss_message(
    method: str,
    url: str,
    stored_body: dict[str, Any],
    cassette: Cassette,
    settings: Settings,
    *,
    times_recorded: int,
    sampled: bool = False,
) -> str:
    """A plain HTTP request with no recording: what was asked, what is nearest, how to record."""
    lines = [f"pytest-llm: no recording for this HTTP request in {cassette.shown}"]
    best: tuple[int, list[str]] | None = None
    lines.append(f"  request: {method.upper()} {url}")
    if times_recorded:
        lines.append(
            f"  this exact request was recorded {times_recorded} time(s) and asked a "
            f"{_ordinal(times_recorded + 1)} time"
        )
    elif not cassette.existed:
        lines.append("  the cassette does not exist yet")
    else:
        asked = _plain_fields(method, url, stored_body)
        for position, interaction in enumerate(cassette.interactions):
            if not is_plain(interaction):
                continue
            request = interaction["request"]
            recorded = _plain_fields(
                str(request["method"]), str(request["url"]), body_part(request)
            )
            diff = differences(recorded, asked)
            if best is None or len(diff) < len(best[1]):
                best = (position, diff)
        if best is None:
            lines.append("  the cassette has no plain HTTP request to compare with")
        else:
            lines.append(f"  nearest recorded request (interaction #{best[0]}) differs in:")
            lines += [f"    {line}" for line in best[1]]
    # The same method and URL asked with another query or body is that recording changed;
    # another URL is a new request, which new_episodes records beside the others.
    changed = (
        best is not None
        and not sampled
        and not any(line.startswith(("$.method:", "$.url:")) for line in best[1])
    )
    lines += _record_lines(settings, cassette, changed=changed)
    lines.append(
        "  (or let this host through live: ini llm_passthrough_hosts; "
        "llm_record_http = false records model calls only)"
    )
    return "\n".join(lines)


def refused_message(host: str, settings: Settings, *, replaying: bool) -> str:
    """A passthrough host refused a connection: why it was not recorded, and the two fixes."""
    hosts = ", ".join(sorted(settings.passthrough_hosts)) or "(none)"
    lines = [
        f"pytest-llm: connection to {host} refused. Plain HTTP to this host is not recorded: "
        f"it passes through live because ini llm_passthrough_hosts lists it ({hosts})."
    ]
    if replaying:
        lines.append(
            "  in replay such a server must be running; to record its answers instead, set "
            "`llm_passthrough_hosts =` (empty) in the ini and record with:"
        )
        lines.append(f"    {settings.record_command} --llm-record={RecordMode.NEW_EPISODES.value}")
    else:
        lines.append(
            "  start that server before recording, or set `llm_passthrough_hosts =` (empty) "
            "so that its answers are recorded and replayed"
        )
    return "\n".join(lines)
