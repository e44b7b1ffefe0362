"""A streaming chat turn with Anthropic: the text arrives piece by piece."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic

SYSTEM = "You are a friendly assistant for a bookshop. Answer in two or three sentences."


def stream_reply(client: anthropic.Anthropic, history: list[dict[str, str]]) -> Iterator[str]:
    """The assistant's next turn, yielded as the model writes it."""
    with client.messages.stream(
        model="claude-haiku-4-5",
        max_tokens=150,
        system=SYSTEM,
        messages=history,
    ) as stream:
        yield from stream.text_stream
