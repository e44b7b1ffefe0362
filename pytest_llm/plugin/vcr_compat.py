"""pytest-recording's names, for suites that move to pytest-llm without changing a line.

Registered only when pytest-recording is not loaded (uninstalled, or `-p no:recording`): the
`vcr` and `default_cassette` markers, the autouse `vcr` fixture (vcrpy's Cassette read API in
a marked test, None elsewhere), `vcr_config`,
`vcr_cassette_dir`, `default_cassette_name`, `record_mode` and `vcr_markers` with
pytest-recording's defaults, and its `--record-mode` and `--block-network` options.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import os
from pathlib import Path
from typing import Any

import pytest

from pytest_llm import installed

PLUGIN_NAME = "recording"  # pytest-recording's entry point: `-p no:recording` blocks it
# The plugins that serve the vcr names themselves, by entry point: pytest-llm steps aside.
OWNERS = {PLUGIN_NAME: "pytest-recording", "cassetter": "cassetter"}
HOOKS_NAME = "pytest-llm-hooks"
RECORD_MODES = ("once", "new_episodes", "none", "all", "rewrite")
SUFFIX = ".yaml"
_MAX_NAME = 255  # pytest-recording asks the file system; 255 is what common ones allow
# Characters pytest-recording replaces in a test name to make its cassette's file name.
_UNSAFE = r"<>?%*:|\"'/\\"


class RecordingHookSpecs:
    """pytest-recording's hook, so that a conftest implementing it still loads."""

    @pytest.hookspec(historic=False)
    def pytest_recording_configure(self, config: pytest.Config, vcr: Any) -> None:
        """Called with a vcrpy VCR object before each vcr test: the serializers, matchers and
        persister it registers, and the attributes it assigns, are used."""


def recording_expected(pluginmanager: pytest.PytestPluginManager) -> bool:
    """Whether pytest-recording or cassetter (which serve the same names) is, or is about to
    be, loaded in this run."""
    return any(_expected(pluginmanager, name) for name in OWNERS)


def _expected(pluginmanager: pytest.PytestPluginManager, name: str) -> bool:
    if pluginmanager.is_blocked(name):
        return False
    if pluginmanager.has_plugin(name):
        return True
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        return False
    return any(ep.name == name for ep in installed.of_group("pytest11"))


def owner(pluginmanager: pytest.PytestPluginManager) -> str | None:
    """The loaded plugin that serves pytest-recording's names, if any."""
    return next((OWNERS[n] for n in OWNERS if pluginmanager.has_plugin(n)), None)


def add_options(parser: pytest.Parser) -> None:
    """pytest-recording's options, with its names and defaults."""
    group = parser.getgroup("recording", "pytest-llm: pytest-recording's options")
    group.addoption(
        "--record-mode",
        action="store",
        default=None,
        choices=RECORD_MODES,
        help="record mode of tests marked vcr (pytest-recording's option; default none)",
    )
    group.addoption(
        "--block-network",
        action="store_true",
        default=False,
        help="refuse non-loopback connections, except while a vcr test records",
    )
    group.addoption(
        "--allowed-hosts",
        action="store",
        default=None,
        help="comma-separated regexes of hosts that --block-network lets through",
    )


MARKERS = (
    "vcr(*extra_cassettes, **vcr_config): replay this test from its pytest-recording cassette "
    "(served by pytest-llm; extra cassettes are replayed from too)",
    "default_cassette(name): the name of this test's pytest-recording cassette",
    "block_network(allowed_hosts=None): refuse non-loopback connections in this test",
)


