"""Injected faults: real HTTP errors and transport failures, the SDKs' exceptions and retries."""

from __future__ import annotations

import textwrap

import pytest
import yaml
from fake_provider import FakeProvider
from kit import inner_file, without_keys

from pytest_llm.replay.faults import FaultPlan, http_fault, parse_rule

# Inner tests: each SDK, sync and async, one call that the marker's fault answers.
CLIENTS = """
import asyncio
import httpx
import httpx2

aoa = openai.AsyncOpenAI(base_url=os.environ["FAKE_OPENAI_BASE_URL"])
aan = anthropic.AsyncAnthropic(base_url=os.environ["FAKE_ANTHROPIC_BASE_URL"])
MESSAGES = [{"role": "user", "content": "Name three colours"}]


def call(flavour, retries=2):
    if flavour == "openai":
        client = oa.with_options(max_retries=retries)
        reply = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        return reply.choices[0].message.content
    if flavour == "openai-async":
        client = aoa.with_options(max_retries=retries)
        reply = asyncio.run(client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES))
        return reply.choices[0].message.content
    if flavour == "anthropic":
        client = an.with_options(max_retries=retries)
        reply = client.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=MESSAGES)
        return reply.content[0].text
    client = aan.with_options(max_retries=retries)
    coro = client.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=MESSAGES)
    return asyncio.run(coro).content[0].text


FLAVOURS = pytest.mark.parametrize(
    "flavour", ["openai", "openai-async", "anthropic", "anthropic-async"]
)

# What an SDK raises for a dropped connection moves between releases (anthropic 2.17 began
# to wrap a cut stream in APIConnectionError): accept the SDK's connection error or the raw
# transport error of either httpx flavour (older SDKs send through httpx), and find the
# transport error anywhere in the chain.
CUT = (httpx.RemoteProtocolError, httpx2.RemoteProtocolError)
DROPPED = (*CUT, openai.APIConnectionError, anthropic.APIConnectionError)


def chain(error):
    seen = []
    while error is not None and error not in seen:
        seen.append(error)
        error = error.__cause__ or error.__context__
    return seen
"""


def _run(pytester: pytest.Pytester, body: str, *args: str) -> pytest.RunResult:
    inner_file(pytester, CLIENTS + textwrap.dedent(body))
    return pytester.runpytest(*args)


def _record_then_replay(
    pytester: pytest.Pytester, body: str, monkeypatch: pytest.MonkeyPatch, **outcomes: int
) -> pytest.RunResult:
    """Faults act the same while recording and in replay (with no key and no network)."""
    _run(pytester, body, "--llm-record=once").assert_outcomes(**outcomes)
    without_keys(monkeypatch)
    result = pytester.runpytest("--llm-block-network")
    result.assert_outcomes(**outcomes)
    return result


