"""Structured-output assertions: does an answer, JSON text or tool call match its JSON Schema?

The value checked may be JSON text, a decoded value, or an LLM call (anything with `request`,
`response`, `provider` and `endpoint`, such as an entry of `llm.calls`). With no schema given,
the schema the call's own request declared is used, so a test can check that the model kept
the contract the application gave it. No pytest import: failures are plain `AssertionError`s
whose message lists every violation with its JSON path, the value found and the rule broken.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_llm.providers import Endpoint, endpoint_of
from pytest_llm.usage import ToolCall

__all__ = ["assert_json_schema"]

Path = tuple[str | int, ...]

_VALUE_WIDTH = 60  # a found value is shown in at most this many characters
_WINDOW = 40  # characters shown either side of a JSON parse error on a long line
_FENCE = re.compile(r"```[ \t]*(?:json[a-z0-9]*)?[ \t]*\r?\n(.*?)```", re.DOTALL | re.IGNORECASE)
_FENCED = "the JSON is wrapped in a Markdown fence"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class _UsageError(Exception):
    """A mistake in how the assertion was called (not a failing answer)."""

    def __init__(self, kind: type[Exception], message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class _Schema:
    """A JSON Schema dict or a pydantic model class, and how to name it in a message."""

    schema: Any
    label: str


@dataclass(frozen=True)
class _Violation:
    path: Path
    rule: str
    value: Any


@dataclass
class _Target:
    """One JSON document to check: the whole value, a call's output, or one tool call."""

    label: str
    text: str | None  # JSON text to decode; None when `value` is already decoded
    value: Any = None
    declared: _Schema | None = None
    missing_schema: str = ""  # why no declared schema applies, when none does
    notes: list[str] = field(default_factory=list)  # context for a broken answer
    short: str = ""  # the label in the one-line summary; `label` when empty

    def __post_init__(self) -> None:
        self.short = self.short or self.label


def assert_json_schema(
    value: Any, schema: Any = None, *, tool: str | None = None, extract: bool = False
) -> None:
    """Assert that JSON text, a decoded value or an LLM call's output matches a JSON Schema."""
    __tracebackhide__ = True
    try:
        failure = _check(value, schema, tool, extract)
    except _UsageError as exc:
        usage = exc
    else:
        if failure is None:
            return
        raise AssertionError(failure)
    raise usage.kind(str(usage)) from None


def _check(value: Any, schema: Any, tool: str | None, extract: bool) -> str | None:
    given = _given_schema(schema) if schema is not None else None
    if _is_call(value):
        targets = _call_targets(value, tool)
    else:
        if hasattr(value, "calls") and not isinstance(value, Mapping):
            raise _UsageError(
                TypeError, "pass one call (such as llm.calls[0]), not the whole llm fixture"
            )
        if tool is not None:
            raise _UsageError(
                TypeError,
                f"tool={tool!r} picks a tool call of an LLM call (an entry of llm.calls), "
                f"but the value is {_kind(value)}",
            )
        if given is None:
            raise _UsageError(
                TypeError,
                "assert_json_schema needs schema= (a JSON Schema dict or a pydantic model class) "
                f"to check {_kind(value)}; only an LLM call brings the schema its request declared",
            )
        targets = [_plain_target(value)]

    summaries: list[str] = []
    blocks: list[str] = []
    for target in targets:
        use = given or target.declared
        if use is None:
            summaries.append(f"{target.short}: no schema to check against")
            blocks.append(f"{target.label}: {target.missing_schema}")
            continue
        problem = _check_target(target, use, extract)
        if problem is not None:
            summaries.append(f"{target.short}: {problem[0]}")
            blocks.append("\n".join(problem[1]))
    if not blocks:
        return None
    if len(summaries) > 3:
        summaries[2:] = [f"{len(summaries) - 2} more"]
    return "\n".join([_heading("; ".join(summaries), value), *blocks])


