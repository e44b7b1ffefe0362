"""Cassette files: safe and fast YAML load, readable dump, atomic and parallel-safe save.

Loading is defensive because a cassette is input that anyone can edit or break: it
never executes code (safe loaders only), reads at most MAX_CASSETTE_BYTES, refuses the
YAML features that JSON data never needs and that PyYAML handles unsafely or silently
(aliases, which make "billion laughs" bombs; duplicate keys, of which PyYAML keeps the
last; non-text keys; tags for binary, sets and timestamps), bounds nesting, and turns
every problem into one CassetteError naming the file and line.

Loading is fast for the files this version writes: their header says they are written
for YAML 1.2 (every scalar that YAML 1.1 and 1.2 read differently is quoted), so the
YAML 1.2 parser of yaml-rs (Rust) reads them, and `json` their stream events (one JSON
line each) in one call, while yaml-rs parses on a thread: 1.6-3.5x `json.load` of
the same data. yaml-rs refuses aliases and duplicate keys itself; the rest is checked
on the result. Anything it cannot vouch for
(a tag, a parse error, a non-text key, deep nesting) and every file written before goes
through the hardened PyYAML loader, which names the problem and its line; its result is
kept by `load_cache`, as it is slow. The fast reader's result is kept too, except in CI
(see `load_cache.caches_current_format`): its copy loads in about half the time.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import re
import secrets
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml
import yaml_rs

from pytest_llm.cassettes import load_cache
from pytest_llm.errors import CassetteError

FORMAT_VERSION = 1

# Far above any real recording (a long chat with big answers is tens of kB per call), and
# low enough that a runaway or hostile file fails at once instead of eating memory and time.
MAX_CASSETTE_BYTES = 64 * 1024 * 1024
# JSON bodies nest a few levels, deep JSON schemas a few dozen; the code that keys and
# replays a request recurses, so a bound keeps a hostile file from exhausting the stack.
MAX_DEPTH = 100

_RESTORE = "restore it from version control, or delete it and re-record with --llm-record=once"
_STR_TAG = "tag:yaml.org,2002:str"

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BaseDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _problem(message: str, node: yaml.Node) -> yaml.constructor.ConstructorError:
    return yaml.constructor.ConstructorError(None, None, message, node.start_mark)


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


class _Loader(_BaseLoader):  # type: ignore[valid-type,misc]
    """The safe loader, restricted to the JSON data a cassette holds."""

    def get_single_node(self) -> yaml.Node | None:
        node: yaml.Node | None = super().get_single_node()
        if node is not None:
            _check_graph(node)
        return node

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except (ArithmeticError, AttributeError, LookupError, TypeError, ValueError) as exc:
            # PyYAML lets these escape for scalars it cannot convert: `!!int x`,
            # `2001-02-30`, an int of 5000 digits.
            kind = str(node.tag).rsplit(":", 1)[-1]
            detail = "" if isinstance(exc, LookupError) else f" ({str(exc)[:80]})"
            raise _problem(f"cannot read {_shown(node)} as {kind}{detail}", node) from None


def _refuse_tag(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    raise _problem(f"the tag {node.tag} is not allowed: a cassette holds JSON data", node)


def _text(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    # An unquoted date is text in JSON; as a datetime it could not be replayed.
    return loader.construct_scalar(node)  # type: ignore[arg-type]


for _tag in ("binary", "set", "omap", "pairs"):
    _Loader.add_constructor(f"tag:yaml.org,2002:{_tag}", _refuse_tag)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _text)


def _check_graph(root: yaml.Node) -> None:
    """Refuse aliases, deep nesting, and mapping keys that are not unique text."""
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if id(node) in seen:
            # The composer hands out the anchored node again for each alias; its
            # position is the anchor's (the alias's own position is not kept).
            raise _problem(
                f"YAML aliases are not allowed: the value anchored at line {_line(node)} is "
                "used again (pytest-llm never writes anchors or aliases)",
                node,
            )
        seen.add(id(node))
        if depth > MAX_DEPTH:
            raise _problem(f"nested deeper than {MAX_DEPTH} levels", node)
        if isinstance(node, yaml.SequenceNode):
            stack.extend((child, depth + 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            first_line: dict[str, int] = {}
            for key, value in node.value:
                if not isinstance(key, yaml.ScalarNode) or key.tag != _STR_TAG:
                    raise _problem(
                        "a mapping key must be text, as in JSON; found "
                        f"{_describe(key)} (quote it if it is meant as text)",
                        key,
                    )
                if key.value in first_line:
                    raise _problem(
                        f"duplicate key {key.value!r} (first at line {first_line[key.value]}); "
                        "YAML would silently keep only the last one",
                        key,
                    )
                first_line[key.value] = _line(key)
                stack.append((value, depth + 1))


def _shown(node: yaml.Node) -> str:
    if isinstance(node, yaml.ScalarNode):
        value = str(node.value)
        return repr(value if len(value) <= 40 else value[:37] + "...")
    return "a list" if isinstance(node, yaml.SequenceNode) else "a mapping"


def _describe(node: yaml.Node) -> str:
    if isinstance(node, yaml.ScalarNode):
        kind = "merge key" if node.tag.endswith(":merge") else node.tag.rsplit(":", 1)[-1]
        return f"{kind} {_shown(node)}"
    return _shown(node)


class _Dumper(_BaseDumper):  # type: ignore[valid-type,misc]
    """Multi-line text as `|` blocks so a reviewer reads answers as plain text in a diff."""

    def ignore_aliases(self, data: Any) -> bool:
        # An object referenced twice (an event reused in an assembled message) would
        # otherwise be written as &id001 / *id001, which the loader refuses.
        return True


# Plain text that a YAML 1.2 parser may read as a number although YAML 1.1 (PyYAML) reads it
# as text: `0o17`, `0008`, `1e5`, `+.5`, `.NaN`; yaml-rs also skips underscores (`_1` is 1).
# Quoted, it is text in both. Broader than needed on purpose: a quote costs nothing.
_NUMBER_LIKE = re.compile(r"[-+]?\.?[0-9]|[-+]?\.(?:inf|nan)$", re.IGNORECASE)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar(_STR_TAG, value, style="|")
    if _NUMBER_LIKE.match(value.replace("_", "")):
        return dumper.represent_scalar(_STR_TAG, value, style="'")
    return dumper.represent_scalar(_STR_TAG, value)


_Dumper.add_representer(str, _represent_str)

# The first line also says that the file is written for YAML 1.2 (see the module's doc):
# only such files are read by the fast parser.
_FAST_MARK = (
    "# pytest-llm cassette (YAML 1.2): recorded LLM calls, replayed offline by pytest-llm.\n"
)
_HEADER = _FAST_MARK + "# Edit with care; re-record with: pytest <test> --llm-record=rewrite\n"
# Characters that JSON leaves raw but YAML reads as line breaks (NEL, U+2028/9) or refuses
# (C1 controls, DEL, the BOM and non-characters): escaped, which both languages read alike.
_YAML_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def dumps(document: dict[str, Any]) -> str:
    """The YAML text of a cassette document; a stream's events one per line."""
    if not isinstance(document.get("interactions"), list):
        return _HEADER + _yaml(document, [], "")
    nonce = secrets.token_hex(8)
    streams: list[list[Any]] = []
    interactions = [_with_placeholder(i, nonce, streams) for i in document["interactions"]]
    return _HEADER + _yaml({**document, "interactions": interactions}, streams, nonce)


