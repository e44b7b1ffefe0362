"""Similarity methods: calibration on the labelled set, messages, and recorded provider methods."""

from __future__ import annotations

import base64
import json
import math
import re
import struct
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import openai
import pytest
import yaml
from fake_provider import FakeProvider
from kit import inner_file, with_keys, without_keys

from pytest_llm.checks import similarity as sim
from pytest_llm.checks.similarity import (
    CALIBRATED_KINDS,
    SimilarityError,
    SimilarityResult,
    assert_similar,
    available_methods,
    checked_method,
    core,
    default_method,
    default_min_score,
    minilm,
    session_method,
    similarity,
)
from pytest_llm.checks.similarity.lexical import lexical_score
from pytest_llm.checks.similarity.remote import JUDGE_SYSTEM_PROMPT, parse_verdict

PAIRS = yaml.safe_load((Path(__file__).parent / "similarity_pairs.yaml").read_text("utf-8"))[
    "pairs"
]
MINILM_MISSING = minilm.minilm_missing()
needs_minilm = pytest.mark.skipif(MINILM_MISSING is not None, reason=str(MINILM_MISSING))


def _scores(method: str, kind: str) -> list[tuple[float, str]]:
    return [
        (similarity(p["a"], p["b"], method=method).value, p["id"])
        for p in PAIRS
        if p["kind"] == kind
    ]


# --- calibration -----------------------------------------------------------------------------


def test_the_calibration_set_is_labelled_and_large_enough() -> None:
    kinds = [p["kind"] for p in PAIRS]
    assert set(kinds) == {"paraphrase", "reworded", "unrelated", "contradiction"}
    assert len(PAIRS) >= 40 and kinds.count("paraphrase") >= 20 and kinds.count("unrelated") >= 20
    assert len({p["id"] for p in PAIRS}) == len(PAIRS)


@pytest.mark.parametrize("method", ["lexical", pytest.param("minilm", marks=needs_minilm)], ids=str)
def test_every_paraphrase_passes_the_default_and_every_unrelated_answer_fails(method: str) -> None:
    threshold = default_min_score(method)
    for kind in CALIBRATED_KINDS[method]:
        failing = [(round(s, 3), i) for s, i in _scores(method, kind) if s < threshold]
        assert not failing, f"{kind} pairs below {method}'s default {threshold}: {failing}"
    passing = [(round(s, 3), i) for s, i in _scores(method, "unrelated") if s >= threshold]
    assert not passing, f"unrelated pairs at or above {method}'s default {threshold}: {passing}"


@pytest.mark.parametrize("method", ["lexical", pytest.param("minilm", marks=needs_minilm)], ids=str)
def test_contradictions_are_not_caught_by_a_closeness_score(method: str) -> None:
    """Documented limit: "approved" against "denied" scores high; the judge is for facts."""
    scores = dict((i, s) for s, i in _scores(method, "contradiction"))
    assert scores["refund-approved-vs-denied"] >= 0.5
    assert sum(s >= default_min_score(method) for s in scores.values()) >= len(scores) - 1


def test_lexical_misses_paraphrases_in_other_words_which_minilm_is_calibrated_for() -> None:
    assert CALIBRATED_KINDS["lexical"] == ("paraphrase",)
    reworded = _scores("lexical", "reworded")
    assert min(reworded)[0] < default_min_score("lexical")


# --- lexical ---------------------------------------------------------------------------------


def test_lexical_scores_words_not_order_case_or_inflection() -> None:
    assert lexical_score("Refund approved", "refund approved") == 1.0
    assert lexical_score("The order was delivered", "Delivery of the order") > 0.5
    assert lexical_score("Your refund was approved.", "Paris is the capital of France.") < 0.1
    assert lexical_score("", "") == 1.0
    assert lexical_score("the", "refund") == 0.0  # only function words on one side
    assert lexical_score("Yes, it is.", "Yes, it is!") == 1.0  # function words only: kept


# --- minilm ----------------------------------------------------------------------------------


