"""The record path against a live server, opt-in: `pytest examples -m live`.

CI only replays. This test records afresh each time (into cassettes/live/, which git ignores)
so the recording side is exercised against a real server when one is at hand.
"""

from __future__ import annotations

import pytest
from router import CHEAP, answer


@pytest.mark.live
@pytest.mark.llm(record="all", cassette="live/router")
def test_a_live_answer_is_recorded(llm, live_openai_client):
    text = answer(live_openai_client, "What is the capital of France?")

    call = llm.calls[0]
    assert text and call.text == text
    assert not call.replayed and call.model == CHEAP
    assert call.usage.total_tokens > 0 and call.latency_s > 0
    assert llm.cassette_path.parts[-2:] == ("live", "router.yaml")
