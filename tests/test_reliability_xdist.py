"""Concurrency: four pytest-xdist workers recording 200 tests, two groups sharing cassettes."""

from __future__ import annotations

import os
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fake_provider import FakeProvider

from pytest_llm.cassettes import store
from pytest_llm.cassettes.cassette import Cassette

GROUP = 50  # tests in each of the two groups that share a cassette
OWN = 100  # tests with a cassette of their own

# Only the OpenAI SDK: each worker imports it, and importing both costs seconds.
SUITE = f"""
import os

import openai
import pytest

client = openai.OpenAI(base_url=os.environ["FAKE_OPENAI_BASE_URL"], max_retries=0)


def ask(prompt, stream=False):
    messages = [{{"role": "user", "content": prompt}}]
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=stream)
    if stream:
        return "".join(c.choices[0].delta.content or "" for c in reply if c.choices)
    return reply.choices[0].message.content


@pytest.mark.parametrize("n", range({GROUP}))
@pytest.mark.llm(cassette="shared/a")
def test_group_a(n):
    assert f"a {{n}}" in ask(f"a {{n}}")
    if n % 10 == 0:
        assert f"a {{n}} streamed" in ask(f"a {{n}} streamed", stream=True)


@pytest.mark.parametrize("n", range({GROUP}))
@pytest.mark.llm(cassette="shared/b")
def test_group_b(n):
    assert f"b {{n}}" in ask(f"b {{n}}")


@pytest.mark.parametrize("n", range({OWN}))
def test_own(llm, n):
    assert f"own {{n}}" in ask(f"own {{n}}")
    assert len(llm.calls) == 1
"""


def prompts(path: Path) -> list[str]:
    interactions = store.read(path) or []
    return [i["request"]["body"]["messages"][0]["content"] for i in interactions]


def test_four_workers_record_every_interaction_exactly_once(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    # new_episodes records whatever is missing; `once` into a shared cassette that another
    # worker created in this run is pinned by the race test below.
    mode = "new_episodes"
    pytester.makepyfile(test_many=SUITE)
    result = pytester.runpytest_subprocess(
        "-n4", f"--llm-record={mode}", "-p", "no:cacheprovider", "-p", "no:hypothesispytest"
    )
    result.assert_outcomes(passed=2 * GROUP + OWN)
    streams = [f"a {n} streamed" for n in range(0, GROUP, 10)]
    recorded = 2 * GROUP + len(streams) + OWN
    assert len(inner_env.requests) == recorded

    root = pytester.path / "cassettes"
    a, b = prompts(root / "shared" / "a.yaml"), prompts(root / "shared" / "b.yaml")
    assert Counter(a) == Counter([f"a {n}" for n in range(GROUP)] + streams)
    assert Counter(b) == Counter(f"b {n}" for n in range(GROUP))
    own = sorted((root / "test_many").glob("*.yaml"))
    assert len(own) == OWN
    for path in own:
        number = path.stem.removeprefix("test_own[").removesuffix("]")
        assert prompts(path) == [f"own {number}"]
    assert not list(root.rglob(".*.tmp"))
    print(f"\nxdist figures ({mode}): {recorded} interactions recorded by 4 workers, 0 lost")

    # Offline, every interaction is used exactly once again.
    inner_env.stop()
    replay = pytester.runpytest_subprocess(
        "-n4", "--llm-strict", "-p", "no:cacheprovider", "-p", "no:hypothesispytest"
    )
    replay.assert_outcomes(passed=2 * GROUP + OWN)
    assert replay.ret == 0
    replay.stdout.fnmatch_lines([f"{recorded} call(s) replayed, 0 recorded, 0 cassette(s)*"])


# Plain httpx2 calls (what the SDKs send through): no SDK import in the two workers.
RACE = """
import os
import pathlib
import time

import httpx2
import pytest

SHARED = pathlib.Path("cassettes/shared/race.yaml")


def ask(prompt):
    reply = httpx2.post(
        os.environ["FAKE_OPENAI_BASE_URL"] + "/chat/completions",
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}]},
        headers={"authorization": "Bearer " + os.environ["OPENAI_API_KEY"]},
    )
    return reply.json()["choices"][0]["message"]["content"]


# With --dist=each both workers run both tests: gw1 waits until gw0 has created the
# cassette, so that gw1 loads it only then, as a slower worker of a big suite would.
def test_wait_on_gw1_for_the_cassette_of_gw0():
    deadline = time.monotonic() + 60
    while os.environ["PYTEST_XDIST_WORKER"] == "gw1" and not SHARED.exists():
        assert time.monotonic() < deadline
        time.sleep(0.02)


@pytest.mark.llm(cassette="shared/race")
def test_record():
    worker = os.environ["PYTEST_XDIST_WORKER"]
    assert worker in ask(worker)
"""


def test_once_records_into_a_shared_cassette_another_worker_created_in_this_run(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    pytester.makepyfile(test_race=RACE)
    result = pytester.runpytest_subprocess(
        "-n2", "--dist=each", "--llm-record=once", "-p", "no:hypothesispytest"
    )
    result.assert_outcomes(passed=4)
    assert prompts(pytester.path / "cassettes" / "shared" / "race.yaml") == ["gw0", "gw1"]


def test_a_cassette_created_after_the_run_started_counts_as_new(tmp_path: Path) -> None:
    def at(moment: float) -> dict[str, Any]:
        body = {"model": "m", "messages": [{"role": "user", "content": str(moment)}]}
        return {
            "key": str(moment),
            "recorded_at": datetime.fromtimestamp(moment, UTC).isoformat(),
            "request": {"path": "/v1/chat/completions", "body": body},
            "response": {"status": 200, "body": {}},
        }

    started = time.time()
    path = tmp_path / "c.yaml"
    store.write_atomic(path, store.dumps(store.document([at(started + 1)])))
    assert not Cassette.load(path, run_started=started).existed  # another worker made it
    assert Cassette.load(path).existed  # without the run's start, any file existed
    # a file from before the run, rewritten during it, still holds an older recording
    store.write_atomic(path, store.dumps(store.document([at(started - 60), at(started + 1)])))
    assert Cassette.load(path, run_started=started).existed
    # a file untouched since before the run
    os.utime(path, (started - 60, started - 60))
    assert Cassette.load(path, run_started=started).existed
    # an empty cassette written during the run
    empty = tmp_path / "empty.yaml"
    store.write_atomic(empty, store.dumps(store.document([])))
    assert not Cassette.load(empty, run_started=started).existed
