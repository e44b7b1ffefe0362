"""`pytest-llm import` and the small things a new user tripped on (issue 26, points 5 and 8)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_provider import FakeProvider
from kit import inner_file, vcrpy_chat, write_vcrpy_cassette

from pytest_llm import assert_json_schema
from pytest_llm.cli import main

FORECAST = {
    "request": {
        "body": None,
        "headers": {},
        "method": "GET",
        "uri": "https://api.weather.example/v1/forecast?city=Oslo",
    },
    "response": {
        "body": {"string": '{"temp": 21}'},
        "headers": {"Content-Type": ["application/json"]},
        "status": {"code": 200, "message": "OK"},
    },
}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def vcr_suite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A pytest-recording project: a model call and a weather API call in tests/cassettes."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "tests" / "cassettes" / "test_app" / "test_a.yaml"
    return write_vcrpy_cassette(path, vcrpy_chat("hi", "hello"), FORECAST)


# --- point 5: import ---------------------------------------------------------------------------


def test_import_says_where_it_wrote_when_that_is_not_beside_the_input(
    vcr_suite: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `show` on the vcrpy file suggests the command, and says where it would write.
    code, _, err = run(capsys, "show", "tests/cassettes/test_app/test_a.yaml")
    assert code == 1
    assert (
        "fix: convert it with: pytest-llm import tests/cassettes/test_app/test_a.yaml "
        "--out DIR (default: the current directory); tests marked vcr read it in place, "
        "with no import" in err
    )
    code, out, err = run(capsys, "import", str(vcr_suite))
    assert code == 0
    assert out.splitlines() == ["test_a.yaml  (2 call(s))"]  # the paths written, as before
    assert err == (
        f"note: written into the current directory ({Path.cwd()}), not beside the input; "
        "pass --out DIR to write elsewhere\n"
    )
    assert (Path.cwd() / "test_a.yaml").is_file()
    # Told where to write, it says nothing more.
    code, out, err = run(capsys, "import", str(vcr_suite), "--out", "converted")
    assert (code, err) == (0, "")
    assert out.splitlines() == ["converted/test_a.yaml  (2 call(s))"]


def test_import_help_says_other_services_are_kept_and_where_it_writes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "import", "--help")
    assert code == 0
    text = " ".join(out.split())
    assert "skipped" not in text
    assert "calls to other services are kept, as plain HTTP interactions" in text
    assert "(default: the current directory, not the input's folder)" in text


# --- point 8: show, stats, diff, help ------------------------------------------------------------


def test_show_prints_no_usage_or_cost_for_a_plain_http_request(
    vcr_suite: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "import", str(vcr_suite))
    code, out, _ = run(capsys, "show", "test_a.yaml")
    assert code == 0
    model_part, http_part = out.split("#2  http")
    assert "usage      3 in + 2 out = 5 tokens, cost $0.000002" in model_part
    assert "GET https://api.weather.example/v1/forecast?city=Oslo" in http_part
    assert "usage" not in http_part and "$" not in http_part


def test_stats_lists_a_single_model_once(
    vcr_suite: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "import", str(vcr_suite), "--out", "cassettes")
    code, out, _ = run(capsys, "stats")
    assert code == 0
    rows = [line.split() for line in out.splitlines()[1:]]
    assert [row[:2] for row in rows] == [["http", "-"], ["openai", "gpt-4o-mini"], ["total", "2"]]
    assert rows[0][-4:] == ["-", "-", "-", "-"]  # no tokens and no price for plain HTTP
    assert "(all)" not in out


def test_diff_names_its_own_min_score_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_vcrpy_cassette(tmp_path / "vcr_old" / "t.yaml", vcrpy_chat("hi", "Hello there"))
    write_vcrpy_cassette(tmp_path / "vcr_new" / "t.yaml", vcrpy_chat("hi", "Go away"))
    run(capsys, "import", "vcr_old/t.yaml", "--out", "old")
    run(capsys, "import", "vcr_new/t.yaml", "--out", "new")
    code, out, _ = run(capsys, "diff", "old", "new", "--min-score", "0.9")
    assert code == 1
    assert out.splitlines()[0] == (
        "drift against the baseline: 1 of 1 call(s) changed, 1 below --min-score=0.9"
    )
    assert "--llm-drift-min-score" not in out


def test_llm_report_help_names_every_format(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    text = " ".join(result.stdout.str().split())
    assert (
        "write the run's report (calls, tokens, costs, drift) to PATH: .json, .md or .html "
        "(one self-contained page); repeatable, one per format" in text
    )


# --- point 8: messages -------------------------------------------------------------------------


def test_a_cost_limit_is_printed_as_the_dollars_it_is(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    inner_file(pytester, "def test_a(llm):\n    ask('hi')\n")
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    inner_file(
        pytester,
        "from pytest_llm import assert_token_budget\n"
        "def test_a(llm):\n    ask('hi')\n    assert_token_budget(llm, max_cost_usd=1e-06)\n",
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["E * token budget exceeded: cost $0.00000* > max_cost_usd=0.000001"]
    )
    assert "max_cost_usd=1e-06" not in result.stdout.str().replace("max_cost_usd=1e-06)", "")


def test_an_invalid_schema_lists_every_problem() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "integr"}, "b": {"minimum": "x"}},
        "required": "a",
    }
    with pytest.raises(ValueError) as raised:
        assert_json_schema({"a": 1}, schema)
    assert str(raised.value).splitlines() == [
        "the given schema is not a valid JSON Schema (draft 2020-12): 3 problems",
        "  $.properties.a.type: 'integr' is not valid under any of the given schemas",
        "  $.properties.b.minimum: 'x' is not of type 'number'",
        "  $.required: 'a' is not of type 'array'",
    ]


def test_a_samples_miss_names_the_sample_it_matched_instead_of_an_empty_difference(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    body = "@pytest.mark.llm(samples={n})\ndef test_a(llm):\n    ask('roll', temperature=1)\n"
    inner_file(pytester, body.format(n=2))
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    inner_file(pytester, body.format(n=3))
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*no recording of this call in sample 2*",
            "*nearest recorded request (interaction #0) is this same request, recorded for "
            "sample 0",
            "*record it with: pytest test_app.py::test_a --llm-record=new_episodes",
        ]
    )
    assert "differs in:" not in result.stdout.str()


def test_the_drift_pages_show_a_tool_call_answer(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    inner_file(
        pytester,
        """
        TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {
            "type": "object", "properties": {"city": {"type": "string"}}}}}]

        def test_a(llm):
            city = "Oslo" if llm.baseline else "Paris"
            oa.chat.completions.create(
                model="gpt-4o-mini", tools=TOOLS,
                messages=[{"role": "user", "content": f"What is the weather in {city}?"}],
            )
        """,
    )
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    result = pytester.runpytest("--llm-record=rewrite", "--llm-report=d.html", "--llm-report=d.md")
    result.assert_outcomes(passed=1)
    page = (pytester.path / "d.html").read_text()
    assert "(empty)" not in page
    assert "get_weather(" in page and "Paris" in page and "Oslo" in page
    markdown = (pytester.path / "d.md").read_text()
    assert "(empty)" not in markdown
    assert '> get_weather({"city": "Paris"})' in markdown
    assert '> get_weather({"city": "Oslo"})' in markdown
