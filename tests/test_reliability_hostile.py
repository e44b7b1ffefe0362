"""Hostile and broken cassettes: one clear error, no code run, the file untouched.

The pytester runs show it end to end (the test that uses the cassette fails with the
file and line, every other test runs); hypothesis fuzzes the loader (only CassetteError,
whatever the input) and the key canonicaliser (invariant under what must not matter).
"""

from __future__ import annotations

import json
import math
import os
import random
import stat
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fake_provider import FakeProvider
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kit import inner_file, interaction

from pytest_llm.cassettes import fast_read, store
from pytest_llm.cassettes.format import FAST_MARK, MAX_CASSETTE_BYTES
from pytest_llm.errors import CassetteError
from pytest_llm.keys import DEFAULT_MATCH_ON, IGNORED_FIELDS, make_key
from pytest_llm.providers import Endpoint

CHAT = Endpoint("openai", "chat.completions")


GOOD = store.dumps(store.document([interaction("x")]))
# A valid cassette cut in the middle of a line, and at the end of one.
CUT_IN_LINE = GOOD[: GOOD.index("T00:00:00")]
CUT_AT_LINE = GOOD[: GOOD.index("  response:")]


def billion_laughs() -> str:
    lines = ["version: 1", "interactions: []", "lol0: &l0 [lol, lol, lol, lol, lol]"]
    lines += [f"lol{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 10)}]" for n in range(1, 10)]
    return "\n".join(lines) + "\n"


# name -> (text of the file, what the failure must say after "cannot use cassette <path>")
CASES: dict[str, tuple[str, str]] = {
    "cut-in-a-line": (CUT_IN_LINE, ":7: not valid cassette YAML (found unexpected end of stream)"),
    "cut-at-a-line": (CUT_AT_LINE, ":5: interaction #0: response must be a mapping, found nothing"),
    "interactions-mapping": (
        "version: 1\ninteractions:\n  first: {}\n",
        ":3: expected a mapping with an 'interactions' list*",
    ),
    "status-text": (
        GOOD.replace("status: 200", "status: '200'"),
        ":5: interaction #0: response.status must be the HTTP status (an integer), found '200'",
    ),
    "path-number": (
        GOOD.replace("path: /v1/chat/completions", "path: 42"),
        ":5: interaction #0: request.path must be the URL path (text), found int",
    ),
    "version-99": (
        GOOD.replace("version: 1", "version: 99"),
        ":3: unknown cassette format version 99 (this pytest-llm reads 1)",
    ),
    "version-true": (
        GOOD.replace("version: 1", "version: true"),
        ":3: unknown cassette format version True*",
    ),
    "python-apply": (
        "version: 1\ninteractions:\n- !!python/object/apply:os.system ['touch pwned-1']\n",
        ":3: not valid cassette YAML (could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/object/apply:os.system')",
    ),
    "python-new": (
        "version: 1\ninteractions:\n"
        "- !!python/object/new:subprocess.Popen {args: [[touch, pwned-2]]}\n",
        ":3: not valid cassette YAML (could not determine a constructor*",
    ),
    "python-name": (
        "version: 1\ninteractions: []\nhook: !!python/name:os.system\n",
        ":3: not valid cassette YAML (could not determine a constructor*",
    ),
    "python-long-tag": (
        "version: 1\ninteractions:\n"
        "- !<tag:yaml.org,2002:python/object/apply:builtins.exec> [\"open('pwned-3', 'w')\"]\n",
        ":3: not valid cassette YAML (could not determine a constructor*",
    ),
    "duplicate-key": (
        GOOD.replace("model: gpt-4o-mini\n", "model: gpt-4o-mini\n      model: gpt-4o\n", 1),
        ":14: not valid cassette YAML (duplicate key 'model' (first at line 13); YAML would "
        "silently keep only the last one)",
    ),
    "billion-laughs": (
        billion_laughs(),
        ":3: not valid cassette YAML (YAML aliases are not allowed: the value anchored at "
        "line 3 is used again*",
    ),
    "deep-nesting": (
        "version: 1\ninteractions: []\nx: " + "[" * 500 + "]" * 500 + "\n",
        ":3: not valid cassette YAML (nested deeper than 100 levels)",
    ),
    "binary-tag": (
        "version: 1\ninteractions: []\nx: !!binary aGVsbG8=\n",
        ":3: not valid cassette YAML (the tag tag:yaml.org,2002:binary is not allowed*",
    ),
}
BINARY = bytes(random.Random(7).randrange(256) for _ in range(4096))
HUGE = 100 * 1024 * 1024


