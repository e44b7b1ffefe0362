"""What every part of the cassette file code agrees on: the version, the header, the limits."""

from __future__ import annotations

from pathlib import Path

from pytest_llm.errors import CassetteError

FORMAT_VERSION = 1

# Far above any real recording (a long chat with big answers is tens of kB per call), and
# low enough that a runaway or hostile file fails at once instead of eating memory and time.
MAX_CASSETTE_BYTES = 64 * 1024 * 1024
# JSON bodies nest a few levels, deep JSON schemas a few dozen; the code that keys and
# replays a request recurses, so a bound keeps a hostile file from exhausting the stack.
MAX_DEPTH = 100

RESTORE = "restore it from version control, or delete it and re-record with --llm-record=once"

# The first line also says that the file is written for YAML 1.2 (see `fast_read`): only
# such files are read by the fast parser.
FAST_MARK = (
    "# pytest-llm cassette (YAML 1.2): recorded LLM calls, replayed offline by pytest-llm.\n"
)
HEADER = FAST_MARK + "# Edit with care; re-record with: pytest <test> --llm-record=rewrite\n"


def too_big(path: Path, size: int) -> CassetteError:
    """The error for a file over MAX_CASSETTE_BYTES."""
    return CassetteError(
        path,
        f"it is {size / 1_048_576:.1f} MB, over the {MAX_CASSETTE_BYTES // 1_048_576} MB "
        "that pytest-llm reads from one cassette",
        fix="this is not a recording pytest-llm wrote: check what produced it, and " + RESTORE,
    )
