"""Value types shared by the provider readers and the llm fixture."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one call or a sum of calls; input includes cached input."""

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.total_tokens + other.total_tokens,
            self.cached_tokens + other.cached_tokens,
        )

    def as_dict(self) -> dict[str, int]:
        """The counts as a plain mapping (for cassettes and reports)."""
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "total_tokens": self.total_tokens,
            "cached_tokens": self.cached_tokens,
        }


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool call the model asked for.

    `arguments` is the decoded JSON (None when the model wrote invalid JSON);
    `arguments_json` is the text as the model wrote it.
    """

    id: str
    name: str
    arguments: Any
    arguments_json: str


def as_int(value: Any) -> int:
    """An integer count from a JSON value that may be missing or null."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