def write_cases(folder: Path) -> dict[str, Path]:
    """Every hostile cassette, by case name, at the path of the test that uses it."""
    folder.mkdir(parents=True)
    paths = {name: folder / f"test_case[{name}].yaml" for name in [*CASES, "binary", "huge"]}
    for name, (text, _) in CASES.items():
        paths[name].write_text(text)
    paths["binary"].write_bytes(BINARY)
    with paths["huge"].open("wb") as handle:  # sparse: 100 MB on paper, nothing on disk
        handle.write(GOOD.encode())
        handle.truncate(HUGE)
    if hasattr(os, "mkfifo"):
        paths["fifo"] = folder / "test_case[fifo].yaml"
        os.mkfifo(paths["fifo"])
        paths["device"] = folder / "test_case[device].yaml"
        paths["device"].symlink_to("/dev/zero")
    return paths


def fingerprint(path: Path) -> tuple[Any, ...]:
    """What must not change: the bytes of a file, or the kind and target of a special one."""
    info = path.lstat()
    if stat.S_ISREG(info.st_mode):
        with path.open("rb") as handle:
            return ("file", info.st_size, handle.read(1 << 20))
    return ("special", stat.S_IFMT(info.st_mode), os.readlink(path) if path.is_symlink() else "")


@pytest.mark.parametrize("mode", ["new_episodes", "rewrite"])
def test_each_hostile_cassette_fails_its_own_test_with_the_file_and_line(
    pytester: pytest.Pytester, inner_env: FakeProvider, mode: str
) -> None:
    paths = write_cases(pytester.path / "cassettes" / "test_app")
    before = {name: fingerprint(path) for name, path in paths.items()}
    inner_file(
        pytester,
        f"""
        @pytest.mark.parametrize("name", {sorted(paths)!r})
        def test_case(llm, name):
            ask("anything")

        def test_the_session_goes_on():
            pass
        """,
    )
    started = time.monotonic()
    result = pytester.runpytest(f"--llm-record={mode}", "-p", "no:cacheprovider")
    elapsed = time.monotonic() - started
    result.assert_outcomes(passed=1, failed=len(paths))
    expected = {name: message for name, (_, message) in CASES.items()}
    expected["binary"] = ":1: not UTF-8 text"
    expected["huge"] = ": it is 100.0 MB, over the 64 MB that pytest-llm reads from one cassette"
    expected["fifo"] = expected["device"] = ": not a regular file"
    for name in paths:
        result.stdout.fnmatch_lines(
            [f"*cannot use cassette *test_case[[]{name}].yaml{expected[name]}"]
        )
    assert {name: fingerprint(path) for name, path in paths.items()} == before
    assert sorted(p.name for p in pytester.path.glob("pwned*")) == []
    assert inner_env.requests == []  # nothing was recorded over a broken file either
    assert elapsed < 30, "the 100 MB file must fail at once, not be read"


def test_a_100_mb_cassette_fails_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as handle:
        handle.truncate(HUGE)
    started = time.monotonic()
    with pytest.raises(CassetteError, match=r"huge.yaml: it is 100.0 MB, over the 64 MB"):
        store.read(path)
    assert time.monotonic() - started < 0.5
    with pytest.raises(CassetteError, match=r"over the 64 MB"):
        store.loads("x" * (MAX_CASSETTE_BYTES + 1), path)


