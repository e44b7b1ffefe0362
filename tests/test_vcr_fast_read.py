"""vcrpy cassettes read by yaml-rs give exactly what PyYAML gives, or go to PyYAML.

The fast reader (`cassettes/vcr_fast_read.py`) must never change what a file means: every
test here compares its result, types included, with PyYAML's reading of the same text.
"""

from __future__ import annotations

import base64
import gzip
import json
import random
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_llm.cassettes import vcr_fast_read, vcr_import, vcr_yaml
from pytest_llm.cassettes.format import MAX_DEPTH
from pytest_llm.cassettes.vcr_import import VcrImportError

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
UNREAD = vcr_fast_read.UNREAD


def pyyaml(text: str) -> Any:
    return yaml.load(text, Loader=vcr_yaml.VcrLoader)


def typed(value: Any) -> Any:
    """`value` with the type of every scalar spelled out (1, 1.0 and True differ)."""
    if isinstance(value, dict):
        return {"dict": [[typed(k), typed(v)] for k, v in value.items()]}
    if isinstance(value, list | tuple):
        return {type(value).__name__: [typed(v) for v in value]}
    return [type(value).__name__, repr(value)]


def assert_same_or_unread(text: str) -> bool:
    """The fast reading is PyYAML's, or UNREAD (also whenever PyYAML refuses the text).
    Whether it was read fast."""
    fast = vcr_fast_read.parse(text)
    try:
        expected = pyyaml(text)
    except yaml.YAMLError:
        assert fast is UNREAD, text
        return False
    if fast is UNREAD:
        return False
    assert typed(fast) == typed(expected), text
    return True


def vcrpy_files() -> list[Path]:
    found = [
        path
        for path in sorted(CORPUS.rglob("*"))
        if path.suffix in (".yaml", ".yml", ".gz") and path.is_file()
    ]
    assert len(found) > 20, f"the corpus is missing at {CORPUS}"
    return found


def test_every_corpus_cassette_reads_as_pyyaml_reads_it() -> None:
    fast = 0
    files = vcrpy_files()
    for path in files:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        fast += assert_same_or_unread(raw.decode("utf-8"))
    # Most of them are read fast: PyYAML's own tags (istr header keys) send the rest over.
    assert fast >= len(files) - 3, (fast, len(files))


def cassette(value_line: str) -> str:
    return (
        "interactions:\n"
        "- request:\n"
        "    body: null\n"
        "    headers:\n"
        f"      {value_line}\n"
        "    method: POST\n"
        "    uri: https://api.openai.com/v1/chat/completions\n"
        "  response:\n"
        "    body:\n"
        "      string: '{}'\n"
        "    status:\n"
        "      code: 200\n"
        "      message: OK\n"
        "version: 1\n"
    )


# Plain scalars that YAML 1.1 (PyYAML) and 1.2 (yaml-rs) read differently.
DIFFERENT = [
    "yes",
    "No",
    "ON",
    "off",
    "017",
    "0o17",
    "1e5",
    "1.0e5",
    "+.5",
    "1:20",
    "190:20:30.15",
    "2001-12-14",
    "2001-12-14 21:59:43.10 -5",
    "2001-12-14t21:59:43.10-05:00",
]


@pytest.mark.parametrize("token", DIFFERENT)
@pytest.mark.parametrize(
    "line",
    [
        "x-value: {t}",
        "x-list:\n      - {t}",
        "{t}: key",
        "x-flow: [a, {t}]",
        "x-spaced:   {t}  ",
        "x-flow-lines: {{\n        {t}: []}}",
        "x-block: |\n      x-after: {t}",
    ],
)
def test_a_plain_scalar_read_otherwise_by_yaml_1_2_goes_to_pyyaml(token: str, line: str) -> None:
    text = cassette(line.format(t=token))
    assert vcr_fast_read.parse(text) is UNREAD
    assert typed(vcr_import._parse(text, Path("c.yaml"))) == typed(pyyaml(text))


@pytest.mark.parametrize("token", ["yes", "017", "1:20", "2001-12-14"])
@pytest.mark.parametrize("newline", ["\r\n", "\r"], ids=["CRLF", "CR"])
def test_a_plain_scalar_read_otherwise_is_found_after_any_line_break(
    token: str, newline: str
) -> None:
    # A file written on Windows ends its lines with CR LF; the token stands at a line start.
    text = cassette(f"x-list:\n      - {token}\n      - other").replace("\n", newline)
    assert vcr_fast_read.parse(text) is UNREAD
    assert typed(vcr_import._parse(text, Path("c.yaml"))) == typed(pyyaml(text))


