"""Cassette files, the front: `read` and `loads` turn a file into checked interactions, and
the writer's functions (`dumps`, `write_atomic`, `locked`...) are here under their names.

Four modules do the work behind it:

- `fast_read`: the files this version writes (YAML 1.2 by yaml-rs, stream events by `json`);
- `hardened`: the hardened PyYAML loader, for earlier files and anything the fast reader
  cannot vouch for (it names the line at fault); imported only when a file needs it;
- `validate`: the checks of each interaction, whichever reader parsed it;
- `writer`: the readable dump and the atomic, parallel-safe writes.

The hardened loader's result is kept by `load_cache`, as it is slow. The fast reader's result
is kept too, except in CI (see `load_cache.caches_current_format`): its copy loads in about
half the time.
"""

from __future__ import annotations

import contextlib
import gc
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pytest_llm.cassettes import fast_read, load_cache, validate
from pytest_llm.cassettes.format import (
    FAST_MARK,
    FORMAT_VERSION,
    MAX_CASSETTE_BYTES,
    RESTORE,
    too_big,
)
from pytest_llm.cassettes.writer import dumps as dumps
from pytest_llm.cassettes.writer import dumps_more as dumps_more
from pytest_llm.cassettes.writer import is_current_format as is_current_format
from pytest_llm.cassettes.writer import locked as locked
from pytest_llm.cassettes.writer import remove_stale_temps as remove_stale_temps
from pytest_llm.cassettes.writer import write_atomic as write_atomic
from pytest_llm.errors import CassetteError

# The other source files whose code decides what a read returns: a cached result is only
# used while they are as they were when it was cached.
_SOURCES = tuple(
    str(Path(__file__).with_name(name))
    for name in ("format.py", "fast_read.py", "hardened.py", "validate.py")
)


def loads(text: str, path: Path) -> list[dict[str, Any]]:
    """The interactions of a cassette's text; CassetteError for anything unexpected."""
    if len(text) > MAX_CASSETTE_BYTES:  # characters: at most as many as bytes
        raise too_big(path, len(text))
    document = fast_read.parse(text)
    if document is fast_read.UNREAD:
        return loads_hardened(text, path)
    return _checked(document, text, path)


def loads_hardened(text: str, path: Path) -> list[dict[str, Any]]:
    """The interactions of a cassette's text as the hardened PyYAML loader reads them."""
    from pytest_llm.cassettes import hardened

    if len(text) > MAX_CASSETTE_BYTES:
        raise too_big(path, len(text))
    document, lines = hardened.parse(text, path)
    return validate.interactions(document, path, lines.get)


def _checked(document: Any, text: str, path: Path) -> list[dict[str, Any]]:
    """The checked interactions of what the fast reader parsed (it keeps no lines: the
    hardened loader finds the line of a problem, which is rare, when there is one)."""
    found: dict[str, int] | None = None

    def line(part: str) -> int | None:
        nonlocal found
        if found is None:
            from pytest_llm.cassettes import hardened

            found = hardened.lines(text, path)
        return found.get(part)

    return validate.interactions(document, path, line)


@contextlib.contextmanager
def without_collection() -> Iterator[None]:
    """Pause the cyclic garbage collector while a cassette is turned into objects.

    A load makes hundreds of thousands of dicts and lists and no cycle, and each batch of
    new containers triggers a collection, which walks the whole heap: in a process that
    already holds a few cassettes (a test session), these walks took two thirds of a cold
    load (0.58 s of a 1,000-stream cassette against 0.21 s paused).

    Resumed as it is, the collector would walk every container of the load at the next
    allocation (a seventh of a cold load at 1,000 calls), and again as they age. They are
    long-lived, so they go to the oldest generation at once: freeze then unfreeze moves
    them there without a walk. Skipped when the process froze objects itself (a forking
    server), whose frozen set unfreeze would release.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        if gc.get_freeze_count() == 0:
            gc.freeze()
            gc.unfreeze()
        gc.enable()


def read(path: Path) -> list[dict[str, Any]] | None:
    """The interactions stored at `path`, or None when there is no file."""
    with without_collection():
        return _read(path)


def _read(path: Path) -> list[dict[str, Any]] | None:
    try:
        raw = _read_bounded(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CassetteError(path, f"cannot read it ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CassetteError(path, "not UTF-8 text", line=line, fix=RESTORE) from None
    if len(text) > MAX_CASSETTE_BYTES:
        raise too_big(path, len(text))
    if text.startswith(FAST_MARK) and load_cache.caches_current_format():
        # Read fast (or hardened) once per version of the file; later runs load the
        # checked JSON copy, in about half the time.
        return load_cache.cached(raw, lambda: loads(text, path), sources=_SOURCES)
    document = fast_read.parse(text)
    if document is not fast_read.UNREAD:
        return _checked(document, text, path)
    # The hardened loader runs once per version of the file: later runs load a checked
    # JSON copy (load_cache).
    return load_cache.cached(raw, lambda: loads_hardened(text, path), sources=_SOURCES)


def _read_bounded(path: Path) -> bytes:
    # O_NONBLOCK: opening a FIFO planted as a cassette must not hang the run. Plain os
    # calls: a file object around the descriptor cost a sixth of a small cassette's load.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):  # a device such as /dev/zero never ends
            raise CassetteError(path, "not a regular file", fix=RESTORE)
        if info.st_size > MAX_CASSETTE_BYTES:
            raise too_big(path, info.st_size)
        # Up to one byte more than allowed: the file may have grown since fstat.
        chunks = [os.read(fd, info.st_size + 1)]
        total = len(chunks[0])
        while chunks[-1] and total <= MAX_CASSETTE_BYTES:
            chunks.append(os.read(fd, min(MAX_CASSETTE_BYTES + 1 - total, 1 << 20)))
            total += len(chunks[-1])
    finally:
        os.close(fd)
    raw = b"".join(chunks) if len(chunks) > 1 else chunks[0]
    if len(raw) > MAX_CASSETTE_BYTES:
        raise too_big(path, len(raw))
    return raw


def document(interactions: list[dict[str, Any]]) -> dict[str, Any]:
    """The cassette document that holds `interactions`."""
    return {"version": FORMAT_VERSION, "interactions": interactions}


Signature = tuple[int, int, int]


def signature(path: Path) -> Signature | None:
    """What changes whenever the file is replaced or written (None: no such file)."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_ino, info.st_size, info.st_mtime_ns
