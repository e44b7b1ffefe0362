"""pytest glue: turn options, ini values and markers into validated settings.

Every bad value becomes a `pytest.UsageError` that names the setting and the valid values.
Only light modules are imported at load; a project that never uses pytest-llm pays for this
file and `settings.py`, not for the record/replay machinery.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_llm.replay.settings import (
    FAULTS,
    REPORT_FORMATS,
    RecordMode,
    ReplayTiming,
    Settings,
)

if TYPE_CHECKING:
    from pytest_llm.checks.prices import PriceTable
    from pytest_llm.keys import Step
    from pytest_llm.replay.faults import FaultRule

MARKER_ARGS = frozenset({"cassette", "record", "match_on", "ignore", "samples", "min_pass_rate"})


def usage_error(problem: str) -> pytest.UsageError:
    """A usage error in pytest-llm's words."""
    return pytest.UsageError(f"pytest-llm: {problem}")


@dataclass(frozen=True)
class RunConfig:
    """Everything the options and ini keys say, checked."""

    mode: RecordMode
    cassette_root: Path
    match_on: frozenset[str]
    replay_timing: ReplayTiming
    scrub_headers: list[str]
    scrub_patterns: list[str]
    strict: bool
    block_network: bool
    reports: list[Path]
    model_map: dict[str, str]
    drift_min_score: float | None
    similarity_method: str | None
    autouse: bool = False
    placeholder_keys: bool = True
    ignore: tuple[tuple[Step, ...], ...] = ()
    min_pass_rate: float | None = None  # --llm-min-pass-rate: overrides the markers' rates
    prices: PriceTable | None = field(default=None, repr=False)
    record_http: bool = True
    passthrough_hosts: frozenset[str] = frozenset()


def resolve(config: pytest.Config) -> RunConfig:
    """The run's settings; raises pytest.UsageError for a bad option or ini value."""
    return RunConfig(
        mode=_record_mode(config),
        cassette_root=_cassette_root(config),
        match_on=_ini_match_on(config),
        replay_timing=_replay_timing(config),
        scrub_headers=config.getini("llm_scrub_headers"),
        scrub_patterns=_patterns(config),
        strict=bool(config.getoption("llm_strict")),
        block_network=bool(config.getoption("llm_block_network")),
        reports=_reports(config),
        model_map=_model_map(config),
        drift_min_score=_drift_min_score(config),
        similarity_method=_similarity(config),
        autouse=ini_bool(config, "llm_autouse"),
        placeholder_keys=ini_bool(config, "llm_placeholder_keys"),
        min_pass_rate=_min_pass_rate(config),
        prices=_prices(config),
        ignore=_ini_ignore(config),
        record_http=ini_bool(config, "llm_record_http"),
        passthrough_hosts=frozenset(
            str(host).strip().strip("[]").lower()
            for host in config.getini("llm_passthrough_hosts")
            if str(host).strip()
        ),
    )


def ini_bool(config: pytest.Config, name: str) -> bool:
    """A boolean ini key; a value that is not one is a usage error naming the key."""
    try:
        return bool(config.getini(name))
    except (ValueError, pytest.UsageError) as exc:
        raise usage_error(
            f"ini {name}: {exc}; valid: true, false (also yes/no, on/off, 1/0)"
        ) from None


def _record_mode(config: pytest.Config) -> RecordMode:
    cli = config.getoption("llm_record")
    ini = config.getini("llm_record_mode")
    value, source = (cli, "--llm-record") if cli else (ini or "none", "ini llm_record_mode")
    try:
        return RecordMode.parse(str(value), source=source)
    except ValueError as exc:
        raise usage_error(str(exc)) from None


def _replay_timing(config: pytest.Config) -> ReplayTiming:
    value = config.getoption("llm_replay_timing") or "fast"
    try:
        return ReplayTiming(value)
    except ValueError:
        valid = ", ".join(t.value for t in ReplayTiming)
        raise usage_error(f"--llm-replay-timing: unknown value {value!r}; valid: {valid}") from None


def _reports(config: pytest.Config) -> list[Path]:
    found = []
    for value in config.getoption("llm_report"):
        path = Path(value)
        if path.suffix.lower() not in REPORT_FORMATS:
            suffix = path.suffix or "(no suffix)"
            raise usage_error(
                f"--llm-report={value}: unknown report format {suffix!r}; "
                f"valid suffixes: {', '.join(REPORT_FORMATS)}"
            )
        found.append(config.invocation_params.dir / path)
    return found


