"""Where cassettes go, what they look like, and what happens when one is broken."""

from __future__ import annotations

import json

import pytest
import yaml
from fake_provider import FakeProvider
from kit import inner_file


def test_cassette_paths_follow_the_test_names(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    long_id = "x" * 300
    inner_file(
        pytester,
        f"""
        class TestChat:
            def test_in_class(self, llm):
                ask("class")

        @pytest.mark.parametrize("model", ["gpt-4o-mini", "a/b:c"])
        def test_param(llm, model):
            ask("param", model=model)

        @pytest.mark.parametrize("name", ["{long_id}"])
        def test_long(llm, name):
            ask("long")

        @pytest.mark.llm(cassette="shared/conversation")
        def test_shared_one():
            ask("one")

        @pytest.mark.llm(cassette="shared/conversation")
        def test_shared_two():
            ask("two")
        """,
        name="test_paths",
    )
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=6)
    root = pytester.path / "cassettes"
    names = sorted(str(p.relative_to(root)) for p in root.rglob("*.yaml"))
    long_name = next(n for n in names if n.startswith("test_paths/test_long["))
    assert len(long_name.encode()) < 200 and long_name.endswith(".yaml")
    assert names == sorted(
        [
            "shared/conversation.yaml",
            "test_paths/TestChat.test_in_class.yaml",
            "test_paths/test_param[gpt-4o-mini].yaml",
            "test_paths/test_param[a_b_c].yaml",
            long_name,
        ]
    )
    shared = yaml.safe_load((root / "shared" / "conversation.yaml").read_text())
    assert [i["request"]["body"]["messages"][0]["content"] for i in shared["interactions"]] == [
        "one",
        "two",
    ]
    # replay from the same places
    pytester.runpytest().assert_outcomes(passed=6)


@pytest.mark.parametrize("how", ["--llm-cassette-dir=recordings/llm", "ini"])
def test_the_cassette_root_moves(
    pytester: pytest.Pytester, inner_env: FakeProvider, how: str
) -> None:
    args = [how] if how.startswith("--") else []
    if how == "ini":
        pytester.makeini("[pytest]\nllm_cassette_dir = recordings/llm\n")
    inner_file(pytester, "def test_a(llm):\n    ask('moved')\n")
    pytester.runpytest("--llm-record=once", *args).assert_outcomes(passed=1)
    assert (pytester.path / "recordings" / "llm" / "test_app" / "test_a.yaml").is_file()
    assert not (pytester.path / "cassettes").exists()


def test_cassettes_read_as_plain_text(pytester: pytest.Pytester, inner_env: FakeProvider) -> None:
    inner_file(
        pytester,
        """
        def test_a(llm):
            ask("write a poem")
            list(oa.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True
            ))
        """,
    )
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    text = (pytester.path / "cassettes" / "test_app" / "test_a.yaml").read_text()
    assert inner_env.requests[0].headers["accept-encoding"].startswith("gzip")
    assert "content: |-\n" in text  # the multi-line answer is block text
    assert "roses are red, tokens are blue\n" in text
    assert "!!binary" not in text and "content-encoding" not in text and "\\n" not in text
    document = yaml.safe_load(text)
    stream = document["interactions"][1]
    assert stream["response"]["events"][-1] == {"data": "[DONE]"}
    assert stream["response"]["final"]["choices"][0]["message"]["content"].startswith(
        "[gpt-4o-mini] reply to: hi"
    )
    for field in ("provider", "model", "served_model", "usage", "latency_s", "recorded_at"):
        assert field in stream
    assert stream["ttft_s"] <= stream["latency_s"]
    assert stream["versions"]["sdk"].startswith("OpenAI/Python")


def test_a_stream_is_one_line_per_event_and_its_final_message_is_block_text(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    inner_file(
        pytester,
        """
        def test_a(llm):
            with an.messages.stream(
                model="claude-3-5-haiku-latest",
                max_tokens=64,
                messages=[{"role": "user", "content": "write a poem"}],
            ) as stream:
                assert "roses are red" in stream.get_final_text()
        """,
    )
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    text = (pytester.path / "cassettes" / "test_app" / "test_a.yaml").read_text()
    events = yaml.safe_load(text)["interactions"][0]["response"]["events"]
    lines = text.splitlines()
    start = lines.index("    events:") + 1
    written = lines[start : start + len(events)]
    assert all(line.startswith("    - {") for line in written)
    assert [json.loads(line[len("    - ") :]) for line in written] == events
    assert not lines[start + len(events)].startswith("    - ")
    assert "roses are red, tokens are blue\n" in text  # `final` keeps the answer as block text


def test_interactions_are_kept_when_the_test_then_fails(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    inner_file(pytester, "def test_a(llm):\n    ask('paid for')\n    assert False, 'oops'\n")
    pytester.runpytest("--llm-record=once").assert_outcomes(failed=1)
    pytester.runpytest().assert_outcomes(failed=1)  # fails on the assertion, not a miss
    assert len(inner_env.requests) == 1
    leftovers = [p.name for p in (pytester.path / "cassettes").rglob("*") if p.is_file()]
    assert leftovers == ["test_a.yaml"]  # no temporary files left behind


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            "version: 1\ninteractions:\n- key: [unclosed\n",
            "*test_a.yaml:4: not valid cassette YAML*",
        ),
        (
            "version: 1\ninteractions:\n- !!python/object/apply:os.system ['touch pwned']\n",
            "*test_a.yaml:3: not valid cassette YAML (could not determine a constructor*",
        ),
        ("version: 99\ninteractions: []\n", "*unknown cassette format version 99*"),
        ("- just\n- a list\n", "*expected a mapping with an 'interactions' list*"),
        (
            "version: 1\ninteractions:\n- request: {path: /v1/chat/completions}\n",
            "*interaction #0: request.body must be the decoded JSON request*",
        ),
    ],
)
def test_a_broken_cassette_fails_its_test_only_and_is_left_untouched(
    pytester: pytest.Pytester, inner_env: FakeProvider, content: str, expected: str
) -> None:
    inner_file(pytester, "def test_a(llm):\n    ask('x')\n\ndef test_b():\n    pass\n")
    path = pytester.path / "cassettes" / "test_app" / "test_a.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(content)
    for mode in ("none", "new_episodes", "all"):
        result = pytester.runpytest(f"--llm-record={mode}")
        result.assert_outcomes(passed=1, failed=1)
        result.stdout.fnmatch_lines(["*cannot use cassette " + expected])
        assert path.read_text() == content
    assert not (pytester.path / "pwned").exists()
    assert inner_env.requests == []


def test_unused_interactions_are_reported_and_strict_fails_the_run(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    inner_file(pytester, "def test_a(llm):\n    ask('one')\n    ask('two')\n")
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    inner_file(pytester, "def test_a(llm):\n    ask('one')\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "1 recorded interaction(s) were not used by any passing test",
            "  1 unused in *test_a.yaml",
        ]
    )
    strict = pytester.runpytest("--llm-strict")
    strict.assert_outcomes(passed=1)
    assert strict.ret == pytest.ExitCode.TESTS_FAILED
    strict.stdout.fnmatch_lines(["*not used by any passing test (--llm-strict: failing the run)"])
