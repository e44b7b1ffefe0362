"""The pytest-llm command: import, ls, show and stats, as a user runs them."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kit import CORPUS

from pytest_llm.cassettes import store
from pytest_llm.cli import main

TOOL_OUTPUT = CORPUS / "pydantic-ai" / "test_openai_tool_output.yaml"
RETRIES = CORPUS / "pydantic-ai" / "test_openrouter_errors_raised.yaml"
ANTHROPIC = CORPUS / "langsmith-sdk" / "test_anthropic_test_prepopulated_invocation_params.yaml"
STREAM = CORPUS / "llm-anthropic" / "test_tools.yaml"
SUBCOMMANDS = ("import", "ls", "show", "stats")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def imported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A folder of cassettes imported from the corpus: OpenAI, Anthropic, errors, a stream."""
    out = tmp_path / "cassettes"
    code, _, err = run(capsys, "import", str(TOOL_OUTPUT), str(RETRIES), str(ANTHROPIC),
                       str(STREAM), "--out", str(out))  # fmt: skip
    assert code == 0, err
    return out


# --- help and usage ----------------------------------------------------------------------------


def test_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for name in SUBCOMMANDS:
        assert name in out
    assert "Exit codes: 0 ok, 1 a file could not be used, 2 bad command line." in out


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help_and_json(
    capsys: pytest.CaptureFixture[str], command: str
) -> None:
    code, out, _ = run(capsys, command, "--help")
    assert code == 0
    assert f"usage: pytest-llm {command}" in out
    assert "--json" in out


def test_no_subcommand_or_a_bad_option_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(capsys)
    assert code == 2 and "usage: pytest-llm" in err
    code, _, err = run(capsys, "ls", "--colour")
    assert code == 2 and "unrecognized arguments: --colour" in err
    code, _, err = run(capsys, "merge", "a", "b")
    assert code == 2 and "invalid choice: 'merge'" in err
    code, _, err = run(capsys, "diff", "a", "b")
    assert code == 2 and "pytest-llm diff: a: no such file or folder" in err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("pytest-llm ")


def test_python_dash_m_runs_the_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest_llm", "--help"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "usage: pytest-llm" in result.stdout
    for name in SUBCOMMANDS:
        assert name in result.stdout


# --- import ------------------------------------------------------------------------------------


def test_import_writes_one_cassette_per_file_in_the_current_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "import", str(TOOL_OUTPUT), str(RETRIES))
    assert code == 0
    # Not beside the inputs, which is where a user looks first: said on stderr.
    assert err == (
        f"note: written into the current directory ({tmp_path}), not beside the input; "
        "pass --out DIR to write elsewhere\n"
    )
    assert out.splitlines() == [
        "test_openai_tool_output.yaml  (2 call(s))",
        "test_openrouter_errors_raised.yaml  (3 call(s))",
    ]
    interactions = store.read(tmp_path / "test_openrouter_errors_raised.yaml")
    assert interactions is not None
    assert [i["response"]["status"] for i in interactions] == [429, 429, 429]


def test_import_refuses_to_overwrite_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "test_openai_tool_output.yaml"
    target.write_text("mine\n")
    code, out, err = run(capsys, "import", str(TOOL_OUTPUT), "--out", str(tmp_path))
    assert code == 1 and out == ""
    assert "already exists; pass --force to replace it" in err
    assert target.read_text() == "mine\n"

    code, out, _ = run(capsys, "import", str(TOOL_OUTPUT), "--out", str(tmp_path), "--force")
    assert code == 0 and "test_openai_tool_output.yaml" in out
    assert len(store.read(target) or []) == 2


def test_import_of_a_file_that_is_not_a_cassette_names_it_and_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notes = tmp_path / "notes.yaml"
    notes.write_text("title: not a cassette\n")
    out_dir = tmp_path / "out"
    code, out, err = run(capsys, "import", str(notes), str(TOOL_OUTPUT), "--out", str(out_dir))
    assert code == 1
    assert "cannot import" in err and "notes.yaml: not a vcrpy cassette" in err
    assert "Traceback" not in err
    assert "test_openai_tool_output.yaml" in out  # the good file was still converted
    assert not (out_dir / "notes.yaml").exists()


