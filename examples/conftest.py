"""Clients for the examples: built as an application would, from the environment.

Replay needs nothing set. Recording reads OPENAI_BASE_URL / ANTHROPIC_BASE_URL and the
keys, so the same tests record against a local server or a real provider
(see examples/README.md).
"""

from __future__ import annotations

import os
import urllib.request

import anthropic
import openai
import pytest

LIVE_SERVER = os.environ.get("LLM_SERVER", "http://127.0.0.1:8089")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "live: records against a live server; opt in with `pytest examples -m live`"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    live = [item for item in items if item.get_closest_marker("live")]
    if not live:
        return
    if "live" not in (config.getoption("markexpr") or ""):
        reason = "opt-in: `pytest examples -m live` with a server at $LLM_SERVER"
    elif not _server_up():
        reason = f"no live server answers at {LIVE_SERVER} (set LLM_SERVER)"
    else:
        return
    for item in live:
        item.add_marker(pytest.mark.skip(reason=reason))


def _server_up() -> bool:
    try:
        with urllib.request.urlopen(LIVE_SERVER + "/health", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


@pytest.fixture
def live_openai_client() -> openai.OpenAI:
    """A client of the live server (llama-server by default) for the opt-in live tests."""
    key = os.environ.get("OPENAI_API_KEY") or "local-server-key"
    return openai.OpenAI(base_url=LIVE_SERVER + "/v1", api_key=key)


@pytest.fixture
def openai_client() -> openai.OpenAI:
    """The application's OpenAI client."""
    return openai.OpenAI()


@pytest.fixture
def async_openai_client() -> openai.AsyncOpenAI:
    """The application's async OpenAI client."""
    return openai.AsyncOpenAI()


@pytest.fixture
def anthropic_client() -> anthropic.Anthropic:
    """The application's Anthropic client."""
    return anthropic.Anthropic()
