"""`pytest_llm.tool`: a Python function whose results are recorded by canonical arguments and
replayed without running it, in a test that takes part; elsewhere it just runs.

The wrapper finds the running test's recorder through the source that the interceptor
installs for the run (process-wide, as the HTTP hooks are: a tool may run in a thread that
shares no context with the test).
"""

from __future__ import annotations

import functools
import inspect
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, overload

from pytest_llm.cassettes.tool_steps import (
    FUNCTION,
    canonical_json,
    function_interaction,
    is_tool_step,
    tool_key,
)
from pytest_llm.replay.tool_misses import tool_miss_message
from pytest_llm.steps import describe_arguments

if TYPE_CHECKING:
    from pytest_llm.replay.recorder import Recorder

F = TypeVar("F", bound=Callable[..., Any])

_SOURCES: list[Callable[[], Recorder | None]] = []


def install(source: Callable[[], Recorder | None]) -> Callable[[], None]:
    """Let tool functions find the running test's recorder through `source`; returns the undo."""
    _SOURCES.append(source)
    return lambda: _SOURCES.remove(source)


def active_recorder() -> Recorder | None:
    """The recorder of the test running now, None outside a participating test."""
    return _SOURCES[-1]() if _SOURCES else None


class _Call:
    """One call of a tool function inside a participating test."""

    def __init__(self, recorder: Recorder, qualname: str, name: str, arguments: Any) -> None:
        self.recorder, self.qualname, self.name = recorder, qualname, name
        try:
            # The stored form (tuples become lists): the key is computed on what replay reads.
            self.arguments = json.loads(canonical_json(arguments))
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"pytest-llm: the arguments of tool {qualname} are not JSON-serialisable "
                f"({exc}); a tool recorded by pytest_llm.tool takes JSON values "
                f"(str, int, float, bool, None, lists and dicts of them)"
            ) from None
        self.key = tool_key(FUNCTION, "", qualname, self.arguments)
        self.start = time.perf_counter()

    def replayed(self) -> tuple[bool, Any]:
        """(True, the recorded result), or (False, None) when the function must run."""
        interaction = self.recorder.decide_tool(self.key, self._miss)
        if interaction is None:
            self.start = time.perf_counter()
            return False, None
        return True, interaction["response"].get("body")

    def record(self, result: Any) -> None:
        try:
            stored = json.loads(canonical_json(result))
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"pytest-llm: tool {self.qualname} returned {type(result).__name__}, which is "
                f"not JSON-serialisable ({exc}); return JSON values (str, int, float, bool, "
                f"None, lists and dicts of them) so the result can be recorded"
            ) from None
        recorder = self.recorder
        recorder.record_tool(
            function_interaction(
                self.qualname,
                self.name,
                self.arguments,
                stored,
                recorder.settings.test,
                time.perf_counter() - self.start,
            )
        )

    def _miss(self, times_recorded: int) -> str:
        cassette = self.recorder.cassette
        candidates = [
            (position, _fields(i["request"]["path"], i["request"].get("body")))
            for position, i in enumerate(cassette.interactions)
            if is_tool_step(i) and i.get("provider") == FUNCTION
        ]
        same = [c for c in candidates if c[1]["function"] == self.qualname]
        return tool_miss_message(
            "tool call",
            [f"tool: {self.name}({describe_arguments(self.arguments)})  ({self.qualname})"],
            _fields(self.qualname, self.arguments),
            same or candidates,
            cassette,
            self.recorder.settings,
            times_recorded=times_recorded,
        )


def _fields(qualname: str, arguments: Any) -> dict[str, Any]:
    return {"function": qualname, "arguments": arguments}


def _binder(fn: Callable[..., Any]) -> Callable[[tuple[Any, ...], dict[str, Any]], Any]:
    """Arguments by parameter name, defaults filled in (a method's self/cls left out)."""
    signature = inspect.signature(fn)
    names = list(signature.parameters)
    skip = names[0] if names and names[0] in ("self", "cls") else None

    def bind(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return {k: v for k, v in bound.arguments.items() if k != skip}

    return bind


@overload
def tool(fn: F, /, *, name: str | None = None) -> F: ...
@overload
def tool(fn: None = None, /, *, name: str | None = None) -> Callable[[F], F]: ...
def tool(fn: F | None = None, /, *, name: str | None = None) -> F | Callable[[F], F]:
    """Record a tool function's results by canonical JSON arguments and replay them without
    running it, in a test that takes part; elsewhere it just runs. `name`: the tool's name in
    `llm.steps` (default: the function's name)."""
    if fn is None:
        return functools.partial(tool, name=name)
    qualname = f"{fn.__module__}.{fn.__qualname__}"
    label = name or fn.__name__
    bind = _binder(fn)

    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            recorder = active_recorder()
            if recorder is None:
                return await fn(*args, **kwargs)
            call = _Call(recorder, qualname, label, bind(args, kwargs))
            hit, result = call.replayed()
            if hit:
                return result
            result = await fn(*args, **kwargs)
            call.record(result)
            return result

        return run_async  # type: ignore[return-value]

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        recorder = active_recorder()
        if recorder is None:
            return fn(*args, **kwargs)
        call = _Call(recorder, qualname, label, bind(args, kwargs))
        hit, result = call.replayed()
        if hit:
            return result
        result = fn(*args, **kwargs)
        call.record(result)
        return result

    return run
