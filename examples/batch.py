"""Summarise many documents concurrently, never more than `limit` requests at a time."""

from __future__ import annotations

import asyncio

import openai


async def summarise_all(
    client: openai.AsyncOpenAI, documents: list[str], *, limit: int = 3
) -> list[str]:
    """One-line summaries, in the order of `documents`."""
    gate = asyncio.Semaphore(limit)

    async def summarise(document: str) -> str:
        async with gate:
            reply = await client.chat.completions.create(
                model="gpt-4o-mini",
                temperature=0,
                seed=42,
                max_tokens=60,
                messages=[
                    {"role": "system", "content": "Summarise the text in one short sentence."},
                    {"role": "user", "content": document},
                ],
            )
        return reply.choices[0].message.content or ""

    return await asyncio.gather(*(summarise(d) for d in documents))
