"""Re-recording against a candidate model: the baseline, drift per call, thresholds, reports."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
import yaml
from fake_provider import FakeProvider
from kit import inner_file

from pytest_llm.checks.drift import compare, json_diff

APP = """
from pytest_llm import assert_no_drift

TICKET = {
    "type": "object",
    "properties": {"customer": {"type": "string"}, "priority": {"type": "integer"}},
    "required": ["customer", "priority"],
}
FORMAT = {"type": "json_schema", "json_schema": {"name": "ticket", "schema": TICKET}}


def test_answer(llm):
    ask("Summarise the refund policy in one sentence", temperature=0)
    oa.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Extract the ticket"}],
        response_format=FORMAT,
    )
    with open("baseline.txt", "a") as out:
        out.write(repr([c.model for c in llm.baseline]) + "\\n")
"""


def _record_a_then_b(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    inner_file(pytester, APP)
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    return pytester.runpytest(
        "--llm-record=rewrite", "--llm-model", "gpt-4o-mini=gpt-4.1-mini", *args
    )


def test_rewrite_with_a_candidate_model_reports_drift_per_call(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    result = _record_a_then_b(
        pytester, "--llm-report=r.json", "--llm-report=r.md", "--llm-report=r.html"
    )
    result.assert_outcomes(passed=1)
    # The candidate answered, and the cassette now holds its answers.
    assert [r.body["model"] for r in inner_env.requests[-2:]] == ["gpt-4.1-mini"] * 2
    cassette = pytester.path / "cassettes" / "test_app" / "test_answer.yaml"
    stored = yaml.safe_load(cassette.read_text())["interactions"]
    assert [i["model"] for i in stored] == ["gpt-4.1-mini", "gpt-4.1-mini"]
    # llm.baseline held the previous recording while re-recording, and nothing before.
    assert (pytester.path / "baseline.txt").read_text().splitlines() == [
        "[]",
        "['gpt-4o-mini', 'gpt-4o-mini']",
    ]
    document = json.loads((pytester.path / "r.json").read_text())
    text_call, json_call = document["tests"][0]["calls"]
    drift = text_call["drift"]
    assert drift["baseline_model"] == "gpt-4o-mini"
    assert text_call["model"] == "gpt-4.1-mini"
    assert drift["baseline_text"].startswith("[gpt-4o-mini] reply to: Summarise the refund")
    assert 0.0 < drift["score"] < 1.0
    assert drift["served_model_changed"] is False  # the requested model changed, not behind it
    assert drift["json_diff"] is None
    # The fake counts words: "[gpt-4.1-mini]" is one word like "[gpt-4o-mini]", digests differ.
    assert drift["token_delta"] == {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}
    # Same tokens, new prices: gpt-4.1-mini $0.40 / $1.60, gpt-4o-mini $0.15 / $0.60 per 1M.
    usage = text_call["usage"]
    expected = (usage["input_tokens"] * 0.25 + usage["output_tokens"] * 1.00) / 1e6
    assert drift["cost_delta"] == pytest.approx(expected)
    structured = json_call["drift"]
    assert structured["schema_valid"] == {"baseline": True, "new": True}
    assert {c["path"] for c in structured["json_diff"]} == {"$.customer", "$.priority"}
    customer = next(c for c in structured["json_diff"] if c["path"] == "$.customer")
    assert (customer["old"], customer["new"]) == ("gpt-4o-mini value", "gpt-4.1-mini value")
    result.stdout.fnmatch_lines(
        [
            "drift against the baseline: 2 of 2 call(s) changed",
            "  0.* test_app.py::test_answer[[]*]  gpt-4o-mini -> gpt-4.1-mini  tokens +0",
        ]
    )
    markdown = (pytester.path / "r.md").read_text()
    assert "### Drift: 2 of 2 call(s) changed" in markdown
    assert "| gpt-4o-mini → gpt-4.1-mini |" in markdown
    assert "- `$.customer` values changed: `'gpt-4o-mini value'` → `'gpt-4.1-mini value'`" in (
        markdown
    )
    _check_self_contained((pytester.path / "r.html").read_text())


class _Assets(HTMLParser):
    """Every URL-bearing attribute and tag a page would fetch."""

    def __init__(self) -> None:
        super().__init__()
        self.fetches: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        for name, value in attrs:
            if name in ("src", "href", "srcset", "action", "poster", "data") and value:
                self.fetches.append(f"{tag} {name}={value}")


def _check_self_contained(page: str) -> None:
    parser = _Assets()
    parser.feed(page)
    assert parser.fetches == []
    assert "script" not in parser.tags and "link" not in parser.tags
    assert not re.search(r"url\(|@import|https?://", page)
    assert {"svg", "del", "ins", "table"} <= parser.tags  # chart, highlighted words, deltas


def test_a_drift_threshold_fails_the_test_and_still_writes_the_new_answers(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    result = _record_a_then_b(pytester, "--llm-drift-min-score=0.999")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*pytest-llm: 2 answer(s) drifted below --llm-drift-min-score=0.999 against the "
            "baseline (the new answers were still recorded):",
            "*[[]0] score 0.* gpt-4o-mini -> gpt-4.1-mini, tokens +0, cost *",
            "*[[]1] score 0.000 (json-leaves), gpt-4o-mini -> gpt-4.1-mini, tokens +0, cost *, "
            "2 JSON change(s)",
        ]
    )
    cassette = pytester.path / "cassettes" / "test_app" / "test_answer.yaml"
    assert "gpt-4.1-mini" in cassette.read_text()


def test_a_served_model_change_behind_the_same_name_is_flagged(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    inner_file(pytester, APP)
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    inner_env.served_suffix = "-2026-06-01"  # the provider moved the alias
    result = pytester.runpytest("--llm-record=all", "--llm-report=r.json")
    result.assert_outcomes(passed=1)
    drift = json.loads((pytester.path / "r.json").read_text())["tests"][0]["calls"][0]["drift"]
    assert drift["score"] == 1.0  # same text: only the serving snapshot changed
    assert drift["served_model_changed"] is True
    assert drift["baseline_served_model"] == "gpt-4o-mini-2025-01-01"
    result.stdout.fnmatch_lines(
        [
            "*1.000  test_app.py::test_answer[[]0]  gpt-4o-mini -> gpt-4o-mini (served "
            "gpt-4o-mini-2025-01-01 -> gpt-4o-mini-2026-06-01)*"
        ]
    )


def test_assert_no_drift_compares_a_call_with_its_baseline(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    body = (
        APP
        + """

