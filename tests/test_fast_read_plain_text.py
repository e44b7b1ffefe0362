"""The fast reader's text check (`fast_read.plain_text`) spares the walk over a cassette's
objects only when the walk could not have refused them.

`plain_data` walks yaml-rs's reading of a file for keys that are not text and for nesting
deeper than MAX_DEPTH; `plain_text` tells the same from the text, before the objects exist,
and may only err on the side of the walk: whenever it answers True, the walk must too.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from kit import interaction

from pytest_llm.cassettes import fast_read, store
from pytest_llm.cassettes.format import MAX_DEPTH


def read_by_walk(text: str) -> bool:
    """What the walk says of yaml-rs's reading of `text`."""
    return fast_read.plain_data(fast_read.yaml_rs_loads(text))


def assert_never_spares_a_refusal(text: str) -> bool:
    """`plain_text` True implies the walk's True; returns `plain_text`'s answer."""
    if fast_read.may_have_tag(text):  # the reader leaves tags to the hardened loader first
        return False
    try:
        walked = read_by_walk(text)
    except Exception:  # yaml-rs refuses the file: the reader leaves it to the hardened loader
        return fast_read.plain_text(text)
    spared = fast_read.plain_text(text)
    assert walked or not spared, text
    return spared


def test_what_this_version_writes_is_vouched_for_by_its_text() -> None:
    record = interaction("question: what is 2 + 2?")
    record["request"]["body"]["tools"] = [{"type": "function", "parameters": {"a": {"b": []}}}]
    record["response"]["body"]["choices"][0]["message"]["content"] = "four\nso: 2 + 2 = 4\n- x"
    text = store.dumps(store.document([record]))
    assert fast_read.plain_text(text)
    assert read_by_walk(text)
    assert fast_read.parse(text)["interactions"] == [record]


@pytest.mark.parametrize(
    "edit",
    [
        "1: one",
        "- 1: one",
        "-1: one",
        ".5: half",
        "0x1f: hex",
        "_1: one",
        "~: none",
        "null: none",
        "NULL : none",
        "True: yes",
        "false:",
        "? 1\n: one",
        ": none",
        "&a 1: one",
        "a: {1: one}",
        "a: [{1: one}]",
        "- [1]",
        "a: &x\n  1: one",
        "--- {1: one}",
        "...",
        "a:\t1",
        "a: 1\r",
        "\ufeffa: 1",
        " " * 48 + "a",
        "- " * 24 + "a",
    ],
)
def test_a_line_that_may_hold_a_typed_key_or_go_deep_takes_the_walk(edit: str) -> None:
    text = store.dumps(store.document([interaction()])) + edit + "\n"
    assert not fast_read.plain_text(text)


@pytest.mark.parametrize(
    "edit",
    [
        "a: []",
        "a: {}",
        "a: [ ]",
        "'1': one",
        '"true": yes',
        "truth: yes",
        "nullable: no",
        "a: 1",
        "a:\n- 1\n- -1\n- .5",
        "a: b:c",
        "a: '[1]'",
        " " * 45 + "- a",
    ],
)
def test_text_keys_and_shallow_nesting_spare_the_walk(edit: str) -> None:
    text = f"{edit}\n"
    assert fast_read.plain_text(text)
    assert read_by_walk(text)


