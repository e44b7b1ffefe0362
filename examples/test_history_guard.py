"""A long session stays inside its token budget, counted offline, and still gets an answer."""

from __future__ import annotations

import pytest
from history_guard import MODEL, PROMPT_BUDGET, SYSTEM, reply, trim

from pytest_llm import assert_fits_context, count_tokens

BOOKS = ["Dune", "Emma", "Ulysses", "Beloved", "Middlemarch", "Kindred", "Persuasion"]


def long_session(turns: int) -> list[dict[str, str]]:
    history = [{"role": "system", "content": SYSTEM}]
    for n in range(turns):
        book = BOOKS[n % len(BOOKS)]
        history.append({"role": "user", "content": f"Do you have {book} in paperback? ({n})"})
        history.append(
            {"role": "assistant", "content": f"Yes, {book} is in stock in paperback, shelf {n}."}
        )
    history.append({"role": "user", "content": "Can you hold the last one for me until Friday?"})
    return history


def test_the_guard_keeps_the_system_prompt_and_the_newest_turns():
    history = long_session(600)
    assert count_tokens(history, MODEL) > 16_385  # more than gpt-3.5-turbo's whole window
    with pytest.raises(AssertionError, match=r"exceeds the 16,385-token window of gpt-3\.5-turbo"):
        assert_fits_context(history, "gpt-3.5-turbo", reserve_output_tokens=80)

    trimmed = trim(history)

    assert count_tokens(trimmed, MODEL) <= PROMPT_BUDGET
    assert trimmed[0]["role"] == "system"
    assert trimmed[-1] == history[-1]  # the question being asked survives
    assert trimmed[1:] == history[-(len(trimmed) - 1) :]  # newest turns, in order
    assert trimmed[1]["role"] == "user"  # no answer left without its question
    assert_fits_context(trimmed, "gpt-3.5-turbo", reserve_output_tokens=80)


def test_the_model_is_asked_with_the_trimmed_history(llm, openai_client):
    history = long_session(60)

    assert reply(openai_client, history)

    sent = llm.calls[0].request["messages"]
    assert len(sent) < len(history)
    assert count_tokens(sent, MODEL) <= PROMPT_BUDGET
    # The offline count is what the application relies on; the recorded usage is what the
    # serving model billed (its own tokenizer: see examples/README.md).
    assert llm.calls[0].usage.input_tokens > 0
