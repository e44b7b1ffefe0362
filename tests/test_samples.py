"""Samples: a test marked llm(samples=N) runs once per recorded sample and passes on a rate."""

from __future__ import annotations

import json

import pytest
import yaml
from fake_provider import FakeProvider
from kit import inner_file, without_keys

from pytest_llm.checks.samples import (
    baseline_counts,
    mark_outcome,
    passes,
    rate_changed,
    record,
    verdict,
)

# A classifier at temperature 0.8: the fake provider answers "positive" three times in five.
ANSWERS = ["positive", "negative", "positive", "negative", "positive"]

CLASSIFIER = """
made = []

@pytest.fixture
def fresh():
    made.append(object())
    return made[-1]

@pytest.fixture(scope="module")
def shared():
    return object()

SEEN = {{"fresh": [], "shared": set(), "samples": []}}

@pytest.mark.llm(samples={samples}{rate})
def test_classify(llm, fresh, shared):
    SEEN["fresh"].append(id(fresh))
    SEEN["shared"].add(id(shared))
    SEEN["samples"].append(llm.sample)
    label = ask("I love this phone", model="sampler", temperature=0.8)
    assert label == "positive", f"sample {{llm.sample}} said {{label}}"

def test_zz_fixtures_were_fresh_per_sample():
    assert len(set(SEEN["fresh"])) == len(SEEN["fresh"]) == {samples}
    assert len(SEEN["shared"]) == 1
    assert SEEN["samples"] == list(range({samples}))
"""


def _classifier(pytester: pytest.Pytester, samples: int = 5, rate: float | None = None) -> None:
    extra = "" if rate is None else f", min_pass_rate={rate}"
    inner_file(pytester, CLASSIFIER.format(samples=samples, rate=extra))


def _interactions(pytester: pytest.Pytester) -> list[dict]:
    path = pytester.path / "cassettes" / "test_app" / "test_classify.yaml"
    return yaml.safe_load(path.read_text())["interactions"]


def _record(pytester: pytest.Pytester, provider: FakeProvider, rate: float = 0.6) -> None:
    provider.script("sampler", ANSWERS)
    _classifier(pytester, rate=rate)
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=2)


