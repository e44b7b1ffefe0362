"""Dated context windows and prices per model, and what a call cost.

The packaged table lives in `data/models.toml`; a user file (ini `llm_prices`, TOML or YAML of
the same shape) is merged over it field by field. A model found in neither has no price: its
cost is None, never a guess.
"""

from __future__ import annotations

import datetime
import re
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, fields, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from pytest_llm.usage import Usage

_PER_TOKEN = 1_000_000
# Dated snapshots: -2024-08-06 and -20241022, and OpenAI's older -0125 / -0613 style.
_DATE_SUFFIX = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8}|\d{4})$")
# Bedrock ids: an optional cross-region profile, the vendor, the model, its version
# (`us.anthropic.claude-3-5-haiku-20241022-v1:0`). Bedrock's on-demand price of a Claude
# model is Anthropic's own.
_BEDROCK_ID = re.compile(
    r"(?:(?:us|eu|apac|global|us-gov)\.)?[a-z0-9-]+\.([a-z0-9.-]+?)-v\d+(?::\d+)?"
)


class PriceFileError(ValueError):
    """A price file that cannot be read; the message names the file, the line and the fix."""


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What pytest-llm knows of one model; prices are USD per 1M tokens, None when unknown."""

    name: str
    provider: str | None = None
    context_window: int | None = None
    max_output_tokens: int | None = None
    input: float | None = None
    cached_input: float | None = None
    cache_write: float | None = None
    output: float | None = None
    checked: str | None = None
    source: str | None = None

    @property
    def priced(self) -> bool:
        """Whether a call to this model can be costed."""
        return self.input is not None and self.output is not None

    def cost(self, usage: Usage, *, cache_write_tokens: int = 0) -> float | None:
        """USD for a call with this usage; cached and cache-write tokens at their own rates."""
        if self.input is None or self.output is None:
            return None
        cached = min(usage.cached_tokens, usage.input_tokens)
        written = min(cache_write_tokens, usage.input_tokens - cached)
        plain = usage.input_tokens - cached - written
        dollars = (
            plain * self.input
            + cached * (self.input if self.cached_input is None else self.cached_input)
            + written * (self.input if self.cache_write is None else self.cache_write)
            + usage.output_tokens * self.output
        )
        return dollars / _PER_TOKEN


_FIELDS = {f.name: f.type for f in fields(ModelInfo) if f.name != "name"}
_NUMBERS = ("input", "cached_input", "cache_write", "output")
_COUNTS = ("context_window", "max_output_tokens")


def candidates(model: str) -> list[str]:
    """The names under which a model id may be listed, most specific first.

    `ft:gpt-4o-mini:org::id` is billed as its base model, `openai/gpt-4o` (OpenRouter style)
    as `gpt-4o`, dated snapshots and `-latest` aliases as their family.
    """
    names = [model]
    name = model
    if name.startswith("ft:"):
        name = name[3:].split(":", 1)[0]
        names.append(name)
    if "/" in name:
        name = name.rsplit("/", 1)[1]
        names.append(name)
    bedrock = _BEDROCK_ID.fullmatch(name)
    if bedrock is not None:
        name = bedrock.group(1)
        names.append(name)
    for suffix in (_DATE_SUFFIX, re.compile(r"-latest$")):
        stripped = suffix.sub("", name)
        if stripped != name:
            name = stripped
            names.append(name)
    return names


# Model ids whose row a table remembers: far above the models of one suite, and a bound
# against a suite that sends generated ids.
_MAX_REMEMBERED = 4096


class PriceTable:
    """Models by name, with the lookup rules of `candidates`."""

    def __init__(self, models: dict[str, ModelInfo]) -> None:
        self.models = models
        # Every replayed call is priced for the summary, mostly under a handful of model
        # ids: each id's row is found once (the table never changes: `merged` makes a new one).
        self._found: dict[str, ModelInfo | None] = {}

    def lookup(self, model: str | None) -> ModelInfo | None:
        """The row for a model id, or None when the model is unknown."""
        if not model:
            return None
        try:
            return self._found[model]
        except KeyError:
            pass
        found = next(
            (self.models[n] for n in candidates(model) if self.models.get(n) is not None), None
        )
        if len(self._found) < _MAX_REMEMBERED:
            self._found[model] = found
        return found

    def cost(self, model: str | None, usage: Usage, *, cache_write_tokens: int = 0) -> float | None:
        """USD for a call, or None when the model has no known price."""
        info = self.lookup(model)
        return None if info is None else info.cost(usage, cache_write_tokens=cache_write_tokens)

    def merged(self, other: dict[str, dict[str, Any]]) -> PriceTable:
        """A new table with `other`'s rows merged over these, field by field."""
        models = dict(self.models)
        for name, row in other.items():
            base = models.get(name, ModelInfo(name))
            models[name] = replace(base, **row)
        return PriceTable(models)


