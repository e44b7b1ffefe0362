"""The Gemini wire format of the `google-genai` SDK: Gemini Developer API and Vertex AI.

Both put the model and the method in the path, after any prefix:
`/v1beta/models/gemini-2.5-flash:generateContent` (Developer API),
`/v1beta1/projects/P/locations/L/publishers/google/models/M:streamGenerateContent` (Vertex),
`/v1beta1/publishers/google/models/M:countTokens` (Vertex express mode). Streams are SSE
(`?alt=sse`), each event a partial `GenerateContentResponse`.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from pytest_llm.providers.base import DeclaredSchema, Event, FaultAnswer, Provider, lift_sampling
from pytest_llm.usage import ToolCall, Usage, as_int

_METHODS = {
    "generateContent": "generate_content",
    "streamGenerateContent": "stream_generate_content",
    "countTokens": "count_tokens",
    "embedContent": "embed_content",
    "batchEmbedContents": "embed_content",
    "predict": "embed_content",  # Vertex's text-embedding models
}
# The model (or a tuned model's endpoint) and the method, at the end of the path.
_PATH = re.compile(r"/(?:models|endpoints)/([^/:]+):(\w+)$")

# generationConfig's sampling fields, under the names the key groups them by.
_SAMPLING = {
    "temperature": "temperature",
    "topP": "top_p",
    "topK": "top_k",
    "maxOutputTokens": "max_output_tokens",
    "seed": "seed",
    "stopSequences": "stop_sequences",
    "presencePenalty": "presence_penalty",
    "frequencyPenalty": "frequency_penalty",
    "candidateCount": "n",
    "responseLogprobs": "logprobs",
    "logprobs": "top_logprobs",
    "thinkingConfig": "thinking",
}


def _error(code: int, status: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status}}


def _parts(response: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The parts of the first candidate (what the SDK's `response.text` reads)."""
    candidates = response.get("candidates") or []
    first = candidates[0] if candidates and isinstance(candidates[0], Mapping) else {}
    content = first.get("content")
    if not isinstance(content, Mapping):
        return []
    return [p for p in content.get("parts") or [] if isinstance(p, Mapping)]


def _merge_candidate(into: dict[str, Any], chunk: Mapping[str, Any]) -> None:
    """Add one streamed candidate to the assembled one: text parts joined, others appended."""
    for key, value in chunk.items():
        if key != "content" and value is not None:
            into[key] = copy.deepcopy(value)
    content = chunk.get("content")
    if not isinstance(content, Mapping):
        return
    target = into.setdefault("content", {})
    if content.get("role"):
        target["role"] = content["role"]
    parts: list[dict[str, Any]] = target.setdefault("parts", [])
    for part in content.get("parts") or []:
        if not isinstance(part, Mapping):
            continue
        last = parts[-1] if parts else None
        # Consecutive text of the same kind (answer or thought) is one part, as unstreamed.
        joinable = (
            last is not None
            and isinstance(last.get("text"), str)
            and isinstance(part.get("text"), str)
            and bool(last.get("thought")) == bool(part.get("thought"))
            and set(part) <= {"text", "thought", "thoughtSignature"}
        )
        if joinable and last is not None:
            last["text"] += part["text"]
            if part.get("thoughtSignature"):
                last["thoughtSignature"] = part["thoughtSignature"]
        else:
            parts.append(copy.deepcopy(dict(part)))


def assemble_gemini(events: Iterable[Event]) -> dict[str, Any]:
    """Fold `streamGenerateContent` chunks into the `GenerateContentResponse` of one call."""
    result: dict[str, Any] = {}
    candidates: dict[int, dict[str, Any]] = {}
    for event in events:
        chunk = event.get("data")
        if not isinstance(chunk, Mapping):
            continue
        for key, value in chunk.items():
            if key != "candidates" and value is not None:
                result[key] = copy.deepcopy(value)  # usageMetadata: the last one is the total
        for position, candidate in enumerate(chunk.get("candidates") or []):
            if isinstance(candidate, Mapping):
                index = as_int(candidate.get("index")) or position
                _merge_candidate(candidates.setdefault(index, {}), candidate)
    if candidates:
        result = {"candidates": [candidates[i] for i in sorted(candidates)], **result}
    return result


