"""A test run once per recorded sample: its pass rate, the verdict, and what reports show.

A prompt sampled at temperature > 0 gives a distribution of answers; a test marked
`llm(samples=N, min_pass_rate=R)` runs its body once per sample and passes when the share of
samples that passed reaches R. Each recorded interaction carries `sample: i`, and, once the
test's verdict is known, `sample_passed`: whether that sample passed when it was recorded, so
a later re-recording can compare pass rates (old 5/5, new 3/5 is drift).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["baseline_counts", "mark_outcome", "passes", "rate_changed", "record", "verdict"]

# Rates are compared as counts against R * N; this absorbs the float error of R * N.
_EPSILON = 1e-9


def passes(passed: int, total: int, min_pass_rate: float) -> bool:
    """Whether `passed` of `total` samples reach `min_pass_rate` (3 of 5 reaches 0.6)."""
    return total > 0 and passed >= min_pass_rate * total - _EPSILON


def _rate(passed: int, total: int) -> float:
    return passed / total if total else 0.0


def record(
    total: int, passed: int, min_pass_rate: float, baseline: tuple[int, int] | None = None
) -> dict[str, Any]:
    """The `samples` object of the JSON report; `baseline` is (total, passed) when recorded."""
    return {
        "total": total,
        "passed": passed,
        "pass_rate": _rate(passed, total),
        "min_pass_rate": min_pass_rate,
        "baseline": None
        if baseline is None
        else {
            "total": baseline[0],
            "passed": baseline[1],
            "pass_rate": _rate(baseline[1], baseline[0]),
        },
    }


def rate_changed(samples: Mapping[str, Any] | None) -> bool:
    """Whether a test's pass rate differs from the one its baseline recording had."""
    if not samples or not samples.get("baseline"):
        return False
    return bool(abs(samples["pass_rate"] - samples["baseline"]["pass_rate"]) > _EPSILON)


def mark_outcome(interaction: dict[str, Any], passed: bool) -> None:
    """Write whether the interaction's sample passed into it, right after its `sample`."""
    entries = [(k, v) for k, v in interaction.items() if k != "sample_passed"]
    interaction.clear()
    for name, value in entries:
        interaction[name] = value
        if name == "sample":
            interaction["sample_passed"] = passed
    interaction.setdefault("sample_passed", passed)


def baseline_counts(interactions: Iterable[Mapping[str, Any]]) -> tuple[int, int] | None:
    """(samples, passed) of a previous recording, from its interactions; None when unknown."""
    outcomes: dict[int, bool] = {}
    for interaction in interactions:
        sample, passed = interaction.get("sample"), interaction.get("sample_passed")
        if isinstance(sample, int) and isinstance(passed, bool):
            outcomes[sample] = outcomes.get(sample, True) and passed
    if not outcomes:
        return None
    return len(outcomes), sum(outcomes.values())


def verdict(
    total: int,
    min_pass_rate: float,
    failures: Mapping[int, str],
    *,
    unanswered: Iterable[int] = (),
) -> tuple[bool, str]:
    """Whether the test passes, and the message that lists every failed sample.

    `failures` maps each failed sample to its assertion message; `unanswered` names the
    samples that had a call with no recording: their failure says nothing about the
    prompt, so the test fails whatever its rate.
    """
    passed = total - len(failures)
    missing = sorted(set(unanswered))
    ok = passes(passed, total, min_pass_rate) and not missing
    head = (
        f"pytest-llm: {passed}/{total} samples passed (pass rate {_rate(passed, total):.2f}, "
        f"min_pass_rate {min_pass_rate:g})"
    )
    lines = [head]
    if missing:
        names = ", ".join(map(str, missing))
        lines.append(
            f"sample(s) {names} had calls with no recording, so this rate is not the prompt's: "
            "record the missing samples with --llm-record=new_episodes"
        )
    elif not ok:
        lines[0] += ": below the pass rate this test needs"
    if failures:
        lines.append("failed samples:")
        for index in sorted(failures):
            message = failures[index].strip() or "(no message)"
            first, *rest = message.splitlines()
            lines.append(f"  sample {index}: {first}")
            lines += [f"      {line}" for line in rest]
    return ok, "\n".join(lines)
