"""Replay cost per call against the floor, and against vcrpy matching on the body.

For each provider (openai, anthropic), stream or not, and cassette size (10 to 5,000
interactions), the same SDK calls are made three ways in this process, taking turns
round after round (medians of the rounds):

- floor: answered by an in-process MockTransport that looks the request bytes up in a
  dict and returns prebuilt wire bytes (what no replay tool can beat);
- pytest-llm: replayed by the core (`RunState`), in tests of 5 calls each, each test
  paying its own start and finish, as under the plugin;
- vcrpy: replayed through vcrpy's httpx2 stubs, `match_on=["method", "uri", "body"]`
  (the only vcrpy setting under which a changed prompt does not get the old answer),
  cassette entered once per size.

The cassettes are recorded once per provider and mode, by pytest-llm and vcrpy at the same
time: raw httpx2 posts of the exact bytes the SDK sends (the SDK adds nothing a recording
keeps, and is 4x slower), answered by the fake provider. The smaller cassettes are the
first N interactions of the 5,000. Each side calls the same prompts, spread evenly over
the cassette; any miss raises, so every timed call was answered.
Run: python benchmarks/replay_overhead.py   (about 2 minutes)
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import sys
import time
from pathlib import Path
from typing import Any, ClassVar

import httpx2
import vcr
from _bench import (
    PROVIDERS,
    Answers,
    Rounds,
    call,
    http_client,
    load_note,
    per_call,
    prompts,
    sdk_client,
    spread,
    table,
)
from vcr.persisters.filesystem import CassetteNotFoundError

from pytest_llm.cassettes.cassette import Cassette
from pytest_llm.keys import DEFAULT_MATCH_ON
from pytest_llm.plugin.session import RunState
from pytest_llm.replay.recorder import Recorder
from pytest_llm.replay.settings import RecordMode, ReplayTiming, Settings
from pytest_llm.replay.transport import Interceptor
from pytest_llm.scrub import Scrubber

SIZES = (10, 100, 1000, 5000)
CALLS = 200  # prompts per cassette size, spread over it; each round takes the next few
CALLS_PER_TEST = 5
TESTS_PER_ROUND = 2
ROUNDS = 30
VCR_BUDGET_S = 2.0  # vcrpy is slow on big cassettes: its rounds are cut to about this in all
BODY_MATCH = ["method", "uri", "body"]


class MemoryPersister:
    """vcrpy cassettes kept in memory: this script times lookups, not YAML (see cassette_load)."""

    saved: ClassVar[dict[str, dict[str, list[Any]]]] = {}

    @classmethod
    def load_cassette(cls, path: str, serializer: Any) -> tuple[list[Any], list[Any]]:
        name, _, size = path.rpartition("@")
        if name not in cls.saved:
            raise CassetteNotFoundError()
        stored = cls.saved[name]
        count = int(size) if size else len(stored["requests"])
        return stored["requests"][:count], stored["responses"][:count]

    @classmethod
    def save_cassette(cls, path: str, cassette_dict: dict[str, Any], serializer: Any) -> None:
        cls.saved[path] = cassette_dict


def _vcr() -> vcr.VCR:
    recorder = vcr.VCR()
    recorder.register_persister(MemoryPersister)
    return recorder


def _sdk_request(provider: str, stream: bool) -> tuple[str, list[tuple[str, str]], Any]:
    """URL, headers and JSON body of what the SDK sends for one call."""
    answers = Answers()
    seen: list[httpx2.Request] = []

    def spy(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return answers.handler(request)

    client = sdk_client(provider, httpx2.Client(transport=httpx2.MockTransport(spy)))
    call(client, provider, "PROMPT", stream=stream)
    request = seen[0]
    headers = [(k, v) for k, v in request.headers.multi_items() if k != "content-length"]
    return str(request.url), headers, json.loads(request.content)


def _body_bytes(template: Any, prompt: str) -> bytes:
    body = copy.deepcopy(template)
    body["messages"][0]["content"] = prompt
    # The SDKs send compact JSON in this key order: the floor's dict is keyed on these bytes.
    return json.dumps(body, separators=(",", ":")).encode()


def record(
    answers: Answers, provider: str, stream: bool, count: int, name: str
) -> list[dict[str, Any]]:
    """Record `count` calls with pytest-llm and vcrpy at once; pytest-llm's interactions."""
    url, headers, template = _sdk_request(provider, stream)
    interceptor = Interceptor()
    interceptor.install()
    path = Path(name + ".yaml")  # never written: the cassette stays in memory
    settings = Settings(path, RecordMode.ONCE, DEFAULT_MATCH_ON, "", ReplayTiming.FAST)
    cassette = Cassette(path, None)
    interceptor.recorder = Recorder(cassette, settings, Scrubber([], []))
    raw = http_client(answers, floor=False)  # a MockTransport: vcrpy records what it answers
    try:
        # Matching on the method only while recording: vcrpy looks each new request up in
        # the cassette before recording it, which on the body would take minutes here.
        with _vcr().use_cassette(name, record_mode="all", match_on=["method"]):
            for prompt in prompts(count):
                with raw.stream(
                    "POST", url, headers=headers, content=_body_bytes(template, prompt)
                ):
                    pass  # closing ends it: pytest-llm records a stream on close, vcrpy at once
    finally:
        interceptor.recorder = None
        interceptor.uninstall()
    assert len(cassette.interactions) == count, len(cassette.interactions)
    assert len(MemoryPersister.saved[name]["requests"]) == count
    return cassette.interactions


