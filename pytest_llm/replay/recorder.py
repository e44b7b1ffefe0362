"""One test's recorder: decides replay, record or miss for each call, and keeps its calls."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pytest_llm.calls import HttpCall, LLMCall
from pytest_llm.cassettes.cassette import Cassette, Identity, Spec, identity
from pytest_llm.cassettes.interaction import Exchange, to_interaction
from pytest_llm.cassettes.plain_http import (
    PlainExchange,
    is_plain,
    plain_key,
    to_plain_interaction,
)
from pytest_llm.cassettes.vcr_match import VcrSpec, vcr_key, view_of_call, view_of_plain
from pytest_llm.checks.prices import PriceTable
from pytest_llm.errors import ReplayMiss, display
from pytest_llm.keys import WHOLE, KeySpec, make_key
from pytest_llm.providers import Endpoint, endpoint_of
from pytest_llm.replay.faults import FaultPlan
from pytest_llm.replay.misses import miss_message, plain_miss_message, stale_diff
from pytest_llm.replay.settings import RecordMode, Settings
from pytest_llm.replay.vcr import VcrRules
from pytest_llm.scrub import Scrubber


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
        self.misses: list[str] = []
        self.used: set[Identity] = set()
        self.recorded = 0
        self.stored: list[dict[str, Any]] = []  # what this recorder added to the cassette
        self._asked: Counter[str] = Counter()
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
        previous = [i for i in previous if self._mine(i) and not is_plain(i)]
        self.baseline = [LLMCall(i, replayed=True, prices=prices) for i in previous]
        for index, call in enumerate(self.baseline):
            call.index = index
        self.drift: list[dict[str, Any] | None] | None = None

    def _recordings(self, key: str) -> list[dict[str, Any]]:
        """The recordings of `key` (this sample's only), in order: the test's cassette first,
        then the extra cassettes of a pytest-recording test."""
        found: list[dict[str, Any]] = []
        for cassette in (self.cassette, *self.extras):
            stored = cassette.interactions
            found += [stored[p] for p in cassette.index(self.spec).get(key, ())]
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
            view = view_of_call(
                method,
                parts.path,
                self.scrubber.query(parts.query),
                keyed_body,
                self.scrubber.headers(headers, secrets),
            )
            key = vcr_key(view, self.vcr.spec)
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
            if self.live:
                return Decision(key, None)
            recordings = self._recordings(key)
            if asked < len(recordings):
                interaction = recordings[asked]
                self.used.add(identity(interaction))
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
            )
            if self.vcr is not None:
                method, url = request[:2]
                message = self._vcr_miss(message, f"  request: {method.upper()} {url}")
            if self.sample is not None:
                message = (
                    f"no recording of this call in sample {self.sample} (each sample "
                    f"replays only its own recordings)\n{message}"
                )
            self.misses.append(message)
        raise ReplayMiss(message)

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
            key = vcr_key(view_of_plain(method, url, request_body, headers or {}), self.vcr.spec)
        else:
            key = plain_key(method, url, request_body)
        with self._lock:
            asked = self._asked[key]
            self._asked[key] += 1
            if self.live:
                return Decision(key, None)
            recordings = self._recordings(key)
            if asked < len(recordings):
                interaction = recordings[asked]
                self.used.add(identity(interaction))
                self.http.append(HttpCall(interaction, replayed=True))
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
            )
            if self.vcr is not None:
                message = self._vcr_miss(message)
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
            self.http.append(HttpCall(interaction, replayed=False))
            self.recorded += 1
        return interaction

    def _vcr_miss(self, message: str, request: str = "") -> str:
        """A miss message that says how a pytest-recording test's requests are matched."""
        assert self.vcr is not None
        first, _, rest = message.partition("\n")
        if not request:  # a plain request's message names it already
            request, _, rest = rest.partition("\n")
        names = ", ".join(self.vcr.spec.match_on) or "nothing"
        sources = "".join(f"\n  also looked in {display(c.path)}" for c in self.extras)
        return (
            f"{first}\n{request}\n  matched as vcrpy does, on: {names} "
            f"(vcr_config match_on){sources}\n{rest}"
        )
