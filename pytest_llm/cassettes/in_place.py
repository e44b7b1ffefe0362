"""Cassettes read where pytest-recording left them: vcrpy's format, or ours once re-recorded."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pytest_llm.cassettes import store
from pytest_llm.cassettes.cassette import Reader
from pytest_llm.cassettes.vcr_import import (
    ALREADY_PYTEST_LLM,
    VcrImportError,
    convert,
    import_file,
)
from pytest_llm.errors import CassetteError
from pytest_llm.scrub import Scrubber

_FIX = (
    "restore it from version control, or re-record the test with --record-mode=rewrite "
    "(it is then written in pytest-llm's format)"
)


def reader(scrubber: Scrubber, document: Callable[[Path], Any] | None = None) -> Reader:
    """A reader for a pytest-recording test's cassette, converting vcrpy's format in memory.

    `document` reads a file into vcrpy's layout when the project registered its own
    serializer or persister (it returns None for a missing cassette). The file itself is
    only rewritten (in pytest-llm's format) when the test records.
    """

    def read(path: Path) -> list[dict[str, Any]] | None:
        with store.without_collection():  # as store.read: a load makes objects, no cycles
            return _read(path)

    def _read(path: Path) -> list[dict[str, Any]] | None:
        try:
            raw = path.read_bytes()
            modified = datetime.fromtimestamp(os.stat(path).st_mtime, UTC)
        except FileNotFoundError:
            raw, modified = None, None
        except OSError as exc:
            raise CassetteError(path, f"cannot read it ({exc.strerror or exc})") from None
        if raw is not None and store.is_current_format(raw):
            return store.read(path)
        try:
            if document is not None:
                return _from_document(path, document, scrubber, modified)
            if raw is None:
                return None
            return import_file(path, scrubber, undated=modified, raw=raw).interactions
        except VcrImportError as exc:
            if exc.problem == ALREADY_PYTEST_LLM:  # written by an earlier pytest-llm
                return store.read(path)
            raise CassetteError(path, exc.problem, line=exc.line, fix=_FIX) from None

    return read


def _from_document(
    path: Path,
    document: Callable[[Path], Any],
    scrubber: Scrubber,
    modified: datetime | None,
) -> list[dict[str, Any]] | None:
    try:
        loaded = document(path)
    except Exception as exc:  # the project's own serializer or persister
        problem = (
            f"the serializer or persister registered in pytest_recording_configure failed ({exc})"
        )
        raise CassetteError(path, problem, fix=_FIX) from None
    if loaded is None:
        return None
    return convert(loaded, path, scrubber, undated=modified).interactions
