"""The vcrpy `VCR` object that a conftest's `pytest_recording_configure(config, vcr)` receives.

pytest-recording hands that hook a real `vcr.VCR`; so does pytest-llm, so that code written
against vcrpy sees vcrpy. After the hook, what it changed is read back: serializers,
matchers and a persister it registered, and attributes it assigned (before_record_request,
match_on, ...), which act as defaults under the test's vcr_config, as in vcrpy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vcr import VCR  # type: ignore[import-untyped]
from vcr.matchers import requests_match  # type: ignore[import-untyped]
from vcr.request import Request  # type: ignore[import-untyped]
from vcr.serializers import jsonserializer, yamlserializer  # type: ignore[import-untyped]

from pytest_llm.cassettes.plain_http import is_plain
from pytest_llm.replay.settings import RecordMode
from pytest_llm.replay.vcr import LiveRequest, Pairwise
from pytest_llm.replay.vcr_cassette import rebased, vcr_record_mode, vcr_request

# Attributes of VCR that are vcr_config keys of the same name, honoured as defaults.
_AS_CONFIG = (
    "before_record_request",
    "before_record_response",
    "match_on",
    "filter_headers",
    "filter_query_parameters",
    "filter_post_data_parameters",
    "ignore_hosts",
    "ignore_localhost",
    "decode_compressed_response",
    "record_mode",
    "serializer",
)
# Handled below, or ours to set.
_READ = frozenset(
    {
        *_AS_CONFIG,
        "serializers",
        "matchers",
        "persister",
        "cassette_library_dir",
        "path_transformer",
    }
)
Document = Callable[[Path], Any]


def new_vcr(folder: Path, suffix: str, mode: RecordMode) -> Any:
    """The VCR object pytest-recording would build for a test."""
    return VCR(
        path_transformer=VCR.ensure_suffix(suffix),
        cassette_library_dir=str(folder),
        record_mode=vcr_record_mode(mode).value,
    )


@dataclass
class Configured:
    """What a pytest_recording_configure hook changed on the VCR object."""

    defaults: dict[str, Any] = field(default_factory=dict)  # vcr_config keys, under vcr_config
    matchers: dict[str, Callable[[Any, Any], Any]] = field(default_factory=dict)
    persister: Any = None  # a registered persister, or None for the file system
    serializers: dict[str, Any] = field(default_factory=dict)  # registered ones, by name
    folder: Path | None = None  # cassette_library_dir, when the hook moved it
    unsupported: list[str] = field(default_factory=list)  # "vcr.<name>" for each ignored change


def configured(vcr: Any, before: Any) -> Configured:
    """Compare `vcr` after the hook with `before`, a VCR built the same way and left alone."""
    result = Configured()
    for name in _AS_CONFIG:
        if getattr(vcr, name) != getattr(before, name):
            value = getattr(vcr, name)
            if name == "record_mode":  # vcrpy's enum member: vcr_config takes the string
                value = getattr(value, "value", value)
            result.defaults[name] = value
    result.matchers = {
        name: fn for name, fn in vcr.matchers.items() if before.matchers.get(name) is not fn
    }
    result.serializers = {
        name: module
        for name, module in vcr.serializers.items()
        if before.serializers.get(name) is not module
    }
    if vcr.persister is not before.persister:
        result.persister = vcr.persister
    if vcr.cassette_library_dir != before.cassette_library_dir:
        result.folder = Path(vcr.cassette_library_dir)
    for name, value in vars(vcr).items():
        if name not in _READ and vars(before).get(name) != value:
            result.unsupported.append(f"vcr.{name.lstrip('_')}")
    return result


def document_reader(configured: Configured, serializer_name: str) -> Document | None:
    """How to read a cassette into vcrpy's layout with what the hook registered: its persister,
    or its serializer; None when vcrpy's own would be used (pytest-llm reads those itself).

    The reader returns None for a cassette that does not exist.
    """
    serializer = configured.serializers.get(serializer_name)
    persister = configured.persister
    if persister is None and serializer is None:
        return None
    module = serializer or {"json": jsonserializer}.get(serializer_name, yamlserializer)
    if persister is not None:

        def from_persister(path: Path) -> Any:
            try:
                loaded = persister.load_cassette(str(path), serializer=module)
            except (FileNotFoundError, ValueError):  # vcrpy's "not found" and "cannot decode"
                if not path.exists():
                    return None
                raise
            requests, responses = loaded[0], loaded[1]
            return {
                "interactions": [
                    {"request": request._to_dict(), "response": response}
                    for request, response in zip(requests, responses, strict=False)
                ]
            }

        return from_persister

    def from_serializer(path: Path) -> Any:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        return module.deserialize(text)

    return from_serializer


def pairwise(matchers: list[Callable[[Any, Any], Any]]) -> Pairwise:
    """The recordings that `matchers` accept for a live request, in order (vcrpy's test:
    every matcher returns None or True, or raises AssertionError)."""

    def accepted(recordings: list[dict[str, Any]], live: LiveRequest) -> list[dict[str, Any]]:
        method, url, headers, body = live
        asked = Request(method, url, body, dict(headers))
        found = []
        for interaction in recordings:
            recorded = vcr_request(interaction)
            if not is_plain(interaction):  # a model call's host is never part of its match
                recorded.uri = rebased(recorded.uri, url)
            if requests_match(asked, recorded, matchers):
                found.append(interaction)
        return found

    return accepted
