"""What the plugin pays once: its first participating test, and a cold load of a big cassette.

A project is generated in a temporary folder; each timed run is a whole `python -m pytest`
process with no load cache (`CI=true`, `-p no:cacheprovider`: a fresh clone in CI). Its
tests run in this order, each making one replayed OpenAI call, and a conftest hook writes
how long each took, up to the end of its call and then its teardown:

0. `test_plain`: takes no part; it makes the same SDK call through an in-process transport,
   so that the SDK's own first-call work (lazy imports, ~80 ms) is not counted below;
1. `test_a_first`: the first test that takes part (1-interaction cassette);
2. `test_b_second`: the same on another 1-interaction cassette;
3. `test_c_big`: one call answered from a shared cassette of 1,000 interactions (half
   Anthropic streams, half OpenAI chat answers, as in `cassette_load.py`): its first load;
4. `test_d_small`: the same on a 1-interaction cassette.

Measured, medians over the runs (and the range), in wall time and in the process's CPU time
(its threads included), which a machine busy with other work blurs less:

- first test's one-time cost: a - b, setup to teardown (goal < 30 ms);
- cold load through the plugin: c - d, setup and call (the load, then the replay), against
  `json.loads` of the same interactions as JSON text with the garbage collector paused, as
  the plugin's load pauses it (goal <= 3x), two ways: its first parse in the process, taken
  before the tests (like the load, it is the first to build that much: each later parse
  reuses the memory the one before freed, and runs 15-20% faster); and the median of five
  parses at the end of the process, after the big cassette was let go (the stricter bar);
- letting the big cassette go: c - d, teardown (no test left uses it: its objects are freed
  there, rather than walked by the garbage collector to the end of the run and freed at exit).

Run: python benchmarks/plugin_costs.py   (about a minute; --rounds to change)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _bench import Answers, load_note, table
from cassette_load import cassettes

from pytest_llm.cassettes import store

ROUNDS = 9
BASE = ["-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:cassetter", "-q"]

CONFTEST = """
import gc
import json
import os
import statistics
import time

import pytest

TIMES = {}


CALL_DONE = {}


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_protocol(item):
    start, cpu = time.perf_counter(), time.process_time()
    try:
        return (yield)
    finally:
        end, end_cpu = time.perf_counter(), time.process_time()
        done, done_cpu = CALL_DONE.pop(item.nodeid)
        TIMES[f"{item.name} run"] = done - start  # setup and call
        TIMES[f"{item.name} run cpu"] = done_cpu - cpu
        TIMES[f"{item.name} teardown"] = end - done
        TIMES[f"{item.name} teardown cpu"] = end_cpu - done_cpu


def pytest_runtest_logreport(report):
    if report.when == "call":  # the call is over, the teardown to come
        CALL_DONE[report.nodeid] = (time.perf_counter(), time.process_time())


def pytest_sessionstart(session):
    # The bar's first parse, before any test: as the load, the first to build that much.
    with open(os.environ["BENCH_JSON"], encoding="utf-8") as handle:
        text = handle.read()
    gc.disable()
    start, used = time.perf_counter(), time.process_time()
    json.loads(text)
    TIMES["json.loads first"] = time.perf_counter() - start
    TIMES["json.loads first cpu"] = time.process_time() - used
    gc.enable()


def pytest_sessionfinish(session):
    # The bar, in this process: json.loads of the big cassette's interactions, with the
    # garbage collector paused as the plugin's load pauses it (the faster, stricter bar).
    with open(os.environ["BENCH_JSON"], encoding="utf-8") as handle:
        text = handle.read()
    taken, cpu = [], []
    for _ in range(5):
        gc.disable()
        start, used = time.perf_counter(), time.process_time()
        json.loads(text)
        taken.append(time.perf_counter() - start)
        cpu.append(time.process_time() - used)
        gc.enable()
    TIMES["json.loads"] = statistics.median(taken)
    TIMES["json.loads cpu"] = statistics.median(cpu)
    with open(os.environ["BENCH_TIMES"], "w") as handle:
        json.dump(TIMES, handle)
"""

TESTS = """
import httpx2
import openai
import pytest

from app import client

ANSWER = {answer}


def ask(prompt):
    reply = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{{"role": "user", "content": prompt}}]
    )
    assert reply.choices[0].message.content


def test_plain():
    # The SDK's own first call (lazy imports of its resources, ~80 ms), through an in-process
    # transport in a test that does not take part: the first test below pays only the plugin's.
    def answer(request):
        return httpx2.Response(200, json=ANSWER)

    http = httpx2.Client(transport=httpx2.MockTransport(answer))
    warm = openai.OpenAI(api_key="sk-warm-up", http_client=http)
    hello = [{{"role": "user", "content": "hi"}}]
    warm.chat.completions.create(model="gpt-4o-mini", messages=hello)


