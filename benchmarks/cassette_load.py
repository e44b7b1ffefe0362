"""Cassette load time at 1,000 interactions, cold (what CI pays) first, then warm.

CI checks out a fresh clone: `.pytest_cache` is empty, so the first load of a cassette is
the figure that every CI run pays. Each cassette of 1,000 recorded calls (per provider and
mode, and the mixed one of the issue: half Anthropic streams, half OpenAI chat answers) is
written as a pytest-llm cassette, as the same list in a JSON file, as a cassette of an
earlier pytest-llm (before YAML 1.2 and one line per event), and as vcrpy's cassette of the
same calls. Then, taking turns round after round (medians):

- json.load: read and parse the JSON file (the bar: the goal is within 3x of it);
- cold: `store.read` with an empty load cache in CI (`CI=true`: a fresh clone's first run,
  which writes no cache);
- first: `store.read` with an empty load cache on a developer's machine (`CI` unset: the
  read also writes the cached copy);
- warm: `store.read` again with the cache as the first read left it (a developer's rerun);
- earlier cold / warm: the same for the earlier version's file (hardened PyYAML, then cached);
- vcrpy: `Cassette.load` with vcrpy's YAML serializer (what entering a cassette costs).

Run: python benchmarks/cassette_load.py   (about 2 minutes; --rounds to change)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from _bench import PROVIDERS, Answers, Rounds, load_note, table
from replay_overhead import MemoryPersister, record
from vcr.cassette import Cassette as VcrCassette
from vcr.persisters.filesystem import FilesystemPersister
from vcr.serializers import yamlserializer

from pytest_llm.cassettes import load_cache, store

COUNT = 1000
ROUNDS = 5
FAST_REPEAT = 5  # runs per round of the sides that take milliseconds
EARLIER_HEADER = "# pytest-llm cassette: recorded LLM calls, replayed offline by pytest-llm.\n"


def earlier_dumps(interactions: list[dict[str, Any]]) -> str:
    """The cassette as pytest-llm wrote it before: every event as a block mapping."""
    from pytest_llm.cassettes import writer

    body = yaml.dump(
        store.document(interactions),
        Dumper=writer.dumper(),
        sort_keys=False,
        allow_unicode=True,
        width=1_000_000,
        default_flow_style=False,
    )
    return EARLIER_HEADER + body


def timed(action: Callable[[], object], repeat: int = 1) -> float:
    """Seconds for `action`: the median of `repeat` runs (the fast sides repeat, to be steady)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cassettes(answers: Answers) -> dict[str, tuple[list[dict[str, Any]], str]]:
    """The interactions of each cassette, by its label, and its vcrpy recording's name."""
    recorded = {}
    for provider in PROVIDERS:
        for stream in (False, True):
            name = f"{provider}-{'stream' if stream else 'json'}"
            recorded[name] = record(answers, provider, stream, COUNT, name)
    streams = record(answers, "anthropic", True, COUNT // 2, "mixed-streams")
    chats = record(answers, "openai", False, COUNT // 2, "mixed-chats")
    mixed = [i for pair in zip(streams, chats, strict=True) for i in pair]
    saved = MemoryPersister.saved
    saved["mixed"] = {
        part: [
            x
            for pair in zip(
                *(saved[n][part] for n in ("mixed-streams", "mixed-chats")), strict=True
            )
            for x in pair
        ]
        for part in ("requests", "responses")
    }
    result = {name: (items, name) for name, items in recorded.items()}
    result["mixed (issue 17)"] = (mixed, "mixed")
    return result


def measure(
    label: str, interactions: list[dict[str, Any]], vcr_name: str, folder: Path, rounds: int
) -> list[object]:
    stem = vcr_name
    ours, earlier, plain, theirs = (
        folder / f"{stem}{suffix}" for suffix in (".yaml", ".v0.yaml", ".json", ".vcr.yaml")
    )
    store.write_atomic(ours, store.dumps(store.document(interactions)))
    store.write_atomic(earlier, earlier_dumps(interactions))
    plain.write_text(json.dumps(interactions, separators=(",", ":")))
    FilesystemPersister.save_cassette(str(theirs), MemoryPersister.saved[vcr_name], yamlserializer)
    cache = folder / f"{stem}-cache"

    def read(path: Path, *, cold: bool, ci: bool = False) -> Callable[[], float]:
        def run() -> float:
            if cold:
                shutil.rmtree(cache, ignore_errors=True)
            load_cache.configure(cache)
            os.environ["CI"] = "true" if ci else ""
            try:
                return timed(lambda: store.read(path), 1 if cold else FAST_REPEAT)
            finally:
                load_cache.configure(None)
                os.environ["CI"] = ci_before

        return run

    def json_load() -> float:
        def run() -> object:
            with open(plain, encoding="utf-8") as handle:
                return json.load(handle)

        return timed(run, FAST_REPEAT)

    ci_before = os.environ.get("CI", "")
    expected = json.loads(plain.read_bytes())
    for path in (ours, earlier):  # both files hold exactly the JSON file's data
        read(path, cold=True)()
        load_cache.configure(cache)
        assert store.read(path) == expected
        load_cache.configure(None)
    sides = {
        "json": json_load,
        "cold": read(ours, cold=True, ci=True),
        "first": read(ours, cold=True),
        "warm": read(ours, cold=False),
        "earlier cold": read(earlier, cold=True),
        "earlier warm": read(earlier, cold=False),
        "vcr": lambda: timed(lambda: VcrCassette.load(path=str(theirs), serializer=yamlserializer)),
    }
    # The earlier format's cold parse takes seconds: it is taken every other round only.
    result = Rounds().run(sides, rounds, every={"earlier cold": 2, "vcr": 2})
    print(".", end="", file=sys.stderr, flush=True)
    text = ours.read_text()
    return [
        label,
        f"{ours.stat().st_size / 1e6:.1f}",
        f"{text.count(chr(10)):,}",
        f"{earlier.read_text().count(chr(10)):,}",
        result.median("json") * 1e3,
        result.median("cold") * 1e3,
        result.ratio("cold", "json"),
        result.ratio("first", "json"),
        result.median("warm") * 1e3,
        result.ratio("warm", "json"),
        result.ratio("earlier cold", "json"),
        result.ratio("earlier warm", "json"),
        result.ratio("vcr", "json"),
    ]


def main() -> None:
    global COUNT
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--count", type=int, default=COUNT, help="interactions per cassette")
    args = parser.parse_args()
    COUNT = args.count
    print(f"{load_note()}; medians of {args.rounds} interleaved rounds", file=sys.stderr)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, (interactions, vcr_name) in cassettes(Answers()).items():
            rows.append(measure(label, interactions, vcr_name, Path(tmp), args.rounds))
    print(file=sys.stderr)
    header = ["cassette", "MB", "lines", "lines before", "json.load ms", "cold ms", "x json"]
    header += ["first x", "warm ms", "x json", "before: cold x", "warm x", "vcrpy x"]
    print(f"{COUNT} interactions per cassette; ratios are paired medians (x = / json.load);")
    print("cold = empty load cache in CI (a fresh clone, no cache written), first = empty cache")
    print("on a developer's machine (the read writes the cached copy), warm = the cache as the")
    print("first read left it")
    print(table(header, rows))
    print(f"({load_note()})")


if __name__ == "__main__":
    main()