@needs_minilm
def test_minilm_reproduces_the_published_sentence_transformers_similarities() -> None:
    # The values sentence-transformers' documentation prints for all-MiniLM-L6-v2.
    published = [
        ("The weather is lovely today.", "It's so sunny outside!", 0.6660),
        ("The weather is lovely today.", "He drove to the stadium.", 0.1046),
        ("It's so sunny outside!", "He drove to the stadium.", 0.1411),
        ("The new movie is awesome", "The new movie is so great", 0.8939),
        ("The cat sits outside", "The dog plays in the garden", 0.2838),
    ]
    for a, b, expected in published:
        assert minilm.minilm_score(a, b) == pytest.approx(expected, abs=5e-4), (a, b)


@needs_minilm
def test_minilm_reads_past_its_256_token_window() -> None:
    steps = " ".join(f"Step {i}: open the settings page and check option {i}." for i in range(30))
    refund = " Finally, the refund of $120 was approved and reaches your card within a week."
    address = " Finally, you can change the delivery address until the parcel ships."
    vector = minilm._model().embed(steps + refund)
    assert float(vector @ vector) == pytest.approx(1.0, abs=1e-5)
    # Cut at 256 tokens, both texts would be the same steps and score 1.0.
    assert 0.5 < minilm.minilm_score(steps + refund, steps + address) < 0.99


def test_minilm_weights_are_found_in_either_wheel_or_a_hugging_face_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(minilm, "_WHEELS", (("fake_weights_pkg", "data/minilm"),))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    assert minilm.find_weights() is None

    snapshot = tmp_path / "hub" / "models--sentence-transformers--all-MiniLM-L6-v2"
    snapshot = snapshot / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    for name in ("model.safetensors", "tokenizer.json"):
        (snapshot / name).write_bytes(b"")
    assert minilm.find_weights() == snapshot

    folder = tmp_path / "site" / "fake_weights_pkg" / "data" / "minilm"
    folder.mkdir(parents=True)
    (folder.parents[1] / "__init__.py").write_text("raise RuntimeError('never imported')\n")
    for name in ("model.safetensors", "tokenizer.json"):
        (folder / name).write_bytes(b"")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    assert minilm.find_weights() == folder


def test_without_minilm_the_default_is_lexical_and_the_message_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(core, "_minilm_missing", lambda: "numpy not installed; " + "pip ...")
    assert available_methods() == ["lexical"]
    assert default_method() == "lexical"
    with pytest.raises(AssertionError) as failure:
        assert_similar("Your package will arrive tomorrow.", "Paris is in France.")
    message = str(failure.value)
    assert "method:   lexical (the automatic default, a word-overlap fallback: " in message
    assert "minilm cannot run here (numpy not installed)" in message
    assert "pip install 'pytest-llm-replay[minilm]'" in message
    with pytest.raises(SimilarityError, match="'minilm' cannot run here: numpy not installed"):
        similarity("a b", "c d", method="minilm")
    with pytest.raises(ValueError, match="'minilm' cannot run here: numpy not installed"):
        checked_method("minilm")


# --- names, defaults, the session default ----------------------------------------------------


def test_methods_defaults_and_the_session_default() -> None:
    assert available_methods() == (["lexical"] if MINILM_MISSING else ["minilm", "lexical"])
    assert default_method() == available_methods()[0]
    assert default_min_score("lexical") == 0.32
    assert default_min_score("minilm") == 0.56
    assert default_min_score("openai:text-embedding-3-small") == 0.60
    assert default_min_score("openai:text-embedding-ada-002") == 0.85
    assert default_min_score("judge:gpt-4o-mini") == 0.5
    assert default_min_score() == default_min_score(default_method())

    with session_method("judge:claude-haiku-4-5"):
        assert default_method() == "judge:claude-haiku-4-5"
        with session_method(" lexical "):
            assert default_method() == "lexical"
            with pytest.raises(AssertionError, match=r"method:   lexical \(the session default"):
                assert_similar("refund approved", "shipping address changed")
        assert default_method() == "judge:claude-haiku-4-5"
    assert default_method() == available_methods()[0]


