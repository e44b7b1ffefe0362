"""Cassettes read where pytest-recording left them: vcrpy's format, or ours once re-recorded."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pytest_llm.cassettes import store
from pytest_llm.cassettes.cassette import Reader
from pytest_llm.cassettes.vcr_import import ALREADY_PYTEST_LLM, VcrImportError, import_file
from pytest_llm.errors import CassetteError
from pytest_llm.scrub import Scrubber

_FIX = (
    "restore it from version control, or re-record the test with --record-mode=rewrite "
    "(it is then written in pytest-llm's format)"
)


def reader(scrubber: Scrubber) -> Reader:
    """A reader for a pytest-recording test's cassette, converting vcrpy's format in memory.

    The file itself is only rewritten (in pytest-llm's format) when the test records.
    """

    def read(path: Path) -> list[dict[str, Any]] | None:
        try:
            raw = path.read_bytes()
            modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CassetteError(path, f"cannot read it ({exc.strerror or exc})") from None
        if store.is_current_format(raw):
            return store.read(path)
        try:
            return import_file(path, scrubber, undated=modified).interactions
        except VcrImportError as exc:
            if exc.problem == ALREADY_PYTEST_LLM:  # written by an earlier pytest-llm
                return store.read(path)
            raise CassetteError(path, exc.problem, line=exc.line, fix=_FIX) from None

    return read
