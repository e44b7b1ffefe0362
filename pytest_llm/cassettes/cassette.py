"""A cassette in memory: its interactions, a key index, and a merge-on-save."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from pytest_llm.cassettes import store
from pytest_llm.cassettes.plain_http import is_plain, stored_key
from pytest_llm.cassettes.tool_steps import is_tool_step, stored_tool_key
from pytest_llm.cassettes.vcr_match import VcrSpec, vcr_key, view_of_interaction
from pytest_llm.errors import CassetteError, display
from pytest_llm.keys import GROUPS, KeySpec, make_key
from pytest_llm.providers import endpoint_of, recognize_path

Identity = tuple[str, str]
Spec = KeySpec | VcrSpec | frozenset[str]
# Reads a cassette file: its interactions, or None when it does not exist.
Reader = Callable[[Path], list[dict[str, Any]] | None]


def identity(interaction: dict[str, Any]) -> Identity:
    """What tells two recordings apart across processes: key and moment of recording."""
    return str(interaction.get("key", "")), str(interaction.get("recorded_at", ""))


def interaction_key(interaction: dict[str, Any], match_on: Spec) -> str:
    """The key of a stored interaction under `match_on` (recomputed: match_on may differ)."""
    if is_tool_step(interaction):  # MCP requests and tool functions: one key, always
        return stored_tool_key(interaction)
    if isinstance(match_on, VcrSpec):
        return vcr_key(view_of_interaction(interaction, match_on), match_on)
    if is_plain(interaction):  # plain HTTP keys do not depend on match_on
        return stored_key(interaction)
    request = interaction["request"]
    endpoint = endpoint_of(str(interaction.get("provider", "")), request["path"])
    if not endpoint.operation:
        return ""
    return make_key(endpoint, request["body"], match_on)


def _names_its_key(match_on: Spec) -> bool:
    """Whether the key that a recording stores is its key under `match_on`: the whole key
    (pytest-llm stores that one) and plain HTTP's (which does not depend on match_on)."""
    if isinstance(match_on, VcrSpec):
        return False
    return match_on.whole if isinstance(match_on, KeySpec) else match_on >= GROUPS


