"""pytest-recording's names served by pytest-llm: vcr_config, markers, options, in-place reading.

The end-to-end move of a recorded suite is in test_vcr_dropin.py; these tests pin each
vcr_config key and option on small hand-written vcrpy cassettes and the fake provider.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from fake_provider import FakeProvider
from kit import CHAT, sdks_send_through_httpx, vcrpy_chat, write_vcrpy_cassette

from pytest_llm.replay.vcr import VcrRules

NO_RECORDING = "-p no:recording"  # pytest-recording is installed here (dev extra): leave it out
# The client of inner tests that talk to the fake provider (see the inner_env fixture).
FAKE_CLIENT = (
    'client = openai.OpenAI(base_url=os.environ["FAKE_OPENAI_BASE_URL"], '
    'api_key="sk-test-0123456789")\n'
)


def _vcr_get(uri: str, answer: Any) -> dict[str, Any]:
    return {
        "request": {"body": None, "headers": {}, "method": "GET", "uri": uri},
        "response": {
            "body": {"string": json.dumps(answer)},
            "headers": {"Content-Type": ["application/json"]},
            "status": {"code": 200, "message": "OK"},
        },
    }


def inner_file(pytester: pytest.Pytester, body: str) -> Path:
    """An inner test module with the imports its tests use."""
    path: Path = pytester.makepyfile(test_app="import os\n\nimport openai\nimport pytest\n" + body)
    return path


def test_a_vcr_test_replays_its_vcrpy_cassette_in_place_and_reports_the_stale_call(
    pytester: pytest.Pytester,
) -> None:
    cassette = write_vcrpy_cassette(
        pytester.path / "cassettes" / "test_app" / "test_chat.yaml", vcrpy_chat("hi", "Hello!")
    )
    before = cassette.read_bytes()
    inner_file(
        pytester,
        CHAT
        + """
@pytest.mark.vcr
def test_chat(vcr, llm):
    assert (len(vcr), vcr.play_count, vcr.all_played) == (1, 0, False)
    assert chat("hi there") == "Hello!"
    assert (vcr.play_counts, vcr.all_played) == ({0: 1}, True)
    assert b'"content": "hi"' in vcr.requests[0].body.replace(b'":"', b'": "')
    assert llm.calls[0].stale
    assert llm.calls[0].stale_diff == [
        "$.messages[0].content: recorded 'hi', now 'hi there'"
    ]
""",
    )
    result = pytester.runpytest(NO_RECORDING)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "stale recordings: 1 call(s) in 1 test(s)*",
            "  test_app.py::test_chat",
            "      $.messages[0].content: recorded 'hi', now 'hi there'",
            "    re-record: pytest test_app.py::test_chat --llm-record=all",
        ]
    )
    assert cassette.read_bytes() == before  # replay never writes

    strict = pytester.runpytest(NO_RECORDING, "--llm-strict")
    strict.assert_outcomes(failed=1)
    strict.stdout.fnmatch_lines(["*1 call(s) answered from a stale recording (--llm-strict)*"])


def test_match_on_from_vcr_config_answers_in_recorded_order_and_a_miss_says_how_it_matched(
    pytester: pytest.Pytester,
) -> None:
    write_vcrpy_cassette(
        pytester.path / "cassettes" / "test_app" / "test_twice.yaml",
        vcrpy_chat("first", "one"),
        vcrpy_chat("second", "two"),
    )
    inner_file(
        pytester,
        CHAT
        + """
@pytest.fixture
def vcr_config():
    return {"match_on": ["method", "path"]}


@pytest.mark.vcr
def test_twice(llm):
    assert chat("anything") == "one"
    assert chat("else") == "two"
    chat("a third time")
