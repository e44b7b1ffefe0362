"""The one list of providers: the built-in ones, then those registered by entry point.

A third-party package registers a provider as pytest registers plugins, in its packaging
metadata::

    [project.entry-points."pytest_llm.providers"]
    acme = "acme_pytest_llm:AcmeProvider"   # a Provider subclass or instance

Entry points are read once, when the plugin configures a run (`load`), never during a call:
reading package metadata touches files, which must not happen on an event loop's thread.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from importlib.metadata import EntryPoint

from pytest_llm import installed
from pytest_llm.errors import ProviderError
from pytest_llm.providers.anthropic import Anthropic
from pytest_llm.providers.base import Provider
from pytest_llm.providers.bedrock import Bedrock
from pytest_llm.providers.google import Google
from pytest_llm.providers.ollama import Ollama
from pytest_llm.providers.openai import OpenAI

__all__ = ["BUILTIN", "GROUP", "get", "load", "providers"]

GROUP = "pytest_llm.providers"
# Built-in formats first. Their paths do not overlap, except OpenAI's generic suffixes,
# which go last so a more specific format is asked before them.
BUILTIN: tuple[Provider, ...] = (Anthropic(), Bedrock(), Google(), Ollama(), OpenAI())

_lock = threading.Lock()
_loaded: tuple[Provider, ...] | None = None
# The loaded providers by name: `get` runs several times in every call.
_by_name: dict[str, Provider] = {}


def _instance(name: str, target: object) -> Provider:
    provider = target() if isinstance(target, type) else target
    if not isinstance(provider, Provider) or not provider.name:
        raise ProviderError(
            f"pytest-llm: the entry point {name!r} in group {GROUP!r} must name a "
            f"pytest_llm.providers.base.Provider subclass with a `name`, not {target!r}"
        )
    return provider


def load(points: Iterable[EntryPoint] | None = None) -> tuple[Provider, ...]:
    """Read the entry points again (or `points`, read already): the providers of this run,
    third-party ones first.

    A registered provider is asked before the built-in ones, so a package can claim a path
    that would otherwise look OpenAI-compatible. A name already taken is an error.
    """
    global _loaded, _by_name
    found: list[Provider] = []
    names = {p.name for p in BUILTIN}
    for point in installed.of_group(GROUP) if points is None else points:
        provider = _instance(point.name, point.load())
        if provider.name in names:
            raise ProviderError(
                f"pytest-llm: the provider {provider.name!r} from entry point {point.value!r} "
                f"is already registered; give it another name"
            )
        names.add(provider.name)
        found.append(provider)
    with _lock:
        loaded = (*found, *BUILTIN)
        _by_name = {p.name: p for p in loaded}  # first, so that a reader of _loaded finds it
        _loaded = loaded
        return loaded


def providers() -> tuple[Provider, ...]:
    """Every provider, in the order requests are matched against them."""
    loaded = _loaded
    return loaded if loaded is not None else load()


def get(name: str) -> Provider | None:
    """The provider called `name`, or None."""
    if _loaded is None:
        load()
    return _by_name.get(name)
