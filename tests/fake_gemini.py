"""Gemini's wire format for the fake provider: Developer API and Vertex AI paths (stdlib only).

`generateContent`, `streamGenerateContent?alt=sse`, `countTokens`, `batchEmbedContents`,
`embedContent` and Vertex `predict`. Answers depend on the request as the fake's OpenAI and
Anthropic answers do. Special models answer in Google's error envelope: `error-400`,
`always-500`, `busy-503` (UNAVAILABLE) and `flaky-429` (RESOURCE_EXHAUSTED on the first
attempt of a given body).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

JSON = dict[str, Any]
_PATH = re.compile(r"/(?:models|endpoints)/([^/:]+):(\w+)$")
_ERRORS = {
    400: ("INVALID_ARGUMENT", "* GenerateContentRequest.model: unexpected model name format"),
    429: ("RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
    500: ("INTERNAL", "An internal error has occurred."),
    503: ("UNAVAILABLE", "The model is overloaded. Please try again later."),
}
ERROR_MODELS = {"error-400": 400, "always-500": 500, "busy-503": 503}
SERVED_SUFFIX = "-001"


def route(path: str) -> tuple[str, str] | None:
    """(model, method) of a Gemini path, or None."""
    match = _PATH.search(path.split("?", 1)[0].rstrip("/"))
    return (match.group(1), match.group(2)) if match else None


def error(status: int) -> JSON:
    """Google's error envelope."""
    name, message = _ERRORS[status]
    return {"error": {"code": status, "message": message, "status": name}}


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return " ".join(t for t in map(_text, value) if t)
    if isinstance(value, dict):
        for key in ("text", "parts", "content"):
            if key in value:
                return _text(value[key])
    return ""


def _last_user_text(body: JSON) -> tuple[str, bool]:
    """The last turn's text, and whether it is a user's (not a function response)."""
    contents = body.get("contents") or []
    if not contents:
        return "", True
    last = contents[-1]
    parts = last.get("parts") or []
    answered = any(isinstance(p, dict) and "functionResponse" in p for p in parts)
    return _text(parts), last.get("role", "user") == "user" and not answered


def _example(schema: Any, model: str, depth: int = 0) -> Any:
    if not isinstance(schema, dict) or depth > 6:
        return None
    if "enum" in schema:
        return schema["enum"][0]
    kind = str(schema.get("type", "")).lower()
    if kind == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        return {name: _example(sub, model, depth + 1) for name, sub in props.items()}
    if kind == "array":
        return [_example(schema.get("items"), model, depth + 1)]
    return {"integer": len(model), "number": 1.5, "boolean": True}.get(kind, f"{model} value")


def _parts(model: str, body: JSON, digest: str) -> list[JSON]:
    last, from_user = _last_user_text(body)
    declarations = [
        d
        for tool in body.get("tools") or []
        for d in (tool.get("functionDeclarations") or [])
        if isinstance(d, dict)
    ]
    if declarations and from_user and "weather" in last.lower():
        city = re.search(r"weather in (\w+)", last, re.IGNORECASE)
        args = {"city": city.group(1) if city else "Paris"}
        return [{"functionCall": {"name": declarations[0]["name"], "args": args}}]
    config = body.get("generationConfig") or {}
    schema = config.get("responseJsonSchema") or config.get("responseSchema")
    if schema is not None:
        return [{"text": json.dumps(_example(schema, model))}]
    return [{"text": f"[{model}] reply to: {last} #{digest}"}]


def _usage(body: JSON, parts: list[JSON]) -> JSON:
    prompt = sum(len(_text(c).split()) + 3 for c in body.get("contents") or [])
    out = sum(len(_text(p).split()) or 4 for p in parts)
    total = prompt + out
    return {"promptTokenCount": prompt, "candidatesTokenCount": out, "totalTokenCount": total}


def answer(model: str, method: str, body: JSON, seq: int) -> tuple[int, JSON | None, list[JSON]]:
    """(status, JSON body, SSE events) of one Gemini request; events only for a stream."""
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:6]
    served = model + SERVED_SUFFIX
    if method == "countTokens":
        request = body.get("generateContentRequest") or body
        return 200, {"totalTokens": _usage(request, [])["promptTokenCount"]}, []
    if method in ("batchEmbedContents", "embedContent"):
        requests = body.get("requests") or [body]
        vectors = [{"values": _vector(_text(r.get("content")))} for r in requests]
        return 200, {"embeddings": vectors} if method != "embedContent" else vectors[0], []
    if method == "predict":
        predictions = [
            {"embeddings": {"values": _vector(_text(i)), "statistics": {"token_count": 2}}}
            for i in body.get("instances") or []
        ]
        return 200, {"predictions": predictions}, []
    parts = _parts(model, body, digest)
    finish = {"finishReason": "STOP", "index": 0}
    meta = {"modelVersion": served, "responseId": f"resp{seq:06d}{digest}"}
    if method == "generateContent":
        candidate = {"content": {"parts": parts, "role": "model"}, **finish}
        return 200, {"candidates": [candidate], "usageMetadata": _usage(body, parts), **meta}, []
    pieces: list[JSON] = []
    for part in parts:
        if "text" in part:
            pieces += [{"text": p} for p in re.split(r"(?= )", part["text"]) if p]
        else:
            pieces.append(part)
    events: list[JSON] = []
    for index, piece in enumerate(pieces):
        candidate: JSON = {"content": {"parts": [piece], "role": "model"}, "index": 0}
        chunk: JSON = {"candidates": [candidate], **meta}
        if index == len(pieces) - 1:
            candidate.update(finish)
            chunk["usageMetadata"] = _usage(body, parts)
        events.append(chunk)
    return 200, None, events


def _vector(text: str) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [round(b / 255, 4) for b in digest[:8]]
