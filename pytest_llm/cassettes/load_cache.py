"""A cache of parsed cassettes, so a large cassette is read at JSON speed after its first load.

The YAML of a cassette is parsed once per version of the file. The parse result is kept as
JSON in a cache directory (by default `.pytest_cache/d/pytest-llm/`), under the SHA-256 of
the file's bytes together with the pytest-llm version and the parser's own source file. So
an edited cassette, a new release or an edited loader never reads an old entry. Cassettes
of this version's format, which load fast without it, are cached too, except in CI
(`caches_current_format`).

An entry is never trusted blindly. It must start with this module's header, name the same
source hash, and carry the SHA-256 of its JSON payload. The payload must parse as JSON
into a list. Any entry that fails a check is ignored, and the parse rewrites it. Entries
are plain JSON: reading one never runs code (no pickle, no marshal).

Writers are atomic (a temporary file in the same folder, then `os.replace`), so parallel
workers that miss the same file at once each write a complete entry and the last one wins.
The directory stays bounded: before a process writes its first entry there, it trims the
folder to MAX_ENTRIES entries and MAX_BYTES in all, dropping the least recently used
entries and the temporary files of writers that died. Any failure to read or write the
cache only costs speed; the parse itself always decides.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_llm._version import __version__

Interactions = list[dict[str, Any]]

MAGIC = b"pytest-llm load cache 1\n"
SUFFIX = ".json"
MAX_ENTRIES = 2000
MAX_BYTES = 256 * 1024 * 1024
# A temporary file this old belongs to a writer that died (a write takes milliseconds).
STALE_TEMP_S = 3600.0
_TEMP_PREFIX = ".tmp-"

# Process-wide on purpose: the cache directory is set once per run by the plugin, and read
# by `store.read`, which is also used outside pytest (the pytest-llm command).
_directory: Path | None = None
# The folders this process has already trimmed (see trim): once per process is enough.
_trimmed: set[Path] = set()


def configure(directory: Path | None) -> None:
    """Cache parsed cassettes under `directory` from now on (None: no cache)."""
    global _directory
    _directory = directory


def directory() -> Path | None:
    """The cache directory in use: `PYTEST_LLM_LOAD_CACHE` if set ("" turns it off), else
    the one configured."""
    value = os.environ.get("PYTEST_LLM_LOAD_CACHE")
    if value is not None:
        return Path(value) if value else None
    return _directory


# Values of the `CI` variable that say "not in CI" (CI services set it to `true`).
_NOT_CI = ("", "0", "false", "no")


def caches_current_format() -> bool:
    """Whether cassettes in this version's format are cached too (earlier ones always are).

    Their cached copy loads in about half the time of the fast reader, but writing it costs
    about as much as a `json.load` more, once per version of the file. A developer's next
    run reads it back; a CI job (the `CI` variable set, as CI services do) starts from a
    fresh clone and an empty cache, so there the copy is neither written nor looked for,
    unless `PYTEST_LLM_LOAD_CACHE` names a cache directory (a CI that keeps one).
    """
    if os.environ.get("PYTEST_LLM_LOAD_CACHE"):
        return True
    return os.environ.get("CI", "").strip().lower() in _NOT_CI


def load(
    path: Path, parse: Callable[[str], Interactions], cache_dir: Path | None = None
) -> Interactions:
    """The interactions of the file at `path`: from the cache, or `parse(text)` then cached."""
    data = path.read_bytes()
    return cached(data, lambda: parse(data.decode("utf-8")), cache_dir, parser=parse)


def cached(
    data: bytes,
    parse: Callable[[], Interactions],
    cache_dir: Path | None = None,
    *,
    parser: Callable[..., Any] | None = None,
    sources: tuple[str, ...] = (),
) -> Interactions:
    """What `parse()` makes of `data`, from the cache when an entry for these bytes is valid.

    `data` are the bytes that `parse` reads (already read by the caller: they are read once).
    `cache_dir` None means the configured directory (see `directory`); when there is none,
    this is just `parse()`. `parser` is the function whose code decides the result, when
    `parse` only wraps it (default: `parse`); `sources` are the other source files whose code
    decides it (a parser split over modules). Errors of `parse` propagate, never cached.
    """
    folder = cache_dir if cache_dir is not None else directory()
    if folder is None:
        return parse()
    key = entry_key(data, parser or parse, sources)
    entry = folder / (key + SUFFIX)
    found = read_entry(entry, key)
    if found is not None:
        return found
    value = parse()
    write_entry(entry, key, value)
    return value


def entry_key(data: bytes, parse: Callable[..., Any], sources: tuple[str, ...] = ()) -> str:
    """The name of the entry for `data` as parsed by `parse`'s code (and the code of
    `sources`, more source files) in this version."""
    digest = hashlib.sha256()
    digest.update(MAGIC + __version__.encode() + b"\0" + _code_identity(parse) + b"\0")
    for source in sources:
        digest.update(_file_identity(source) + b"\0")
    digest.update(data)
    return digest.hexdigest()


def _code_identity(parse: Callable[..., Any]) -> bytes:
    """Which parser this is: the source file it is defined in, and that file's size and time.

    A loader edited in a checkout (same version number) must not read the entries of the
    old loader, which may have accepted what the new one refuses.
    """
    code = getattr(parse, "__code__", None)
    return _file_identity(getattr(code, "co_filename", "") or "")


def _file_identity(filename: str) -> bytes:
    try:
        info = os.stat(filename)
    except (OSError, ValueError):
        return filename.encode(errors="replace")
    return f"{filename}\0{info.st_size}\0{info.st_mtime_ns}".encode(errors="replace")


def read_entry(entry: Path, key: str) -> Interactions | None:
    """The interactions stored in `entry` for `key`; None when it is missing or not valid."""
    try:
        with open(entry, "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    header = MAGIC + key.encode() + b"\n"
    if not raw.startswith(header):
        return None
    digest_end = len(header) + 65  # 64 hex characters and a newline
    expected = raw[len(header) : digest_end - 1]
    payload = memoryview(raw)[digest_end:]
    if raw[digest_end - 1 : digest_end] != b"\n":
        return None
    if hashlib.sha256(payload).hexdigest().encode() != expected:
        return None
    try:
        value = json.loads(bytes(payload))
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, list):
        return None
    with contextlib.suppress(OSError):
        os.utime(entry)  # the least recently used entries go first when trimming
    return value


def write_entry(entry: Path, key: str, value: Interactions) -> bool:
    """Store `value` in `entry` atomically; False when it could not (the cache is optional)."""
    try:
        payload = json.dumps(value, separators=(",", ":")).encode()
    except (TypeError, ValueError, RecursionError):
        return False  # not JSON data (no cassette parse makes such): parse it every time
    digest = hashlib.sha256(payload).hexdigest().encode()
    folder = entry.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if folder not in _trimmed:
            _trimmed.add(folder)
            trim(folder)
        fd, temp = tempfile.mkstemp(prefix=_TEMP_PREFIX, suffix=SUFFIX, dir=folder)
    except OSError:
        return False
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(MAGIC + key.encode() + b"\n" + digest + b"\n")
            handle.write(payload)
        # No fsync: a torn entry after a power cut fails its digest and is parsed again.
        os.replace(temp, entry)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        return False
    return True


def trim(folder: Path, max_entries: int | None = None, max_bytes: int | None = None) -> int:
    """Drop the least recently used entries beyond the bounds (default MAX_ENTRIES and
    MAX_BYTES), and dead writers' temporary files; how many files were removed."""
    max_entries = MAX_ENTRIES if max_entries is None else max_entries
    max_bytes = MAX_BYTES if max_bytes is None else max_bytes
    now = time.time()
    removed = 0
    entries: list[tuple[float, int, Path]] = []
    try:
        listing = list(os.scandir(folder))
    except OSError:
        return 0
    for item in listing:
        try:
            info = item.stat(follow_symlinks=False)
        except OSError:
            continue
        if item.name.startswith(_TEMP_PREFIX):
            if now - info.st_mtime > STALE_TEMP_S and _unlink(Path(item.path)):
                removed += 1
        elif item.name.endswith(SUFFIX) and item.is_file(follow_symlinks=False):
            entries.append((info.st_mtime, info.st_size, Path(item.path)))
    entries.sort(reverse=True)  # newest first
    total = 0
    for count, (_, size, entry) in enumerate(entries, start=1):
        total += size
        if (count > max_entries or total > max_bytes) and _unlink(entry):
            removed += 1
    return removed


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
    except OSError:
        return False
    return True
