"""pytest-llm: record and replay OpenAI and Anthropic SDK calls in pytest."""

from pytest_llm._version import __version__
from pytest_llm.budget import assert_token_budget
from pytest_llm.calls import LLM, LLMCall
from pytest_llm.errors import CassetteError
from pytest_llm.json_schema import assert_json_schema
from pytest_llm.tokens import assert_fits_context, count_tokens
from pytest_llm.usage import ToolCall, Usage

__all__ = [
    "LLM",
    "CassetteError",
    "LLMCall",
    "ToolCall",
    "Usage",
    "__version__",
    "assert_fits_context",
    "assert_json_schema",
    "assert_token_budget",
    "count_tokens",
]
