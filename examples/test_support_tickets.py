"""The ticket extractor keeps its JSON contract and its token budget."""

from __future__ import annotations

import jsonschema
import pytest
from support_tickets import TICKET_SCHEMA, extract_ticket

MESSAGES = [
    "I was charged twice for my subscription this month. Please refund one payment.",
    "My parcel was supposed to arrive last Tuesday and the tracking page has not changed.",
    "I can't log in since I changed my phone; the verification code never arrives.",
]


@pytest.mark.parametrize("message", MESSAGES, ids=["billing", "shipping", "account"])
def test_ticket_matches_the_schema(llm, openai_client, message):
    ticket = extract_ticket(openai_client, message)

    jsonschema.validate(ticket, TICKET_SCHEMA)
    assert ticket["summary"].strip()
    call = llm.calls[0]
    assert call.request["response_format"]["type"] == "json_schema"
    assert call.usage.total_tokens < 400  # the prompt must stay cheap