class Cassette:
    """The interactions of one file, indexed by key, saved atomically with other writers merged."""

    def __init__(
        self,
        path: Path,
        interactions: list[dict[str, Any]] | None,
        reader: Reader = store.read,
    ) -> None:
        self.path = path
        # The path as messages show it, worked out now: a miss is reported in the middle of
        # an async call, where asking for the working directory would block the event loop.
        self.shown = display(path)
        # How the file is read again before a merge: a vcrpy cassette read in place is
        # converted on every read, and written back in pytest-llm's format.
        self._reader = reader
        self.existed = interactions is not None
        self.interactions: list[dict[str, Any]] = list(interactions or [])
        self.baseline: list[dict[str, Any]] = []
        self.rewritten = False
        self._rewritten: set[str] = set()  # the tests whose recordings were set aside
        # Bumped on every change, so a run can tell whether it has seen this content.
        self.version = 0
        self._added: set[Identity] = set()
        self._dropped: set[Identity] = set()
        self._indexes: dict[Spec, dict[str, list[int]]] = {}
        # The positions of each key as the interactions name it, and those checked so far.
        self._by_name: dict[str, list[int]] | None = None
        self._checked_positions: set[int] = set()
        # The file as this object last read or wrote it: while it is unchanged, a save
        # appends the new recordings instead of reading and writing it all again.
        self._on_disk: store.Signature | None = None

    @classmethod
    def load(
        cls, path: Path, *, run_started: float | None = None, reader: Reader = store.read
    ) -> Cassette:
        """The cassette at `path` (empty when the file does not exist yet).

        `run_started` (a time.time() of the run's start, taken once for all pytest-xdist
        workers) makes a file that this very run created count as not having existed:
        record mode `once` then goes on recording into it from every worker.
        """
        seen = store.signature(path)  # before reading: a change after it is then noticed
        interactions = reader(path)
        cassette = cls(path, interactions, reader)
        cassette._on_disk = seen if interactions is not None else None
        if interactions is not None and run_started is not None:
            cassette.existed = not _created_since(path, interactions, run_started)
        return cassette

    @property
    def dirty(self) -> bool:
        """Whether there is anything to write.

        Only new recordings count: a rewrite whose calls all failed must not replace
        the previous cassette with an empty one.
        """
        return bool(self._added)

    def index(self, match_on: Spec) -> dict[str, list[int]]:
        """Positions of the interactions of each key, in recorded order (every key computed)."""
        index = self._indexes.get(match_on)
        if index is None:
            index = {}
            for position, interaction in enumerate(self.interactions):
                index.setdefault(interaction_key(interaction, match_on), []).append(position)
            self._indexes[match_on] = index
        return index

    def positions(self, match_on: Spec, key: str, wanted: int = 1, sent: Any = None) -> list[int]:
        """Positions of the interactions of `key`, in recorded order; `wanted` is how many the
        caller needs (fewer found send it to the full index, which a miss message counts on).

        Under the whole key, each recording names its key: those of `key` are found by it, and
        only they are checked (their key computed from their request), instead of computing
        the key of every interaction of the cassette (a third of a cold load at 1,000). A
        recording whose request no longer gives the key it names (a hand edit, or a key of an
        earlier version), or a key that no recording names, sends the lookup to `index`.
        `sent` is the LLM request `key` was computed from (endpoint, and path and body as
        stored): a recording of that very request has that key without computing it.
        """
        index = self._indexes.get(match_on)
        if index is None and _names_its_key(match_on):
            named = self._named()
            found = named.get(key) if named is not None else None
            if (
                found is not None
                and len(found) >= wanted
                and all(self._checked(position, match_on, key, sent) for position in found)
            ):
                return found
        return self.index(match_on).get(key, [])

    def _named(self) -> dict[str, list[int]] | None:
        """Positions by the key each interaction names; None when one names none."""
        if self._by_name is None:
            by_name: dict[str, list[int]] = {}
            for position, interaction in enumerate(self.interactions):
                key = interaction.get("key")
                if type(key) is not str:
                    return None
                by_name.setdefault(key, []).append(position)
            self._by_name = by_name
        return self._by_name

    def _checked(self, position: int, match_on: Spec, key: str, sent: Any) -> bool:
        if position not in self._checked_positions:
            interaction = self.interactions[position]
            request = interaction.get("request")
            same = (
                sent is not None
                and isinstance(request, dict)
                and not is_plain(interaction)
                and (request.get("path"), request.get("body")) == sent[1:]
                and recognize_path(str(sent[1]).split("?", 1)[0]) == sent[0]
            )
            if not same and interaction_key(interaction, match_on) != key:
                return False
            self._checked_positions.add(position)
        return True

    def start_rewrite(self, test: str = "") -> None:
        """Set aside what `test` recorded here; it becomes the baseline for drift.

        Only that test's recordings go (each interaction names the test that recorded it),
        so re-recording one test of a shared cassette keeps the other tests' answers.
        Interactions that name no test (written before tests were stored, or imported)
        go with the first rewrite, as they always did. `test` "" sets aside everything.
        """
        self.version += 1
        if test in self._rewritten:
            return
        first = not self._rewritten
        self._rewritten.add(test)
        self.rewritten = True

        def replaced(interaction: dict[str, Any]) -> bool:
            owner = interaction.get("test")
            return not test or owner == test or (first and not owner)

        self.baseline = [i for i in self.interactions if replaced(i)]
        self._dropped |= {identity(i) for i in self.baseline}
        self.interactions = [i for i in self.interactions if not replaced(i)]
        self._forget_indexes()

    def drop_key(self, key: str, match_on: Spec, *, sample: int | None = None) -> None:
        """Forget the recordings of `key` (record mode `all` replaces them), of one sample only
        when `sample` is given."""
        self.version += 1
        keep: list[dict[str, Any]] = []
        for interaction in self.interactions:
            if (
                identity(interaction) not in self._added
                and (sample is None or interaction.get("sample", 0) == sample)
                and interaction_key(interaction, match_on) == key
            ):
                self._dropped.add(identity(interaction))
            else:
                keep.append(interaction)
        self.interactions = keep
        self._forget_indexes()

    def append(self, interaction: dict[str, Any]) -> None:
        """Add a new recording at the end."""
        self.version += 1
        self.interactions.append(interaction)
        self._added.add(identity(interaction))
        for match_on, index in self._indexes.items():
            key = interaction_key(interaction, match_on)
            index.setdefault(key, []).append(len(self.interactions) - 1)
        self._by_name = None

    def _forget_indexes(self) -> None:
        self._indexes.clear()
        self._by_name = None
        self._checked_positions.clear()

    def save(self, *, keep_replaced: bool = False) -> None:
        """Write the file, keeping what other processes wrote to it since we read it.

        `keep_replaced` is for a test that failed: what `rewrite` or `all` set out to
        replace stays in the file, behind the new recordings (which replay first), until
        a test that passes saves this cassette. A half-done re-recording never loses the
        previous one, and what was paid for is kept.

        Raises CassetteError when the file cannot be written; the file on disk and what
        this cassette holds in memory are left as they were, so a later save may succeed.
        """
        if not self.dirty:
            return
        try:
            with store.locked(self.path.parent):
                # Temporary files of writers killed mid-save (under this same lock).
                store.remove_stale_temps(self.path)
                if not self._append():
                    self._merge(keep_replaced=keep_replaced)
                self._on_disk = store.signature(self.path)
        except OSError as exc:
            raise _unwritable(self.path, exc) from None
        # `existed` keeps its value from the start of the run: record mode `once`
        # goes on recording into a cassette that this run created.
        self.version += 1
        self._added.clear()
        if not keep_replaced:
            self._dropped.clear()

    def _append(self) -> bool:
        """Add the new recordings at the end of the file, if it is as this object left it.

        The usual save of a cassette that tests share: the YAML of the new recordings only,
        so a run that records into a large cassette test after test stays linear.
        """
        new = [i for i in self.interactions if identity(i) in self._added]
        if self._dropped or self._on_disk is None or len(new) == len(self.interactions):
            return False
        if store.signature(self.path) != self._on_disk:
            return False  # another process wrote it: merge with what it holds
        try:
            raw = self.path.read_bytes()
        except OSError:
            return False
        if not store.is_current_format(raw):  # an earlier version's file: rewrite it
            return False
        store.write_atomic(self.path, raw.decode("utf-8") + store.dumps_more(new))
        return True

    def _merge(self, *, keep_replaced: bool) -> None:
        """Write what the file holds now, less what was replaced, plus the new recordings."""
        on_disk = self._reader(self.path) or []
        disk_ids = {identity(i) for i in on_disk}
        merged = [i for i in on_disk if identity(i) not in self._dropped]
        merged += [
            i
            for i in self.interactions
            if identity(i) in self._added and identity(i) not in disk_ids
        ]
        if keep_replaced:
            merged += [i for i in on_disk if identity(i) in self._dropped]
        store.write_atomic(self.path, store.dumps(store.document(merged)))
        self.interactions = merged
        self._forget_indexes()


