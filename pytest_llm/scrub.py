"""Keep secrets and transport noise out of cassettes."""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from pytest_llm.providers import secret_headers, secret_params

SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api-key",
        "openai-organization",
        "openai-project",
        "anthropic-organization-id",
        "cookie",
        "set-cookie",
    }
)
SECRET_QUERY = frozenset({"api-key", "api_key", "key", "access_token"})

# Headers that say nothing about the answer and would only make diffs noisy.
NOISE_HEADERS = frozenset(
    {
        "host",
        "accept",
        "accept-encoding",
        "connection",
        "keep-alive",
        "content-length",
        "content-encoding",
        "transfer-encoding",
        "user-agent",
        "date",
        "server",
        "via",
        "vary",
        "alt-svc",
        "cf-ray",
        "cf-cache-status",
        "strict-transport-security",
        "x-content-type-options",
        "x-envoy-upstream-service-time",
    }
)
_NOISE_PREFIXES = ("x-stainless-",)

# A secret shorter than this is too likely to be an ordinary word to replace in text.
_MIN_SECRET_LENGTH = 8
SCRUBBED = "<scrubbed>"


@dataclass(frozen=True)
class Filters:
    """What a pytest-recording suite's vcr_config filters out of requests before storing them.

    Each maps a name (lower case for headers) to the value stored instead, or to None to
    leave it out: `filter_headers`, `filter_query_parameters`, `filter_post_data_parameters`.
    """

    headers: Mapping[str, str | None] = field(default_factory=dict)
    query: Mapping[str, str | None] = field(default_factory=dict)
    post_data: Mapping[str, str | None] = field(default_factory=dict)


