"""No planted credential reaches anything pytest-llm writes or prints.

Credentials are planted where the SDKs and users put them: Authorization and x-api-key
headers, Azure's api-key header and query parameter, other query parameters, organization
and project headers, cookies and set-cookie, keys echoed in prompts and answers, and
values only the user's llm_scrub_patterns know. Three runs (record, re-record with
drift, replay with a miss) then write cassettes, JSON / Markdown / HTML reports, JUnit
XML and pytest's cache, and print with -rA -vv; every byte of it is searched.
"""

from __future__ import annotations

import pytest
from fake_provider import FakeProvider
from kit import ANTHROPIC_KEY, OPENAI_KEY, all_text, inner_file

PLANTED = {
    "OpenAI key (Authorization: Bearer, from OPENAI_API_KEY)": OPENAI_KEY,
    "Anthropic key (x-api-key, from ANTHROPIC_API_KEY)": ANTHROPIC_KEY,
    "Anthropic auth token (Authorization: Bearer)": "sk-ant-oat-planted-auth-token-5150",
    "x-api-key header set by the user": "planted-x-api-key-value-77",
    "Azure api-key header": "planted-azure-header-key-55",
    "Azure ?api-key= query": "planted-azure-query-key-66",
    "?key= query (Gemini style)": "planted-query-key-parameter-12",
    "?api_key= query": "planted-query-api-key-13",
    "?access_token= query": "planted-query-access-token-14",
    "proxy-authorization header": "planted-proxy-credentials-15",
    "openai-organization header": "org-planted-organization-11",
    "openai-project header": "proj_planted_project_22",
    "anthropic-organization-id header": "planted-anthropic-org-33",
    "cookie header": "planted-session-cookie-44",
    "set-cookie in an answer": "planted-set-cookie-from-provider-16",
    "openai-organization in an answer": "org-planted-answer-organization-17",
    "custom header (llm_scrub_headers)": "planted-custom-header-88",
    "email in a prompt (llm_scrub_patterns)": "alice.planted@example.com",
    "live key in an answer (llm_scrub_patterns)": "sk-live-planted0answer0key0018",
}

INI = """
[pytest]
llm_scrub_headers = x-custom-secret
llm_scrub_patterns =
    [\\w.]+@example\\.com
    sk-live-[0-9A-Za-z]+
"""

# The test module: SDK clients with every credential planted, plus an httpx2 client whose
# transport answers like a provider that sends credentials back.
SUITE = """
import json

import httpx2

SECRETS = {planted!r}
S = list(SECRETS.values())
EXTRA = os.environ.get("EXTRA_CALL", "")

client = openai.OpenAI(
    base_url=os.environ["FAKE_OPENAI_BASE_URL"],
    default_headers={{
        "x-api-key": S[3],
        "api-key": S[4],
        "Proxy-Authorization": "Basic " + S[9],
        "OpenAI-Organization": S[10],
        "OpenAI-Project": S[11],
        "anthropic-organization-id": S[12],
        "Cookie": "session=" + S[13],
        "x-custom-secret": S[16],
    }},
    default_query={{"api-key": S[5], "key": S[6], "api_key": S[7], "access_token": S[8]}},
)
bearer = anthropic.Anthropic(base_url=os.environ["FAKE_ANTHROPIC_BASE_URL"], auth_token=S[2])


def provider_that_talks_back(request):
    sent = json.loads(request.content)
    text = "noted " + sent["messages"][-1]["content"] + ", you sent "
    text += request.headers["authorization"] + ", your live key is " + S[18]
    answer = {{
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o",
        "choices": [{{"index": 0, "finish_reason": "stop",
                     "message": {{"role": "assistant", "content": text}}}}],
        "usage": {{"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}},
    }}
    headers = {{"set-cookie": "sid=" + S[14], "openai-organization": S[15]}}
    return httpx2.Response(200, json=answer, headers=headers)


talks_back = openai.OpenAI(
    base_url="https://llm.internal.example/v1",
    http_client=httpx2.Client(transport=httpx2.MockTransport(provider_that_talks_back)),
)


def test_secrets(llm):
    # keys echoed in prompts come back in the fake provider's answers too
    prompt = "My key is " + os.environ["OPENAI_API_KEY"] + ", mail " + S[17] + ", also " + S[4]
    client.chat.completions.create(
        model="gpt-4o-mini", messages=[{{"role": "user", "content": prompt}}]
    )
    hello = [{{"role": "user", "content": "hi, my key is " + os.environ["ANTHROPIC_API_KEY"]}}]
    an.messages.create(model="claude-haiku-4-5", max_tokens=9, messages=hello)
    mine = [{{"role": "user", "content": "hi, my token is " + S[2]}}]
    bearer.messages.create(model="claude-haiku-4-5", max_tokens=9, messages=mine)
    talks_back.chat.completions.create(
        model="gpt-4o", messages=[{{"role": "user", "content": "who am I?"}}]
    )
    if EXTRA:  # a call that is not recorded: its miss message shows the prompt's fields
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{{"role": "user", "content": prompt + EXTRA}}]
        )
    assert len(llm.calls) == 4
"""


