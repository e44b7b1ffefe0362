"""The load cache: parsed cassettes kept as verified JSON, keyed by the file's bytes."""

from __future__ import annotations

import gc
import hashlib
import json
import multiprocessing
import os
import time
from pathlib import Path
from typing import Any

import pytest

from pytest_llm.cassettes import load_cache, store

INTERACTIONS: list[dict[str, Any]] = [
    {
        "key": "abc",
        "request": {"path": "/v1/chat/completions", "body": {"temperature": 0.7, "n": 1}},
        "response": {
            "status": 200,
            "body": {"text": "héllo ✓\nsecond line", "score": 1.0, "big": 10**30, "none": None},
        },
        "latency_s": 0.25,
        "flags": [True, False, -0.0, 1e-300],
    }
]


class Parser:
    """A parse function that counts its calls."""

    def __init__(self, value: list[dict[str, Any]] | None = None) -> None:
        self.calls = 0
        self.value = INTERACTIONS if value is None else value

    def __call__(self) -> list[dict[str, Any]]:
        self.calls += 1
        return json.loads(json.dumps(self.value))


def entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("*" + load_cache.SUFFIX))


@pytest.fixture(autouse=True)
def no_configured_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTEST_LLM_LOAD_CACHE", raising=False)
    monkeypatch.setattr(load_cache, "_directory", None)
    monkeypatch.setattr(load_cache, "_trimmed", set())


def test_a_miss_parses_and_stores_then_a_hit_returns_the_same_value_without_parsing(
    tmp_path: Path,
) -> None:
    parse = Parser()
    first = load_cache.cached(b"file v1", parse, tmp_path)
    second = load_cache.cached(b"file v1", parse, tmp_path)
    assert parse.calls == 1
    assert first == second == INTERACTIONS
    assert [type(v) for v in second[0]["flags"]] == [bool, bool, float, float]
    assert type(second[0]["response"]["body"]["big"]) is int
    assert len(entries(tmp_path)) == 1


def test_a_changed_file_gets_a_new_entry_and_is_parsed_again(tmp_path: Path) -> None:
    parse = Parser()
    load_cache.cached(b"file v1", parse, tmp_path)
    changed = load_cache.cached(b"file v2", Parser([{"changed": True}]), tmp_path)
    assert changed == [{"changed": True}]
    assert len(entries(tmp_path)) == 2
    assert load_cache.cached(b"file v1", parse, tmp_path) == INTERACTIONS
    assert parse.calls == 1