class Scrubber:
    """Removes the default secrets plus the user's `llm_scrub_headers` and `llm_scrub_patterns`."""

    def __init__(self, headers: Iterable[str] = (), patterns: Iterable[str] = ()) -> None:
        self.secret_headers = (
            SECRET_HEADERS | secret_headers() | {h.strip().lower() for h in headers if h.strip()}
        )
        # Every provider's credential parameters (Gemini's `key=`), as registered for this run.
        self.secret_query = SECRET_QUERY | secret_params()
        self.patterns = [re.compile(p) for p in patterns if p]
        self._known: list[str] = []  # only ever grows (see remember)
        self._by_length: list[str] = []  # _known, longest first
        self.filters = Filters()
        # header name as sent -> its lower-case name when kept, with the value stored
        # instead (vcr_config's filter_headers), or None when dropped: the same few names
        # come with every call.
        self._header_rules: dict[str, tuple[str, str | None] | None] = {}

    def with_filters(self, filters: Filters) -> Scrubber:
        """This scrubber (sharing the secrets it has seen) with a test's vcr_config filters."""
        derived = copy.copy(self)  # the list of known secrets stays shared
        derived.filters = Filters(
            {k.lower(): v for k, v in filters.headers.items()}, filters.query, filters.post_data
        )
        # The rules depend on the header filters: without any, they are this scrubber's.
        derived._header_rules = {} if derived.filters.headers else self._header_rules
        return derived

    def remember(self, values: Iterable[str]) -> None:
        """Credentials to remove from every later recording too (keys from the environment)."""
        for value in values:
            if len(value) >= _MIN_SECRET_LENGTH and value not in self._known:
                self._known.append(value)

    def secrets_in(self, headers: Iterable[tuple[str, str]], query: str) -> list[str]:
        """Credential values to remove wherever they appear: this request's and the run's.

        A key may show up in a request that does not carry it (a prompt that quotes another
        client's key), so every credential seen so far in the run is kept and removed too.
        """
        found: list[str] = []
        for name, value in headers:
            lower = name.lower()
            if lower in self.secret_headers and lower not in ("cookie", "set-cookie"):
                token = value.split(" ", 1)[1] if value.lower().startswith("bearer ") else value
                found.append(token.strip())
        for name, value in parse_qsl(query, keep_blank_values=True) if query else ():
            if name.lower() in self.secret_query:
                found.append(value)
        self.remember(found)
        # Longest first, so a key is never half-replaced by a shorter one inside it.
        if len(self._by_length) != len(self._known):
            self._by_length = sorted(self._known, key=len, reverse=True)
        return list(self._by_length)

    def headers(self, headers: Iterable[tuple[str, str]], secrets: list[str]) -> dict[str, str]:
        """The headers worth keeping, secrets and noise removed."""
        kept: dict[str, str] = {}
        rules = self._header_rules
        for name, value in headers:
            try:
                rule = rules[name]
            except KeyError:
                rule = rules[name] = self._header_rule(name)
            if rule is None:
                continue
            lower, replacement = rule
            kept[lower] = self.text(value if replacement is None else replacement, secrets)
        return kept

    def _header_rule(self, name: str) -> tuple[str, str | None] | None:
        """What `headers` does with a header called `name` (see _header_rules)."""
        lower = name.lower()
        if lower in self.secret_headers or lower in NOISE_HEADERS:
            return None
        if lower.startswith(_NOISE_PREFIXES):
            return None
        if lower in self.filters.headers:
            replacement = self.filters.headers[lower]
            return None if replacement is None else (lower, replacement)
        return lower, None

    def query(self, query: str) -> str:
        """The query string without credential parameters."""
        if not query:
            return ""
        pairs = parse_qsl(query, keep_blank_values=True)
        return urlencode(
            _filtered(
                [(k, v) for k, v in pairs if k.lower() not in self.secret_query], self.filters.query
            )
        )

    def text(self, value: str, secrets: list[str]) -> str:
        """A string with secrets and user patterns replaced."""
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, SCRUBBED)
        for pattern in self.patterns:
            value = pattern.sub(SCRUBBED, value)
        return value

    def body(self, value: Any, secrets: list[str]) -> Any:
        """A decoded JSON value with every string scrubbed."""
        if not secrets and not self.patterns:
            return value
        if isinstance(value, str):
            return self.text(value, secrets)
        if isinstance(value, dict):
            return {k: self.body(v, secrets) for k, v in value.items()}
        if isinstance(value, list):
            return [self.body(v, secrets) for v in value]
        return value

    def request(self, value: Any, secrets: list[str], raw: bytes | None = None) -> Any:
        """A decoded request body scrubbed, with vcr_config's post-data filters applied.

        `raw` is the JSON the body was decoded from: when no secret is in it (and there are
        no patterns), walking the decoded body would change nothing, and is skipped.
        """
        # The replay of every call pays this check instead of a walk of its body.
        if raw is None or self.patterns or not _absent(secrets, raw):
            value = self.body(value, secrets)
        wanted = self.filters.post_data
        if not wanted or not isinstance(value, dict):
            return value
        return dict(_filtered(list(value.items()), wanted))

    def form(self, text: str, secrets: list[str]) -> str:
        """A urlencoded request body scrubbed, with vcr_config's post-data filters applied."""
        text = self.text(text, secrets)
        if not self.filters.post_data or "=" not in text:
            return text
        pairs = parse_qsl(text, keep_blank_values=True)
        return urlencode(_filtered(pairs, self.filters.post_data))


# Characters that JSON never escapes: such a secret is in the raw JSON exactly when it is in
# one of the decoded strings.
_PLAIN_SECRET = re.compile(r"[A-Za-z0-9._~+-]+")


def _absent(secrets: list[str], raw: bytes) -> bool:
    """Whether none of `secrets` can be in a body that was decoded from the JSON `raw`."""
    return all(_PLAIN_SECRET.fullmatch(s) and s.encode() not in raw for s in secrets)


def _filtered(pairs: list[tuple[str, Any]], wanted: Mapping[str, str | None]) -> list[Any]:
    """`pairs` with the named ones left out (None) or given their stored value."""
    kept: list[tuple[str, Any]] = []
    for name, value in pairs:
        if name in wanted:
            if wanted[name] is None:
                continue
            value = wanted[name]
        kept.append((name, value))
    return kept


class QueryLogFilter(logging.Filter):
    """Removes credential query parameters from URLs in log records (httpx logs each request).

    `HTTP Request: POST https://…/chat/completions?api-key=…` would otherwise carry an Azure
    key into captured logs and CI output.
    """

    def __init__(self, scrubber: Scrubber) -> None:
        super().__init__()
        self.scrubber = scrubber

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(self._clean(arg) for arg in record.args)
        return True

    def _clean(self, value: Any) -> Any:
        text = str(value) if hasattr(value, "query") else value
        if not isinstance(text, str) or "?" not in text:
            return value
        base, _, query = text.partition("?")
        cleaned = self.scrubber.query(query)
        return base + ("?" + cleaned if cleaned else "")