def test_recording_runs_the_body_once_per_sample_and_stores_each(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    _record(pytester, inner_env)
    assert len(inner_env.requests) == 5
    stored = _interactions(pytester)
    assert [i["sample"] for i in stored] == [0, 1, 2, 3, 4]
    assert [i["response"]["body"]["choices"][0]["message"]["content"] for i in stored] == ANSWERS
    assert [i["sample_passed"] for i in stored] == [True, False, True, False, True]
    # The sample sits next to the key, where a reviewer reads first.
    assert list(stored[0])[:3] == ["key", "sample", "sample_passed"]


def test_replay_gives_the_same_rate_every_run(
    pytester: pytest.Pytester, inner_env: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    _record(pytester, inner_env)
    recorded = len(inner_env.requests)
    without_keys(monkeypatch)
    for _ in range(3):
        result = pytester.runpytest("-rA")
        result.assert_outcomes(passed=2)
        result.stdout.fnmatch_lines(["*3/5 samples passed*test_app.py::test_classify*"])
    assert len(inner_env.requests) == recorded


def test_a_rate_below_min_pass_rate_fails_listing_every_failed_sample(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    _record(pytester, inner_env)
    _classifier(pytester, rate=0.8)
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*pytest-llm: 3/5 samples passed (pass rate 0.60, min_pass_rate 0.8): below*",
            "*failed samples:",
            "*sample 1: AssertionError: sample 1 said negative",
            "*sample 3: AssertionError: sample 3 said negative",
        ]
    )


def test_the_run_option_overrides_the_marker_rate(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    _record(pytester, inner_env)
    pytester.runpytest("--llm-min-pass-rate=0.8").assert_outcomes(passed=1, failed=1)
    pytester.runpytest("--llm-min-pass-rate=0.4").assert_outcomes(passed=2)


def test_new_episodes_records_only_the_samples_that_are_missing(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    _record(pytester, inner_env)
    before = _interactions(pytester)
    inner_env.reset()
    inner_env.script("sampler", ["positive", "positive"])
    _classifier(pytester, samples=7, rate=0.6)
    result = pytester.runpytest("--llm-record=new_episodes", "-rA")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*5/7 samples passed*"])
    assert len(inner_env.requests) == 2
    after = _interactions(pytester)
    assert after[:5] == before
    assert [(i["sample"], i["sample_passed"]) for i in after[5:]] == [(5, True), (6, True)]


def test_a_sample_that_was_never_recorded_fails_the_test_whatever_its_rate(
    pytester: pytest.Pytester, inner_env: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    _record(pytester, inner_env)
    without_keys(monkeypatch)
    _classifier(pytester, samples=6, rate=0.1)
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*3/6 samples passed*",
            "*sample(s) 5 had calls with no recording*--llm-record=new_episodes",
            "*sample 5: no recording of this call in sample 5 (each sample replays only its own*",
            "*pytest-llm: no recording for this call in cassettes*test_classify.yaml",
        ]
    )


def test_the_json_report_has_the_samples_object(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    _record(pytester, inner_env)
    result = pytester.runpytest("--llm-report=r.json")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*3/5 samples passed  test_app.py::test_classify*"])
    (test,) = json.loads((pytester.path / "r.json").read_text())["tests"]
    assert test["samples"] == {
        "total": 5,
        "passed": 3,
        "pass_rate": 0.6,
        "min_pass_rate": 0.6,
        "baseline": None,
    }
    assert [c["sample"] for c in test["calls"]] == [0, 1, 2, 3, 4]
    assert [c["text"] for c in test["calls"]] == ANSWERS


def test_xdist_gives_the_same_report_as_a_plain_run(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    _record(pytester, inner_env)
    inner_file(
        pytester,
        """
        @pytest.mark.llm(samples=3, min_pass_rate=0.3)
        @pytest.mark.parametrize("n", range(4))
        def test_many(llm, n):
            assert ask(f"review {n}", model="sampler", temperature=0.9) == "positive"
        """,
        name="test_more",
    )
    pytester.runpytest("--llm-record=once", "test_more.py").assert_outcomes(passed=4)
    reports = []
    # loadfile: the classifier's module checks its fixtures in the same worker.
    for workers in (["-n", "0"], ["-n", "2", "--dist=loadfile"]):
        result = pytester.runpytest("-p", "xdist", *workers, "--llm-report=r.json")
        result.assert_outcomes(passed=6)
        reports.append(json.loads((pytester.path / "r.json").read_text()))
    assert reports[0] == reports[1]
    # The answers went on cycling: P N P | N P P | N P N | P P N for the four tests.
    assert [t["samples"]["passed"] for t in reports[0]["tests"]] == [3, 2, 2, 1, 2]


@pytest.mark.parametrize(
    ("marker", "expected"),
    [
        ("samples=1", "samples=1; valid: a whole number of runs, 2 or more"),
        ("samples='5'", "samples='5'; valid: a whole number of runs, 2 or more"),
        ("samples=5, min_pass_rate=1.5", "min_pass_rate=1.5; valid: a number from 0 to 1"),
        ("min_pass_rate=0.5", "min_pass_rate=0.5 needs samples=N (N >= 2)*"),
    ],
)
def test_bad_marker_values_are_usage_errors(
    pytester: pytest.Pytester, marker: str, expected: str
) -> None:
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.llm({marker})
        def test_a():
            pass
        """
    )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*pytest-llm: @pytest.mark.llm on test_*.py::test_a: {expected}"])


def test_a_bad_run_pass_rate_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--llm-min-pass-rate=high")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*pytest-llm: --llm-min-pass-rate=high: expected a pass rate from 0 to 1, e.g. 0.8"]
    )


def test_a_model_change_that_lowers_the_pass_rate_is_drift(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    inner_env.script("sampler", ["positive"])
    _classifier(pytester, rate=0.6)
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=2)
    # The candidate's answers each read well, but two in five are the wrong label.
    inner_env.script("candidate", ANSWERS)
    result = pytester.runpytest(
        "--llm-record=rewrite",
        "--llm-model=sampler=candidate",
        "--llm-report=r.json",
        "--llm-report=r.md",
        "--llm-report=r.html",
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*3/5 samples passed  test_app.py::test_classify*; when last recorded 5/5",
            "pass rate against the baseline: changed in 1 test(s)",
            "  5/5 -> 3/5  test_app.py::test_classify",
        ]
    )
    (test,) = json.loads((pytester.path / "r.json").read_text())["tests"]
    assert test["samples"]["baseline"] == {"total": 5, "passed": 5, "pass_rate": 1.0}
    assert [c["model"] for c in test["calls"]] == ["candidate"] * 5
    assert all(c["drift"]["baseline_model"] == "sampler" for c in test["calls"])
    markdown = (pytester.path / "r.md").read_text()
    assert "- `test_app.py::test_classify`: 3/5 (0.60, needs 0.6), was 5/5" in markdown
    assert "| 3/5 (0.60, needs 0.6), was 5/5 |" in markdown
    assert "<td>3/5 (0.60, needs 0.6), was 5/5</td>" in (pytester.path / "r.html").read_text()
    assert [i["sample_passed"] for i in _interactions(pytester)] == [True, False, True, False, True]


def test_faults_budgets_and_assertions_apply_to_each_sample(
    pytester: pytest.Pytester, inner_env: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = """
        from pytest_llm import assert_json_schema, assert_similar

        PERSON = {{"type": "object", "properties": {{"name": {{"type": "string"}}}},
                  "required": ["name"]}}
        FORMAT = {{"type": "json_schema", "json_schema": {{"name": "p", "schema": PERSON}}}}

        @pytest.mark.llm(samples=3)
        @pytest.mark.llm_budget(max_calls={max_calls})
        @pytest.mark.llm_faults("rate_limit", times=1)
        def test_extract(llm):
            oa.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{{"role": "user", "content": "Who wrote this?"}}],
                response_format=FORMAT,
            )
            assert [c.fault for c in llm.calls] == ["rate_limit", None]
            assert_json_schema(llm.calls[1])
            assert_similar(llm.calls[1].text, llm.calls[1].text)
        """
    inner_file(pytester, body.format(max_calls=2))
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    assert len(inner_env.requests) == 3  # the faults never reached the provider
    without_keys(monkeypatch)
    result = pytester.runpytest("-rA")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*3/3 samples passed  test_app.py::test_extract*"])
    inner_file(pytester, body.format(max_calls=1))
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*0/3 samples passed (pass rate 0.00, min_pass_rate 1): below*",
            "*sample 0: token budget exceeded in @llm_budget: calls 2 > max_calls=1",
            "*sample 2: token budget exceeded in @llm_budget: calls 2 > max_calls=1",
        ]
    )


# --- the pure part, without sockets ------------------------------------------------------


@pytest.mark.parametrize(
    ("passed", "total", "rate", "expected"),
    [
        (3, 5, 0.6, True),
        (2, 5, 0.6, False),
        (7, 10, 0.7, True),
        (0, 2, 0.0, True),
        (0, 0, 0, False),
    ],
)
def test_passes_compares_counts_not_floats(
    passed: int, total: int, rate: float, expected: bool
) -> None:
    assert passes(passed, total, rate) is expected


def test_baseline_counts_reads_the_outcome_each_sample_had() -> None:
    stored = [
        {"sample": 0, "sample_passed": True},
        {"sample": 0, "sample_passed": True},
        {"sample": 1, "sample_passed": False},
        {"sample": 2},  # recorded before outcomes were kept: not counted
        {},
    ]
    assert baseline_counts(stored) == (2, 1)
    assert baseline_counts([{"key": "k"}]) is None


def test_mark_outcome_puts_it_next_to_the_sample() -> None:
    interaction = {"key": "k", "sample": 2, "provider": "openai"}
    mark_outcome(interaction, False)
    mark_outcome(interaction, True)
    assert list(interaction.items()) == [
        ("key", "k"),
        ("sample", 2),
        ("sample_passed", True),
        ("provider", "openai"),
    ]


def test_verdict_lists_every_failed_sample_and_fails_on_unanswered_ones() -> None:
    ok, message = verdict(4, 0.5, {1: "AssertionError: no\nmore", 3: "boom"})
    assert ok
    assert message.splitlines() == [
        "pytest-llm: 2/4 samples passed (pass rate 0.50, min_pass_rate 0.5)",
        "failed samples:",
        "  sample 1: AssertionError: no",
        "      more",
        "  sample 3: boom",
    ]
    ok, message = verdict(4, 0.5, {3: "miss"}, unanswered=[3])
    assert not ok
    assert "sample(s) 3 had calls with no recording" in message
    assert rate_changed(record(5, 3, 0.6, (5, 5)))
    assert not rate_changed(record(5, 5, 0.6, (5, 5)))
    assert not rate_changed(record(5, 5, 0.6))


def test_only_function_fixtures_are_renewed_and_a_broken_setup_is_an_error(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pytest

        events = []

        @pytest.fixture(scope="class")
        def per_class():
            events.append("class up")
            yield
            events.append("class down")

        @pytest.fixture
        def per_test():
            events.append("up")
            yield
            events.append("down")

        class TestClassify:
            @pytest.mark.llm(samples=2)
            def test_one(self, llm, per_class, per_test):
                events.append(f"body {llm.sample}")

        @pytest.fixture
        def breaks_in_sample_one(llm):
            if llm.sample == 1:
                raise RuntimeError("no database in sample 1")

        @pytest.mark.llm(samples=3)
        def test_two(llm, breaks_in_sample_one):
            pass

        def test_zz_order():
            assert events == [
                "class up", "up", "body 0", "down", "up", "body 1", "down", "class down"
            ]
        """
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_two*",
            "*RuntimeError: no database in sample 1",
            "2/3 samples passed  test_*.py::test_two  (pass rate 0.67, needs 1, below it)",
        ]
    )
