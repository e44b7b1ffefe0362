"""The core without sockets: keys, paths, scrubbing, the store and the network guard."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from kit import interaction

from pytest_llm.calls import LLMCall
from pytest_llm.cassettes import interaction as wire
from pytest_llm.cassettes import store
from pytest_llm.cassettes.cassette import Cassette
from pytest_llm.cassettes.paths import cassette_for_test, named_cassette, safe_name
from pytest_llm.errors import CassetteError
from pytest_llm.keys import DEFAULT_MATCH_ON, make_key, parse_match_on
from pytest_llm.providers import Endpoint, recognize, recognize_path
from pytest_llm.replay.netguard import NetworkBlocked, blocked
from pytest_llm.replay.transport import header_items
from pytest_llm.report import figures
from pytest_llm.scrub import Scrubber

CHAT = Endpoint("openai", "chat.completions")
BODY = {
    "model": "gpt-4o",
    "messages": [{"role": "user", "content": "hi"}],
    "temperature": 1.0,
    "seed": 3,
}


def test_the_key_ignores_order_whitespace_and_fields_that_do_not_change_the_answer() -> None:
    reordered = json.loads(json.dumps(dict(reversed(BODY.items())), indent=4))
    noisy = {**reordered, "user": "u1", "metadata": {"a": 1}, "store": True, "temperature": 1}
    noisy["stream_options"] = {"include_usage": True}
    assert make_key(CHAT, noisy, DEFAULT_MATCH_ON) == make_key(CHAT, BODY, DEFAULT_MATCH_ON)


@pytest.mark.parametrize(
    "change",
    [
        {"model": "gpt-4o-mini"},
        {"messages": [{"role": "user", "content": "hi!"}]},
        {"temperature": 0.5},
        {"seed": 4},
        {"top_p": 0.9},
        {"max_tokens": 10},
        {"stream": True},
        {"tools": [{"type": "function", "function": {"name": "f"}}]},
        {"response_format": {"type": "json_object"}},
    ],
)
def test_every_part_of_the_key_changes_it(change: dict[str, object]) -> None:
    assert make_key(CHAT, {**BODY, **change}, DEFAULT_MATCH_ON) != make_key(
        CHAT, BODY, DEFAULT_MATCH_ON
    )


def test_match_on_narrows_and_rejects_unknown_fields() -> None:
    narrow = parse_match_on(["model", "prompt"])
    assert make_key(CHAT, {**BODY, "temperature": 0}, narrow) == make_key(CHAT, BODY, narrow)
    assert make_key(CHAT, {**BODY, "model": "o3"}, narrow) != make_key(CHAT, BODY, narrow)
    only_seed = parse_match_on(["seed"])
    assert make_key(CHAT, {**BODY, "seed": 1}, only_seed) != make_key(CHAT, BODY, only_seed)
    with pytest.raises(ValueError, match="unknown match_on field\\(s\\) 'tone'; valid: "):
        parse_match_on(["model", "tone"])


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1/chat/completions", CHAT),
        ("/api/v1/chat/completions/", CHAT),
        ("/openai/deployments/gpt4/chat/completions", CHAT),
        ("/v1/responses", Endpoint("openai", "responses")),
        ("/v1/embeddings", Endpoint("openai", "embeddings")),
        ("/v1/messages", Endpoint("anthropic", "messages")),
        ("/v1/messages/count_tokens", Endpoint("anthropic", "messages.count_tokens")),
        ("/v1/models", None),
        ("/v1/files", None),
    ],
)
def test_endpoints_are_recognised_by_path(path: str, expected: Endpoint | None) -> None:
    assert recognize_path(path) == expected


def test_a_body_that_is_not_a_model_request_passes_through() -> None:
    assert recognize("POST", "/v1/messages", {"text": "a chat app's own API"}) is None
    assert recognize("GET", "/v1/chat/completions", {"model": "x"}) is None
    assert recognize("POST", "/v1/messages", {"model": "claude"}) == Endpoint(
        "anthropic", "messages"
    )


def test_file_names_keep_ids_and_replace_only_unusable_characters(tmp_path: Path) -> None:
    assert safe_name("test_a[gpt-4o-mini-0.5]") == "test_a[gpt-4o-mini-0.5]"
    assert safe_name('test_a[a/b\\c:d*e?"f<g>h|i]') == "test_a[a_b_c_d_e__f_g_h_i]"
    long = safe_name("t" * 400)
    assert len(long.encode()) <= 150 and long != safe_name("t" * 401)
    assert cassette_for_test(tmp_path, "tests/unit/test_x.py::TestA::test_b[1]") == (
        tmp_path / "tests" / "unit" / "test_x" / "TestA.test_b[1].yaml"
    )
    assert named_cassette(tmp_path, "../shared/chat") == tmp_path / "shared" / "chat.yaml"
    with pytest.raises(ValueError, match="names no file"):
        named_cassette(tmp_path, "/")


def test_scrubber_removes_credentials_everywhere() -> None:
    scrubber = Scrubber(["X-Team-Token"], [r"\d{3}-\d{4}"])
    headers = [
        ("Authorization", "Bearer sk-live-abcdefgh"),
        ("X-Team-Token", "team-secret-1"),
        ("anthropic-version", "2023-06-01"),
        ("User-Agent", "OpenAI/Python 3"),
    ]
    secrets = scrubber.secrets_in(headers, "api-key=query-secret-9&x=1")
    assert sorted(secrets) == ["query-secret-9", "sk-live-abcdefgh", "team-secret-1"]
    # Remembered for the run: a later request that does not carry them still loses them.
    assert sorted(scrubber.secrets_in([], "")) == sorted(secrets)
    assert scrubber.headers(headers, secrets) == {"anthropic-version": "2023-06-01"}
    assert scrubber.query("api-key=query-secret-9&api-version=2024") == "api-version=2024"
    body = {"messages": [{"content": "key sk-live-abcdefgh, call 555-1234"}]}
    assert scrubber.body(body, secrets) == {
        "messages": [{"content": "key <scrubbed>, call <scrubbed>"}]
    }


def test_store_round_trip_is_readable(tmp_path: Path) -> None:
    interaction = {
        "request": {"path": "/v1/chat/completions", "body": {"model": "m"}},
        "response": {"status": 200, "body": {"text": "line one\nline two"}},
    }
    text = store.dumps(store.document([interaction]))
    assert "text: |-\n" in text and text.startswith("# pytest-llm cassette")
    path = tmp_path / "c.yaml"
    store.write_atomic(path, text)
    assert store.read(path) == [interaction]
    assert [p.name for p in tmp_path.iterdir()] == ["c.yaml"]
    assert store.read(tmp_path / "missing.yaml") is None


def test_store_errors_name_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(b"version: 1\ninteractions:\n- \xff\xfe\n")
    with pytest.raises(CassetteError, match=r"bad.yaml:3: not UTF-8 text"):
        store.read(path)


def test_save_merges_what_another_process_wrote(tmp_path: Path) -> None:
    def entry(prompt: str, at: str) -> dict[str, object]:
        body = {"model": "m", "messages": [{"role": "user", "content": prompt}]}
        return {
            "key": make_key(CHAT, body, DEFAULT_MATCH_ON),
            "recorded_at": at,
            "request": {"path": "/v1/chat/completions", "body": body},
            "response": {"status": 200, "body": {}},
        }

    path = tmp_path / "shared.yaml"
    mine, theirs = Cassette.load(path), Cassette.load(path)
    mine.append(entry("a", "1"))
    theirs.append(entry("b", "2"))
    mine.save()
    theirs.save()
    assert [i["recorded_at"] for i in store.read(path) or []] == ["1", "2"]


def test_network_guard_refuses_non_loopback_before_connecting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    attempted: list[object] = []
    # A stand-in for the real connect: nothing can leave the machine in this test.
    monkeypatch.setattr(socket.socket, "connect", lambda self, address: attempted.append(address))
    with blocked(), socket.socket() as sock:
        with pytest.raises(NetworkBlocked, match=r"refused a connection to 203\.0\.113\.9:443"):
            sock.connect(("203.0.113.9", 443))
        sock.connect(("127.0.0.1", 9))
        sock.connect(("localhost", 9))
    assert attempted == [("127.0.0.1", 9), ("localhost", 9)]


def test_a_recorded_stream_is_rendered_to_wire_bytes_once() -> None:
    events = [{"event": "ping", "data": {"type": "ping"}}, {"data": "[DONE]"}]
    recorded = {"response": {"status": 200, "events": events}}
    first = wire.replay_events(recorded)
    assert first == [b'event: ping\ndata: {"type":"ping"}\n\n', b"data: [DONE]\n\n"]
    first.clear()  # a caller's list is its own
    assert wire._RENDERED[id(events)][0] is events
    assert wire.replay_events(recorded) == wire.replay_events({"response": {"events": events}})
    same_text = [dict(event) for event in events]  # another recording: rendered for itself
    assert wire.replay_events({"response": {"events": same_text}})[1] == b"data: [DONE]\n\n"


def test_rewrite_sets_aside_only_the_rewriting_tests_recordings(tmp_path: Path) -> None:
    def recorded(test: str | None, when: str) -> dict[str, object]:
        interaction: dict[str, object] = {"key": "k", "recorded_at": when}
        if test is not None:
            interaction["test"] = test
        return interaction

    legacy, one, two = recorded(None, "0"), recorded("t::one", "1"), recorded("t::two", "2")
    cassette = Cassette(tmp_path / "shared.yaml", [legacy, one, two])
    cassette.start_rewrite("t::one")
    # What an earlier version wrote names no test: the first rewrite replaces it, as before.
    assert cassette.baseline == [legacy, one] and cassette.interactions == [two]
    cassette.start_rewrite("t::two")
    assert cassette.baseline == [two] and cassette.interactions == []


def test_a_recording_is_found_by_the_key_it_names_and_checked_when_it_is_used(
    tmp_path: Path,
) -> None:
    def recorded(prompt: str) -> dict[str, object]:
        body = {"model": "gpt-4o", "messages": [{"role": "user", "content": prompt}]}
        key = make_key(CHAT, body, DEFAULT_MATCH_ON)
        return {"key": key, "request": {"path": "/v1/chat/completions", "body": body}}

    def key(prompt: str) -> str:
        return str(recorded(prompt)["key"])

    first, edited, earlier, again = (recorded(p) for p in ("one", "two", "three", "one"))
    edited["request"]["body"]["messages"][0]["content"] = "two, edited"  # type: ignore[index]
    earlier["key"] = "a key of an earlier version"
    cassette = Cassette(tmp_path / "c.yaml", [first, edited, earlier, again])
    spec = DEFAULT_MATCH_ON
    assert cassette.positions(spec, key("one"), wanted=2) == [0, 3]
    # A hand edit of the request is caught when its key is asked: not the old answer...
    assert cassette.positions(spec, key("two")) == []
    # ...and the edited request gets it, as does a recording whose named key is outdated.
    assert cassette.positions(spec, key("two, edited")) == [1]
    assert cassette.positions(spec, key("three")) == [2]
    assert cassette.positions(spec, key("one"), wanted=3) == [0, 3]  # no third recording


def test_saving_a_shared_cassette_test_after_test_appends_and_still_merges(
    tmp_path: Path,
) -> None:
    path = tmp_path / "shared.yaml"

    def recorded(when: str) -> dict[str, object]:
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": when}]}
        return {
            "key": when,
            "recorded_at": when,
            "request": {"path": "/v1/chat/completions", "body": body},
            "response": {"status": 200, "events": [{"data": {"n": 1e-05}}], "final": {}},
        }

    ours = Cassette.load(path)
    for when in ("1", "2", "3"):
        ours.append(recorded(when))
        ours.save()
        written = path.read_text()
        # Appending gives the very text of a whole save: later loads see no difference.
        assert written == store.dumps(store.document(ours.interactions))
    other = Cassette.load(path)  # another process (an xdist worker) records too
    other.append(recorded("4"))
    other.save()
    ours.append(recorded("5"))
    ours.save()  # the file changed behind our back: merged, not appended
    assert [i["key"] for i in store.read(path) or []] == ["1", "2", "3", "4", "5"]


def test_scrubbing_a_request_checks_its_raw_json_before_walking_it() -> None:
    import json as _json

    from pytest_llm.scrub import SCRUBBED, Scrubber

    scrubber = Scrubber()
    body = {"messages": [{"role": "user", "content": "my key is sk-live-0123456789"}]}
    raw = _json.dumps(body).encode()
    secrets = ["sk-live-0123456789"]
    assert scrubber.request(body, secrets, raw)["messages"][0]["content"] == f"my key is {SCRUBBED}"
    clean = {"messages": [{"role": "user", "content": "hello"}]}
    assert scrubber.request(clean, secrets, _json.dumps(clean).encode()) is clean  # no walk
    # A secret that JSON would escape cannot be looked for in the raw text: the body is walked.
    odd = 'quote"inside-secret'
    quoted = {"content": f"x {odd}"}
    walked = scrubber.request(quoted, [odd], _json.dumps(quoted).encode())
    assert walked == {"content": f"x {SCRUBBED}"}


def test_a_tests_record_keeps_the_answers_text_only_for_the_report_files() -> None:
    full = figures.test_record("t", [LLMCall(interaction(), replayed=True)])
    summary_only = figures.test_record("t", [LLMCall(interaction(), replayed=True)], texts=False)
    assert (full["calls"][0]["text"], full["calls"][0]["answer"]) == ("a\nb\n", "a\nb\n")
    assert "text" not in summary_only["calls"][0] and "answer" not in summary_only["calls"][0]
    for name in ("text", "answer"):
        del full["calls"][0][name]
    assert summary_only == full  # every figure the terminal summary shows is there


@pytest.mark.parametrize("module", ["httpx", "httpx2"])
def test_a_requests_headers_are_read_as_httpx_reads_them(module: str) -> None:
    headers = pytest.importorskip(module).Headers(
        [
            ("Authorization", "Bearer sk-a"),
            ("X-Dup", "one"),
            ("x-dup", "two"),
            ("Content-Type", "application/json"),
            ("X-Text", "café".encode()),  # not ASCII: the whole set is read as UTF-8
        ]
    )
    assert header_items(headers) == list(headers.multi_items())
    latin = pytest.importorskip(module).Headers([("X-Name", "Müller".encode("latin-1"))])
    assert header_items(latin) == list(latin.multi_items()) == [("x-name", "Müller")]


def test_replayed_headers_never_carry_a_recorded_length() -> None:
    # The answer is sent re-encoded or cut: each client hook gives the length it sends.
    stored = interaction()
    stored["response"]["headers"] = {"Content-Length": "3", "x-request-id": "req_1"}
    assert wire.replay_headers(stored) == [
        ("x-request-id", "req_1"),
        ("content-type", "application/json"),
    ]
