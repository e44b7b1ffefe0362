"""One test's recorder: decides replay, record or miss for each call, and keeps its calls."""

from __future__ import annotations

import sys
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pytest_llm.calls import HttpCall, LLMCall
from pytest_llm.cassettes.cassette import Cassette, Identity, Spec, identity
from pytest_llm.cassettes.interaction import Exchange, encode_json, to_interaction
from pytest_llm.cassettes.plain_http import (
    PlainExchange,
    decode_body,
    is_plain,
    plain_key,
    to_plain_interaction,
)
from pytest_llm.cassettes.tool_steps import is_tool_step
from pytest_llm.cassettes.vcr_match import VcrSpec, vcr_key, view_of_call, view_of_plain
from pytest_llm.checks.prices import PriceTable
from pytest_llm.errors import ReplayMiss
from pytest_llm.keys import WHOLE, KeySpec, format_path, make_key, path_matches
from pytest_llm.providers import Endpoint, endpoint_of
from pytest_llm.replay.faults import FaultPlan
from pytest_llm.replay.misses import (
    miss_message,
    plain_miss_message,
    refused_message,
    stale_diff,
)
from pytest_llm.replay.settings import RecordMode, Settings
from pytest_llm.replay.vcr import LiveRequest, VcrRules
from pytest_llm.scrub import Scrubber
from pytest_llm.steps import ToolUse


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with one call: replay `interaction`, or go live (`interaction` is None)."""

    key: str
    interaction: dict[str, Any] | None


class Recorder:
    """Answers one test's calls from its cassette and records what the mode allows."""

    def __init__(
        self,
        cassette: Cassette,
        settings: Settings,
        scrubber: Scrubber,
        prices: PriceTable | None = None,
        faults: FaultPlan | None = None,
        sample: int | None = None,
        vcr: VcrRules | None = None,
        extras: list[Cassette] | None = None,
    ) -> None:
        self.cassette = cassette
        # A pytest-recording test: vcrpy's matching, its vcr_config, and the extra
        # cassettes its marker names (replayed from, never written).
        self.vcr = vcr
        self.extras = extras or []
        self.spec: KeySpec | VcrSpec = vcr.spec if vcr is not None else settings.key
        # Which run of a test marked llm(samples=N) this is: it sees only its own sample.
        self.sample = sample
        self.prices = prices
        self.faults = faults
        # Live answers of cut streams, kept for the retry of the same call (see decide).
        self._cut: dict[str, list[dict[str, Any]]] = {}
        self.settings = settings
        self.scrubber = scrubber
        self.calls: list[LLMCall] = []
        self.http: list[HttpCall] = []
        # Calls, plain HTTP and tool uses in the order they happened: the test's steps.
        self.trail: list[LLMCall | HttpCall | ToolUse] = []
        self.misses: list[str] = []
        # Hosts whose plain HTTP went through live, unrecorded (llm_passthrough_hosts), and
        # what pytest-llm said when one of them refused a connection: a later miss repeats it.
        self.passed_through: set[str] = set()
        self.refusals: list[str] = []
        self.used: set[Identity] = set()
        self.recorded = 0
        self.stored: list[dict[str, Any]] = []  # what this recorder added to the cassette
        self._asked: Counter[str] = Counter()
        # For the `vcr` fixture's cassette view (vcrpy's read API): what the cassettes held
        # at the start, what answered each request, and where model calls were sent.
        self.loaded: list[dict[str, Any]] = []
        self.played: list[dict[str, Any]] = []
        self.sent_to: dict[int, str] = {}
        self._used_up: set[int] = set()  # answered already, under the test's own matchers
        self._urls: dict[str, str] = {}  # the URL each key was last sent to
        self._replaced: set[str] = set()
        self._lock = threading.Lock()
        mode = settings.mode
        if mode is RecordMode.REWRITE:
            cassette.start_rewrite(settings.test)
        self.live = mode in (RecordMode.ALL, RecordMode.REWRITE) or (
            mode is RecordMode.ONCE and not cassette.existed
        )
        # Re-recording compares with the previous recording: what `rewrite` set aside, or
        # in `all` what the cassette held when the test started.
        previous = cassette.baseline if mode is RecordMode.REWRITE else []
        if mode is RecordMode.ALL:
            previous = list(cassette.interactions)
        self.baseline_tools = [i for i in previous if is_tool_step(i) and self._mine(i)]
        previous = [
            i for i in previous if self._mine(i) and not is_plain(i) and not is_tool_step(i)
        ]
        self.baseline = [LLMCall(i, replayed=True, prices=prices) for i in previous]
        for index, call in enumerate(self.baseline):
            call.index = index
        self.drift: list[dict[str, Any] | None] | None = None
        if vcr is not None:
            self.loaded = [i for c in (cassette, *self.extras) for i in c.interactions]

    def _recordings(
        self, key: str, asked: int = 0, sent: Any = None, *, spec: Spec | None = None
    ) -> list[dict[str, Any]]:
        """The recordings of `key` (this sample's only), in order: the test's cassette first,
        then the extra cassettes of a pytest-recording test. `asked`: how many were used;
        `sent`: the LLM request as it would be stored (see `Cassette.positions`)."""
        found: list[dict[str, Any]] = []
        # Filtered or joined lists are counted on the full index of each cassette.
        wanted = asked + 1 if self.sample is None and not self.extras else sys.maxsize
        for cassette in (self.cassette, *self.extras):
            stored = cassette.interactions
            found += [stored[p] for p in cassette.positions(spec or self.spec, key, wanted, sent)]
        if self.sample is not None:
            found = [i for i in found if self._mine(i)]
        return found

    def _store(self, interaction: dict[str, Any], key: str, spec: Spec) -> None:
        """Add a new recording (under the lock); mode `all` first drops the key's old ones."""
        if self.settings.mode is RecordMode.ALL and key not in self._replaced:
            self._replaced.add(key)
            self.cassette.drop_key(key, spec, sample=self.sample)
        self.cassette.append(interaction)
        self.stored.append(interaction)
        self.used.add(identity(interaction))

    def _played(self, interaction: dict[str, Any], url: str = "") -> None:
        """Count a replay (under the lock): for prune, and for the `vcr` cassette view."""
        self.used.add(identity(interaction))
        if self.vcr is not None:
            self.played.append(interaction)
            if url:
                self.sent_to[id(interaction)] = url

    def _pairwise(
        self, recordings: list[dict[str, Any]], live: LiveRequest, *, keep: bool = False
    ) -> list[dict[str, Any]]:
        """The recordings that the test's own matchers accept for `live`, first unplayed first:
        vcrpy answers with the first matching interaction it has not played yet.
        `keep` (a stream that will be cut) leaves the answer unplayed for the retry."""
        assert self.vcr is not None and self.vcr.pairwise is not None
        played = self._used_up
        found = self.vcr.pairwise([r for r in recordings if id(r) not in played], live)
        if found and not keep:
            played.add(id(found[0]))
        return found

    def _mine(self, interaction: dict[str, Any]) -> bool:
        """Whether a stored interaction belongs to this recorder's sample (all do without one)."""
        return self.sample is None or interaction.get("sample", 0) == self.sample

    @property
    def can_record(self) -> bool:
        """Whether a call missing from the cassette may go to the provider."""
        return self.live or self.settings.mode is RecordMode.NEW_EPISODES

    def _add(self, call: LLMCall) -> None:
        # Called under the lock: the index is the call's place in llm.calls.
        call.index = len(self.calls)
        self.calls.append(call)
        self.trail.append(call)

    def _add_http(self, call: HttpCall) -> None:
        # Called under the lock, like _add.
        self.http.append(call)
        self.trail.append(call)

    def add_tool_use(self, use: ToolUse) -> None:
        """Show a tool use (MCP or a `pytest_llm.tool` function) in the test's steps."""
        with self._lock:
            self.trail.append(use)

    def take_fault(self, endpoint: Endpoint, body: dict[str, Any]) -> str | None:
        """The fault planned for this attempt, if any (every attempt counts, retries too)."""
        if self.faults is None:
            return None
        return self.faults.take(endpoint.provider, str(body.get("model", endpoint.model)))

    def add_fault(self, interaction: dict[str, Any]) -> None:
        """Show an attempt that a fault answered in the test's calls; it is never stored."""
        with self._lock:
            fault = str(interaction["fault"])
            self._add(LLMCall(interaction, replayed=False, fault=fault, prices=self.prices))

    def decide(
        self,
        endpoint: Endpoint,
        body: dict[str, Any],
        secrets: list[str],
        *,
        cut: bool = False,
        request: tuple[str, str, list[tuple[str, str]]] = ("POST", "", []),
        raw: bytes | None = None,
    ) -> Decision:
        """Replay the next recording of this call's key, or say it must go live.

        The key is computed on the request as it will be stored (scrubbed), so a
        recording whose prompt lost a secret or a pattern still matches its call.
        A call whose stream will be cut (`cut`) looks at the next recording without
        using it up: the application's retry is answered by the same recording.
        `request` (method, URL, headers) is what vcrpy's matching looks at; `raw` is the
        JSON the body was decoded from (it spares a scrub that would find nothing).
        Raises ReplayMiss when the call may not go live.
        """
        keyed_body = self.scrubber.request(body, secrets, raw)
        spec = self.spec
        if self.vcr is not None:
            method, url, headers = request
            parts = urlsplit(url)
            matched = self.vcr.spec
            view = view_of_call(
                method,
                parts.path,
                self.scrubber.query(parts.query),
                keyed_body,
                self.scrubber.headers(headers, secrets) if matched.uses_headers else {},
                matched,
            )
            key = vcr_key(view, matched)
        else:
            key = make_key(endpoint, keyed_body, self.settings.key)
        with self._lock:
            asked = self._asked[key]
            if not cut:
                self._asked[key] += 1
            pending = self._cut.get(key)
            if pending and not cut:  # the retry of a cut live call gets its full answer
                interaction = pending.pop(0)
                self._add(LLMCall(interaction, replayed=True, prices=self.prices))
                return Decision(key, interaction)
            if self.vcr is not None:
                self._urls[key] = request[1]
            if self.live:
                return Decision(key, None)
            sent = (endpoint, urlsplit(request[1]).path, keyed_body) if self.vcr is None else None
            recordings = self._recordings(key, asked, sent)
            if self.vcr is not None and self.vcr.pairwise is not None:
                method, url, headers = request
                live = (method, url, headers, encode_json(keyed_body))
                recordings, asked = self._pairwise(recordings, live, keep=cut), 0
            if asked < len(recordings):
                interaction = recordings[asked]
                self._played(interaction, request[1])
                fault = "stream_cut" if cut else None
                call = LLMCall(interaction, replayed=True, fault=fault, prices=self.prices)
                if not spec.whole:
                    self.check_stale(call, keyed_body)
                self._add(call)
                return Decision(key, interaction)
            if self.settings.mode is RecordMode.NEW_EPISODES:
                return Decision(key, None)
            message = miss_message(
                endpoint,
                keyed_body,
                self.cassette,
                self.settings,
                times_recorded=len(recordings),
                ordinal=self._ordinal(endpoint),
                sampled=self.sample is not None,
            )
            if self.vcr is not None:
                method, url = request[:2]
                message = self._vcr_miss(message, f"  request: {method.upper()} {url}")
            if self.sample is not None:
                message = (
                    f"no recording of this call in sample {self.sample} (each sample "
                    f"replays only its own recordings)\n{message}"
                )
            message = self._with_refusals(message)
            self.misses.append(message)
        raise ReplayMiss(message)

    def pass_through(self, host: str) -> None:
        """Note plain HTTP to `host` (host:port) that went through live and was not recorded."""
        with self._lock:
            self.passed_through.add(host)

    def refused(self, host: str) -> str:
        """What to tell a user whose passthrough host refused a connection (kept for misses)."""
        message = refused_message(host, self.settings, replaying=not self.can_record)
        with self._lock:
            if message not in self.refusals:
                self.refusals.append(message)
        return message

    def _with_refusals(self, message: str) -> str:
        # An application that caught the refused connection goes on to a call nobody
        # recorded: the miss is a consequence, and the refusal is its cause.
        if not self.refusals:
            return message
        return (
            message
            + "\n  earlier in this test:\n"
            + "\n".join("    " + line for text in self.refusals for line in text.splitlines())
        )

    def ignore_use(self) -> dict[str, bool]:
        """Per ignore path of this test, whether it named a field of any request it was
        answered with or recorded (empty when the test made no model call to tell by)."""
        bodies = [c.request for c in self.calls if c.fault is None and isinstance(c.request, dict)]
        if not bodies or self.vcr is not None:
            return {}
        return {
            format_path(path): any(path_matches(body, path) for body in bodies)
            for path in self.settings.ignore
        }

    @staticmethod
    def check_stale(call: LLMCall, sent_body: dict[str, Any]) -> None:
        """Mark a call answered by a narrower key stale when its whole request changed.

        Every way of matching on less than the whole request (match_on, ignore, and
        body-blind vcrpy-style matching) runs this on the call it answers.
        """
        recorded = call.request
        call.stale_diff = stale_diff(recorded if isinstance(recorded, dict) else {}, sent_body)
        call.stale = bool(call.stale_diff)

    def _ordinal(self, endpoint: Endpoint) -> int:
        """How many calls to `endpoint` this test has had answered so far."""
        return sum(
            1
            for call in self.calls
            if call.fault is None and endpoint_of(call.provider, call.endpoint) == endpoint
        )

    def record(self, exchange: Exchange, *, cut: bool = False) -> dict[str, Any]:
        """Store a live answer in the cassette and the test's calls."""
        interaction = to_interaction(exchange, self.settings.test)
        if self.sample is not None:  # next to the key, where a reviewer looks first
            interaction = {"key": interaction.pop("key"), "sample": self.sample, **interaction}
        # The stored key is always the full one, so that files do not depend on match_on.
        spec = self.spec
        if spec != WHOLE:
            interaction["key"] = make_key(exchange.endpoint, exchange.request_body, WHOLE)
        kept = interaction if self.vcr is None else self.vcr.stored(interaction)
        with self._lock:
            if kept is not None:  # the test itself gets the answer as it came
                self._store(kept, exchange.key, spec)
                if exchange.key in self._urls:
                    self.sent_to[id(kept)] = self._urls[exchange.key]
            fault = "stream_cut" if cut else None
            call = LLMCall(interaction, replayed=False, fault=fault, prices=self.prices)
            self._add(call)
            self.recorded += 1
            if cut:
                self._cut.setdefault(exchange.key, []).append(interaction)
        return interaction

    def decide_plain(
        self,
        method: str,
        url: str,
        request_body: dict[str, Any],
        headers: dict[str, str] | None = None,
        *,
        mocked: bool = False,
    ) -> Decision:
        """Replay the next recording of a plain HTTP request, or say it must go live.

        `url`, `request_body` and `headers` are in stored form (scrubbed, encoded), like
        the key. Raises ReplayMiss when the request may not go live, unless it is `mocked`:
        a pytest-recording test's mock then answers it, as under pytest-recording (vcrpy 9
        records mock transports, older versions and pytest-httpx's mocks never reach it).
        """
        if self.vcr is not None:
            matched = self.vcr.spec
            view = view_of_plain(method, url, request_body, headers or {}, matched)
            key = vcr_key(view, matched)
        else:
            key = plain_key(method, url, request_body)
        with self._lock:
            asked = self._asked[key]
            self._asked[key] += 1
            if self.live:
                return Decision(key, None)
            recordings = self._recordings(key, asked)
            if self.vcr is not None and self.vcr.pairwise is not None:
                pairs = list((headers or {}).items())
                live = (method, url, pairs, decode_body(request_body) or None)
                recordings, asked = self._pairwise(recordings, live), 0
            if asked < len(recordings):
                interaction = recordings[asked]
                self._played(interaction)
                self._add_http(HttpCall(interaction, replayed=True))
                return Decision(key, interaction)
            if mocked or self.settings.mode is RecordMode.NEW_EPISODES:
                return Decision(key, None)
            message = plain_miss_message(
                method,
                url,
                request_body,
                self.cassette,
                self.settings,
                times_recorded=len(recordings),
                sampled=self.sample is not None,
            )
            if self.vcr is not None:
                message = self._vcr_miss(message)
            message = self._with_refusals(message)
            self.misses.append(message)
        raise ReplayMiss(message)

    def record_plain(self, exchange: PlainExchange, key: str) -> dict[str, Any]:
        """Store a live plain HTTP answer (asked with `key`) in the cassette and the test's list."""
        interaction = to_plain_interaction(exchange, self.settings.test)
        if self.sample is not None:
            interaction = {"key": interaction.pop("key"), "sample": self.sample, **interaction}
        kept = interaction if self.vcr is None else self.vcr.stored(interaction)
        with self._lock:
            if kept is not None:
                self._store(kept, key, self.spec)
            self._add_http(HttpCall(interaction, replayed=False))
            self.recorded += 1
        return interaction

    def decide_tool(self, key: str, miss: Callable[[int], str]) -> dict[str, Any] | None:
        """Replay the next recording of a tool step (an MCP request, a tool function), or say
        it must run live (None). Raises ReplayMiss with `miss(times recorded)` when it may not.

        Tool steps have one key whatever the test matches its model calls on (their keys
        carry no ids), so they are looked up in the whole-request index.
        """
        with self._lock:
            asked = self._asked[key]
            self._asked[key] += 1
            if self.live:
                return None
            recordings = self._recordings(key, spec=WHOLE)
            if asked < len(recordings):
                interaction = recordings[asked]
                self.used.add(identity(interaction))
                self.trail.append(ToolUse(interaction, replayed=True))
                return interaction
            if self.settings.mode is RecordMode.NEW_EPISODES:
                return None
            message = miss(len(recordings))
            self.misses.append(message)
        raise ReplayMiss(message)

    def record_tool(self, interaction: dict[str, Any]) -> None:
        """Store a tool step that ran live, and show it in the test's steps."""
        if self.sample is not None:
            interaction = {"key": interaction.pop("key"), "sample": self.sample, **interaction}
        with self._lock:
            self._store(interaction, str(interaction["key"]), WHOLE)
            self.trail.append(ToolUse(interaction, replayed=False))
            self.recorded += 1

    @property
    def tool_uses(self) -> list[ToolUse]:
        """The MCP requests and tool functions of the test so far, in order."""
        return [item for item in self.trail if isinstance(item, ToolUse)]

    def _vcr_miss(self, message: str, request: str = "") -> str:
        """A miss message that says how a pytest-recording test's requests are matched."""
        assert self.vcr is not None
        first, _, rest = message.partition("\n")
        if not request:  # a plain request's message names it already
            request, _, rest = rest.partition("\n")
        names = ", ".join(self.vcr.spec.names) or "nothing"
        sources = "".join(f"\n  also looked in {c.shown}" for c in self.extras)
        return (
            f"{first}\n{request}\n  matched as vcrpy does, on: {names} "
            f"(vcr_config match_on){sources}\n{rest}"
        )
