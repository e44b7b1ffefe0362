"""The ticket extractor keeps its JSON contract and its token budget."""

from __future__ import annotations

import pytest
from support_tickets import TICKET_SCHEMA, extract_ticket

from pytest_llm import assert_json_schema, assert_token_budget

MESSAGES = [
    "I was charged twice for my subscription this month. Please refund one payment.",
    "My parcel was supposed to arrive last Tuesday and the tracking page has not changed.",
    "I can't log in since I changed my phone; the verification code never arrives.",
]


@pytest.mark.parametrize("message", MESSAGES, ids=["billing", "shipping", "account"])
def test_ticket_matches_the_schema(llm, openai_client, message):
    ticket = extract_ticket(openai_client, message)

    assert_json_schema(llm.calls[0])  # the schema the request declared
    assert_json_schema(ticket, TICKET_SCHEMA)  # and what the application returned
    assert ticket["summary"].strip()
    assert_token_budget(llm, max_total_tokens=400, max_cost_usd=0.0005)  # the prompt stays cheap