def _heading(summary: str, value: Any) -> str:
    """What failed, then where: the call and the test (when running under pytest)."""
    lines = [f"assert_json_schema: {summary}"]
    if _is_call(value):
        lines.append(f"  in {_describe_call(value)}")
    # pytest names the running test in this variable; reading it keeps pytest out of the module.
    test = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0]
    if test:
        lines.append(f"  in test {test}")
    return "\n".join(lines)


# --- what to check ---------------------------------------------------------------------------


def _kind(value: Any) -> str:
    return f"a {type(value).__name__}"


def _is_call(value: Any) -> bool:
    return all(hasattr(value, name) for name in ("request", "response", "provider", "endpoint"))


def _plain_target(value: Any) -> _Target:
    if isinstance(value, bytes | bytearray):
        value = bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, str):
        return _Target("JSON text", value)
    dump = getattr(value, "model_dump", None)
    if callable(dump) and not isinstance(value, type):
        # A pydantic instance (e.g. the SDK's `message.parsed`) is checked as its JSON form.
        return _Target(f"{type(value).__name__} instance", None, dump(mode="json"))
    return _Target("value", None, value)


def _describe_call(call: Any) -> str:
    request = call.request if isinstance(call.request, Mapping) else {}
    response = call.response if isinstance(call.response, Mapping) else {}
    index = getattr(call, "index", None)
    name = f"llm.calls[{index}]" if isinstance(index, int) else "LLM call"
    text = f"{name}: {call.provider} {call.endpoint}"
    model = request.get("model") or getattr(call, "model", None)
    if model:
        text += f", model {model!r}"
    served = response.get("model")
    if isinstance(served, str) and served and served != model:
        text += f", served by {served!r}"
    return text


def _call_targets(call: Any, tool: str | None) -> list[_Target]:
    request: Mapping[str, Any] = call.request if isinstance(call.request, Mapping) else {}
    response = call.response
    provider, endpoint_path = str(call.provider), str(call.endpoint).split("?", 1)[0]
    endpoint = endpoint_of(provider, endpoint_path)
    tools = _declared_tools(endpoint, request)
    calls = endpoint.tool_calls(response)

    if tool is not None:
        chosen = [(i, c) for i, c in enumerate(calls) if c.name == tool]
        if not chosen:
            made = ", ".join(repr(c.name) for c in calls) or "none"
            names = ", ".join(repr(name) for name in tools) or "none"
            raise _UsageError(
                AssertionError,
                f"{_heading(f'no tool call named {tool!r}', call)}\n"
                f"  tool calls the model made: {made}\n"
                f"  tools the request declared: {names}",
            )
        return [_tool_target(i, c, len(calls), tools) for i, c in chosen]
    if calls:
        # A call that made tool calls answered with them; text beside them is commentary
        # ("I'll look that up"), which Anthropic models often write before a tool_use block.
        return [_tool_target(i, c, len(calls), tools) for i, c in enumerate(calls)]

    label, output, notes = _output(endpoint, response)
    declared, where = _declared_output_schema(endpoint, request)
    missing = f"no schema to check against\n  none was given, and the request declared {where}"
    if tools:
        names = ", ".join(repr(name) for name in tools)
        missing += f"\n  the request declared tools ({names}), but the model called none"
    missing += "\n  pass schema= (a JSON Schema dict or a pydantic model class)"
    notes += _cut_off_notes(response)
    if isinstance(output, str):
        return [_Target(label, output, None, declared, missing, notes)]
    return [_Target(label, None, output, declared, missing, notes)]


def _tool_target(index: int, call: ToolCall, count: int, tools: dict[str, _Schema]) -> _Target:
    ident = f", id {call.id}" if call.id else ""
    short = f"tool call {call.name!r}" + (f" #{index + 1}" if count > 1 else "")
    label = f"tool call {call.name!r} ({index + 1} of {count}{ident}) arguments"
    declared = tools.get(call.name)
    names = ", ".join(repr(name) for name in tools) or "none"
    missing = (
        f"no schema to check against\n  the model called {call.name!r}, a tool the request did "
        f"not declare (declared tools: {names})\n  pass schema= to check its arguments anyway"
    )
    return _Target(label, call.arguments_json, None, declared, missing, short=short)