def _rows(document: Any, origin: str, line_of: Any = None) -> dict[str, dict[str, Any]]:
    def fail(problem: str, where: str | None = None) -> PriceFileError:
        line = line_of(where) if (line_of and where) else None
        at = f", line {line}" if line else ""
        return PriceFileError(
            f"{origin}{at}: {problem}. Expected a 'models' table of "
            '[models."<model id>"] rows with fields '
            + ", ".join(_FIELDS)
            + " (prices in USD per 1M tokens)."
        )

    if not isinstance(document, dict) or not isinstance(document.get("models"), dict):
        raise fail("no 'models' table")
    sources = document.get("sources") or {}
    rows: dict[str, dict[str, Any]] = {}
    for name, row in document["models"].items():
        if not isinstance(row, dict):
            raise fail(f"model {name!r} is not a table of fields", str(name))
        unknown = sorted(set(row) - set(_FIELDS))
        if unknown:
            raise fail(f"model {name!r} has unknown field(s) {', '.join(unknown)}", str(name))
        clean: dict[str, Any] = {}
        for key, value in row.items():
            if key in _NUMBERS:
                ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
                if not ok:
                    raise fail(f"{name}.{key} must be a number >= 0, not {value!r}", str(name))
                clean[key] = float(value)
            elif key in _COUNTS:
                if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                    raise fail(f"{name}.{key} must be a whole number > 0, not {value!r}", str(name))
                clean[key] = value
            elif isinstance(value, datetime.date):
                clean[key] = value.isoformat()
            else:
                clean[key] = str(value)
        provider = clean.get("provider")
        if "source" not in clean and isinstance(sources, dict) and provider in sources:
            clean["source"] = str(sources[provider])
        rows[str(name)] = clean
    return rows


def parse(text: str, origin: str) -> dict[str, dict[str, Any]]:
    """Rows of a price file's text, TOML or (when `origin` ends in .yaml/.yml) YAML."""
    if origin.endswith((".yaml", ".yml")):
        import yaml

        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
            document = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f", line {mark.line + 1}" if mark is not None else ""
            raise PriceFileError(
                f"{origin}{at}: not valid YAML ({getattr(exc, 'problem', exc)}). "
                "Fix the file or remove it from the ini key llm_prices."
            ) from None
        lines = _yaml_model_lines(node)
        return _rows(document, origin, lines.get)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PriceFileError(
            f"{origin}: not valid TOML ({exc}). Fix the file or remove it from the ini key "
            "llm_prices."
        ) from None
    lines = {m.group(1): text.count("\n", 0, m.start()) + 1 for m in _TOML_ROW.finditer(text)}
    return _rows(document, origin, lines.get)


_TOML_ROW = re.compile(r'^\[models\."?([^"\]]+)"?\]', re.MULTILINE)


def _yaml_model_lines(node: Any) -> dict[str, int]:
    import yaml

    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == "models" and isinstance(value, yaml.MappingNode):
                for name, _ in value.value:
                    lines[str(name.value)] = name.start_mark.line + 1
    return lines


# Read by its path: importlib.resources takes 1.7 ms at its first use in a process (it
# imports its readers) for a file that an installed wheel keeps beside this package. A
# package imported from a zip archive has no such path, and reads it through resources.
_PACKAGED = Path(__file__).parent.parent / "data" / "models.toml"


@cache
def default_table() -> PriceTable:
    """The packaged table (read once per process)."""
    try:
        text = _PACKAGED.read_text(encoding="utf-8")
    except OSError:
        packaged = resources.files("pytest_llm").joinpath("data/models.toml")
        text = packaged.read_text(encoding="utf-8")
    return PriceTable({}).merged(parse(text, "pytest_llm/data/models.toml"))


def load_table(path: Path | None) -> PriceTable:
    """The packaged table, with the user's price file merged over it when one is named."""
    if path is None:
        return default_table()
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise PriceFileError(
            f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); "
            "a price file is TOML or YAML text"
        ) from None
    except OSError as exc:
        raise PriceFileError(
            f"{path}: cannot read the price file ({exc.strerror}). "
            "Check the path given to the ini key llm_prices (relative to rootdir)."
        ) from None
    return default_table().merged(parse(text, str(path)))


# The running session's table (ini llm_prices merged in), so helpers called from test code,
# such as assert_fits_context, see the rows the summary uses. The plugin keeps the table in
# config.stash and sets it here only for the duration of each test; calls carry their own.
_session_table: ContextVar[PriceTable | None] = ContextVar("pytest_llm_prices", default=None)


@contextmanager
def session_table(table: PriceTable | None) -> Iterator[None]:
    """Within the block, model_info and cost_usd read `table` (None: the packaged one)."""
    token = _session_table.set(table)
    try:
        yield
    finally:
        _session_table.reset(token)


def active_table() -> PriceTable:
    """The session's table, or the packaged one outside a session."""
    return _session_table.get() or default_table()


def model_info(model: str) -> ModelInfo | None:
    """The row for a model id (context window, max output, prices), or None."""
    return active_table().lookup(model)


def cost_usd(model: str, usage: Usage) -> float | None:
    """What a call with this usage cost; None for a model with no known price."""
    return active_table().cost(model, usage)
