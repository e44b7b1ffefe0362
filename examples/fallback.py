"""Answer with the primary model; when it stays unavailable after the SDK's retries, fall back.

The OpenAI SDK retries rate limits and server errors on its own (twice by default). Only when
those retries are spent does this code move on to Anthropic, and only for errors a second
provider can fix: a bad request would fail there too.
"""

from __future__ import annotations

from dataclasses import dataclass

import anthropic
import openai

PRIMARY, FALLBACK = "gpt-4o-mini", "claude-haiku-4-5"
SYSTEM = "You answer customers of a bookshop in one or two sentences."
_UNAVAILABLE = (
    openai.RateLimitError,
    openai.InternalServerError,
    openai.APITimeoutError,
    openai.APIConnectionError,
)


class AllProvidersDown(RuntimeError):
    """Neither provider could answer."""


@dataclass(frozen=True)
class Answer:
    text: str
    model: str


def answer(primary: openai.OpenAI, fallback: anthropic.Anthropic, question: str) -> Answer:
    """The primary model's answer, or the fallback's when the primary is unavailable."""
    try:
        reply = primary.chat.completions.create(
            model=PRIMARY,
            temperature=0,
            max_tokens=80,
            messages=[
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": question},
            ],
        )
        return Answer(reply.choices[0].message.content or "", PRIMARY)
    except _UNAVAILABLE as primary_error:
        try:
            message = fallback.messages.create(
                model=FALLBACK,
                max_tokens=80,
                system=SYSTEM,
                messages=[{"role": "user", "content": question}],
            )
        except (anthropic.APIStatusError, anthropic.APIConnectionError) as fallback_error:
            raise AllProvidersDown(
                f"{PRIMARY}: {type(primary_error).__name__}; "
                f"{FALLBACK}: {type(fallback_error).__name__}"
            ) from fallback_error
        text = "".join(block.text for block in message.content if block.type == "text")
        return Answer(text, FALLBACK)