def _model_map(config: pytest.Config) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for value in config.getoption("llm_model"):
        old, sep, new = str(value).partition("=")
        if not sep or not old.strip() or not new.strip():
            raise usage_error(
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
        raise usage_error(f"--llm-drift-min-score={value}: expected a number from 0 to 1")
    return score


def _min_pass_rate(config: pytest.Config) -> float | None:
    value = config.getoption("llm_min_pass_rate")
    if value is None:
        return None
    rate = _rate(value)
    if rate is None:
        raise usage_error(
            f"--llm-min-pass-rate={value}: expected a pass rate from 0 to 1, e.g. 0.8"
        )
    return rate


def _rate(value: object) -> float | None:
    """`value` as a pass rate in [0, 1], or None when it is not one."""
    if isinstance(value, bool):
        return None
    try:
        rate = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return rate if 0.0 <= rate <= 1.0 else None


def _similarity(config: pytest.Config) -> str | None:
    value = str(config.getini("llm_similarity") or "").strip()
    if not value:
        return None
    from pytest_llm.checks import similarity

    try:
        return similarity.checked_method(value)
    except ValueError as exc:
        raise usage_error(f"ini llm_similarity: {exc}") from None


def _prices(config: pytest.Config) -> PriceTable | None:
    value = config.getini("llm_prices")
    if not value:
        return None  # the packaged table, loaded when first needed
    from pytest_llm.checks.prices import PriceFileError, load_table

    try:
        return load_table(config.rootpath / str(value))
    except PriceFileError as exc:
        raise usage_error(f"ini llm_prices: {exc}") from None


def _cassette_root(config: pytest.Config) -> Path:
    value = config.getoption("llm_cassette_dir") or config.getini("llm_cassette_dir") or "cassettes"
    return (config.rootpath / str(value)).resolve()


def _ini_match_on(config: pytest.Config) -> frozenset[str]:
    from pytest_llm.keys import DEFAULT_MATCH_ON, parse_match_on

    names = config.getini("llm_match_on")
    if not names:
        return DEFAULT_MATCH_ON
    try:
        return parse_match_on(names)
    except ValueError as exc:
        raise usage_error(f"ini llm_match_on: {exc}") from None


def _ini_ignore(config: pytest.Config) -> tuple[tuple[Step, ...], ...]:
    from pytest_llm.keys import parse_ignore

    try:
        return parse_ignore(config.getini("llm_match_ignore"))
    except ValueError as exc:
        raise usage_error(f"ini llm_match_ignore: {exc}") from None


def _patterns(config: pytest.Config) -> list[str]:
    patterns: list[str] = config.getini("llm_scrub_patterns")
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise usage_error(
                f"ini llm_scrub_patterns: {pattern!r} is not a regex ({exc})"
            ) from None
    return patterns


# --- per test --------------------------------------------------------------------------


def takes_part(item: pytest.Item, run: RunConfig) -> bool:
    """Whether a test uses pytest-llm (a marker, the fixture, or ini llm_autouse)."""
    for name in ("llm", "llm_budget", "llm_faults"):
        if item.get_closest_marker(name) is not None:
            return True
    if "llm" in getattr(item, "fixturenames", ()):
        return True
    return run.autouse


def record_command(item: pytest.Item) -> str:
    """The command that re-runs this test, as a miss message prints it."""
    invocation = item.config.invocation_params.dir
    try:
        location = os.path.relpath(item.path, invocation)
    except ValueError:  # another drive on Windows
        location = str(item.path)
    _, _, rest = item.nodeid.partition("::")
    target = f"{location}::{rest}" if rest else location
    return f"pytest {shlex.quote(target)}"


def test_settings(item: pytest.Item, run: RunConfig) -> Settings:
    """A test's settings: its llm marker over the run's options."""
    from pytest_llm.cassettes import paths
    from pytest_llm.keys import parse_ignore, parse_match_on

    marker = item.get_closest_marker("llm")
    kwargs: dict[str, Any] = dict(marker.kwargs) if marker else {}
    unknown = sorted(set(kwargs) - MARKER_ARGS)
    where = f"@pytest.mark.llm on {item.nodeid}"
    if unknown or (marker and marker.args):
        bad = ", ".join(unknown) or repr(marker.args if marker else ())
        valid = ", ".join(sorted(MARKER_ARGS))
        raise usage_error(f"{where}: unexpected argument(s) {bad}; valid keywords: {valid}")
    try:
        mode = run.mode
        if kwargs.get("record") is not None:
            mode = RecordMode.parse(str(kwargs["record"]), source=f"{where}(record=...)")
        match_on = run.match_on
        if kwargs.get("match_on") is not None:
            match_on = parse_match_on(kwargs["match_on"])
        ignore = run.ignore
        if kwargs.get("ignore") is not None:
            try:
                # Added to the ini's paths: those are the project's plumbing, these the test's.
                ignore = tuple(dict.fromkeys(ignore + parse_ignore(kwargs["ignore"])))
            except ValueError as exc:
                raise ValueError(f"{where}(ignore=...): {exc}") from None
        if kwargs.get("cassette"):
            path = paths.named_cassette(run.cassette_root, str(kwargs["cassette"]))
        else:
            # Node ids are relative to rootdir already, except for files outside it.
            path = paths.cassette_for_test(run.cassette_root, item.nodeid)
    except ValueError as exc:
        raise usage_error(f"{where}: {exc}" if where not in str(exc) else str(exc)) from None
    return Settings(
        path,
        mode,
        match_on,
        record_command(item),
        run.replay_timing,
        ignore,
        test=item.nodeid,
        record_http=run.record_http,
        passthrough_hosts=run.passthrough_hosts,
        root=item.config.rootpath,
    )


def samples(item: pytest.Item, run: RunConfig) -> tuple[int, float] | None:
    """The test's `samples=N` and the pass rate it needs (the run's option wins), checked."""
    marker = item.get_closest_marker("llm")
    kwargs = marker.kwargs if marker else {}
    count, rate = kwargs.get("samples"), kwargs.get("min_pass_rate")
    where = f"@pytest.mark.llm on {item.nodeid}"
    if count is None:
        if rate is not None:
            raise usage_error(
                f"{where}: min_pass_rate={rate!r} needs samples=N (N >= 2), "
                "e.g. @pytest.mark.llm(samples=5, min_pass_rate=0.8)"
            )
        return None
    if isinstance(count, bool) or not isinstance(count, int) or count < 2:
        raise usage_error(f"{where}: samples={count!r}; valid: a whole number of runs, 2 or more")
    needed = 1.0 if rate is None else _rate(rate)
    if needed is None:
        raise usage_error(f"{where}: min_pass_rate={rate!r}; valid: a number from 0 to 1")
    return count, needed if run.min_pass_rate is None else run.min_pass_rate


def budget(item: pytest.Item) -> dict[str, float | int] | None:
    """The test's llm_budget limits, checked."""
    marker = item.get_closest_marker("llm_budget")
    if marker is None:
        return None
    from pytest_llm.checks.budget import MARKER_LIMITS, check_limits

    where = f"@pytest.mark.llm_budget on {item.nodeid}"
    if marker.args:
        raise usage_error(f"{where}: limits are keywords, e.g. llm_budget(max_total_tokens=500)")
    try:
        return check_limits(marker.kwargs, source=where, allowed=MARKER_LIMITS)
    except ValueError as exc:
        raise usage_error(str(exc)) from None


def faults(item: pytest.Item) -> list[FaultRule]:
    """The test's llm_faults rules, closest marker first."""
    markers = list(item.iter_markers("llm_faults"))
    if not markers:
        return []
    from pytest_llm.replay.faults import parse_rule

    rules = []
    for marker in markers:
        try:
            where = f"@pytest.mark.llm_faults on {item.nodeid}"
            rules.append(parse_rule(marker.args, marker.kwargs, source=where))
        except ValueError as exc:
            raise usage_error(str(exc)) from None
    return rules


def marker_lines() -> list[str]:
    """The `markers` ini lines that `pytest --markers` shows."""
    return [
        "llm(cassette=None, record=None, match_on=None, ignore=None, samples=None, "
        "min_pass_rate=1.0): record and replay this test's LLM calls; cassette names a shared "
        "cassette; ignore lists JSON paths of the request body left out of the key; samples=N "
        "runs the body N times and passes when the share that passed reaches min_pass_rate",
        "llm_budget(max_input_tokens=None, max_output_tokens=None, max_total_tokens=None, "
        "max_cost_usd=None, max_calls=None, max_steps=None, max_tool_calls=None): fail the "
        "test when its LLM calls, its steps or the tool calls its model asked exceed these",
        "llm_faults(*faults, times=None, model=None, provider=None, at=None): make matching "
        f"LLM calls fail before cassette or provider; faults: {', '.join(FAULTS)}",
    ]
