"""What the last run used, kept in pytest's cache, and `prune`: dropping what it did not use.

The plugin writes, per cassette that a passing test loaded, the identities of every
interaction it held and of those that were used. A cassette that a failing or skipped test
also touched is marked, and never pruned: its unused interactions may be the failing test's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_llm.cassettes import store
from pytest_llm.cassettes.cassette import Identity, identity

CACHE_KEY = "pytest-llm/usage"
_CACHE_FILE = Path(".pytest_cache") / "v" / "pytest-llm" / "usage"
FORMAT_VERSION = 1


def payload(
    known: dict[Path, set[Identity]],
    used: dict[Path, set[Identity]],
    tainted: Iterable[Path],
    *,
    partial: bool,
) -> dict[str, Any]:
    """The record of one run, as stored in the cache (JSON)."""
    return {
        "version": FORMAT_VERSION,
        "partial": partial,
        "tainted": sorted(str(p) for p in tainted),
        "cassettes": {
            str(path): {
                "known": sorted(map(list, ids)),
                "used": sorted(map(list, used.get(path, set()))),
            }
            for path, ids in sorted(known.items())
        },
    }


def find_record(start: Path) -> Path | None:
    """The usage record of the last run: in `start`'s .pytest_cache or a parent's."""
    for folder in (start, *start.parents):
        candidate = folder / _CACHE_FILE
        if candidate.is_file():
            return candidate
    return None


def read_record(path: Path) -> dict[str, Any]:
    """The record; ValueError naming the file when it cannot be used."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read the last run's usage record ({exc})") from None
    if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
        raise ValueError(f"{path}: not a usage record of this pytest-llm version; run pytest again")
    return data


@dataclass
class Pruning:
    """One cassette and the interactions the last run left unused."""

    path: Path
    total: int
    unused: list[dict[str, Any]]
    skipped: str = ""  # why this cassette is left alone


def plan(record: dict[str, Any], root: Path) -> list[Pruning]:
    """Per cassette under `root` that the last run loaded, what prune would remove."""
    tainted = set(record.get("tainted", []))
    result: list[Pruning] = []
    root = root.resolve()
    entries = dict(record.get("cassettes", {}))
    for name in tainted:
        entries.setdefault(name, {})
    for name, entry in sorted(entries.items()):
        path = Path(name)
        if not path.is_relative_to(root):
            continue
        interactions = store.read(path)
        if interactions is None:
            continue
        used = {tuple(i) for i in entry.get("used", [])}
        known = {tuple(i) for i in entry.get("known", [])}
        unused = [i for i in interactions if identity(i) in known and identity(i) not in used]
        if name in tainted:
            result.append(Pruning(path, len(interactions), [], "a failing or skipped test used it"))
        else:
            result.append(Pruning(path, len(interactions), unused))
    return result


def apply(pruning: Pruning) -> int:
    """Remove the unused interactions from the file; returns how many went."""
    drop = {identity(i) for i in pruning.unused}
    with store.locked(pruning.path.parent):
        current = store.read(pruning.path) or []
        keep = [i for i in current if identity(i) not in drop]
        if len(keep) != len(current):
            store.write_atomic(pruning.path, store.dumps(store.document(keep)))
    return len(current) - len(keep)
