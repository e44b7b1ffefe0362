"""The `lexical` method: shared content words, standard library only.

Each text is reduced to its content words (lower-cased, common English function words
dropped, a light suffix stemmer so "delivered" meets "delivery"). The score is the mean of two
cosines: over the content words, and over character trigrams of the same words (robust to
inflection and compound spelling). It measures vocabulary, not meaning: a paraphrase in other
words ("arrive tomorrow" / "receive within a day") scores near 0, and a contradiction that
keeps the words ("approved" / "denied") scores high.
"""

from __future__ import annotations

import math
import re
from collections import Counter

__all__ = ["lexical_score"]

_WORD = re.compile(r"\w+")
_SUFFIXES = ("ing", "edly", "ed", "es", "s", "ly")
_STOP_WORDS = """
    a an the and or but nor of to in on at for with by from as into onto about over under
    after before up out off than then so if is are was were be been being am it its this that
    these those there here i you your yours we our ours they their them he she his her him my me
    us do does did doing done have has had having will would can could should shall may might
    must just also only very too all any each some such what which who whom whose how when where
    why not no yes s t d ll m re ve don
"""
_STOP = frozenset(_STOP_WORDS.split())


def lexical_score(actual: str, expected: str) -> float:
    """Mean of the content-word and character-trigram cosines of two texts, in [0, 1]."""
    words_a, words_b = _content(actual), _content(expected)
    if not words_a and not words_b:
        return 1.0
    if not words_a or not words_b:
        return 0.0
    word_cos = _cosine(Counter(words_a), Counter(words_b))
    gram_cos = _cosine(_trigrams(words_a), _trigrams(words_b))
    return min(1.0, max(0.0, (word_cos + gram_cos) / 2))


def _content(text: str) -> list[str]:
    words = _WORD.findall(text.casefold())
    content = [w for w in words if w not in _STOP]
    # A text made only of function words ("Yes, it is.") is compared on those words.
    return [_stem(w) for w in (content or words)]


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def _trigrams(words: list[str]) -> Counter[str]:
    joined = f" {' '.join(words)} "
    return Counter(joined[i : i + 3] for i in range(len(joined) - 2))


def _cosine(a: Counter[str], b: Counter[str]) -> float:
    dot = sum(count * b[key] for key, count in a.items() if key in b)
    norm = math.sqrt(sum(v * v for v in a.values()) * sum(v * v for v in b.values()))
    return dot / norm if norm else 0.0