""",
    )
    result = pytester.runpytest(NO_RECORDING)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*no recording for this call in cassettes/test_app/test_twice.yaml",
            "*request: POST https://api.openai.com/v1/chat/completions",
            "*matched as vcrpy does, on: method, path (vcr_config match_on)",
            "*this exact call was recorded 2 time(s) and asked a 3rd time",
        ]
    )


def test_default_vcr_matching_keeps_host_and_query_for_plain_http(
    pytester: pytest.Pytester,
) -> None:
    folder = pytester.path / "cassettes" / "test_app"
    for name in ("TestTools.test_weather[oslo]", "TestTools.test_other_host"):
        write_vcrpy_cassette(
            folder / f"{name}.yaml",
            _vcr_get("https://weather.example/v1?city=Oslo&units=metric", {"temp": 3}),
        )
    inner_file(
        pytester,
        """
import httpx

PARAMS = {"units": "metric", "city": "Oslo"}  # another order: vcrpy sorts the query


class TestTools:
    @pytest.mark.vcr
    @pytest.mark.parametrize("city", ["Oslo"], ids=["oslo"])
    def test_weather(self, city):
        assert httpx.get("https://weather.example/v1", params=PARAMS).json() == {"temp": 3}

    @pytest.mark.vcr
    def test_other_host(self):
        httpx.get("https://weather.other/v1", params=PARAMS)
""",
    )
    result = pytester.runpytest(NO_RECORDING)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*no recording for this HTTP request in "
            "cassettes/test_app/TestTools.test_other_host.yaml",
            "  request: GET https://weather.other/v1?units=metric&city=Oslo",
            "  matched as vcrpy does, on: method, scheme, host, port, path, query*",
            "  nearest recorded request (interaction #0) differs in:",
            "    $.url: recorded 'https://weather.example:443/v1', now 'https://weather.other:443/v1'",
            "  record it with: pytest test_app.py::TestTools::test_other_host "
            "--llm-record=new_episodes",
        ]
    )


def test_extra_cassettes_and_default_cassette_marker(pytester: pytest.Pytester) -> None:
    folder = pytester.path / "cassettes" / "test_app"
    write_vcrpy_cassette(folder / "shared.yaml", vcrpy_chat("shared", "from the shared cassette"))
    write_vcrpy_cassette(folder / "own.yaml", vcrpy_chat("own", "from its own cassette"))
    inner_file(
        pytester,
        CHAT
        + """
@pytest.mark.vcr("shared.yaml")
@pytest.mark.default_cassette("own")
def test_both():
    assert chat("own") == "from its own cassette"
    assert chat("shared") == "from the shared cassette"
""",
    )
    pytester.runpytest(NO_RECORDING).assert_outcomes(passed=1)
    assert not (folder / "test_both.yaml").exists()


def test_vcr_config_filters_and_hooks_shape_what_is_recorded(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    pytester.makeconftest(
        """
import pytest


def drop_health(request):
    return None if request.path.endswith("/health") else request


def trim_answer(response):
    response["headers"].pop("x-request-id", None)
    return response


@pytest.fixture
def vcr_config():
    return {
        "filter_headers": [("x-team", "redacted"), "x-trace"],
        "filter_query_parameters": ["token"],
        "filter_post_data_parameters": ["user"],
        "before_record_request": drop_health,
        "before_record_response": trim_answer,
        "ignore_localhost": False,
    }
"""
    )
    inner_file(
        pytester,
        FAKE_CLIENT
        + """
import httpx


@pytest.mark.vcr
def test_app():
    headers = {"x-team": "blue", "x-trace": "t-1"}
    reply = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "hi"}],
        user="alice@example.com",
        extra_headers=headers,
        extra_query={"token": "tok-secret"},
    )
    assert reply.choices[0].message.content