def test_two_rate_limits_are_retried_by_the_sdks_own_loop(
    pytester: pytest.Pytester, inner_env: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = """
    @FLAVOURS
    @pytest.mark.llm_faults("rate_limit", times=2)
    def test_recovers(llm, flavour):
        assert "colours" in call(flavour)
        assert [c.fault for c in llm.calls] == ["rate_limit", "rate_limit", None]
        assert [c.status for c in llm.calls] == [429, 429, 200]
        assert llm.calls[0].cost_usd == 0.0 and llm.calls[0].usage.total_tokens == 0
    """
    _record_then_replay(pytester, body, monkeypatch, passed=4)
    # Four recordings: the faulted attempts never reached the provider.
    assert len(inner_env.requests) == 4
    for path in (pytester.path / "cassettes").rglob("*.yaml"):
        text = path.read_text()
        (interaction,) = yaml.safe_load(text)["interactions"]
        # The parsed status, not a substring: a timestamp like ".429238" contains "429".
        assert interaction["response"]["status"] == 200
        assert "injected" not in text and "rate_limit" not in text


def test_http_faults_raise_the_sdks_real_exceptions(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    errors = {
        ("rate_limit", "openai"): ("openai.RateLimitError", 429),
        ("rate_limit", "anthropic"): ("anthropic.RateLimitError", 429),
        ("server_error", "openai"): ("openai.InternalServerError", 500),
        ("server_error", "anthropic"): ("anthropic.InternalServerError", 500),
        ("overloaded", "openai"): ("openai.InternalServerError", 503),
        # anthropic before 0.108 had no OverloadedError: a 529 was its InternalServerError.
        ("overloaded", "anthropic"): (
            'getattr(anthropic, "OverloadedError", anthropic.InternalServerError)',
            529,
        ),
    }
    flavours = ("openai", "openai-async", "anthropic", "anthropic-async")
    cases = [
        (fault, flavour, *errors[fault, flavour.split("-")[0]])
        for fault in ("rate_limit", "server_error", "overloaded")
        for flavour in flavours
    ]
    tests = []
    for n, (fault, flavour, error, status) in enumerate(cases):
        tests.append(
            f"""
@pytest.mark.llm_faults({fault!r})
def test_{n}_{fault}_{flavour.replace("-", "_")}(llm):
    with pytest.raises({error}) as raised:
        call({flavour!r}, retries=0)
    check(raised.value, {fault!r}, {flavour!r}, {status})
    assert [c.fault for c in llm.calls] == [{fault!r}]
"""
        )
    body = """
def check(error, fault, flavour, status):
    assert error.status_code == status
    assert error.response.headers["x-should-retry"] == "true"
    assert "injected by pytest-llm" in str(error)
    if fault == "rate_limit":
        assert error.response.headers["retry-after"] == "1"
    if fault == "rate_limit" and flavour.startswith("openai"):
        assert error.response.headers["x-ratelimit-remaining-requests"] == "0"
        assert error.code == "rate_limit_exceeded"
    if flavour.startswith("anthropic"):
        kinds = {429: "rate_limit_error", 500: "api_error", 529: "overloaded_error"}
        assert error.body["error"]["type"] == kinds[status]
""" + "".join(tests)
    result = _run(pytester, body, "--llm-block-network")
    result.assert_outcomes(passed=len(cases))
    assert inner_env.requests == []  # nothing reached cassette or provider


def test_timeouts_and_dropped_connections_raise_the_sdks_errors(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    body = """
    ERRORS = {
        ("timeout", "openai"): openai.APITimeoutError,
        ("connection_error", "openai"): openai.APIConnectionError,
        ("timeout", "anthropic"): anthropic.APITimeoutError,
        ("connection_error", "anthropic"): anthropic.APIConnectionError,
    }

    @FLAVOURS
    @pytest.mark.llm_faults("timeout")
    def test_timeout(llm, flavour):
        with pytest.raises(ERRORS["timeout", flavour.split("-")[0]]):
            call(flavour, retries=0)
        assert [(c.fault, c.status) for c in llm.calls] == [("timeout", 0)]

    @FLAVOURS
    @pytest.mark.llm_faults("connection_error")
    def test_connection(llm, flavour):
        with pytest.raises(ERRORS["connection_error", flavour.split("-")[0]]) as raised:
            call(flavour, retries=0)
        assert not isinstance(raised.value, (openai.APITimeoutError, anthropic.APITimeoutError))
        assert any("injected by pytest-llm" in str(e) for e in chain(raised.value))
    """
    _run(pytester, body, "--llm-block-network").assert_outcomes(passed=8)
    assert inner_env.requests == []


def test_a_timeout_is_retried_and_the_retry_answered(
    pytester: pytest.Pytester, inner_env: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = """
    @pytest.mark.parametrize("flavour", ["openai", "anthropic-async"])
    @pytest.mark.llm_faults("timeout", "connection_error")
    def test_recovers(llm, flavour):
        assert "colours" in call(flavour)
        assert [c.fault for c in llm.calls] == ["timeout", "connection_error", None]
    """
    _record_then_replay(pytester, body, monkeypatch, passed=2)


def test_a_cut_stream_delivers_some_events_then_fails_like_a_dropped_connection(
    pytester: pytest.Pytester, inner_env: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = """
    def consume(flavour, got):
        prompt = [{"role": "user", "content": "Tell a long story about colours"}]
        if flavour == "openai":
            stream = oa.chat.completions.create(model="gpt-4o-mini", messages=prompt, stream=True)
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    got.append(chunk.choices[0].delta.content)
        else:
            with an.messages.stream(model="claude-haiku-4-5", max_tokens=200, messages=prompt) as s:
                for text in s.text_stream:
                    got.append(text)
        return "".join(got)

    async def consume_async(flavour, got):
        prompt = [{"role": "user", "content": "Tell a long story about colours"}]
        if flavour == "openai-async":
            stream = await aoa.chat.completions.create(
                model="gpt-4o-mini", messages=prompt, stream=True
            )
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    got.append(chunk.choices[0].delta.content)
        else:
            async with aan.messages.stream(
                model="claude-haiku-4-5", max_tokens=200, messages=prompt
            ) as s:
                async for text in s.text_stream:
                    got.append(text)
        return "".join(got)

    def consume_any(flavour, got):
        if flavour.endswith("-async"):
            return asyncio.run(consume_async(flavour, got))
        return consume(flavour, got)

    @pytest.mark.parametrize("flavour", ["openai", "anthropic", "openai-async", "anthropic-async"])
    @pytest.mark.llm_faults("stream_cut")
    def test_cut_then_retry(llm, flavour):
        with pytest.raises(DROPPED) as raised:
            consume_any(flavour, partial := [])
        [cut] = [e for e in chain(raised.value) if isinstance(e, CUT)]
        assert "peer closed connection" in str(cut)
        whole = consume_any(flavour, [])  # the application's own retry
        assert partial and len("".join(partial)) < len(whole)  # some events came first
        assert [c.fault for c in llm.calls] == ["stream_cut", None]
        assert llm.calls[0].text == llm.calls[1].text == whole
        assert len(whole) > 20
    """
    _record_then_replay(pytester, body, monkeypatch, passed=4)
    assert len(inner_env.requests) == 4  # one live call per test: the retry replays it
    for path in (pytester.path / "cassettes").rglob("*.yaml"):
        assert len(yaml.safe_load(path.read_text())["interactions"]) == 1


def test_faults_target_a_model_so_a_fallback_can_be_tested(
    pytester: pytest.Pytester, inner_env: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = """
    def answer(prompt):
        for model in ("gpt-4o", "gpt-4o-mini"):
            try:
                return ask(prompt, model=model)
            except openai.RateLimitError:
                continue
        raise RuntimeError("every model failed")

    @pytest.mark.llm_faults("rate_limit", times=3, model="gpt-4o")
    def test_falls_back(llm):
        assert "colours" in answer("Name three colours")
        assert [(c.model, c.fault) for c in llm.calls] == [
            ("gpt-4o", "rate_limit"), ("gpt-4o", "rate_limit"), ("gpt-4o", "rate_limit"),
            ("gpt-4o-mini", None),
        ]

    @pytest.mark.llm_faults("server_error", at=[1])
    @pytest.mark.llm_faults("rate_limit", provider="anthropic")
    def test_by_index_and_provider(llm):
        ask("one")
        with pytest.raises(openai.InternalServerError):
            oa.with_options(max_retries=0).chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "two"}]
            )
        assert [c.fault for c in llm.calls] == [None, "server_error"]
    """
    _record_then_replay(pytester, body, monkeypatch, passed=2)


def test_bad_fault_markers_are_usage_errors(pytester: pytest.Pytester) -> None:
    for marker, message in [
        (
            '"rate_limited"',
            "unknown fault(s) 'rate_limited'; valid: rate_limit, server_error, "
            "overloaded, timeout, connection_error, stream_cut",
        ),
        ("", "name at least one fault: rate_limit, "),
        ('"timeout", times=0', "times must be a whole number >= 1, not 0"),
        (
            '"timeout", provider="azure"',
            "provider must be one of 'anthropic', 'bedrock', 'google', 'ollama', 'openai', "
            "not 'azure'",
        ),
        ('"timeout", count=2', "unexpected keyword(s) count; valid: times, model, provider, at"),
    ]:
        pytester.makepyfile(
            f"import pytest\n\n@pytest.mark.llm_faults({marker})\ndef test_a():\n    pass\n"
        )
        result = pytester.runpytest()
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines(
            [f"*pytest-llm: @pytest.mark.llm_faults on *::test_a: {message}*"]
        )


def test_the_summary_counts_injected_faults(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    body = """
    @pytest.mark.llm_faults("rate_limit")
    def test_a(llm):
        call("openai")
    """
    result = _run(pytester, body, "--llm-record=once")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["1 call(s) answered by an injected fault (llm_faults)"])


# --- the plan itself, without sockets ---------------------------------------------------


def test_stacked_rules_cycle_their_faults_and_count_every_attempt() -> None:
    plan = FaultPlan(
        [
            parse_rule(["rate_limit", "server_error"], {"model": "a"}, source="m"),
            parse_rule(["timeout"], {"at": 4}, source="m"),
        ]
    )
    taken = [plan.take("openai", model) for model in ["a", "b", "a", "a", "b"]]
    assert taken == ["rate_limit", None, "server_error", None, "timeout"]


def test_openai_has_no_529_so_overloaded_is_its_503() -> None:
    status, headers, _ = http_fault("overloaded", "openai", "gpt-4o")
    assert status == 503
    status, headers, body = http_fault("overloaded", "anthropic", "claude-haiku-4-5")
    assert status == 529
    assert ("retry-after-ms", "0.0001") in headers
    assert b'"overloaded_error"' in body