def _output(endpoint: Endpoint, response: Any) -> tuple[str, Any, list[str]]:
    """The structured output of a call: (label, JSON text or decoded value, notes)."""
    notes: list[str] = []
    if not isinstance(response, Mapping):
        return "the response", "", ["the call has no decoded response"]
    error = response.get("error")
    if isinstance(error, Mapping) and error:
        message = error.get("message") or json.dumps(error)
        notes.append(f"the call failed: {_short(str(message), 200)}")
    if endpoint.provider == "openai" and endpoint.operation == "chat.completions":
        choices = response.get("choices") or [{}]
        message = choices[0].get("message") if isinstance(choices[0], Mapping) else None
        if not isinstance(message, Mapping):
            message = {}
        refusal = message.get("refusal")
        if refusal:
            notes.append(f"the model refused: {_short(str(refusal), 200)}")
        parsed = message.get("parsed")
        if isinstance(parsed, Mapping | list):
            return "message parsed", parsed, notes
        return "message content", endpoint.text(response), notes
    if endpoint.provider == "openai" and endpoint.operation == "responses":
        for item in response.get("output") or []:
            for part in (item.get("content") or []) if isinstance(item, Mapping) else []:
                if isinstance(part, Mapping) and part.get("type") == "refusal":
                    notes.append(f"the model refused: {_short(str(part.get('refusal')), 200)}")
        return "output_text", endpoint.text(response), notes
    if response.get("stop_reason") == "refusal":
        notes.append("the model refused (stop_reason 'refusal')")
    return "text content", endpoint.text(response), notes


def _cut_off_notes(response: Any) -> list[str]:
    if not isinstance(response, Mapping):
        return []
    choices = response.get("choices") or [{}]
    finish = choices[0].get("finish_reason") if isinstance(choices[0], Mapping) else None
    if finish == "length":
        return ["the answer was cut off (finish_reason 'length'); raise max_tokens"]
    if response.get("stop_reason") == "max_tokens":
        return ["the answer was cut off (stop_reason 'max_tokens'); raise max_tokens"]
    details = response.get("incomplete_details")
    if response.get("status") == "incomplete" and isinstance(details, Mapping):
        reason = details.get("reason")
        return [f"the answer was cut off (status 'incomplete', reason {reason!r})"]
    return []


# --- the schemas a request declared ---------------------------------------------------------


def _declared_tools(endpoint: Endpoint, request: Mapping[str, Any]) -> dict[str, _Schema]:
    """Tool name -> parameters schema: chat `function.parameters`, Responses `parameters`,
    Anthropic `input_schema`, or where the provider's format declares them."""
    found: dict[str, _Schema] = {
        name: _Schema(declared.schema, f"the request's {declared.where} for {name!r}")
        for name, declared in endpoint.format.declared_tools(request).items()
    }
    for index, tool in enumerate(request.get("tools") or []):
        if not isinstance(tool, Mapping):
            continue
        function = tool.get("function")
        if isinstance(function, Mapping) and function.get("name"):
            name = str(function["name"])
            where = f"tools[{index}].function.parameters"
            schema = function.get("parameters")
        elif tool.get("name") and "input_schema" in tool:
            name, where = str(tool["name"]), f"tools[{index}].input_schema"
            schema = tool.get("input_schema")
        elif tool.get("name") and tool.get("type", "function") == "function":
            name, where = str(tool["name"]), f"tools[{index}].parameters"
            schema = tool.get("parameters")
        else:
            continue  # server tools (web search, code execution) take no JSON arguments
        if schema is None:
            # A function declared without parameters takes none: an empty object.
            schema = {"type": "object", "properties": {}, "additionalProperties": False}
        found.setdefault(name, _Schema(schema, f"the request's {where} for {name!r}"))
    return found


