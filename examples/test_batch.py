"""The batch answers every document, each with its own summary, in order."""

from __future__ import annotations

import asyncio

from batch import summarise_all

DOCUMENTS = [
    "The city council approved a new bike lane along the river, to open next spring.",
    "Quarterly revenue rose 12 percent, driven by subscriptions in Europe.",
    "The library will extend its opening hours during the exam period.",
    "A storm is expected on Friday; ferries may be cancelled.",
    "The bakery on Main Street now sells gluten-free bread on weekends.",
]


def test_each_document_gets_its_own_summary(llm, async_openai_client):
    summaries = asyncio.run(summarise_all(async_openai_client, DOCUMENTS, limit=2))

    assert len(summaries) == len(DOCUMENTS) == len(llm.calls)
    by_document = {c.request["messages"][1]["content"]: c.text for c in llm.calls}
    assert summaries == [by_document[d] for d in DOCUMENTS]
    assert all(s.strip() for s in summaries)
