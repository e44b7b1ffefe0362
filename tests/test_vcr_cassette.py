"""The `vcr` fixture and `pytest_recording_configure` as pytest-recording gives them (SPEC
"Coming from pytest-recording"): vcrpy's Cassette read API in a marked test, None elsewhere;
a VCR object whose persister, matchers and attributes are used."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
import yaml
from fake_provider import FakeProvider
from kit import vcrpy_chat, with_keys, write_vcrpy_cassette

NO_RECORDING = "-p no:recording"
WEATHER = "http://tools.example/weather?city=Oslo"
CONTACTS = "http://tools.example/contacts"


def _plain(method: str, uri: str, body: Any, answer: Any) -> dict[str, Any]:
    return {
        "request": {
            "body": None if body is None else json.dumps(body),
            "headers": {"Content-Type": ["application/json"]} if body is not None else {},
            "method": method,
            "uri": uri,
        },
        "response": {
            "body": {"string": json.dumps(answer)},
            "headers": {"Content-Type": ["application/json"]},
            "status": {"code": 200, "message": "OK"},
        },
    }


READS = """
import json
from collections import Counter

import httpx
import openai
import pytest
from vcr.record_mode import RecordMode
from vcr.request import Request

WEATHER = "http://tools.example/weather?city=Oslo"
client = openai.OpenAI(base_url="https://api.openai.com/v1", api_key="sk-test")


@pytest.mark.vcr
def test_reads(vcr):
    assert vcr.record_mode == RecordMode.NONE and vcr.record_mode == "none"
    assert (len(vcr), vcr.play_count, vcr.all_played) == (3, 0, False)
    assert all(isinstance(request, Request) for request in vcr.requests)
    assert [r.method for r in vcr.requests] == ["GET", "POST", "POST"]
    weather = vcr.requests[0]
    assert (weather.scheme, weather.host, weather.port, weather.path) == (
        "http", "tools.example", 80, "/weather"
    )
    assert weather.query == [("city", "Oslo")] and weather.body is None
    chat = vcr.requests[1]
    assert chat.host == "api.openai.com" and chat.path == "/v1/chat/completions"
    assert json.loads(chat.body)["messages"][0]["content"] == "hi"
    assert json.loads(vcr.requests[2].body) == {"name": "Ada"}
    assert Request("GET", WEATHER, None, {}) in vcr
    assert Request("GET", WEATHER.replace("Oslo", "Rome"), None, {}) not in vcr

    assert httpx.get(WEATHER).json() == {"temp": 21.5}
    assert Request("GET", WEATHER, None, {}) not in vcr  # played: vcrpy plays it once
    reply = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )
    assert reply.choices[0].message.content == "Hello!"
    assert vcr.play_counts == Counter({0: 1, 1: 1}) and not vcr.all_played
    assert httpx.post("http://tools.example/contacts", json={"name": "Ada"}).json() == {"id": 7}
    assert (vcr.play_count, vcr.all_played) == (3, True)

    response = vcr.responses[1]
    assert response["status"] == {"code": 200, "message": "OK"}
    assert json.loads(response["body"]["string"])["choices"][0]["message"]["content"] == "Hello!"
    assert [request.uri for request, _ in vcr.data] == [r.uri for r in vcr.requests]
    assert str(vcr) == "<Cassette containing 3 recorded response(s)>"


def test_unmarked(vcr):
    assert vcr is None


def test_not_asking():
    pass
"""


def test_a_marked_tests_vcr_is_vcrpys_cassette_read_api_over_llm_and_plain_http_in_file_order(
    pytester: pytest.Pytester,
) -> None:
    write_vcrpy_cassette(
        pytester.path / "cassettes" / "test_app" / "test_reads.yaml",
        _plain("GET", WEATHER, None, {"temp": 21.5}),
        vcrpy_chat("hi", "Hello!"),
        _plain("POST", CONTACTS, {"name": "Ada"}, {"id": 7}),
    )
    pytester.makepyfile(test_app=READS)
    result = pytester.runpytest(NO_RECORDING, "--block-network")
    result.assert_outcomes(passed=3)


REWRITE = """
import os

import openai
import pytest


@pytest.mark.vcr
def test_records(vcr):
    assert vcr.record_mode == "new_episodes"  # pytest-recording hands rewrite to vcrpy so
    client = openai.OpenAI(base_url=os.environ["FAKE_OPENAI_BASE_URL"])
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
    assert (len(vcr), vcr.play_count, vcr.all_played) == (1, 0, False)
    assert vcr.requests[0].host == "127.0.0.1"  # where this test sent it
