"""No credential reaches a cassette, by default and with the user's own rules."""

from __future__ import annotations

import pytest
from fake_provider import FakeProvider
from kit import ANTHROPIC_KEY, OPENAI_KEY, all_text, inner_file

PLANTED = {
    "openai key (Authorization: Bearer)": OPENAI_KEY,
    "anthropic key (Authorization: Bearer)": ANTHROPIC_KEY,
    "x-api-key header": "planted-x-api-key-value-77",
    "azure api-key header": "planted-azure-header-key-55",
    "azure ?api-key= query": "planted-azure-query-key-66",
    "openai-organization": "org-planted-organization-11",
    "openai-project": "proj_planted_project_22",
    "anthropic-organization-id": "planted-anthropic-org-33",
    "cookie": "planted-session-cookie-44",
    "custom header (llm_scrub_headers)": "planted-custom-header-88",
    "email in a prompt (llm_scrub_patterns)": "alice.planted@example.com",
}


def test_planted_secrets_never_reach_a_cassette(
    pytester: pytest.Pytester, inner_env: FakeProvider
) -> None:
    pytester.makeini(
        "[pytest]\nllm_scrub_headers = x-custom-secret\n"
        "llm_scrub_patterns = [\\w.]+@example\\.com\n"
    )
    inner_file(
        pytester,
        f"""
        SECRETS = {PLANTED!r}

        def test_secrets(llm):
            client = openai.OpenAI(
                base_url=os.environ["FAKE_OPENAI_BASE_URL"],
                default_headers={{
                    "x-api-key": SECRETS["x-api-key header"],
                    "api-key": SECRETS["azure api-key header"],
                    "OpenAI-Organization": SECRETS["openai-organization"],
                    "OpenAI-Project": SECRETS["openai-project"],
                    "anthropic-organization-id": SECRETS["anthropic-organization-id"],
                    "Cookie": "session=" + SECRETS["cookie"],
                    "x-custom-secret": SECRETS["custom header (llm_scrub_headers)"],
                }},
                default_query={{"api-key": SECRETS["azure ?api-key= query"]}},
            )
            # the key echoed back in a prompt must go too
            prompt = "My key is " + os.environ["OPENAI_API_KEY"] + " and mail "
            prompt += SECRETS["email in a prompt (llm_scrub_patterns)"]
            client.chat.completions.create(
                model="gpt-4o-mini", messages=[{{"role": "user", "content": prompt}}]
            )
            hello = [{{"role": "user", "content": "hi"}}]
            an.messages.create(model="claude-haiku-4-5", max_tokens=9, messages=hello)
            assert len(llm.calls) == 2
        """,
    )
    result = pytester.runpytest("--llm-record=once")
    result.assert_outcomes(passed=1)
    sent = inner_env.requests[0]
    # they were really sent, so the scrubbing below is what kept them out
    assert sent.headers["x-custom-secret"] == PLANTED["custom header (llm_scrub_headers)"]
    assert PLANTED["azure ?api-key= query"] in sent.path
    assert inner_env.requests[1].headers["authorization"] == f"Bearer {ANTHROPIC_KEY}"

    written = all_text(pytester.path / "cassettes")
    leaked = [name for name, secret in PLANTED.items() if secret in written]
    assert leaked == [], f"{len(leaked)} of {len(PLANTED)} planted secrets leaked"
    for header in ("authorization", "x-api-key", "cookie", "openai-organization"):
        assert f"{header}:" not in written.lower()
    assert "__cf_bm" not in written  # the provider's set-cookie
    assert "<scrubbed>" in written
    assert "My key is <scrubbed> and mail <scrubbed>" in written

    # the scrubbed prompt still replays: keys are computed on the scrubbed request
    pytester.runpytest().assert_outcomes(passed=1)
    assert len(inner_env.requests) == 2


def test_a_bad_scrub_pattern_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nllm_scrub_patterns = ([unclosed\n")
    pytester.makepyfile("def test_a():\n    pass\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*ini llm_scrub_patterns: '([unclosed' is not a regex*"])
