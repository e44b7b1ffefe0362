"""The run's report as Markdown (for a pull-request comment) and as one self-contained HTML page.

Both are rendered from the JSON report's document. The HTML page has no external scripts,
styles, fonts, images or links: it is one file that opens anywhere, offline.
"""

from __future__ import annotations

import difflib
import html
from typing import Any

from pytest_llm.checks.budget import usd
from pytest_llm.checks.samples import rate_changed
from pytest_llm.report import trajectory
from pytest_llm.report.figures import drifted_calls, stale_calls

_TEXT_LIMIT = 4000  # characters of an answer shown in a report
_BUCKETS = 10


def _clip(text: str, limit: int = _TEXT_LIMIT) -> str:
    return text if len(text) <= limit else text[:limit] + f"… ({len(text) - limit} more chars)"


def _delta(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.6f}"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _answer(record: dict[str, Any], field: str, fallback: str) -> str:
    # A tool call's answer has no text: show the call (records of older runs lack `field`).
    return str(record.get(field) or record.get(fallback) or "")


def _md_quote(text: str) -> str:
    body = _clip(text) or "(empty)"
    return "\n".join("> " + line for line in body.splitlines()) or "> "


def _pass_rate(test: dict[str, Any]) -> str:
    """A sampled test's `k/N (rate, needs R)`, with the baseline's `k/N` when re-recorded."""
    samples = test.get("samples")
    if not samples:
        return ""
    text = f"{samples['passed']}/{samples['total']} ({samples['pass_rate']:.2f}, "
    text += f"needs {samples['min_pass_rate']:g})"
    base = samples.get("baseline")
    return f"{text}, was {base['passed']}/{base['total']}" if base else text


def _rate_drift(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in document["tests"] if rate_changed(t.get("samples"))]


