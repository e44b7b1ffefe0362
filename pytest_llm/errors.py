"""Errors a user reads: each names the file, the line where known, and the fix."""

from __future__ import annotations

import os
from pathlib import Path


def display(path: Path) -> str:
    """`path` relative to the working directory when it lies below it, for messages."""
    # As Path.relative_to does it (by the names, not the files), in a tenth of its time:
    # every cassette a run loads is named once.
    shown, here = str(path), os.getcwd()
    if shown == here:
        return "."
    below = here if here.endswith(os.sep) else here + os.sep
    return shown[len(below) :] if shown.startswith(below) else shown


class CassetteError(Exception):
    """A cassette that cannot be read or written; the file on disk is left as it was."""

    def __init__(self, path: Path, problem: str, *, line: int | None = None, fix: str = "") -> None:
        self.path = path
        self.line = line
        shown = display(path)
        where = f"{shown}:{line}" if line is not None else shown
        message = f"cannot use cassette {where}: {problem}"
        if fix:
            message += f"\n  fix: {fix}"
        super().__init__(message)


class ReplayMiss(BaseException):
    """A call with no recording while recording is off.

    A BaseException on purpose: the SDKs catch Exception from the transport and retry
    it (anthropic wraps it in APIConnectionError), and applications often catch
    Exception too. A miss must fail the test at once, with its own message.
    """


class RecordingRefused(BaseException):
    """Recording would send a placeholder API key to a real provider."""


class ProviderError(Exception):
    """A provider registered through the `pytest_llm.providers` entry point that is unusable."""
