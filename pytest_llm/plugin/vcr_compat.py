"""pytest-recording's names, for suites that move to pytest-llm without changing a line.

Registered only when pytest-recording is not loaded (uninstalled, or `-p no:recording`): the
`vcr` and `default_cassette` markers, the `vcr` fixture (the test's `llm`), `vcr_config`,
`vcr_cassette_dir`, `default_cassette_name`, `record_mode` and `vcr_markers` with
pytest-recording's defaults, and its `--record-mode` and `--block-network` options.
"""

from __future__ import annotations

import hashlib
import os
from importlib.metadata import entry_points
from typing import Any

import pytest

PLUGIN_NAME = "recording"  # pytest-recording's entry point: `-p no:recording` blocks it
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
        """Called with a vcrpy VCR object before each vcr test (custom matchers are not used)."""


def recording_expected(pluginmanager: pytest.PytestPluginManager) -> bool:
    """Whether pytest-recording is (or is about to be) loaded in this run."""
    if pluginmanager.is_blocked(PLUGIN_NAME):
        return False
    if pluginmanager.has_plugin(PLUGIN_NAME):
        return True
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        return False
    return any(ep.name == PLUGIN_NAME for ep in entry_points(group="pytest11"))


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
    """Whether a test takes part as a pytest-recording test (marked vcr, or asking for it)."""
    return item.get_closest_marker("vcr") is not None or "vcr" in getattr(item, "fixturenames", ())


def merged_config(config: dict[str, Any], item: pytest.Item) -> dict[str, Any]:
    """vcr_config with the vcr markers' keywords over it, the closest marker winning."""
    merged = dict(config)
    for marker in reversed(list(item.iter_markers("vcr"))):
        merged.update(marker.kwargs)
    return merged


def cassette_name(test_class: type | None, test_name: str) -> str:
    """pytest-recording's default cassette name: `Class.test` or `test`, unsafe characters -."""
    name = f"{test_class.__name__}.{test_name}" if test_class else test_name
    for char in _UNSAFE:
        name = name.replace(char, "-")
    return name


def file_name(name: str) -> str:
    """The file of a cassette named `name`, as pytest-recording names it: `.yaml` added,
    and a name too long for the file system cut, with an md5 of the whole name."""
    if len(name) + len(SUFFIX) > _MAX_NAME:
        digest = hashlib.md5(name.encode()).hexdigest()
        name = f"{name[: _MAX_NAME - len(SUFFIX) - len(digest) - 3]}...{digest}"
    return name if name.endswith(SUFFIX) else name + SUFFIX


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


@pytest.fixture
def vcr(request: pytest.FixtureRequest) -> Any:
    """The test's recorded traffic (the same object as `llm`), replayed from its cassette."""
    hooks: Any = request.config.pluginmanager.get_plugin(HOOKS_NAME)
    return hooks.start_vcr(request)


@pytest.fixture(autouse=True)
def _llm_vcr_marker(request: pytest.FixtureRequest) -> None:
    """A test marked vcr takes part even when it does not ask for the fixture."""
    if request.node.get_closest_marker("vcr") is not None:
        request.getfixturevalue("vcr")
