"""What the cassettes of a folder hold (calls, models, tokens, cost, age) for `ls` and `stats`."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_llm.calls import LLMCall
from pytest_llm.cassettes import store
from pytest_llm.errors import CassetteError
from pytest_llm.usage import Usage

if TYPE_CHECKING:
    from pytest_llm.checks.prices import PriceTable

SUFFIXES = (".yaml", ".yml")
# Folders that hold tools and dependencies, never a project's cassettes.
_SKIPPED_DIRS = frozenset({"node_modules", "__pycache__", "site-packages", "venv"})
_OURS = re.compile(r"\A# pytest-llm cassette|^interactions:", re.MULTILINE)
_VCRPY = re.compile(r"^\s*-?\s*uri:\s", re.MULTILINE)
_PEEK = 4096


@dataclass(frozen=True, slots=True)
class CallInfo:
    """One recorded call as `ls` and `stats` count it."""

    provider: str
    endpoint: str
    model: str
    served_model: str | None
    status: int
    stream: bool
    usage: Usage
    cost_usd: float | None
    recorded_at: datetime | None


@dataclass
class CassetteInfo:
    """A cassette file and its calls."""

    path: Path
    calls: list[CallInfo] = field(default_factory=list)

    @property
    def models(self) -> list[str]:
        """The requested models, in order of first use."""
        return list(dict.fromkeys(c.model for c in self.calls if c.model))

    @property
    def usage(self) -> Usage:
        """Token usage summed over the calls."""
        return sum_usage(self.calls)

    @property
    def cost_usd(self) -> float | None:
        """Cost summed over the priced calls; None when none is priced."""
        return sum_cost(self.calls)

    @property
    def fully_priced(self) -> bool:
        """Whether every call has a known price."""
        return all(c.cost_usd is not None for c in self.calls)

    @property
    def recorded_at(self) -> datetime | None:
        """When the newest call was recorded."""
        times = [c.recorded_at for c in self.calls if c.recorded_at is not None]
        return max(times) if times else None


@dataclass
class Scan:
    """The cassettes found under a folder, the files that failed, and vcrpy files passed over."""

    cassettes: list[CassetteInfo] = field(default_factory=list)
    errors: list[CassetteError] = field(default_factory=list)
    vcrpy: list[Path] = field(default_factory=list)


def sum_usage(calls: Iterable[CallInfo]) -> Usage:
    """Token usage summed over calls."""
    total = Usage()
    for call in calls:
        total = total + call.usage
    return total


def sum_cost(calls: Iterable[CallInfo]) -> float | None:
    """Cost summed over the priced calls; None when none is priced."""
    priced = [c.cost_usd for c in calls if c.cost_usd is not None]
    return sum(priced) if priced else None


def parse_time(value: Any) -> datetime | None:
    """A stored `recorded_at` as an aware datetime, None when absent or unreadable."""
    if isinstance(value, datetime):
        when = value
    else:
        try:
            when = datetime.fromisoformat(str(value))
        except ValueError:
            return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def call_info(interaction: dict[str, Any], prices: PriceTable | None) -> CallInfo:
    """The facts `ls` and `stats` show about one stored interaction."""
    # Costed as the plugin costs it (served snapshot first, cache writes apart, refusals free).
    call = LLMCall(interaction, replayed=True, prices=prices)
    return CallInfo(
        provider=call.provider,
        endpoint=call.endpoint,
        model=call.model,
        served_model=call.served_model,
        status=call.status,
        stream=call.events is not None,
        usage=call.usage,
        cost_usd=call.cost_usd,
        recorded_at=parse_time(interaction.get("recorded_at")),
    )


def load(path: Path) -> list[dict[str, Any]]:
    """The interactions of a cassette; CassetteError for a missing, broken or vcrpy file."""
    try:
        interactions = store.read(path)
    except CassetteError as exc:
        if _is_vcrpy(path):
            raise CassetteError(
                path,
                "this is a vcrpy / pytest-recording cassette, not a pytest-llm one",
                fix=f"convert it with: pytest-llm import {path} --out DIR (default: the current "
                "directory); tests marked vcr read it in place, with no import",
            ) from None
        raise exc from None
    if interactions is None:
        raise CassetteError(path, "no such file")
    return interactions


def _peek(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            return handle.read(_PEEK).decode("utf-8", errors="replace")
    except OSError:
        return ""


def _is_vcrpy(path: Path) -> bool:
    head = _peek(path)
    return "# pytest-llm cassette" not in head and bool(_VCRPY.search(head))


def cassette_info(path: Path, prices: PriceTable | None) -> CassetteInfo:
    """A cassette's calls; CassetteError when it cannot be read."""
    return CassetteInfo(path, [call_info(i, prices) for i in load(path)])


