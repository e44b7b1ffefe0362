"""The README documents what the code has, and its quick start is what CI runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _help(pytester: pytest.Pytester) -> str:
    result = pytester.runpytest("--help")
    assert result.ret == 0
    return result.stdout.str()


def test_every_option_is_documented_and_every_documented_option_exists(
    pytester: pytest.Pytester,
) -> None:
    in_help = set(re.findall(r"(--llm-[a-z-]+)", _help(pytester)))
    in_readme = set(re.findall(r"(--llm-[a-z-]+)", README))
    assert len(in_help) >= 8
    assert in_help - in_readme == set(), "options missing from the README"
    assert in_readme - in_help == set(), "the README documents options that do not exist"
    reference = README[README.index("## Reference") : README.index("## Reliability")]
    assert in_help <= set(re.findall(r"(--llm-[a-z-]+)", reference))


def test_every_ini_key_is_in_the_reference_table(pytester: pytest.Pytester) -> None:
    in_help = set(re.findall(r"^  (llm_[a-z_]+) \(", _help(pytester), re.MULTILINE))
    reference = README[README.index("## Reference") : README.index("## Reliability")]
    in_table = set(re.findall(r"^\| `(llm_[a-z_]+)` \|", reference, re.MULTILINE))
    assert len(in_help) >= 9
    assert in_help == in_table


def test_every_marker_is_in_the_reference(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    markers = set(re.findall(r"^@pytest\.mark\.(llm[a-z_]*)\(", result.stdout.str(), re.M))
    assert markers == {"llm", "llm_budget", "llm_faults"}
    reference = README[README.index("## Reference") : README.index("## Reliability")]
    for name in markers:
        assert f"@pytest.mark.{name}(" in reference


def test_every_public_name_is_in_the_reference() -> None:
    import pytest_llm

    reference = README[README.index("## Reference") : README.index("## Reliability")]
    for name in pytest_llm.__all__:
        if name != "__version__":
            assert f"`{name}`" in reference, name
            assert getattr(pytest_llm, name) is not None


def test_the_quick_start_runs_what_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    test_command = [line for line in ci.splitlines() if line.startswith("coverage run")]
    assert len(test_command) == 1
    quick = README[README.index("## Quick start") : README.index("## Why pytest-llm")]
    commands = re.findall(r"^   (python3 -m venv .*)$", quick, re.MULTILINE)
    assert len(commands) == 2
    assert commands[0].endswith("pytest examples")
    assert commands[1].endswith(test_command[0])
    for step in re.findall(r"python -m pip install --quiet (.+)", ci):
        if step != "--upgrade pip":  # CI's own housekeeping
            assert f"pip install {step}" in commands[1]


def test_pytest_recordings_names_are_in_the_reference(pytester: pytest.Pytester) -> None:
    reference = README[README.index("## Reference") : README.index("## Reliability")]
    # Without pytest-recording (a dev dependency here), pytest-llm serves its names.
    help_text = pytester.runpytest("-p", "no:recording", "--help").stdout.str()
    for option in ("--record-mode", "--block-network", "--allowed-hosts"):
        assert option in help_text
        assert f"`{option}" in reference, option
    markers = pytester.runpytest("-p", "no:recording", "--markers").stdout.str()
    for marker in ("vcr", "default_cassette", "block_network"):
        assert f"@pytest.mark.{marker}(" in markers
        assert f"`{marker}(" in reference, marker
    for fixture in ("vcr", "vcr_config", "vcr_cassette_dir", "default_cassette_name"):
        assert f"`{fixture}`" in reference, fixture
    assert "## Coming from pytest-recording" in README