@pytest.mark.llm(cassette="one/first")
def test_a_first():
    ask("{prompt}")


@pytest.mark.llm(cassette="one/second")
def test_b_second():
    ask("{prompt}")


@pytest.mark.llm(cassette="shared/big")
def test_c_big():
    ask("{prompt}")


@pytest.mark.llm(cassette="one/small")
def test_d_small():
    ask("{prompt}")
"""

APP = """
import openai

client = openai.OpenAI()  # the application's client, built at import
"""


def write_project(root: Path) -> tuple[Path, str]:
    """The project, its cassettes written from recorded interactions; the JSON of the big one."""
    interactions, _ = cassettes(Answers())["mixed (issue 17)"]
    chat = next(i for i in interactions if i["provider"] == "openai")
    prompt = chat["request"]["body"]["messages"][0]["content"]
    project = root / "project"
    (project / "tests").mkdir(parents=True)
    (project / "pytest.ini").write_text("[pytest]\ntestpaths = tests\n")
    (project / "conftest.py").write_text(CONFTEST)
    (project / "app.py").write_text(APP)
    answer = chat["response"]["body"]
    (project / "tests" / "test_costs.py").write_text(TESTS.format(prompt=prompt, answer=answer))
    folder = project / "cassettes"
    for name in ("one/first", "one/second", "one/small"):
        store.write_atomic(folder / f"{name}.yaml", store.dumps(store.document([chat])))
    store.write_atomic(folder / "shared/big.yaml", store.dumps(store.document(interactions)))
    return project, json.dumps(interactions, separators=(",", ":"))


def run(project: Path, env: dict[str, str]) -> dict[str, float]:
    """Seconds of each test in one whole pytest process."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *BASE],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"pytest failed:\n{done.stdout[-3000:]}")
    times: dict[str, float] = json.loads(Path(env["BENCH_TIMES"]).read_text())
    return times


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args()
    print(f"{load_note()}; whole pytest processes, interleaved", file=sys.stderr)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_"))}
    env.pop("PYTEST_ADDOPTS", None)
    # Bytecode is written (the first, untimed run writes it), as pip compiles an installed
    # package: an editable checkout with PYTHONDONTWRITEBYTECODE would compile it every run.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["CI"] = "true"  # a fresh clone: no load cache read or written
    with tempfile.TemporaryDirectory() as tmp:
        project, text = write_project(Path(tmp))
        env["BENCH_TIMES"] = f"{tmp}/times.json"
        env["BENCH_JSON"] = f"{tmp}/big.json"
        Path(env["BENCH_JSON"]).write_text(text, encoding="utf-8")
        run(project, env)  # untimed: the interpreter's own caches (pyc files) are written
        found: dict[str, list[float]] = {}
        for _ in range(args.rounds):
            times = run(project, env)
            for clock in ("", " cpu"):
                run_, free_ = {}, {}
                for test in ("test_a_first", "test_b_second", "test_c_big", "test_d_small"):
                    run_[test] = times[f"{test} run{clock}"]
                    free_[test] = times[f"{test} teardown{clock}"]
                whole = {test: run_[test] + free_[test] for test in run_}
                first = whole["test_a_first"] - whole["test_b_second"]
                load = run_["test_c_big"] - run_["test_d_small"]
                free = free_["test_c_big"] - free_["test_d_small"]
                found.setdefault("first" + clock, []).append(first * 1e3)
                found.setdefault("load" + clock, []).append(load * 1e3)
                found.setdefault("first_ratio" + clock, []).append(
                    load / times["json.loads first" + clock]
                )
                found.setdefault("ratio" + clock, []).append(load / times["json.loads" + clock])
                found.setdefault("free" + clock, []).append(free * 1e3)
            print(".", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    rows: list[list[Any]] = [
        [label, spread(found[name]), spread(found[name + " cpu"]), goal]
        for label, name, goal in (
            ("first test's one-time cost (a - b), ms", "first", "< 30"),
            ("cold load of 1,000 interactions (c - d), ms", "load", ""),
            ("  / json.loads of the same data, its first parse", "first_ratio", "<= 3"),
            ("  / the same, median of 5 at the end (stricter)", "ratio", ""),
            ("letting it go after its last test (c - d), ms", "free", ""),
        )
    ]
    print(f"medians (range) of {args.rounds} whole pytest runs, no load cache (CI=true);")
    print("CPU: the process's CPU time, its threads included (what a busy machine cannot blur)")
    print(table(["", "wall", "CPU", "goal"], rows))
    print(f"({load_note()})")


if __name__ == "__main__":
    main()