def is_vcr_test(item: pytest.Item) -> bool:
    """Whether a test takes part as a pytest-recording test: marked vcr, or naming `vcr`
    itself (the fixture is autouse, so fixtures that read it do not make a test take part)."""
    if item.get_closest_marker("vcr") is not None:
        return True
    if any("vcr" in mark.args for mark in item.iter_markers("usefixtures")):
        return True
    try:
        return "vcr" in inspect.signature(getattr(item, "function", None)).parameters  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def merged_config(config: Any, item: pytest.Item) -> dict[str, Any]:
    """vcr_config with the vcr markers' keywords over it, the closest marker winning.

    cassetter lets vcr_config return its `Cassetter` object (a dataclass): its fields that
    differ from their defaults are read as the keys of the same names.
    """
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        config = {
            f.name: getattr(config, f.name)
            for f in dataclasses.fields(config)
            if getattr(config, f.name) != _default(f)
        }
    merged = dict(config or {})
    for marker in reversed(list(item.iter_markers("vcr"))):
        merged.update(marker.kwargs)
    return merged


def _default(field: dataclasses.Field[Any]) -> Any:
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def cassette_name(test_class: type | None, test_name: str) -> str:
    """pytest-recording's default cassette name: `Class.test` or `test`, unsafe characters -."""
    name = f"{test_class.__name__}.{test_name}" if test_class else test_name
    for char in _UNSAFE:
        name = name.replace(char, "-")
    return name


def file_name(name: str, suffix: str = SUFFIX) -> str:
    """The file of a cassette named `name`, as pytest-recording names it: `suffix` added (the
    serializer's), and a name too long for the file system cut, with an md5 of the whole
    name. A `.toml` name is kept: cassetter's other format."""
    if len(name) + len(suffix) > _MAX_NAME:
        digest = hashlib.md5(name.encode()).hexdigest()
        name = f"{name[: _MAX_NAME - len(suffix) - len(digest) - 3]}...{digest}"
    return name if name.endswith((suffix, ".toml")) else name + suffix


def resolved(path: Path, folders: dict[Path, Path]) -> Path:
    """`path.resolve()`, with each absolute folder resolved once per run (`folders`).

    A resolve stats every part of the path: a tenth of a pytest-recording test's start.
    The file itself is still followed when it is a symbolic link; a relative path (against
    a working directory that a test may change) is resolved whole, every time.
    """
    parent = path.parent
    if not parent.is_absolute():
        return path.resolve()
    folder = folders.get(parent)
    if folder is None:
        folder = folders[parent] = parent.resolve()
    found = folder / path.name
    return found.resolve() if os.path.islink(found) else found


@pytest.fixture(scope="session")
def record_mode(request: pytest.FixtureRequest) -> str:
    """The record mode that --record-mode names (none by default)."""
    return str(request.config.getoption("record_mode", None) or "none")


@pytest.fixture
def vcr_config() -> dict[str, Any]:
    """The vcrpy configuration of a test (override it in a conftest or a module)."""
    return {}


@pytest.fixture(scope="module")
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    """`<test file dir>/cassettes/<module name>`, where pytest-recording keeps cassettes."""
    path = request.node.path
    return os.path.join(path.parent, "cassettes", path.stem)


@pytest.fixture
def default_cassette_name(request: pytest.FixtureRequest) -> str:
    """The test's cassette name: its default_cassette marker, or `Class.test` / `test`."""
    marker = request.node.get_closest_marker("default_cassette")
    if marker is not None:
        if not marker.args:
            pytest.fail(
                "pytest-llm: @pytest.mark.default_cassette needs the cassette name, "
                'e.g. @pytest.mark.default_cassette("shared")',
                pytrace=False,
            )
        return str(marker.args[0])
    return cassette_name(request.cls, request.node.name)


@pytest.fixture
def vcr_markers(request: pytest.FixtureRequest) -> list[pytest.Mark]:
    """The test's vcr markers, closest first."""
    return list(request.node.iter_markers("vcr"))


@pytest.fixture(autouse=True)
def vcr(request: pytest.FixtureRequest) -> Any:
    """pytest-recording's cassette: in a test marked vcr, vcrpy's Cassette read API
    (record_mode, play_counts, all_played, requests...) over its recording; None otherwise."""
    hooks: Any = request.config.pluginmanager.get_plugin(HOOKS_NAME)
    return hooks.vcr_cassette(request)
