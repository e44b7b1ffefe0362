"""Prices, call costs, token budgets, the terminal summary and the JSON report."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from fake_provider import FakeProvider
from kit import inner_file

from pytest_llm.checks.budget import assert_token_budget, usd
from pytest_llm.checks.prices import PriceFileError, candidates, default_table, load_table
from pytest_llm.usage import Usage

# --- the price table ------------------------------------------------------------------


def test_dated_snapshots_fine_tunes_and_aliases_find_their_family() -> None:
    table = default_table()
    assert table.lookup("gpt-4o-2024-08-06").name == "gpt-4o"
    assert table.lookup("gpt-3.5-turbo-0125").name == "gpt-3.5-turbo"
    assert table.lookup("ft:gpt-4o-mini-2024-07-18:acme::abc123").name == "gpt-4o-mini"
    assert table.lookup("openai/gpt-4.1-mini").name == "gpt-4.1-mini"
    assert table.lookup("claude-3-5-haiku-latest").name == "claude-3-5-haiku"
    assert table.lookup("claude-haiku-4-5-20251001").name == "claude-haiku-4-5"
    # A snapshot priced apart from its family is found under its own name first.
    assert table.lookup("gpt-4o-2024-05-13").input == 5.0
    assert candidates("claude-3-opus-latest") == ["claude-3-opus-latest", "claude-3-opus"]


def test_unknown_models_have_no_price_and_no_guess() -> None:
    table = default_table()
    for model in ("gpt-5.5", "llama-3-70b", "gpt-4o-audio-preview", "", None):
        assert table.lookup(model) is None
        assert table.cost(model, Usage(1000, 100, 1100)) is None


def test_every_packaged_row_is_dated_sourced_and_priced() -> None:
    rows = default_table().models
    assert len(rows) >= 30
    for name, info in rows.items():
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", info.checked or ""), name
        assert (info.source or "").startswith("https://"), name
        assert info.priced, name
        assert info.provider in ("openai", "anthropic", "google"), name


def test_the_packaged_table_is_found_through_resources_without_its_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A package imported from a zip archive has no file path: resources reads the table.
    from pytest_llm.checks import prices

    monkeypatch.setattr(prices, "_PACKAGED", tmp_path / "absent" / "models.toml")
    assert prices.default_table.__wrapped__().models == default_table().models


def test_cost_prices_cached_input_and_cache_writes_at_their_own_rates() -> None:
    table = default_table()
    # gpt-4o: $2.50 in, $1.25 cached in, $10 out per 1M tokens.
    usage = Usage(input_tokens=1000, output_tokens=100, total_tokens=1100, cached_tokens=400)
    assert table.cost("gpt-4o", usage) == pytest.approx((600 * 2.5 + 400 * 1.25 + 100 * 10) / 1e6)
    # claude-haiku-4-5: $1 in, $1.25 cache write, $0.10 cache hit, $5 out; input_tokens holds
    # all three kinds of prompt token.
    usage = Usage(input_tokens=3000, output_tokens=10, total_tokens=3010, cached_tokens=1000)
    cost = table.cost("claude-haiku-4-5", usage, cache_write_tokens=1500)
    assert cost == pytest.approx((500 * 1 + 1000 * 0.10 + 1500 * 1.25 + 10 * 5) / 1e6)


def test_a_user_file_adds_models_and_overrides_fields(tmp_path: Path) -> None:
    toml = tmp_path / "prices.toml"
    toml.write_text(
        '[models."local-llama"]\ninput = 0.0\noutput = 0.0\ncontext_window = 8192\n\n'
        '[models."gpt-4o"]\noutput = 12.0\n'
    )
    table = load_table(toml)
    assert table.lookup("local-llama").context_window == 8192
    assert table.cost("local-llama", Usage(10, 10, 20)) == 0.0
    assert table.lookup("gpt-4o").output == 12.0
    assert table.lookup("gpt-4o").input == 2.5  # fields not named keep the packaged value
    yml = tmp_path / "prices.yaml"
    yml.write_text("models:\n  my-model:\n    input: 1\n    output: 2\n")
    assert load_table(yml).cost("my-model", Usage(1_000_000, 0, 1_000_000)) == 1.0


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("p.toml", "[models.x\ninput = 1", r"p\.toml: not valid TOML \(.*line 1"),
        ("p.toml", "[other]\na = 1\n", r"p\.toml: no 'models' table"),
        (
            "p.toml",
            '\n\n[models."x"]\ninput = "cheap"\n',
            r"p\.toml, line 3: x\.input must be a number >= 0, not 'cheap'",
        ),
        (
            "p.toml",
            '[models."x"]\ninput_price = 1\n',
            r"line 1: model 'x' has unknown field\(s\) input_price\. Expected .* fields provider,",
        ),
        ("p.yaml", "models:\n  x: [1, 2\n", r"p\.yaml, line 3: not valid YAML"),
        ("p.yaml", "models:\n  x:\n    context_window: -5\n", r"line 2: x\.context_window must"),
    ],
)
def test_a_broken_price_file_names_the_file_the_line_and_the_fix(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(PriceFileError, match=expected):
        load_table(path)
    assert path.read_text() == text


def test_a_missing_price_file_says_where_it_was_looked_for(tmp_path: Path) -> None:
    with pytest.raises(PriceFileError, match=r"nope\.toml: cannot read the price file"):
        load_table(tmp_path / "nope.toml")


def test_dollars_are_shown_with_the_digits_a_test_needs() -> None:
    assert usd(None) == "unknown"
    assert usd(0.0) == "$0.00"
    assert usd(0.0012) == "$0.0012"
    assert usd(0.5) == "$0.50"
    assert usd(1234.5) == "$1,234.50"
    assert usd(4e-8) == "<$0.000001"


# --- assert_token_budget ----------------------------------------------------------------


def _call(model: str, tokens_in: int, tokens_out: int, cost: float | None) -> SimpleNamespace:
    usage = Usage(tokens_in, tokens_out, tokens_in + tokens_out)
    return SimpleNamespace(
        provider="openai", model=model, usage=usage, cost_usd=cost, replayed=True
    )


def test_a_budget_that_holds_passes() -> None:
    calls = [_call("gpt-4o", 100, 20, 0.0005), _call("gpt-4o", 50, 5, 0.0002)]
    assert_token_budget(calls, max_total_tokens=175, max_cost_usd=0.001, max_calls=2)
    assert_token_budget(SimpleNamespace(calls=calls), max_input_tokens=150)
    assert_token_budget(calls[0], max_output_tokens=20)


def test_a_broken_budget_lists_each_limit_and_every_call() -> None:
    calls = [_call("gpt-4o", 1200, 130, 0.0043), _call("gpt-4o-mini", 300, 40, 0.0001)]
    with pytest.raises(AssertionError) as failure:
        assert_token_budget(calls, max_total_tokens=1000, max_cost_usd=0.004, max_calls=1)
    message = str(failure.value)
    assert message.splitlines()[0] == (
        "token budget exceeded: total tokens 1,670 > max_total_tokens=1,000; "
        "calls 2 > max_calls=1; cost $0.0044 > max_cost_usd=0.004"
    )
    assert re.search(
        r"\[0\] openai gpt-4o .* in +1,200 +out +130 +total +1,330 +\$0\.0043", message
    )
    assert re.search(r"\[1\] openai gpt-4o-mini .* in +300 .*\$0\.0001 +replayed", message)
    assert re.search(r"total +in +1,500 +out +170 +total +1,670 +\$0\.0044", message)


def test_a_cost_budget_over_an_unpriced_model_fails_rather_than_guessing() -> None:
    calls = [_call("gpt-4o", 10, 1, 0.00001), _call("my-local-model", 10, 1, None)]
    with pytest.raises(AssertionError, match=r"no known price for 'my-local-model'.*llm_prices"):
        assert_token_budget(calls, max_cost_usd=1.0)
    assert_token_budget(calls, max_total_tokens=22)  # token limits still work


def test_a_budget_needs_a_limit_and_numbers() -> None:
    with pytest.raises(ValueError, match="give at least one limit: max_input_tokens, "):
        assert_token_budget([])
    with pytest.raises(ValueError, match="max_calls must be a number >= 0, not '3'"):
        assert_token_budget([], max_calls="3")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="takes the llm fixture, a list of its calls or one call"):
        assert_token_budget("calls", max_calls=1)


# --- through the plugin -----------------------------------------------------------------

TWO_TESTS = """
from pytest_llm import assert_token_budget

