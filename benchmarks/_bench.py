"""What the benchmark scripts share: the floor transport, SDK calls, interleaved timing, tables.

The floor is the same SDK call answered in process by a transport that looks the exact
request bytes up in a dict and hands back prebuilt wire bytes: nothing a replay tool can
do is cheaper. The answers themselves come from tests/fake_provider.py, so they have the
shapes, headers and stream events of the real APIs.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx2

from pytest_llm.scrub import NOISE_HEADERS, SECRET_HEADERS

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import fake_provider  # noqa: E402
from fake_provider import FakeProvider  # noqa: E402

Answer = tuple[int, list[tuple[str, str]], bytes | list[bytes]]
PROVIDERS = ("openai", "anthropic")


def quick_acks() -> None:
    """Let the fake provider's HTTP server send each write at once (TCP_NODELAY).

    It writes a response in several small pieces; with Nagle's algorithm the client's
    delayed ACK then adds ~40 ms to every call (48 ms a call instead of 5 here), which
    would drown what the benchmarks measure. Real providers show no such delay.
    """
    fake_provider._Handler.disable_nagle_algorithm = True


def wire(provider: FakeProvider, path: str, body: dict[str, Any]) -> Answer:
    """The fake provider's answer to one request, as status, headers and bytes (or SSE chunks)."""
    reply = provider._handle("POST", path, {}, body)
    # Without what a pytest-llm cassette never keeps (set-cookie, date...): the floor answers
    # with the headers a replay answers with, so only the way of answering differs.
    headers = [
        (name, value)
        for name, value in reply.headers.items()
        if name not in SECRET_HEADERS and name not in NOISE_HEADERS
    ]
    if reply.events is None:
        data = json.dumps(reply.body).encode()
        return reply.status, [("content-type", "application/json"), *headers], data
    chunks: list[bytes] = []
    for name, data_ in reply.events:
        text = data_ if isinstance(data_, str) else json.dumps(data_)
        event = (f"event: {name}\n" if reply.sse_named and name else "") + f"data: {text}\n\n"
        chunks.append(event.encode())
    return reply.status, [("content-type", "text/event-stream; charset=utf-8"), *headers], chunks


class Chunks(httpx2.SyncByteStream):
    """A response body delivered one SSE event per chunk, as a provider sends it."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks


class Answers:
    """Wire answers by exact request (path + body bytes); unknown requests are generated once."""

    def __init__(self) -> None:
        self.fake = FakeProvider()
        self.by_request: dict[bytes, Answer] = {}
        self.generated = 0

    def handler(self, request: httpx2.Request) -> httpx2.Response:
        """MockTransport handler: a dict lookup, or a fake-provider answer the first time."""
        key = request.url.raw_path + b"\n" + request.content
        answer = self.by_request.get(key)
        if answer is None:
            answer = wire(self.fake, request.url.path, json.loads(request.content))
            self.by_request[key] = answer
            self.generated += 1
        status, headers, data = answer
        if isinstance(data, list):
            return httpx2.Response(status, headers=headers, stream=Chunks(data))
        return httpx2.Response(status, headers=headers, content=data)


class FloorTransport(httpx2.MockTransport):
    """httpx2.MockTransport's own handle_request, on a subclass that vcrpy's patch leaves alone.

    vcrpy patches `httpx2.MockTransport.handle_request` on the class while a cassette is in
    use; the floor must not go through vcrpy, so it keeps the original method.
    """

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        request.read()
        response = self.handler(request)
        assert isinstance(response, httpx2.Response)
        return response


def http_client(answers: Answers, *, floor: bool) -> httpx2.Client:
    """An httpx2 client answered in process: the floor transport, or a plain MockTransport."""
    kind = FloorTransport if floor else httpx2.MockTransport
    return httpx2.Client(transport=kind(answers.handler))


def sdk_client(provider: str, http: httpx2.Client) -> Any:
    """An SDK client of `provider` sending through `http` (retries off: a miss must show)."""
    if provider == "openai":
        import openai

        return openai.OpenAI(api_key="sk-bench", http_client=http, max_retries=0)
    import anthropic

    return anthropic.Anthropic(api_key="sk-ant-bench", http_client=http, max_retries=0)


def prompts(count: int) -> list[str]:
    """Distinct prompts, so every call of a cassette has its own key."""
    return [f"question {n}: what is {n} squared?" for n in range(count)]


def call(client: Any, provider: str, prompt: str, *, stream: bool) -> str:
    """One SDK call, read to the end; the answer text (so nothing is skipped lazily)."""
    messages = [{"role": "user", "content": prompt}]
    if provider == "openai":
        if not stream:
            reply = client.chat.completions.create(model="gpt-4o-mini", messages=messages)
            return str(reply.choices[0].message.content)
        events = client.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True)
        return "".join(e.choices[0].delta.content or "" for e in events if e.choices)
    if not stream:
        reply = client.messages.create(
            model="claude-3-5-haiku-latest", max_tokens=64, messages=messages
        )
        return str(reply.content[0].text)
    events = client.messages.create(
        model="claude-3-5-haiku-latest", max_tokens=64, messages=messages, stream=True
    )
    return "".join(
        e.delta.text
        for e in events
        if e.type == "content_block_delta" and e.delta.type == "text_delta"
    )


def per_call(client: Any, provider: str, asked: Sequence[str], *, stream: bool) -> float:
    """Seconds per call for the calls of `asked`, made one after the other."""
    start = time.perf_counter()
    for prompt in asked:
        call(client, provider, prompt, stream=stream)
    return (time.perf_counter() - start) / len(asked)


def spread(items: Sequence[str], count: int) -> list[str]:
    """`count` items taken evenly across `items` (calls hit the whole cassette, not its head)."""
    if count >= len(items):
        return list(items)
    step = len(items) / count
    return [items[int(n * step)] for n in range(count)]


class Rounds:
    """Measurements taken in turns, round after round; medians and paired ratios of them."""

    def __init__(self) -> None:
        self.samples: dict[str, dict[int, float]] = {}

    def run(
        self,
        sides: dict[str, Callable[[], float]],
        rounds: int,
        every: dict[str, int] | None = None,
    ) -> Rounds:
        """Measure each side once per round (or every n-th round, for slow sides).

        Taking turns means a burst of load from elsewhere on the machine hits every side
        alike, so the ratios hold even when the absolute figures move.
        """
        every = every or {}
        for number in range(rounds):
            for name, measure in sides.items():
                if number % every.get(name, 1) == 0:
                    self.samples.setdefault(name, {})[number] = measure()
        return self

    def median(self, name: str) -> float:
        """The median of one side's measurements."""
        return statistics.median(self.samples[name].values())

    def ratio(self, name: str, base: str) -> float:
        """The median of `name` / `base` over the rounds that measured both (paired)."""
        mine, theirs = self.samples[name], self.samples[base]
        return statistics.median(mine[n] / theirs[n] for n in mine if n in theirs)


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain right-aligned table."""
    cells = [[str(h) for h in header]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells
    )


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if value < 10 else f"{value:.1f}"
    return str(value)


def load_note() -> str:
    """The machine's load, printed with every table: the figures mean little without it."""
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        return "load average unknown"
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPU(s)"
