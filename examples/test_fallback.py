"""Retry and fallback, provoked on demand with injected faults and replayed offline."""

from __future__ import annotations

import anthropic
import pytest
from fallback import FALLBACK, PRIMARY, AllProvidersDown, answer

QUESTION = "Do you sell gift cards?"


def test_the_primary_model_answers_when_it_is_up(llm, openai_client, anthropic_client):
    reply = answer(openai_client, anthropic_client, QUESTION)

    assert reply.model == PRIMARY
    assert [c.model for c in llm.calls] == [PRIMARY]


@pytest.mark.llm_faults("rate_limit", times=2, model=PRIMARY)
def test_two_rate_limits_are_absorbed_by_the_sdk_retries(llm, openai_client, anthropic_client):
    reply = answer(openai_client, anthropic_client, QUESTION)

    assert reply.model == PRIMARY
    assert [c.fault for c in llm.calls] == ["rate_limit", "rate_limit", None]


@pytest.mark.llm_faults("rate_limit", "server_error", "rate_limit", model=PRIMARY)
def test_a_primary_that_stays_down_falls_back_to_anthropic(llm, openai_client, anthropic_client):
    reply = answer(openai_client, anthropic_client, QUESTION)

    assert reply.model == FALLBACK
    assert reply.text
    assert [(c.model, c.fault) for c in llm.calls] == [
        (PRIMARY, "rate_limit"),
        (PRIMARY, "server_error"),
        (PRIMARY, "rate_limit"),
        (FALLBACK, None),
    ]
    assert llm.calls[-1].provider == "anthropic"


@pytest.mark.llm_faults("timeout", times=3, model=PRIMARY)
@pytest.mark.llm_faults("overloaded", times=3, provider="anthropic")
def test_when_both_are_down_the_caller_gets_one_clear_error(llm, openai_client, anthropic_client):
    with pytest.raises(AllProvidersDown, match=r"APITimeoutError.*OverloadedError") as raised:
        answer(openai_client, anthropic_client, QUESTION)

    assert isinstance(raised.value.__cause__, anthropic.OverloadedError)
    assert [c.fault for c in llm.calls] == ["timeout"] * 3 + ["overloaded"] * 3
