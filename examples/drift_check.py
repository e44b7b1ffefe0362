"""Summaries of product reviews: the model we run today, and the candidate we may move to."""

from __future__ import annotations

import openai

CURRENT, CANDIDATE = "gpt-4o-mini", "gpt-4.1-mini"


def summarise(client: openai.OpenAI, review: str, model: str = CURRENT) -> str:
    """A one-sentence summary of a customer review."""
    answer = client.chat.completions.create(
        model=model,
        temperature=0,
        seed=42,
        max_tokens=60,
        messages=[
            {"role": "system", "content": "Summarise the customer review in one sentence."},
            {"role": "user", "content": review},
        ],
    )
    return answer.choices[0].message.content or ""