@pytest.mark.parametrize("name", ["cosine", "openai:", "judge:", "judge:openai:", "minilm2"])
def test_an_unknown_method_lists_the_valid_ones(name: str) -> None:
    expected = f"unknown similarity method {name!r}; valid methods: 'minilm', 'lexical', "
    for call in (
        lambda: similarity("a", "b", method=name),
        lambda: assert_similar("a", "b", method=name),
        lambda: default_min_score(name),
        lambda: checked_method(name),
    ):
        with pytest.raises(ValueError) as error:
            call()
        assert str(error.value).startswith(expected)
        assert "'openai:<embedding model>'" in str(error.value)
        assert "'judge:<model>'" in str(error.value)


# --- assert_similar --------------------------------------------------------------------------


def test_a_passing_assertion_returns_its_result() -> None:
    result = assert_similar("We've approved your refund.", "Your refund has been approved.",
                            method="lexical")  # fmt: skip
    assert isinstance(result, SimilarityResult)
    assert result.method == "lexical" and result.default_min_score == 0.32
    assert 0.9 < result.value <= 1.0 and result.reason is None
    assert similarity("same", "same", method="judge:gpt-4o-mini").value == 1.0  # no call made


def test_the_failure_message_names_method_score_threshold_and_both_texts() -> None:
    call = SimpleNamespace(text="Your order has shipped and arrives Tuesday.", index=2,
                           model="gpt-4o-mini")  # fmt: skip
    with pytest.raises(AssertionError) as failure:
        assert_similar(call, "The refund was denied.", method="lexical")
    score = lexical_score(call.text, "The refund was denied.")
    assert str(failure.value).splitlines() == [
        f"answers differ in meaning: similarity {score:.3f} < min_score 0.320 "
        "(the default for lexical)",
        "  method:                             lexical (given as method=)",
        "  actual (llm.calls[2], gpt-4o-mini): 'Your order has shipped and arrives Tuesday.'",
        "  expected:                           'The refund was denied.'",
        "  fix: if the answer is acceptable, update the expected text or lower min_score; "
        "lexical measures closeness, so for facts (a changed number, a yes turned no) use "
        "method='judge:<model>'",
    ]


def test_a_given_min_score_is_named_and_long_texts_are_shortened() -> None:
    long_answer = "Hi Sarah,\n\n" + "Your order is on its way. " * 40 + "\nBest, Alex"
    with pytest.raises(AssertionError) as failure:
        assert_similar(long_answer, long_answer + " PS", min_score=1.0, method="lexical")
    message = str(failure.value)
    assert re.search(r"similarity 0\.9+\d < min_score 1\.0+ \(given as min_score\)", message)
    assert " ... '" in message and f"Best, Alex' ({len(long_answer)} chars)" in message
    assert f"Best, Alex PS' ({len(long_answer) + 3} chars)" in message
    assert "'Hi Sarah, Your order is on its way." in message
    assert max(len(line) for line in message.splitlines()) < 560


def test_scores_that_round_alike_are_shown_with_more_digits() -> None:
    assert core._pair(0.55996, 0.56) == ("0.559960", "0.560000")
    assert core._pair(0.5599, 0.56) == ("0.5599", "0.5600")


@pytest.mark.parametrize("bad", [-0.1, 1.5, "0.5", True])
def test_min_score_must_be_a_number_in_0_1(bad: Any) -> None:
    with pytest.raises(ValueError, match=r"min_score must be a number in \[0, 1\], got "):
        assert_similar("a", "b", min_score=bad, method="lexical")


def test_texts_are_strings_or_llm_calls() -> None:
    with pytest.raises(TypeError, match=r"expected must be a string or an LLM call .*got int"):
        assert_similar("a", 3, method="lexical")
    assert similarity("", "something", method="lexical").value == 0.0


# --- the judge, through stub clients (no sockets) --------------------------------------------


