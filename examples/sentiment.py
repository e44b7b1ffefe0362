"""Label a customer review positive, negative or neutral, with a model sampled at 0.8."""

from __future__ import annotations

import openai

LABELS = ("positive", "negative", "neutral")
MODEL = "gpt-4o-mini"
_PROMPT = (
    "Classify the sentiment of the customer review. "
    "Answer with one word: positive, negative or neutral."
)


def classify(client: openai.OpenAI, review: str) -> str:
    """The review's label, or "unknown" when the model answered something else."""
    reply = client.chat.completions.create(
        model=MODEL,
        temperature=0.8,  # the product wants varied wording elsewhere; labels pay for it here
        max_tokens=5,
        messages=[
            {"role": "system", "content": _PROMPT},
            {"role": "user", "content": review},
        ],
    )
    word = (reply.choices[0].message.content or "").strip().strip(".!").lower()
    return word if word in LABELS else "unknown"
