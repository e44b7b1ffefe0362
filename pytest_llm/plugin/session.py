"""The state of one pytest run: loaded cassettes, the interceptor, what was used."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_llm.cassettes.cassette import Cassette, Identity, Reader, identity
from pytest_llm.checks.drift import compare_all, default_scorer
from pytest_llm.checks.prices import PriceTable, default_table
from pytest_llm.checks.samples import baseline_counts, mark_outcome
from pytest_llm.errors import display
from pytest_llm.replay.faults import FaultPlan
from pytest_llm.replay.misses import rerecord_command
from pytest_llm.replay.recorder import Recorder
from pytest_llm.replay.settings import KEY_ENV as _KEY_ENV
from pytest_llm.replay.settings import PLACEHOLDER_KEY, RecordMode, ReplayTiming, Settings
from pytest_llm.replay.transport import Interceptor
from pytest_llm.report import figures, summary, trajectory
from pytest_llm.scrub import QueryLogFilter, Scrubber

if TYPE_CHECKING:
    from pytest_llm.replay.vcr import VcrRules

_HTTP_LOGGERS = ("httpx", "httpx2")


@dataclass
class RunState:
    """Settings of the run and everything it accumulates across tests."""

    mode: RecordMode
    cassette_root: Path
    match_on: frozenset[str]
    replay_timing: ReplayTiming
    scrub_headers: list[str]
    scrub_patterns: list[str]
    strict: bool = False
    cassettes: dict[Path, Cassette] = field(default_factory=dict)
    # cassette path -> identities used by passing tests / all identities seen
    used: dict[Path, set[Identity]] = field(default_factory=dict)
    known: dict[Path, set[Identity]] = field(default_factory=dict)
    replayed: int = 0
    recorded: int = 0
    written: set[Path] = field(default_factory=set)
    # cassettes that a test which did not pass used: prune leaves them alone
    tainted: set[Path] = field(default_factory=set)
    partial: bool = False  # some tests were deselected or the run stopped early
    prices: PriceTable = field(default_factory=default_table)
    model_map: dict[str, str] = field(default_factory=dict)
    similarity_method: str | None = None
    drift_min_score: float | None = None
    # When the run started (the controller's clock under xdist): a cassette created after it
    # was created by this run, so record mode `once` goes on recording into it.
    run_started: float | None = None
    # one JSON-ready record per test that made calls (see figures.test_record)
    tests: list[dict[str, Any]] = field(default_factory=list)
    # Whether those records keep what only report files (--llm-report) show: each call's
    # answer text (2 µs of a replayed call's record) and the test's steps and tool calls
    # (3 µs a call), which the terminal summary needs only from a test that re-records.
    report_details: bool = False
    # How many of the run's tests (those collected, before any ran) use each cassette. The
    # run lets a cassette go after its last test: kept, every cassette read stays in memory
    # to the end, where the garbage collector walks it again and again (a fifth of a suite
    # of small cassettes went on those walks, at exit most of all).
    users: dict[Path, int] = field(default_factory=dict)
    _closed: set[Path] = field(default_factory=set)  # cassettes of no counted test, closed
    _interceptor: Interceptor = field(default_factory=Interceptor)
    _seen: dict[Path, int] = field(default_factory=dict)  # cassette version known covers

    def __post_init__(self) -> None:
        self.scrubber = Scrubber(self.scrub_headers, self.scrub_patterns)
        # The keys in the environment are secrets wherever they turn up, from the first call.
        self.scrubber.remember(
            value
            for name in (
                *_KEY_ENV.values(),
                "AZURE_OPENAI_API_KEY",
                "ANTHROPIC_AUTH_TOKEN",
                "GOOGLE_API_KEY",
                "AWS_SECRET_ACCESS_KEY",
                "AWS_SESSION_TOKEN",
            )
            if (value := os.environ.get(name, "")) and value != PLACEHOLDER_KEY
        )
        self._log_filter = QueryLogFilter(self.scrubber)
        for name in _HTTP_LOGGERS:
            logging.getLogger(name).addFilter(self._log_filter)

    def start(
        self,
        settings: Settings,
        faults: FaultPlan | None = None,
        *,
        sample: int | None = None,
        vcr: VcrRules | None = None,
    ) -> Recorder:
        """The recorder for a test (or one sample of it) about to run; `vcr` for a test
        written for pytest-recording (its cassettes are read in place, in either format).

        Raises CassetteError for an unreadable file.
        """
        scrubber = self.scrubber if vcr is None else self.scrubber.with_filters(vcr.filters)
        reader = None
        if vcr is not None:  # vcrpy's format and its import code: only for such tests
            from pytest_llm.cassettes import in_place

            reader = in_place.reader(scrubber, vcr.document)
        cassette = self._cassette(settings.cassette_path, reader)
        extras = [self._cassette(path.resolve(), reader) for path in vcr.extra] if vcr else []
        recorder = Recorder(
            cassette, settings, scrubber, self.prices, faults, sample, vcr=vcr, extras=extras
        )
        self._interceptor.model_map = self.model_map
        self._interceptor.install()
        self._interceptor.recorder = recorder
        return recorder

    def _cassette(self, path: Path, reader: Reader | None) -> Cassette:
        """The run's copy of the cassette at `path`, loaded on first use."""
        cassette = self.cassettes.get(path)
        if cassette is None:
            if reader is None:
                cassette = Cassette.load(path, run_started=self.run_started)
            else:
                cassette = Cassette.load(path, run_started=self.run_started, reader=reader)
            self.cassettes[path] = cassette
        return cassette

    def stop(self, recorder: Recorder) -> None:
        """A test, or one sample of it, is over: compare with its baseline, stop intercepting."""
        if recorder.drift is None and recorder.baseline and recorder.calls:
            # Scorers that ask a model (judge, embeddings) record while still intercepted.
            self.compare(recorder)
        self._interceptor.recorder = None

    def finish(self, recorder: Recorder, *, passed: bool, nodeid: str = "") -> None:
        """The test is over: stop intercepting, write what it recorded, count what it used."""
        self.stop(recorder)
        passthrough = recorder.passed_through if recorder.can_record else set()
        if recorder.calls or recorder.http or passthrough or recorder.tool_uses:
            rerecord = rerecord_command(recorder.settings.record_command)
            record = figures.test_record(
                nodeid,
                recorder.calls,
                recorder.drift,
                rerecord=rerecord,
                http=recorder.http,
                passthrough=passthrough,
                ignore=recorder.ignore_use(),
                texts=self.report_details,
            )
            # An agent test's steps and tool calls, and their drift against the baseline.
            if self.report_details or recorder.baseline:
                record.update(trajectory.record(recorder.calls, recorder.trail, recorder.baseline))
            self.tests.append(record)
        self._close([recorder], passed=passed)

    def finish_samples(
        self,
        recorders: list[Recorder],
        outcomes: dict[int, bool],
        passed: bool,
        nodeid: str,
        record: Callable[[tuple[int, int] | None], dict[str, Any]],
    ) -> None:
        """A test marked llm(samples=N) is over (`recorders` are its samples', in order).

        Each recorded interaction learns whether its sample passed; the test's record in
        the report has every sample's calls and its `samples` object, made by `record`
        from the pass rate of the previous recording (when re-recording one that had it).
        """
        self.stop(recorders[-1])
        for recorder in recorders:
            for interaction in recorder.stored:
                mark_outcome(interaction, outcomes.get(recorder.sample or 0, False))
        baseline = baseline_counts(c.interaction for r in recorders for c in r.baseline)
        calls = [call for recorder in recorders for call in recorder.calls]
        http = [request for recorder in recorders for request in recorder.http]
        passthrough = {h for r in recorders if r.can_record for h in r.passed_through}
        ignore: dict[str, bool] = {}
        for recorder in recorders:
            for path, matched in recorder.ignore_use().items():
                ignore[path] = ignore.get(path, False) or matched
        drift: list[dict[str, Any] | None] = []
        for recorder in recorders:
            entries = list(recorder.drift or [])[: len(recorder.calls)]
            drift += entries + [None] * (len(recorder.calls) - len(entries))
        rerecord = rerecord_command(recorders[0].settings.record_command)
        self.tests.append(
            figures.test_record(
                nodeid,
                calls,
                drift,
                rerecord=rerecord,
                samples=record(baseline),
                http=http,
                passthrough=passthrough,
                ignore=ignore,
                texts=self.report_details,
            )
        )
        self._close(recorders, passed=passed)

    def _close(self, recorders: list[Recorder], *, passed: bool) -> None:
        """Write what the recorders (of one cassette) recorded and count what they used."""
        cassette = recorders[0].cassette
        path = cassette.path
        for recorder in recorders:
            self.replayed += sum(1 for call in recorder.calls if call.replayed)
            self.replayed += sum(1 for request in recorder.http if request.replayed)
            # MCP requests and tool functions, as `recorded` counts them when they record.
            self.replayed += sum(1 for use in recorder.tool_uses if use.replayed)
            self.recorded += recorder.recorded
        if cassette.dirty:
            # A failed re-record keeps the old answers behind the new ones until it passes.
            cassette.save(keep_replaced=not passed)
            self.written.add(path)
        if passed:
            for recorder in recorders:
                self.used.setdefault(path, set()).update(recorder.used)
            # Walking a large cassette after every test cost more than the replays themselves.
            if self._seen.get(path) != cassette.version:
                self._seen[path] = cassette.version
                self.known.setdefault(path, set()).update(
                    identity(i) for i in cassette.interactions
                )
        else:
            self.tainted.add(path)
        self._let_go(path)

    def _let_go(self, path: Path) -> None:
        """Forget the cassette at `path` once no test left will use it.

        A cassette that no test was counted for (a pytest-recording test names its own when
        it starts) is let go after its first test and kept once a second one has used it.
        """
        left = self.users.get(path)
        if left is None:
            if path in self._closed:
                return
            self._closed.add(path)
        elif left > 1:
            self.users[path] = left - 1
            return
        else:
            self.users[path] = 0
        self.cassettes.pop(path, None)
        self._seen.pop(path, None)

    def compare(self, recorder: Recorder) -> list[dict[str, Any] | None]:
        """Drift of the test's calls against its baseline, kept on the recorder."""
        if recorder.drift is None:
            calls = list(recorder.calls)  # not the scorer's own calls
            recorder.drift = compare_all(
                calls, recorder.baseline, default_scorer(self.similarity_method)
            )
        return recorder.drift

    def unused(self) -> dict[Path, int]:
        """Per cassette used by a passing test, how many of its interactions no test used."""
        result: dict[Path, int] = {}
        for path, known in self.known.items():
            count = len(known - self.used.get(path, set()))
            if count:
                result[path] = count
        return result

    def summary_lines(self, *, verbose: bool = False) -> list[str]:
        """The terminal summary of the run's LLM traffic; empty when no test took part."""
        if not (self.replayed or self.recorded or self.known or self.tests):
            return []
        lines = summary.summary_table(self.tests, verbose=verbose)
        lines += summary.sample_lines(self.tests)
        lines += summary.drift_lines(self.tests, self.drift_min_score)
        lines += summary.stale_lines(self.tests, strict=self.strict)
        lines += summary.passthrough_lines(self.tests)
        lines += summary.ignore_lines(self.tests)
        lines += summary.model_map_lines(self.model_map, self.recorded)
        lines += trajectory.summary_lines(self.tests)
        lines.append(
            f"{self.replayed} call(s) replayed, {self.recorded} recorded, "
            f"{len(self.written)} cassette(s) written"
        )
        unused = self.unused()
        if unused:
            total = sum(unused.values())
            lines.append(
                f"{total} recorded interaction(s) were not used by any passing test"
                + (" (--llm-strict: failing the run)" if self.strict else "")
            )
            for path, count in sorted(unused.items()):
                lines.append(f"  {count} unused in {display(path)}")
            # A prompt re-recorded with new_episodes leaves its old recording here.
            lines.append("  remove them with: pytest-llm prune (after a run of the whole suite)")
        return lines

    def close(self) -> None:
        """Undo what the run changed in the process (placeholder keys are the plugin's)."""
        self._interceptor.uninstall()
        for name in _HTTP_LOGGERS:
            logging.getLogger(name).removeFilter(self._log_filter)