@pytest.mark.parametrize("newline", ["\r\n", "\r"], ids=["CRLF", "CR"])
def test_a_cassette_with_other_line_breaks_is_read_fast_as_pyyaml_reads_it(newline: str) -> None:
    text = cassette("x-list:\n      - '017'\n      - 200\n      - 'a\n        b'")
    assert assert_same_or_unread(text.replace("\n", newline))


@pytest.mark.parametrize(
    "token", ["200", "-3", "0", "1.5", "1.0e-05", "true", "False", "null", "~", "0x1F", ".inf"]
)
def test_a_plain_scalar_both_read_alike_is_read_fast(token: str) -> None:
    text = cassette(f"x-value: {token}")
    assert vcr_fast_read.parse(text) is not UNREAD
    assert assert_same_or_unread(text)


def test_quoted_look_alikes_are_text_and_read_fast() -> None:
    text = cassette("x-version:\n      - '2020-10-01'\n      - 'yes'\n      - '017'")
    assert assert_same_or_unread(text)


@pytest.mark.parametrize(
    "text",
    [
        "%YAML 1.1\n---\n" + cassette("a: b"),
        cassette("a: b\u2028c"),
        cassette("a: b\x85c"),
        cassette("a: &x b\n      c: *x"),
        cassette("a: !!str b"),
        cassette("a: b\n      a: c"),  # a duplicate key: PyYAML keeps the last
        cassette("? !!python/object/apply:multidict._multidict.istr\n      - Accept\n      : b"),
        cassette("a:\n      - [A:]"),
    ],
    ids=["directive", "LS", "NEL", "alias", "tag", "duplicate", "istr", "flow-empty-value"],
)
def test_what_yaml_rs_may_read_otherwise_goes_to_pyyaml(text: str) -> None:
    assert vcr_fast_read.parse(text) is UNREAD
    try:
        expected = typed(pyyaml(text))
    except yaml.YAMLError as exc:  # the LS: a line break to YAML 1.1, here a broken key
        with pytest.raises(VcrImportError, match="not valid YAML"):
            vcr_import._parse(text, Path("c.yaml"))
        assert "expected ':'" in str(exc)
    else:
        assert typed(vcr_import._parse(text, Path("c.yaml"))) == expected


@pytest.mark.parametrize(
    "text",
    [
        "--- [yes]\n",  # PyYAML: [True]
        "--- {interactions: [], [x]: y}\n",  # PyYAML refuses the key
        "interactions: []\n...\nversion: 1\n",  # two documents: PyYAML refuses them
        "---\ninteractions: []\n",
    ],
)
def test_a_document_marker_sends_the_file_to_pyyaml(text: str) -> None:
    assert vcr_fast_read.parse(text) is UNREAD  # a node after `--- ` escapes the scans
    try:
        expected = typed(pyyaml(text))
    except yaml.YAMLError:
        with pytest.raises(VcrImportError, match="not valid YAML"):
            vcr_import._parse(text, Path("c.yaml"))
    else:
        assert typed(vcr_import._parse(text, Path("c.yaml"))) == expected


@pytest.mark.parametrize("end", ["...\n", "..."])
def test_an_end_marker_closing_the_document_is_read_fast(end: str) -> None:
    text = cassette("x-value: '017'") + end  # as pydantic-ai's serializer writes its files
    assert assert_same_or_unread(text)


@pytest.mark.parametrize("line", ["[a, b]: c", "{a: 1}: c", "x-flow: {[a]: b}"])
def test_a_key_that_is_a_collection_goes_to_pyyaml_which_refuses_it(line: str) -> None:
    text = cassette(line)
    assert vcr_fast_read.parse(text) is UNREAD  # yaml-rs would make it a tuple or a frozenset
    with pytest.raises(VcrImportError, match=r"c.yaml:5: not valid YAML \(found unhashable key"):
        vcr_import._parse(text, Path("c.yaml"))


@pytest.mark.parametrize("key", ["200", "-3", "1.5", "true", "null", "~", "0x1F"])
def test_a_plain_scalar_key_both_read_alike_is_read_fast(key: str) -> None:
    assert assert_same_or_unread(cassette(f"{key}: value"))


