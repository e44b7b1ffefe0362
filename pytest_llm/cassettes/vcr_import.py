"""Convert vcrpy / pytest-recording cassettes of OpenAI and Anthropic traffic into pytest-llm ones.

vcrpy files come in many dialects: bodies as plain strings, as `!!binary` gzip, as
pre-decoded `parsed_body` mappings (pydantic-ai), pretty-printed (OpenTelemetry), the
old httpx layout (`content:` / `status_code:`), header keys tagged with Python classes, and
headers that no longer describe the body they sit on. Each interaction is decoded to what
the recorder would have seen on the wire and stored exactly as the recorder stores it, so
the plugin replays it under the key a live call of the same request computes.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pytest_llm.cassettes import vcr_fast_read
from pytest_llm.cassettes.cassetter_format import (
    CassetterFormatError,
    is_cassetter,
    parse_toml,
    to_vcrpy,
)
from pytest_llm.cassettes.interaction import Exchange, sdk_version, to_interaction
from pytest_llm.cassettes.plain_http import PlainExchange, encode_body, to_plain_interaction
from pytest_llm.errors import display
from pytest_llm.keys import DEFAULT_MATCH_ON, make_key
from pytest_llm.providers import recognize
from pytest_llm.providers.sse import looks_like_sse, parse_sse
from pytest_llm.scrub import Scrubber

__all__ = ["ImportResult", "VcrImportError", "convert", "import_file", "output_name"]

_GZIP_MAGIC = b"\x1f\x8b"


class VcrImportError(Exception):
    """A file that cannot be imported; the message names the file, the line where known, the fix."""

    def __init__(self, path: Path, problem: str, *, line: int | None = None, fix: str = "") -> None:
        self.path = path
        self.line = line
        self.problem = problem
        where = f"{display(path)}:{line}" if line is not None else display(path)
        message = f"cannot import {where}: {problem}"
        if fix:
            message += f"\n  fix: {fix}"
        super().__init__(message)


@dataclass
class ImportResult:
    """The pytest-llm interactions of one imported file, and what was left out."""

    source: Path
    interactions: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def output_name(source: Path) -> str:
    """The file name an imported cassette gets: the source's, as `.yaml` unless it was YAML."""
    name = source.name.removesuffix(".gz")
    if name.endswith((".yaml", ".yml")):
        return name
    stem = Path(name).stem if Path(name).suffix else name
    return stem + ".yaml"


def import_file(
    path: Path,
    scrubber: Scrubber | None = None,
    *,
    undated: datetime | None = None,
    raw: bytes | None = None,
) -> ImportResult:
    """Read a vcrpy / pytest-recording cassette and convert its OpenAI and Anthropic calls.

    `undated` is the recording time of interactions whose answer has no Date header
    (default: now); reading a file in place passes its modification time, so that every
    read gives each interaction the same identity. `raw`: the file's bytes, read already.
    """
    if raw is None:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise VcrImportError(path, f"cannot read it ({exc.strerror})") from None
    if raw.startswith(_GZIP_MAGIC):  # langchain keeps whole cassettes as .yaml.gz
        try:
            raw = _gunzip(raw)
        except (OSError, EOFError) as exc:
            raise VcrImportError(path, f"a gzip file that does not decompress ({exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise VcrImportError(
            path, "not UTF-8 text, so not a vcrpy cassette", line=line, fix=_FIX_FORMAT
        ) from None
    return convert(_parse(text, path), path, scrubber or Scrubber(), text=text, undated=undated)


_FIX_FORMAT = (
    "pass a vcrpy / pytest-recording cassette (YAML with an 'interactions' list, "
    "each with a request and a response)"
)


def _parse(text: str, path: Path) -> Any:
    if path.suffix == ".toml":  # cassetter's other format
        try:
            return parse_toml(text)
        except CassetterFormatError as exc:
            raise VcrImportError(
                path, str(exc), fix="restore the file from version control"
            ) from None
    if text.lstrip().startswith("{"):
        try:
            return json.loads(text)  # vcrpy's json serializer, or a test-agent JSON file
        except ValueError:
            pass  # YAML flow style also starts with "{": let the YAML parser say what is wrong
    document = vcr_fast_read.parse(text)
    if document is not vcr_fast_read.UNREAD:
        return document
    from pytest_llm.cassettes import vcr_yaml  # PyYAML: only for the files that need it

    try:
        return vcr_yaml.load(text)
    except vcr_yaml.Unreadable as exc:
        raise VcrImportError(
            path,
            f"not valid YAML ({exc.problem})",
            line=exc.line,
            fix="restore the file from version control",
        ) from None