def test_what_pytest_llm_writes_always_loads_back(tmp_path: Path) -> None:
    shared = {"role": "user", "content": "the same object twice"}
    record = interaction()
    record["request"]["body"]["messages"] = [shared, shared]  # would be an alias
    record["request"]["body"]["on"] = "yes"  # YAML 1.1 reads a bare on/yes as a boolean
    record["response"]["body"]["created"] = "2025-01-01"  # and a bare date as a datetime
    text = store.dumps(store.document([record]))
    assert "&id" not in text and "*id" not in text
    assert store.loads(text, tmp_path / "c.yaml") == [record]


# --- fuzzing -----------------------------------------------------------------------------

FUZZ = settings(
    max_examples=int(os.environ.get("LLM_FUZZ_EXAMPLES", "250")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,  # no .hypothesis folder in the project
)
YAML_CHARS = st.sampled_from(list("abc01 :-[]{}&*!|>'\"#%@`,?\n\t\\.\x00\x85\u2028\ufeff"))
# Pieces of YAML syntax, tags and scalars that resolve to types, so that random text
# often parses and reaches the constructors, where PyYAML's surprises live.
YAML_TOKENS = st.sampled_from(
    [
        "version: 1\n",
        "interactions:\n",
        "- ",
        "  ",
        "\n",
        ": ",
        ", ",
        "? ",
        "<<: ",
        "[",
        "]",
        "{",
        "}",
        "'",
        '"',
        "|\n",
        ">-\n",
        "#",
        "---\n",
        "...\n",
        "%YAML 1.1\n",
        "&a ",
        "*a",
        "!!int ",
        "!!float ",
        "!!bool ",
        "!!null ",
        "!!str ",
        "!!binary ",
        "!!timestamp ",
        "!!set ",
        "!!omap ",
        "!!pairs ",
        "!!map ",
        "!!seq ",
        "!local ",
        "!!python/object/apply:os.system ",
        "!<tag:yaml.org,2002:int> ",
        "2001-02-30",
        "2001-12-14t21:59:43.10-05:00",
        "0x",
        "0o",
        "0b",
        "1_000",
        "1:20",
        "-.inf",
        ".nan",
        "1e400",
        "9" * 5000,
        "~",
        "null",
        "true",
        "on",
        "yes",
        "0",
        "-1",
        "1.5",
        "x",
        "request",
        "response",
        "status",
        "body",
        "path",
        "events",
        "\\x",
        "\\ud800",
        "\t",
        "\x85",
    ]
)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def mutate(text: str, data: st.DataObject) -> str:
    """A few random cuts, insertions and flips of a valid cassette's text."""
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text)))
        how = data.draw(st.sampled_from(["cut", "insert", "flip", "truncate"]))
        if how == "cut":
            text = text[:at] + text[at + data.draw(st.integers(1, 20)) :]
        elif how == "insert":
            text = text[:at] + data.draw(st.text(YAML_CHARS, min_size=1, max_size=5)) + text[at:]
        elif how == "flip" and at < len(text):
            text = text[:at] + data.draw(YAML_CHARS) + text[at + 1 :]
        else:
            text = text[:at]
    return text


def only_cassette_errors(load: Callable[[], object]) -> None:
    try:
        load()
    except CassetteError as exc:
        assert str(exc).startswith("cannot use cassette ")
        assert "\n  fix: " in str(exc)


@FUZZ
@given(st.text() | st.text(YAML_CHARS) | st.lists(YAML_TOKENS, max_size=40).map("".join))
def test_the_loader_raises_only_cassette_errors_on_any_text(text: str) -> None:
    only_cassette_errors(lambda: store.loads(text, Path("fuzz.yaml")))


