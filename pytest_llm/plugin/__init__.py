"""pytest glue: options, ini keys, markers, the llm fixture and the run's hooks.

Loading this plugin costs a project that never uses it only `options.py` and `settings.py`:
the record/replay machinery is imported when the first participating test is collected.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import os
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_llm import installed
from pytest_llm.plugin import options, vcr_compat
from pytest_llm.plugin.samples import SAMPLES, SamplePlan, Sampler
from pytest_llm.replay.settings import (
    PASSTHROUGH_HOSTS,
    PLACEHOLDER_ENV,
    PLACEHOLDER_KEY,
    RecordMode,
    Settings,
)

if TYPE_CHECKING:
    from pytest_llm.calls import LLM
    from pytest_llm.errors import CassetteError
    from pytest_llm.plugin.session import RunState
    from pytest_llm.replay.faults import FaultRule


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    installed.read_anew()  # a run's first question: the packages installed now
    if not vcr_compat.recording_expected(pluginmanager):
        pluginmanager.add_hookspecs(vcr_compat.RecordingHookSpecs)


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    if not vcr_compat.recording_expected(pluginmanager):
        vcr_compat.add_options(parser)
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
        help="fail the run when recorded interactions went unused, and the tests answered "
        "from stale recordings",
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
        help="write the run's report (calls, tokens, costs, drift) to PATH: .json, .md or "
        ".html (one self-contained page); repeatable, one per format",
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
    group.addoption(
        "--llm-min-pass-rate",
        dest="llm_min_pass_rate",
        default=None,
        metavar="R",
        help="the pass rate (0-1) that tests marked llm(samples=N) need, over their markers' own",
    )
    parser.addini("llm_similarity", "default similarity method of assert_similar and drift")
    parser.addini("llm_record_mode", "default record mode (none, once, new_episodes, all, rewrite)")
    parser.addini("llm_cassette_dir", "root folder of cassettes, relative to rootdir")
    parser.addini("llm_match_on", "request fields that make the key", type="linelist")
    parser.addini(
        "llm_match_ignore",
        "JSON paths of the request body left out of the key (e.g. messages[*].cache_control)",
        type="linelist",
    )
    parser.addini("llm_autouse", "every test takes part in pytest-llm", type="bool", default=False)
    parser.addini("llm_scrub_headers", "more headers to remove from cassettes", type="linelist")
    parser.addini("llm_scrub_patterns", "regexes replaced in recorded bodies", type="linelist")
    parser.addini("llm_prices", "a TOML or YAML file of model prices merged over the packaged ones")
    parser.addini(
        "llm_record_http",
        "record and replay plain HTTP requests too, not only model calls",
        type="bool",
        default=True,
    )
    parser.addini(
        "llm_passthrough_hosts",
        "hosts whose plain HTTP stays live and unrecorded (empty: record every host)",
        type="linelist",
        default=list(PASSTHROUGH_HOSTS),
    )
    parser.addini(
        "llm_placeholder_keys",
        "set placeholder API keys in replay when none are set",
        type="bool",
        default=True,
    )


def _load_providers(points: tuple[EntryPoint, ...]) -> None:
    """This run's providers, from its entry points (read at configure, never during a call)."""
    from pytest_llm.errors import ProviderError
    from pytest_llm.providers import registry

    try:
        registry.load(points)
    except ProviderError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_configure(config: pytest.Config) -> None:
    # A registered provider that cannot be used is a usage error of the run, said at once;
    # with none registered, the providers load with the first participating test.
    points = installed.of_group("pytest_llm.providers")
    if points:
        _load_providers(points)
    for line in options.marker_lines():
        config.addinivalue_line("markers", line)
    run = options.resolve(config)
    hooks = _Hooks(config, run, points)
    config.stash[_HOOKS] = hooks
    config.pluginmanager.register(hooks, vcr_compat.HOOKS_NAME)
    config.pluginmanager.register(Sampler(), "pytest-llm-samples")
    if hooks.vcr:  # pytest-recording is not here: its suites run on pytest-llm
        for line in vcr_compat.MARKERS:
            config.addinivalue_line("markers", line)
        config.pluginmanager.register(vcr_compat, "pytest-llm-vcr")
    else:  # vcrpy cannot read the cassettes that pytest-llm converted: say so in one line
        from pytest_llm.plugin import recording_guard

        config.pluginmanager.register(recording_guard, "pytest-llm-recording-guard")
    if config.pluginmanager.hasplugin("xdist"):
        from pytest_llm.plugin import xdist_support

        config.pluginmanager.register(xdist_support.XdistHooks(hooks), "pytest-llm-xdist")
    if run.mode is RecordMode.NONE and run.placeholder_keys:
        # Test modules build clients at import time, during collection: the keys must be
        # in place now. No request leaves the machine in replay.
        placed = [name for name in PLACEHOLDER_ENV if not os.environ.get(name)]
        for name in placed:
            os.environ[name] = PLACEHOLDER_KEY
        config.stash[_PLACEHOLDERS] = placed


