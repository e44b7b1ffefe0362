"""The fast reader of vcrpy's YAML cassettes: yaml-rs, wherever it reads what PyYAML reads.

vcrpy writes its cassettes with PyYAML, which reads YAML 1.1; yaml-rs (Rust, ten times
faster than PyYAML's C loader on these files) reads YAML 1.2. The two read a file alike
except for some plain (unquoted) scalars, which each resolves to a type of its own: `yes`,
`off`, `017`, `1e5`, `+.5`, `1:20`, a date, `<<`. So before yaml-rs's result is used, every
plain scalar of the file that may be one of those is read by both, and must come out the
same. Bodies that vcrpy keeps as `!!binary` (gzip answers, most of them) are cut out, decoded
by `base64` as PyYAML does, and put back where vcrpy keeps bodies. The rest sends the file to
PyYAML (`parse` answers UNREAD): other tags (`!!python/...` header keys), anchors, a binary body
elsewhere or written otherwise, aliases, directives, the line breaks that YAML 1.1 has and
1.2 has not, and duplicate keys (PyYAML keeps the last, yaml-rs refuses them).

A plain scalar starts a line (after its indentation and any `- `), or follows `: `, `- `,
`? ` or a flow collection's `[`, `{` or `,`. The scan also finds such starts inside quoted
scalars, where they are harmless: a token there costs a comparison, at worst a slower load.
Only a timestamp can be of another type than text and hold a space; it starts with digits.
"""

from __future__ import annotations

import base64
import math
import re
import secrets
from typing import Any

from pytest_llm.cassettes.fast_read import DEEP_LINE, may_have_tag, plain_data, yaml_rs_loads
from pytest_llm.cassettes.fast_read import UNREAD as UNREAD

# Where a scalar starts (after `: `, `- `, `? `, a line's indentation; in a flow collection,
# after `[`, `{`, `,`), when it may not be text or starts with an indicator:
# - `token`: a plain scalar that may be typed (a digit, a sign, a dot, `_` (yaml-rs reads
#   `_1` as 1), or one of YAML 1.1's booleans, `<<`, `=`), up to the first character that
#   no typed one holds (`: ` and ` #` end a plain one; a space goes on, as in a timestamp),
#   so that a key's value is found too;
# - `odd`: an indicator, which YAML 1.1 refuses or reads as an explicit key where yaml-rs
#   may read text (`[?a]`, `{a: >}`, `a: %b`); `header`, the rest of a block scalar's
#   first line when `|` or `>` starts one.
# The text is searched with a line break in front. (The lookahead on the first character
# spares the alternatives at most starts: a third of the scan.)
_TOKEN = (
    r"(?P<token>[-+]?[._0-9](?:[^\n:#,\]}]|:(?![ \t\n]|$))*"
    r"|(?:[yY]es|YES|[nN]o|NO|[oO]n|ON|[oO]ff|OFF|<<|=)(?=[ \t]*(?:\n|$|:[ \t\n]|:$|#|[,\]}])))"
)
# Block starts, where `[` and `{` open a flow collection (the flow pass then runs too): one
# pattern per kind of start, each beginning with its literal text, which `re` finds fast (a
# third faster than one pattern for them all). A line start is a value after dashes, and so
# are the values after `: ` and `? `: a `- ` elsewhere starts no scalar that both parsers
# read (`k: [- a]`, `k: &x - a` are errors to both), so it needs no pattern of its own.
_AFTER_START = (
    r"[ \t]*+(?P<dashes>(?:-[ \t]++)*+)"
    rf"(?=[-+._0-9yYnNoO<=?|>:%@`\[{{])(?:{_TOKEN}|(?P<odd>[?|>:%@`\[{{])"
    r"(?P<header>(?=[-+0-9]*[ \t]*(?:#[^\n]*)?\n))?)"
)
_BLOCK_SCANS = (
    (re.compile("\n" + _AFTER_START), False),
    *((re.compile(re.escape(start) + _AFTER_START), True) for start in (": ", ":\t", "? ")),
)
_EMPTY = re.compile(r"[ \t]*[\]}]")
# In a flow collection, a `:` right before its end or the next item (`[a:]`, `{a:, b}`): an
# empty value to YAML 1.1, which yaml-rs may read as part of the text.
_EMPTY_VALUE = re.compile(r":[ \t]*[,\]}]")
# Flow starts, looked at only in a file with a flow collection that is not empty.
_FLOW_SCAN = re.compile(
    rf"[\[{{,][ \t]*(?=[-+._0-9yYnNoO<=?|>:%@`])(?:{_TOKEN}|(?P<odd>[?|>:%@`]))"
)
# A token either version may read as something else than text: YAML 1.1's implicit types
# (as PyYAML's patterns have them) and YAML 1.2's core schema, widened.
_TYPED = re.compile(
    "|".join(
        [
            r"[-+]?(?:[_0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)(?:[eE][-+]?[0-9_]+)?",
            r"[-+]?0[xXoObB][0-9a-fA-F_]*",
            r"[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
            r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?",
            r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:(?:[Tt]|[ \t]+).*)?",
            r"yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF|<<|=",
        ]
    )
)
# A number both read alike without asking (the ids and counts in JSON bodies are many, and
# each would be read by both once): no leading zero, underscore or exponent.
_DECIMAL = re.compile(r"[-+]?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")
# Characters that YAML 1.1 reads otherwise than 1.2 wherever they stand: the NEL, LS and PS
# line breaks, and a byte order mark.
_UNSAFE_CHARACTERS = ("\x85", "\u2028", "\u2029", "\ufeff")
# A binary body as PyYAML writes it: the tag, then a literal block of base64 lines indented
# deeper than the line that holds the tag (a pattern per indentation).
_BINARY_TAG = "!!binary |\n"
_base64_lines: dict[int, re.Pattern[str]] = {}
_SPACES = re.compile(" *")