""",
    )
    recorded = pytester.runpytest(NO_RECORDING, "--record-mode=once")
    recorded.assert_outcomes(passed=1)
    path = pytester.path / "cassettes" / "test_app" / "test_app.yaml"
    text = path.read_text()
    assert text.startswith("# pytest-llm cassette")  # written in pytest-llm's format
    stored = yaml.safe_load(text)["interactions"]
    assert len(stored) == 1
    request = stored[0]["request"]
    assert request["headers"]["x-team"] == "redacted"
    assert "x-trace" not in request["headers"]
    assert "user" not in request["body"]
    assert "tok-secret" not in text and "alice@example.com" not in text
    assert "x-request-id" not in stored[0]["response"]["headers"]

    inner_env.stop()  # offline: the replay needs nothing but the file
    pytester.runpytest(NO_RECORDING).assert_outcomes(passed=1)


def test_ignore_hosts_stay_live_and_before_record_request_can_drop_requests(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    pytester.makeconftest(
        """
import pytest


@pytest.fixture
def vcr_config():
    return {
        "ignore_hosts": ["127.0.0.1"],
        "before_record_request": lambda r: None if "skip" in r.uri else r,
    }
"""
    )
    inner_file(
        pytester,
        """
import httpx


@pytest.mark.vcr
def test_live_only():
    base = os.environ["FAKE_OPENAI_BASE_URL"]
    assert httpx.get(base.replace("/v1", "/health")).status_code == 404  # the live answer
""",
    )
    pytester.runpytest(NO_RECORDING, "--record-mode=once").assert_outcomes(passed=1)
    assert not (pytester.path / "cassettes" / "test_app" / "test_live_only.yaml").exists()


def test_unknown_vcr_config_keys_are_warned_about_once_each(pytester: pytest.Pytester) -> None:
    folder = pytester.path / "cassettes" / "test_app"
    for name in ("test_a", "test_b", "test_c"):
        write_vcrpy_cassette(folder / f"{name}.yaml", vcrpy_chat("hi", "Hello!"))
    inner_file(
        pytester,
        CHAT
        + """
@pytest.fixture
def vcr_config():
    return {
        "allow_playback_repeats": True,
        "record_on_exception": False,
        "match_on": ["method", "mine"],
    }


@pytest.mark.vcr
def test_a():
    assert chat("hi") == "Hello!"


@pytest.mark.vcr
def test_b():
    assert chat("hi") == "Hello!"


@pytest.mark.vcr
def test_c():
    assert chat("hi") == "Hello!"
""",
    )
    result = pytester.runpytest(NO_RECORDING)
    result.assert_outcomes(passed=3, warnings=3)
    out = result.stdout.str()
    for key in ("allow_playback_repeats", "record_on_exception", "match_on=mine"):
        assert out.count(f"vcr_config key '{key}' is not supported and is ignored") == 1, key


def test_with_pytest_recording_loaded_pytest_llm_leaves_vcr_to_it(
    pytester: pytest.Pytester,
) -> None:
    inner_file(
        pytester,
        """
def test_plain():
    pass
""",
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["pytest-llm: pytest-recording is loaded and serves the vcr marker"]
    )
    alone = pytester.runpytest(NO_RECORDING)
    assert "pytest-recording is loaded" not in alone.stdout.str()


def test_record_mode_option_is_checked_and_record_mode_in_vcr_config_wins(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    inner_file(
        pytester,
        FAKE_CLIENT
        + """


@pytest.mark.vcr(record_mode="once")
def test_records():
    client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
""",
    )
    bad = pytester.runpytest(NO_RECORDING, "--record-mode=sometimes")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*--record-mode: invalid choice: 'sometimes'*"])
    pytester.runpytest(NO_RECORDING, "--record-mode=none").assert_outcomes(passed=1)
    assert (pytester.path / "cassettes" / "test_app" / "test_records.yaml").exists()


def test_block_network_refuses_a_vcr_test_in_replay_unless_the_host_is_allowed(
    pytester: pytest.Pytester,
) -> None:
    inner_file(
        pytester,
        """
import socket


