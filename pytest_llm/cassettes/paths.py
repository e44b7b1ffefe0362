"""Where a test's cassette lives."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

# Path separators and characters that Windows, macOS or Linux reject in file names.
_INVALID = re.compile(r'[\\/:*?"<>|\x00-\x1f]')
_MAX_NAME_BYTES = 150
SUFFIX = ".yaml"


def safe_name(name: str) -> str:
    """A file name for `name`: brackets and ids kept, only unusable characters replaced."""
    cleaned = _INVALID.sub("_", name).rstrip(". ") or "_"
    if len(cleaned.encode()) <= _MAX_NAME_BYTES:
        return cleaned
    digest = hashlib.sha256(name.encode()).hexdigest()[:12]
    head = cleaned.encode()[: _MAX_NAME_BYTES - 13].decode(errors="ignore")
    return f"{head}-{digest}"


def cassette_for_test(root: Path, nodeid: str) -> Path:
    """`<root>/<test file without .py>/<Class>.<test>.yaml` for a pytest node id."""
    file_part, _, rest = nodeid.partition("::")
    module = Path(file_part)
    parts = [p for p in module.with_suffix("").parts if p not in ("", ".", "..")]
    name = ".".join(rest.split("::")) if rest else module.stem
    return root.joinpath(*parts, safe_name(name) + SUFFIX)


def named_cassette(root: Path, name: str) -> Path:
    """A shared cassette named in a marker; may hold sub-folders, '.yaml' optional."""
    pieces = [safe_name(p) for p in re.split(r"[\\/]", name) if p not in ("", ".", "..")]
    if not pieces:
        raise ValueError(f"cassette name {name!r} names no file")
    if not pieces[-1].endswith((".yaml", ".yml")):
        pieces[-1] += SUFFIX
    return root.joinpath(*pieces)
