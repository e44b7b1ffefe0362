"""Whole pytest runs: 200 tests x 5 replayed calls, against hand-written MockTransport fixtures.

A project is generated in a temporary folder, three times over:

- llm/: the tests call a module-level `openai.OpenAI()` and take the `llm` fixture; their
  cassettes (one per test, 200 files) are recorded once from the fake provider over HTTP
  (`--llm-record=once`), then every timed run replays them (record mode `none`);
- vcr/: the same tests marked `@pytest.mark.vcr`, recorded once by pytest-recording (vcrpy)
  from the fake provider, then replayed by pytest-recording, by pytest-llm as its drop-in
  (`-p no:recording`: it reads the vcrpy cassettes in place) and by cassetter (Rust core),
  each with the other two left out (`-p no:...`);
- mock/: the same tests, with a session fixture whose client answers through
  `httpx2.MockTransport` from a dict of the same answers (what one writes by hand), run with
  `-p no:llm`;
- mock_app/: mock/ whose conftest also imports the application module, as the other
  projects' tests do: its `openai.OpenAI()` built at import (an SSL context, the network
  transport's modules) is the application's cost, not a replaying tool's, and mock/ never
  pays it.

Each run is a whole `python -m pytest` process, so start-up, imports, collection, and
cassette loading all count. Every side runs with `-p no:cacheprovider -p no:hypothesispytest`
(and without the plugins of the others), taking turns round after round (medians, paired
ratios). Bytecode is written as pip compiles an installed package (the first, untimed runs
write it), whatever PYTHONDONTWRITEBYTECODE says. Measured:

d. replay (`-n 0`) against the mock suite; goals: pytest-llm <= 1.15x, below cassetter's
   ratio, and its drop-in within 1.1x of its native figure. Each ratio is also given
   against mock_app/ ("x mock+app"): what the tool adds over hand mocks of the same app.
   "llm" runs with no load cache (`-p no:cacheprovider`: what a fresh clone in CI pays),
   "llm+cache" names a warm one with `PYTEST_LLM_LOAD_CACHE` (a developer's rerun: the
   first run, untimed, fills it);
d'. `pytest --collect-only` of a plain project (200 tests, no model calls, no SDK import)
   with pytest-llm installed, against `-p no:llm`: what installing the plugin costs a
   project that never uses it; goal < 50 ms;
e. `-n 2` against `-n 0` (pytest-xdist) for the mock and native suites.

Run: python benchmarks/whole_suite.py   (about 3 minutes; --rounds to change)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

from _bench import Rounds, load_note, quick_acks, table, wire
from fake_provider import FakeProvider

TESTS = 200
CALLS = 5
MODULES = 10
ROUNDS = 5
COLLECT_ROUNDS = 21
BASE = ["-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-q"]
# Each side leaves out the other sides' plugins (they share option names such as --record-mode).
LLM = ["-p", "no:cassetter"]
DROP_IN = ["-p", "no:recording", "-p", "no:cassetter"]
RECORDING = ["-p", "no:llm", "-p", "no:cassetter"]
CASSETTER = ["-p", "no:llm", "-p", "no:recording"]
MOCK = ["-p", "no:llm", "-p", "no:cassetter"]

TEST_BODY = """
def test_case_{n:03d}({fixture}):
    for question in range({calls}):
        reply = client_for({fixture}).chat.completions.create(
            model="gpt-4o-mini",
            messages=[{{"role": "user", "content": f"case {n} question {{question}}"}}],
        )
        assert reply.choices[0].message.content.startswith("[gpt-4o-mini] reply to: case {n} ")
"""

LLM_HEADER = """
from app import client


def client_for(llm):
    return client
"""

VCR_HEADER = """
import pytest

from app import client

pytestmark = pytest.mark.vcr


def client_for(vcr):
    return client
"""

APP = """
import openai

client = openai.OpenAI()  # the application's client, built at import
"""

MOCK_HEADER = """
def client_for(client):
    return client