def dumps_more(interactions: list[dict[str, Any]]) -> str:
    """The text that appended to a cassette's text adds `interactions` at its end.

    A cassette's `interactions` list is its last part, so the new items can follow it
    (the cassette must hold at least one interaction already: not `interactions: []`).
    """
    if not interactions:
        return ""
    nonce = secrets.token_hex(8)
    streams: list[list[Any]] = []
    return _yaml([_with_placeholder(i, nonce, streams) for i in interactions], streams, nonce)


def _yaml(data: Any, streams: list[list[Any]], nonce: str) -> str:
    # The events are swapped for unique placeholders, dumped as plain scalars, then each
    # placeholder line becomes the list of event lines: one pass, linear in the size.
    body: str = yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=1_000_000,  # never fold long lines: folding makes diffs unreadable
        default_flow_style=False,
    )
    if not streams:
        return body

    def events(match: re.Match[str]) -> str:
        indent = match.group(1)
        lines = [f"{indent}- {_event_line(e)}" for e in streams[int(match.group(2))]]
        return f"{indent}events:\n" + "\n".join(lines)

    placeholder = re.compile(rf"^( *)events: pytest-llm-events-{nonce}-(\d+)$", re.M)
    return placeholder.sub(events, body)


def _with_placeholder(interaction: Any, nonce: str, streams: list[list[Any]]) -> Any:
    response = interaction.get("response") if isinstance(interaction, dict) else None
    if not isinstance(response, dict):
        return interaction
    events = response.get("events")
    if not isinstance(events, list) or not events:
        return interaction
    streams.append(events)
    placeholder = f"pytest-llm-events-{nonce}-{len(streams) - 1}"
    return {**interaction, "response": {**response, "events": placeholder}}


