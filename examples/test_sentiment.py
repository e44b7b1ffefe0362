"""A classifier sampled at temperature 0.8 gives no single answer: measure how often it is right."""

from __future__ import annotations

import pytest
from sentiment import classify

# Mixed, but a customer who would buy again: positive.
REVIEW = "The battery lasts two days, but the screen scratches easily. Still, I'd buy it again."


@pytest.mark.llm(samples=5, min_pass_rate=0.6)
def test_a_mixed_review_is_mostly_read_as_positive(llm, openai_client):
    label = classify(openai_client, REVIEW)
    assert label == "positive", f"sample {llm.sample} read the review as {label}"