def chain(levels: int) -> str:
    """The shallowest indentation YAML allows for `levels` nested non-empty collections: a
    sequence at its key's indentation, a mapping one column deeper than its `-`."""
    lines = []
    for n in range(levels // 2):
        indent = " " * n
        lines += [f"{indent}k{n}:", f"{indent}-"]
    lines.append(" " * (levels // 2) + "end: 1")
    return "\n".join(lines) + "\n"


def depth(node: Any) -> int:
    while isinstance(node, (dict, list)) and node:
        return 1 + max(
            depth(child) for child in (node.values() if isinstance(node, dict) else node)
        )
    return 0


def test_nesting_as_deep_as_the_walk_refuses_needs_a_line_the_scan_sends_to_it() -> None:
    too_deep = chain(MAX_DEPTH + 1)
    assert depth(fast_read.yaml_rs_loads(too_deep)) > MAX_DEPTH
    assert not read_by_walk(too_deep)
    assert not fast_read.plain_text(too_deep)
    # The deepest that the scan vouches for stays within the limit.
    levels = MAX_DEPTH + 1
    while not fast_read.plain_text(chain(levels)):
        levels -= 2
    deepest = fast_read.yaml_rs_loads(chain(levels))
    assert MAX_DEPTH - 10 < depth(deepest) <= MAX_DEPTH
    assert read_by_walk(chain(levels))


def test_a_typed_key_in_a_big_cassette_still_sends_it_to_the_hardened_loader() -> None:
    # The scan runs beside the parse on a thread; the walk then finds the key.
    records = [interaction(f"prompt {n}") for n in range(300)]
    text = store.dumps(store.document(records))
    assert len(text) > fast_read._OVERLAP_FROM
    assert fast_read.parse(text)["interactions"] == records
    edited = text.replace("      model: gpt-4o-mini\n", "      model: gpt-4o-mini\n      2: x\n", 1)
    assert edited != text
    assert fast_read.parse(edited) is fast_read.UNREAD
    with pytest.raises(Exception, match="not valid cassette YAML"):
        store.loads(edited, Path("c.yaml"))


def test_a_text_that_looks_typed_takes_the_walk_and_reads_alike() -> None:
    record = interaction()
    record["request"]["body"]["messages"][0]["content"] = "Steps:\n1. open: the box\n2: close"
    text = store.dumps(store.document([record]))
    assert not fast_read.plain_text(text)  # a line of the block scalar looks like a key
    assert fast_read.parse(text)["interactions"] == [record]


# Mostly text keys, so that many documents are vouched for by their text, and each kind of
# key that yaml-rs may read as something else than text.
WORDS = st.text(alphabet="abyz_- .", min_size=1, max_size=6)
KEYS = st.one_of(
    WORDS,
    WORDS,
    st.sampled_from(
        [
            *("1", "-1", "+1", ".5", "1e3", "0x1f", "_1", "~", "null", "NULL", "True", "false"),
            *("a", "a b", "- a", "? a", ": a", "[a]", "{a: 1}", "&a", "a: b", "#", "", "é", "x1"),
        ]
    ),
    st.text(max_size=4),
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
)
LEAVES = st.one_of(KEYS, WORDS, st.text(max_size=8))


def documents(keys: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[Any, Any]]:
    nested = st.recursive(
        LEAVES,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
        max_leaves=16,
    )
    return st.dictionaries(keys, nested, min_size=1, max_size=4)


@settings(max_examples=800, deadline=None, derandomize=True)
@given(
    document=documents(KEYS) | documents(st.text(alphabet="abc", min_size=1, max_size=3)),
    indent=st.integers(min_value=2, max_value=9),
    flow=st.sampled_from([False, None, True]),
    width=st.sampled_from([10, 80]),
    unquote=st.integers(min_value=0, max_value=2**32),
)
def test_the_scan_never_spares_what_the_walk_refuses(
    document: dict[Any, Any], indent: int, flow: bool | None, width: int, unquote: int
) -> None:
    text = yaml.safe_dump(document, indent=indent, default_flow_style=flow, width=width)
    assert_never_spares_a_refusal(text)
    # Hand edits: quotes taken off, lines indented more or less.
    rng = random.Random(unquote)
    lines = text.splitlines(keepends=True)
    edited = "".join(
        line
        if rng.random() < 0.5
        else rng.choice(
            [line.replace("'", "").replace('"', ""), " " + line, line.lstrip(" "), "- " + line]
        )
        for line in lines
    )
    assert_never_spares_a_refusal(edited)