def markdown(document: dict[str, Any]) -> str:
    """The report as GitHub-flavoured Markdown."""
    totals = document["totals"]
    usage = totals["usage"]
    out = [
        "## pytest-llm report",
        "",
        "| tests | calls | replayed | recorded | faults | tokens in | tokens out | cost live |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {totals['tests']} | {totals['calls']} | {totals['replayed']} | {totals['recorded']} "
        f"| {totals['faults']} | {usage['input_tokens']:,} | {usage['output_tokens']:,} "
        f"| {usd(totals['cost_usd'])} |",
        "",
    ]
    if totals["unknown_price_models"]:
        names = ", ".join(f"`{m}` ({n})" for m, n in totals["unknown_price_models"].items())
        out += [f"No known price (left out of the cost): {names}.", ""]
    found = drifted_calls(document["tests"])
    compared = sum(1 for t in document["tests"] for c in t["calls"] if c["drift"] is not None)
    if compared:
        out += [f"### Drift: {len(found)} of {compared} call(s) changed", ""]
    if found:
        out += [
            "| score | test | call | model | tokens Δ | cost Δ USD | served model |",
            "|---:|---|---:|---|---:|---:|---|",
        ]
        for test, index, drift in found:
            call = test["calls"][index]
            served = call["served_model"] or ""
            if drift["served_model_changed"]:
                served = f"**{drift['baseline_served_model']} → {served}**"
            out.append(
                f"| {drift['score']:.3f} | `{_md_cell(test['nodeid'])}` | {index} "
                f"| {drift['baseline_model']} → {call['model']} "
                f"| {drift['token_delta']['total_tokens']:+,} | {_delta(drift['cost_delta'])} "
                f"| {_md_cell(served)} |"
            )
        out.append("")
        for test, index, drift in found:
            call = test["calls"][index]
            out += [
                "<details>",
                f"<summary><code>{html.escape(test['nodeid'])}</code> call {index}: "
                f"score {drift['score']:.3f}</summary>",
                "",
                f"**baseline** ({drift['baseline_model']})",
                "",
                _md_quote(_answer(drift, "baseline_answer", "baseline_text")),
                "",
                f"**new** ({call['model']})",
                "",
                _md_quote(_answer(call, "answer", "text")),
                "",
            ]
            if drift["json_diff"]:
                out.append("JSON changes:")
                out.append("")
                for change in drift["json_diff"]:
                    out.append(
                        f"- `{change['path']}` {change['change']}: "
                        f"`{change['old']!r}` → `{change['new']!r}`"
                    )
                out.append("")
            out += ["</details>", ""]
    stale = stale_calls(document["tests"])
    if stale:
        out += [f"### Stale recordings: {len(stale)} call(s)", ""]
        out += [
            "Answered from a recording of a request the code no longer sends; re-record the "
            "test, or leave the difference out of the key with `ignore=`.",
            "",
        ]
        for test, index, call in stale:
            out.append(f"- `{_md_cell(test['nodeid'])}` call {index} ({call['model']}):")
            out += [f"  - `{_md_cell(line)}`" for line in call["stale_diff"]]
            if test.get("rerecord"):
                out.append(f"  - re-record: `{_md_cell(test['rerecord'])}`")
        out.append("")
    rates = _rate_drift(document)
    if rates:
        out += [f"### Pass rate changed against the baseline in {len(rates)} test(s)", ""]
        out += [f"- `{_md_cell(t['nodeid'])}`: {_pass_rate(t)}" for t in rates] + [""]
    out += trajectory.markdown(document["tests"])
    out += [
        "### Tests",
        "",
        "| test | calls | tokens in | tokens out | cost live | samples passed |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for test in document["tests"]:
        out.append(
            f"| `{_md_cell(test['nodeid'])}` | {len(test['calls'])} "
            f"| {test['usage']['input_tokens']:,} | {test['usage']['output_tokens']:,} "
            f"| {usd(test['cost_usd'])} | {_pass_rate(test)} |"
        )
    return "\n".join(out) + "\n"


_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:72em;
color:#1b1f24;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #d0d7de;padding:.3em .6em}
th{background:#f6f8fa;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:1em;margin:.5em 0 1.5em}
.pair pre{white-space:pre-wrap;word-break:break-word;background:#f6f8fa;padding:.7em;margin:0;
border-radius:4px}
del{background:#ffd7d5;text-decoration:line-through}ins{background:#ccffd8;text-decoration:none}
.call{border-top:1px solid #d0d7de;padding-top:.7em}.bad{color:#b42318;font-weight:600}
.meta{color:#57606a}svg text{font-size:11px;fill:#57606a}
"""


def _word_diff(old: str, new: str) -> tuple[str, str]:
    """Both texts as HTML, with removed words struck out in the old and added ones marked."""
    a, b = _clip(old).split(" "), _clip(new).split(" ")
    left: list[str] = []
    right: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        old_part = html.escape(" ".join(a[i1:i2]))
        new_part = html.escape(" ".join(b[j1:j2]))
        if op == "equal":
            left.append(old_part)
            right.append(new_part)
            continue
        if old_part:
            left.append(f"<del>{old_part}</del>")
        if new_part:
            right.append(f"<ins>{new_part}</ins>")
    return " ".join(left), " ".join(right)


def _histogram(scores: list[float]) -> str:
    """An inline SVG bar chart of the drift scores, in tenths from 0 to 1."""
    counts = [0] * _BUCKETS
    for score in scores:
        counts[min(int(score * _BUCKETS), _BUCKETS - 1)] += 1
    top = max(counts) or 1
    width, height, bar, top_pad = 420, 120, 36, 14
    parts = [
        f'<svg width="{width}" height="{height + top_pad + 20}" '
        'role="img" aria-label="distribution of drift scores">'
    ]
    for i, count in enumerate(counts):
        h = round(height * count / top)
        x = 10 + i * (bar + 4)
        colour = "#b42318" if i < 5 else ("#bf8700" if i < 8 else "#1a7f37")
        parts.append(
            f'<rect x="{x}" y="{top_pad + height - h}" width="{bar}" height="{h}" fill="{colour}">'
            f"<title>{i / 10:.1f}-{(i + 1) / 10:.1f}: {count}</title></rect>"
        )
        parts.append(f'<text x="{x + 4}" y="{top_pad + height + 14}">{i / 10:.1f}</text>')
        if count:
            parts.append(f'<text x="{x + 12}" y="{top_pad + height - h - 3}">{count}</text>')
    parts.append("</svg>")
    return "".join(parts)


def page(document: dict[str, Any]) -> str:
    """The report as one self-contained HTML page."""
    totals = document["totals"]
    usage = totals["usage"]
    e = html.escape
    out = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>pytest-llm report</title><style>{_STYLE}</style></head><body>",
        "<h1>pytest-llm report</h1>",
        "<table><tr><th>tests</th><th>calls</th><th>replayed</th><th>recorded</th>"
        "<th>faults</th><th>tokens in</th><th>tokens out</th><th>cost live</th></tr>",
        f'<tr><td class="n">{totals["tests"]}</td><td class="n">{totals["calls"]}</td>'
        f'<td class="n">{totals["replayed"]}</td><td class="n">{totals["recorded"]}</td>'
        f'<td class="n">{totals["faults"]}</td><td class="n">{usage["input_tokens"]:,}</td>'
        f'<td class="n">{usage["output_tokens"]:,}</td>'
        f'<td class="n">{e(usd(totals["cost_usd"]))}</td></tr></table>',
    ]
    if totals["unknown_price_models"]:
        names = ", ".join(f"{m} ({n})" for m, n in totals["unknown_price_models"].items())
        out.append(f'<p class="meta">No known price (left out of the cost): {e(names)}</p>')
    scores = [
        c["drift"]["score"] for t in document["tests"] for c in t["calls"] if c["drift"] is not None
    ]
    found = drifted_calls(document["tests"])
    if scores:
        out.append(f"<h2>Drift: {len(found)} of {len(scores)} call(s) changed</h2>")
        out.append(_histogram(scores))
    for test, index, drift in found:
        call = test["calls"][index]
        old, new = _word_diff(
            _answer(drift, "baseline_answer", "baseline_text"), _answer(call, "answer", "text")
        )
        flags = []
        if drift["served_model_changed"]:
            flags.append(
                f"served model changed: {e(str(drift['baseline_served_model']))} → "
                f"{e(str(call['served_model']))}"
            )
        valid = drift["schema_valid"]
        if valid["new"] is False or valid["baseline"] is False:
            flags.append(f"schema valid: baseline {valid['baseline']}, new {valid['new']}")
        score_class = ' class="bad"' if drift["score"] < 0.5 else ""
        out += [
            '<div class="call">',
            f"<h3><code>{e(test['nodeid'])}</code> call {index}: "
            f"<span{score_class}>score {drift['score']:.3f}</span> "
            f'<span class="meta">({e(drift["method"])})</span></h3>',
            f'<p class="meta">{e(drift["baseline_model"])} → {e(call["model"])}; tokens '
            f"{drift['token_delta']['total_tokens']:+,}; cost {_delta(drift['cost_delta'])} USD; "
            f"latency {drift.get('latency_delta_s', 0.0):+.3f} s"
            + ("".join(f"; {flag}" for flag in flags))
            + "</p>",
            '<div class="pair">',
            f"<div><b>baseline</b><pre>{old or '(empty)'}</pre></div>",
            f"<div><b>new</b><pre>{new or '(empty)'}</pre></div>",
            "</div>",
        ]
        if drift["json_diff"]:
            out.append("<table><tr><th>path</th><th>change</th><th>old</th><th>new</th></tr>")
            for change in drift["json_diff"]:
                out.append(
                    f"<tr><td><code>{e(change['path'])}</code></td><td>{e(change['change'])}</td>"
                    f"<td><code>{e(repr(change['old']))}</code></td>"
                    f"<td><code>{e(repr(change['new']))}</code></td></tr>"
                )
            out.append("</table>")
        out.append("</div>")
    stale = stale_calls(document["tests"])
    if stale:
        out.append(f"<h2>Stale recordings: {len(stale)} call(s)</h2>")
        out.append(
            '<p class="meta">Answered from a recording of a request the code no longer sends; '
            "re-record the test, or leave the difference out of the key with ignore=.</p><ul>"
        )
        for test, index, call in stale:
            lines = "".join(f"<li><code>{e(line)}</code></li>" for line in call["stale_diff"])
            again = test.get("rerecord")
            rerecord = f"<li>re-record: <code>{e(again)}</code></li>" if again else ""
            out.append(
                f"<li><code>{e(test['nodeid'])}</code> call {index} ({e(str(call['model']))})"
                f"<ul>{lines}{rerecord}</ul></li>"
            )
        out.append("</ul>")
    rates = _rate_drift(document)
    if rates:
        out.append(f"<h2>Pass rate changed against the baseline in {len(rates)} test(s)</h2><ul>")
        out += [f"<li><code>{e(t['nodeid'])}</code>: {e(_pass_rate(t))}</li>" for t in rates]
        out.append("</ul>")
    out += trajectory.page(document["tests"])
    out.append("<h2>Tests</h2>")
    out.append(
        "<table><tr><th>test</th><th>calls</th><th>tokens in</th><th>tokens out</th>"
        "<th>cost live</th><th>samples passed</th></tr>"
    )
    for test in document["tests"]:
        out.append(
            f"<tr><td><code>{e(test['nodeid'])}</code></td>"
            f'<td class="n">{len(test["calls"])}</td>'
            f'<td class="n">{test["usage"]["input_tokens"]:,}</td>'
            f'<td class="n">{test["usage"]["output_tokens"]:,}</td>'
            f'<td class="n">{e(usd(test["cost_usd"]))}</td><td>{e(_pass_rate(test))}</td></tr>'
        )
    out.append("</table></body></html>")
    return "\n".join(out) + "\n"