def _corrupt(raw: bytes) -> list[bytes]:
    header_end = raw.index(b"\n", len(load_cache.MAGIC)) + 1
    digest_end = header_end + 65
    return [
        b"",  # empty
        raw[: len(raw) // 2],  # torn write
        raw[:-3] + b"X" + raw[-2:],  # a flipped byte in the payload: digest mismatch
        b"pickle\n" + raw,  # not our header
        raw.replace(load_cache.MAGIC, b"pytest-llm load cache 0\n"),  # another format
        raw[:header_end] + b"0" * 64 + b"\n" + raw[digest_end:],  # a wrong digest
        raw[:header_end] + b"not a digest" + raw[digest_end:],
    ]


@pytest.mark.parametrize("case", range(7))
def test_a_corrupted_entry_is_ignored_and_rewritten(tmp_path: Path, case: int) -> None:
    load_cache.cached(b"file", Parser(), tmp_path)
    (entry,) = entries(tmp_path)
    entry.write_bytes(_corrupt(entry.read_bytes())[case])
    parse = Parser()
    assert load_cache.cached(b"file", parse, tmp_path) == INTERACTIONS
    assert parse.calls == 1
    # Rewritten: the next load is a hit again.
    assert load_cache.cached(b"file", parse, tmp_path) == INTERACTIONS
    assert parse.calls == 1


def test_a_well_formed_entry_that_is_not_a_list_or_names_another_file_is_not_used(
    tmp_path: Path,
) -> None:
    key = load_cache.entry_key(b"file", Parser())
    entry = tmp_path / (key + load_cache.SUFFIX)
    load_cache.write_entry(entry, key, [{"ok": 1}])
    other = tmp_path / ("0" * 64 + load_cache.SUFFIX)
    other.write_bytes(entry.read_bytes())  # an entry copied under another file's name
    assert load_cache.read_entry(other, "0" * 64) is None
    payload = b'{"not": "a list"}'
    digest = hashlib.sha256(payload).hexdigest().encode()
    entry.write_bytes(load_cache.MAGIC + key.encode() + b"\n" + digest + b"\n" + payload)
    assert load_cache.read_entry(entry, key) is None


def test_the_key_depends_on_the_parser_code_and_the_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def parse_here() -> list[dict[str, Any]]:
        return []

    by_store = load_cache.entry_key(b"data", store.loads)
    assert by_store != load_cache.entry_key(b"data", parse_here)  # another source file
    monkeypatch.setattr(load_cache, "__version__", "999")
    assert by_store != load_cache.entry_key(b"data", store.loads)


def test_an_edited_parser_file_does_not_read_the_old_entries(tmp_path: Path) -> None:
    module = tmp_path / "parser_mod.py"
    module.write_text("def parse():\n    return [{'v': 1}]\n")
    namespace: dict[str, Any] = {}
    exec(compile(module.read_text(), str(module), "exec"), namespace)
    before = load_cache.entry_key(b"data", namespace["parse"])
    module.write_text("def parse():\n    return [{'v': 2}]  # edited\n")
    assert load_cache.entry_key(b"data", namespace["parse"]) != before


def test_without_a_cache_directory_it_only_parses(tmp_path: Path) -> None:
    parse = Parser()
    load_cache.cached(b"file", parse)
    load_cache.cached(b"file", parse)
    assert parse.calls == 2


def test_the_configured_directory_and_the_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_cache.configure(tmp_path / "configured")
    load_cache.cached(b"file", Parser())
    assert len(entries(tmp_path / "configured")) == 1
    monkeypatch.setenv("PYTEST_LLM_LOAD_CACHE", str(tmp_path / "env"))
    load_cache.cached(b"file", Parser())
    assert len(entries(tmp_path / "env")) == 1
    monkeypatch.setenv("PYTEST_LLM_LOAD_CACHE", "")  # turned off
    assert load_cache.directory() is None


def test_load_reads_the_file_and_caches_what_parse_makes_of_its_text(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(store.dumps(store.document(INTERACTIONS)), encoding="utf-8")
    calls: list[str] = []

    def parse(text: str) -> list[dict[str, Any]]:
        calls.append(text)
        return store.loads(text, path)

    cache = tmp_path / "cache"
    assert load_cache.load(path, parse, cache) == store.read(path)
    assert load_cache.load(path, parse, cache) == store.read(path)
    assert len(calls) == 1


def test_a_parse_error_propagates_and_nothing_is_stored(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("version: 1\ninteractions: [{a: 1}]\n")
    for _ in range(2):
        with pytest.raises(Exception, match="interaction #0"):
            load_cache.load(path, lambda text: store.loads(text, path), tmp_path / "cache")
    assert entries(tmp_path / "cache") == []


def test_a_value_that_is_not_json_data_is_returned_but_not_stored(tmp_path: Path) -> None:
    value: list[dict[str, Any]] = [{"raw": b"bytes"}]
    assert load_cache.cached(b"file", lambda: value, tmp_path) == value
    assert entries(tmp_path) == []


def test_an_unusable_cache_directory_costs_only_speed(tmp_path: Path) -> None:
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("")
    parse = Parser()
    assert load_cache.cached(b"file", parse, blocker / "cache") == INTERACTIONS
    assert load_cache.cached(b"file", parse, blocker / "cache") == INTERACTIONS
    assert parse.calls == 2


def _write_entry(size: int, folder: Path, name: str, age_s: float) -> Path:
    entry = folder / (name + load_cache.SUFFIX)
    entry.write_bytes(b"x" * size)
    moment = time.time() - age_s
    os.utime(entry, (moment, moment))
    return entry


def test_trim_keeps_the_most_recently_used_entries_within_the_bounds(tmp_path: Path) -> None:
    for n in range(6):
        _write_entry(100, tmp_path, f"e{n}", age_s=60 - n)  # e5 is the newest
    assert load_cache.trim(tmp_path, max_entries=4, max_bytes=10_000) == 2
    assert [e.stem for e in entries(tmp_path)] == ["e2", "e3", "e4", "e5"]
    assert load_cache.trim(tmp_path, max_entries=10, max_bytes=250) == 2
    assert [e.stem for e in entries(tmp_path)] == ["e4", "e5"]


def test_a_hit_counts_as_a_use_for_trimming(tmp_path: Path) -> None:
    load_cache.cached(b"old", Parser(), tmp_path)
    (old,) = entries(tmp_path)
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    _write_entry(10, tmp_path, "newer", age_s=60)
    load_cache.cached(b"old", Parser(), tmp_path)  # a hit: now the most recent
    load_cache.trim(tmp_path, max_entries=1)
    assert entries(tmp_path) == [old]


def test_trim_removes_the_temporary_files_of_dead_writers_only(tmp_path: Path) -> None:
    stale = tmp_path / ".tmp-dead.json"
    fresh = tmp_path / ".tmp-writing.json"
    for path, age in ((stale, 2 * load_cache.STALE_TEMP_S), (fresh, 1.0)):
        path.write_bytes(b"partial")
        os.utime(path, (time.time() - age, time.time() - age))
    assert load_cache.trim(tmp_path) == 1
    assert not stale.exists() and fresh.exists()


def test_the_first_write_of_a_process_trims_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(load_cache, "MAX_ENTRIES", 3)
    for n in range(5):
        _write_entry(10, tmp_path, f"old{n}", age_s=600 + n)  # old0 is the newest
    load_cache.cached(b"new", Parser(), tmp_path)
    load_cache.cached(b"newer", Parser(), tmp_path)  # trimmed once per process, not again
    kept = [e.stem for e in entries(tmp_path) if e.stem.startswith("old")]
    assert kept == ["old0", "old1", "old2"]
    assert len(entries(tmp_path)) == 5


def _writer(args: tuple[str, int]) -> bool:
    folder, rounds = args
    big = [{"n": n, "text": "x" * 2000} for n in range(300)]  # 600 kB: slow to write
    for _ in range(rounds):
        key = load_cache.entry_key(b"shared", _writer)
        entry = Path(folder) / (key + load_cache.SUFFIX)
        if not load_cache.write_entry(entry, key, big):
            return False
        found = load_cache.read_entry(entry, key)
        if found != big:  # a reader never sees a torn entry written by another process
            return False
    return True


def test_concurrent_writers_of_one_entry_never_leave_or_read_a_torn_file(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn" if os.name == "nt" else "fork")
    with context.Pool(4) as pool:
        results = pool.map(_writer, [(str(tmp_path), 15)] * 4)
    assert results == [True] * 4
    assert len(entries(tmp_path)) == 1
    assert not list(tmp_path.glob(".tmp-*")), "every temporary file was renamed or removed"


def test_the_store_loader_through_the_cache_gives_what_store_read_gives(tmp_path: Path) -> None:
    """The hook proposed for store.read: the cached value equals the parse, types included."""
    path = tmp_path / "cassette.yaml"
    recorded = [
        dict(INTERACTIONS[0], recorded_at="2025-01-01T00:00:00+00:00", key=f"k{n}")
        for n in range(20)
    ]
    path.write_text(store.dumps(store.document(recorded)), encoding="utf-8")
    raw = path.read_bytes()
    text = raw.decode()
    cache = tmp_path / "cache"
    parse = Parser()  # counts only; the real parse is store.loads

    def hooked() -> list[dict[str, Any]]:
        parse()
        return store.loads(text, path)

    cold = load_cache.cached(raw, hooked, cache, parser=store.loads)
    warm = load_cache.cached(raw, hooked, cache, parser=store.loads)
    assert parse.calls == 1
    assert cold == warm == store.read(path)
    assert json.dumps(warm, sort_keys=True) == json.dumps(store.read(path), sort_keys=True)


def test_an_entry_with_a_matching_digest_but_no_json_is_not_used(tmp_path: Path) -> None:
    key = load_cache.entry_key(b"file", Parser())
    entry = tmp_path / (key + load_cache.SUFFIX)
    payload = b"[{not json"
    digest = hashlib.sha256(payload).hexdigest().encode()
    entry.write_bytes(load_cache.MAGIC + key.encode() + b"\n" + digest + b"\n" + payload)
    assert load_cache.read_entry(entry, key) is None


def test_a_failed_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    key = load_cache.entry_key(b"file", Parser())
    (tmp_path / (key + load_cache.SUFFIX)).mkdir()  # the rename onto a folder fails
    parse = Parser()
    assert load_cache.cached(b"file", parse, tmp_path) == INTERACTIONS
    assert parse.calls == 1
    assert not list(tmp_path.glob(".tmp-*"))


def test_trim_of_a_missing_folder_removes_nothing(tmp_path: Path) -> None:
    assert load_cache.trim(tmp_path / "missing") == 0


def _current_cassette(tmp_path: Path, count: int = 3) -> Path:
    path = tmp_path / "cassettes" / "current.yaml"
    recorded = [
        dict(INTERACTIONS[0], recorded_at="2025-01-01T00:00:00+00:00", key=f"k{n}")
        for n in range(count)
    ]
    store.write_atomic(path, store.dumps(store.document(recorded)))
    assert store.is_current_format(path.read_bytes())
    return path


def _forge(entry: Path, value: list[dict[str, Any]]) -> None:
    """Replace an entry's payload by `value`, with a valid digest (as only a writer would)."""
    raw = entry.read_bytes()
    header = raw[: raw.index(b"\n", len(load_cache.MAGIC)) + 1]
    payload = json.dumps(value).encode()
    entry.write_bytes(header + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)


@pytest.fixture
def cached_cassette(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cassette of this version, read on a developer's machine (`CI` unset) with a cache."""
    monkeypatch.delenv("CI", raising=False)
    path = _current_cassette(tmp_path)
    load_cache.configure(tmp_path / "cache")
    return path


def test_a_cassette_of_this_version_is_read_from_its_cached_copy_the_second_time(
    tmp_path: Path, cached_cassette: Path
) -> None:
    path = cached_cassette
    first = store.read(path)
    (entry,) = entries(tmp_path / "cache")
    assert store.read(path) == first
    # The second read is the entry's: what it holds is what the read returns.
    _forge(entry, [dict(first[0], key="from-the-cache")])
    assert [i["key"] for i in store.read(path) or []] == ["from-the-cache"]


@pytest.mark.parametrize("case", range(7))
def test_a_broken_entry_of_a_cassette_of_this_version_falls_back_to_the_file(
    tmp_path: Path, cached_cassette: Path, case: int
) -> None:
    path = cached_cassette
    expected = store.read(path)
    (entry,) = entries(tmp_path / "cache")
    entry.write_bytes(_corrupt(entry.read_bytes())[case])
    assert store.read(path) == expected
    assert load_cache.read_entry(entry, entry.name.removesuffix(load_cache.SUFFIX)) == expected


def test_an_edited_cassette_of_this_version_is_never_served_its_old_copy(
    tmp_path: Path, cached_cassette: Path
) -> None:
    path = cached_cassette
    store.read(path)
    path.write_text(path.read_text().replace("key: k0", "key: edited"), encoding="utf-8")
    assert [i["key"] for i in store.read(path) or []] == ["edited", "k1", "k2"]
    assert len(entries(tmp_path / "cache")) == 2


@pytest.mark.parametrize("ci", ["true", "1", "True"])
def test_in_ci_a_cassette_of_this_version_is_read_directly_and_not_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ci: str
) -> None:
    monkeypatch.setenv("CI", ci)
    path = _current_cassette(tmp_path)
    load_cache.configure(tmp_path / "cache")
    assert [i["key"] for i in store.read(path) or []] == ["k0", "k1", "k2"]
    assert entries(tmp_path / "cache") == []
    # A CI that keeps a cache directory names it, and gets the copies.
    monkeypatch.setenv("PYTEST_LLM_LOAD_CACHE", str(tmp_path / "kept"))
    store.read(path)
    assert len(entries(tmp_path / "kept")) == 1


@pytest.mark.parametrize("value", ["", "false", "0", "no"])
def test_a_ci_variable_that_says_no_keeps_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CI", value)
    load_cache.configure(tmp_path / "cache")
    store.read(_current_cassette(tmp_path))
    assert len(entries(tmp_path / "cache")) == 1


def test_a_cassette_of_this_version_that_the_fast_reader_leaves_is_cached_too(
    tmp_path: Path, cached_cassette: Path
) -> None:
    path = cached_cassette
    # A tag: the fast reader leaves the file to the hardened loader.
    path.write_text(path.read_text().replace("key: k0", "key: !!str k0"), encoding="utf-8")
    assert [i["key"] for i in store.read(path) or []] == ["k0", "k1", "k2"]
    (entry,) = entries(tmp_path / "cache")
    _forge(entry, [])
    assert store.read(path) == []


def test_a_read_leaves_the_garbage_collector_as_it_found_it(tmp_path: Path) -> None:
    path = _current_cassette(tmp_path)
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\ninteractions: [\n", encoding="utf-8")
    assert gc.isenabled()
    try:
        assert store.read(path)
        with pytest.raises(store.CassetteError):
            store.read(broken)
        assert gc.isenabled()
        gc.disable()
        store.read(path)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_what_a_read_loads_goes_to_the_oldest_generation_without_a_collection(
    tmp_path: Path,
) -> None:
    path = _current_cassette(tmp_path)
    loaded = store.read(path)
    assert loaded is not None and gc.is_tracked(loaded)
    oldest = {id(o) for o in gc.get_objects(generation=2)}
    assert id(loaded) in oldest and id(loaded[0]["request"]) in oldest
    assert gc.get_freeze_count() == 0


def test_a_read_leaves_the_objects_that_the_process_froze_frozen(tmp_path: Path) -> None:
    path = _current_cassette(tmp_path)
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        assert frozen > 0
        assert store.read(path)
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