def _declared_output_schema(
    endpoint: Endpoint, request: Mapping[str, Any]
) -> tuple[_Schema | None, str]:
    """The response format a request declared, and where we looked when it declared none."""
    declared = endpoint.format.declared_output_schema(endpoint.operation, request)
    if declared is not None:
        return _Schema(declared.schema, f"the request's {declared.where}"), declared.where
    places: list[tuple[str, Any]] = [
        ("response_format", request.get("response_format")),
        ("text.format", _get(request, "text", "format")),
        ("output_config.format", _get(request, "output_config", "format")),
        ("output_format", request.get("output_format")),
    ]
    for where, spec in places:
        if not isinstance(spec, Mapping):
            continue
        kind = spec.get("type")
        if kind == "json_object":
            label = f"the request's {where} json_object (any JSON object)"
            return _Schema({"type": "object"}, label), where
        if kind != "json_schema":
            continue
        # Chat nests the schema under `json_schema`; Responses and Anthropic put it inline.
        nested = spec.get("json_schema")
        inner: Mapping[str, Any] = nested if isinstance(nested, Mapping) else spec
        schema = inner.get("schema")
        if schema is None:
            continue
        name = inner.get("name")
        path = f"{where}.json_schema.schema" if inner is not spec else f"{where}.schema"
        label = f"the request's {path}" + (f" ({name!r})" if name else "")
        return _Schema(schema, label), where
    return None, "no response format (response_format, text.format or output_config.format)"


def _get(mapping: Mapping[str, Any], *keys: str) -> Any:
    value: Any = mapping
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _given_schema(schema: Any) -> _Schema:
    if isinstance(schema, type):
        if not callable(getattr(schema, "model_validate_json", None)):
            raise _UsageError(
                TypeError,
                f"schema must be a JSON Schema dict or a pydantic (v2) model class, "
                f"not the class {schema.__name__}",
            )
        return _Schema(schema, f"the pydantic model {schema.__name__}")
    if isinstance(schema, Mapping | bool):
        return _Schema(schema, "the given schema")
    raise _UsageError(
        TypeError,
        f"schema must be a JSON Schema dict or a pydantic model class, not {_kind(schema)}",
    )


# --- checking one document -------------------------------------------------------------------


def _check_target(target: _Target, schema: _Schema, extract: bool) -> tuple[str, list[str]] | None:
    """A one-line summary and the lines that say what is wrong with `target`, or None."""
    if target.text is None:
        value = target.value
    else:
        decoded = _decode(target.text, extract)
        if isinstance(decoded, _ParseFailure):
            first, *rest = decoded.lines
            notes = [f"  {note}" for note in target.notes]
            return "not valid JSON", [f"{target.label}: {first}", *rest, *notes]
        value = decoded.value

    if isinstance(schema.schema, type):
        violations, schema_label = _pydantic_violations(value, schema.schema), schema.label
    else:
        validator = _validator(schema)
        violations = _jsonschema_violations(value, validator)
        schema_label = f"{schema.label} (JSON Schema {_draft_name(type(validator))})"
    if not violations:
        return None
    count = f"{len(violations)} violation{'s' if len(violations) != 1 else ''}"
    lines = [f"{target.label}: {count} of {schema_label}"]
    for violation in violations:
        rule = violation.rule
        lines.append(
            f"  {_json_path(violation.path)}: {rule}; found {_short_json(violation.value)}"
        )
    if isinstance(value, str) and _decodes_to_container(value):
        lines.append("  the value is a string that holds JSON: the JSON was encoded twice")
    lines.extend(f"  {note}" for note in target.notes)
    return count, lines


@dataclass(frozen=True)
class _Decoded:
    value: Any


@dataclass(frozen=True)
class _ParseFailure:
    lines: list[str]


