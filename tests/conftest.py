"""Shared fixtures: a fake provider on loopback and an environment for inner pytest runs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

# Imported here so inner pytester runs find them loaded: pytester drops the modules an
# inner run imports, and importing the SDKs again would cost seconds per run.
import anthropic  # noqa: F401
import httpx  # noqa: F401
import openai  # noqa: F401
import pytest
from fake_provider import FakeProvider

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"

# Planted credentials: tests check that none of them reaches a file.
OPENAI_KEY = "sk-proj-planted-openai-key-0123456789"
ANTHROPIC_KEY = "sk-ant-planted-anthropic-key-0123456789"


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    """A fake OpenAI + Anthropic server of the test's own, so it can be stopped."""
    with FakeProvider() as server:
        yield server


@pytest.fixture
def inner_env(provider: FakeProvider, monkeypatch: pytest.MonkeyPatch) -> FakeProvider:
    """Point inner test runs at the fake provider, with no API key in the environment."""
    monkeypatch.setenv("FAKE_OPENAI_BASE_URL", provider.openai_base_url)
    monkeypatch.setenv("FAKE_ANTHROPIC_BASE_URL", provider.anthropic_base_url)
    monkeypatch.setenv("FAKE_URL", provider.url)
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    with_keys(monkeypatch)
    return provider


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