class _StubOpenAI:
    """Answers chat completions with a fixed text and keeps the request."""

    def __init__(self, answer: str) -> None:
        self.sent: dict[str, Any] = {}
        message = SimpleNamespace(content=answer)
        reply = SimpleNamespace(choices=[SimpleNamespace(message=message)])

        def create(**kwargs: Any) -> Any:
            self.sent = kwargs
            return reply

        self.chat = SimpleNamespace(completions=SimpleNamespace(create=create))


class _StubAnthropic:
    def __init__(self, answer: str) -> None:
        self.sent: dict[str, Any] = {}
        reply = SimpleNamespace(content=[SimpleNamespace(type="text", text=answer)])

        def create(**kwargs: Any) -> Any:
            self.sent = kwargs
            return reply

        self.messages = SimpleNamespace(create=create)


def test_the_judge_asks_at_temperature_0_with_a_fixed_prompt_and_reports_its_reason() -> None:
    answer = '{"same_meaning": false, "score": 0.1, "reason": "approved is not denied"}'
    client = _StubOpenAI(answer)
    with pytest.raises(AssertionError) as failure:
        assert_similar("The refund was denied.", "The refund was approved.",
                       method="judge:gpt-4o-mini", client=client)  # fmt: skip
    assert client.sent["model"] == "gpt-4o-mini"
    assert client.sent["temperature"] == 0 and client.sent["seed"] == 0
    assert client.sent["response_format"] == {"type": "json_object"}
    system, user = client.sent["messages"]
    assert system == {"role": "system", "content": JUDGE_SYSTEM_PROMPT}
    assert user["content"] == (
        "EXPECTED:\n<<<\nThe refund was approved.\n>>>\n\nANSWER:\n<<<\nThe refund was denied.\n>>>"
    )
    message = str(failure.value)
    assert "similarity 0.100 < min_score 0.500 (the default for judge:gpt-4o-mini)" in message
    assert "  judge's reason: different meaning: approved is not denied" in message
    assert "  fix: if the answer is acceptable, update the expected text or lower min_score" in (
        message
    )


def test_claude_judges_go_through_the_anthropic_sdk() -> None:
    client = _StubAnthropic('```json\n{"same_meaning": true, "score": 0.95, "reason": "same"}\n```')
    result = assert_similar("ok", "fine", method="judge:claude-haiku-4-5", client=client)
    assert result == SimilarityResult(0.95, "judge:claude-haiku-4-5", 0.5, "same meaning: same")
    assert client.sent["extra_body"] == {"temperature": 0}
    assert client.sent["system"] == JUDGE_SYSTEM_PROMPT
    assert client.sent["model"] == "claude-haiku-4-5" and "seed" not in client.sent
    explicit = _StubOpenAI('{"same_meaning": true, "score": 1}')
    similarity("a", "b", method="judge:openai:claude-compatible", client=explicit)
    assert explicit.sent["model"] == "claude-compatible"


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ("[gpt-4o-mini] reply to: EXPECTED #abc123", "Expecting value"),
        ('{"same_meaning": "yes", "score": 0.9}', "same_meaning is not true or false"),
        ('{"score": 1.7, "reason": "x"}', "score 1.7 is outside [0, 1]"),
        ('{"reason": "no score"}', "no numeric score"),
        ("[1, 2]", "not a JSON object"),
    ],
)
def test_an_unreadable_judge_answer_is_an_error_that_shows_it(answer: str, problem: str) -> None:
    with pytest.raises(SimilarityError) as error:
        parse_verdict("judge:gpt-4o-mini", answer)
    message = str(error.value)
    assert message.startswith(f"judge:gpt-4o-mini: could not read the judge's answer ({problem}")
    assert 'expected one JSON object like {"same_meaning": true, "score": 0.9, ' in message
    assert message.endswith(f"got: {answer!r}")


def test_a_verdict_without_a_score_uses_its_yes_or_no() -> None:
    assert parse_verdict("judge:m", '{"same_meaning": true}').score == 1.0
    assert parse_verdict("judge:m", '{"same_meaning": false, "reason": "r"}').score == 0.0


