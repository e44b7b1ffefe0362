"""pytest-llm: record and replay OpenAI and Anthropic SDK calls in pytest.

The public names load on first use (PEP 562): pytest imports this package for the plugin in
every run, and a project that never calls an assertion should not pay for importing them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from pytest_llm._version import __version__

if TYPE_CHECKING:
    from pytest_llm.calls import LLM, LLMCall
    from pytest_llm.checks.budget import assert_token_budget
    from pytest_llm.checks.drift import assert_no_drift
    from pytest_llm.checks.json_schema import assert_json_schema
    from pytest_llm.checks.similarity import assert_similar
    from pytest_llm.checks.tokens import assert_fits_context, count_tokens
    from pytest_llm.checks.trajectory import ANY, assert_no_tool_call, assert_tool_calls
    from pytest_llm.errors import CassetteError
    from pytest_llm.replay.tools import tool
    from pytest_llm.usage import ToolCall, Usage

__all__ = [
    "ANY",
    "LLM",
    "CassetteError",
    "LLMCall",
    "ToolCall",
    "Usage",
    "__version__",
    "assert_fits_context",
    "assert_json_schema",
    "assert_no_drift",
    "assert_no_tool_call",
    "assert_similar",
    "assert_token_budget",
    "assert_tool_calls",
    "count_tokens",
    "tool",
]

_HOMES = {
    "ANY": "pytest_llm.checks.trajectory",
    "LLM": "pytest_llm.calls",
    "LLMCall": "pytest_llm.calls",
    "CassetteError": "pytest_llm.errors",
    "ToolCall": "pytest_llm.usage",
    "Usage": "pytest_llm.usage",
    "assert_fits_context": "pytest_llm.checks.tokens",
    "assert_json_schema": "pytest_llm.checks.json_schema",
    "assert_no_drift": "pytest_llm.checks.drift",
    "assert_no_tool_call": "pytest_llm.checks.trajectory",
    "assert_tool_calls": "pytest_llm.checks.trajectory",
    "assert_similar": "pytest_llm.checks.similarity",
    "assert_token_budget": "pytest_llm.checks.budget",
    "count_tokens": "pytest_llm.checks.tokens",
    "tool": "pytest_llm.replay.tools",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'pytest_llm' has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
