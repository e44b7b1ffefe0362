"""Record test_notes_agent.py against tests/fake_provider.py, not a model.

The small local model the other examples were recorded with does not call tools reliably, so
this cassette holds the fake provider's scripted answers (served_model says so), while the
notes MCP server and the `today` tool run for real. Against a real provider,
`examples/record.sh examples/test_notes_agent.py` records it like the others.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fake_provider import FakeProvider  # noqa: E402

# What a model with tools might ask, turn by turn, then its answer.
ANSWERS = [
    'tool:search_notes {"query": "release"}',
    'tool:read_note {"note_id": 2}',
    "tool:today {}",
    "Release 2.4 ships on Thursday; the changelog is in docs/changes.md.",
]

if __name__ == "__main__":
    os.chdir(ROOT)
    with FakeProvider() as server:
        server.served_suffix = "-fake-provider"
        server.script("gpt-4o-mini", ANSWERS)
        os.environ["OPENAI_BASE_URL"] = server.openai_base_url
        os.environ["OPENAI_API_KEY"] = "fake-provider-key"
        args = ["examples/test_notes_agent.py", "--llm-record=rewrite", "-p", "no:randomly"]
        sys.exit(pytest.main(args + sys.argv[1:]))