def _event_line(event: Any) -> str:
    """One stream event on one line: compact JSON, which YAML also reads as a flow mapping."""
    try:
        line = json.dumps(event, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError, RecursionError):  # NaN or infinity: not JSON
        line = ""
    if line and not _SURROGATE.search(line):
        if _exponent_floats(event):
            # JSON's `1e-05` is text to YAML 1.1 (PyYAML): `1.0e-05` is a float to both.
            line = _JSON_TOKEN.sub(_dotted, line)
        return _YAML_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", line)
    flow: str = yaml.dump(
        event,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=1_000_000,
        default_flow_style=True,
    )
    return flow.rstrip("\n").removesuffix("\n...").rstrip("\n")


# A JSON string (left as it is), or a number written with an exponent and no dot.
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?')


def _dotted(match: re.Match[str]) -> str:
    number = match.group()
    if match.group(1) is not None or match.group(2) is None:  # text, a dot, or an integer
        return number
    exponent = match.group(2)
    return f"{number[: -len(exponent)]}.0{exponent}"


def _exponent_floats(value: Any) -> bool:
    """Whether a float in `value` is one that JSON writes with an exponent (1e-05)."""
    if isinstance(value, float):
        return "e" in repr(value)
    if isinstance(value, dict):
        return any(_exponent_floats(v) for v in value.values())
    if isinstance(value, list):
        return any(_exponent_floats(v) for v in value)
    return False


def _too_big(path: Path, size: int) -> CassetteError:
    return CassetteError(
        path,
        f"it is {size / 1_048_576:.1f} MB, over the {MAX_CASSETTE_BYTES // 1_048_576} MB "
        "that pytest-llm reads from one cassette",
        fix="this is not a recording pytest-llm wrote: check what produced it, and " + _RESTORE,
    )


def _parse(text: str, path: Path) -> tuple[Any, dict[str, int]]:
    """The document, and the lines of its parts that later checks name (`version`, `#0`...)."""
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            return (loader.construct_document(node), _lines(node)) if node else (None, {})
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or str(exc).splitlines()[0]
        line = mark.line + 1 if mark is not None else None
    except yaml.reader.ReaderError as exc:  # control characters, before any mark exists
        character = exc.character
        shown = f"U+{character:04X}" if isinstance(character, int) else repr(character)
        problem = f"the character {shown} is not allowed in YAML"
        line = text[: exc.position].count("\n") + 1
    except yaml.YAMLError as exc:
        problem, line = str(exc).splitlines()[0], None
    except RecursionError:  # the pure-Python parser, when libyaml is not installed
        problem, line = f"nested deeper than {MAX_DEPTH} levels", None
    except Exception as exc:  # a last net: any other loader failure is still the file's
        problem, line = f"{type(exc).__name__}: {exc}", None
    raise CassetteError(path, f"not valid cassette YAML ({problem})", line=line, fix=_RESTORE)