def test_stable(llm):
    oa.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Extract the ticket"}],
        response_format=FORMAT,
    )
    if llm.baseline:
        assert_no_drift(llm.calls[0], llm.baseline[0])
"""
    )
    inner_file(pytester, body)
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=2)
    result = pytester.runpytest(
        "--llm-record=rewrite", "--llm-model", "gpt-4o-mini=gpt-4.1-mini", "-k", "stable"
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*AssertionError: assert_no_drift: llm.calls[[]0] drifted from its baseline: "
            "2 JSON change(s)",
            "*$.customer: values changed: 'gpt-4o-mini value' -> 'gpt-4.1-mini value'",
            "*$.priority: values changed: 11 -> 12",
        ]
    )


def test_bad_drift_options_are_usage_errors(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_a():\n    pass\n")
    result = pytester.runpytest("--llm-model", "gpt-4o")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*pytest-llm: --llm-model=gpt-4o: expected OLD=NEW, e.g. --llm-model gpt-4o-mini=*"]
    )
    result = pytester.runpytest("--llm-drift-min-score=1.5")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*pytest-llm: --llm-drift-min-score=1.5: expected a number from 0 to 1"]
    )


def test_json_diff_names_paths_kinds_and_values() -> None:
    changes = json_diff(
        {"items": [{"qty": 1}], "note": "x"}, {"items": [{"qty": 2}, {"qty": 3}], "extra": True}
    )
    assert changes == [
        {"path": "$.extra", "change": "dictionary item added", "old": None, "new": True},
        {"path": "$.items[0].qty", "change": "values changed", "old": 1, "new": 2},
        {"path": "$.items[1]", "change": "iterable item added", "old": None, "new": {"qty": 3}},
        {"path": "$.note", "change": "dictionary item removed", "old": "x", "new": None},
    ]


def test_tool_calls_are_compared_by_their_arguments() -> None:
    from pytest_llm.calls import LLMCall

    def call(model: str, city: str) -> LLMCall:
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": json.dumps({"city": city})},
                }
            ],
        }
        return LLMCall(
            {
                "provider": "openai",
                "request": {"path": "/v1/chat/completions", "body": {"model": model}},
                "response": {
                    "status": 200,
                    "body": {
                        "model": model,
                        "choices": [
                            {"index": 0, "message": message, "finish_reason": "tool_calls"}
                        ],
                    },
                },
            },
            replayed=True,
        )

    same = compare(call("a", "Paris"), call("b", "Paris"), lambda x, y: (0.0, "unused"))
    assert (same["score"], same["method"], same["json_diff"]) == (1.0, "json-leaves", [])
    moved = compare(call("a", "Lyon"), call("b", "Paris"), lambda x, y: (0.0, "unused"))
    assert moved["score"] == 0.5  # the tool name kept, its one argument changed
    assert moved["json_diff"] == [
        {"path": "$[0].arguments.city", "change": "values changed", "old": "Paris", "new": "Lyon"}
    ]


def test_the_diff_command_compares_two_folders_of_cassettes(
    pytester: pytest.Pytester, inner_env: FakeProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_llm.cli import main

    inner_file(pytester, APP)
    pytester.runpytest("--llm-record=once", "--llm-cassette-dir=old").assert_outcomes(passed=1)
    pytester.runpytest(
        "--llm-record=once", "--llm-cassette-dir=new", "--llm-model", "gpt-4o-mini=gpt-4.1-mini"
    ).assert_outcomes(passed=1)
    capsys.readouterr()

    assert main(["diff", "old", "new", "--report", "d.md"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "drift against the baseline: 2 of 2 call(s) changed"
    assert out[1].startswith("  0.000  test_app/test_answer.yaml[1]  gpt-4o-mini -> gpt-4.1-mini")
    assert "### Drift: 2 of 2 call(s) changed" in (pytester.path / "d.md").read_text()

    assert main(["diff", "old", "new", "--json", "--min-score", "0.5"]) == 1  # one call below
    document = json.loads(capsys.readouterr().out)
    calls = document["tests"][0]["calls"]
    assert [c["drift"]["baseline_model"] for c in calls] == ["gpt-4o-mini", "gpt-4o-mini"]
    assert (document["only_old"], document["only_new"]) == ([], [])

    assert main(["diff", "old", "new/test_app/test_answer.yaml"]) == 2
    assert "compare a file with a file, or a folder with a folder" in capsys.readouterr().err
