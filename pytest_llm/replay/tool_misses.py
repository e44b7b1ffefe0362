"""The message of a tool step with no recording: an MCP request or a `pytest_llm.tool` call."""

from __future__ import annotations

from typing import Any

from pytest_llm.cassettes.cassette import Cassette
from pytest_llm.errors import display
from pytest_llm.replay.misses import differences
from pytest_llm.replay.settings import RecordMode, Settings


def tool_miss_message(
    what: str,
    shown: list[str],
    asked: dict[str, Any],
    candidates: list[tuple[int, dict[str, Any]]],
    cassette: Cassette,
    settings: Settings,
    *,
    times_recorded: int,
) -> str:
    """`what` names the kind ("MCP request", "tool call"); `shown` its lines; `asked` and each
    candidate's fields (position in the cassette, fields) are compared as `$.path` lines."""
    lines = [f"pytest-llm: no recording of this {what} in {display(cassette.path)}"]
    lines += [f"  {line}" for line in shown]
    if times_recorded:
        lines.append(
            f"  this exact {what} was recorded {times_recorded} time(s) and asked "
            f"{times_recorded + 1} times"
        )
    elif not cassette.existed:
        lines.append("  the cassette does not exist yet")
    else:
        best: tuple[int, list[str]] | None = None
        for position, recorded in candidates:
            diff = differences(recorded, asked)
            if best is None or len(diff) < len(best[1]):
                best = (position, diff)
        if best is None:
            lines.append(f"  the cassette has no {what} to compare with")
        else:
            lines.append(f"  nearest recorded {what} (interaction #{best[0]}) differs in:")
            lines += [f"    {line}" for line in best[1]]
    mode = RecordMode.ONCE if not cassette.existed else RecordMode.NEW_EPISODES
    lines.append(f"  record it with: {settings.record_command} --llm-record={mode.value}")
    return "\n".join(lines)
