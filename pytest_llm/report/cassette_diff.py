"""`pytest-llm diff OLD NEW`: the drift report of two cassettes, or two folders of them.

Files pair up by their path relative to each folder; interactions pair up by position, as the
plugin pairs a test's calls with its baseline. The result has the shape of the run report's
tests, so the same summary and report pages render it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_llm.calls import LLMCall
from pytest_llm.cassettes import store
from pytest_llm.cassettes.plain_http import is_plain
from pytest_llm.cassettes.tool_steps import is_tool_step
from pytest_llm.checks.drift import Scorer, compare_all
from pytest_llm.checks.prices import PriceTable
from pytest_llm.errors import CassetteError
from pytest_llm.report import figures


@dataclass
class CassetteDiff:
    """The compared pairs, and the files found on one side only."""

    tests: list[dict[str, Any]] = field(default_factory=list)
    only_old: list[str] = field(default_factory=list)
    only_new: list[str] = field(default_factory=list)


def _files(root: Path) -> dict[str, Path]:
    if root.is_file():
        return {root.name: root}
    return {
        str(path.relative_to(root)): path
        for path in sorted(root.rglob("*"))
        if path.suffix in (".yaml", ".yml") and path.is_file()
    }


def _calls(path: Path, prices: PriceTable | None) -> list[LLMCall]:
    interactions = store.read(path)
    if interactions is None:
        raise CassetteError(path, "no such file")
    # Drift is about model answers; plain HTTP (tools) is left out of the comparison.
    calls = [
        LLMCall(i, replayed=True, prices=prices)
        for i in interactions
        if not is_plain(i) and not is_tool_step(i)
    ]
    for index, call in enumerate(calls):
        call.index = index
    return calls


def diff(old: Path, new: Path, scorer: Scorer, prices: PriceTable | None = None) -> CassetteDiff:
    """Compare two cassettes (or folders); CassetteError for a file that cannot be read."""
    if old.is_file() != new.is_file():
        raise ValueError("compare a file with a file, or a folder with a folder")
    if old.is_file():
        pairs = {new.name: (old, new)}
        result = CassetteDiff()
    else:
        old_files, new_files = _files(old), _files(new)
        pairs = {
            name: (old_files[name], new_files[name]) for name in old_files if name in new_files
        }
        result = CassetteDiff(
            only_old=sorted(set(old_files) - set(new_files)),
            only_new=sorted(set(new_files) - set(old_files)),
        )
    for name, (old_path, new_path) in sorted(pairs.items()):
        before, after = _calls(old_path, prices), _calls(new_path, prices)
        drift = compare_all(after, before, scorer)
        record = figures.test_record(name, after, drift)
        if len(before) > len(after):
            record["baseline_only_calls"] = len(before) - len(after)
        result.tests.append(record)
    return result
