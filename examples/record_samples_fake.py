"""Record test_sentiment.py's five samples against tests/fake_provider.py, not a model.

No local model server could run where this example was written, so its cassette holds
scripted answers from the project's fake provider (served_model says so). Against a real
server or provider, `examples/record.sh examples/test_sentiment.py` records it like the others.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fake_provider import FakeProvider  # noqa: E402

# What a small model at temperature 0.8 might say about a mixed review, one answer per sample.
ANSWERS = ["Positive", "positive", "Neutral.", "positive", "Positive!"]

if __name__ == "__main__":
    os.chdir(ROOT)
    with FakeProvider() as server:
        server.served_suffix = "-fake-provider"
        server.script("gpt-4o-mini", ANSWERS)
        os.environ["OPENAI_BASE_URL"] = server.openai_base_url
        os.environ["OPENAI_API_KEY"] = "fake-provider-key"
        args = ["examples/test_sentiment.py", "--llm-record=rewrite", "-p", "no:randomly"]
        sys.exit(pytest.main(args + sys.argv[1:]))