def nested(levels: int) -> str:
    """`levels` nested collections in the least indentation YAML allows: a sequence at its
    key's indentation, a mapping one column deeper than its `-` (two levels a column)."""
    lines = []
    for n in range(levels // 2):
        lines += [f"{' ' * n}k{n}:", f"{' ' * n}-"]
    lines.append(" " * (levels // 2) + "end: 1")
    return "x-deep:\n" + "\n".join("       " + line for line in lines)


def depth(node: Any) -> int:
    if isinstance(node, dict | list) and node:
        children = node.values() if isinstance(node, dict) else node
        return 1 + max(depth(child) for child in children)
    return 0


@pytest.mark.parametrize("levels", [MAX_DEPTH + 2, MAX_DEPTH * 3])
def test_nesting_deeper_than_the_limit_goes_to_pyyaml(levels: int) -> None:
    text = cassette(nested(levels))
    assert depth(pyyaml(text)) > MAX_DEPTH
    assert vcr_fast_read.parse(text) is UNREAD
    compact = cassette("x-deep:\n      " + "- " * levels + "end")  # one line, all dashes
    assert depth(pyyaml(compact)) > MAX_DEPTH
    assert vcr_fast_read.parse(compact) is UNREAD


def test_shallow_nesting_is_read_fast() -> None:
    text = cassette(nested(40))
    assert 40 < depth(pyyaml(text)) < MAX_DEPTH
    assert assert_same_or_unread(text)


def binary_cassette(body: bytes, where: str = "response") -> str:
    document = {
        "interactions": [
            {
                "request": {"body": body if where == "request" else None, "method": "POST"},
                "response": {
                    "body": {"string": body if where == "response" else "{}"},
                    "headers": {"x": [body]} if where == "header" else {},
                    "status": {"code": 200, "message": "OK"},
                },
            }
        ],
        "version": 1,
    }
    return str(yaml.dump(document))


def test_binary_bodies_are_decoded_as_pyyaml_decodes_them() -> None:
    body = gzip.compress(json.dumps({"id": "chatcmpl-1", "n": list(range(300))}).encode())
    for where in ("request", "response"):
        text = binary_cassette(body, where)
        assert "!!binary |" in text
        assert assert_same_or_unread(text)
    # A binary value where vcrpy keeps no body is PyYAML's to read.
    assert vcr_fast_read.parse(binary_cassette(body, "header")) is UNREAD


def test_a_broken_binary_body_is_left_to_pyyaml_to_report() -> None:
    text = binary_cassette(b"abc").replace("YWJj", "YWJ", 1)  # base64 cut short
    with pytest.raises(yaml.YAMLError, match="base64"):
        pyyaml(text)
    assert vcr_fast_read.parse(text) is UNREAD


# Scalars that make a reader's life hard, written by PyYAML, then some of them unquoted by
# hand (as people edit cassettes).
TRICKY = st.sampled_from(
    [
        *DIFFERENT,
        "true",
        "null",
        "~",
        "",
        " ",
        "#",
        "a #b",
        "a: b",
        "- a",
        "'",
        '"',
        "\\",
        "[a]",
        "{a: 1}",
        "!x",
        "&a",
        "*a",
        "%x",
        "0",
        "00",
        "1_000",
        "0b101",
        "0x_1F",
        ".nan",
        "-.inf",
        "12345678901234567890",
        "3.63.0",
        "127.0.0.1:8080",
        "é",
        "\t",
        "a\nb",
        "a\n\nb",
        "<<",
        "=",
    ]
)
SCALARS = st.one_of(
    TRICKY,
    st.text(max_size=12),
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
    st.binary(max_size=40),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(TRICKY | st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=600, deadline=None, derandomize=True)
@given(
    headers=st.dictionaries(TRICKY | st.text(max_size=6), VALUES, max_size=4),
    body=SCALARS,
    width=st.sampled_from([12, 40, 80]),
    flow=st.sampled_from([False, None, True]),
    unquote=st.integers(min_value=0, max_value=2**32),
)
def test_any_cassette_pyyaml_writes_or_a_hand_edits(
    headers: dict[str, Any], body: Any, width: int, flow: bool | None, unquote: int
) -> None:
    document = {
        "interactions": [
            {
                "request": {"body": body, "headers": headers, "method": "POST"},
                "response": {"body": {"string": body}, "status": {"code": 200}},
            }
        ]
    }
    text = str(
        yaml.dump(
            document,
            width=width,
            default_flow_style=flow,
            allow_unicode=bool(unquote % 2),
            explicit_start=bool(unquote & 2),  # `---` (a node may follow it on its line)
            explicit_end=bool(unquote & 4),  # `...`, as pydantic-ai's serializer writes
        )
    )
    if unquote & 8:  # written on Windows
        text = text.replace("\n", "\r\n")
    assert_same_or_unread(text)
    # Hand edits: quotes taken off some scalars (which may no longer be what they were).
    rng = random.Random(unquote)
    edited = "".join(
        part if rng.random() < 0.5 else part.replace("'", "").replace('"', "")
        for part in text.splitlines(keepends=True)
    )
    assert_same_or_unread(edited)


def test_base64_of_pyyaml_is_the_standard_one() -> None:
    # PyYAML decodes binary with base64.decodebytes: the fast reader does the same.
    data = bytes(range(256)) * 3
    text = binary_cassette(data)
    fast = vcr_fast_read.parse(text)
    assert fast is not UNREAD
    assert fast["interactions"][0]["response"]["body"]["string"] == data
    assert base64.b64encode(data).decode()[:20] in text