def _created_since(path: Path, interactions: list[dict[str, Any]], moment: float) -> bool:
    """Whether the file and everything in it were written at or after `moment`.

    A file that existed before may have been rewritten since (a test with another record
    mode shares it), but then it still holds interactions recorded before `moment`.
    """
    try:
        if path.stat().st_mtime < moment:
            return False
    except OSError:
        return False
    for interaction in interactions:
        try:
            recorded = datetime.fromisoformat(str(interaction.get("recorded_at"))).timestamp()
        except (ValueError, OverflowError, OSError):  # hand-written or missing: an old one
            return False
        if recorded < moment:
            return False
    return True


def _unwritable(path: Path, exc: OSError) -> CassetteError:
    """The error for a cassette that cannot be written, naming the folder at fault."""
    where = Path(exc.filename) if exc.filename else path.parent
    while not where.exists() and where != where.parent:  # mkdir: the parent refused it
        where = where.parent
    if where.is_dir():
        problem = f"{display(where)} is not writable ({exc.strerror or exc})"
    else:  # a file where a folder should be
        problem = f"{display(where)} is a file, not a folder"
    return CassetteError(
        path,
        f"cannot write it: {problem}; the calls this test recorded are not saved",
        fix="make that folder writable, or record into another one with "
        "--llm-cassette-dir=DIR (ini llm_cassette_dir)",
    )
