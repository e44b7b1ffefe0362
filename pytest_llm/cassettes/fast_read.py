"""The fast reader of the cassettes this version writes: yaml-rs, and `json` for stream events.

Their header says they are written for YAML 1.2 (every scalar that YAML 1.1 and 1.2 read
differently is quoted), so the YAML 1.2 parser of yaml-rs (Rust) reads them, and `json` their
stream events (one JSON line each) in one call, while yaml-rs parses on a thread: 1.6-3.5x
`json.load` of the same data. yaml-rs refuses aliases and duplicate keys itself; the rest is
checked on the result. Anything it cannot vouch for (a tag, a parse error, a non-text key,
deep nesting) is left to the hardened loader: `parse` then answers UNREAD.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections.abc import Callable
from itertools import chain
from typing import Any

import yaml_rs

from pytest_llm.cassettes.format import FAST_MARK, MAX_DEPTH

UNREAD = object()
_NO_ALIASES = yaml_rs.AliasLimits(max_total_replayed_events=0)


def parse(text: str) -> Any:
    """The document as yaml-rs and json read it, or UNREAD when the hardened loader must.

    The event lines of streams, the bulk of a cassette, are JSON: they are cut out and read
    by `json` in one call, and yaml-rs reads the rest, with a placeholder where each list of
    events was. Every placeholder must come back at an interaction's `response.events`, in
    order, or the file is not what this version writes.
    """
    if not text.startswith(FAST_MARK):
        return UNREAD
    nonce = secrets.token_hex(8)
    rest, blocks = _cut_events(text, nonce)
    if may_have_tag(rest):
        return UNREAD
    try:
        if blocks and len(rest) > _OVERLAP_FROM:
            # yaml-rs parses without the GIL: json reads the events meanwhile, on a
            # second core when there is one (a third off a cold load at 1,000 calls).
            parsed = _Background(yaml_rs_loads, rest)
            try:
                streams = _json_events(blocks)
                plain = plain_text(rest)
            finally:
                parsed.join()  # a fallback to the hardened loader leaves no parse running
            document = parsed.result()
        else:
            document = yaml_rs_loads(rest)
            streams = _json_events(blocks)
            plain = plain_text(rest)
    except Exception:  # a parse error, or a panic of the Rust parser (see yaml_rs_loads)
        return UNREAD
    if streams is None or not (plain or plain_data(document)):
        return UNREAD
    if blocks and not _put_events_back(document, streams, nonce):
        return UNREAD
    return document


def yaml_rs_loads(text: str) -> Any:
    """yaml-rs's reading of `text`; a panic of the Rust parser comes out as a ValueError.

    A panic is not an Exception (pyo3 derives it from BaseException). Catching it by name
    leaves every other BaseException alone: Ctrl-C, or the failure that pytest-timeout
    raises in the middle of a load, must stop the test, not send it to the slow loader.
    """
    try:
        return yaml_rs.loads(
            text,
            parse_datetime=False,
            alias_limits=_NO_ALIASES,
            duplicate_key_policy=yaml_rs.DuplicateKeyPolicy.Error,
        )
    except Exception:
        raise
    except BaseException as exc:
        if type(exc).__name__ == "PanicException":
            raise ValueError(f"yaml-rs panicked: {exc}") from exc
        raise


# Below this many characters of YAML, starting a thread costs more than the overlap saves.
_OVERLAP_FROM = 64 * 1024


class _Background:
    """`work(arg)` run on a thread; `result()` waits and returns it, or raises what it raised."""

    def __init__(self, work: Callable[[str], Any], arg: str) -> None:
        self._work, self._arg = work, arg
        self._value: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="pytest-llm-yaml", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._work(self._arg)
        except BaseException as exc:  # whatever it raised reaches the caller
            self._error = exc

    def join(self) -> None:
        self._thread.join()

    def result(self) -> Any:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value


# PyYAML writes a stream's events at this indentation: `interactions` > item > `response`.
_EVENTS_KEY = "\n    events:\n"
_EVENT_LINES = re.compile(r"(?:    - \{[^\n]*\n)+")
_EVENT_SEPARATOR = "\n    - "
# An event line with fewer opening brackets cannot nest deeper than MAX_DEPTH (its event
# is at depth 6: document, interactions, interaction, response, events, event).
_EVENT_MAX_OPENINGS = MAX_DEPTH - 6


def _cut_events(text: str, nonce: str) -> tuple[str, list[str]]:
    """The text with each run of JSON event lines replaced by a placeholder, and the runs."""
    chunks = text.split(_EVENTS_KEY)
    kept = [chunks[0]]
    blocks: list[str] = []
    for chunk in chunks[1:]:
        lines = _EVENT_LINES.match(chunk)
        if lines is None:  # written otherwise (by hand, or not JSON): YAML reads it
            kept += (_EVENTS_KEY, chunk)
            continue
        blocks.append(chunk[: lines.end()])
        kept += (f"\n    events: {nonce}-{len(blocks) - 1}\n", chunk[lines.end() :])
    return "".join(kept), blocks


def _json_events(blocks: list[str]) -> list[Any] | None:
    """Each block's events, read as JSON; None when one is not plain, shallow JSON data."""
    for block in blocks:
        if block.count("{") + block.count("[") > _EVENT_MAX_OPENINGS:
            for line in block.splitlines():
                if line.count("{") + line.count("[") > _EVENT_MAX_OPENINGS:
                    return None
    text = "],[".join(block[6:-1].replace(_EVENT_SEPARATOR, ",") for block in blocks)
    streams: list[Any] = json.loads(
        f"[[{text}]]", object_pairs_hook=_unique_keys, parse_constant=_no_constant
    )
    return streams


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    mapping = dict(pairs)
    if len(mapping) != len(pairs):
        raise ValueError("duplicate key")
    return mapping


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _put_events_back(document: Any, streams: list[Any], nonce: str) -> bool:
    """Whether every placeholder stood at an interaction's `response.events`, in order."""
    interactions = document.get("interactions") if isinstance(document, dict) else None
    if not isinstance(interactions, list):
        return False
    found = 0
    for interaction in interactions:
        response = interaction.get("response") if isinstance(interaction, dict) else None
        if isinstance(response, dict) and response.get("events") == f"{nonce}-{found}":
            response["events"] = streams[found]
            found += 1
    return found == len(streams)


