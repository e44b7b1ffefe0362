"""Parallel writers, concurrent calls, recorded errors and retries."""

from __future__ import annotations

import pytest
import yaml
from fake_provider import FakeProvider
from kit import inner_file

from pytest_llm.cassettes import store

SHARED = """
@pytest.mark.parametrize("n", range(6))
@pytest.mark.llm(cassette="shared")
def test_shared(n):
    assert f"question {n}" in ask(f"question {n}")

@pytest.mark.parametrize("n", range(4))
def test_own(llm, n):
    ask(f"own {n}")
"""


@pytest.mark.parametrize("workers", ["-n2", "-n0"])
def test_parallel_recording_loses_nothing(
    pytester: pytest.Pytester, inner_env: FakeProvider, workers: str
) -> None:
    inner_file(pytester, SHARED)
    pytester.runpytest_subprocess(workers, "--llm-record=once").assert_outcomes(passed=10)
    shared = yaml.safe_load((pytester.path / "cassettes" / "shared.yaml").read_text())
    prompts = sorted(i["request"]["body"]["messages"][0]["content"] for i in shared["interactions"])
    assert prompts == [f"question {n}" for n in range(6)]
    inner_env.stop()
    result = pytester.runpytest_subprocess(workers)
    result.assert_outcomes(passed=10)
    result.stdout.fnmatch_lines(["10 call(s) replayed, 0 recorded, 0 cassette(s)*"])


def test_threads_and_gather_get_their_own_answers(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    inner_file(
        pytester,
        """
        import asyncio
        from concurrent.futures import ThreadPoolExecutor

        def test_concurrent(llm):
            with ThreadPoolExecutor(8) as pool:
                answers = list(pool.map(lambda n: ask(f"thread {n}"), range(8)))
            assert all(f"reply to: thread {n} " in a for n, a in enumerate(answers))

            async def main():
                client = openai.AsyncOpenAI(base_url=os.environ["FAKE_OPENAI_BASE_URL"])
                async def one(n):
                    reply = await client.chat.completions.create(
                        model="gpt-4o-mini", messages=[{"role": "user", "content": f"task {n}"}]
                    )
                    return reply.choices[0].message.content
                return await asyncio.gather(*(one(n) for n in range(50)))

            results = asyncio.run(main())
            assert all(f"reply to: task {n} " in r for n, r in enumerate(results))
            assert len(llm.calls) == 58
        """,
    )
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    assert len(inner_env.requests) == 58
    pytester.runpytest().assert_outcomes(passed=1)
    assert len(inner_env.requests) == 58


def test_errors_and_retries_replay_in_order_without_sleeping(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    inner_file(
        pytester,
        """
        import time

        def test_errors(llm):
            with pytest.raises(openai.BadRequestError, match="error-400"):
                ask("bad", model="error-400")
            with pytest.raises(anthropic.NotFoundError):
                an.messages.create(
                    model="error-404", max_tokens=5, messages=[{"role": "user", "content": "x"}]
                )
            start = time.monotonic()
            assert "reply to: flaky" in ask("flaky", model="flaky-429")
            elapsed = time.monotonic() - start
            assert [c.status for c in llm.calls] == [400, 404, 429, 200]
            assert llm.calls[2].text == ""
            with open("elapsed.txt", "w") as f:
                f.write(str(elapsed))
        """,
    )
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    assert len(inner_env.requests) == 4
    path = pytester.path / "cassettes" / "test_app" / "test_errors.yaml"
    recorded = yaml.safe_load(path.read_text())["interactions"]
    assert [i["response"]["status"] for i in recorded] == [400, 404, 429, 200]
    assert recorded[0]["response"]["body"]["error"]["type"] == "invalid_request_error"
    # The 429 now asks for 20 s, which the SDK honours (it follows server delays up to 60 s).
    # Replay must answer the retry at once: well under that, however busy the machine.
    edited = store.read(path) or []
    edited[2]["response"]["headers"] |= {"retry-after": "20", "retry-after-ms": "20000"}
    store.write_atomic(path, store.dumps(store.document(edited)))
    inner_env.stop()
    pytester.runpytest().assert_outcomes(passed=1)
    assert float((pytester.path / "elapsed.txt").read_text()) < 10


def test_openai_compatible_servers_behind_any_base_url(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    inner_file(
        pytester,
        """
        def test_router(llm):
            client = openai.OpenAI(base_url=os.environ["FAKE_URL"] + "/api/v1")
            reply = client.chat.completions.create(
                model="meta/llama-3", messages=[{"role": "user", "content": "hi"}]
            )
            assert llm.calls[0].endpoint == "/api/v1/chat/completions"
            assert llm.calls[0].provider == "openai"
        """,
    )
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    inner_env.stop()
    pytester.runpytest().assert_outcomes(passed=1)


def test_recording_refuses_to_send_the_placeholder_key(pytester: pytest.Pytester) -> None:
    # 192.0.2.1 is a documentation address; --llm-block-network is a second guard.
    pytester.makepyfile(
        """
        import openai, pytest

        @pytest.mark.llm(record="once")
        def test_a():
            client = openai.OpenAI(base_url="http://192.0.2.1/v1", max_retries=0)
            client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "x"}]
            )
        """
    )
    result = pytester.runpytest("--llm-block-network")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*recording a call to 192.0.2.1 needs a real API key*",
            "*fix: set OPENAI_API_KEY and run again*",
        ]
    )
