"""Cassette load time at 1,000 interactions: pytest-llm's YAML, its load cache, json, vcrpy.

One cassette of 1,000 recorded calls per provider and mode is written three ways: as a
pytest-llm cassette, as the same list in a JSON file, and as vcrpy's cassette of the same
calls (recorded at the same time, see replay_overhead.record). Then, taking turns round
after round (medians):

- json.load: read and parse the JSON file (the bar: the goal is within 3x of it);
- pytest-llm YAML: `store.read`, the safe CSafeLoader with pytest-llm's checks;
- cache cold: `store.read` with the load cache, on an empty cache (parse + write entry);
- cache warm: the same, entry present (hash the file, read and verify the entry, json);
- vcrpy: `Cassette.load` with vcrpy's YAML serializer (what entering a cassette costs).

The load cache is `pytest_llm.cassettes.load_cache`; `hooked_read` below is `store.read` with the
one line that uses it. Run: python benchmarks/cassette_load.py   (about 2.5 minutes)
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _bench import PROVIDERS, Answers, Rounds, load_note, table
from replay_overhead import MemoryPersister, record
from vcr.cassette import Cassette as VcrCassette
from vcr.persisters.filesystem import FilesystemPersister
from vcr.serializers import yamlserializer

from pytest_llm.cassettes import load_cache, store

COUNT = 1000
ROUNDS = 3
FAST_REPEAT = 5  # runs per round of the sides that take milliseconds


def hooked_read(path: Path, cache_dir: Path | None) -> list[dict[str, Any]] | None:
    """`store.read` with the load cache: the hook this benchmark proposes, in place."""
    raw = store._read_bounded(path)
    text = raw.decode("utf-8")
    return load_cache.cached(raw, lambda: store.loads(text, path), cache_dir, parser=store.loads)


def timed(action: Callable[[], object], repeat: int = 1) -> float:
    """Seconds for `action`: the median of `repeat` runs (the fast sides repeat, to be steady)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def files(provider: str, stream: bool, folder: Path) -> tuple[Path, Path, Path]:
    """The pytest-llm, JSON and vcrpy files of COUNT recorded calls."""
    name = f"{provider}-{'stream' if stream else 'json'}"
    interactions = record(Answers(), provider, stream, COUNT, name)
    ours, plain, theirs = (folder / f"{name}{suffix}" for suffix in (".yaml", ".json", ".vcr.yaml"))
    store.write_atomic(ours, store.dumps(store.document(interactions)))
    # The same list as compact JSON (as the cache stores it); checked equal to the YAML's below.
    plain.write_text(json.dumps(interactions, separators=(",", ":")))
    FilesystemPersister.save_cassette(str(theirs), MemoryPersister.saved[name], yamlserializer)
    return ours, plain, theirs


def measure(provider: str, stream: bool, folder: Path, rounds: int) -> list[object]:
    ours, plain, theirs = files(provider, stream, folder)
    warm = folder / "warm-cache"
    # Fills the warm cache: the YAML, parsed, is the same list as the JSON file.
    assert hooked_read(ours, warm) == json.loads(plain.read_bytes())
    cold = folder / "cold-cache"

    def cold_read() -> float:
        shutil.rmtree(cold, ignore_errors=True)
        return timed(lambda: hooked_read(ours, cold))

    def json_load() -> float:
        def read() -> object:
            with open(plain, encoding="utf-8") as handle:
                return json.load(handle)

        return timed(read, FAST_REPEAT)

    def vcr_load() -> float:
        return timed(lambda: VcrCassette.load(path=str(theirs), serializer=yamlserializer))

    sides = {
        "json": json_load,
        "yaml": lambda: timed(lambda: store.read(ours)),
        "cold": cold_read,
        "warm": lambda: timed(lambda: hooked_read(ours, warm), FAST_REPEAT),
        "vcr": vcr_load,
    }
    # The YAML parse takes seconds: the cold cache (the same parse, then a write) is taken
    # every other round only, to keep the script within its time.
    result = Rounds().run(sides, rounds, every={"cold": 2})
    size_mb = ours.stat().st_size / 1e6
    print(".", end="", file=sys.stderr, flush=True)
    return [
        provider,
        "yes" if stream else "no",
        f"{size_mb:.1f}",
        result.median("json") * 1e3,
        result.median("yaml") * 1e3,
        result.ratio("yaml", "json"),
        result.median("cold") * 1e3,
        result.ratio("cold", "json"),
        result.median("warm") * 1e3,
        result.ratio("warm", "json"),
        result.median("vcr") * 1e3,
        result.ratio("vcr", "json"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args()
    print(f"{load_note()}; medians of {args.rounds} interleaved rounds", file=sys.stderr)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for provider in PROVIDERS:
            for stream in (False, True):
                rows.append(measure(provider, stream, Path(tmp), args.rounds))
    print(file=sys.stderr)
    header = ["provider", "stream", "MB", "json.load ms", "yaml ms", "x json"]
    header += ["cache cold", "x json", "cache warm", "x json", "vcrpy ms", "x json"]
    print(f"{COUNT} interactions per cassette; ratios are paired medians (x json = / json.load)")
    print(table(header, rows))
    print(f"({load_note()})")


if __name__ == "__main__":
    main()