def _records(document: Any, path: Path) -> list[Any]:
    """The request/response records of a document, in any of the layouts we read."""
    if isinstance(document, dict):
        interactions = document.get("interactions")
        if isinstance(interactions, list):
            if interactions and all(_is_pytest_llm(i) for i in interactions):
                raise VcrImportError(
                    path,
                    ALREADY_PYTEST_LLM,
                    fix="use it as it is, e.g. pytest-llm show " + display(path),
                )
            return interactions
        requests, responses = document.get("requests"), document.get("responses")
        if isinstance(requests, list) and isinstance(responses, list):
            # vcrpy's internal form (langchain dumps it as is): two parallel lists.
            if len(requests) != len(responses):
                raise VcrImportError(
                    path,
                    f"{len(requests)} requests but {len(responses)} responses",
                    fix="restore the file from version control",
                )
            return [{"request": q, "response": r} for q, r in zip(requests, responses, strict=True)]
        if isinstance(document.get("request"), dict) and isinstance(document.get("response"), dict):
            return [document]  # one exchange per file (ddapm-test-agent)
    found = "an empty file" if document is None else _describe(document)
    raise VcrImportError(
        path,
        f"not a vcrpy cassette: expected an 'interactions' list, found {found}",
        fix=_FIX_FORMAT,
    )


def _describe(document: Any) -> str:
    if isinstance(document, dict):
        keys = ", ".join(repr(str(k)) for k in list(document)[:5])
        return f"a mapping with keys {keys}" if keys else "an empty mapping"
    return f"a {type(document).__name__}"


ALREADY_PYTEST_LLM = "this is already a pytest-llm cassette"


def _is_pytest_llm(interaction: Any) -> bool:
    return (
        isinstance(interaction, dict)
        and "key" in interaction
        and isinstance(interaction.get("request"), dict)
        and "path" in interaction["request"]
    )


def convert(
    document: Any,
    path: Path,
    scrubber: Scrubber | None = None,
    *,
    text: str | None = None,
    undated: datetime | None = None,
) -> ImportResult:
    """Convert a loaded vcrpy document; `path` names the source in errors and skips."""
    scrubber = scrubber or Scrubber()
    result = ImportResult(path)
    previous: datetime | None = None
    for number, record in enumerate(_records(document, path)):
        try:
            converted = _convert_one(record, scrubber)
        except (_Problem, CassetterFormatError) as exc:
            raise VcrImportError(
                path,
                f"interaction #{number}: {exc}",
                line=_interaction_line(text, number),
                fix="fix or remove that interaction, or re-record it",
            ) from None
        if isinstance(converted, str):
            result.skipped.append(f"interaction #{number}: {converted}")
            continue
        interaction, when = converted
        # Unique, ordered recording times: retries recorded in the same second stay distinct.
        when = when or previous or undated or datetime.now(UTC)
        if previous is not None and when <= previous:
            when = previous + timedelta(microseconds=1)
        previous = when
        interaction["recorded_at"] = when.isoformat(timespec="microseconds")
        result.interactions.append(interaction)
    return result


class _Problem(Exception):
    """Why one interaction cannot be converted (wrapped with the file and line by `convert`)."""


def _interaction_line(text: str | None, number: int) -> int | None:
    if text is None:
        return None
    from pytest_llm.cassettes import vcr_yaml  # only for an error message

    return vcr_yaml.interaction_line(text, number)