def test_priced(llm):
    ask("Name three colours")
    ask("Name four fruits", model="gpt-4o")
    mini, big = llm.calls
    for call, (price_in, price_out) in ((mini, (0.15, 0.60)), (big, (2.50, 10.00))):
        u = call.usage
        expected = (u.input_tokens * price_in + u.output_tokens * price_out) / 1e6
        assert call.cost_usd == pytest.approx(expected)
    assert llm.cost_usd == pytest.approx(mini.cost_usd + big.cost_usd)
    assert_token_budget(llm, max_calls=2, max_cost_usd=0.01)

def test_unpriced(llm):
    ask("Say hi", model="local-llama")
    assert llm.calls[0].cost_usd is None
    assert llm.cost_usd is None
"""


def _record(pytester: pytest.Pytester, body: str = TWO_TESTS) -> None:
    inner_file(pytester, body)
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=2)


def _cassette_usage(pytester: pytest.Pytester) -> dict[str, list[dict[str, int]]]:
    import yaml

    found = {}
    for path in sorted((pytester.path / "cassettes").rglob("*.yaml")):
        interactions = yaml.safe_load(path.read_text())["interactions"]
        found[path.stem] = [i["usage"] for i in interactions]
    return found


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["plain", "xdist"])
def test_the_summary_and_report_show_tokens_and_cost_per_test_and_in_total(
    pytester: pytest.Pytester, inner_env: FakeProvider, workers: list[str]
) -> None:
    _record(pytester)
    usage = _cassette_usage(pytester)
    priced_in = sum(u["input_tokens"] for u in usage["test_priced"])
    unpriced_in = usage["test_unpriced"][0]["input_tokens"]
    result = pytester.runpytest("--llm-report=out/run.json", *workers)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*- pytest-llm -*",
            "test * repl  rec  tokens in       out  cost live",
            f"test_app.py::test_priced * 2    0 * {priced_in:,} * $0.*",
            f"test_app.py::test_unpriced * 1    0 * {unpriced_in:,} * unknown",
            f"total (2 tests) * 3    0 * {priced_in + unpriced_in:,} * $0.*",
            "no known price, left out of the cost: local-llama (1)",
            "*add them to a price file named by the ini key llm_prices",
            "3 call(s) replayed, 0 recorded, 0 cassette(s) written",
        ]
    )
    # The summary's own lines (the header's plugin list names "llm-replay" too, and is pytest's).
    summary = result.outlines[
        next(i for i, line in enumerate(result.outlines) if "- pytest-llm -" in line) :
    ]
    assert all(len(line) <= 80 for line in summary if "repl" in line or "test_app" in line)
    document = json.loads((pytester.path / "out" / "run.json").read_text())
    assert document["version"] == 1
    totals = document["totals"]
    assert (totals["tests"], totals["calls"], totals["replayed"], totals["recorded"]) == (
        2,
        3,
        3,
        0,
    )
    assert totals["usage"]["input_tokens"] == priced_in + unpriced_in
    assert totals["unknown_price_models"] == {"local-llama": 1}
    priced, unpriced = document["tests"]
    assert priced["nodeid"] == "test_app.py::test_priced"
    assert priced["cost_usd"] == pytest.approx(totals["cost_usd"])
    first = priced["calls"][0]
    assert set(first) >= {
        "provider",
        "endpoint",
        "model",
        "served_model",
        "usage",
        "cost_usd",
        "replayed",
        "fault",
        "text",
        "drift",
    }
    assert (first["provider"], first["model"], first["replayed"], first["drift"]) == (
        "openai",
        "gpt-4o-mini",
        True,
        None,
    )
    assert first["text"]
    assert unpriced["cost_usd"] is None


def test_the_summary_is_quiet_when_no_test_uses_the_plugin(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain():\n    assert True\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert "pytest-llm -" not in result.stdout.str()
    assert "replayed" not in result.stdout.str()


def test_the_budget_marker_passes_and_fails_on_recorded_usage(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    body = """
    @pytest.mark.llm_budget(max_total_tokens=100000, max_cost_usd=1.0)
    def test_roomy():
        ask("Name three colours")

    @pytest.mark.llm_budget(max_output_tokens=1, max_calls=1)
    def test_tight():
        ask("Name three colours")
        ask("Name four fruits")
    """
    inner_file(pytester, body)
    recording = pytester.runpytest("--llm-record=once")
    recording.assert_outcomes(passed=1, failed=1)  # budgets hold live too
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_tight*",
            "*token budget exceeded in @llm_budget: output tokens * > max_output_tokens=1; "
            "calls 2 > max_calls=1",
            "*calls (2):",
            "*[[]0] openai gpt-4o-mini * in * out * total * $0.* replayed",
            "*[[]1] openai gpt-4o-mini*",
            "*total * in *",
        ]
    )
    assert "budget.py" not in result.stdout.str()  # no internal traceback


def test_a_bad_budget_marker_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.llm_budget(max_tokens=10)
        def test_a():
            pass
        """
    )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*pytest-llm: @pytest.mark.llm_budget on test_a_bad_budget_marker_is_a_usage_error.py"
            "::test_a: unknown limit(s) max_tokens; valid: max_input_tokens, max_output_tokens, "
            "max_total_tokens, max_cost_usd, max_calls, max_steps, max_tool_calls"
        ]
    )


