"""Catches pytest-llm opening a file, listing or changing a folder, importing a module or
starting a process on the thread of a running event loop (SPEC "Async").

BlockBuster catches blocking calls by patching them, but lets imports through; this audit
hook sees every import that loads a module and every file opened. A call counts against
pytest-llm when the nearest frame outside the standard library is in the `pytest_llm`
package (what the SDKs or httpcore do on their own is theirs). Audit hooks cannot be removed,
so the hook is installed once (by the outer conftest) and switched on around inner tests.
"""

from __future__ import annotations

import asyncio
import os
import sys
import sysconfig
from types import FrameType
from typing import Any

import pytest_llm

PACKAGE = os.path.dirname(pytest_llm.__file__)
_STDLIB = (sysconfig.get_paths()["stdlib"], "<frozen ")
_EVENTS = frozenset(
    {
        "open",
        "import",
        "os.listdir",
        "os.scandir",
        "os.mkdir",
        "os.remove",
        "os.rename",
        "os.rmdir",
        "os.chdir",
        "os.system",
        "os.posix_spawn",
        "os.exec",
        "subprocess.Popen",
        "shutil.copyfile",
    }
)

active = False
violations: list[str] = []


def _nearest_outside_stdlib(frame: FrameType | None) -> FrameType | None:
    while frame is not None and frame.f_code.co_filename.startswith(_STDLIB):
        frame = frame.f_back
    return frame


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if not active or event not in _EVENTS:
        return
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    frame = _nearest_outside_stdlib(sys._getframe(1))
    if frame is not None and frame.f_code.co_filename.startswith(PACKAGE):
        where = f"{os.path.relpath(frame.f_code.co_filename, PACKAGE)}:{frame.f_lineno}"
        violations.append(f"{event} {args[0]!r} in pytest_llm/{where}")


sys.addaudithook(_hook)
