#!/usr/bin/env bash
# Render the drift report in a real headless browser and save a screenshot to look at.
#
# Needs Debian's chromium (`apt-get install chromium`). Compares two recorded example
# cassettes whose answers differ, so every part of the page has something to show.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-/tmp/pytest-llm-report}"
mkdir -p "$out"
dir=cassettes/examples/test_drift_check
pytest-llm diff "$dir/test_the_candidate_keeps_the_meaning[kettle].yaml" \
    "$dir/test_the_candidate_keeps_the_meaning[delivery].yaml" --report "$out/report.html" || true
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,1400 \
    --screenshot="$out/report.png" "file://$(realpath "$out/report.html")" 2>/dev/null
echo "screenshot: $out/report.png"
