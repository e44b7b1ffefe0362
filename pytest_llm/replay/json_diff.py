"""Where two decoded JSON values differ, path by path, for miss messages and stale checks.

These run in the middle of a call, often on an event loop's thread, where importing a library
would block the loop; deepdiff took 100 ms to import, which every participating test paid up
front. JSON needs far less: dicts, lists and scalars. Lists of scalars are aligned as deepdiff
aligns them (a removed or inserted item is one difference, not a shifted tail), other lists
item by item.
"""

from __future__ import annotations

import difflib
from typing import Any

ABSENT: Any = type("Absent", (), {"__repr__": lambda self: "absent"})()

_SCALARS = (str, int, float, bool, type(None))
# Two objects that share less than a third of their keys read as one replaced value, not as
# a list of every key removed and added (deepdiff's threshold_to_diff_deeper).
_SHARED_KEYS = 0.33


def changes(old: Any, new: Any, path: str = "$") -> list[tuple[str, Any, Any]]:
    """`(path, old, new)` for every leaf that differs; `ABSENT` stands for a missing side."""
    found: list[tuple[str, Any, Any]] = []
    _walk(old, new, path, found)
    return found


def _walk(old: Any, new: Any, path: str, found: list[tuple[str, Any, Any]]) -> None:
    if type(old) is dict and type(new) is dict:
        keys = old.keys() | new.keys()
        if len(keys) > 1 and len(old.keys() & new.keys()) / len(keys) < _SHARED_KEYS:
            found.append((path, old, new))
            return
        for key in keys:
            where = f"{path}.{key}"
            if key not in new:
                found.append((where, old[key], ABSENT))
            elif key not in old:
                found.append((where, ABSENT, new[key]))
            else:
                _walk(old[key], new[key], where, found)
    elif type(old) is list and type(new) is list:
        pairwise = _pairwise(old, new, path, 0, len(old), 0, len(new))
        if all(type(v) in _SCALARS for v in (*old, *new)):
            aligned = _aligned(old, new, path)
            # The shorter account of the change reads better, as in deepdiff (difflib takes
            # True for 1: an empty alignment leaves such a change to the pairwise account).
            if aligned and len(aligned) < len(pairwise):
                pairwise = aligned
        found += pairwise
    elif type(old) is not type(new) or old != new:
        found.append((path, old, new))


def _pairwise(
    old: list[Any], new: list[Any], path: str, i0: int, i1: int, j0: int, j1: int
) -> list[tuple[str, Any, Any]]:
    """Items compared by position within old[i0:i1] and new[j0:j1]."""
    found: list[tuple[str, Any, Any]] = []
    for offset in range(max(i1 - i0, j1 - j0)):
        i, j = i0 + offset, j0 + offset
        if i < i1 and j < j1:
            _walk(old[i], new[j], f"{path}[{i}]", found)
        elif i < i1:
            found.append((f"{path}[{i}]", old[i], ABSENT))
        else:
            found.append((f"{path}[{j}]", ABSENT, new[j]))
    return found


def _aligned(old: list[Any], new: list[Any], path: str) -> list[tuple[str, Any, Any]]:
    """Lists of scalars aligned on their longest common runs."""
    found: list[tuple[str, Any, Any]] = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i0, i1, j0, j1 in matcher.get_opcodes():
        if tag == "replace":
            found += _pairwise(old, new, path, i0, i1, j0, j1)
        elif tag == "delete":
            found += [(f"{path}[{i}]", old[i], ABSENT) for i in range(i0, i1)]
        elif tag == "insert":
            found += [(f"{path}[{j}]", ABSENT, new[j]) for j in range(j0, j1)]
    return found