def pytest_unconfigure(config: pytest.Config) -> None:
    hooks = config.stash.get(_HOOKS, None)
    if hooks is not None:
        hooks.close()
    for name in config.stash.get(_PLACEHOLDERS, []):
        if os.environ.get(name) == PLACEHOLDER_KEY:
            del os.environ[name]


@dataclass
class _TestRun:
    """What the plugin keeps on a test item between setup and teardown."""

    settings: Settings
    budget: dict[str, float | int] | None = None
    faults: list[FaultRule] | None = None
    recorder: Any = None
    error: CassetteError | None = None
    passed: bool = False
    vcr: bool = False  # a pytest-recording test: its `vcr` fixture starts the recorder
    handle: LLM | None = None  # what the `llm` fixture returns
    view: Any = None  # what the `vcr` fixture returns in a test marked vcr


class _Hooks:
    """The run's hooks, registered in pytest_configure so they can hold typed state."""

    def __init__(
        self,
        config: pytest.Config,
        run: options.RunConfig,
        provider_points: tuple[EntryPoint, ...] = (),
    ) -> None:
        self.config = config
        self.run = run
        self.provider_points = provider_points  # read once, at configure
        self.partial = False  # tests were deselected: the usage record is incomplete
        workerinput = getattr(config, "workerinput", None)
        self.run_started: float = (
            workerinput["pytest_llm_run_started"]
            if workerinput and "pytest_llm_run_started" in workerinput
            else time.time()
        )
        self._state: RunState | None = None
        self.users: dict[Path, int] = {}  # cassette -> how many collected tests use it
        # Serve pytest-recording's names (markers, fixtures) unless it is loaded itself.
        self.owner = vcr_compat.owner(config.pluginmanager)
        self.vcr = self.owner is None
        self._warned: set[str] = set()
        self._folders: dict[Path, Path] = {}  # cassette folders, resolved once

    @property
    def started(self) -> bool:
        """Whether any test took part (the record/replay machinery is loaded only then)."""
        return self._state is not None

    @property
    def state(self) -> RunState:
        """The run's state, built when the first participating test is collected."""
        if self._state is None:
            from pytest_llm.cassettes import load_cache
            from pytest_llm.checks import prices
            from pytest_llm.plugin.session import RunState

            _load_providers(self.provider_points)
            cache = getattr(self.config, "cache", None)
            load_cache.configure(cache.mkdir("pytest-llm") if cache is not None else None)

            run = self.run
            self._state = RunState(
                mode=run.mode,
                cassette_root=run.cassette_root,
                match_on=run.match_on,
                replay_timing=run.replay_timing,
                scrub_headers=run.scrub_headers,
                scrub_patterns=run.scrub_patterns,
                strict=run.strict,
                prices=run.prices or prices.default_table(),
                model_map=run.model_map,
                similarity_method=run.similarity_method,
                drift_min_score=run.drift_min_score,
                run_started=self.run_started,
                users=self.users,
                report_details=bool(run.reports),
            )
        return self._state

    def close(self) -> None:
        """Undo what the run changed in the process."""
        if self._state is not None:
            from pytest_llm.cassettes import load_cache

            self._state.close()
            load_cache.configure(None)

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        run = self.run
        lines = [
            f"pytest-llm: record mode {run.mode.value}, cassettes in {run.cassette_root}"
            + (", network blocked" if run.block_network else "")
        ]
        if not self.vcr:
            # Short: a header line longer than the terminal wraps (-p no:recording hands over).
            lines.append(f"pytest-llm: {self.owner} is loaded and serves the vcr marker")
        elif not run.cassette_root.is_dir():
            # Likely a suite moved from pytest-recording: its cassettes are not in that folder.
            lines.append("pytest-llm: tests marked vcr: cassettes/<module>/ beside their test file")
        return lines

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        # Resolve every participating test up front: a bad marker value is a usage
        # error reported before anything runs, like a bad option.
        self.users.clear()
        for item in items:
            vcr = self.vcr and vcr_compat.is_vcr_test(item)
            if vcr or options.takes_part(item, self.run):
                settings = options.test_settings(item, self.run)
                if not vcr:  # a vcr test names its cassette when it starts
                    path = settings.cassette_path
                    self.users[path] = self.users.get(path, 0) + 1
                item.stash[_RUN] = _TestRun(
                    settings, options.budget(item), options.faults(item), vcr=vcr
                )
                sampling = options.samples(item, self.run)
                if sampling is not None:
                    item.stash[SAMPLES] = SamplePlan(*sampling)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, object, object]:
        # Helpers that test code calls without a handle on the run (assert_similar,
        # assert_fits_context) read the ini's similarity method and price table from here.
        if self.run.prices is None and self.run.similarity_method is None:
            return (yield)
        from pytest_llm.checks import prices, similarity

        with (
            prices.session_table(self.run.prices),
            similarity.session_method(self.run.similarity_method),
        ):
            return (yield)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, None, None]:
        run = item.stash.get(_RUN, None)
        if run is not None and not run.vcr:  # a vcr test starts in its fixture (vcr_config)
            self._start(item, run)
        if run is None or not run.vcr:
            self._block_network(item, run, {})
        return (yield)

    def _start(self, item: pytest.Item, run: _TestRun, vcr: Any = None) -> None:
        """Start the test's recorder (a cassette that cannot be read fails the test later)."""
        from pytest_llm.errors import CassetteError

        try:
            plan = None
            if run.faults:  # fresh counters for each run of the test
                from pytest_llm.replay.faults import FaultPlan

                plan = FaultPlan([dataclasses.replace(rule, served=0) for rule in run.faults])
            run.passed = False  # a sampled test sets up once per sample
            plan_of_samples = item.stash.get(SAMPLES, None)
            sample = plan_of_samples.index if plan_of_samples is not None else None
            run.recorder = self.state.start(run.settings, plan, sample=sample, vcr=vcr)
        except CassetteError as exc:
            run.error = exc

    def _block_network(
        self,
        item: pytest.Item,
        run: _TestRun | None,
        vcr_config: dict[str, Any],
        *,
        recording: bool = False,
    ) -> None:
        """Refuse non-loopback connections for the test, when an option says so.

        --llm-block-network covers the tests that take part. pytest-recording's
        --block-network (or block_network marker) covers every test, except a vcr test that
        records, and lets through its allowed hosts: marker, then option, then vcr_config.
        """
        if run is not None and self.run.block_network:
            allowed: Any = ()
            option = "--llm-block-network"
        else:
            marker = item.get_closest_marker("block_network")
            asked = marker is not None or self.config.getoption("block_network", False)
            if not self.vcr or not asked or recording:
                return
            allowed = (
                (marker.kwargs.get("allowed_hosts") if marker else None)
                or self.config.getoption("allowed_hosts", None)
                or vcr_config.get("allowed_hosts")
                or ()
            )
            if isinstance(allowed, str):
                allowed = allowed.split(",")
            option = "--block-network"
        from pytest_llm.replay.netguard import blocked

        stack = contextlib.ExitStack()
        stack.enter_context(blocked(tuple(str(host) for host in allowed), option))
        item.stash[_GUARD] = stack

    def vcr_cassette(self, request: pytest.FixtureRequest) -> Any:
        """The `vcr` fixture's value: the cassette view in a test marked vcr, else None (a
        test that names `vcr` without the marker still takes part, as the SPEC says)."""
        run = request.node.stash.get(_RUN, None)
        if run is None or not run.vcr:
            return None
        self.start_vcr(request)
        return run.view

    def start_vcr(self, request: pytest.FixtureRequest) -> None:
        """Start a pytest-recording test: its cassette where pytest-recording keeps it, read
        in place, matched the vcrpy way, with its vcr_config and what its conftest's
        pytest_recording_configure set on the VCR object (the `vcr` fixture's work)."""
        item: pytest.Item = request.node
        run = item.stash.get(_RUN, None)
        if run is None:
            pytest.fail("pytest-llm: the vcr fixture was requested outside a test", pytrace=False)
        if run.handle is not None:
            return
        from pytest_llm.replay.vcr import HONOURED, rules_from_config

        config = vcr_compat.merged_config(request.getfixturevalue("vcr_config"), item)
        folder = Path(request.getfixturevalue("vcr_cassette_dir"))
        name = str(request.getfixturevalue("default_cassette_name"))
        extra = tuple(str(a) for m in item.iter_markers("vcr") for a in m.args)
        try:
            mode = self._vcr_mode(config)
            setup = self._recording_configure(item, config, folder, mode)
            if setup is not None:
                config = {**setup.defaults, **config}  # vcr_config wins, as in vcrpy
                folder = setup.folder or folder
                mode = self._vcr_mode(config)
            matchers = setup.matchers if setup is not None else None
            rules, unknown = rules_from_config(config, folder, extra, matchers)
        except ValueError as exc:
            pytest.fail(f"pytest-llm: vcr_config of {item.nodeid}: {exc}", pytrace=False)
        for key in unknown:
            self._warn_once(
                item,
                key,
                f"pytest-llm: vcr_config key {key!r} is not supported and is ignored "
                f"(supported: {', '.join(sorted(HONOURED))})",
            )
        serializer = str(config.get("serializer") or "yaml")
        if setup is not None:
            from pytest_llm.replay import vcr_object

            pairwise = None
            if rules.spec.custom:
                pairwise = vcr_object.pairwise([setup.matchers[n] for n in rules.spec.custom])
            reader = vcr_object.document_reader(setup, serializer)
            rules = dataclasses.replace(rules, pairwise=pairwise, document=reader)
        path = folder / vcr_compat.file_name(name, "." + serializer)
        run.settings = dataclasses.replace(
            run.settings,
            cassette_path=vcr_compat.resolved(path, self._folders),
            mode=mode,
            passthrough_hosts=rules.ignore_hosts,
        )
        self._start(item, run, rules)
        self._block_network(item, run, config, recording=mode is not RecordMode.NONE)
        run.handle = _handle(run)
        if run.recorder is not None and item.get_closest_marker("vcr") is not None:
            from pytest_llm.replay import vcr_cassette

            if _is_async(item):
                vcr_cassette.preload()
            run.view = vcr_cassette.VcrCassette(
                run.recorder,
                str(path),
                mode,
                [*rules.spec.match_on, *rules.spec.custom],
                matchers,
                rules.before_request,
            )

    def _recording_configure(
        self, item: pytest.Item, config: dict[str, Any], folder: Any, mode: RecordMode
    ) -> Any:
        """Call a conftest's pytest_recording_configure(config, vcr) with a vcrpy VCR, and
        read back what it changed (None when no conftest implements the hook)."""
        caller = getattr(self.config.hook, "pytest_recording_configure", None)
        if caller is None or not caller.get_hookimpls():
            return None
        from pytest_llm.replay import vcr_object

        suffix = "." + str(config.get("serializer") or "yaml")
        vcr = vcr_object.new_vcr(folder, suffix, mode)
        caller(config=self.config, vcr=vcr)
        setup = vcr_object.configured(vcr, vcr_object.new_vcr(folder, suffix, mode))
        for name in setup.unsupported:
            self._warn_once(
                item,
                name,
                f"pytest-llm: pytest_recording_configure set {name}, which pytest-llm does not "
                "support; it is ignored",
            )
        return setup

    def _warn_once(self, item: pytest.Item, key: str, message: str) -> None:
        if key not in self._warned:  # once per run, not once per test
            self._warned.add(key)
            item.warn(pytest.PytestWarning(message))

    def _vcr_mode(self, config: dict[str, Any]) -> RecordMode:
        """--llm-record, then the marker's or vcr_config's record_mode, then --record-mode."""
        ours = self.config.getoption("llm_record")
        if ours:
            return RecordMode.parse(str(ours), source="--llm-record")
        if config.get("record_mode"):
            return RecordMode.parse(str(config["record_mode"]), source="record_mode")
        theirs = self.config.getoption("record_mode", None)
        if theirs:
            return RecordMode.parse(str(theirs), source="--record-mode")
        return self.run.mode

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        run = item.stash.get(_RUN, None)
        if run is None:
            return (yield)
        samples = item.stash.get(SAMPLES, None)
        if run.error is not None:
            if samples is not None:
                samples.unanswered.add(samples.index)
            pytest.fail(str(run.error), pytrace=False)
        from pytest_llm.errors import RecordingRefused, ReplayMiss

        try:
            result = yield
        except (ReplayMiss, RecordingRefused) as exc:
            failure = str(exc)
        else:
            failure = ""
        if samples is not None and (failure or (run.recorder and run.recorder.misses)):
            samples.unanswered.add(samples.index)  # a miss fails the test whatever its rate
        if failure:  # raised outside the except block: no chained traceback
            pytest.fail(failure, pytrace=False)
        # The application may have swallowed the miss (or it happened in a thread
        # whose error nobody collected): the test still fails.
        if run.recorder is not None and run.recorder.misses:
            pytest.fail("\n\n".join(run.recorder.misses), pytrace=False)
        if self.run.drift_min_score is not None and run.recorder is not None:
            self._check_drift(run.recorder, self.run.drift_min_score)
        if run.budget is not None and run.recorder is not None:
            from pytest_llm.checks.budget import budget_message, budget_problems

            problems = budget_problems(run.recorder.calls, run.budget)
            if problems:
                message = budget_message(run.recorder.calls, problems, where="@llm_budget")
                pytest.fail(message, pytrace=False)
            self._check_steps(run)
        if self.run.strict and run.recorder is not None:
            from pytest_llm.replay.misses import stale_message

            stale = stale_message(run.recorder.calls, run.settings.record_command)
            if stale:
                pytest.fail(stale, pytrace=False)
        return result

    def _finish(self, item: pytest.Item, run: _TestRun) -> None:
        from pytest_llm.errors import CassetteError

        plan = item.stash.get(SAMPLES, None)
        try:
            if plan is None:
                self.state.finish(run.recorder, passed=run.passed, nodeid=item.nodeid)
            else:
                plan.outcomes[plan.index] = run.passed
                if not plan.last:  # the cassette is written once, with the test's verdict
                    self.state.stop(run.recorder)
                    plan.recorders.append(run.recorder)
                    return
                recorders = [*plan.recorders, run.recorder]
                plan.recorders.clear()
                self.state.finish_samples(
                    recorders, plan.outcomes, plan.passed(), item.nodeid, plan.record
                )
        except CassetteError as exc:  # e.g. a cassette folder that cannot be written
            failure = str(exc)
        else:
            return
        pytest.fail(failure, pytrace=False)

    def _save_usage(self, session: pytest.Session) -> None:
        """Leave what this run used in pytest's cache, for `pytest-llm prune`."""
        cache = getattr(self.config, "cache", None)
        state = self.state
        if cache is None or not (state.known or state.tainted):
            return
        from pytest_llm.cassettes import pruning

        partial = state.partial or bool(session.shouldstop) or bool(session.shouldfail)
        record = pruning.payload(state.known, state.used, state.tainted, partial=partial)
        cache.set(pruning.CACHE_KEY, record)

    def _check_steps(self, run: _TestRun) -> None:
        """Fail a test whose trajectory broke its llm_budget max_steps / max_tool_calls."""
        from pytest_llm.checks.trajectory import trajectory_message, trajectory_problems

        assert run.budget is not None
        handle = _handle(run)
        problems = trajectory_problems(handle, run.budget)
        if problems:
            pytest.fail(trajectory_message(handle, problems, where="@llm_budget"), pytrace=False)

    def _check_drift(self, recorder: Any, min_score: float) -> None:
        if not recorder.baseline or not recorder.calls:
            return
        from pytest_llm.checks.drift import describe, drifted

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
                try:
                    self._finish(item, run)
                finally:
                    # pytest keeps every item to the end of the run: what the test
                    # recorded and replayed goes with its recorder.
                    run.recorder = run.handle = run.view = None

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.started:
            return
        lines = self.state.summary_lines(verbose=self.config.getoption("verbose") > 0)
        if not lines:
            return
        terminalreporter.write_sep("-", "pytest-llm")
        for line in lines:
            terminalreporter.write_line(line)
        for path in self.run.reports:
            terminalreporter.write_line(f"report written: {path}")

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.partial = True

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.run.reports and not hasattr(self.config, "workerinput"):
            from pytest_llm.report import files

            tests = self.state.tests if self.started else []
            for path in self.run.reports:  # the controller writes, once
                files.write(path, tests)
        if not self.started:
            return
        self.state.partial = self.state.partial or self.partial
        if not hasattr(self.config, "workerinput"):
            self._save_usage(session)
        if self.state.strict and self.state.unused() and session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _is_async(item: pytest.Item) -> bool:
    """Whether the test runs on an event loop (a coroutine, or marked for one)."""
    function = getattr(item, "obj", None)
    if inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function):
        return True
    return any(item.get_closest_marker(name) for name in ("asyncio", "anyio", "trio"))