def _decode(text: str, extract: bool) -> _Decoded | _ParseFailure:
    try:
        return _Decoded(json.loads(text))
    except json.JSONDecodeError as exc:
        error = exc
    embedded = None if _broken_json(text, error) else _find_embedded(text)
    if embedded is not None and isinstance(embedded.value, _Decoded):
        if extract:
            return embedded.value
        lines = _parse_error_lines(text, error.pos, error.msg)
        return _ParseFailure([*lines, f"  {embedded.hint}; pass extract=True to accept it"])
    if embedded is not None and embedded.error is not None:
        # A fence whose content is broken: its own error says more than "```" at line 1.
        pos, msg = embedded.error
        lines = _parse_error_lines(text, pos, msg)
        lines[0] += " (inside the Markdown fence)"
        return _ParseFailure(lines)
    lines = _parse_error_lines(text, error.pos, error.msg)
    if extract:
        lines.append("  extract=True found no JSON object or array in the text either")
    return _ParseFailure(lines)


def _broken_json(text: str, error: json.JSONDecodeError) -> bool:
    """Whether the text is JSON that breaks part-way (not prose): then an object found inside
    it is a fragment, and offering it as "the JSON in the prose" would mislead."""
    if error.msg == "Extra data":  # a whole JSON value, then trailing prose
        return False
    stripped = text.lstrip()
    if stripped[:1] not in ("{", "["):
        return False
    inside = stripped[1:]
    first_token = len(text) - len(inside.lstrip())
    # "[gpt-4o] says {...}" fails at the first token inside the bracket: that is prose.
    return error.pos > first_token


@dataclass(frozen=True)
class _Embedded:
    hint: str
    value: _Decoded | None = None
    error: tuple[int, str] | None = None  # (position in the whole text, message)


def _find_embedded(text: str) -> _Embedded | None:
    """JSON inside a Markdown fence, or the largest JSON object/array inside prose."""
    fence = _FENCE.search(text)
    if fence is not None:
        inner = fence.group(1)
        try:
            value = json.loads(inner)
        except json.JSONDecodeError as exc:
            return _Embedded(_FENCED, None, (fence.start(1) + exc.pos, exc.msg))
        return _Embedded(_FENCED, _Decoded(value))
    decoder = json.JSONDecoder()
    best: tuple[int, int, Any] | None = None
    pos = 0
    while True:
        starts = [i for i in (text.find("{", pos), text.find("[", pos)) if i >= 0]
        if not starts:
            break
        start = min(starts)
        try:
            value, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            pos = start + 1
            continue
        if best is None or end - start > best[1] - best[0]:
            best = (start, end, value)
        pos = end  # inner objects of a decoded one are never larger than it
    if best is None:
        return None
    line = text.count("\n", 0, best[0]) + 1
    column = best[0] - (text.rfind("\n", 0, best[0]) + 1) + 1
    kind = "object" if isinstance(best[2], dict) else "array"
    hint = f"the text has prose around a JSON {kind} (at line {line}, column {column})"
    return _Embedded(hint, _Decoded(best[2]))


def _parse_error_lines(text: str, pos: int, message: str) -> list[str]:
    """The parse error with its line and column, and the text around it with a caret."""
    if not text.strip():
        return ["not valid JSON: the text is empty" if not text else "not valid JSON: blank text"]
    lineno = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    # json's "Unterminated string starting at" already ends in "at".
    lines = [f"not valid JSON: {message.removesuffix(' at')} at line {lineno}, column {col}"]
    source = text.split("\n")
    width = len(str(min(len(source), lineno + 2)))
    # On a long (often single-line, minified) text show a slice around the error column.
    start = max(0, col - 1 - _WINDOW)
    for number in range(max(1, lineno - 2), min(len(source), lineno + 2) + 1):
        line = source[number - 1].replace("\t", " ").rstrip("\r")
        shown = line[start : start + 2 * _WINDOW]
        if start > 0 and line[:start]:
            shown = "..." + shown
        if len(line) > start + 2 * _WINDOW:
            shown += "..."
        lines.append(f"  {number:>{width}} | {shown}".rstrip())
        if number == lineno:
            offset = col - 1 - start + (3 if start > 0 else 0)
            lines.append(f"  {' ' * width} | {' ' * offset}^")
    return lines


def _decodes_to_container(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict | list)
    except ValueError:
        return False


