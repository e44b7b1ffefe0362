"""pytest glue for `llm(samples=N)`: run a test once per sample, report one outcome.

Each sample is a whole setup / call / teardown, so function-scoped fixtures are fresh in
every sample while module, class and session fixtures are kept; the reports of the N runs
are folded into one report per phase, so pytest, xdist and junit see a single test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import pytest

# The protocol that runs one item without logging: pytest-rerunfailures re-runs tests
# through it too, and pytest resets the item's fixture request for such a re-run.
from _pytest.runner import runtestprotocol

from pytest_llm.checks.samples import record, verdict


@dataclass
class SamplePlan:
    """A test marked llm(samples=N): which sample runs, and how the earlier ones went."""

    total: int
    min_pass_rate: float
    index: int = 0
    outcomes: dict[int, bool] = field(default_factory=dict)
    unanswered: set[int] = field(default_factory=set)  # samples with a call not recorded
    recorders: list[Any] = field(default_factory=list)  # earlier samples' recorders

    @property
    def last(self) -> bool:
        """Whether the sample running now is the last one."""
        return self.index == self.total - 1

    def reset(self) -> None:
        """Forget a previous run of the same test."""
        self.index = 0
        self.outcomes.clear()
        self.unanswered.clear()
        self.recorders.clear()

    def passed(self) -> bool:
        """The test's verdict over the outcomes seen so far (every sample's, at the end)."""
        failures = {i: "" for i in range(self.total) if not self.outcomes.get(i, False)}
        return verdict(self.total, self.min_pass_rate, failures, unanswered=self.unanswered)[0]

    def record(self, baseline: tuple[int, int] | None) -> dict[str, Any]:
        """The JSON report's `samples` object."""
        passed = sum(1 for i in range(self.total) if self.outcomes.get(i, False))
        return record(self.total, passed, self.min_pass_rate, baseline)


SAMPLES = pytest.StashKey[SamplePlan]()


class Sampler:
    """Runs each test that has a SamplePlan once per sample."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> bool | None:
        """Run the sampled test N times and log one setup, call and teardown report."""
        plan = item.stash.get(SAMPLES, None)
        if plan is None:
            return None  # pytest's own protocol runs the test
        plan.reset()  # a plugin that re-runs tests (rerunfailures) starts over
        ihook = item.ihook
        ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        runs: list[list[pytest.TestReport]] = []
        for index in range(plan.total):
            plan.index = index
            # Between samples, teardown goes only as far as the test's parent: the test's
            # own fixtures end, its module's, class's and session's stay for the next sample.
            upto = nextitem if plan.last else cast(pytest.Item, item.parent)
            runs.append(runtestprotocol(item, log=False, nextitem=upto))
        for report in _fold(item, plan, runs):
            ihook.pytest_runtest_logreport(report=report)
        ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        return True


def _message(report: pytest.TestReport) -> str:
    """What a failed sample's report says, in short: the assertion and its explanation."""
    crash = getattr(report.longrepr, "reprcrash", None)
    message = str(getattr(crash, "message", None) or report.longreprtext)
    return message.removeprefix("Failed: ")  # pytest.fail's own prefix says nothing here


def _fold(
    item: pytest.Item, plan: SamplePlan, runs: list[list[pytest.TestReport]]
) -> list[pytest.TestReport]:
    """One report per phase from the N runs: a setup or teardown error wins, then the rate."""
    setups = [run[0] for run in runs]
    teardowns = [run[-1] for run in runs]
    calls = [run[1] for run in runs if len(run) == 3]
    broken_setup = next((r for r in setups if not r.passed), None)
    folded = [broken_setup or setups[0]]
    if broken_setup is None:
        folded.append(_call_report(item, plan, calls))
    folded.append(next((r for r in teardowns if not r.passed), teardowns[-1]))
    return folded


def _call_report(
    item: pytest.Item, plan: SamplePlan, calls: list[pytest.TestReport]
) -> pytest.TestReport:
    if all(r.skipped for r in calls):
        return calls[0]
    failures = {i: _message(r) for i, r in enumerate(calls) if not r.passed}
    ok, message = verdict(plan.total, plan.min_pass_rate, failures, unanswered=plan.unanswered)
    longrepr: str | None = None
    sections = [
        (f"{title} (sample {i})", text) for i, r in enumerate(calls) for title, text in r.sections
    ]
    if not ok:
        longrepr = message
        # The traceback of the first sample that failed on its own (a miss says it all).
        first = min(set(failures) - plan.unanswered, default=None)
        if first is not None:
            full = calls[first].longreprtext
            if full.strip() != failures[first].strip():  # more than its message
                longrepr += f"\n\nsample {first} in full:\n{full}"
    elif failures:  # passing, but not every sample did: -rP shows which
        sections.append(("pytest-llm samples", message))
    return pytest.TestReport(
        nodeid=item.nodeid,
        location=item.location,
        keywords=dict.fromkeys(item.keywords, 1),
        outcome="passed" if ok else "failed",
        longrepr=longrepr,
        when="call",
        sections=sections,
        duration=sum(r.duration for r in calls),
        start=calls[0].start,
        stop=calls[-1].stop,
        user_properties=item.user_properties,
    )
