"""PyYAML's reading of vcrpy cassettes: what the fast reader (`vcr_fast_read`) leaves to it.

vcrpy writes with PyYAML, so PyYAML is the reference reading of its files. It is only
imported when a file, or one of its plain scalars, needs it: most files are read by yaml-rs,
and the import costs 10 ms of the first pytest-recording test of a run.
"""

from __future__ import annotations

from typing import Any

import yaml

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class VcrLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """The safe loader, reading every tag it does not know as the plain data under it.

    Some recorders pickle header keys as `!!python/object/apply:multidict._multidict.istr
    [Accept]`: the key is the string inside. Nothing named by a tag is ever imported or called.
    """


def _plain(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.SequenceNode):
        items = loader.construct_sequence(node, deep=True)
        # A wrapped string (istr("Accept")) stands for the string; keys must stay hashable.
        if len(items) == 1 and isinstance(items[0], str | int | float | bool):
            return str(items[0])
        return tuple(items) if all(_hashable(i) for i in items) else items
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


VcrLoader.add_multi_constructor("", _plain)


class Unreadable(Exception):
    """Text that is not YAML: PyYAML's problem, and its line (1-based) where it has one."""

    def __init__(self, problem: str, line: int | None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.line = line


def load(text: str) -> Any:
    """The document as vcrpy would read it back; Unreadable when it is not YAML."""
    try:
        return yaml.load(text, Loader=VcrLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise Unreadable(problem, mark.line + 1 if mark is not None else None) from None


def interaction_line(text: str, number: int) -> int | None:
    """The line (1-based) where interaction `number` of a vcrpy file starts, if it can tell."""
    try:
        root = yaml.compose(text, Loader=VcrLoader)
    except yaml.YAMLError:
        return None
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            listed = key.value in ("interactions", "requests")
            if listed and isinstance(value, yaml.SequenceNode) and number < len(value.value):
                return int(value.value[number].start_mark.line) + 1
    return None


def value_of(token: str) -> Any:
    """The plain scalar `token` as a mapping's value, as PyYAML reads it (YAMLError if it
    cannot)."""
    return yaml.load("k: " + token, Loader=_BaseLoader)["k"]
