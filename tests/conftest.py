"""Shared fixtures: a fake provider on loopback and an environment for inner pytest runs."""

from __future__ import annotations

import contextlib
import importlib
import pkgutil
from collections.abc import Iterator

# Imported here so inner pytester runs find them loaded: pytester drops the modules an
# inner run imports, and importing the SDKs again would cost seconds per run.
import anthropic
import httpx
import openai
import pytest

# PyYAML's C loader is an extension module that a second import does not rebuild: loaded
# first inside an inner run, its parser would build nodes of the dropped `yaml` module and
# the next inner run could not read any cassette ("no constructor for the tag None").
import yaml  # noqa: F401

with contextlib.suppress(ImportError):  # an optional SDK (sdk-range may run without it)
    from google import genai as _genai  # noqa: F401
from fake_provider import FakeProvider
from kit import with_keys
from tool_server import ToolServer

import pytest_llm

# The whole package too, for the same reason: a package keeps the attribute of a submodule
# that pytester dropped, so `from pytest_llm.cassettes import in_place` in a later inner
# run found the old module, which raised an old CassetteError that the plugin's fresh
# `pytest_llm.errors` did not catch (a broken cassette errored instead of failing its test).
for _module in pkgutil.walk_packages(pytest_llm.__path__, "pytest_llm."):
    if not _module.name.endswith("__main__"):
        importlib.import_module(_module.name)


@pytest.fixture(autouse=True)
def _lean_inner_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner pytester runs skip hypothesis' pytest plugin: its end-of-run work costs ~2 s each."""
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:hypothesispytest")


@pytest.fixture(scope="session", autouse=True)
def _load_lazy_modules() -> None:
    """Make every kind of call once before any inner pytester run.

    The SDKs and httpcore import modules on first use. pytester removes what an inner
    run imported, so a module first imported there is imported again later, and its
    exception classes stop matching the ones other modules hold.
    """
    import asyncio

    with FakeProvider() as server:
        messages = [{"role": "user", "content": "warm up"}]
        oa = openai.OpenAI(base_url=server.openai_base_url, api_key="k")
        oa.chat.completions.create(model="m", messages=messages)
        list(oa.chat.completions.create(model="m", messages=messages, stream=True))
        oa.responses.create(model="m", input="x")
        list(oa.responses.create(model="m", input="x", stream=True))
        oa.embeddings.create(model="m", input="x")
        an = anthropic.Anthropic(base_url=server.anthropic_base_url, api_key="k")
        an.messages.create(model="m", max_tokens=5, messages=messages)
        with an.messages.stream(model="m", max_tokens=5, messages=messages) as stream:
            stream.get_final_message()
        an.messages.count_tokens(model="m", messages=messages)
        httpx.post(server.openai_base_url + "/embeddings", json={"model": "m", "input": "x"})

        async def calls() -> None:
            client = openai.AsyncOpenAI(base_url=server.openai_base_url, api_key="k")
            await client.chat.completions.create(model="m", messages=messages)
            async_an = anthropic.AsyncAnthropic(base_url=server.anthropic_base_url, api_key="k")
            async with async_an.messages.stream(
                model="m", max_tokens=5, messages=messages
            ) as stream:
                await stream.get_final_message()
            async with httpx.AsyncClient() as client_x:
                await client_x.post(server.openai_base_url + "/embeddings", json={"model": "m"})

        asyncio.run(calls())


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    """A fake OpenAI + Anthropic server of the test's own, so it can be stopped."""
    with FakeProvider() as server:
        yield server


@pytest.fixture
def tool(monkeypatch: pytest.MonkeyPatch) -> Iterator[ToolServer]:
    """A tool server of the test's own, so it can be stopped; inner runs find it at TOOL_URL."""
    with ToolServer() as server:
        monkeypatch.setenv("TOOL_URL", server.url)
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
