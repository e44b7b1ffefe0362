"""Keep a long conversation inside a token budget before every call.

A chat application appends every turn to the history it sends. Left alone, a long session
outgrows the model's context window (and costs more with every turn). The guard drops the
oldest turns, keeping the system prompt and the newest exchange, until the prompt fits, and it
counts offline with the same tokenizer the API bills with.
"""

from __future__ import annotations

import openai

from pytest_llm import count_tokens

MODEL = "gpt-4o-mini"
SYSTEM = "You are a helpful assistant for a bookshop. Answer in one or two sentences."
# The application's own ceiling: well inside the model's window, and cheap per turn.
PROMPT_BUDGET = 600


def trim(history: list[dict[str, str]], budget: int = PROMPT_BUDGET) -> list[dict[str, str]]:
    """The system prompt and the newest turns whose prompt fits `budget` tokens."""
    system = [m for m in history if m["role"] == "system"]
    turns = [m for m in history if m["role"] != "system"]
    while len(turns) > 1 and count_tokens(system + turns, MODEL) > budget:
        turns = turns[2:] if turns[0]["role"] == "user" and len(turns) > 2 else turns[1:]
    return system + turns


def reply(client: openai.OpenAI, history: list[dict[str, str]]) -> str:
    """The assistant's next turn, asked with the trimmed history."""
    answer = client.chat.completions.create(
        model=MODEL, temperature=0, seed=42, max_tokens=80, messages=trim(history)
    )
    return answer.choices[0].message.content or ""