@pytest.mark.vcr
def test_connects():
    sock = socket.socket()
    sock.settimeout(0.05)
    try:
        sock.connect(("192.0.2.1", 9))  # TEST-NET: never answers
    except OSError as exc:
        print("REFUSED" if "block-network" in str(exc) else "ALLOWED", exc)
    finally:
        sock.close()
""",
    )
    blocked = pytester.runpytest(NO_RECORDING, "--block-network", "-s")
    blocked.stdout.fnmatch_lines(
        ["*REFUSED pytest-llm: --block-network refused a connection to 192.0.2.1:9; only*"]
    )
    allowed = pytester.runpytest(
        NO_RECORDING, "--block-network", "--allowed-hosts=192\\.0\\.2\\..*", "-s"
    )
    allowed.stdout.fnmatch_lines(["*ALLOWED*"])


def test_a_conftest_that_configures_vcrpy_still_loads(pytester: pytest.Pytester) -> None:
    write_vcrpy_cassette(
        pytester.path / "cassettes" / "test_app" / "test_chat.yaml", vcrpy_chat("hi", "Hi!")
    )
    pytester.makeconftest(
        """
SEEN = []


def pytest_recording_configure(config, vcr):
    SEEN.append(vcr)
"""
    )
    inner_file(
        pytester,
        CHAT
        + """
@pytest.mark.vcr
def test_chat():
    import conftest

    assert chat("hi") == "Hi!"
    assert len(conftest.SEEN) == 1
""",
    )
    pytester.runpytest(NO_RECORDING).assert_outcomes(passed=1)


def test_a_broken_vcr_cassette_fails_its_test_with_the_file_and_the_fix(
    pytester: pytest.Pytester,
) -> None:
    folder = pytester.path / "cassettes" / "test_app"
    folder.mkdir(parents=True)
    (folder / "test_broken.yaml").write_text("interactions:\n- request: [unclosed\n")
    write_vcrpy_cassette(folder / "test_fine.yaml", vcrpy_chat("hi", "Hi!"))
    inner_file(
        pytester,
        CHAT
        + """
@pytest.mark.vcr
def test_broken():
    chat("hi")


@pytest.mark.vcr
def test_fine():
    assert chat("hi") == "Hi!"
""",
    )
    result = pytester.runpytest(NO_RECORDING)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*cannot use cassette cassettes/test_app/test_broken.yaml:*not valid YAML*",
            "*fix: restore it from version control, or re-record the test with "
            "--record-mode=rewrite*",
        ]
    )


@pytest.mark.parametrize("recorded", [False, True], ids=["not-in-cassette", "in-cassette"])
def test_a_mock_transport_in_a_vcr_test_answers_what_the_cassette_does_not(
    pytester: pytest.Pytester, recorded: bool
) -> None:
    # vcrpy 9 records mock transports, earlier versions did not: a cassette may hold the
    # mock's request or not, and the test passes either way, as under pytest-recording.
    tool_call = _vcr_get("https://tools.example/search", ["from the cassette"])
    interactions = [vcrpy_chat("hi", "Hi!")] + ([tool_call] if recorded else [])
    write_vcrpy_cassette(pytester.path / "cassettes" / "test_app" / "test_tool.yaml", *interactions)
    inner_file(
        pytester,
        CHAT
        + """
import httpx


@pytest.mark.vcr
def test_tool(llm):
    tool = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200, json=["mock"])))
    answer = tool.get("https://tools.example/search").json()
    assert chat("hi") == "Hi!"
    print("ANSWER", answer, "LISTED", len(llm.http))