"""


def test_while_recording_the_cassette_holds_the_new_recordings_unplayed(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    pytester.makepyfile(test_app=REWRITE)
    pytester.runpytest(NO_RECORDING, "--record-mode=rewrite").assert_outcomes(passed=1)
    assert len(inner_env.requests) == 1


PERSISTER = """
import gzip
import json

from vcr.persisters.filesystem import CassetteNotFoundError
from vcr.serialize import deserialize


class GzipPersister:
    '''Keeps cassettes gzipped next to the name pytest-recording gives them.'''

    @classmethod
    def load_cassette(cls, cassette_path, serializer):
        try:
            with open(cassette_path + ".gz", "rb") as file:
                return deserialize(gzip.decompress(file.read()).decode(), serializer)
        except FileNotFoundError:
            raise CassetteNotFoundError() from None

    @staticmethod
    def save_cassette(cassette_path, cassette_dict, serializer):
        raise AssertionError("pytest-llm does not write through a persister")


def model(r1, r2):
    assert json.loads(r1.body)["model"] == json.loads(r2.body)["model"]


def pytest_recording_configure(config, vcr):
    vcr.register_persister(GzipPersister)
    vcr.register_matcher("model", model)
    vcr.match_on = ("method", "path", "model")
    vcr.record_on_exception = False
"""

MODELS = """
import openai
import pytest

client = openai.OpenAI(base_url="https://api.openai.com/v1", api_key="sk-test")


def ask(model):
    messages = [{"role": "user", "content": "hi"}]
    reply = client.chat.completions.create(model=model, messages=messages)
    return reply.choices[0].message.content


@pytest.mark.vcr
def test_models_in_another_order(vcr):
    assert ask("gpt-4.1") == "from 4.1"
    assert ask("gpt-4o-mini") == "from mini"
    assert vcr.all_played


@pytest.mark.vcr
def test_other(vcr):
    assert ask("gpt-4.1") == "from 4.1"
"""


def _gzipped(path: Any, *interactions: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"interactions": list(interactions), "version": 1}
    path.write_bytes(gzip.compress(yaml.safe_dump(document).encode()))


def test_a_registered_persister_and_matcher_and_assigned_match_on_are_used(
    pytester: pytest.Pytester,
) -> None:
    folder = pytester.path / "cassettes" / "test_app"
    mini, four = vcrpy_chat("hi", "from mini"), vcrpy_chat("hi", "from 4.1")
    four["request"]["body"] = four["request"]["body"].replace("gpt-4o-mini", "gpt-4.1")
    _gzipped(folder / "test_models_in_another_order.yaml.gz", mini, four)
    _gzipped(folder / "test_other.yaml.gz", four)
    pytester.makeconftest(PERSISTER)
    pytester.makepyfile(test_app=MODELS)
    result = pytester.runpytest(NO_RECORDING)
    result.assert_outcomes(passed=2, warnings=1)
    result.stdout.fnmatch_lines(
        [
            "*PytestWarning: pytest-llm: pytest_recording_configure set "
            "vcr.record_on_exception, which pytest-llm does not support; it is ignored"
        ]
    )


def test_without_the_persister_the_gzipped_cassettes_are_not_found(
    pytester: pytest.Pytester,
) -> None:
    folder = pytester.path / "cassettes" / "test_app"
    _gzipped(folder / "test_other.yaml.gz", vcrpy_chat("hi", "from 4.1"))
    pytester.makepyfile(test_app=MODELS)
    result = pytester.runpytest(NO_RECORDING, "-k", "test_other")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*the cassette does not exist yet*"])


def test_a_failing_serializer_fails_the_test_naming_the_cassette(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_keys(monkeypatch)
    write_vcrpy_cassette(
        pytester.path / "cassettes" / "test_app" / "test_other.yaml", vcrpy_chat("hi", "x")
    )
    pytester.makeconftest(
        """
class Broken:
    @staticmethod
    def deserialize(text):
        raise ValueError("no such format")


def pytest_recording_configure(config, vcr):
    vcr.register_serializer("yaml", Broken)
"""
    )
    pytester.makepyfile(test_app=MODELS)
    result = pytester.runpytest(NO_RECORDING, "-k", "test_other")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "cannot use cassette cassettes/test_app/test_other.yaml: the serializer or "
            "persister registered in pytest_recording_configure failed (no such format)",
        ]
    )
