"""Methods that ask a provider: `openai:<embedding model>` and `judge:<model>`.

Both call the official SDK, so inside a test taking part in pytest-llm the call is recorded in
the test's cassette and replayed offline like any other call: the score is as stable as the
cassette. The SDKs are imported only here, when such a method is used; the client is built
from the environment (`OPENAI_API_KEY`, `OPENAI_BASE_URL`, `ANTHROPIC_API_KEY`, ...) unless the
caller passes its own with `client=`.

- `openai:<model>`: one embeddings request with both texts (`input=[actual, expected]`, the
  SDK's default base64 encoding), cosine of the two vectors, clipped to [0, 1].
- `judge:<model>`: one chat request at temperature 0 (and `seed=0` on OpenAI) with a fixed
  prompt asking whether the two answers state the same facts, answered as JSON
  `{"same_meaning": bool, "score": 0.0-1.0, "reason": "..."}`. Models named `claude*` go
  to Anthropic's Messages API, others to OpenAI's Chat Completions; `judge:openai:<model>`
  and `judge:anthropic:<model>` choose explicitly (an OpenAI-compatible server, for one).
"""

from __future__ import annotations

import base64
import json
import math
import re
import struct
from dataclasses import dataclass
from typing import Any

__all__ = [
    "JUDGE_SYSTEM_PROMPT",
    "SimilarityError",
    "Verdict",
    "embedding_score",
    "judge_provider",
    "judge_verdict",
    "parse_verdict",
]


class SimilarityError(Exception):
    """A similarity method could not produce a score (unreadable judge answer, missing SDK)."""


JUDGE_SYSTEM_PROMPT = """\
You check answers in an automated software test. Decide whether ANSWER states the same facts \
as EXPECTED: the same claims, decisions, numbers, names and dates. Other wording, order, \
length, tone or formatting do not matter. A contradiction, a changed number, date or name, or \
a missing key fact means different meaning.
Reply with one JSON object and nothing else:
{"same_meaning": true or false, "score": a number from 0.0 (unrelated or contradicting) to \
1.0 (the same facts), "reason": "one short sentence"}"""

_JUDGE_USER = "EXPECTED:\n<<<\n{expected}\n>>>\n\nANSWER:\n<<<\n{actual}\n>>>"
_JUDGE_MAX_TOKENS = 300
_VERDICT_SHAPE = '{"same_meaning": true, "score": 0.9, "reason": "..."}'
_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


@dataclass(frozen=True)
class Verdict:
    """What the judge answered: the score in [0, 1], its yes/no and its reason."""

    score: float
    same_meaning: bool | None
    reason: str


def embedding_score(model: str, actual: str, expected: str, *, client: Any = None) -> float:
    """Cosine of the provider's embeddings of the two texts, clipped to [0, 1]."""
    client = client if client is not None else _openai_client(f"openai:{model}")
    response = client.embeddings.create(model=model, input=[actual, expected])
    data = sorted(response.data, key=lambda item: item.index)
    if len(data) != 2:
        raise SimilarityError(
            f"openai:{model}: expected 2 embeddings for the 2 texts, got {len(data)}"
        )
    first, second = (_vector(item.embedding) for item in data)
    if len(first) != len(second) or not first:
        raise SimilarityError(
            f"openai:{model}: embeddings of different lengths ({len(first)}, {len(second)})"
        )
    dot = sum(a * b for a, b in zip(first, second, strict=True))
    norm = math.sqrt(sum(a * a for a in first) * sum(b * b for b in second))
    return min(1.0, max(0.0, dot / norm)) if norm else 0.0


def _vector(embedding: Any) -> list[float]:
    """A list of floats, from floats or from the API's base64 of little-endian float32."""
    if isinstance(embedding, str):
        raw = base64.b64decode(embedding)
        return list(struct.unpack(f"<{len(raw) // 4}f", raw))
    return [float(x) for x in embedding]


def judge_provider(spec: str) -> tuple[str, str]:
    """(provider, model) of a judge spec without its `judge:` prefix."""
    provider, sep, model = spec.partition(":")
    if sep and provider in ("openai", "anthropic"):
        return provider, model.strip()
    return ("anthropic" if spec.startswith("claude") else "openai"), spec


def judge_verdict(spec: str, actual: str, expected: str, *, client: Any = None) -> Verdict:
    """Ask the judge model whether the two answers state the same facts."""
    provider, model = judge_provider(spec)
    method = f"judge:{spec}"
    user = _JUDGE_USER.format(expected=expected, actual=actual)
    if provider == "anthropic":
        client = client if client is not None else _anthropic_client(method)
        message = client.messages.create(
            model=model,
            max_tokens=_JUDGE_MAX_TOKENS,
            system=JUDGE_SYSTEM_PROMPT,
            messages=[{"role": "user", "content": user}],
            # anthropic>=1.0 dropped the temperature argument; the API still takes it.
            extra_body={"temperature": 0},
        )
        text = "".join(getattr(block, "text", "") for block in message.content)
    else:
        client = client if client is not None else _openai_client(method)
        completion = client.chat.completions.create(
            model=model,
            temperature=0,
            seed=0,
            response_format={"type": "json_object"},
            messages=[
                {"role": "system", "content": JUDGE_SYSTEM_PROMPT},
                {"role": "user", "content": user},
            ],
        )
        text = completion.choices[0].message.content or ""
    return parse_verdict(method, text)


def parse_verdict(method: str, text: str) -> Verdict:
    """Read the judge's JSON answer; SimilarityError when it cannot be read."""
    try:
        found = _OBJECT.search(text)
        answer = json.loads(found.group(0) if found else text)
        if not isinstance(answer, dict):
            raise ValueError("not a JSON object")
        same = answer.get("same_meaning")
        if same is not None and not isinstance(same, bool):
            raise ValueError("same_meaning is not true or false")
        score = answer.get("score")
        if score is None and same is not None:
            score = 1.0 if same else 0.0
        if isinstance(score, bool) or not isinstance(score, int | float):
            raise ValueError("no numeric score")
        if not 0.0 <= float(score) <= 1.0:
            raise ValueError(f"score {score} is outside [0, 1]")
        reason = answer.get("reason")
        return Verdict(float(score), same, str(reason) if reason is not None else "")
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        shown = text if len(text) <= 300 else text[:297] + "..."
        raise SimilarityError(
            f"{method}: could not read the judge's answer ({exc}); expected one JSON object "
            f"like {_VERDICT_SHAPE}, got: {shown!r}"
        ) from None


def _openai_client(method: str) -> Any:
    try:
        import openai
    except ImportError:
        raise SimilarityError(
            f"{method} needs the openai SDK: pip install 'pytest-llm-replay[openai]'"
        ) from None
    return openai.OpenAI()


def _anthropic_client(method: str) -> Any:
    try:
        import anthropic
    except ImportError:
        raise SimilarityError(
            f"{method} needs the anthropic SDK: pip install 'pytest-llm-replay[anthropic]'"
        ) from None
    return anthropic.Anthropic()