# --- JSON Schema ----------------------------------------------------------------------------


def _validator(schema: _Schema) -> Any:
    from jsonschema import exceptions, validators

    cls = validators.validator_for(schema.schema, default=validators.Draft202012Validator)
    try:
        cls.check_schema(schema.schema)
    except exceptions.SchemaError:
        # check_schema stops at the first problem; a person fixing a schema wants them all.
        meta = validators.validator_for(cls.META_SCHEMA, default=cls)(cls.META_SCHEMA)
        # A draft's meta-schema checks some keywords once per vocabulary: said once here.
        found = sorted(
            {
                f"{_json_path(tuple(error.absolute_path))}: {_short(error.message, 200)}"
                for error in meta.iter_errors(schema.schema)
            }
        )
    else:
        return cls(schema.schema, format_checker=cls.FORMAT_CHECKER)
    head = f"{schema.label} is not a valid JSON Schema ({_draft_name(cls)})"
    if len(found) == 1:
        raise _UsageError(ValueError, f"{head}: {found[0]}")
    lines = "".join(f"\n  {line}" for line in found)
    raise _UsageError(ValueError, f"{head}: {len(found)} problems{lines}")


def _draft_name(cls: type) -> str:
    match = re.fullmatch(r"Draft(\d+)Validator", cls.__name__)
    if match is None:
        return cls.__name__
    digits = match.group(1)
    return f"draft {digits[:4]}-{digits[4:]}" if len(digits) == 6 else f"draft {digits}"


def _jsonschema_violations(value: Any, validator: Any) -> list[_Violation]:
    found: list[_Violation] = []
    for error in validator.iter_errors(value):
        found.extend(_from_error(error))
    return sorted(found, key=lambda v: (_path_key(v.path), v.rule))


def _from_error(error: Any) -> Iterator[_Violation]:
    path: Path = tuple(error.absolute_path)
    keyword, expected, instance = error.validator, error.validator_value, error.instance
    if keyword == "additionalProperties" and expected is False and isinstance(instance, dict):
        extras = list(_additional(instance, error.schema))
        if extras:
            allowed = ", ".join(repr(name) for name in error.schema.get("properties") or {})
            for name in extras:
                rule = f"additionalProperties: {name!r} is not allowed"
                rule += f" (allowed: {_short(allowed, 120)})" if allowed else " (no properties)"
                yield _Violation((*path, name), rule, instance[name])
            return
    if keyword in ("anyOf", "oneOf") and error.context:
        yield from _from_alternatives(error, path)
        return
    yield _Violation(path, _rule(error), instance)


def _additional(instance: dict[str, Any], schema: Mapping[str, Any]) -> Iterable[str]:
    properties = schema.get("properties") or {}
    patterns = list(schema.get("patternProperties") or {})
    for name in instance:
        if name not in properties and not any(re.search(p, name) for p in patterns):
            yield name


def _from_alternatives(error: Any, path: Path) -> Iterator[_Violation]:
    """anyOf/oneOf: "expected integer or null" when only the types differ, else the misses of
    the closest alternative: the one with the fewest errors, then the one that got deepest."""
    context = list(error.context)
    if all(e.validator == "type" and not e.relative_path for e in context):
        types: list[str] = []
        for e in context:
            for name in _as_list(e.validator_value):
                if name not in types:
                    types.append(str(name))
        yield _Violation(path, f"{error.validator}: expected {' or '.join(types)}", error.instance)
        return
    branches: dict[Any, list[Any]] = {}
    for e in context:
        branches.setdefault(e.relative_schema_path[0], []).append(e)
    number, errors = min(
        branches.items(), key=lambda b: (len(b[1]), -max(len(e.absolute_path) for e in b[1]))
    )
    count = len(_as_list(error.validator_value))
    where = f"closest is alternative {int(number) + 1} of {count}"
    for e in errors:
        for violation in _from_error(e):
            rule = f"{error.validator}: no alternative matches; {where}: {violation.rule}"
            yield _Violation(violation.path, rule, violation.value)


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


