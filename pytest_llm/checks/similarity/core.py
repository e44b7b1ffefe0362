"""Method names, default thresholds, the session default, `similarity` and `assert_similar`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pytest_llm.checks.similarity.lexical import lexical_score
from pytest_llm.checks.similarity.minilm import INSTALL_HINT, minilm_missing, minilm_score
from pytest_llm.checks.similarity.remote import (
    SimilarityError,
    embedding_score,
    judge_provider,
    judge_verdict,
)

__all__ = [
    "SimilarityResult",
    "assert_similar",
    "available_methods",
    "checked_method",
    "default_method",
    "default_min_score",
    "session_method",
    "similarity",
]

# Calibrated on tests/similarity_pairs.yaml (benchmarks/similarity_calibration.py): the midpoint
# between the highest unrelated pair and the lowest paraphrase, rounded to 2 decimals.
OFFLINE_DEFAULTS = {"minilm": 0.56, "lexical": 0.32}
# Not calibrated (no recordings offline): documented assumptions, see the package docstring.
EMBEDDING_DEFAULT = 0.60
EMBEDDING_MODEL_DEFAULTS = {"text-embedding-ada-002": 0.85}  # its cosines sit in [0.7, 1]
JUDGE_DEFAULT = 0.50

# Which labels of the calibration set each offline default separates from "unrelated".
CALIBRATED_KINDS = {"minilm": ("paraphrase", "reworded"), "lexical": ("paraphrase",)}
_OFFLINE_ORDER = ("minilm", "lexical")  # preference order of the automatic default
_VALID = (
    "'minilm', 'lexical', 'openai:<embedding model>' (such as "
    "'openai:text-embedding-3-small'), 'judge:<model>' (such as 'judge:gpt-4o-mini' or "
    "'judge:claude-haiku-4-5'; 'judge:openai:<model>' or 'judge:anthropic:<model>' to choose "
    "the SDK)"
)
_SHOWN = 240  # characters of each text shown in a failure message


@dataclass(frozen=True)
class SimilarityResult:
    """A similarity score in [0, 1], the method that gave it and that method's default bar."""

    value: float
    method: str
    default_min_score: float
    reason: str | None = None


@dataclass(frozen=True)
class _Method:
    name: str  # as the user writes it: "minilm", "openai:text-embedding-3-small", ...
    kind: str  # "minilm" | "lexical" | "openai" | "judge"
    model: str  # the model (judge: the spec after "judge:"), "" for offline methods
    default_min_score: float


# The running session's default (ini llm_similarity). The plugin keeps it in config.stash and
# sets it here only for the duration of each test, so nested pytester sessions, or two sessions
# in one process, never see each other's choice.
_session_method: ContextVar[str | None] = ContextVar("pytest_llm_similarity", default=None)


def _parse(name: str) -> _Method:
    if not isinstance(name, str):
        raise TypeError(f"method must be a string such as 'minilm', got {type(name).__name__}")
    name = name.strip()
    if name in OFFLINE_DEFAULTS:
        return _Method(name, name, "", OFFLINE_DEFAULTS[name])
    kind, _, model = name.partition(":")
    model = model.strip()
    if kind == "openai" and model:
        threshold = EMBEDDING_MODEL_DEFAULTS.get(model, EMBEDDING_DEFAULT)
        return _Method(f"openai:{model}", "openai", model, threshold)
    if kind == "judge" and model and judge_provider(model)[1]:
        return _Method(f"judge:{model}", "judge", model, JUDGE_DEFAULT)
    raise ValueError(f"unknown similarity method {name!r}; valid methods: {_VALID}")


def available_methods() -> list[str]:
    """The offline methods that can run here, best first (provider methods are always valid)."""
    return [name for name in _OFFLINE_ORDER if name != "minilm" or _minilm_missing() is None]


@lru_cache(maxsize=1)
def _minilm_missing() -> str | None:
    return minilm_missing()


def checked_method(name: str) -> str:
    """The method's canonical name, or ValueError when it is unknown or cannot run here."""
    method = _parse(name)
    if method.kind == "minilm" and _minilm_missing() is not None:
        raise ValueError(f"similarity method 'minilm' cannot run here: {_minilm_missing()}")
    return method.name


@contextmanager
def session_method(name: str | None) -> Iterator[None]:
    """Within the block, `name` is the default method (ini `llm_similarity`); None: automatic."""
    chosen = checked_method(name) if name is not None and name.strip() else None
    token = _session_method.set(chosen)
    try:
        yield
    finally:
        _session_method.reset(token)


def default_method() -> str:
    """The method used when none is given: the session's, else minilm if installed, else lexical."""
    return _session_method.get() or available_methods()[0]


def _default_note() -> str:
    if _session_method.get() is not None:
        return "the session default (ini llm_similarity)"
    missing = _minilm_missing()
    if missing is None:
        return "the automatic default: all-MiniLM-L6-v2 is installed"
    return (
        "the automatic default, a word-overlap fallback: minilm cannot run here "
        f"({missing.split(';')[0]}); for meaning rather than words: {INSTALL_HINT}"
    )