# An anchor, whose name YAML 1.1 ends sooner than 1.2 does (`&a: b`).
_ANCHOR = re.compile(r"[\n \t\[{,:?-]&")


# token -> whether both read it as the same value (they recur: `200`, `0`, `true`, the SDK's
# version in every request's headers), up to a bound
_agreed: dict[str, bool] = {}
_AGREED_MAX = 50_000


def parse(text: str) -> Any:
    """The document as PyYAML reads it, by yaml-rs; UNREAD when that is not certain."""
    if "\r" in text:  # CR LF and CR are line breaks to both, as LF is: the scans look for LF
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.endswith(("\n...\n", "\n...")):  # the end of the one document: pydantic-ai writes it
        text = text[: text.rindex("\n...") + 1]
    if (
        text.startswith(("%", "---", "..."))
        or "\n%" in text
        or "\n---" in text
        or "\n..." in text
        or any(c in text for c in _UNSAFE_CHARACTERS)
    ):
        # A directive (`%YAML 1.1`) or a document marker, which vcrpy never writes (a node
        # after `--- ` escapes the scans below; yaml-rs reads two documents as a list, which
        # PyYAML refuses), or a line break of YAML 1.1's.
        return UNREAD
    nonce = "pytest-llm-binary-" + secrets.token_hex(8)
    blocks: list[str] = []
    if _BINARY_TAG in text:
        text = _cut_binary(text, nonce, blocks)
    if may_have_tag(text) or ("&" in text and _ANCHOR.search("\n" + text)):
        return UNREAD
    searched = "\n" + text
    flows = False
    for scan, value in _BLOCK_SCANS:
        for found in scan.finditer(searched):
            token, odd = found["token"], found["odd"]
            if odd is None:
                if not _agrees(token):
                    return UNREAD
            elif odd in "[{":  # a flow collection, unless it is empty (`[]`, `{}`)
                flows = flows or not _EMPTY.match(searched, found.end("odd"))
            elif value or found["dashes"]:
                if odd not in "|>" or found["header"] is None:
                    return UNREAD  # `|` and `>` may only start a block scalar here
            elif odd in "?|>:%":  # a line that starts with one
                return UNREAD
    if flows and _EMPTY_VALUE.search(searched):
        return UNREAD
    for found in _FLOW_SCAN.finditer(searched) if flows else ():
        if found["odd"] is not None or not _agrees(found["token"]):
            return UNREAD
    try:
        document = yaml_rs_loads(text)
        bodies = [base64.decodebytes(block.encode("ascii")) for block in blocks]
    except Exception:  # a parse error, a duplicate key, an alias, bad base64 (binascii)
        return UNREAD
    # Keys that are collections (PyYAML refuses them) and deep nesting are PyYAML's to read,
    # or refuse. Only a flow collection can be such a key here (`?` sent the file to PyYAML
    # above), and nesting MAX_DEPTH deep needs a flow collection, a tab (`-\t-\t`) or a deeply
    # indented line: without them the walk is spared. (A plain scalar key was checked above,
    # as values are: both read it alike.)
    walk = flows or "\t" in text or DEEP_LINE.search(searched) is not None
    if walk and not plain_data(document):
        return UNREAD
    if bodies and not _put_bodies_back(document, bodies, nonce):
        return UNREAD
    return document


