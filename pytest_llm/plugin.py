"""pytest glue: options, ini keys, markers, the llm fixture and the run's hooks."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shlex
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_llm import paths, prices, report
from pytest_llm.budget import budget_message, budget_problems, check_limits
from pytest_llm.calls import LLM
from pytest_llm.drift import describe, drifted
from pytest_llm.errors import CassetteError, RecordingRefused, ReplayMiss
from pytest_llm.faults import FAULTS, FaultPlan, FaultRule, parse_rule
from pytest_llm.keys import DEFAULT_MATCH_ON, parse_match_on
from pytest_llm.prices import PriceFileError, PriceTable, load_table
from pytest_llm.session import RunState
from pytest_llm.settings import RecordMode, ReplayTiming, Settings

_MARKER_ARGS = frozenset({"cassette", "record", "match_on"})


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("llm", "pytest-llm: record and replay LLM calls")
    group.addoption(
        "--llm-record",
        dest="llm_record",
        default=None,
        metavar="MODE",
        help="record mode: none (default, replay only), once, new_episodes, all, rewrite",
    )
    group.addoption(
        "--llm-cassette-dir",
        dest="llm_cassette_dir",
        default=None,
        metavar="DIR",
        help="root folder of cassettes (default: <rootdir>/cassettes)",
    )
    group.addoption(
        "--llm-strict",
        action="store_true",
        default=False,
        help="fail the run when recorded interactions went unused",
    )
    group.addoption(
        "--llm-block-network",
        action="store_true",
        default=False,
        help="refuse every non-loopback connection in tests that use pytest-llm",
    )
    group.addoption(
        "--llm-replay-timing",
        dest="llm_replay_timing",
        default=None,
        metavar="TIMING",
        help="fast (default) or recorded: reproduce recorded delays when replaying",
    )
    group.addoption(
        "--llm-report",
        dest="llm_report",
        action="append",
        default=[],
        metavar="PATH",
        help="write the run's calls, tokens and costs to PATH (.json); repeatable",
    )
    group.addoption(
        "--llm-model",
        dest="llm_model",
        action="append",
        default=[],
        metavar="OLD=NEW",
        help="ask NEW wherever the code asks OLD (repeatable): run the suite on a candidate model",
    )
    group.addoption(
        "--llm-drift-min-score",
        dest="llm_drift_min_score",
        default=None,
        metavar="X",
        help="when re-recording, fail tests whose answers score below X (0-1) against the baseline",
    )
    parser.addini("llm_similarity", "default similarity method of assert_similar and drift")
    parser.addini("llm_record_mode", "default record mode (none, once, new_episodes, all, rewrite)")
    parser.addini("llm_cassette_dir", "root folder of cassettes, relative to rootdir")
    parser.addini("llm_match_on", "request fields that make the key", type="linelist")
    parser.addini("llm_autouse", "every test takes part in pytest-llm", type="bool", default=False)
    parser.addini("llm_scrub_headers", "more headers to remove from cassettes", type="linelist")
    parser.addini("llm_scrub_patterns", "regexes replaced in recorded bodies", type="linelist")
    parser.addini("llm_prices", "a TOML or YAML file of model prices merged over the packaged ones")
    parser.addini(
        "llm_placeholder_keys",
        "set placeholder API keys in replay when none are set",
        type="bool",
        default=True,
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "llm(cassette=None, record=None, match_on=None): record and replay this test's "
        "LLM calls; cassette names a shared cassette",
    )
    config.addinivalue_line(
        "markers",
        "llm_budget(max_input_tokens=None, max_output_tokens=None, max_total_tokens=None, "
        "max_cost_usd=None, max_calls=None): fail the test when its LLM calls exceed these",
    )
    config.addinivalue_line(
        "markers",
        "llm_faults(*faults, times=None, model=None, provider=None, at=None): make matching "
        f"LLM calls fail before cassette or provider; faults: {', '.join(FAULTS)}",
    )
    reports = _reports(config)
    state = RunState(
        mode=_record_mode(config),
        cassette_root=_cassette_root(config),
        match_on=_ini_match_on(config),
        replay_timing=_replay_timing(config),
        scrub_headers=config.getini("llm_scrub_headers"),
        scrub_patterns=_patterns(config),
        strict=config.getoption("llm_strict"),
        prices=_prices(config),
        model_map=_model_map(config),
        similarity_method=_similarity(config),
        drift_min_score=_drift_min_score(config),
    )
    config.stash[_STATE] = state
    config.stash[_REPORTS] = reports
    prices.activate(state.prices)
    config.pluginmanager.register(_Hooks(config, state), "pytest-llm-hooks")
    if config.pluginmanager.hasplugin("xdist"):
        from pytest_llm import xdist_support

        config.pluginmanager.register(xdist_support.XdistHooks(state), "pytest-llm-xdist")
    if state.mode is RecordMode.NONE and config.getini("llm_placeholder_keys"):
        state.set_placeholder_keys(os.environ)


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    if state is not None:
        state.close(os.environ)
        prices.activate(None)


_STATE = pytest.StashKey[RunState]()
_REPORTS = pytest.StashKey[list[Path]]()
_RUN = pytest.StashKey["_TestRun"]()


def _usage_error(problem: str) -> pytest.UsageError:
    return pytest.UsageError(f"pytest-llm: {problem}")


def _record_mode(config: pytest.Config) -> RecordMode:
    cli = config.getoption("llm_record")
    ini = config.getini("llm_record_mode")
    value, source = (cli, "--llm-record") if cli else (ini or "none", "ini llm_record_mode")
    try:
        return RecordMode.parse(str(value), source=source)
    except ValueError as exc:
        raise _usage_error(str(exc)) from None


def _replay_timing(config: pytest.Config) -> ReplayTiming:
    value = config.getoption("llm_replay_timing") or "fast"
    try:
        return ReplayTiming(value)
    except ValueError:
        valid = ", ".join(t.value for t in ReplayTiming)
        raise _usage_error(
            f"--llm-replay-timing: unknown value {value!r}; valid: {valid}"
        ) from None


def _reports(config: pytest.Config) -> list[Path]:
    paths_ = []
    for value in config.getoption("llm_report"):
        path = Path(value)
        if path.suffix.lower() not in report.REPORT_FORMATS:
            valid = ", ".join(report.REPORT_FORMATS)
            raise _usage_error(
                f"--llm-report={value}: unknown report format {path.suffix or '(no suffix)'!r}; "
                f"valid suffixes: {valid}"
            )
        paths_.append(config.invocation_params.dir / path)
    return paths_


def _model_map(config: pytest.Config) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for value in config.getoption("llm_model"):
        old, sep, new = str(value).partition("=")
        if not sep or not old.strip() or not new.strip():
            raise _usage_error(
                f"--llm-model={value}: expected OLD=NEW, e.g. --llm-model gpt-4o-mini=gpt-4.1-mini"
            )
        mapping[old.strip()] = new.strip()
    return mapping


def _drift_min_score(config: pytest.Config) -> float | None:
    value = config.getoption("llm_drift_min_score")
    if value is None:
        return None
    try:
        score = float(value)
    except ValueError:
        score = -1.0
    if not 0.0 <= score <= 1.0:
        raise _usage_error(f"--llm-drift-min-score={value}: expected a number from 0 to 1")
    return score


def _similarity(config: pytest.Config) -> str | None:
    value = str(config.getini("llm_similarity") or "").strip()
    if not value:
        return None
    from pytest_llm import similarity

    try:
        similarity.set_default_method(value)
    except ValueError as exc:
        raise _usage_error(f"ini llm_similarity: {exc}") from None
    return value


def _prices(config: pytest.Config) -> PriceTable:
    value = config.getini("llm_prices")
    try:
        return load_table(config.rootpath / str(value) if value else None)
    except PriceFileError as exc:
        raise _usage_error(f"ini llm_prices: {exc}") from None


def _budget(item: pytest.Item) -> dict[str, float | int] | None:
    marker = item.get_closest_marker("llm_budget")
    if marker is None:
        return None
    where = f"@pytest.mark.llm_budget on {item.nodeid}"
    if marker.args:
        raise _usage_error(f"{where}: limits are keywords, e.g. llm_budget(max_total_tokens=500)")
    try:
        return check_limits(marker.kwargs, source=where)
    except ValueError as exc:
        raise _usage_error(str(exc)) from None


def _faults(item: pytest.Item) -> list[FaultRule]:
    rules = []
    for marker in item.iter_markers("llm_faults"):  # closest first
        try:
            rules.append(
                parse_rule(
                    marker.args, marker.kwargs, source=f"@pytest.mark.llm_faults on {item.nodeid}"
                )
            )
        except ValueError as exc:
            raise _usage_error(str(exc)) from None
    return rules


def _cassette_root(config: pytest.Config) -> Path:
    value = config.getoption("llm_cassette_dir") or config.getini("llm_cassette_dir") or "cassettes"
    return (config.rootpath / str(value)).resolve()


def _ini_match_on(config: pytest.Config) -> frozenset[str]:
    names = config.getini("llm_match_on")
    if not names:
        return DEFAULT_MATCH_ON
    try:
        return parse_match_on(names)
    except ValueError as exc:
        raise _usage_error(f"ini llm_match_on: {exc}") from None


def _patterns(config: pytest.Config) -> list[str]:
    import re

    patterns: list[str] = config.getini("llm_scrub_patterns")
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise _usage_error(
                f"ini llm_scrub_patterns: {pattern!r} is not a regex ({exc})"
            ) from None
    return patterns


def _takes_part(item: pytest.Item) -> bool:
    if item.get_closest_marker("llm") is not None:
        return True
    if item.get_closest_marker("llm_budget") is not None:
        return True
    if item.get_closest_marker("llm_faults") is not None:
        return True
    if "llm" in getattr(item, "fixturenames", ()):
        return True
    return bool(item.config.getini("llm_autouse"))


def _record_command(item: pytest.Item) -> str:
    invocation = item.config.invocation_params.dir
    try:
        location = os.path.relpath(item.path, invocation)
    except ValueError:  # another drive on Windows
        location = str(item.path)
    _, _, rest = item.nodeid.partition("::")
    target = f"{location}::{rest}" if rest else location
    return f"pytest {shlex.quote(target)}"


def _settings(item: pytest.Item, state: RunState) -> Settings:
    marker = item.get_closest_marker("llm")
    kwargs: dict[str, Any] = dict(marker.kwargs) if marker else {}
    unknown = sorted(set(kwargs) - _MARKER_ARGS)
    where = f"@pytest.mark.llm on {item.nodeid}"
    if unknown or (marker and marker.args):
        bad = ", ".join(unknown) or repr(marker.args if marker else ())
        valid = ", ".join(sorted(_MARKER_ARGS))
        raise _usage_error(f"{where}: unexpected argument(s) {bad}; valid keywords: {valid}")
    try:
        mode = state.mode
        if kwargs.get("record") is not None:
            mode = RecordMode.parse(str(kwargs["record"]), source=f"{where}(record=...)")
        match_on = state.match_on
        if kwargs.get("match_on") is not None:
            match_on = parse_match_on(kwargs["match_on"])
        if kwargs.get("cassette"):
            path = paths.named_cassette(state.cassette_root, str(kwargs["cassette"]))
        else:
            path = paths.cassette_for_test(state.cassette_root, _relative_nodeid(item))
    except ValueError as exc:
        raise _usage_error(f"{where}: {exc}" if where not in str(exc) else str(exc)) from None
    return Settings(path, mode, match_on, _record_command(item), state.replay_timing)


def _relative_nodeid(item: pytest.Item) -> str:
    # Node ids are relative to rootdir already, except for files outside it.
    return item.nodeid


@dataclass
class _TestRun:
    """What the plugin keeps on a test item between setup and teardown."""

    settings: Settings
    budget: dict[str, float | int] | None = None
    faults: list[FaultRule] | None = None
    recorder: Any = None
    error: CassetteError | None = None
    passed: bool = False


class _Hooks:
    """The run's hooks, registered in pytest_configure so they can hold typed state."""

    def __init__(self, config: pytest.Config, state: RunState) -> None:
        self.config = config
        self.state = state

    def pytest_report_header(self, config: pytest.Config) -> str:
        state = self.state
        return f"pytest-llm: record mode {state.mode.value}, cassettes in {state.cassette_root}" + (
            ", network blocked" if config.getoption("llm_block_network") else ""
        )

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        # Resolve every participating test up front: a bad marker value is a usage
        # error reported before anything runs, like a bad option.
        for item in items:
            if _takes_part(item):
                run = _TestRun(_settings(item, self.state), _budget(item), _faults(item))
                item.stash[_RUN] = run

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, None, None]:
        run = item.stash.get(_RUN, None)
        if run is None:
            return (yield)
        try:
            plan = None
            if run.faults:  # fresh counters for each run of the test
                plan = FaultPlan([dataclasses.replace(rule, served=0) for rule in run.faults])
            run.recorder = self.state.start(run.settings, plan)
        except CassetteError as exc:
            run.error = exc
        if self.config.getoption("llm_block_network"):
            stack = contextlib.ExitStack()
            from pytest_llm.netguard import blocked

            stack.enter_context(blocked())
            item.stash[_GUARD] = stack
        return (yield)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        run = item.stash.get(_RUN, None)
        if run is None:
            return (yield)
        if run.error is not None:
            pytest.fail(str(run.error), pytrace=False)
        try:
            result = yield
        except (ReplayMiss, RecordingRefused) as exc:
            failure = str(exc)
        else:
            failure = ""
        if failure:  # raised outside the except block: no chained traceback
            pytest.fail(failure, pytrace=False)
        # The application may have swallowed the miss (or it happened in a thread
        # whose error nobody collected): the test still fails.
        if run.recorder is not None and run.recorder.misses:
            pytest.fail("\n\n".join(run.recorder.misses), pytrace=False)
        if self.state.drift_min_score is not None and run.recorder is not None:
            self._check_drift(run.recorder, self.state.drift_min_score)
        if run.budget is not None and run.recorder is not None:
            problems = budget_problems(run.recorder.calls, run.budget)
            if problems:
                message = budget_message(run.recorder.calls, problems, where="@llm_budget")
                pytest.fail(message, pytrace=False)
        return result

    def _save_usage(self, session: pytest.Session) -> None:
        """Leave what this run used in pytest's cache, for `pytest-llm prune`."""
        cache = getattr(self.config, "cache", None)
        state = self.state
        if cache is None or not (state.known or state.tainted):
            return
        from pytest_llm import pruning

        partial = state.partial or bool(session.shouldstop) or bool(session.shouldfail)
        record = pruning.payload(state.known, state.used, state.tainted, partial=partial)
        cache.set(pruning.CACHE_KEY, record)

    def _check_drift(self, recorder: Any, min_score: float) -> None:
        if not recorder.baseline or not recorder.calls:
            return
        entries = self.state.compare(recorder)
        below = [
            describe(entry, index, recorder.calls[index].model)
            for index, entry in enumerate(entries)
            if entry is not None and drifted(entry, min_score)
        ]
        if below:
            lines = "\n".join(f"  {line}" for line in below)
            pytest.fail(
                f"pytest-llm: {len(below)} answer(s) drifted below --llm-drift-min-score="
                f"{min_score} against the baseline (the new answers were still recorded):\n"
                f"{lines}",
                pytrace=False,
            )

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        run = item.stash.get(_RUN, None)
        if run is not None and report.when == "call":
            run.passed = report.passed
        return report

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Generator[None, None, None]:
        try:
            return (yield)
        finally:
            guard = item.stash.get(_GUARD, None)
            if guard is not None:
                guard.close()
            run = item.stash.get(_RUN, None)
            if run is not None and run.recorder is not None:
                self.state.finish(run.recorder, passed=run.passed, nodeid=item.nodeid)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        lines = self.state.summary_lines(verbose=self.config.getoption("verbose") > 0)
        if not lines:
            return
        terminalreporter.write_sep("-", "pytest-llm")
        for line in lines:
            terminalreporter.write_line(line)
        for path in self.config.stash.get(_REPORTS, []):
            terminalreporter.write_line(f"report written: {path}")

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.state.partial = True

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not hasattr(self.config, "workerinput"):  # the controller writes, once
            for path in self.config.stash.get(_REPORTS, []):
                report.write(path, self.state.tests)
            self._save_usage(session)
        if self.state.strict and self.state.unused() and session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


_GUARD = pytest.StashKey[contextlib.ExitStack]()


@pytest.fixture
def llm(request: pytest.FixtureRequest) -> Iterator[LLM]:
    """The test's LLM traffic: `llm.calls`, `llm.usage`, `llm.baseline`, `llm.cassette_path`."""
    run = request.node.stash.get(_RUN, None)
    if run is None:
        pytest.fail("pytest-llm: the llm fixture was requested outside a test", pytrace=False)
    if run.recorder is None:  # an unreadable cassette: the call phase fails with its error
        yield LLM(run.settings.cassette_path, [], [])
        return
    yield LLM(run.settings.cassette_path, run.recorder.calls, run.recorder.baseline)