def default_min_score(method: str | None = None) -> float:
    """The calibrated (or, for provider methods, assumed) default min_score of a method."""
    return _parse(method if method is not None else default_method()).default_min_score


def similarity(
    actual: Any, expected: Any, *, method: str | None = None, client: Any = None
) -> SimilarityResult:
    """Score how close two answers (strings or LLM calls) are in meaning, in [0, 1]."""
    chosen = _parse(method if method is not None else default_method())
    return _score(chosen, _text(actual, "actual")[1], _text(expected, "expected")[1], client)


def _score(method: _Method, actual: str, expected: str, client: Any) -> SimilarityResult:
    def result(value: float, reason: str | None = None) -> SimilarityResult:
        return SimilarityResult(value, method.name, method.default_min_score, reason)

    if actual.strip() == expected.strip():
        return result(1.0, "the texts are identical" if method.kind == "judge" else None)
    if not actual.strip() or not expected.strip():
        return result(0.0, "one text is empty" if method.kind == "judge" else None)
    if method.kind == "lexical":
        return result(lexical_score(actual, expected))
    if method.kind == "minilm":
        missing = _minilm_missing()
        if missing is not None:
            raise SimilarityError(f"similarity method 'minilm' cannot run here: {missing}")
        return result(minilm_score(actual, expected))
    if method.kind == "openai":
        return result(embedding_score(method.model, actual, expected, client=client))
    verdict = judge_verdict(method.model, actual, expected, client=client)
    said = {True: "same meaning: ", False: "different meaning: ", None: ""}[verdict.same_meaning]
    return result(verdict.score, said + (verdict.reason or "(no reason given)"))


def assert_similar(
    actual: Any,
    expected: Any,
    *,
    min_score: float | None = None,
    method: str | None = None,
    client: Any = None,
) -> SimilarityResult:
    """Assert that two answers (strings or LLM calls) mean the same, scoring at least min_score."""
    __tracebackhide__ = True
    if min_score is not None and (
        isinstance(min_score, bool)
        or not isinstance(min_score, int | float)
        or not 0.0 <= min_score <= 1.0
    ):
        raise ValueError(f"min_score must be a number in [0, 1], got {min_score!r}")
    chosen = _parse(method if method is not None else default_method())
    actual_label, actual_text = _text(actual, "actual")
    expected_label, expected_text = _text(expected, "expected")
    result = _score(chosen, actual_text, expected_text, client)
    threshold = result.default_min_score if min_score is None else float(min_score)
    if result.value >= threshold:
        return result
    score, bar = _pair(result.value, threshold)
    origin = f"the default for {result.method}" if min_score is None else "given as min_score"
    how = _default_note() if method is None else "given as method="
    width = max(len(actual_label), len(expected_label), len("method:")) + 4
    lines = [
        f"answers differ in meaning: similarity {score} < min_score {bar} ({origin})",
        "  method: ".ljust(width) + f"{result.method} ({how})",
        f"  {actual_label}: ".ljust(width) + _shown(actual_text),
        f"  {expected_label}: ".ljust(width) + _shown(expected_text),
    ]
    if result.reason:
        lines.append(f"  judge's reason: {result.reason}")
    lines.append(f"  fix: {_fix(chosen)}")
    raise AssertionError("\n".join(lines))


def _fix(method: _Method) -> str:
    if method.kind == "judge":
        return "if the answer is acceptable, update the expected text or lower min_score"
    return (
        "if the answer is acceptable, update the expected text or lower min_score; "
        f"{method.name} measures closeness, so for facts (a changed number, a yes turned no) "
        "use method='judge:<model>'"
    )


def _text(value: Any, side: str) -> tuple[str, str]:
    """(label, text) of a string or an LLM call (anything with a string `.text`)."""
    if isinstance(value, str):
        return side, value
    text = getattr(value, "text", None)
    if isinstance(text, str):
        index = getattr(value, "index", None)
        where = f"llm.calls[{index}]" if isinstance(index, int) else "call"
        model = getattr(value, "model", "")
        return f"{side} ({where}{', ' + model if isinstance(model, str) and model else ''})", text
    raise TypeError(
        f"{side} must be a string or an LLM call (an entry of llm.calls), "
        f"got {type(value).__name__}"
    )


def _shown(text: str) -> str:
    """One line: whitespace runs collapsed, long texts cut in the middle, length noted."""
    flat = re.sub(r"\s+", " ", text).strip()
    if len(flat) <= _SHOWN:
        return repr(flat)
    half = (_SHOWN - 5) // 2
    return f"{flat[:half]!r} ... {flat[-half:]!r} ({len(text)} chars)"


def _pair(score: float, threshold: float) -> tuple[str, str]:
    """Score and threshold with 3 decimals, more when 3 would print them equal."""
    for digits in (3, 4, 6):
        shown = f"{score:.{digits}f}", f"{threshold:.{digits}f}"
        if shown[0] != shown[1]:
            return shown
    return f"{score!r}", f"{threshold!r}"
