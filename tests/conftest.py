"""Shared fixtures: a fake provider on loopback and an environment for inner pytest runs."""

from __future__ import annotations

import contextlib
import importlib
import os
import pkgutil
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

# Imported here so inner pytester runs find them loaded: pytester drops the modules an
# inner run imports, and importing the SDKs again would cost seconds per run.
import anthropic
import httpx
import loop_guard  # noqa: F401  # its audit hook is installed once, for inner runs to switch on
import openai
import pytest

# PyYAML's C loader is an extension module that a second import does not rebuild: loaded
# first inside an inner run, its parser would build nodes of the dropped `yaml` module and
# the next inner run could not read any cassette ("no constructor for the tag None").
import yaml  # noqa: F401

with contextlib.suppress(ImportError):  # an optional SDK (sdk-range may run without it)
    from google import genai as _genai  # noqa: F401
from fake_provider import FakeProvider
from kit import MCP_SERVER, MCP_TOKEN, with_keys
from tool_server import ToolServer

import pytest_llm

# LiteLLM fetches its price map from GitHub whenever it is imported, unless told to use its own
# copy. In-process inner runs drop it from sys.modules and its exit hook imports it again, after
# any per-test setting is gone: so the whole session says so.
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

if TYPE_CHECKING:
    from mcp_server import McpHttpServer

# The whole package too, for the same reason: a package keeps the attribute of a submodule
# that pytester dropped, so `from pytest_llm.cassettes import in_place` in a later inner
# run found the old module, which raised an old CassetteError that the plugin's fresh
# `pytest_llm.errors` did not catch (a broken cassette errored instead of failing its test).
for _module in pkgutil.walk_packages(pytest_llm.__path__, "pytest_llm."):
    if not _module.name.endswith("__main__"):
        importlib.import_module(_module.name)


@pytest.fixture(autouse=True)
def _lean_inner_runs(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner pytester runs skip hypothesis' pytest plugin (its end-of-run work costs ~2 s each)
    and cassetter's (a benchmark's side: its `--record-mode` clashes with pytest-recording's
    and with the vcr names pytest-llm serves)."""
    if "pytester" in request.fixturenames:
        request.getfixturevalue("pytester")  # it clears PYTEST_ADDOPTS as it starts
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:hypothesispytest -p no:cassetter")


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


@pytest.fixture
def calc_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`calc-mcp`, a command on PATH that runs the test MCP server over stdio."""
    folder = tmp_path / "bin"
    folder.mkdir()
    script = folder / "calc-mcp"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{MCP_SERVER}"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("CALC_TOKEN", MCP_TOKEN)
    return folder


@pytest.fixture
def mcp_http(monkeypatch: pytest.MonkeyPatch) -> Iterator[McpHttpServer]:
    """The test MCP server over streamable HTTP, found by inner runs at MCP_URL."""
    from mcp_server import McpHttpServer  # the mcp SDK is imported by the tests that use it

    with McpHttpServer() as server:
        monkeypatch.setenv("MCP_URL", server.url)
        monkeypatch.setenv("CALC_TOKEN", MCP_TOKEN)
        yield server
