"""Wall time of a call that meets two rate limits, retried by the SDK's own loop (max_retries=2).

Side by side in one process:
- replayed, no fault (the baseline);
- replayed, two rate limits injected by pytest-llm (llm_faults("rate_limit", times=2));
- two 429s answered without a retry-after-ms header, as a plain mock server would send them:
  the SDK then sleeps its own exponential backoff.
Run: python benchmarks/fault_retries.py
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

import anthropic
import httpx2
import openai

from pytest_llm.keys import DEFAULT_MATCH_ON
from pytest_llm.plugin.session import RunState
from pytest_llm.replay.faults import FaultPlan, parse_rule
from pytest_llm.replay.settings import RecordMode, ReplayTiming, Settings

ROUNDS = 5
MESSAGES = [{"role": "user", "content": "Name three colours"}]


def _answer(request: httpx2.Request) -> httpx2.Response:
    body = json.loads(request.content)
    if request.url.path.endswith("/messages"):
        return httpx2.Response(
            200,
            json={
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": body["model"],
                "content": [{"type": "text", "text": "red, green, blue"}],
                "stop_reason": "end_turn",
                "usage": {"input_tokens": 5, "output_tokens": 4},
            },
        )
    return httpx2.Response(
        200,
        json={
            "id": "c1",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "red, green, blue"},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9},
        },
    )


def _plain_429s(limit: int) -> httpx2.MockTransport:
    seen = {"n": 0}

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen["n"] += 1
        if seen["n"] % (limit + 1):
            return httpx2.Response(429, json={"error": {"message": "slow down"}})
        return _answer(request)

    return httpx2.MockTransport(handler)


def _call(provider: str, transport: httpx2.MockTransport) -> float:
    client_http = httpx2.Client(transport=transport)
    start = time.perf_counter()
    if provider == "openai":
        oa = openai.OpenAI(api_key="k", http_client=client_http, max_retries=2)
        oa.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
    else:
        an = anthropic.Anthropic(api_key="k", http_client=client_http, max_retries=2)
        an.messages.create(model="claude-haiku-4-5", max_tokens=20, messages=MESSAGES)  # type: ignore[arg-type]
    return time.perf_counter() - start


def main() -> None:
    print(
        f"{'provider':<10} {'replay s':>9} {'2 faults s':>11} "
        f"{'plain 429s s':>13} {'faults/plain':>13}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for provider in ("openai", "anthropic"):
            settings = Settings(
                root / f"{provider}.yaml", RecordMode.ONCE, DEFAULT_MATCH_ON, "", ReplayTiming.FAST
            )
            state = RunState(RecordMode.ONCE, root, DEFAULT_MATCH_ON, ReplayTiming.FAST, [], [])
            recorder = state.start(settings)
            _call(provider, httpx2.MockTransport(_answer))
            state.finish(recorder, passed=True)
            replay_settings = Settings(
                settings.cassette_path, RecordMode.NONE, DEFAULT_MATCH_ON, "", ReplayTiming.FAST
            )
            plain, faulted, mocked = [], [], []
            for _ in range(ROUNDS):
                recorder = state.start(replay_settings)
                plain.append(_call(provider, httpx2.MockTransport(_answer)))
                state.finish(recorder, passed=True)
                plan = FaultPlan([parse_rule(["rate_limit"], {"times": 2}, source="bench")])
                recorder = state.start(replay_settings, plan)
                faulted.append(_call(provider, httpx2.MockTransport(_answer)))
                assert [c.fault for c in recorder.calls] == ["rate_limit", "rate_limit", None]
                state.finish(recorder, passed=True)
            state.close()
            for _ in range(2):  # the SDK's own backoff is slow: fewer rounds
                mocked.append(_call(provider, _plain_429s(2)))
            a, b, c = (statistics.median(x) for x in (plain, faulted, mocked))
            print(f"{provider:<10} {a:>9.4f} {b:>11.4f} {c:>13.3f} {b / c:>13.4f}")


if __name__ == "__main__":
    main()