class _StubEmbeddings:
    """Answers embeddings requests with given items and keeps the request."""

    def __init__(self, *items: Any) -> None:
        self.sent: dict[str, Any] = {}

        def create(**kwargs: Any) -> Any:
            self.sent = kwargs
            return SimpleNamespace(data=list(items))

        self.embeddings = SimpleNamespace(create=create)


def _base64(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


def test_embeddings_are_decoded_from_base64_and_matched_by_index() -> None:
    client = _StubEmbeddings(
        SimpleNamespace(index=1, embedding=_base64([0.6, 0.8, 0.0])),
        SimpleNamespace(index=0, embedding=[1.0, 0.0, 0.0]),
    )
    result = similarity("a b", "c d", method="openai:text-embedding-3-small", client=client)
    assert client.sent == {"model": "text-embedding-3-small", "input": ["a b", "c d"]}
    assert result.value == pytest.approx(0.6, abs=1e-6) and result.default_min_score == 0.6
    opposite = _StubEmbeddings(
        SimpleNamespace(index=0, embedding=[1.0, 0.0]),
        SimpleNamespace(index=1, embedding=[-1.0, 0.0]),
    )
    assert similarity("a", "b", method="openai:m", client=opposite).value == 0.0  # clipped


def test_a_provider_answer_without_two_embeddings_is_an_error() -> None:
    client = _StubEmbeddings(SimpleNamespace(index=0, embedding=[1.0]))
    with pytest.raises(SimilarityError, match="openai:m: expected 2 embeddings for the 2 texts"):
        similarity("a", "b", method="openai:m", client=client)


def test_a_missing_sdk_names_the_extra_that_installs_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openai", None)
    monkeypatch.setitem(sys.modules, "anthropic", None)
    with pytest.raises(SimilarityError) as error:
        similarity("a", "b", method="openai:text-embedding-3-small")
    assert str(error.value) == (
        "openai:text-embedding-3-small needs the openai SDK: "
        "pip install 'pytest-llm-replay[openai]'"
    )
    with pytest.raises(SimilarityError, match=r"judge:claude-haiku-4-5 needs the anthropic SDK"):
        similarity("a", "b", method="judge:claude-haiku-4-5")


# --- the core stays light ----------------------------------------------------------------------


def test_importing_similarity_loads_no_pytest_numpy_or_sdk() -> None:
    code = (
        "import sys, pytest_llm.checks.similarity as s; "
        "s.similarity('refund approved', 'approved refund', method='lexical'); "
        "print(sorted(m for m in ('pytest', 'numpy', 'openai', 'anthropic', 'tokenizers') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_package_exports_a_sorted_all() -> None:
    assert sim.__all__ == sorted(sim.__all__)
    assert all(hasattr(sim, name) for name in sim.__all__)


# --- recorded provider methods, through the plugin and the fake provider --------------------

EMBEDDING_MODEL = "text-embedding-3-small"
EMBED_PAIRS = [
    ("Your refund has been approved.", "We've approved your refund."),
    ("The store opens at 9 am.", "Mount Everest is 8,849 meters tall."),
    ("Paris is the capital of France.", "France's capital city is Paris."),
]
PROVIDER_TESTS = f"""
import json
from pytest_llm.checks.similarity import SimilarityError, assert_similar, similarity

PAIRS = {EMBED_PAIRS!r}


def keep(name, value):
    with open(os.environ["RESULTS_FILE"], "a") as out:
        out.write(json.dumps({{name: value}}) + "\\n")


def test_embeddings_with_the_users_client(llm):
    scores = [similarity(a, b, method="openai:{EMBEDDING_MODEL}", client=oa).value
              for a, b in PAIRS]
    keep("client", scores)
    assert len(llm.calls) == 3 and llm.calls[0].endpoint == "/v1/embeddings"


def test_embeddings_with_a_client_from_the_environment(llm, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", os.environ["FAKE_OPENAI_BASE_URL"])
    keep("environment", similarity(*PAIRS[0], method="openai:{EMBEDDING_MODEL}").value)


@pytest.mark.parametrize("judge", ["gpt-4o-mini", "claude-haiku-4-5"])
def test_judge(llm, judge):
    with pytest.raises(SimilarityError) as error:
        assert_similar("The refund was denied.", "The refund was approved.",
                       method="judge:" + judge, client=an if judge.startswith("claude") else oa)
    keep(judge, str(error.value))
    assert llm.calls[0].request["temperature"] == 0


def test_an_llm_call_is_compared_by_its_text(llm):
    ask("What is the refund status?")
    assert_similar(llm.calls[0], "reply to: What is the refund status?", method="lexical")
    with pytest.raises(AssertionError) as failure:
        assert_similar(llm.calls[0], "The parcel left the warehouse.", method="lexical")
    keep("call", str(failure.value).splitlines()[2])
"""


def _results(path: Path) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for line in path.read_text().splitlines():
        merged.update(json.loads(line))
    return merged


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return max(0.0, dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b)))