def test_import_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "import", str(tmp_path / "missing.yaml"))
    assert code == 2 and "no such file: " in err and "missing.yaml" in err
    twin = tmp_path / "other" / TOOL_OUTPUT.name
    twin.parent.mkdir()
    shutil.copy(TOOL_OUTPUT, twin)
    code, _, err = run(capsys, "import", str(TOOL_OUTPUT), str(twin), "--out", str(tmp_path))
    assert code == 2 and "would both be written to" in err
    code, _, err = run(capsys, "import", str(TOOL_OUTPUT), "--scrub-pattern", "([")
    assert code == 2 and "--scrub-pattern '([' is not a valid regex" in err
    assert list(tmp_path.glob("*.yaml")) == []


def test_import_json_and_extra_scrubbing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys, "import", str(TOOL_OUTPUT), "--out", str(tmp_path), "--json",
        "--scrub-pattern", "Mexico", "--scrub-header", "openai-processing-ms",
    )  # fmt: skip
    assert code == 0
    report = json.loads(out)
    assert report["errors"] == []
    [entry] = report["written"]
    assert entry["calls"] == 2 and entry["skipped"] == []
    text = Path(entry["path"]).read_text()
    assert "Mexico" not in text and "<scrubbed>" in text
    assert "openai-processing-ms" not in text


# --- ls ----------------------------------------------------------------------------------------


def test_ls_lists_calls_models_tokens_cost_and_age(
    imported: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "ls", str(imported))
    assert (code, err) == (0, "")
    header, *rows = out.splitlines()
    assert header.split() == ["CASSETTE", "CALLS", "MODELS", "TOKENS", "COST", "AGE"]
    by_name = {
        row.split()[0].rsplit("/", 1)[-1]: row for row in rows if row.startswith(str(imported))
    }
    tool_row = by_name["test_openai_tool_output.yaml"]
    assert tool_row.split()[1:4] == ["2", "gpt-4o", "205"]
    assert "$0.0" in tool_row  # gpt-4o has a packaged price
    # Numbers are right-aligned under their headers.
    for column in ("CALLS", "TOKENS"):
        end = header.index(column) + len(column)
        for row in by_name.values():
            assert row[end - 1].isdigit() and row[end] == " ", (column, row)
    # OpenRouter's gemini has no known price: said so, never guessed.
    assert by_name["test_openrouter_errors_raised.yaml"].split()[4] == "-"