def _lines(root: yaml.Node) -> dict[str, int]:
    lines: dict[str, int] = {}
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            lines[key.value] = _line(value)
            if key.value == "interactions" and isinstance(value, yaml.SequenceNode):
                lines |= {f"#{n}": _line(item) for n, item in enumerate(value.value)}
    return lines


def loads(text: str, path: Path) -> list[dict[str, Any]]:
    """The interactions of a cassette's text; CassetteError for anything unexpected."""
    if len(text) > MAX_CASSETTE_BYTES:  # characters: at most as many as bytes
        raise _too_big(path, len(text))
    document = _fast_parse(text)
    if document is _UNREAD:
        return _loads_hardened(text, path)
    return _interactions(document, text, path, None)


def _loads_hardened(text: str, path: Path) -> list[dict[str, Any]]:
    if len(text) > MAX_CASSETTE_BYTES:
        raise _too_big(path, len(text))
    document, lines = _parse(text, path)
    return _interactions(document, text, path, lines)


_UNREAD = object()
_NO_ALIASES = yaml_rs.AliasLimits(max_total_replayed_events=0)


def _fast_parse(text: str) -> Any:
    """The document as yaml-rs and json read it, or _UNREAD when the hardened loader must.

    The event lines of streams, the bulk of a cassette, are JSON: they are cut out and read
    by `json` in one call, and yaml-rs reads the rest, with a placeholder where each list of
    events was. Every placeholder must come back at an interaction's `response.events`, in
    order, or the file is not what this version writes.
    """
    if not text.startswith(_FAST_MARK):
        return _UNREAD
    nonce = secrets.token_hex(8)
    rest, blocks = _cut_events(text, nonce)
    if _may_have_tag(rest):
        return _UNREAD
    try:
        if blocks and len(rest) > _OVERLAP_FROM:
            # yaml-rs parses without the GIL: json reads the events meanwhile, on a
            # second core when there is one (a third off a cold load at 1,000 calls).
            parsed = _Background(_yaml_rs, rest)
            try:
                streams = _json_events(blocks)
            finally:
                parsed.join()  # a fallback to the hardened loader leaves no parse running
            document = parsed.result()
        else:
            document = _yaml_rs(rest)
            streams = _json_events(blocks)
    except Exception:  # a parse error, or a panic of the Rust parser (see _yaml_rs)
        return _UNREAD
    if streams is None or not _plain_data(document):
        return _UNREAD
    if blocks and not _put_events_back(document, streams, nonce):
        return _UNREAD
    return document


def _yaml_rs(text: str) -> Any:
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


def _may_have_tag(text: str) -> bool:
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


def _plain_data(root: Any) -> bool:
    """Whether yaml-rs's `root` has text keys only and is at most MAX_DEPTH deep.

    Its scalars are JSON's already: without tags (see _may_have_tag) and with
    parse_datetime off, yaml-rs makes no other kind of value.
    """
    level = [root]
    for depth in range(1, MAX_DEPTH + 1):
        deeper: list[Any] = []
        add = deeper.append
        for node in level:
            if type(node) is dict:
                try:
                    "".join(node)  # C speed: a TypeError at the first key that is not text
                except TypeError:
                    return False
                children: Any = node.values()
            elif type(node) is list:
                children = node
            else:
                continue
            if depth == MAX_DEPTH and node:
                return False
            for child in children:
                kind = type(child)
                if kind is dict or kind is list:
                    add(child)
        if not deeper:
            return True
        level = deeper
    return False


