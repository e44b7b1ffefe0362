"""The release artefacts: what `pip install pytest-llm-replay` would put on a user's machine."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Built from a copy: a build in the checkout leaves an .egg-info beside the tests, which
    # would register the plugin a second time in every inner pytest run.
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "pytest_llm", source / "pytest_llm", ignore=shutil.ignore_patterns("__pycache__")
    )
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(source)],
        check=True,
        capture_output=True,
    )
    return out


def test_sdist_and_wheel_pass_twine_check(dist: Path) -> None:
    built = sorted(p.name for p in dist.iterdir())
    version = PROJECT["version"]
    assert built == [
        f"pytest_llm_replay-{version}-py3-none-any.whl",
        f"pytest_llm_replay-{version}.tar.gz",
    ]
    check = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, dist.iterdir())],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count("PASSED") == 2


def test_the_wheel_installs_the_plugin_the_command_and_the_data(dist: Path) -> None:
    [wheel] = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = f"pytest_llm_replay-{PROJECT['version']}.dist-info"
        metadata = archive.read(f"{info}/METADATA").decode()
        entry_points = archive.read(f"{info}/entry_points.txt").decode()
    assert "Name: pytest-llm-replay\n" in metadata
    # The extras carry the tested lower bounds of the SDKs.
    assert (
        f'Requires-Dist: {PROJECT["optional-dependencies"]["openai"][0]}; extra == "openai"'
        in metadata
    )
    assert "[pytest11]\nllm = pytest_llm.plugin" in entry_points
    assert "pytest-llm = pytest_llm.cli:main" in entry_points
    # The price table and the type marker ship; no test or cassette does.
    assert {
        "pytest_llm/data/models.toml",
        "pytest_llm/py.typed",
        "pytest_llm/plugin/__init__.py",
    } <= names
    assert not any(name.startswith(("tests/", "cassettes/", "examples/")) for name in names)


def test_the_sdist_holds_the_source_and_the_readme(dist: Path) -> None:
    [sdist] = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {
        "README.md",
        "pyproject.toml",
        "pytest_llm/cli.py",
        "pytest_llm/data/models.toml",
    } <= names


def test_the_readme_installs_this_distribution_and_states_the_tested_range() -> None:
    install = README[README.index("## Install\n") : README.index("## Quick start")]
    assert f"pip install {PROJECT['name']}" in install
    # `pytest-llm` on the index is another project: no install line may name it bare.
    assert not re.search(r"pip install ['\"]?pytest-llm(?![-\w])", README)
    for sdk in ("openai", "anthropic"):
        lower = PROJECT["optional-dependencies"][sdk][0].split(">=")[1]
        assert re.search(rf"`{sdk}` {re.escape(lower)}\b", install), sdk


def test_the_sdk_range_script_runs_test_files_that_exist() -> None:
    script = (ROOT / "scripts" / "sdk-range").read_text(encoding="utf-8")
    core = re.search(r"^CORE=\(\n(.*?)^\)", script, re.MULTILINE | re.DOTALL)
    assert core is not None
    files = core.group(1).split()
    assert len(files) >= 5
    for name in files:
        assert (ROOT / name).is_file(), name
