"""The pytest-llm command."""

from __future__ import annotations

import argparse
import sys

from pytest_llm._version import __version__


def main(argv: list[str] | None = None) -> int:
    """Entry point of `pytest-llm` and `python -m pytest_llm`."""
    parser = argparse.ArgumentParser(
        prog="pytest-llm", description="Inspect and manage pytest-llm cassettes."
    )
    parser.add_argument("--version", action="version", version=f"pytest-llm {__version__}")
    parser.parse_args(argv)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
