"""Write the run's report in the format its file suffix names: JSON, Markdown or HTML."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pytest_llm.cassettes.store import write_atomic
from pytest_llm.replay.settings import REPORT_FORMATS
from pytest_llm.report import pages
from pytest_llm.report.figures import document

__all__ = ["REPORT_FORMATS", "write"]


def write(path: Path, tests: list[dict[str, Any]]) -> None:
    """Write the report in the format its suffix names (.json, .md or .html)."""
    data = document(tests)
    suffix = path.suffix.lower()
    if suffix == ".json":
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    else:
        text = pages.markdown(data) if suffix == ".md" else pages.page(data)
    write_atomic(path, text)