@FUZZ
@given(st.data())
def test_the_loader_raises_only_cassette_errors_on_damaged_cassettes(data: st.DataObject) -> None:
    records = [
        interaction(data.draw(st.text(max_size=30))) for _ in range(data.draw(st.integers(1, 3)))
    ]
    records[0]["response"]["body"]["extra"] = data.draw(json_values)
    text = store.dumps(store.document(records))
    only_cassette_errors(lambda: store.loads(mutate(text, data), Path("fuzz.yaml")))


@FUZZ
@given(st.binary(max_size=400) | st.text(YAML_CHARS).map(lambda t: t.encode("utf-8", "replace")))
def test_reading_any_bytes_raises_only_cassette_errors(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.yaml"
        path.write_bytes(raw)
        only_cassette_errors(lambda: store.read(path))


def reordered(value: Any) -> Any:
    """The same JSON value with every mapping's keys in reverse order."""
    if isinstance(value, dict):
        return {k: reordered(v) for k, v in reversed(value.items())}
    if isinstance(value, list):
        return [reordered(v) for v in value]
    return value


def as_floats(value: Any) -> Any:
    """Integral numbers written as floats (1 -> 1.0), as some JSON encoders do."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, dict):
        return {k: as_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_floats(v) for v in value]
    return value


bodies = st.fixed_dictionaries(
    {
        "model": st.sampled_from(["gpt-4o", "gpt-4o-mini", "claude-haiku-4-5"]),
        "messages": st.lists(
            st.fixed_dictionaries(
                {"role": st.sampled_from(["user", "system"]), "content": st.text(max_size=30)}
            ),
            min_size=1,
            max_size=3,
        ),
    },
    optional={
        "temperature": st.integers(0, 2) | st.floats(0, 2),
        "seed": st.integers(0, 2**31),
        "max_tokens": st.integers(1, 4096),
        "tools": st.lists(json_values, max_size=2),
        "response_format": json_values,
        "stream": st.booleans(),
    },
)


@FUZZ
@given(bodies, st.integers(0, 4), st.sampled_from([(",", ":"), (", ", ": ")]))
def test_the_key_ignores_key_order_json_whitespace_and_integral_floats(
    body: dict[str, Any], indent: int, separators: tuple[str, str]
) -> None:
    key = make_key(CHAT, body, DEFAULT_MATCH_ON)
    rewritten = json.loads(json.dumps(reordered(body), indent=indent, separators=separators))
    assert make_key(CHAT, rewritten, DEFAULT_MATCH_ON) == key
    assert make_key(CHAT, as_floats(body), DEFAULT_MATCH_ON) == key


@FUZZ
@given(bodies, st.fixed_dictionaries({}, optional={f: json_values for f in IGNORED_FIELDS}))
def test_the_key_ignores_fields_that_do_not_change_the_answer(
    body: dict[str, Any], noise: dict[str, Any]
) -> None:
    assert make_key(CHAT, {**body, **noise}, DEFAULT_MATCH_ON) == make_key(
        CHAT, body, DEFAULT_MATCH_ON
    )


@FUZZ
@given(bodies, st.text(max_size=30), st.text(max_size=30))
def test_different_prompts_give_different_keys(body: dict[str, Any], one: str, two: str) -> None:
    if one == two:
        return
    first = {**body, "messages": [*body["messages"], {"role": "user", "content": one}]}
    second = {**body, "messages": [*body["messages"], {"role": "user", "content": two}]}
    assert make_key(CHAT, first, DEFAULT_MATCH_ON) != make_key(CHAT, second, DEFAULT_MATCH_ON)


def test_integral_floats_and_ints_share_a_key_but_booleans_do_not() -> None:
    base = {"model": "m", "messages": [], "temperature": 1}
    assert make_key(CHAT, {**base, "temperature": 1.0}, DEFAULT_MATCH_ON) == make_key(
        CHAT, base, DEFAULT_MATCH_ON
    )
    assert make_key(CHAT, {**base, "temperature": True}, DEFAULT_MATCH_ON) != make_key(
        CHAT, base, DEFAULT_MATCH_ON
    )
    assert math.isclose(0.1 + 0.2, 0.3)  # non-integral floats are kept as they are
    assert make_key(CHAT, {**base, "temperature": 0.1 + 0.2}, DEFAULT_MATCH_ON) != make_key(
        CHAT, {**base, "temperature": 0.3}, DEFAULT_MATCH_ON
    )


# --- the two parsers ---------------------------------------------------------------------

# Text that YAML 1.1 and 1.2 resolve differently when written plain: octal, leading zeros,
# exponents without a dot, underscores (yaml-rs skips them), infinities, booleans.
NUMBER_LIKE = st.text(st.sampled_from(list("0189.+-_eExXoObB:inaINAfty~ ")), max_size=8)


def stored(floats: st.SearchStrategy[float]) -> st.SearchStrategy[Any]:
    """JSON data with text that is easy to misread as numbers, and the given floats."""
    return st.recursive(
        json_scalars | NUMBER_LIKE | floats,
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(st.text(max_size=8) | NUMBER_LIKE, inner, max_size=4)
        ),
        max_leaves=20,
    )


# A stream's events are JSON, which has no infinity (an event with one is read the slow way).
stream_events = st.lists(
    st.dictionaries(st.text(max_size=8), stored(st.floats(allow_nan=False, allow_infinity=False))),
    max_size=4,
)


@FUZZ
@given(stored(st.floats(allow_nan=False)), stream_events)
def test_both_parsers_read_what_pytest_llm_writes_alike(extra: Any, events: list[Any]) -> None:
    record = interaction()
    record["response"]["body"]["extra"] = extra
    if events:
        record["response"]["events"] = events
        record["response"]["final"] = {"extra": extra}
    text = store.dumps(store.document([record]))
    path = Path("c.yaml")
    # yaml-rs (YAML 1.2) and json for the event lines; it may leave a file to the hardened
    # loader (a `!` that may be a tag, an event line with many brackets), never misread it.
    fast = fast_read.parse(text)
    if fast is not fast_read.UNREAD:
        assert fast["interactions"] == [record]
    assert store.loads_hardened(text, path) == [record]  # PyYAML (YAML 1.1)
    assert store.loads(text, path) == [record]


def test_a_stream_cassette_takes_the_fast_path_and_keeps_its_events_one_per_line() -> None:
    record = interaction()
    events = [
        {"event": "delta", "data": {"text": "a\nb\u2028c\x85", "logprob": -1e-05}},
        {"event": "delta", "data": {"text": " !tag-like", "big": 10**30, "zero": -0.0}},
    ]
    record["response"]["events"] = events
    record["response"]["final"] = {"text": "a\nb\n"}
    text = store.dumps(store.document([record]))
    lines = [line for line in text.splitlines() if line.startswith("    - {")]
    assert [json.loads(line[6:]) for line in lines] == events
    assert '"logprob":-1.0e-05' in text  # YAML 1.1 reads JSON's -1e-05 as text
    assert fast_read.parse(text)["interactions"] == [record]
    assert store.loads_hardened(text, Path("c.yaml")) == [record]


def test_a_cassette_of_an_earlier_version_still_reads_as_yaml_1_1(tmp_path: Path) -> None:
    # PyYAML wrote these plain: text to YAML 1.1, numbers to a YAML 1.2 parser.
    old = store.dumps(store.document([interaction()])).replace(FAST_MARK, "# old\n")
    old = old.replace("key: ", "key: 00000000000000000008\n  old_key: ", 1)
    old = old.replace("provider: openai", "provider: 1e5")
    path = tmp_path / "old.yaml"
    path.write_text(old)
    loaded = store.read(path)
    assert loaded is not None
    assert (loaded[0]["key"], loaded[0]["provider"]) == ("00000000000000000008", "1e5")


def _big_stream_cassette() -> tuple[str, list[dict[str, Any]]]:
    """A cassette with streams, big enough that yaml-rs parses it on a thread."""
    records = []
    for n in range(200):
        record = interaction(f"prompt {n}")
        record["response"]["events"] = [{"type": "delta", "text": f"{n}-{e}"} for e in range(5)]
        record["response"]["final"] = {"text": f"answer {n}"}
        records.append(record)
    text = store.dumps(store.document(records))
    rest, _ = fast_read._cut_events(text, "nonce")
    assert len(rest) > fast_read._OVERLAP_FROM
    return text, records


def test_a_big_stream_cassette_reads_alike_when_yaml_rs_parses_on_a_thread() -> None:
    text, records = _big_stream_cassette()
    threads_before = threading.active_count()
    assert fast_read.parse(text)["interactions"] == records
    assert threading.active_count() == threads_before  # the parser thread has ended
    assert store.loads(text, Path("c.yaml")) == records
    # An event line that is not JSON: the fallback starts only once the parse has ended.
    broken = text.replace('{"type":"delta","text":"0-0"}', '{"type":"delta","text":"0-0",}')
    assert broken != text
    assert fast_read.parse(broken) is fast_read.UNREAD
    assert threading.active_count() == threads_before


@pytest.mark.parametrize(
    "edit",
    [
        "x: !!python/object/apply:os.system [touch]\n",
        "1: one\n",
        "x: &a [1]\ny: *a\n",
        "x: [unclosed\n",
        "version: 2\n",
    ],
)
def test_a_hostile_edit_of_a_big_stream_cassette_is_left_to_the_hardened_loader(
    edit: str,
) -> None:
    # The parser thread's error reaches the reader, which then takes the hardened path.
    text, _ = _big_stream_cassette()
    text = text.replace("version: 1\n", f"version: 1\n{edit}", 1)
    assert fast_read.parse(text) is fast_read.UNREAD
    with pytest.raises(CassetteError, match="not valid cassette YAML"):
        store.loads(text, Path("c.yaml"))


class PanicException(BaseException):
    """Named as pyo3 names a Rust panic, which it derives from BaseException."""


@pytest.mark.parametrize("big", [False, True], ids=["inline", "on-a-thread"])
def test_a_panic_of_yaml_rs_sends_the_file_to_the_hardened_loader_and_a_test_failure_stops_it(
    monkeypatch: pytest.MonkeyPatch, big: bool
) -> None:
    text, records = _big_stream_cassette() if big else (GOOD, [interaction("x")])

    def panics(*args: Any, **kwargs: Any) -> Any:
        raise PanicException("index out of bounds")

    monkeypatch.setattr(fast_read.yaml_rs, "loads", panics)
    assert fast_read.parse(text) is fast_read.UNREAD
    assert store.loads(text, Path("c.yaml")) == records

    def times_out(*args: Any, **kwargs: Any) -> Any:
        pytest.fail("Timeout >1.0s")  # what pytest-timeout raises in the middle of a load

    monkeypatch.setattr(fast_read.yaml_rs, "loads", times_out)
    with pytest.raises(pytest.fail.Exception, match="Timeout"):
        fast_read.parse(text)


def test_the_fast_path_leaves_tags_and_hostile_edits_to_the_hardened_loader() -> None:
    path = Path("c.yaml")
    for edit, message in [
        ("version: 1\n", "version: 1\nx: !!binary aGVsbG8=\n"),
        ("version: 1\n", "version: 1\nx: !!python/object/apply:os.system [touch]\n"),
        ("version: 1\n", "version: 1\n1: one\n"),
        ("version: 1\n", "version: 1\nx: &a [1]\ny: *a\n"),
    ]:
        text = GOOD.replace(edit, message, 1)
        assert fast_read.parse(text) is fast_read.UNREAD
        with pytest.raises(CassetteError, match="not valid cassette YAML"):
            store.loads(text, path)
