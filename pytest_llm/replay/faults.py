"""Injected failures for resilience tests: which calls fail, and the wire answer of each fault.

A fault is served at the transport, as real HTTP (status, headers and the provider's JSON error
body) or as the transport exception a dropped connection raises, so the SDKs raise their own
exception types and run their own retry loops. Faults never reach a cassette.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_llm.providers.registry import get, providers
from pytest_llm.replay.settings import FAULTS

# Answered with an HTTP status; the others are transport exceptions or a cut stream.
HTTP_FAULTS = frozenset({"rate_limit", "server_error", "overloaded"})
MARKER_KEYWORDS = ("times", "model", "provider", "at")
# The SDKs honour retry-after-ms above everything else when it is positive: a tiny value keeps
# their retry loop real and the test fast.
FAST_RETRY_MS = "0.0001"
_NOTE = " (injected by pytest-llm)"


@dataclass
class FaultRule:
    """One `llm_faults` marker: its faults, in order, for the first `times` matching calls."""

    faults: tuple[str, ...]
    times: int
    model: str | None = None
    provider: str | None = None
    at: frozenset[int] | None = None
    served: int = 0

    def matches(self, provider: str, model: str, index: int) -> bool:
        """Whether call number `index` (0-based, every attempt counted) is targeted."""
        if self.provider is not None and provider != self.provider:
            return False
        if self.model is not None and model != self.model:
            return False
        if self.at is not None:
            return index in self.at
        return self.served < self.times


@dataclass
class FaultPlan:
    """The faults of one test; stacked markers are tried closest first."""

    rules: list[FaultRule]
    attempts: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def take(self, provider: str, model: str) -> str | None:
        """The fault for the next call, or None to let it through."""
        with self._lock:
            index = self.attempts
            self.attempts += 1
            for rule in self.rules:
                if rule.matches(provider, model, index):
                    fault = rule.faults[rule.served % len(rule.faults)]
                    rule.served += 1
                    return fault
        return None


def parse_rule(args: Iterable[Any], kwargs: Mapping[str, Any], *, source: str) -> FaultRule:
    """A rule from marker arguments; raises ValueError naming `source` and the valid values."""
    faults = tuple(args)
    if not faults:
        raise ValueError(f"{source}: name at least one fault: {', '.join(FAULTS)}")
    unknown = [f for f in faults if f not in FAULTS]
    if unknown:
        raise ValueError(
            f"{source}: unknown fault(s) {', '.join(map(repr, unknown))}; "
            f"valid: {', '.join(FAULTS)}"
        )
    extra = sorted(set(kwargs) - set(MARKER_KEYWORDS))
    if extra:
        raise ValueError(
            f"{source}: unexpected keyword(s) {', '.join(extra)}; "
            f"valid: {', '.join(MARKER_KEYWORDS)}"
        )
    times = kwargs.get("times")
    if times is None:
        times = len(faults)
    if isinstance(times, bool) or not isinstance(times, int) or times < 1:
        raise ValueError(f"{source}: times must be a whole number >= 1, not {times!r}")
    provider = kwargs.get("provider")
    names = [p.name for p in providers()]
    if provider is not None and provider not in names:
        valid = ", ".join(repr(name) for name in sorted(names))
        raise ValueError(f"{source}: provider must be one of {valid}, not {provider!r}")
    model = kwargs.get("model")
    if model is not None and not isinstance(model, str):
        raise ValueError(f"{source}: model must be a model id string, not {model!r}")
    at = kwargs.get("at")
    indices: frozenset[int] | None = None
    if at is not None:
        values = [at] if isinstance(at, int) else list(at)
        if not values or any(
            isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in values
        ):
            raise ValueError(
                f"{source}: at must be a call index >= 0 or a list of them, not {at!r}"
            )
        indices = frozenset(values)
    return FaultRule(faults, times, model, provider, indices)


def http_fault(fault: str, provider: str, model: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body of an HTTP fault, as the provider sends it.

    A provider that has no error format of its own answers in OpenAI's, which most
    compatible servers copy.
    """
    answer = None
    for name in (provider, "openai"):
        found = get(name)
        answer = found.fault(fault, model, _NOTE) if found is not None else None
        if answer is not None:
            break
    assert answer is not None, "the OpenAI provider answers every fault"
    headers = [("content-type", "application/json"), ("x-should-retry", "true")]
    headers += answer.headers
    headers.append(("retry-after-ms", FAST_RETRY_MS))
    return answer.status, headers, json.dumps(answer.body).encode()


def fault_interaction(
    fault: str, provider: str, path: str, request: dict[str, Any], status: int, body: Any
) -> dict[str, Any]:
    """What `llm.calls` shows of an attempt that a fault answered."""
    return {
        "provider": provider,
        "model": request.get("model"),
        "request": {"path": path, "body": request},
        "response": {"status": status, "body": body},
        "fault": fault,
    }
