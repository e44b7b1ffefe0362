"""The hardened PyYAML loader: for cassettes of earlier versions, and what the fast reader
cannot vouch for.

A cassette is input that anyone can edit or break, so this loader never executes code (the
safe loader only), refuses the YAML features that JSON data never needs and that PyYAML
handles unsafely or silently (aliases, which make "billion laughs" bombs; duplicate keys,
of which PyYAML keeps the last; non-text keys; tags for binary, sets and timestamps), bounds
nesting, and turns every problem into one CassetteError naming the file and line. It is
slow (pure event handling in Python), so `store.read` keeps its result in `load_cache`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pytest_llm.cassettes.format import MAX_DEPTH, RESTORE
from pytest_llm.errors import CassetteError

_STR_TAG = "tag:yaml.org,2002:str"

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _problem(message: str, node: yaml.Node) -> yaml.constructor.ConstructorError:
    return yaml.constructor.ConstructorError(None, None, message, node.start_mark)


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


class _Loader(_BaseLoader):  # type: ignore[valid-type,misc]
    """The safe loader, restricted to the JSON data a cassette holds."""

    def get_single_node(self) -> yaml.Node | None:
        node: yaml.Node | None = super().get_single_node()
        if node is not None:
            _check_graph(node)
        return node

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except (ArithmeticError, AttributeError, LookupError, TypeError, ValueError) as exc:
            # PyYAML lets these escape for scalars it cannot convert: `!!int x`,
            # `2001-02-30`, an int of 5000 digits.
            kind = str(node.tag).rsplit(":", 1)[-1]
            detail = "" if isinstance(exc, LookupError) else f" ({str(exc)[:80]})"
            raise _problem(f"cannot read {_shown(node)} as {kind}{detail}", node) from None


def _refuse_tag(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    raise _problem(f"the tag {node.tag} is not allowed: a cassette holds JSON data", node)


def _text(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    # An unquoted date is text in JSON; as a datetime it could not be replayed.
    return loader.construct_scalar(node)  # type: ignore[arg-type]


for _tag in ("binary", "set", "omap", "pairs"):
    _Loader.add_constructor(f"tag:yaml.org,2002:{_tag}", _refuse_tag)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _text)


def _check_graph(root: yaml.Node) -> None:
    """Refuse aliases, deep nesting, and mapping keys that are not unique text."""
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if id(node) in seen:
            # The composer hands out the anchored node again for each alias; its
            # position is the anchor's (the alias's own position is not kept).
            raise _problem(
                f"YAML aliases are not allowed: the value anchored at line {_line(node)} is "
                "used again (pytest-llm never writes anchors or aliases)",
                node,
            )
        seen.add(id(node))
        if depth > MAX_DEPTH:
            raise _problem(f"nested deeper than {MAX_DEPTH} levels", node)
        if isinstance(node, yaml.SequenceNode):
            stack.extend((child, depth + 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            first_line: dict[str, int] = {}
            for key, value in node.value:
                if not isinstance(key, yaml.ScalarNode) or key.tag != _STR_TAG:
                    raise _problem(
                        "a mapping key must be text, as in JSON; found "
                        f"{_describe(key)} (quote it if it is meant as text)",
                        key,
                    )
                if key.value in first_line:
                    raise _problem(
                        f"duplicate key {key.value!r} (first at line {first_line[key.value]}); "
                        "YAML would silently keep only the last one",
                        key,
                    )
                first_line[key.value] = _line(key)
                stack.append((value, depth + 1))


def _shown(node: yaml.Node) -> str:
    if isinstance(node, yaml.ScalarNode):
        value = str(node.value)
        return repr(value if len(value) <= 40 else value[:37] + "...")
    return "a list" if isinstance(node, yaml.SequenceNode) else "a mapping"


def _describe(node: yaml.Node) -> str:
    if isinstance(node, yaml.ScalarNode):
        kind = "merge key" if node.tag.endswith(":merge") else node.tag.rsplit(":", 1)[-1]
        return f"{kind} {_shown(node)}"
    return _shown(node)


def parse(text: str, path: Path) -> tuple[Any, dict[str, int]]:
    """The document, and the lines of its parts that later checks name (`version`, `#0`...)."""
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            return (loader.construct_document(node), _lines(node)) if node else (None, {})
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or str(exc).splitlines()[0]
        line = mark.line + 1 if mark is not None else None
    except yaml.reader.ReaderError as exc:  # control characters, before any mark exists
        character = exc.character
        shown = f"U+{character:04X}" if isinstance(character, int) else repr(character)
        problem = f"the character {shown} is not allowed in YAML"
        line = text[: exc.position].count("\n") + 1
    except yaml.YAMLError as exc:
        problem, line = str(exc).splitlines()[0], None
    except RecursionError:  # the pure-Python parser, when libyaml is not installed
        problem, line = f"nested deeper than {MAX_DEPTH} levels", None
    except Exception as exc:  # a last net: any other loader failure is still the file's
        problem, line = f"{type(exc).__name__}: {exc}", None
    raise CassetteError(path, f"not valid cassette YAML ({problem})", line=line, fix=RESTORE)


def _lines(root: yaml.Node) -> dict[str, int]:
    lines: dict[str, int] = {}
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            lines[key.value] = _line(value)
            if key.value == "interactions" and isinstance(value, yaml.SequenceNode):
                lines |= {f"#{n}": _line(item) for n, item in enumerate(value.value)}
    return lines


def lines(text: str, path: Path) -> dict[str, int]:
    """The lines of a cassette's parts that error messages name; empty when it cannot be read."""
    try:
        return parse(text, path)[1]
    except CassetteError:
        return {}
