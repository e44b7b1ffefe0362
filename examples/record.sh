#!/usr/bin/env bash
# Re-record the examples' cassettes against a live server.
#
# Default: a local llama.cpp `llama-server` on 127.0.0.1:8089, which speaks both the OpenAI
# and the Anthropic Messages API (see examples/README.md for how to run one).
# Against the real providers instead: export OPENAI_API_KEY and ANTHROPIC_API_KEY, set
# OPENAI_BASE_URL= and ANTHROPIC_BASE_URL= to empty, and run this script.
set -euo pipefail
cd "$(dirname "$0")/.."
server="${LLM_SERVER:-http://127.0.0.1:8089}"
export OPENAI_BASE_URL="${OPENAI_BASE_URL-$server/v1}"
export ANTHROPIC_BASE_URL="${ANTHROPIC_BASE_URL-$server}"
[ -n "$OPENAI_BASE_URL" ] || unset OPENAI_BASE_URL
[ -n "$ANTHROPIC_BASE_URL" ] || unset ANTHROPIC_BASE_URL
# A local server needs no key, but the SDKs refuse to build a client without one.
export OPENAI_API_KEY="${OPENAI_API_KEY:-local-server-key}"
export ANTHROPIC_API_KEY="${ANTHROPIC_API_KEY:-local-server-key}"
exec pytest examples --llm-record=rewrite -p no:randomly "$@"
