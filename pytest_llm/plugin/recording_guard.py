"""With pytest-recording loaded, a cassette that pytest-llm converted fails in one clear line.

A suite converted to pytest-llm (its cassettes re-recorded in our format) that still has
pytest-recording installed hands those files to vcrpy, which crashed deep inside with
`TypeError: Request.__init__() got an unexpected keyword argument 'path'`. Registered only when
pytest-recording is loaded (pytest-llm then leaves the vcr marker and fixtures to it).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_llm.errors import display

# Every cassette pytest-llm writes starts with this comment.
_MARK = b"# pytest-llm cassette"


def _ours(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(256).lstrip().startswith(_MARK)
    except OSError:
        return False


def _value(request: pytest.FixtureRequest, name: str, default: Any) -> Any:
    """A pytest-recording fixture's value, or `default` in a version that lacks it."""
    try:
        return request.getfixturevalue(name)
    except pytest.FixtureLookupError:
        return default


def _cassettes(request: pytest.FixtureRequest) -> Iterator[Path]:
    """The files pytest-recording will hand to vcrpy for this test, as it names them."""
    folder = Path(str(request.getfixturevalue("vcr_cassette_dir")))
    name = str(request.getfixturevalue("default_cassette_name"))
    yield folder / name
    yield folder / f"{name}.yaml"
    for marker in request.node.iter_markers("vcr"):
        for extra in marker.args:
            path = folder / str(extra)  # an absolute extra stays absolute
            yield path
            yield path.with_name(path.name + ".yaml")


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: Any, request: pytest.FixtureRequest) -> Generator[None]:
    if (
        fixturedef.argname == "vcr"
        and request.node.get_closest_marker("vcr") is not None
        and not _value(request, "disable_recording", False)
        and _value(request, "record_mode", "none") != "rewrite"  # vcrpy deletes it first
    ):
        for path in _cassettes(request):
            if path.is_file() and _ours(path):
                pytest.fail(
                    f"pytest-llm: {display(path)} is a pytest-llm cassette, which pytest-recording "
                    "(vcrpy) cannot read: uninstall pytest-recording, or run with "
                    "-p no:recording, and pytest-llm serves the vcr marker",
                    pytrace=False,
                )
    return (yield)