def _convert_one(record: Any, scrubber: Scrubber) -> tuple[dict[str, Any], datetime | None] | str:
    """The interaction and its recording time, or why it is not an LLM call (a str)."""
    if is_cassetter(record):
        record = to_vcrpy(record)
    if not isinstance(record, dict):
        raise _Problem(f"expected a mapping with request and response, found {_describe(record)}")
    request, response = record.get("request"), record.get("response")
    if not isinstance(request, dict):
        raise _Problem("the request is missing")
    if not isinstance(response, dict):
        raise _Problem("the response is missing")
    method = str(request.get("method") or "").upper()
    uri = request.get("uri", request.get("url"))
    if not isinstance(uri, str) or not uri:
        raise _Problem("the request has no uri")
    url = urlsplit(uri)
    request_headers = _header_pairs(request.get("headers"))
    body = _request_body(request, request_headers)
    endpoint = recognize(method, url.path, body)
    if endpoint is None or not isinstance(body, dict):
        return _convert_plain(method or "GET", uri, request, response, scrubber)

    response_headers = _header_pairs(response.get("headers"))
    status = _status(response)
    answer = _answer(response, response_headers)
    secrets = scrubber.secrets_in(request_headers, url.query)
    if "body" in answer:
        answer["body"] = scrubber.body(answer["body"], secrets)
    if "events" in answer:
        answer["events"] = scrubber.body(answer["events"], secrets)
    if "text" in answer:
        answer["text"] = scrubber.text(answer["text"], secrets)
    kept_response_headers = scrubber.headers(_fix_content_type(response_headers, answer), secrets)
    request_body: dict[str, Any] = scrubber.body(body, secrets)
    exchange = Exchange(
        endpoint=endpoint,
        # The recorder keys a call on its scrubbed body, with the full key stored in files.
        key=make_key(endpoint, request_body, DEFAULT_MATCH_ON),
        path=url.path,
        query=scrubber.query(url.query),
        request_headers={
            k: v
            for k, v in scrubber.headers(request_headers, secrets).items()
            if k != "content-type"  # the body is stored decoded, as the recorder does
        },
        request_body=request_body,
        status=status,
        response_headers=kept_response_headers,
        sdk=sdk_version({k.lower(): v for k, v in request_headers}),
        **answer,
    )
    return to_interaction(exchange), _recorded_at(response_headers)


def _raw_bytes(value: Any) -> bytes:
    """A vcrpy body as bytes (gzip undone: bodies are stored decoded)."""
    if isinstance(value, dict) and set(value) <= {"string"}:
        value = value.get("string")
    if value is None:
        return b""
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bytes):
        if value.startswith(_GZIP_MAGIC):
            with contextlib.suppress(OSError, EOFError):
                return _gunzip(value)
        return value
    return json.dumps(value).encode()  # a serializer that stored JSON decoded


def _convert_plain(
    method: str, uri: str, request: dict[str, Any], response: dict[str, Any], scrubber: Scrubber
) -> tuple[dict[str, Any], datetime | None]:
    """A request that is not a model call (a tool, an image) as a plain HTTP interaction."""
    url = urlsplit(uri)
    request_headers = _header_pairs(request.get("headers"))
    response_headers = _header_pairs(response.get("headers"))
    secrets = scrubber.secrets_in(request_headers, url.query)

    def stored(raw: bytes, headers: list[tuple[str, str]]) -> dict[str, Any]:
        part = encode_body(raw, _header(headers, "content-type"))
        if "body" in part:
            return {"body": scrubber.body(part["body"], secrets)}
        if "text" in part:
            return {"text": scrubber.text(part["text"], secrets)}
        return part

    body = request.get("body")
    answer = response.get("body", response.get("content"))
    clean = urlunsplit((url.scheme, url.netloc.rpartition("@")[2], url.path, "", ""))
    query = scrubber.query(url.query)
    exchange = PlainExchange(
        method=method,
        url=clean + (f"?{query}" if query else ""),
        request_headers=scrubber.headers(request_headers, secrets),
        request_body=stored(_raw_bytes(body), request_headers),
        status=_status(response),
        response_headers=scrubber.headers(response_headers, secrets),
        response_body=stored(_raw_bytes(answer), response_headers),
        client="vcrpy",
    )
    return to_plain_interaction(exchange), _recorded_at(response_headers)


def _header_pairs(headers: Any) -> list[tuple[str, str]]:
    """Headers as (name, value) pairs from vcrpy's `{name: [values]}`, scalars or nulls."""
    if not isinstance(headers, dict):
        return []
    pairs: list[tuple[str, str]] = []
    add = pairs.append
    for name, values in headers.items():
        name = str(name)
        for value in values if type(values) is list or type(values) is tuple else [values]:
            if type(value) is str:  # nearly all of them
                add((name, value))
            elif value is None:  # a recorder filtered the value out: nothing to keep
                continue
            elif isinstance(value, bool):
                add((name, "true" if value else "false"))
            else:
                add((name, str(value)))
    return pairs


def _header(pairs: list[tuple[str, str]], name: str) -> str:
    for key, value in pairs:
        if key.lower() == name:
            return value
    return ""


