"""The message of a call that has no recording: what was asked, what is nearest, how to record."""

from __future__ import annotations

import json
import re
from typing import Any

from pytest_llm.cassettes.cassette import Cassette
from pytest_llm.errors import display
from pytest_llm.keys import key_fields
from pytest_llm.providers import Endpoint, recognize_path
from pytest_llm.replay.settings import RecordMode, Settings

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


def _json_path(deepdiff_path: str) -> str:
    # deepdiff writes root['messages'][0]['content']; people read $.messages[0].content
    return "$" + re.sub(r"\['([^'\]]*)'\]", r".\1", deepdiff_path.removeprefix("root"))


def differences(recorded: dict[str, Any], asked: dict[str, Any]) -> list[str]:
    """Field-by-field differences between two sets of key fields, as readable lines."""
    from deepdiff import DeepDiff  # imported on a miss only: it is slow to import

    diff = DeepDiff(recorded, asked, verbose_level=2, view="tree")
    lines: list[str] = []
    for change in diff.values():
        for level in change:
            path = _json_path(level.path())
            old, new = level.t1, level.t2
            if type(old).__name__ == "NotPresent":
                lines.append(f"{path}: not recorded, now {_short(new)}")
            elif type(new).__name__ == "NotPresent":
                lines.append(f"{path}: recorded {_short(old)}, now absent")
            else:
                lines.append(f"{path}: recorded {_short(old)}, now {_short(new)}")
    lines.sort()
    if len(lines) > _MAX_DIFFERENCES:
        lines = [*lines[:_MAX_DIFFERENCES], f"... and {len(lines) - _MAX_DIFFERENCES} more"]
    return lines


def _nearest(
    endpoint: Endpoint, asked: dict[str, Any], cassette: Cassette, match_on: frozenset[str]
) -> tuple[int, list[str]] | None:
    best: tuple[int, list[str]] | None = None
    for position, interaction in enumerate(cassette.interactions):
        request = interaction["request"]
        if recognize_path(str(request["path"]).split("?", 1)[0]) != endpoint:
            continue
        candidate = key_fields(endpoint, request["body"], match_on)
        lines = differences(candidate, asked)
        if best is None or len(lines) < len(best[1]):
            best = (position, lines)
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
) -> str:
    """Everything a person needs to understand and fix a replay miss."""
    asked = key_fields(endpoint, body, settings.match_on)
    lines = [f"pytest-llm: no recording for this call in {display(cassette.path)}"]
    fields = [f"{endpoint.provider} {endpoint.operation}", f"model={body.get('model')!r}"]
    fields += [f"{name}={body[name]!r}" for name in ("temperature", "seed") if name in body]
    fields.append(f"stream={bool(body.get('stream'))}")
    lines.append("  call: " + "  ".join(fields))
    if times_recorded:
        lines.append(
            f"  this exact call was recorded {times_recorded} time(s) and asked a "
            f"{_ordinal(times_recorded + 1)} time"
        )
    elif not cassette.existed:
        lines.append("  the cassette does not exist yet")
    else:
        nearest = _nearest(endpoint, asked, cassette, settings.match_on)
        if nearest is None:
            lines.append(f"  the cassette has no {endpoint.operation} call to compare with")
        else:
            position, diff = nearest
            lines.append(f"  nearest recorded request (interaction #{position}) differs in:")
            lines += [f"    {line}" for line in diff]
    mode = RecordMode.ONCE if not cassette.existed else RecordMode.NEW_EPISODES
    lines.append(f"  record it with: {settings.record_command} --llm-record={mode.value}")
    return "\n".join(lines)
