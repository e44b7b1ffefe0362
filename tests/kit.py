"""Helpers for the tests: planted keys, the inner-test prelude, the corpus path.

They live here, not in conftest.py, because `examples/` has a conftest.py of its own and a
whole-repository run may import that one under the name `conftest`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_llm.keys import DEFAULT_MATCH_ON, make_key
from pytest_llm.providers import Endpoint

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"

# Planted credentials: tests check that none of them reaches a file.
OPENAI_KEY = "sk-proj-planted-openai-key-0123456789"
ANTHROPIC_KEY = "sk-ant-planted-anthropic-key-0123456789"
# The test MCP server (tests/mcp_server.py) and the token it is started with.
MCP_SERVER = Path(__file__).with_name("mcp_server.py")
MCP_TOKEN = "calc-token-planted-0123456789"


# The start of most inner test files: clients built at import time, and a one-line call.
INNER = """
import os
import anthropic
import openai
import pytest

oa = openai.OpenAI(base_url=os.environ["FAKE_OPENAI_BASE_URL"])
an = anthropic.Anthropic(base_url=os.environ["FAKE_ANTHROPIC_BASE_URL"])


def ask(prompt, model="gpt-4o-mini", **kwargs):
    messages = [{"role": "user", "content": prompt}]
    reply = oa.chat.completions.create(model=model, messages=messages, **kwargs)
    return reply.choices[0].message.content
"""


# The start of an inner test module written for pytest-recording: a client of the public API
# (the cassettes answer it), and a one-line chat call.
CHAT = """
client = openai.OpenAI(base_url="https://api.openai.com/v1")


def chat(prompt):
    reply = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}]
    )
    return reply.choices[0].message.content
"""


def sdks_send_through_httpx() -> bool:
    """Whether the installed SDKs are the older ones that send through `httpx`, not `httpx2`.

    Read from the public default client class, so scripts/sdk-range can run the suite on the
    oldest supported SDKs; a test whose premise is that `httpx` carries only the tools' traffic
    skips there.
    """
    import openai

    return any(
        base.__module__.split(".")[0] == "httpx" for base in openai.DefaultHttpxClient.__mro__
    )


def inner_file(pytester: pytest.Pytester, body: str, name: str = "test_app") -> Path:
    """Write an inner test module: the INNER prelude, then `body`."""
    import textwrap

    path: Path = pytester.makepyfile(**{name: INNER + textwrap.dedent(body)})
    return path


def with_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Recording needs keys: plant recognisable ones."""
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)


def without_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replay must work with no key at all."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)


def all_text(root: Path) -> str:
    """Every file under `root`, concatenated, for secret greps."""
    return "\n".join(p.read_text(errors="replace") for p in sorted(root.rglob("*")) if p.is_file())


def vcrpy_chat(prompt: str, answer: str, uri: str = "https://api.openai.com/v1/chat/completions"):
    """One chat completion exchange in vcrpy's format, as pytest-recording writes it."""
    import json

    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}]}
    reply = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }
    return {
        "request": {
            "body": json.dumps(body),
            "headers": {"content-type": ["application/json"]},
            "method": "POST",
            "uri": uri,
        },
        "response": {
            "body": {"string": json.dumps(reply)},
            "headers": {"Content-Type": ["application/json"]},
            "status": {"code": 200, "message": "OK"},
        },
    }


def write_vcrpy_cassette(path: Path, *interactions: dict) -> Path:
    """A cassette file in vcrpy's format holding `interactions`."""
    import yaml

    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"interactions": list(interactions), "version": 1}
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def interaction(prompt: str = "hi") -> dict[str, Any]:
    """A stored chat interaction as pytest-llm records it, its key computed."""
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}]}
    return {
        "key": make_key(Endpoint("openai", "chat.completions"), body, DEFAULT_MATCH_ON),
        "provider": "openai",
        "recorded_at": "2025-01-01T00:00:00.000000+00:00",
        "latency_s": 0.1,
        "request": {"method": "POST", "path": "/v1/chat/completions", "body": body},
        "response": {
            "status": 200,
            "body": {"choices": [{"message": {"role": "assistant", "content": "a\nb\n"}}]},
        },
    }
