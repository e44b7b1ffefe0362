"""Crash safety: runs killed with SIGKILL at random moments never leave a broken cassette.

Every kill is a real `os.kill(pid, SIGKILL)` of a separate process. Starting Python with
the SDKs imported costs seconds, so a small launcher imports everything once and forks
one child per run: each child is a fresh process running `pytest.main` (the plugin loaded
through its entry point) or a loop of saves, and dies the way a CI job killed by a
timeout or the OOM killer dies. The launcher, the child's parent, sends the signal when
the test says so. The seed of each test is in its failure messages.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_provider import FakeProvider
from kit import OPENAI_KEY

from pytest_llm.cassettes import store

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork and SIGKILL")

# Reads one JSON command per line and forks a child for it, answering with the child's
# pid; then reads "kill" (SIGKILL it now) or "wait", and answers with its exit status
# (-9 when SIGKILL ended it). The child is reaped only then, so its pid cannot have been
# reused by another process when the kill is sent.
LAUNCHER = r"""
import json, os, signal, stat, sys, tempfile, time
import pytest, openai, yaml  # imported once, shared by every forked child
import pytest_llm.plugin, pytest_llm.cassettes.cassette

# The protocol keeps its own copy of stdout; fd 1 is for what pytest prints.
protocol = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
# Warm up what is imported on first use (SDK resources, pytest's plugins), once here
# rather than in every child.
openai.OpenAI(base_url=os.environ["FAKE_OPENAI_BASE_URL"]).chat.completions.create(
    model="warm-up", messages=[{"role": "user", "content": "warm up"}]
)
with tempfile.TemporaryDirectory() as warm:
    with open(os.path.join(warm, "test_warm.py"), "w") as f:
        f.write("def test_warm():\n    pass\n")
    quiet = ["-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:cassetter"]
    pytest.main(["-q", *quiet, warm])