def may_have_tag(text: str) -> bool:
    """Whether a `!` may start a tag, which yaml-rs would drop or obey silently.

    Wider than YAML's grammar (a `!` after a space inside a text counts): such a file only
    takes the hardened path.
    """
    at = text.find("!")
    while at != -1:
        if at == 0 or text[at - 1] in " \t\r\n[{,:":
            return True
        at = text.find("!", at + 1)
    return False


# After a line's indentation and any `- `, a document marker (`---`, `...`) or a node where
# yaml-rs may read a key that is not text: an explicit key or value (`? `, `: `), an anchor,
# a flow collection that is not empty, or a key that may be typed: one that starts as a
# number, null (`~`) or `_` does (yaml-rs reads `_1` as 1), or is null or a boolean. (The
# lookahead on the first character spares the alternatives at most lines.)
_ODD_LINE = re.compile(
    r"\n *+(?:- +)*+(?=[-+._0-9~?:&\[{nNtTfF])"
    r"(?:---|\.\.\.|[-+._0-9~][^\n]*?:[ \n]|[?:][ \n]|&|[\[{](?! *[\]}])"
    r"|(?:null|Null|NULL|true|True|TRUE|false|False|FALSE) *:[ \n])"
)
# A key's value, on its line, that is an anchor or a flow collection that is not empty.
_ODD_VALUE = re.compile(r": ++(?:&|[\[{](?! *[\]}]))")
# A line that starts with 48 characters of indentation and `- `: without flow collections and
# explicit keys, nesting MAX_DEPTH deep needs one (see plain_text).
DEEP_LINE = re.compile(r"\n[ -]{48}")


def plain_text(text: str) -> bool:
    """Whether yaml-rs's reading of `text` (without tags) surely has text keys only and is
    at most MAX_DEPTH deep, as `plain_data` would find, from the text alone.

    The keys that yaml-rs reads as something else than text all start a line (after its
    indentation and any `- `), when no flow collection holds them; they are typed, so they
    start as numbers, `~` or `_`, or are null or booleans. Without flow collections and
    explicit keys, each block collection is indented deeper than its parent's parent, so
    nesting 100 deep needs a line indented by 48 characters or more (indentation and `- `).
    False only means that the walk of `plain_data` must tell: a text scalar's line may
    look like any of these. A tab (which a parser may count as several columns), a line
    break other than `\n` and a byte order mark take the walk too.
    """
    if "\t" in text or "\r" in text or "\ufeff" in text:
        return False
    searched = "\n" + text + "\n"
    return not (
        _ODD_LINE.search(searched) or _ODD_VALUE.search(searched) or DEEP_LINE.search(searched)
    )


def plain_data(root: Any) -> bool:
    """Whether yaml-rs's `root` has text keys only and is at most MAX_DEPTH deep.

    Its scalars are JSON's already: without tags (see may_have_tag) and with
    parse_datetime off, yaml-rs makes no other kind of value. Level by level, with the
    keys of a whole level joined in one call (a TypeError at the first that is not text).
    """
    if type(root) is not dict and type(root) is not list:
        return True
    level: list[Any] = [root]
    for depth in range(1, MAX_DEPTH + 1):
        dicts: list[dict[Any, Any]] = []
        lists: list[list[Any]] = []
        for node in level:
            if type(node) is dict:
                dicts.append(node)
            else:
                lists.append(node)
        try:
            "".join(_chained(dicts))
        except TypeError:
            return False
        if depth == MAX_DEPTH and any(level):
            return False
        values = chain(_chained(d.values() for d in dicts), _chained(lists))
        level = [v for v in values if v.__class__ is dict or v.__class__ is list]
        if not level:
            return True
    return False


_chained = chain.from_iterable
