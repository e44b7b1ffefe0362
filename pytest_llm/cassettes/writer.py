"""Cassette text and files: a readable YAML dump, and atomic, parallel-safe writes.

A cassette is written to be read in a pull-request diff: multi-line text as `|` blocks, a
stream's events one compact JSON line each, and every scalar that YAML 1.1 and 1.2 read
differently quoted, so that the fast YAML 1.2 reader (`fast_read`) and the hardened PyYAML
loader (`hardened`) read the same data. PyYAML is imported at the first dump, not before:
a run that only replays never needs it.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_llm.cassettes.format import FAST_MARK, HEADER

if TYPE_CHECKING:
    import yaml

_STR_TAG = "tag:yaml.org,2002:str"


@functools.cache
def dumper() -> type[yaml.SafeDumper]:
    """PyYAML's safe dumper, writing multi-line text as `|` blocks and never an alias."""
    import yaml

    base: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

    class Dumper(base):  # type: ignore[valid-type,misc]
        def ignore_aliases(self, data: Any) -> bool:
            # An object referenced twice (an event reused in an assembled message) would
            # otherwise be written as &id001 / *id001, which the loader refuses.
            return True

    Dumper.add_representer(str, _represent_str)
    return Dumper


def _dump(data: Any, *, flow: bool) -> str:
    import yaml

    text: str = yaml.dump(
        data,
        Dumper=dumper(),
        sort_keys=False,
        allow_unicode=True,
        width=1_000_000,  # never fold long lines: folding makes diffs unreadable
        default_flow_style=flow,
    )
    return text


# Plain text that a YAML 1.2 parser may read as a number although YAML 1.1 (PyYAML) reads it
# as text: `0o17`, `0008`, `1e5`, `+.5`, `.NaN`; yaml-rs also skips underscores (`_1` is 1).
# Quoted, it is text in both. Broader than needed on purpose: a quote costs nothing.
_NUMBER_LIKE = re.compile(r"[-+]?\.?[0-9]|[-+]?\.(?:inf|nan)$", re.IGNORECASE)


def _represent_str(representer: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return representer.represent_scalar(_STR_TAG, value, style="|")
    if _NUMBER_LIKE.match(value.replace("_", "")):
        return representer.represent_scalar(_STR_TAG, value, style="'")
    return representer.represent_scalar(_STR_TAG, value)


# Characters that JSON leaves raw but YAML reads as line breaks (NEL, U+2028/9) or refuses
# (C1 controls, DEL, the BOM and non-characters): escaped, which both languages read alike.
_YAML_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def dumps(document: dict[str, Any]) -> str:
    """The YAML text of a cassette document; a stream's events one per line."""
    if not isinstance(document.get("interactions"), list):
        return HEADER + _yaml(document, [], "")
    nonce = secrets.token_hex(8)
    streams: list[list[Any]] = []
    interactions = [_with_placeholder(i, nonce, streams) for i in document["interactions"]]
    return HEADER + _yaml({**document, "interactions": interactions}, streams, nonce)


def dumps_more(interactions: list[dict[str, Any]]) -> str:
    """The text that appended to a cassette's text adds `interactions` at its end.

    A cassette's `interactions` list is its last part, so the new items can follow it
    (the cassette must hold at least one interaction already: not `interactions: []`).
    """
    if not interactions:
        return ""
    nonce = secrets.token_hex(8)
    streams: list[list[Any]] = []
    return _yaml([_with_placeholder(i, nonce, streams) for i in interactions], streams, nonce)


def _yaml(data: Any, streams: list[list[Any]], nonce: str) -> str:
    # The events are swapped for unique placeholders, dumped as plain scalars, then each
    # placeholder line becomes the list of event lines: one pass, linear in the size.
    body = _dump(data, flow=False)
    if not streams:
        return body

    def events(match: re.Match[str]) -> str:
        indent = match.group(1)
        lines = [f"{indent}- {_event_line(e)}" for e in streams[int(match.group(2))]]
        return f"{indent}events:\n" + "\n".join(lines)

    placeholder = re.compile(rf"^( *)events: pytest-llm-events-{nonce}-(\d+)$", re.M)
    return placeholder.sub(events, body)


def _with_placeholder(interaction: Any, nonce: str, streams: list[list[Any]]) -> Any:
    response = interaction.get("response") if isinstance(interaction, dict) else None
    if not isinstance(response, dict):
        return interaction
    events = response.get("events")
    if not isinstance(events, list) or not events:
        return interaction
    streams.append(events)
    placeholder = f"pytest-llm-events-{nonce}-{len(streams) - 1}"
    return {**interaction, "response": {**response, "events": placeholder}}


def _event_line(event: Any) -> str:
    """One stream event on one line: compact JSON, which YAML also reads as a flow mapping."""
    try:
        line = json.dumps(event, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError, RecursionError):  # NaN or infinity: not JSON
        line = ""
    if line and not _SURROGATE.search(line):
        if _exponent_floats(event):
            # JSON's `1e-05` is text to YAML 1.1 (PyYAML): `1.0e-05` is a float to both.
            line = _JSON_TOKEN.sub(_dotted, line)
        return _YAML_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", line)
    flow = _dump(event, flow=True)
    return flow.rstrip("\n").removesuffix("\n...").rstrip("\n")


# A JSON string (left as it is), or a number written with an exponent and no dot.
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?')


def _dotted(match: re.Match[str]) -> str:
    number = match.group()
    if match.group(1) is not None or match.group(2) is None:  # text, a dot, or an integer
        return number
    exponent = match.group(2)
    return f"{number[: -len(exponent)]}.0{exponent}"


def _exponent_floats(value: Any) -> bool:
    """Whether a float in `value` is one that JSON writes with an exponent (1e-05)."""
    if isinstance(value, float):
        return "e" in repr(value)
    if isinstance(value, dict):
        return any(_exponent_floats(v) for v in value.values())
    if isinstance(value, list):
        return any(_exponent_floats(v) for v in value)
    return False


def is_current_format(raw: bytes) -> bool:
    """Whether `raw` was written by this version's writer (so more can be appended to it)."""
    return raw.startswith(FAST_MARK.encode()) and raw.endswith(b"\n")


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


_TEMP_SUFFIX = ".tmp"


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` so that readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=_TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _sync_directory(path.parent)


def _sync_directory(directory: Path) -> None:
    # The rename lives in the directory: without this a power cut could bring back the
    # old file (or none) even though the new one was complete. Not possible on Windows.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def remove_stale_temps(path: Path) -> list[Path]:
    """Delete the temporary files that killed writers of `path` left; the paths removed.

    Only safe under `locked(path.parent)`: every pytest-llm writer of a cassette holds that
    lock from before it creates its temporary file until after it renames it, so a
    temporary file seen under the lock belongs to a writer that died.
    """
    pattern = re.compile(re.escape(_temp_prefix(path)) + r"[A-Za-z0-9_]+" + re.escape(_TEMP_SUFFIX))
    removed: list[Path] = []
    with contextlib.suppress(OSError):  # a missing directory has nothing to clean
        for entry in path.parent.iterdir():
            if pattern.fullmatch(entry.name) and entry.is_file():
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
                    removed.append(entry)
    return removed


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Serialise writers of one cassette directory across processes (pytest-xdist workers).

    Locking the directory itself leaves no lock files behind in the user's tree. The
    kernel drops the lock of a killed process, so a crash never leaves it held.
    """
    directory.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows: atomic replace still avoids torn files
        yield
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
