"""A third-party provider registers through the `pytest_llm.providers` entry point."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest
from fake_provider import FakeProvider
from kit import inner_file

from pytest_llm.providers import Endpoint, recognize, recognize_path
from pytest_llm.providers.registry import BUILTIN

ACME = '''
from pytest_llm.providers.base import Provider
from pytest_llm.usage import Usage


class Acme(Provider):
    """An OpenAI-shaped API under /acme, read its own way."""

    name = "acme"
    secret_headers = frozenset({"x-acme-key"})

    def operation(self, path):
        return "chat" if path.rstrip("/").endswith("/acme/chat/completions") else None

    def text(self, operation, response):
        return "acme: " + response["choices"][0]["message"]["content"]

    def usage(self, operation, response):
        return Usage(1, 2, 3, 0)
'''


def _install(pytester: pytest.Pytester, target: str) -> None:
    """A tiny provider package and its dist-info, importable from the inner run's sys.path."""
    pytester.makepyfile(acme_provider=ACME)
    info = pytester.path / "acme_provider-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-provider\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[pytest_llm.providers]\nacme = {target}\n")
    pytester.syspathinsert()


def test_a_registered_provider_reads_its_own_calls(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    _install(pytester, "acme_provider:Acme")
    inner_file(
        pytester,
        """
        acme = openai.OpenAI(
            base_url=os.environ["FAKE_URL"] + "/acme",
            default_headers={"x-acme-key": "s3cr3t-acme-key"},
        )

        def test_a(llm):
            messages = [{"role": "user", "content": "hello"}]
            acme.chat.completions.create(model="acme-1", messages=messages)
            ask("hello")
            assert [c.provider for c in llm.calls] == ["acme", "openai"]
            assert llm.calls[0].text.startswith("acme: [acme-1] reply to: hello")
            assert llm.calls[0].usage.total_tokens == 3
        """,
    )
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    cassette = (pytester.path / "cassettes" / "test_app" / "test_a.yaml").read_text()
    assert "provider: acme" in cassette
    assert "s3cr3t-acme-key" not in cassette
    inner_env.stop()
    pytester.runpytest().assert_outcomes(passed=1)


def test_a_provider_installed_between_two_runs_of_one_process_is_found(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    # The installed packages' entry points are read once per run, afresh for each run.
    pytester.syspathinsert()
    inner_file(
        pytester,
        """
        from pytest_llm.providers.registry import providers

        def test_a(llm):
            assert "acme" in [p.name for p in providers()]
        """,
    )
    pytester.runpytest().assert_outcomes(failed=1)
    _install(pytester, "acme_provider:Acme")
    pytester.runpytest().assert_outcomes(passed=1)


def test_one_read_of_the_installed_packages_serves_a_run(monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_llm import installed

    reads: list[int] = []

    def counted() -> object:
        reads.append(1)
        return entry_points()

    monkeypatch.setattr(installed, "entry_points", counted)
    installed.read_anew()
    plugins = installed.of_group("pytest11")
    assert "llm" in [point.name for point in plugins]
    assert installed.of_group("pytest_llm.providers") == ()
    assert installed.of_group("pytest11") == plugins
    assert len(reads) == 1
    installed.read_anew()
    installed.of_group("pytest11")
    assert len(reads) == 2


def test_an_entry_point_that_is_no_provider_is_a_usage_error(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    _install(pytester, "textwrap:dedent")
    inner_file(pytester, "def test_a(llm):\n    pass\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*the entry point 'acme' in group 'pytest_llm.providers' must name a "
            "pytest_llm.providers.base.Provider subclass with a `name`*"
        ]
    )


def test_the_built_in_providers_recognise_their_paths_and_bodies() -> None:
    assert [p.name for p in BUILTIN] == ["anthropic", "bedrock", "google", "ollama", "openai"]
    path = "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    found = recognize("POST", path, {"contents": []})
    assert found == Endpoint("google", "stream_generate_content")
    assert found is not None and found.model == "gemini-2.5-flash"
    vertex = "/v1/projects/p/locations/l/publishers/google/models/text-embedding-005:predict"
    assert recognize_path(vertex) == Endpoint("google", "embed_content")
    assert recognize_path("/v1/projects/p/locations/l/endpoints/123:predict") is None
    assert recognize("POST", "/v1/messages", {"messages": []}) is None  # no model: not a call
    boto3_path = "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse-stream"
    found = recognize("POST", boto3_path, {"messages": []})
    assert found == Endpoint("bedrock", "converse_stream")
    assert found is not None and found.model == "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    assert recognize("GET", boto3_path, {}) is None


def test_a_path_is_named_anew_when_the_registry_is_read_again(
    pytester: pytest.Pytester,
) -> None:
    # Paths' endpoints are remembered for the calls of a run; a registry read again (another
    # run's entry points) may claim a path that OpenAI's generic suffixes took before.
    from importlib.metadata import EntryPoint

    from pytest_llm.providers import endpoint_of, registry

    pytester.makepyfile(acme_provider=ACME)
    pytester.syspathinsert()
    path = "/acme/chat/completions"
    point = EntryPoint("acme", "acme_provider:Acme", registry.GROUP)
    try:
        registry.load([])  # the built-in providers only (an earlier inner run loaded acme)
        assert recognize_path(path) == Endpoint("openai", "chat.completions")
        assert endpoint_of("acme", path) == Endpoint("openai", "chat.completions")
        registry.load([point])
        assert recognize_path(path) == Endpoint("acme", "chat")
        assert endpoint_of("acme", path) == Endpoint("acme", "chat")
    finally:
        registry.load([])
    assert recognize_path(path) == Endpoint("openai", "chat.completions")