def test_ini_llm_prices_prices_a_model_the_package_does_not_know(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    _record(pytester)
    pytester.makefile(
        ".toml",
        prices='[models."local-llama"]\ninput = 1000000.0\noutput = 0.0\ncontext_window = 8\n',
    )
    pytester.makeini("[pytest]\nllm_prices = prices.toml\n")
    inner_file(
        pytester,
        TWO_TESTS.replace(
            "assert llm.calls[0].cost_usd is None\n    assert llm.cost_usd is None",
            "assert llm.calls[0].cost_usd == llm.calls[0].usage.input_tokens\n"
            "    from pytest_llm import assert_fits_context\n"
            "    with pytest.raises(AssertionError, match='8-token window of local-llama'):\n"
            "        assert_fits_context('a b c d e f g h i j k l', 'local-llama')",
        ),
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=2)
    assert "no known price" not in result.stdout.str()


def test_a_broken_price_file_stops_the_run_with_its_line(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", prices='[models."x"]\noutput = -1\n')
    pytester.makeini("[pytest]\nllm_prices = prices.toml\n")
    pytester.makepyfile("def test_a():\n    pass\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*pytest-llm: ini llm_prices: *prices.toml, line 1: x.output must be a number >= 0*"]
    )


def test_an_unknown_report_format_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_a():\n    pass\n")
    result = pytester.runpytest("--llm-report=run.xml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*pytest-llm: --llm-report=run.xml: unknown report format '.xml'; "
            "valid suffixes: .json, .md, .html*"
        ]
    )