_HOOKS = pytest.StashKey["_Hooks"]()
_PLACEHOLDERS = pytest.StashKey[list[str]]()
_RUN = pytest.StashKey[_TestRun]()
_GUARD = pytest.StashKey[contextlib.ExitStack]()


@pytest.fixture
def llm(request: pytest.FixtureRequest) -> Iterator[LLM]:
    """The test's LLM traffic: `llm.calls`, `llm.usage`, `llm.baseline`, `llm.sample`, ..."""
    run = request.node.stash.get(_RUN, None)
    if run is None:
        pytest.fail("pytest-llm: the llm fixture was requested outside a test", pytrace=False)
    if run.vcr:  # a pytest-recording test: its vcr fixture starts it
        hooks: _Hooks = request.config.stash[_HOOKS]
        hooks.start_vcr(request)
        yield run.handle
        return
    plan = request.node.stash.get(SAMPLES, None)
    yield _handle(run, plan.index if plan is not None else 0)


def _handle(run: _TestRun, sample: int = 0) -> LLM:
    """What the `llm` (and `vcr`) fixture gives the test: its calls so far, live."""
    from pytest_llm.calls import LLM

    recorder = run.recorder
    if recorder is None:  # an unreadable cassette: the call phase fails with its error
        return LLM(run.settings.cassette_path, [], [], sample=sample)
    return LLM(
        run.settings.cassette_path,
        recorder.calls,
        recorder.baseline,
        recorder.http,
        sample=sample,
        trail=recorder.trail,
    )
