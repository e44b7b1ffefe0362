"""Turn a customer's message into a support ticket with OpenAI structured output."""

from __future__ import annotations

import json
from typing import Any

import openai

TICKET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "category": {"type": "string", "enum": ["billing", "shipping", "account", "other"]},
        "urgency": {"type": "string", "enum": ["low", "normal", "high"]},
        "summary": {"type": "string"},
    },
    "required": ["category", "urgency", "summary"],
    "additionalProperties": False,
}

INSTRUCTIONS = (
    "You file support tickets. Read the customer's message and answer with the ticket as JSON: "
    "its category (billing, shipping, account or other), its urgency (low, normal or high) "
    "and a one-sentence summary."
)


def extract_ticket(client: openai.OpenAI, message: str) -> dict[str, Any]:
    """The ticket for one customer message."""
    reply = client.chat.completions.create(
        model="gpt-4o-mini",
        temperature=0,
        seed=42,
        max_tokens=200,
        messages=[
            {"role": "system", "content": INSTRUCTIONS},
            {"role": "user", "content": message},
        ],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "ticket", "schema": TICKET_SCHEMA, "strict": True},
        },
    )
    ticket: dict[str, Any] = json.loads(reply.choices[0].message.content or "{}")
    return ticket