_BOUNDS = {
    "minimum": "expected >= {}",
    "maximum": "expected <= {}",
    "exclusiveMinimum": "expected > {}",
    "exclusiveMaximum": "expected < {}",
    "multipleOf": "expected a multiple of {}",
    "minLength": "expected at least {} characters",
    "maxLength": "expected at most {} characters",
    "minItems": "expected at least {} items",
    "maxItems": "expected at most {} items",
    "minProperties": "expected at least {} properties",
    "maxProperties": "expected at most {} properties",
}


def _rule(error: Any) -> str:
    keyword, expected = error.validator, error.validator_value
    if keyword == "type":
        return f"type: expected {' or '.join(map(str, _as_list(expected)))}"
    if keyword == "enum":
        options = [json.dumps(option, ensure_ascii=False) for option in _as_list(expected)]
        more = f", ... ({len(options) - 10} more)" if len(options) > 10 else ""
        return f"enum: expected one of {', '.join(options[:10])}{more}"
    if keyword == "const":
        return f"const: expected {_short_json(expected)}"
    if keyword == "required":
        return str(error.message)
    if keyword in _BOUNDS:
        return f"{keyword}: {_BOUNDS[keyword].format(expected)}"
    if keyword == "pattern":
        return f"pattern: expected to match {expected!r}"
    if keyword == "format":
        return f"format: expected a valid {expected!r}"
    if keyword == "uniqueItems":
        return "uniqueItems: expected no duplicate items"
    if keyword == "oneOf":
        return "oneOf: expected exactly one alternative to match, but several do"
    if keyword == "not":
        return f"not: expected not to match {_short_json(expected)}"
    if keyword is False or keyword is None:
        return "false schema: no value is allowed here"
    return f"{keyword}: {_short(str(error.message), 160)}"


# --- pydantic ---------------------------------------------------------------------------------


def _pydantic_violations(value: Any, model: Any) -> list[_Violation]:
    from pydantic import ValidationError

    # Validating the JSON text (not the decoded Python value) keeps the model's JSON-mode
    # semantics: strict models accept a date string from JSON, as they do from the API.
    try:
        model.model_validate_json(json.dumps(value))
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    else:
        return []
    found = [_from_pydantic(error, value) for error in errors]
    return sorted(found, key=lambda v: (_path_key(v.path), v.rule))


def _from_pydantic(error: Mapping[str, Any], document: Any) -> _Violation:
    # A loc mixes real keys with union branch tags ("int", "function-after[...]"): keep the
    # keys that exist in the document, and name the tags in the rule.
    path: list[str | int] = []
    tags: list[str] = []
    node: Any = document
    loc = list(error.get("loc") or ())
    kind = str(error.get("type", ""))
    for position, part in enumerate(loc):
        last = position == len(loc) - 1
        in_object = isinstance(node, dict) and part in node
        in_array = (
            isinstance(node, list) and isinstance(part, int) and -len(node) <= part < len(node)
        )
        if in_object or in_array:
            path.append(part)
            node = node[part]
        elif last and kind == "missing":
            return _Violation(tuple(path), f"{part!r} is a required property (missing)", node)
        else:
            tags.append(str(part))
    rule = f"{error.get('msg', '')} ({kind})"
    if tags:
        rule += f" [as {', '.join(tags)}]"
    return _Violation(tuple(path), rule, error.get("input", node))


# --- rendering --------------------------------------------------------------------------------


def _path_key(path: Path) -> tuple[tuple[int, int, str], ...]:
    return tuple((0, part, "") if isinstance(part, int) else (1, 0, part) for part in path)


def _json_path(path: Iterable[Any]) -> str:
    """`$.items[0].qty`; keys that are not identifiers in brackets: `$["first name"]`."""
    text = "$"
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _IDENTIFIER.match(str(part)):
            text += f".{part}"
        else:
            text += "[" + json.dumps(str(part), ensure_ascii=False) + "]"
    return text


def _short_json(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return _short(text, _VALUE_WIDTH)


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."