def _schema_of(config: Mapping[str, Any], where: str) -> DeclaredSchema | None:
    for name in ("responseJsonSchema", "responseSchema", "response_json_schema"):
        schema = config.get(name)
        if isinstance(schema, Mapping):
            return DeclaredSchema(_json_schema(schema), f"{where}.{name}")
    return None


def _json_schema(schema: Any) -> Any:
    """Gemini's OpenAPI-style `Schema` (types in capitals, `nullable`) as a JSON Schema."""
    if isinstance(schema, list):
        return [_json_schema(item) for item in schema]
    if not isinstance(schema, Mapping):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, str):
            out[key] = value.lower()
        elif key in ("propertyOrdering", "nullable"):
            continue
        elif key == "properties" and isinstance(value, Mapping):
            out[key] = {name: _json_schema(sub) for name, sub in value.items()}
        elif key == "anyOf" or key in ("items", "additionalProperties"):
            out[key] = _json_schema(value)
        else:
            out[key] = copy.deepcopy(value)
    if schema.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


class Google(Provider):
    """`generate_content`, its stream, `count_tokens` and `embed_content` of `google-genai`."""

    name: ClassVar[str] = "google"
    secret_headers: ClassVar[frozenset[str]] = frozenset({"x-goog-api-key", "authorization"})
    secret_params: ClassVar[frozenset[str]] = frozenset({"key", "access_token"})
    key_env: ClassVar[str | None] = "GOOGLE_API_KEY"

    def operation(self, path: str) -> str | None:
        """The method after the model in the path (`:generateContent` ...)."""
        match = _PATH.search(path.rstrip("/"))
        if match is None:
            return None
        operation = _METHODS.get(match.group(2))
        # `:predict` is also every other Vertex model's method: only its publisher's models.
        if match.group(2) == "predict" and "/publishers/google/" not in path:
            return None
        return operation

    def recognize(self, path: str, body: Any) -> str | None:
        """By path alone: the model is in it, and the body is any JSON object."""
        return self.operation(path) if isinstance(body, dict) else None

    def model(self, path: str, body: Mapping[str, Any]) -> str:
        """The model named in the path."""
        match = _PATH.search(path.rstrip("/"))
        return match.group(1) if match else ""

    def key_view(self, operation: str, model: str, body: dict[str, Any]) -> dict[str, Any]:
        """The model from the path, whether it streams, and generationConfig's sampling
        fields lifted to the top under their usual names."""
        view = lift_sampling(body, "generationConfig", _SAMPLING)
        view["model"] = model
        if operation == "stream_generate_content":
            view["stream"] = True
        return view

    def text(self, operation: str, response: dict[str, Any]) -> str:
        """The first candidate's text parts, thoughts left out (as the SDK's `.text`)."""
        if operation not in ("generate_content", "stream_generate_content"):
            return ""
        return "".join(
            str(part["text"])
            for part in _parts(response)
            if isinstance(part.get("text"), str) and not part.get("thought")
        )

    def tool_calls(self, operation: str, response: dict[str, Any]) -> list[ToolCall]:
        """The first candidate's `functionCall` parts."""
        calls = []
        for part in _parts(response):
            call = part.get("functionCall")
            if isinstance(call, Mapping):
                args = call.get("args")
                arguments = args if args is not None else {}
                calls.append(
                    ToolCall(
                        str(call.get("id") or ""),
                        str(call.get("name") or ""),
                        arguments,
                        json.dumps(arguments, ensure_ascii=False),
                    )
                )
        return calls

    def usage(self, operation: str, response: dict[str, Any]) -> Usage:
        """`usageMetadata`: prompt, candidates plus thoughts (billed as output), cached."""
        if operation == "count_tokens":  # a free call: its count is not spend
            return Usage()
        raw = response.get("usageMetadata")
        if not isinstance(raw, Mapping):
            return self._prediction_usage(response)
        inp = as_int(raw.get("promptTokenCount")) + as_int(raw.get("toolUsePromptTokenCount"))
        out = as_int(raw.get("candidatesTokenCount")) + as_int(raw.get("thoughtsTokenCount"))
        total = as_int(raw.get("totalTokenCount")) or inp + out
        return Usage(inp, out, total, as_int(raw.get("cachedContentTokenCount")))

    @staticmethod
    def _prediction_usage(response: Mapping[str, Any]) -> Usage:
        # Vertex `:predict` embeddings count tokens per instance.
        tokens = 0
        for prediction in response.get("predictions") or []:
            embeddings = prediction.get("embeddings") if isinstance(prediction, Mapping) else None
            statistics = embeddings.get("statistics") if isinstance(embeddings, Mapping) else None
            count = statistics.get("token_count") if isinstance(statistics, Mapping) else None
            if isinstance(count, int | float) and not isinstance(count, bool):
                tokens += int(count)
        return Usage(tokens, 0, tokens, 0)

    def served_model(self, response: dict[str, Any]) -> str | None:
        """`modelVersion` of the response."""
        value = response.get("modelVersion")
        return str(value) if value is not None else None

    def assemble(self, operation: str, events: Iterable[Event]) -> dict[str, Any] | None:
        """Stream chunks folded into one `GenerateContentResponse`."""
        return assemble_gemini(events) if operation == "stream_generate_content" else None

    def declared_output_schema(
        self, operation: str, request: Mapping[str, Any]
    ) -> DeclaredSchema | None:
        """`generationConfig.responseJsonSchema` or `.responseSchema` (Vertex nests the
        request of countTokens; generate_content has it at the top)."""
        config = request.get("generationConfig")
        if isinstance(config, Mapping):
            return _schema_of(config, "generationConfig")
        return None

    def declared_tools(self, request: Mapping[str, Any]) -> dict[str, DeclaredSchema]:
        """`tools[i].functionDeclarations[j]`: `parametersJsonSchema` or `parameters`."""
        found: dict[str, DeclaredSchema] = {}
        for i, tool in enumerate(request.get("tools") or []):
            if not isinstance(tool, Mapping):
                continue
            for j, declaration in enumerate(tool.get("functionDeclarations") or []):
                if not isinstance(declaration, Mapping) or not declaration.get("name"):
                    continue
                where = f"tools[{i}].functionDeclarations[{j}]"
                schema = declaration.get("parametersJsonSchema")
                if schema is not None:
                    where += ".parametersJsonSchema"
                else:
                    schema = _json_schema(declaration.get("parameters"))
                    where += ".parameters"
                if schema is None:
                    schema = {"type": "object", "properties": {}}
                found.setdefault(str(declaration["name"]), DeclaredSchema(schema, where))
        return found

    def fault(self, fault: str, model: str, note: str) -> FaultAnswer:
        """Google's error envelope: 429 RESOURCE_EXHAUSTED, 500 INTERNAL, 503 UNAVAILABLE."""
        if fault == "rate_limit":
            message = (
                "You exceeded your current quota, please check your plan and billing details. "
                f"Quota exceeded for metric: generate_content_requests, model: {model}"
            )
            return FaultAnswer(429, _error(429, "RESOURCE_EXHAUSTED", message + note))
        if fault == "overloaded":
            message = "The model is overloaded. Please try again later."
            return FaultAnswer(503, _error(503, "UNAVAILABLE", message + note))
        message = "An internal error has occurred. Please retry or report the problem."
        return FaultAnswer(500, _error(500, "INTERNAL", message + note))
