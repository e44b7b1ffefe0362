"""Each question reaches the model it should, and the cheap path stays cheap."""

from __future__ import annotations

import pytest
from router import CHEAP, STRONG, answer


def test_questions_reach_the_right_model(llm, openai_client):
    answer(openai_client, "What is the capital of France?")
    answer(openai_client, "Explain why the sky is blue to a ten-year-old.")

    assert [c.model for c in llm.calls] == [CHEAP, STRONG]
    assert all(c.text for c in llm.calls)
    cheap, strong = llm.calls
    assert cheap.usage.input_tokens < 60
    # What each path cost live, from recorded usage and the packaged prices.
    assert cheap.cost_usd is not None and strong.cost_usd is not None
    assert cheap.cost_usd < strong.cost_usd
    assert llm.cost_usd == pytest.approx(cheap.cost_usd + strong.cost_usd)
