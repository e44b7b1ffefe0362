"""Time to the first chunk of a stream while recording, against the same stream live.

The fake provider (tests/fake_provider.py) serves the stream over real HTTP on 127.0.0.1
and waits DELAY_MS before each event, as a model does between tokens. Three ways of making
the same streaming SDK call, taking turns round after round (medians):

- live: the SDK alone;
- pytest-llm recording: record mode `all`, so every call goes to the server and is
  recorded; chunks are handed on as they arrive while a copy is kept for the cassette;
- vcrpy recording (record mode `all`): its httpx2 stub reads the whole body first.

Time to first chunk: from the call until the SDK yields its first event. The cassette is
written after the test, outside the timing, as the plugin does after each test.
Goal: recording <= 1.2 x live + 5 ms. Run: python benchmarks/stream_ttft.py  (about 1 min)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import vcr
from _bench import PROVIDERS, Rounds, load_note, quick_acks, table
from fake_provider import FakeProvider

from pytest_llm.keys import DEFAULT_MATCH_ON
from pytest_llm.plugin.session import RunState
from pytest_llm.replay.settings import RecordMode, ReplayTiming, Settings

DELAY_MS = 20
ROUNDS = 15
PROMPT = "one two three four five six seven eight"  # the answer repeats it: ~12 events


def client(provider: str, server: FakeProvider) -> Any:
    if provider == "openai":
        import openai

        return openai.OpenAI(base_url=server.openai_base_url, api_key="sk-live", max_retries=0)
    import anthropic

    return anthropic.Anthropic(base_url=server.anthropic_base_url, api_key="sk-live", max_retries=0)


def stream(sdk: Any, provider: str) -> tuple[float, float]:
    """Seconds to the first event and to the last, for one streaming call."""
    headers = {"x-fake-delay-ms": str(DELAY_MS)}
    messages = [{"role": "user", "content": PROMPT}]
    start = time.perf_counter()
    if provider == "openai":
        events = sdk.chat.completions.create(
            model="gpt-4o-mini", messages=messages, stream=True, extra_headers=headers
        )
    else:
        events = sdk.messages.create(
            model="claude-3-5-haiku-latest",
            max_tokens=64,
            messages=messages,
            stream=True,
            extra_headers=headers,
        )
    first = None
    count = 0
    for _ in events:
        count += 1
        if first is None:
            first = time.perf_counter() - start
    assert first is not None and count > 5, count
    return first, time.perf_counter() - start


def measure(provider: str, server: FakeProvider, folder: Path, rounds: int) -> list[object]:
    live_client, llm_client, vcr_client = (client(provider, server) for _ in range(3))
    settings = Settings(
        folder / f"{provider}.yaml", RecordMode.ALL, DEFAULT_MATCH_ON, "", ReplayTiming.FAST
    )
    state = RunState(RecordMode.ALL, folder, DEFAULT_MATCH_ON, ReplayTiming.FAST, [], [])
    totals: dict[str, list[float]] = {"live": [], "llm": [], "vcr": []}

    def live() -> float:
        first, total = stream(live_client, provider)
        totals["live"].append(total)
        return first

    def recording() -> float:
        recorder = state.start(settings)
        first, total = stream(llm_client, provider)
        state.finish(recorder, passed=True)  # writes the cassette: after the timed call
        assert recorder.recorded == 1
        totals["llm"].append(total)
        return first

    def by_vcr() -> float:
        with vcr.use_cassette(str(folder / f"{provider}.vcr.yaml"), record_mode="all"):
            first, total = stream(vcr_client, provider)
        totals["vcr"].append(total)
        return first

    for warm in (live, recording, by_vcr):  # connections and imports, not timed
        warm()
    result = Rounds().run({"live": live, "llm": recording, "vcr": by_vcr}, rounds)
    state.close()
    print(".", end="", file=sys.stderr, flush=True)
    live_ms, llm_ms = result.median("live") * 1e3, result.median("llm") * 1e3
    whole = {name: statistics.median(values) * 1e3 for name, values in totals.items()}
    return [
        provider,
        whole["live"],
        whole["llm"],
        live_ms,
        llm_ms,
        result.ratio("llm", "live"),
        llm_ms - live_ms,
        "yes" if llm_ms <= 1.2 * live_ms + 5 else "no",
        result.median("vcr") * 1e3,
        result.ratio("vcr", "live"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args()
    quick_acks()
    print(f"{load_note()}; medians of {args.rounds} interleaved rounds", file=sys.stderr)
    rows = []
    with FakeProvider() as server, tempfile.TemporaryDirectory() as tmp:
        for provider in PROVIDERS:
            rows.append(measure(provider, server, Path(tmp), args.rounds))
    print(file=sys.stderr)
    print(f"the server waits {DELAY_MS} ms before each event; ms to the first and last event")
    header = ["provider", "live whole", "rec. whole", "live ttft", "rec. ttft", "ratio", "+ms"]
    header += ["<=1.2x+5ms", "vcrpy rec ttft", "ratio"]
    print(table(header, rows))
    print(f"({load_note()})")


if __name__ == "__main__":
    main()