def _interactions(
    document: Any, text: str, path: Path, lines: dict[str, int] | None
) -> list[dict[str, Any]]:
    """The checked interactions of a parsed document (`lines` None: found when needed)."""

    def line(part: str) -> int | None:
        nonlocal lines
        if lines is None:  # read by yaml-rs, which keeps no lines: an error is rare
            try:
                lines = _parse(text, path)[1]
            except CassetteError:
                lines = {}
        return lines.get(part)

    if document is None:
        return []
    if not isinstance(document, dict) or not isinstance(document.get("interactions", []), list):
        raise CassetteError(
            path,
            "expected a mapping with an 'interactions' list",
            line=line("interactions"),
            fix="for a vcrpy / pytest-recording cassette, convert it with: pytest-llm import FILE",
        )
    version = document.get("version")
    if type(version) is not int or version != FORMAT_VERSION:  # `true == 1` in Python
        raise CassetteError(
            path,
            f"unknown cassette format version {version!r} (this pytest-llm reads {FORMAT_VERSION})",
            line=line("version"),
            fix="upgrade pytest-llm, or re-record the cassette",
        )
    interactions: list[dict[str, Any]] = document.get("interactions") or []
    for number, interaction in enumerate(interactions):
        problem = _check_interaction(interaction)
        if problem:
            raise CassetteError(
                path,
                f"interaction #{number}: {problem}",
                line=line(f"#{number}"),
                fix=_RESTORE,
            )
    return interactions


_NUMBER = (int, float)


def _is_number(value: Any) -> bool:
    return isinstance(value, _NUMBER) and not isinstance(value, bool)


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "text", bool: "a boolean"}.get(
        type(value), "nothing" if value is None else type(value).__name__
    )


def _check_interaction(interaction: Any) -> str:
    """What the replay path would trip over in one interaction ("" when nothing)."""
    if not isinstance(interaction, dict):
        return f"expected a mapping, found {_kind(interaction)}"
    request, response = interaction.get("request"), interaction.get("response")
    if not isinstance(request, dict):
        return f"request must be a mapping, found {_kind(request)}"
    plain = interaction.get("provider") == "http"  # a tool or an image: bodies may be text
    problem = _check_plain_request(request) if plain else _check_llm_request(request)
    if problem:
        return problem
    if not isinstance(response, dict):
        return f"response must be a mapping, found {_kind(response)}"
    status = response.get("status")
    if type(status) is not int:
        return f"response.status must be the HTTP status (an integer), found {status!r}"
    for part, parts in (("request", request), ("response", response)):
        if not isinstance(parts.get("headers") or {}, dict):
            return f"{part}.headers must be a mapping"
        for field in ("text", "base64") if plain else ():
            if not isinstance(parts.get(field, ""), str):
                return f"{part}.{field} must be text"
    if "events" in response and not plain:
        events = response["events"]
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            return "response.events must be a list of mappings (one per stream event)"
        if "final" not in response:
            return "response.final is missing (the message assembled from the events)"
    if not isinstance(response.get("text", ""), str):
        return "response.text must be text"
    for field in ("latency_s", "ttft_s"):
        value = interaction.get(field)
        if value is not None and not _is_number(value):
            return f"{field} must be a number of seconds, found {value!r}"
    for field in ("key", "test", "provider", "model", "served_model", "recorded_at"):
        value = interaction.get(field)
        if value is not None and not isinstance(value, str):
            return f"{field} must be text, found {value!r}"
    return ""


def _check_llm_request(request: dict[str, Any]) -> str:
    if not isinstance(request.get("path"), str):
        return f"request.path must be the URL path (text), found {_kind(request.get('path'))}"
    if not isinstance(request.get("body"), dict):
        return "request.body must be the decoded JSON request (a mapping)"
    if not isinstance(request.get("query", ""), str):
        return "request.query must be text"
    return ""


def _check_plain_request(request: dict[str, Any]) -> str:
    for field in ("method", "url"):
        if not isinstance(request.get(field), str):
            return f"request.{field} must be text, found {_kind(request.get(field))}"
    return ""