class Cell:
    """One provider, mode and cassette size: the three ways of answering the same calls."""

    def __init__(
        self, provider: str, stream: bool, clients: dict[str, Any], state: RunState, size: int
    ) -> None:
        self.provider, self.stream, self.clients, self.state = provider, stream, clients, state
        self.asked = spread(prompts(size), CALLS)
        random.Random(size).shuffle(self.asked)  # every batch hits the whole cassette
        self.turn: dict[str, int] = {}
        path = next(iter(state.cassettes))
        self.settings = Settings(path, RecordMode.NONE, DEFAULT_MATCH_ON, "", ReplayTiming.FAST)

    def batch(self, side: str) -> list[str]:
        """The next calls of one side: each side goes through the same prompts in turn."""
        size = CALLS_PER_TEST * TESTS_PER_ROUND
        first = self.turn.get(side, 0) * size % len(self.asked)
        self.turn[side] = self.turn.get(side, 0) + 1
        return (self.asked + self.asked)[first : first + size]

    def calls(self, side: str, asked: list[str]) -> float:
        return per_call(self.clients[side], self.provider, asked, stream=self.stream)

    def floor(self) -> float:
        return self.calls("floor", self.batch("floor"))

    def replay(self) -> float:
        """Tests of CALLS_PER_TEST calls, each with its own start and finish."""
        asked = self.batch("llm")
        start = time.perf_counter()
        for first in range(0, len(asked), CALLS_PER_TEST):
            recorder = self.state.start(self.settings)
            self.calls("llm", asked[first : first + CALLS_PER_TEST])
            self.state.finish(recorder, passed=True)
        return (time.perf_counter() - start) / len(asked)

    def vcr(self) -> float:
        return self.calls("vcr", self.batch("vcr")[:CALLS_PER_TEST])  # slow: half a round


def measure(provider: str, stream: bool, sizes: tuple[int, ...], rounds: int) -> list[list[object]]:
    """The table rows of one provider and mode."""
    answers = Answers()
    name = f"{provider}-{'stream' if stream else 'json'}"
    interactions = record(answers, provider, stream, max(sizes), name)
    clients = {
        "floor": sdk_client(provider, http_client(answers, floor=True)),
        "llm": sdk_client(provider, http_client(answers, floor=True)),
        "vcr": sdk_client(provider, http_client(answers, floor=False)),
    }
    rows: list[list[object]] = []
    for size in sizes:
        path = Path(f"{name}-{size}.yaml")
        state = RunState(RecordMode.NONE, Path("."), DEFAULT_MATCH_ON, ReplayTiming.FAST, [], [])
        state.cassettes[path] = Cassette(path, interactions[:size])
        # As the plugin counts the tests of a cassette at collection: every timed test uses
        # this one, so the run keeps it in memory (it is never written to disk).
        state.users[path] = sys.maxsize
        cell = Cell(provider, stream, clients, state, size)
        cell.replay()  # the first test of a cassette builds its key index: a load cost
        cell.turn.clear()
        generated = answers.generated
        with _vcr().use_cassette(
            f"{name}@{size}", record_mode="none", match_on=BODY_MATCH, allow_playback_repeats=True
        ):
            per_round = cell.calls("vcr", cell.batch("-")[:CALLS_PER_TEST]) * CALLS_PER_TEST
            vcr_rounds = max(3, min(rounds, int(VCR_BUDGET_S / per_round)))
            sides = {"floor": cell.floor, "llm": cell.replay, "vcr": cell.vcr}
            result = Rounds().run(sides, rounds, every={"vcr": -(-rounds // vcr_rounds)})
        state.close()
        assert answers.generated == generated, "the floor must only look answers up"
        rows.append(
            [
                provider,
                "yes" if stream else "no",
                size,
                result.median("floor") * 1e3,
                result.median("llm") * 1e3,
                result.ratio("llm", "floor"),
                result.median("vcr") * 1e3,
                result.ratio("vcr", "floor"),
            ]
        )
        print(".", end="", file=sys.stderr, flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--providers", nargs="+", choices=PROVIDERS, default=list(PROVIDERS))
    parser.add_argument("--streams", choices=["both", "yes", "no"], default="both")
    args = parser.parse_args()
    sizes = tuple(args.sizes)
    streams = {"both": (False, True), "yes": (True,), "no": (False,)}[args.streams]
    calls = CALLS_PER_TEST * TESTS_PER_ROUND
    note = f"{load_note()}; medians of {args.rounds} interleaved rounds of {calls} calls"
    print(note, file=sys.stderr)
    rows: list[list[object]] = []
    for provider in args.providers:
        for stream in streams:
            rows += measure(provider, stream, sizes, args.rounds)
    print(file=sys.stderr)
    header = [
        "provider",
        "stream",
        "interactions",
        "floor ms/call",
        "pytest-llm",
        "ratio",
        "vcrpy+body",
        "ratio",
    ]
    print(table(header, rows))
    print(f"({load_note()})")


if __name__ == "__main__":
    main()