""",
    )
    result = pytester.runpytest(NO_RECORDING, "-s", "--llm-strict")
    result.assert_outcomes(passed=1)
    expected = "['from the cassette'] LISTED 1" if recorded else "['mock'] LISTED 0"
    assert f"ANSWER {expected}" in result.stdout.str()


def test_vcr_keys_follow_vcrpys_matchers() -> None:
    from pytest_llm.cassettes.vcr_match import VcrSpec, vcr_key, view_of_call, view_of_plain

    def call(prompt: str, path: str = "/v1/chat/completions", query: str = "") -> Any:
        body = {"model": "m", "messages": [{"role": "user", "content": prompt}], "user": None}
        return view_of_call("post", path, query, body, {"X-Team": "a", "Content-Length": "9"})

    default = VcrSpec()
    # Body-blind by default: another prompt is the same request to vcrpy.
    assert vcr_key(call("a"), default) == vcr_key(call("b"), default)
    assert vcr_key(call("a"), default) != vcr_key(call("a", path="/v1/responses"), default)
    with_body = VcrSpec(("method", "path", "body"))
    assert vcr_key(call("a"), with_body) != vcr_key(call("b"), with_body)
    assert vcr_key(call("a", query="x=1&y=2"), VcrSpec(("uri",))) == vcr_key(
        call("a", query="y=2&x=1"), VcrSpec(("uri",))
    )

    def get(url: str, team: str = "a") -> Any:
        return view_of_plain("GET", url, {}, {"x-team": team})

    assert vcr_key(get("https://h.example/p?a=1"), default) != vcr_key(
        get("https://other.example/p?a=1"), default
    )
    assert vcr_key(get("https://h.example/p"), default) == vcr_key(
        get("https://h.example:443/p"), default
    )
    headers = VcrSpec(("method", "headers"))
    assert vcr_key(get("https://h.example/p"), headers) != vcr_key(
        get("https://h.example/p", team="b"), headers
    )
    # A model call and a plain request never share a key.
    assert vcr_key(call("a"), VcrSpec(("method",))) != vcr_key(
        get("https://h/"), VcrSpec(("method",))
    )


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ('{"match_on": "method"}', "match_on='method': expected a list of matcher names"),
        (
            '{"filter_headers": [42]}',
            "filter_headers: 42 is neither a name nor a (name, value) pair",
        ),
        ('{"before_record_request": "nope"}', "before_record_request='nope': expected a function"),
        ('{"record_mode": "sometimes"}', "record_mode: unknown record mode 'sometimes'"),
    ],
)
def test_a_vcr_config_value_of_the_wrong_shape_fails_the_test_naming_the_key(
    pytester: pytest.Pytester, config: str, message: str
) -> None:
    inner_file(
        pytester,
        f"""
@pytest.fixture
def vcr_config():
    return {config}


@pytest.mark.vcr
def test_app():
    pass
""",
    )
    result = pytester.runpytest(NO_RECORDING)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*pytest-llm: vcr_config of test_app.py::test_app: {message}*"])


def test_before_record_response_returning_none_keeps_the_answer_out_of_the_cassette(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    inner_file(
        pytester,
        FAKE_CLIENT
        + """


@pytest.fixture
def vcr_config():
    return {"before_record_response": lambda response: None}


@pytest.mark.vcr
def test_app(llm):
    client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert len(llm.calls) == 1 and not llm.calls[0].replayed
""",
    )
    pytester.runpytest(NO_RECORDING, "--record-mode=once").assert_outcomes(passed=1)
    assert not (pytester.path / "cassettes" / "test_app" / "test_app.yaml").exists()


def test_block_network_applies_to_llm_tests_too(pytester: pytest.Pytester) -> None:
    inner_file(
        pytester,
        """
import socket


@pytest.mark.llm
def test_connects():
    with pytest.raises(OSError, match="--block-network refused a connection to 192.0.2.1:9"):
        socket.create_connection(("192.0.2.1", 9), timeout=0.05)
""",
    )
    pytester.runpytest(NO_RECORDING, "--block-network").assert_outcomes(passed=1)


def test_outside_vcr_tests_a_mock_transports_traffic_is_recorded_like_any_http(
    pytester: pytest.Pytester,
) -> None:
    inner_file(
        pytester,
        """
