"""Before switching models: does the candidate say the same thing, at what cost?

This runs offline from recordings of both models. The full workflow re-records the whole
suite against the candidate and reports every change:

    pytest --llm-record=rewrite --llm-model gpt-4o-mini=gpt-4.1-mini --llm-report=drift.html
"""

from __future__ import annotations

import pytest
from drift_check import CANDIDATE, CURRENT, summarise

from pytest_llm import assert_no_drift, assert_similar

REVIEWS = [
    "The kettle boils fast and looks great, but the lid broke after two weeks.",
    "Delivery took a month and nobody answered my emails. I want my money back.",
]


@pytest.mark.parametrize("review", REVIEWS, ids=["kettle", "delivery"])
def test_the_candidate_keeps_the_meaning(llm, openai_client, review):
    today = summarise(openai_client, review, CURRENT)
    candidate = summarise(openai_client, review, CANDIDATE)

    assert_similar(candidate, today)
    assert_no_drift(llm.calls[1], llm.calls[0])
    current_call, candidate_call = llm.calls
    # The candidate's list price is higher per token: know what the switch costs.
    assert candidate_call.cost_usd > current_call.cost_usd