def _agrees(token: str) -> bool:
    """Whether both read the plain scalar `token` alike (typed or not)."""
    agreed = _agreed.get(token)
    if agreed is None:
        bare = token.rstrip(" \t")
        agreed = (
            not _TYPED.fullmatch(bare) or _DECIMAL.fullmatch(bare) is not None
        ) or _same_reading(bare)
        if len(_agreed) < _AGREED_MAX:
            _agreed[token] = agreed
    return agreed


def _cut_binary(text: str, nonce: str, blocks: list[str]) -> str:
    """`text` with each binary body's tag and base64 lines replaced by a placeholder, the
    lines kept in `blocks`; a tag written otherwise is left in place (and sends the file
    to PyYAML)."""
    kept: list[str] = []
    done = 0
    at = text.find(_BINARY_TAG)
    while at != -1:
        line_start = text.rfind("\n", 0, at) + 1
        indent = _SPACES.match(text, line_start).end() - line_start  # type: ignore[union-attr]
        lines = _base64_lines.get(indent)
        if lines is None:
            lines = _base64_lines[indent] = re.compile(f"(?: {{{indent + 1},}}[A-Za-z0-9+/=]+\n)+")
        body = lines.match(text, at + len(_BINARY_TAG))
        if body is not None and "!" not in text[line_start:at]:
            kept += (text[done:at], f"{nonce}-{len(blocks)}\n")
            blocks.append(body[0])
            done = body.end()
        at = text.find(_BINARY_TAG, at + 1)
    kept.append(text[done:])
    return "".join(kept)


def _put_bodies_back(document: Any, bodies: list[bytes], nonce: str) -> bool:
    """Whether every body's placeholder stood where vcrpy keeps bodies, each once.

    Those places: a request's or response's own keys (`body`, `content`), and the keys of
    a mapping there (`body: {string: ...}`).
    """
    records = document.get("interactions") if isinstance(document, dict) else None
    if not isinstance(records, list):
        return False
    placeholders = {f"{nonce}-{n}": n for n in range(len(bodies))}
    found = 0
    for record in records:
        for part in (
            (record.get("request"), record.get("response")) if isinstance(record, dict) else ()
        ):
            for mapping in (
                (part, *(v for v in part.values() if isinstance(v, dict)))
                if isinstance(part, dict)
                else ()
            ):
                for key, value in mapping.items():
                    if type(value) is str and value in placeholders:
                        mapping[key] = bodies[placeholders.pop(value)]
                        found += 1
    return found == len(bodies)


def _same_reading(token: str) -> bool:
    """Whether PyYAML and yaml-rs read the plain scalar `token` as the same value."""
    from pytest_llm.cassettes import vcr_yaml  # PyYAML: the first typed token of a run

    try:
        theirs = vcr_yaml.value_of(token)
        ours = yaml_rs_loads("k: " + token)["k"]
    except Exception:
        return False
    if type(theirs) is not type(ours):
        return False
    if isinstance(ours, float) and math.isnan(ours):
        return math.isnan(theirs)
    return bool(theirs == ours)