def writer(path, count, acks, pause_in=""):
    # Grows a cassette by one big interaction per save, and appends to `acks` after each
    # save how many interactions it has written: those must survive any later kill.
    # `pause_in` ("fsync" or "replace") holds the third save inside that call of
    # store.write_atomic, after saying "pause", so that the kill lands right there.
    from pathlib import Path
    from pytest_llm.cassettes.cassette import Cassette
    path = Path(path)
    acks = os.open(acks, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    if pause_in:
        real, calls = getattr(os, pause_in), []
        def paused(*args):
            # os.fsync is also called on the folder, after the rename: not that one
            if pause_in == "replace" or stat.S_ISREG(os.fstat(args[0]).st_mode):
                calls.append(args)
                if len(calls) == 3:
                    os.write(acks, b"pause\n")
                    time.sleep(60)
            return real(*args)
        setattr(os, pause_in, paused)
    answer = "a long answer line\n" * 8000
    while True:
        cassette = Cassette.load(path)
        n = len(cassette.interactions)
        if n >= count:  # start over, so the file stays a few MB
            path.unlink()
            continue
        body = {"model": "m", "messages": [{"role": "user", "content": f"question {n}"}]}
        cassette.append({
            "key": f"k{n}", "recorded_at": str(n),
            "request": {"path": "/v1/chat/completions", "body": body},
            "response": {"status": 200, "body": {"n": n, "text": answer}},
        })
        cassette.save()
        os.write(acks, f"{n + 1}\n".encode())

for line in iter(sys.stdin.readline, ""):
    command = json.loads(line)
    os.makedirs(command["cwd"], exist_ok=True)
    log = os.open(command["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    pid = os.fork()
    if pid == 0:
        os.chdir(command["cwd"])
        os.dup2(log, 1)
        os.dup2(log, 2)
        if command["kind"] == "pytest":
            os._exit(int(pytest.main(command["args"])))
        writer(*command["args"])
        os._exit(0)
    os.close(log)
    protocol.write(json.dumps({"pid": pid}) + "\n")
    if sys.stdin.readline().strip() == "kill":
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    protocol.write(json.dumps({"exit": os.waitstatus_to_exitcode(status)}) + "\n")
"""


class Launcher:
    """The forking launcher, driven line by line."""

    def __init__(self, directory: Path, env: dict[str, str]) -> None:
        script = directory / "launcher.py"
        script.write_text(LAUNCHER)
        self.process = subprocess.Popen(
            [sys.executable, str(script)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.directory = directory
        self.child: int | None = None  # forked and not yet waited for

    def start(self, kind: str, cwd: Path, args: list[Any]) -> int:
        """Fork a child running `kind` ("pytest" or "writer") in `cwd`; its pid."""
        assert self.process.stdin is not None and self.process.stdout is not None
        log = str(self.directory / f"{kind}.log")
        command = {"kind": kind, "cwd": str(cwd), "args": args, "log": log}
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        self.child = int(json.loads(self.process.stdout.readline())["pid"])
        return self.child

    def _end(self, how: str) -> int:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(how + "\n")
        self.process.stdin.flush()
        self.child = None
        return int(json.loads(self.process.stdout.readline())["exit"])

    def kill(self) -> int:
        """SIGKILL the child now; its exit code (0 if it had ended already)."""
        return self._end("kill")

    def wait(self) -> int:
        """Let the child run to its end; its exit code."""
        return self._end("wait")

    def close(self) -> None:
        """Stop the launcher; a child left running by a failed test is killed first."""
        if self.child is not None:
            self.kill()
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=30)


@pytest.fixture
def launcher(tmp_path: Path) -> Iterator[tuple[Launcher, FakeProvider]]:
    """A fake provider, and a launcher whose children record against it."""
    with FakeProvider() as server:
        env = {
            **os.environ,
            "FAKE_OPENAI_BASE_URL": server.openai_base_url,
            "OPENAI_API_KEY": OPENAI_KEY,
        }
        env.pop("PYTEST_XDIST_WORKER", None)
        env.pop("PYTEST_ADDOPTS", None)
        launched = Launcher(tmp_path, env)
        try:
            yield launched, server
        finally:
            launched.close()


def temp_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob(".*.tmp"))


SUITE = """
import os
import pathlib

import openai
import pytest

pytestmark = pytest.mark.llm
ROUND = int(pathlib.Path("round.txt").read_text())
client = openai.OpenAI(base_url=os.environ["FAKE_OPENAI_BASE_URL"], max_retries=0)
PAD = "a line that makes the cassette worth writing\\n" * 40
OWN = 4


def ask(prompt):
    messages = [{"role": "user", "content": prompt}]
    return client.chat.completions.create(model="gpt-4o-mini", messages=messages)


@pytest.mark.parametrize("n", range(OWN))
def test_own(n):
    for call in range(2):
        ask(f"round {ROUND} test {n} call {call}\\n{PAD}")


@pytest.mark.parametrize("n", range(2))
@pytest.mark.llm(cassette="shared/log", record="new_episodes")
def test_shared(n):
    ask(f"round {ROUND} shared {n}")
"""


def prompts(path: Path) -> list[str]:
    """The first line of each recorded prompt; store.read raises if the file is broken."""
    interactions = store.read(path) or []
    for interaction in interactions:
        # complete: the answer is there, not only the question
        assert interaction["response"]["body"]["choices"][0]["message"]["content"]
    return [i["request"]["body"]["messages"][0]["content"].split("\n")[0] for i in interactions]


def test_killed_recording_runs_leave_each_cassette_old_or_new_and_complete(
    launcher: tuple[Launcher, FakeProvider], tmp_path: Path
) -> None:
    run, server = launcher
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "pytest.ini").write_text("[pytest]\n")
    (suite / "test_crash.py").write_text(SUITE)
    cassettes = suite / "cassettes"
    own = [cassettes / "test_crash" / f"test_own[{n}].yaml" for n in range(4)]
    shared = cassettes / "shared" / "log.yaml"
    # hypothesis's plugin imports hypothesis at the end of every run: a second per kill.
    quiet = ["-q", "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:cassetter"]
    args = [*quiet, "--llm-record=rewrite"]

    def one_round(number: int) -> int:
        (suite / "round.txt").write_text(str(number))
        run.start("pytest", suite, args)
        return run.wait()

    assert one_round(0) == 0, (tmp_path / "pytest.log").read_text()
    started = time.monotonic()  # the first child of the launcher is slower: time the second
    assert one_round(0) == 0, (tmp_path / "pytest.log").read_text()
    duration = time.monotonic() - started

    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    kills, killed, interrupted_writes, finished = 20, 0, 0, 0
    for number in range(1, kills + 1):
        before = {path: path.read_bytes() for path in own}
        temps_before = set(temp_files(cassettes))
        shared_before = set(prompts(shared))
        (suite / "round.txt").write_text(str(number))
        run.start("pytest", suite, args)
        time.sleep(rng.uniform(0.0, duration))
        status = run.kill()
        killed += status == -signal.SIGKILL
        finished += status == 0
        where = f"(seed {seed}, kill {number}, exit {status})"
        for path in own:
            if path.read_bytes() == before[path]:
                continue  # the previous complete version survived
            expected = [f"round {number} test {path.stem[9:-1]} call {c}" for c in range(2)]
            assert prompts(path) == expected, f"{path.name} is neither old nor new {where}"
        now = prompts(shared)
        assert len(now) == len(set(now)), f"duplicated interactions {where}"
        assert shared_before <= set(now), f"lost {shared_before - set(now)} {where}"
        interrupted_writes += bool(set(temp_files(cassettes)) - temps_before)

    # A later run records over whatever the kills left, and clears their temporary files.
    assert one_round(kills + 1) == 0, (tmp_path / "pytest.log").read_text()
    assert temp_files(cassettes) == []
    for path in own:
        assert len(prompts(path)) == 2
    assert len(prompts(shared)) >= 2 * 2  # round 0 and the last one ran whole
    # ...and that run replays offline.
    requests = len(server.requests)
    run.start("pytest", suite, [*quiet, "--llm-record=none"])
    assert run.wait() == 0, (tmp_path / "pytest.log").read_text()
    assert len(server.requests) == requests

    print(
        f"\nkill figures: {kills} kills ({killed} by SIGKILL mid-run, {finished} after the run "
        f"ended), {interrupted_writes} left a temporary file, 0 cassettes corrupted "
        f"(seed {seed}, run {duration:.2f}s)"
    )
    assert killed >= kills // 2, f"most kills must land while the run is going (seed {seed})"


def acknowledged(acks: Path, timeout: float = 30.0, until: str = "") -> list[int]:
    """The writer's acknowledged saves, once there is one (and `until` was written)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = acks.read_text().split() if acks.exists() else []
        if lines and (not until or until in lines):
            return [int(n) for n in lines if n.isdigit()]
        time.sleep(0.005)
    raise AssertionError(f"the writer did not get that far: {lines}")


WRITER_CAP = 12


def test_a_writer_killed_mid_save_loses_no_acknowledged_save(
    launcher: tuple[Launcher, FakeProvider], tmp_path: Path
) -> None:
    run, _ = launcher
    folder = tmp_path / "writer"
    path, acks = folder / "big.yaml", tmp_path / "acks.txt"
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    kills, mid_write = 20, 0
    for number in range(kills):
        # Anywhere in the loop of saves, or held inside a save: data written but not yet
        # synced, or synced but not yet renamed over the cassette.
        pause_in = ["", "fsync", "replace"][number % 3]
        acks.unlink(missing_ok=True)
        run.start("writer", folder, [str(path), WRITER_CAP, str(acks), pause_in])
        if pause_in:
            acknowledged(acks, until="pause")
        else:
            acknowledged(acks)
            time.sleep(rng.uniform(0.0, 0.3))
        assert run.kill() == -signal.SIGKILL
        last = acknowledged(acks)[-1]
        where = f"(seed {seed}, kill {number} in {pause_in or 'the loop'}, last save {last})"
        numbers = [i["response"]["body"]["n"] for i in store.read(path) or []]  # raises if torn
        assert numbers == list(range(len(numbers))), f"not a complete version {where}"
        # Every acknowledged save is on disk, and at most the one after it; except when the
        # writer had reached its cap and started the file over.
        assert last <= len(numbers) <= last + 1 or last == WRITER_CAP, where
        if pause_in:  # killed inside a save: the previous version, and a temporary file
            previous = 0 if last == WRITER_CAP else last  # the writer had started over
            assert len(numbers) == previous and len(temp_files(folder)) == 1, where
        mid_write += bool(temp_files(folder))
    left = temp_files(folder)
    # The next save in that folder removes what killed writers left behind.
    acks.unlink(missing_ok=True)
    run.start("writer", folder, [str(path), WRITER_CAP, str(acks), ""])
    acknowledged(acks)
    run.kill()
    assert not [p for p in left if p.exists()]
    print(f"\nwriter figures: {kills} kills, {mid_write} landed mid-save, 0 torn files")
    assert mid_write >= 2 * kills // 3, f"kills held inside a save left no file (seed {seed})"


def test_temporary_files_of_killed_writers_go_with_the_next_save(tmp_path: Path) -> None:
    from pytest_llm.cassettes.cassette import Cassette

    path = tmp_path / "c.yaml"
    stale = tmp_path / ".c.yaml.ab12_xyz.tmp"
    stale.write_text("half a cassette")
    other = [tmp_path / ".d.yaml.ab12_xyz.tmp", tmp_path / "c.yaml.tmp", tmp_path / "notes.tmp"]
    for keep in other:
        keep.write_text("not ours to remove")
    cassette = Cassette.load(path)
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    cassette.append(
        {
            "key": "k",
            "recorded_at": "t",
            "request": {"path": "/v1/chat/completions", "body": body},
            "response": {"status": 200, "body": {}},
        }
    )
    cassette.save()
    assert not stale.exists()
    assert all(keep.exists() for keep in other)
    assert len(store.read(path) or []) == 1


def entry(prompt: str, at: str) -> dict[str, Any]:
    body = {"model": "m", "messages": [{"role": "user", "content": prompt}]}
    return {
        "key": prompt,
        "recorded_at": at,
        "request": {"path": "/v1/chat/completions", "body": body},
        "response": {"status": 200, "body": {}},
    }


def test_a_failed_re_recording_keeps_the_previous_one_behind_the_new(tmp_path: Path) -> None:
    from pytest_llm.cassettes.cassette import Cassette

    path = tmp_path / "c.yaml"
    store.write_atomic(path, store.dumps(store.document([entry("a", "old"), entry("b", "old")])))
    failing = Cassette.load(path)
    failing.start_rewrite()
    failing.append(entry("a", "new"))
    failing.save(keep_replaced=True)  # the test failed after its first call
    assert [(i["key"], i["recorded_at"]) for i in store.read(path) or []] == [
        ("a", "new"),
        ("a", "old"),
        ("b", "old"),
    ]
    failing.append(entry("b", "new"))  # a later test that passes completes the rewrite
    failing.save()
    assert [(i["key"], i["recorded_at"]) for i in store.read(path) or []] == [
        ("a", "new"),
        ("b", "new"),
    ]


def test_a_rewrite_whose_test_fails_half_way_keeps_the_previous_cassette(
    pytester: pytest.Pytester, inner_env: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kit import inner_file

    inner_file(
        pytester,
        """
        def test_a(llm):
            ask("one")
            assert not os.environ.get("FAIL_HALF_WAY")
            ask("two")
        """,
    )
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    path = pytester.path / "cassettes" / "test_app" / "test_a.yaml"
    before = prompts(path)
    monkeypatch.setenv("FAIL_HALF_WAY", "1")
    pytester.runpytest("--llm-record=rewrite").assert_outcomes(failed=1)
    assert prompts(path) == ["one", *before]  # the new answer first, the old ones kept


def test_rewriting_one_test_of_a_shared_cassette_keeps_the_others(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    from kit import inner_file

    inner_file(
        pytester,
        """
        @pytest.mark.llm(cassette="shared")
        def test_one():
            ask("one")

        @pytest.mark.llm(cassette="shared")
        def test_two():
            ask("two")
        """,
    )
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=2)
    path = pytester.path / "cassettes" / "shared.yaml"
    before = {i["test"]: i["recorded_at"] for i in store.read(path) or []}
    assert sorted(before) == ["test_app.py::test_one", "test_app.py::test_two"]
    pytester.runpytest("--llm-record=rewrite", "-k", "test_one").assert_outcomes(passed=1)
    assert sorted(prompts(path)) == ["one", "two"]
    after = {i["test"]: i["recorded_at"] for i in store.read(path) or []}
    assert after["test_app.py::test_two"] == before["test_app.py::test_two"]  # kept as it was
    assert after["test_app.py::test_one"] != before["test_app.py::test_one"]  # re-recorded
    pytester.runpytest("--llm-record=none").assert_outcomes(passed=2)
