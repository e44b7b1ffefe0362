"""Streams pass through while recording, replay event by event, and can keep their pace."""

from __future__ import annotations

import pytest
import yaml
from fake_provider import FakeProvider
from kit import inner_file

from pytest_llm.cassettes import store

EARLY_BREAK = """
def test_a(llm):
    stream = oa.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "one two three four five six"}],
        stream=True,
    )
    for chunk in stream:
        break  # the application stops reading after the first chunk
    stream.close()
"""


def test_a_stream_left_early_is_still_recorded_whole(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    inner_file(pytester, EARLY_BREAK)
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    path = pytester.path / "cassettes" / "test_app" / "test_a.yaml"
    [interaction] = yaml.safe_load(path.read_text())["interactions"]
    assert interaction["response"]["events"][-1] == {"data": "[DONE]"}
    text = interaction["response"]["final"]["choices"][0]["message"]["content"]
    assert text.startswith("[gpt-4o-mini] reply to: one two three four five six")
    inner_env.stop()
    pytester.runpytest().assert_outcomes(passed=1)


def test_chunks_pass_through_while_recording(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    # The server waits 150 ms before each event; the first chunk must not wait for the last.
    inner_file(
        pytester,
        """
        import time

        def test_a(llm):
            start = time.monotonic()
            stream = oa.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "a b c d e f"}],
                stream=True,
                extra_headers={"x-fake-delay-ms": "150"},
            )
            arrivals = [time.monotonic() - start for _ in stream]
            assert len(arrivals) >= 6
            assert arrivals[0] < arrivals[-1] - 0.5
        """,
    )
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)


def test_replay_timing_recorded_keeps_the_pace(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    inner_file(
        pytester,
        """
        import time

        def test_a(llm):
            start = time.monotonic()
            stream = oa.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "a b c"}],
                stream=True,
                extra_headers={"x-fake-delay-ms": "100"},
            )
            first = None
            for _ in stream:
                first = first if first is not None else time.monotonic() - start
            total = time.monotonic() - start
            with open("timing.txt", "a") as f:
                f.write(f"{first} {total}\\n")
        """,
    )
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    path = pytester.path / "cassettes" / "test_app" / "test_a.yaml"
    (recorded,) = store.read(path) or []
    assert 0.1 < recorded["ttft_s"] < recorded["latency_s"]
    # A slower recording than the live one, so that the two modes differ by far more than
    # a busy machine can blur: sleeps never end early, and fast mode has none.
    recorded |= {"ttft_s": 1.0, "latency_s": 2.0}
    store.write_atomic(path, store.dumps(store.document([recorded])))
    inner_env.stop()
    pytester.runpytest().assert_outcomes(passed=1)
    pytester.runpytest("--llm-replay-timing=recorded").assert_outcomes(passed=1)
    lines = (pytester.path / "timing.txt").read_text().split("\n")
    (_fast_first, fast_total), (paced_first, paced_total) = (
        map(float, line.split()) for line in lines[1:3]
    )
    assert fast_total < 1.0
    assert paced_first >= 1.0
    assert paced_total >= 2.0


def test_autouse_makes_every_test_take_part(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    pytester.makeini("[pytest]\nllm_autouse = true\n")
    inner_file(pytester, "def test_plain():\n    ask('no marker, no fixture')\n")
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    assert (pytester.path / "cassettes" / "test_app" / "test_plain.yaml").is_file()


def test_tests_that_do_not_take_part_are_left_alone(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    inner_file(pytester, "def test_plain():\n    ask('live, untouched')\n")
    pytester.runpytest().assert_outcomes(passed=1)
    assert len(inner_env.requests) == 1
    assert not (pytester.path / "cassettes").exists()