import httpx

CALLS = []


def tool(request):
    CALLS.append(str(request.url))
    return httpx.Response(200, json={"ok": True})


@pytest.mark.llm
def test_tool(llm):
    client = httpx.Client(transport=httpx.MockTransport(tool))
    assert client.get("https://tools.example/search?q=1").json() == {"ok": True}
    assert len(llm.http) == 1
    print("MOCK CALLED", len(CALLS))
""",
    )
    pytester.runpytest(NO_RECORDING, "--llm-record=once", "-s").stdout.fnmatch_lines(
        ["*MOCK CALLED 1*"]
    )
    replayed = pytester.runpytest(NO_RECORDING, "-s")
    replayed.assert_outcomes(passed=1)
    replayed.stdout.fnmatch_lines(["*MOCK CALLED 0*"])  # answered from the cassette


def test_cassette_file_names_follow_pytest_recording() -> None:
    import hashlib

    from pytest_llm.plugin.vcr_compat import cassette_name, file_name

    class TestGroup:
        pass

    assert cassette_name(TestGroup, 'test_x[a/b:"c"]') == "TestGroup.test_x[a-b--c-]"
    assert file_name("test_x") == "test_x.yaml"
    assert file_name("shared.yaml") == "shared.yaml"
    long = "test_" + "p" * 300
    shortened = file_name(long)
    assert len(shortened) == 255
    assert shortened.endswith("..." + hashlib.md5(long.encode()).hexdigest() + ".yaml")


def test_before_record_response_that_rewrites_bodies_stores_and_replays_the_new_text(
    pytester: pytest.Pytester,
    inner_env: FakeProvider,
    tool: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The usual reason for the hook: scrub a name out of what is stored. The test sees the
    # live answer while recording, and the stored one in replay: chat JSON, a stream, and
    # a tool's JSON are each re-read from the bytes the hook returned.
    pytester.makeconftest(
        """
import pytest


def scrub(response):
    body = response["body"]["string"]
    response["body"]["string"] = body.replace(b"Rosalind", b"Someone")
    response["headers"]["x-scrubbed"] = ["yes"]
    return response


@pytest.fixture
def vcr_config():
    return {"before_record_response": scrub}
"""
    )
    inner_file(
        pytester,
        FAKE_CLIENT
        + """
import anthropic
import httpx

claude = anthropic.Anthropic(
    base_url=os.environ["FAKE_ANTHROPIC_BASE_URL"], api_key="sk-ant-test-0123456789"
)


@pytest.mark.vcr
def test_app():
    reply = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "greet Rosalind"}]
    )
    with claude.messages.stream(
        model="claude-haiku-4-5",
        max_tokens=50,
        messages=[{"role": "user", "content": "thank Rosalind"}],
    ) as stream:
        streamed = "".join(stream.text_stream)
    weather = httpx.get(os.environ["TOOL_URL"] + "/weather", params={"city": "Rosalind"}).json()
    seen = [reply.choices[0].message.content, streamed, weather["city"]]
    assert all(os.environ["EXPECTED"] in text for text in seen), seen