def cassette_files(root: Path) -> list[Path]:
    """The YAML files under `root` that claim to be cassettes, sorted; `root` itself if a file."""
    if root.is_file():
        return [root]
    found: list[Path] = []
    for path in sorted(root.rglob("*")):
        parts = path.relative_to(root).parts
        if any(p.startswith(".") or p in _SKIPPED_DIRS for p in parts[:-1]):
            continue
        if path.suffix in SUFFIXES and path.is_file() and _OURS.search(_peek(path)):
            found.append(path)
    return found


def scan(root: Path, prices: PriceTable | None) -> Scan:
    """Every cassette under `root`; unreadable ones are collected as errors, not raised."""
    result = Scan()
    for path in cassette_files(root):
        try:
            result.cassettes.append(cassette_info(path, prices))
        except CassetteError as exc:
            # Found while browsing a folder, a vcrpy file is someone else's, not a broken one.
            if path != root and _is_vcrpy(path):
                result.vcrpy.append(path)
            else:
                result.errors.append(exc)
    return result


@dataclass
class Group:
    """Calls summed under one name (a model, a provider, or everything)."""

    provider: str
    model: str
    calls: list[CallInfo] = field(default_factory=list)
    cassettes: set[Path] = field(default_factory=set)

    @property
    def errors(self) -> int:
        """Calls the provider answered with an error status."""
        return sum(1 for c in self.calls if c.status >= 400)

    @property
    def usage(self) -> Usage:
        """Token usage summed over the group."""
        return sum_usage(self.calls)

    @property
    def cost_usd(self) -> float | None:
        """Cost of the priced calls; None when none is priced."""
        return sum_cost(self.calls)

    @property
    def fully_priced(self) -> bool:
        """Whether every call of the group has a known price."""
        return all(c.cost_usd is not None for c in self.calls)


@dataclass
class Stats:
    """Totals by provider and model, by provider, and overall."""

    models: list[Group]
    providers: list[Group]
    total: Group


def stats(cassettes: Iterable[CassetteInfo]) -> Stats:
    """Sum the calls of `cassettes` by (provider, requested model) and by provider."""
    by_model: dict[tuple[str, str], Group] = {}
    by_provider: dict[str, Group] = {}
    total = Group("", "")
    for cassette in cassettes:
        for call in cassette.calls:
            for group in (
                by_model.setdefault((call.provider, call.model), Group(call.provider, call.model)),
                by_provider.setdefault(call.provider, Group(call.provider, "")),
                total,
            ):
                group.calls.append(call)
                group.cassettes.add(cassette.path)
    return Stats(
        models=[by_model[k] for k in sorted(by_model)],
        providers=[by_provider[k] for k in sorted(by_provider)],
        total=total,
    )


def age(when: datetime | None, now: datetime | None = None) -> str:
    """A short age such as `42s`, `5m`, `3h`, `2d`, `4mo`, `1y` ("-" when unknown)."""
    if when is None:
        return "-"
    seconds = max(((now or datetime.now(UTC)) - when).total_seconds(), 0.0)
    for unit, size in (("y", 365 * 86400), ("mo", 30 * 86400), ("d", 86400), ("h", 3600)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    if seconds >= 60:
        return f"{int(seconds // 60)}m"
    return f"{int(seconds)}s"