"""

MOCK_CONFTEST = '''
import json
from pathlib import Path

import httpx2
import openai
import pytest

ANSWERS = json.loads((Path(__file__).parent / "answers.json").read_text())


def answer(request):
    prompt = json.loads(request.content)["messages"][0]["content"]
    return httpx2.Response(200, json=ANSWERS[prompt])


@pytest.fixture(scope="session")
def client():
    """An OpenAI client answered in process from the recorded answers."""
    transport = httpx2.MockTransport(answer)
    return openai.OpenAI(api_key="sk-test", http_client=httpx2.Client(transport=transport))
'''

# The application's module, imported as the other projects' tests import it (they call its
# client): its client is built, and the hand-mocked tests use their own.
MOCK_APP_IMPORT = "import app  # noqa: F401\n"

# The llm project's conftest is empty: its folder goes on sys.path, so the tests import app.
LLM_CONFTEST = ""


def write_plain(root: Path) -> Path:
    """plain/: 200 tests that never call a model (for the cost of having the plugin)."""
    plain = root / "plain"
    (plain / "tests").mkdir(parents=True)
    (plain / "pytest.ini").write_text("[pytest]\ntestpaths = tests\n")
    for module in range(MODULES):
        body = "".join(
            f"\ndef test_{n}():\n    assert sum(range({n})) == {sum(range(n))}\n"
            for n in range(TESTS // MODULES)
        )
        (plain / "tests" / f"test_mod{module:02d}.py").write_text(body)
    return plain


def write_projects(root: Path) -> tuple[Path, Path, Path, Path]:
    """The llm/, vcr/, mock/ and mock_app/ projects, with the same tests."""
    llm, vcr, mock = root / "llm", root / "vcr", root / "mock"
    per_module = TESTS // MODULES
    for project, header, fixture in (
        (llm, LLM_HEADER, "llm"),
        (vcr, VCR_HEADER, "vcr"),
        (mock, MOCK_HEADER, "client"),
    ):
        tests = project / "tests"
        tests.mkdir(parents=True)
        (project / "pytest.ini").write_text("[pytest]\ntestpaths = tests\n")
        for module in range(MODULES):
            numbers = range(module * per_module, (module + 1) * per_module)
            body = "".join(TEST_BODY.format(n=n, fixture=fixture, calls=CALLS) for n in numbers)
            (tests / f"test_mod{module:02d}.py").write_text(textwrap.dedent(header) + body)
    for project in (llm, vcr):
        (project / "conftest.py").write_text(LLM_CONFTEST)  # its folder goes on sys.path
        (project / "app.py").write_text(APP)
    (mock / "conftest.py").write_text(MOCK_CONFTEST)
    provider = FakeProvider()
    answers = {}
    for n in range(TESTS):
        for question in range(CALLS):
            prompt = f"case {n} question {question}"
            body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}]}
            _, _, data = wire(provider, "/v1/chat/completions", body)
            assert isinstance(data, bytes)
            answers[prompt] = json.loads(data)
    (mock / "answers.json").write_text(json.dumps(answers))
    mock_app = root / "mock_app"
    shutil.copytree(mock, mock_app)
    (mock_app / "app.py").write_text(APP)
    (mock_app / "conftest.py").write_text(MOCK_APP_IMPORT + MOCK_CONFTEST)
    return llm, vcr, mock, mock_app


def pytest_run(project: Path, *args: str, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one whole pytest process in `project` (it must pass).

    CPU is user + system time, xdist workers included: on a loaded machine the wall time
    also counts the waits for a CPU, the CPU time does not.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *BASE, *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"pytest failed in {project} {args}:\n{done.stdout[-3000:]}")
    return elapsed, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


class Runs:
    """Whole pytest runs taken in turns: wall times in `wall`, CPU times in `cpu`."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.wall, self.cpu = Rounds(), Rounds()
        self.sides: dict[str, Callable[[], float]] = {}

    def side(self, name: str, project: Path, *args: str, env: dict[str, str] | None = None) -> None:
        def measure() -> float:
            wall, cpu = pytest_run(project, *args, env=env or self.env)
            taken = self.cpu.samples.setdefault(name, {})
            taken[len(taken)] = cpu
            return wall

        self.sides[name] = measure

    def run(self, rounds: int) -> Runs:
        self.wall.run(self.sides, rounds)
        return self


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--collect-rounds", type=int, default=COLLECT_ROUNDS)
    args = parser.parse_args()
    quick_acks()
    print(f"{load_note()}; whole pytest processes, interleaved", file=sys.stderr)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_"))}
    env["OPENAI_API_KEY"] = "sk-test"
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.TemporaryDirectory() as tmp:
        llm, vcr, mock, mock_app = write_projects(Path(tmp))
        plain = write_plain(Path(tmp))
        with FakeProvider() as server:
            # vcrpy's cassettes name the host: every vcr/ run asks the recorded (stopped) one.
            vcr_env = env | {"OPENAI_BASE_URL": server.openai_base_url}
            recording = pytest_run(llm, *LLM, "--llm-record=once", env=vcr_env)
            pytest_run(vcr, *RECORDING, "--record-mode=once", env=vcr_env)
        # pytest-recording keeps its cassettes beside the test files.
        for folder in (llm / "cassettes", vcr / "tests" / "cassettes"):
            cassettes = len(list(folder.rglob("*.yaml")))
            assert cassettes == TESTS, (folder, cassettes)
        cache_env = env | {"PYTEST_LLM_LOAD_CACHE": f"{tmp}/cache"}
        pytest_run(llm, *LLM, env=cache_env)  # fills the load cache (untimed)
        pytest_run(mock, *MOCK, env=env)  # writes the bytecode of what the runs import
        pytest_run(mock_app, *MOCK, env=env)
        pytest_run(vcr, *CASSETTER, env=vcr_env)
        pytest_run(vcr, *DROP_IN, env=vcr_env)
        print(f"recorded {TESTS * CALLS} calls in {recording[0]:.1f} s", file=sys.stderr)
        suite = Runs(env)
        suite.side("mock", mock, *MOCK)
        suite.side("mock+app", mock_app, *MOCK)
        suite.side("llm", llm, *LLM)
        suite.side("cache", llm, *LLM, env=cache_env)
        suite.side("drop-in", vcr, *DROP_IN, env=vcr_env)
        suite.side("cassetter", vcr, *CASSETTER, env=vcr_env)
        suite.side("recording", vcr, *RECORDING, env=vcr_env)
        suite.side("mock2", mock, *MOCK, "-n", "2")
        suite.side("llm2", llm, *LLM, "-n", "2")
        suite.run(args.rounds)
        print(".", end="", file=sys.stderr, flush=True)
        collect = Runs(env)
        collect.side("without", plain, "--collect-only", *MOCK)
        collect.side("with", plain, "--collect-only", *LLM)
        collect.run(args.collect_rounds)
    print(file=sys.stderr)
    wall, cpu = suite.wall, suite.cpu
    print(f"d, e. {TESTS} tests x {CALLS} calls, whole pytest runs; medians of {args.rounds}")
    print("(x mock: the median of the paired ratios, and their range; x mock+app: the same")
    print(" against the mock suite that also imports the application, so builds its client)")
    rows: list[list[object]] = []
    for name, label, fast in (
        ("mock", "mock fixtures (-p no:llm)", "mock2"),
        ("mock+app", "mock fixtures + the app", ""),
        ("llm", "pytest-llm, its cassettes", "llm2"),
        ("cache", "pytest-llm + load cache", ""),
        ("drop-in", "pytest-llm, vcrpy cassettes", ""),
        ("cassetter", "cassetter, vcrpy cassettes", ""),
        ("recording", "pytest-recording (vcrpy)", ""),
    ):
        row: list[object] = [label, wall.median(name), spread(wall, name, "mock")]
        row += [spread(wall, name, "mock+app"), cpu.median(name), spread(cpu, name, "mock")]
        row += [wall.median(fast), wall.ratio(fast, name)] if fast else ["", ""]
        rows.append(row)
    header = ["suite", "wall s", "x mock", "x mock+app", "CPU s", "x mock", "-n 2 wall s"]
    header.append("n2 / n0")
    print(table(header, rows))
    print(
        f"drop-in / native: wall {spread(wall, 'drop-in', 'llm')}, "
        f"CPU {spread(cpu, 'drop-in', 'llm')}"
    )
    for name in ("llm", "drop-in"):  # below 1: ahead of cassetter, round by round
        print(f"{name} / cassetter: wall {spread(wall, name, 'cassetter')}")
    print()
    print(f"d'. pytest --collect-only, {TESTS} plain tests (ms); medians of {args.collect_rounds}")
    rows = []
    for label, rounds in (("wall", collect.wall), ("CPU", collect.cpu)):
        without, with_ = rounds.median("without") * 1e3, rounds.median("with") * 1e3
        added = statistics.median(
            (rounds.samples["with"][n] - rounds.samples["without"][n]) * 1e3
            for n in rounds.samples["with"]
        )
        values = list(rounds.samples["without"].values())
        noise = (max(values) - min(values)) * 1e3
        rows.append([label, without, with_, added, noise])
    print(table(["", "-p no:llm", "installed", "added (paired)", "noise (max-min)"], rows))
    print(f"({load_note()})")


def spread(rounds: Rounds, name: str, base: str) -> str:
    """The median of the paired ratios name / base, and their range."""
    mine, theirs = rounds.samples[name], rounds.samples[base]
    ratios = [mine[n] / theirs[n] for n in mine if n in theirs]
    return f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})"


if __name__ == "__main__":
    main()
