"""Cassette files: safe YAML load, readable dump, atomic and parallel-safe save."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from pytest_llm.errors import CassetteError

FORMAT_VERSION = 1

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BaseDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_BaseDumper):  # type: ignore[valid-type,misc]
    """Multi-line text as `|` blocks so a reviewer reads answers as plain text in a diff."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _represent_str)

_HEADER = (
    "# pytest-llm cassette: recorded LLM calls, replayed offline by pytest-llm.\n"
    "# Edit with care; re-record with: pytest <test> --llm-record=rewrite\n"
)


def dumps(document: dict[str, Any]) -> str:
    """The YAML text of a cassette document."""
    body = yaml.dump(
        document,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=1_000_000,  # never fold long lines: folding makes diffs unreadable
        default_flow_style=False,
    )
    return _HEADER + body


def loads(text: str, path: Path) -> list[dict[str, Any]]:
    """The interactions of a cassette's text; CassetteError for anything unexpected."""
    try:
        document = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise CassetteError(
            path,
            f"not valid cassette YAML ({problem})",
            line=line,
            fix="restore it from version control, or delete it and re-record "
            "with --llm-record=once",
        ) from None
    if document is None:
        return []
    if not isinstance(document, dict) or not isinstance(document.get("interactions", []), list):
        raise CassetteError(
            path,
            "expected a mapping with an 'interactions' list",
            fix="for a vcrpy / pytest-recording cassette, convert it with: pytest-llm import FILE",
        )
    version = document.get("version")
    if version != FORMAT_VERSION:
        raise CassetteError(
            path,
            f"unknown cassette format version {version!r} (this pytest-llm reads {FORMAT_VERSION})",
            fix="upgrade pytest-llm, or re-record the cassette",
        )
    interactions: list[dict[str, Any]] = document.get("interactions") or []
    for number, interaction in enumerate(interactions):
        problem = _check_interaction(interaction)
        if problem:
            raise CassetteError(
                path, f"interaction #{number}: {problem}", fix="restore it or re-record"
            )
    return interactions


def _check_interaction(interaction: Any) -> str:
    if not isinstance(interaction, dict):
        return f"expected a mapping, found {type(interaction).__name__}"
    request, response = interaction.get("request"), interaction.get("response")
    if not isinstance(request, dict) or not isinstance(request.get("path"), str):
        return "request.path is missing"
    if not isinstance(request.get("body"), dict):
        return "request.body must be the decoded JSON request (a mapping)"
    if not isinstance(response, dict) or not isinstance(response.get("status"), int):
        return "response.status is missing"
    return ""


def read(path: Path) -> list[dict[str, Any]] | None:
    """The interactions stored at `path`, or None when there is no file."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CassetteError(path, f"cannot read it ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CassetteError(
            path, "not UTF-8 text", line=line, fix="restore it or re-record"
        ) from None
    return loads(text, path)


def document(interactions: list[dict[str, Any]]) -> dict[str, Any]:
    """The cassette document that holds `interactions`."""
    return {"version": FORMAT_VERSION, "interactions": interactions}


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` so that readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
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


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Serialise writers of one cassette directory across processes (pytest-xdist workers).

    Locking the directory itself leaves no lock files behind in the user's tree.
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