def test_unknown_prices_are_shown_as_unknown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unpriced = CORPUS / "llm" / "test_responses_basic_non_streaming.yaml"  # gpt-5.5
    assert main(["import", str(unpriced), str(TOOL_OUTPUT), "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    code, out, _ = run(capsys, "ls", str(tmp_path))
    assert code == 0
    rows = {line.split()[0].rsplit("/", 1)[-1]: line.split() for line in out.splitlines()}
    assert rows["test_responses_basic_non_streaming.yaml"][4] == "-"
    code, out, _ = run(capsys, "stats", str(tmp_path))
    total = next(line for line in out.splitlines() if line.startswith("total"))
    assert total.endswith("*")
    assert out.splitlines()[-1] == (
        "* some calls have no known price; the cost shown is that of the others"
    )


def test_ls_json(imported: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "ls", "--json", str(imported))
    assert code == 0
    report = json.loads(out)
    assert report["errors"] == [] and report["vcrpy"] == []
    entries = {Path(c["path"]).name: c for c in report["cassettes"]}
    assert set(entries) == {
        "test_openai_tool_output.yaml",
        "test_openrouter_errors_raised.yaml",
        "test_anthropic_test_prepopulated_invocation_params.yaml",
        "test_tools.yaml",
    }
    tools = entries["test_openai_tool_output.yaml"]
    assert tools["calls"] == 2 and tools["models"] == ["gpt-4o"]
    assert tools["usage"] == {
        "input_tokens": 157,
        "output_tokens": 48,
        "total_tokens": 205,
        "cached_tokens": 0,
    }
    assert tools["cost_usd"] > 0 and tools["fully_priced"] is True
    # Recorded by vcrpy in April 2026 (the response's Date header), not at import time.
    anthropic = entries["test_tools.yaml"]
    assert anthropic["recorded_at"].startswith("2026-04-05T10:23:56")


def test_ls_age_comes_from_the_newest_recording(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    interactions = store.read(_import_one(tmp_path, capsys, TOOL_OUTPUT)) or []
    now = datetime.now(UTC)
    interactions[0]["recorded_at"] = (now - timedelta(days=40)).isoformat()
    interactions[1]["recorded_at"] = (now - timedelta(hours=3, minutes=5)).isoformat()
    store.write_atomic(tmp_path / "aged.yaml", store.dumps(store.document(interactions)))
    code, out, _ = run(capsys, "ls", str(tmp_path / "aged.yaml"))
    assert code == 0
    assert out.splitlines()[1].split()[-1] == "3h"


def _import_one(tmp_path: Path, capsys: pytest.CaptureFixture[str], source: Path) -> Path:
    out = tmp_path / "one"
    assert main(["import", str(source), "--out", str(out)]) == 0
    capsys.readouterr()
    return out / source.name


def test_ls_reports_a_broken_cassette_and_lists_the_rest(
    imported: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = imported / "broken.yaml"
    broken.write_text("# pytest-llm cassette\nversion: 1\ninteractions:\n- key: [unclosed\n")
    code, out, err = run(capsys, "ls", str(imported))
    assert code == 1
    assert "test_openai_tool_output.yaml" in out
    assert "cannot use cassette" in err and "broken.yaml:5: not valid cassette YAML" in err
    assert "Traceback" not in err


def test_ls_leaves_vcrpy_cassettes_out_with_a_note(
    imported: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(RETRIES, imported / "vcr_original.yaml")
    (imported / "settings.yaml").write_text("retries: 3\n")  # not a cassette at all: ignored
    code, out, err = run(capsys, "ls", str(imported))
    assert code == 0
    assert "vcr_original" not in out and "settings" not in out
    assert "note: 1 vcrpy cassette(s) left out; convert them with: pytest-llm import" in err


def test_ls_defaults_to_the_cassettes_folder(
    imported: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(imported.parent)
    code, out, _ = run(capsys, "ls")
    assert code == 0 and "cassettes/test_tools.yaml" in out


def test_ls_of_an_empty_or_missing_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "ls", str(tmp_path))
    assert code == 0 and out.startswith("no pytest-llm cassettes under")
    code, _, err = run(capsys, "ls", str(tmp_path / "nowhere"))
    assert code == 2 and "no such file or directory" in err


def test_a_price_file_overrides_the_packaged_prices(
    imported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text('[models."gpt-4o"]\ninput = 1000000.0\noutput = 0.0\n')
    code, out, _ = run(capsys, "ls", "--json", "--prices", str(prices), str(imported))
    assert code == 0
    costs = {Path(c["path"]).name: c["cost_usd"] for c in json.loads(out)["cassettes"]}
    assert costs["test_openai_tool_output.yaml"] == pytest.approx(157.0)
    prices.write_text("[models\n")
    code, _, err = run(capsys, "ls", "--prices", str(prices), str(imported))
    assert code == 1 and "prices.toml: not valid TOML" in err


# --- show --------------------------------------------------------------------------------------


def test_show_prints_the_conversation(imported: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "show", str(imported / "test_openai_tool_output.yaml"))
    assert code == 0
    assert "test_openai_tool_output.yaml: 2 call(s)" in out
    assert "#1  openai /v1/chat/completions  gpt-4o (served gpt-4o-2024-08-06)  status 200" in out
    assert "  user       What is the largest city in the user country?" in out
    assert "  tools      get_user_country, final_result" in out
    assert "  tool call  get_user_country({})" in out
    assert '  tool call  final_result({"city": "Mexico City", "country": "Mexico"})' in out
    assert "  tool       [result of call_iXFttys57ap0o16JSlC8yhYo] Mexico" in out
    assert "  usage      89 in + 36 out = 125 tokens, cost $0.0" in out


def test_show_stream_errors_and_multi_line_text(
    imported: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "show", str(imported / "test_tools.yaml"))
    assert code == 0 and "status 200  stream" in out
    assert "tool call  pelican_name_generator(" in out
    code, out, _ = run(capsys, "show", str(imported / ANTHROPIC.name))
    assert "#2  anthropic /v1/messages  claude-4-5-haiku  status 404" in out
    assert "  error   not_found_error: model: claude-4-5-haiku" in out


def test_show_names_the_structured_output_asked_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cassette = _import_one(
        tmp_path, capsys, CORPUS / "pydantic-ai" / "test_openai_native_output.yaml"
    )
    code, out, _ = run(capsys, "show", str(cassette))
    assert code == 0
    assert "  format     json_schema result" in out
    assert '  assistant  {"city":"Mexico City","country":"Mexico"}' in out


def test_show_json(imported: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "show", "--json", str(imported / "test_openai_tool_output.yaml"))
    assert code == 0
    calls = json.loads(out)["calls"]
    assert [c["index"] for c in calls] == [1, 2]
    second = calls[1]
    assert second["operation"] == "chat.completions" and second["stream"] is False
    assert second["tool_calls"] == [
        {
            "id": second["tool_calls"][0]["id"],
            "name": "final_result",
            "arguments": {"city": "Mexico City", "country": "Mexico"},
        }
    ]
    assert second["prompt"][0] == {
        "role": "user",
        "text": "What is the largest city in the user country?",
    }
    assert second["usage"]["total_tokens"] == 125


def test_show_refuses_broken_vcrpy_and_missing_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\ninteractions:\n- request: {path: /v1/messages}\n")
    code, out, err = run(capsys, "show", str(broken))
    assert code == 1 and out == ""
    assert "broken.yaml:3: interaction #0: request.body must be the decoded JSON request" in err
    assert "Traceback" not in err

    code, _, err = run(capsys, "show", str(RETRIES))
    assert code == 1
    assert "this is a vcrpy / pytest-recording cassette, not a pytest-llm one" in err
    assert f"fix: convert it with: pytest-llm import {RETRIES}" in err

    code, _, err = run(capsys, "show", str(tmp_path / "gone.yaml"))
    assert code == 2 and "no such file" in err


# --- stats -------------------------------------------------------------------------------------


def test_stats_totals_by_provider_and_model(
    imported: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "stats", str(imported))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == [
        "PROVIDER", "MODEL", "CALLS", "ERRORS", "CASSETTES", "INPUT", "OUTPUT", "CACHED", "COST"
    ]  # fmt: skip
    rows = {tuple(line.split()[:2]): line.split() for line in lines[1:]}
    assert rows[("openai", "gpt-4o")][2:5] == ["2", "0", "1"]
    assert rows[("openai", "google/gemini-2.0-flash-exp:free")][2:4] == ["3", "3"]
    assert rows[("openai", "(all)")][2:5] == ["5", "3", "2"]
    assert rows[("anthropic", "(all)")][2:5] == ["6", "1", "2"]
    assert rows[("total", "11")][:4] == ["total", "11", "4", "4"]


def test_stats_json_sums_match_ls(imported: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, ls_out, _ = run(capsys, "ls", "--json", str(imported))
    code, out, _ = run(capsys, "stats", "--json", str(imported))
    assert code == 0
    report = json.loads(out)
    cassettes = json.loads(ls_out)["cassettes"]
    assert report["cassettes"] == len(cassettes) == 4
    assert report["total"]["calls"] == sum(c["calls"] for c in cassettes)
    assert report["total"]["usage"]["total_tokens"] == sum(
        c["usage"]["total_tokens"] for c in cassettes
    )
    assert report["total"]["cost_usd"] == pytest.approx(sum(c["cost_usd"] or 0 for c in cassettes))
    providers = {p["provider"]: p for p in report["providers"]}
    assert set(providers) == {"openai", "anthropic"}
    models = {(m["provider"], m["model"]) for m in report["models"]}
    assert ("anthropic", "claude-4-5-haiku") in models
