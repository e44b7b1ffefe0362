"""Clients for the examples: built as an application would, from the environment.

Replay needs nothing set. Recording reads OPENAI_BASE_URL / ANTHROPIC_BASE_URL and the
keys, so the same tests record against a local server or a real provider
(see examples/README.md).
"""

from __future__ import annotations

import anthropic
import openai
import pytest


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
