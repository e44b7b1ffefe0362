"""Send simple questions to a cheap model and hard ones to a strong model."""

from __future__ import annotations

import openai

CHEAP, STRONG = "gpt-4o-mini", "gpt-4.1"
_HARD_WORDS = ("why", "explain", "compare", "prove", "plan")


def pick_model(question: str) -> str:
    """The strong model for long or analytical questions, the cheap one otherwise."""
    lowered = question.lower()
    if len(question.split()) > 25 or any(word in lowered for word in _HARD_WORDS):
        return STRONG
    return CHEAP


def answer(client: openai.OpenAI, question: str) -> str:
    """The routed model's answer."""
    reply = client.chat.completions.create(
        model=pick_model(question),
        temperature=0,
        seed=42,
        max_tokens=120,
        messages=[{"role": "user", "content": question}],
    )
    return reply.choices[0].message.content or ""