""",
    )
    monkeypatch.setenv("EXPECTED", "Rosalind")
    pytester.runpytest(NO_RECORDING, "--record-mode=once").assert_outcomes(passed=1)
    path = pytester.path / "cassettes" / "test_app" / "test_app.yaml"
    stored = yaml.safe_load(path.read_text())["interactions"]
    assert [i["provider"] for i in stored] == ["openai", "anthropic", "http"]
    responses = [i["response"] for i in stored]
    assert "Rosalind" not in json.dumps(responses)
    assert all(r["headers"]["x-scrubbed"] == "yes" for r in responses)
    assert "Someone" in responses[0]["body"]["choices"][0]["message"]["content"]
    assert any("Someone" in json.dumps(e) for e in responses[1]["events"])
    assert "Someone" in responses[1]["final"]["content"][0]["text"]  # assembled again
    assert responses[2]["body"]["city"] == "Someone"

    inner_env.stop()
    tool.stop()
    monkeypatch.setenv("EXPECTED", "Someone")
    pytester.runpytest(NO_RECORDING, "--block-network").assert_outcomes(passed=1)


def test_a_model_answer_rewritten_to_plain_text_is_stored_as_text() -> None:
    rules = VcrRules(before_response=lambda r: {**r, "body": {"string": "not json"}})
    interaction = {
        "provider": "openai",
        "request": {"path": "/v1/chat/completions", "body": {}},
        "response": {"status": 200, "headers": {}, "body": {"id": "x"}},
    }
    stored = rules.stored(interaction)
    assert stored is not None and stored["response"] == {
        "status": 200,
        "headers": {},
        "text": "not json",
    }


PYTEST_HTTPX_SUITE = (
    FAKE_CLIENT
    + """
import httpx


def search():
    return httpx.get("https://tools.example/search").json()


def ask():
    reply = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )
    return reply.choices[0].message.content


@pytest.mark.vcr
def test_both(httpx_mock):
    httpx_mock.add_response(url="https://tools.example/search", json=[3])
    assert "hi" in ask()
    assert search() == [3]


def test_mocked_only(httpx_mock):
    httpx_mock.add_response(url="https://tools.example/search", json=[1, 2])
    assert search() == [1, 2]
"""
)


@pytest.mark.skipif(
    sdks_send_through_httpx(),
    reason="the SDKs send through httpx here, so pytest-httpx mocks their calls too",
)
@pytest.mark.parametrize("plugin", [NO_RECORDING, "-p recording"], ids=["pytest-llm", "vcrpy"])
def test_pytest_httpx_mocks_answer_their_requests_in_vcr_tests_and_elsewhere(
    pytester: pytest.Pytester,
    inner_env: FakeProvider,
    plugin: str,
) -> None:
    # pytest-httpx replaces httpx's network transport method when a test asks for
    # httpx_mock; under pytest-recording it answers before vcrpy sees the request. The
    # same suite records and replays alike under both, and its mocks are never recorded.
    inner_file(pytester, PYTEST_HTTPX_SUITE)
    pytester.runpytest(plugin, "--record-mode=once").assert_outcomes(passed=2)
    path = pytester.path / "cassettes" / "test_app" / "test_both.yaml"
    assert "tools.example" not in path.read_text()
    assert len(inner_env.requests) == 1
    inner_env.stop()
    pytester.runpytest(plugin, "--block-network").assert_outcomes(passed=2)


def test_a_cassette_path_resolves_as_path_resolve_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_llm.plugin.vcr_compat import resolved

    tmp_path = tmp_path.resolve()  # a temporary folder may itself sit behind a link
    real = tmp_path / "real" / "cassettes"
    real.mkdir(parents=True)
    (tmp_path / "linked").symlink_to(tmp_path / "real")
    (real / "target.yaml").write_text("interactions: []\n")
    (real / "alias.yaml").symlink_to(real / "target.yaml")
    folders: dict[Path, Path] = {}
    for name in ("plain.yaml", "alias.yaml", "plain.yaml"):
        path = tmp_path / "linked" / "cassettes" / name
        assert resolved(path, folders) == path.resolve()
    assert resolved(real / "alias.yaml", folders) == real / "target.yaml"  # the file is followed
    assert folders == {tmp_path / "linked" / "cassettes": real, real: real}  # once per folder
    # A relative path is resolved against the working directory of the moment, every time.
    monkeypatch.chdir(tmp_path / "linked")
    assert resolved(Path("cassettes/plain.yaml"), folders) == real / "plain.yaml"
    monkeypatch.chdir(tmp_path)
    assert resolved(Path("cassettes/plain.yaml"), folders) == tmp_path / "cassettes/plain.yaml"