def test_no_planted_secret_reaches_a_file_or_the_terminal(
    pytester: pytest.Pytester, inner_env: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini(INI)
    test_file = inner_file(pytester, SUITE.format(planted=PLANTED))
    reports = [
        f"--llm-report=report-{run}.{kind}" for run in (1, 2) for kind in ["json", "md", "html"]
    ]
    record = pytester.runpytest(
        "--llm-record=once", "-rA", "-vv", *reports[:3], "--junitxml=junit-1.xml"
    )
    record.assert_outcomes(passed=1)
    # They were sent, so it is the scrubbing that keeps them out below.
    sent = "\n".join(f"{r.path} {r.headers} {r.body}" for r in inner_env.requests)
    assert [name for name, value in PLANTED.items() if value not in sent] == [
        "set-cookie in an answer",  # these two are only ever in an answer
        "openai-organization in an answer",
        "live key in an answer (llm_scrub_patterns)",
    ]

    rewrite = pytester.runpytest(
        "--llm-record=rewrite", "-rA", "-vv", *reports[3:], "--junitxml=junit-2.xml"
    )
    rewrite.assert_outcomes(passed=1)

    monkeypatch.setenv("EXTRA_CALL", " and again " + OPENAI_KEY)
    miss = pytester.runpytest("-rA", "-vv", "--junitxml=junit-3.xml")
    miss.assert_outcomes(failed=1)
    miss.stdout.fnmatch_lines(
        [
            "*pytest-llm: no recording for this call in *test_secrets.yaml",
            "*nearest recorded request (interaction #0) differs in:",
            "*$.messages[[]0].content: recorded 'My key is <scrubbed>, mail <scrubbed>, "
            "also <scrubbed>', now 'My key is <scrubbed>, mail <scrubbed>, also <scrubbed> and "
            "again <scrubbed>'",
        ]
    )

    written = {
        str(path.relative_to(pytester.path)): path.read_text(errors="replace")
        for path in sorted(pytester.path.rglob("*"))
        # the test module holds the secrets, so does its compiled form
        if path.is_file() and path != test_file and path.suffix != ".pyc"
    }
    assert {"cassettes/test_app/test_secrets.yaml", "report-1.json", "report-2.html"} <= set(
        written
    )
    printed = {
        f"{name} run ({stream})": "\n".join(getattr(result, stream).lines)
        for name, result in (("record", record), ("rewrite", rewrite), ("miss", miss))
        for stream in ("stdout", "stderr")
    }
    leaks = [
        f"{secret_name} in {where}"
        for where, text in {**written, **printed}.items()
        for secret_name, secret in PLANTED.items()
        if secret in text
    ]
    assert leaks == [], f"{len(leaks)} leak(s) of {len(PLANTED)} planted secrets"
    assert "<scrubbed>" in written["cassettes/test_app/test_secrets.yaml"]
    print(
        f"\nsecret figures: {len(PLANTED)} planted, searched in {len(written)} files and "
        f"{len(printed)} outputs, 0 leaked"
    )


def test_a_key_echoed_in_a_request_that_does_not_carry_it_is_scrubbed(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    inner_file(
        pytester,
        """
        def test_a(llm):
            ask("for the other provider use " + os.environ["ANTHROPIC_API_KEY"])
        """,
    )
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    assert ANTHROPIC_KEY not in all_text(pytester.path / "cassettes")


def test_captured_logs_at_info_level_carry_no_query_string_key(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    pytester.makeini(INI)
    inner_file(pytester, SUITE.format(planted=PLANTED))
    pytester.runpytest("--llm-record=once").assert_outcomes(passed=1)
    result = pytester.runpytest("-rA", "--log-level=INFO")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*HTTP Request: POST *"])  # the log is captured and shown
    text = result.stdout.str()
    assert [name for name, secret in PLANTED.items() if secret in text] == []
