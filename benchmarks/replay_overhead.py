"""Replay cost per call, against the floor: the same SDK calls answered by MockTransport.

Both sides run in this process, interleaved, so the ratio holds on a noisy machine.
Run: python benchmarks/replay_overhead.py
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

import httpx2
import openai

from pytest_llm.keys import DEFAULT_MATCH_ON
from pytest_llm.session import RunState
from pytest_llm.settings import RecordMode, ReplayTiming, Settings

SIZES = (10, 100, 1000)
ROUNDS = 5


def _answer(request: httpx2.Request) -> httpx2.Response:
    body = json.loads(request.content)
    prompt = body["messages"][0]["content"]
    return httpx2.Response(
        200,
        json={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": f"answer to {prompt}"},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
        },
    )


def _client() -> openai.OpenAI:
    transport = httpx2.MockTransport(_answer)
    return openai.OpenAI(api_key="k", http_client=httpx2.Client(transport=transport))


def _calls(client: openai.OpenAI, prompts: list[str]) -> float:
    start = time.perf_counter()
    for prompt in prompts:
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}]
        )
    return (time.perf_counter() - start) / len(prompts)


def _state(root: Path, mode: RecordMode) -> tuple[RunState, Settings]:
    state = RunState(mode, root, DEFAULT_MATCH_ON, ReplayTiming.FAST, [], [])
    return state, Settings(root / "bench.yaml", mode, DEFAULT_MATCH_ON, "", ReplayTiming.FAST)


def main() -> None:
    client = _client()
    print(f"{'interactions':>12} {'floor ms/call':>14} {'replay ms/call':>15} {'ratio':>6}")
    for size in SIZES:
        prompts = [f"question {n}" for n in range(size)]
        with tempfile.TemporaryDirectory() as tmp:
            state, settings = _state(Path(tmp), RecordMode.ONCE)
            recorder = state.start(settings)
            _calls(client, prompts)  # records through the MockTransport
            state.finish(recorder, passed=True)
            floors: list[float] = []
            replays: list[float] = []
            for _ in range(ROUNDS):
                floors.append(_calls(client, prompts))
                state, settings = _state(Path(tmp), RecordMode.NONE)
                recorder = state.start(settings)
                replays.append(_calls(client, prompts))
                state.finish(recorder, passed=True)
                state.close({})
        floor, replay = statistics.median(floors), statistics.median(replays)
        print(f"{size:>12} {floor * 1e3:>14.3f} {replay * 1e3:>15.3f} {replay / floor:>6.2f}")


if __name__ == "__main__":
    main()