def test_provider_methods_are_recorded_and_replay_the_same_scores_offline(
    pytester: pytest.Pytester, inner_env: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    inner_file(pytester, PROVIDER_TESTS)
    recorded, replayed = pytester.path / "record.jsonl", pytester.path / "replay.jsonl"
    with_keys(monkeypatch)
    monkeypatch.setenv("RESULTS_FILE", str(recorded))
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=5)
    paths = [r.path for r in inner_env.requests]
    assert paths.count("/v1/embeddings") == 4 and paths.count("/v1/chat/completions") == 2
    assert paths.count("/v1/messages") == 1

    # The same vectors asked as floats: the base64 answers were decoded right.
    direct = openai.OpenAI(base_url=inner_env.openai_base_url, api_key="k")
    expected = []
    for a, b in EMBED_PAIRS:
        data = direct.embeddings.create(
            model=EMBEDDING_MODEL, input=[a, b], encoding_format="float"
        ).data
        expected.append(_cosine(data[0].embedding, data[1].embedding))
    before = _results(recorded)
    assert before["client"] == pytest.approx(expected, abs=1e-6)
    assert before["environment"] == before["client"][0]
    assert any(0.0 < s < 1.0 for s in before["client"])  # not all clipped: a real check

    for judge in ("gpt-4o-mini", "claude-haiku-4-5"):
        assert before[judge].startswith(
            f"judge:{judge}: could not read the judge's answer (Expecting value"
        )
        assert f"got: '[{judge}] reply to: EXPECTED:" in before[judge]
    assert before["call"].startswith("  actual (llm.calls[0], gpt-4o-mini): '[gpt-4o-mini] reply")

    cassette = pytester.path / "cassettes" / "test_app" / "test_judge[gpt-4o-mini].yaml"
    body = yaml.safe_load(cassette.read_text())["interactions"][0]["request"]["body"]
    assert body["temperature"] == 0 and body["seed"] == 0
    assert body["messages"][0]["content"] == JUDGE_SYSTEM_PROMPT

    inner_env.stop()
    without_keys(monkeypatch)
    monkeypatch.setenv("RESULTS_FILE", str(replayed))
    result = pytester.runpytest("--llm-block-network")
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(["7 call(s) replayed, 0 recorded, 0 cassette(s) written"])
    assert _results(replayed) == before


def test_ini_llm_similarity_is_the_default_inside_its_session_only(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini("[pytest]\nllm_similarity = lexical\n")
    pytester.makepyfile(
        """
        import pytest
        from pytest_llm import assert_similar
        from pytest_llm.checks.similarity import default_method

        def test_plain():
            assert default_method() == "lexical"

        @pytest.mark.llm
        def test_taking_part():
            assert default_method() == "lexical"
            with pytest.raises(AssertionError, match=r"lexical \\(the session default"):
                assert_similar("refund approved", "shipping address changed")
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)
    # The inner session's choice does not outlive it.
    assert default_method() == available_methods()[0]