@contextlib.contextmanager
def _without_collection() -> Iterator[None]:
    """Pause the cyclic garbage collector while a cassette is turned into objects.

    A load makes hundreds of thousands of dicts and lists and no cycle, and each batch of
    new containers triggers a collection, which walks the whole heap: in a process that
    already holds a few cassettes (a test session), these walks took two thirds of a cold
    load (0.58 s of a 1,000-stream cassette against 0.21 s paused).

    Resumed as it is, the collector would walk every container of the load at the next
    allocation (a seventh of a cold load at 1,000 calls), and again as they age. They are
    long-lived, so they go to the oldest generation at once: freeze then unfreeze moves
    them there without a walk. Skipped when the process froze objects itself (a forking
    server), whose frozen set unfreeze would release.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        if gc.get_freeze_count() == 0:
            gc.freeze()
            gc.unfreeze()
        gc.enable()


def read(path: Path) -> list[dict[str, Any]] | None:
    """The interactions stored at `path`, or None when there is no file."""
    with _without_collection():
        return _read(path)


def _read(path: Path) -> list[dict[str, Any]] | None:
    try:
        raw = _read_bounded(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CassetteError(path, f"cannot read it ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CassetteError(path, "not UTF-8 text", line=line, fix=_RESTORE) from None
    if len(text) > MAX_CASSETTE_BYTES:
        raise _too_big(path, len(text))
    if text.startswith(_FAST_MARK) and load_cache.caches_current_format():
        # Read fast (or hardened) once per version of the file; later runs load the
        # checked JSON copy, in about half the time.
        return load_cache.cached(raw, lambda: loads(text, path))
    document = _fast_parse(text)
    if document is not _UNREAD:
        return _interactions(document, text, path, None)
    # The hardened loader runs once per version of the file: later runs load a checked
    # JSON copy (load_cache).
    return load_cache.cached(raw, lambda: _loads_hardened(text, path))


def _read_bounded(path: Path) -> bytes:
    # O_NONBLOCK: opening a FIFO planted as a cassette must not hang the run.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):  # a device such as /dev/zero never ends
            raise CassetteError(path, "not a regular file", fix=_RESTORE)
        if info.st_size > MAX_CASSETTE_BYTES:
            raise _too_big(path, info.st_size)
        raw = handle.read(MAX_CASSETTE_BYTES + 1)  # the file may have grown since fstat
    if len(raw) > MAX_CASSETTE_BYTES:
        raise _too_big(path, len(raw))
    return raw


def document(interactions: list[dict[str, Any]]) -> dict[str, Any]:
    """The cassette document that holds `interactions`."""
    return {"version": FORMAT_VERSION, "interactions": interactions}


Signature = tuple[int, int, int]


def signature(path: Path) -> Signature | None:
    """What changes whenever the file is replaced or written (None: no such file)."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_ino, info.st_size, info.st_mtime_ns


def is_current_format(raw: bytes) -> bool:
    """Whether `raw` was written by this version's writer (so more can be appended to it)."""
    return raw.startswith(_FAST_MARK.encode()) and raw.endswith(b"\n")


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


_TEMP_SUFFIX = ".tmp"


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` so that readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=_TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _sync_directory(path.parent)


def _sync_directory(directory: Path) -> None:
    # The rename lives in the directory: without this a power cut could bring back the
    # old file (or none) even though the new one was complete. Not possible on Windows.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def remove_stale_temps(path: Path) -> list[Path]:
    """Delete the temporary files that killed writers of `path` left; the paths removed.

    Only safe under `locked(path.parent)`: every pytest-llm writer of a cassette holds that
    lock from before it creates its temporary file until after it renames it, so a
    temporary file seen under the lock belongs to a writer that died.
    """
    pattern = re.compile(re.escape(_temp_prefix(path)) + r"[A-Za-z0-9_]+" + re.escape(_TEMP_SUFFIX))
    removed: list[Path] = []
    with contextlib.suppress(OSError):  # a missing directory has nothing to clean
        for entry in path.parent.iterdir():
            if pattern.fullmatch(entry.name) and entry.is_file():
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
                    removed.append(entry)
    return removed


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Serialise writers of one cassette directory across processes (pytest-xdist workers).

    Locking the directory itself leaves no lock files behind in the user's tree. The
    kernel drops the lock of a killed process, so a crash never leaves it held.
    """
    directory.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows: atomic replace still avoids torn files
        yield
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
