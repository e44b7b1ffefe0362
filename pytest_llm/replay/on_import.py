"""Run a function when a module is imported: at once if it already is, else right after its import.

The hooks for client libraries (`requests`, `aiohttp`) patch classes of those libraries, and
importing a library only to patch it costs a run that never uses it (`requests` and urllib3:
about 50 ms). So a hook is installed when the library is imported, by the application or by a
test, and never before. The hook's own work is then attribute patching on modules the library
has just loaded: no file is read and nothing else is imported, so an import that happens inside
an async call costs the event loop nothing more than the import itself.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any


class _Watch(MetaPathFinder):
    """A finder that finds nothing itself: it makes the module's loader call `then` after it
    has run the module (every time the module is imported, which pytester's inner runs repeat)."""

    def __init__(self, name: str, then: Callable[[], None]) -> None:
        self.name = name
        self.then = then

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != self.name:
            return None
        for finder in sys.meta_path:  # the search the import system would make without us
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec: ModuleSpec | None = find(fullname, path, target)
            if spec is not None:
                self._follow(spec)
                return spec
        return None

    def _follow(self, spec: ModuleSpec) -> None:
        loader: Any = spec.loader
        run = getattr(loader, "exec_module", None)
        if run is None:
            return
        then = self.then

        def exec_module(module: ModuleType) -> None:
            run(module)
            then()

        # On this spec's loader only: each import gets a loader of its own. No standard loader
        # refuses the attribute; a library behind one that did would stay unhooked.
        with contextlib.suppress(AttributeError):
            loader.exec_module = exec_module


def when_imported(name: str, then: Callable[[], None]) -> Callable[[], None]:
    """Call `then` now if module `name` is imported, and after each later import of it; the
    function that stops watching."""
    watch = _Watch(name, then)
    sys.meta_path.insert(0, watch)
    if name in sys.modules:
        then()

    def stop() -> None:
        if watch in sys.meta_path:
            sys.meta_path.remove(watch)

    return stop