def _gunzip(raw: bytes) -> bytes:
    """`gzip.decompress(raw)`: zlib's one call when `raw` is one whole gzip member (a
    recorded body), which spares the gzip module's header parsing in Python (two thirds of
    the time); anything else, and its errors, are gzip's."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    with contextlib.suppress(zlib.error):
        inflated = inflater.decompress(raw)
        if inflater.eof and not inflater.unused_data:
            return inflated
    return gzip.decompress(raw)


def _bytes_text(raw: bytes, headers: list[tuple[str, str]]) -> str:
    encoding = _header(headers, "content-encoding").strip().lower()
    # The header is often stale (the body was stored decoded), so the bytes decide.
    if raw.startswith(_GZIP_MAGIC):
        try:
            raw = _gunzip(raw)
        except (OSError, EOFError) as exc:
            raise _Problem(f"the gzip body does not decompress ({exc})") from None
    elif encoding == "deflate":
        try:
            raw = zlib.decompress(raw)
        except zlib.error:
            # Raw deflate without the zlib header; or already inflated: decoded as text below.
            with contextlib.suppress(zlib.error):
                raw = zlib.decompress(raw, -zlib.MAX_WBITS)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        how = f"compressed with {encoding!r}" if encoding else "not UTF-8 text"
        raise _Problem(
            f"the body is {how}, which pytest-llm cannot decode; re-record it with vcrpy's "
            "decode_compressed_response=True"
        ) from None


def _request_body(request: dict[str, Any], headers: list[tuple[str, str]]) -> Any:
    if "parsed_body" in request:
        return request["parsed_body"]
    body = request.get("body")
    if isinstance(body, dict) and set(body) == {"string"}:
        body = body["string"]
    if isinstance(body, bytes):
        body = _bytes_text(body, headers)
    if isinstance(body, str):
        try:
            return json.loads(body)
        except ValueError:
            return None
    return body


def _status(response: dict[str, Any]) -> int:
    status = response.get("status", response.get("status_code"))
    if isinstance(status, dict):
        status = status.get("code")
    try:
        return int(status)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise _Problem(f"the response has no usable status ({status!r})") from None


def _answer(response: dict[str, Any], headers: list[tuple[str, str]]) -> dict[str, Any]:
    """The answer as the recorder keeps it: exactly one of `body`, `events` or `text`."""
    if "parsed_body" in response and not isinstance(response["parsed_body"], str | bytes):
        return {"body": response["parsed_body"]}
    raw = response.get("parsed_body")
    if raw is None:
        body = response.get("body")
        raw = body.get("string") if isinstance(body, dict) else body
    if raw is None:
        raw = response.get("content")  # vcrpy's old httpx layout: the decoded text
    if isinstance(raw, bytes):
        raw = _bytes_text(raw, headers)
    if raw is None or raw == "":
        return {"body": None}
    if not isinstance(raw, str):
        return {"body": raw}  # a serializer that stored the JSON decoded under `body`
    if "text/event-stream" in _header(headers, "content-type") and looks_like_sse(raw):
        return {"events": parse_sse(raw)}
    try:
        return {"body": json.loads(raw)}
    except ValueError:
        pass
    # No (or a wrong) content-type, as after hand edits: the text itself shows a stream.
    if looks_like_sse(raw):
        return {"events": parse_sse(raw)}
    return {"text": raw}


def _fix_content_type(
    headers: list[tuple[str, str]], answer: dict[str, Any]
) -> list[tuple[str, str]]:
    """Say what the stored answer is: recorded content-types are often stale or missing."""
    content_type = _header(headers, "content-type")
    if "events" in answer:
        wanted = content_type if "text/event-stream" in content_type else "text/event-stream"
    elif "body" in answer and answer["body"] is not None:
        wanted = content_type if "json" in content_type else "application/json"
    else:
        return headers
    if not content_type:
        return [*headers, ("content-type", wanted)]
    return [(k, wanted if k.lower() == "content-type" else v) for k, v in headers]


_MONTHS = {
    month: number
    for number, month in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}


def _recorded_at(headers: list[tuple[str, str]]) -> datetime | None:
    date = _header(headers, "date")
    if not date:
        return None
    # HTTP's own form (`Mon, 07 Dec 2026 09:23:07 GMT`) read directly: the email parser
    # costs a tenth of converting a whole interaction.
    parts = date.split()
    if len(parts) == 6 and parts[5] == "GMT" and parts[2] in _MONTHS:
        clock = parts[4].split(":")
        with contextlib.suppress(ValueError):
            if len(clock) == 3 and len(parts[3]) == 4:  # two-digit years: the email parser
                day, year = int(parts[1]), int(parts[3])
                hour, minute, second = (int(part) for part in clock)
                return datetime(year, _MONTHS[parts[2]], day, hour, minute, second, tzinfo=UTC)
    try:
        when = parsedate_to_datetime(date)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
