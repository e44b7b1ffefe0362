"""Under pytest-xdist, workers send what they used to the controller for the summary."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from pytest_llm.plugin.session import RunState


class _Hooks(Protocol):
    partial: bool
    run_started: float

    @property
    def started(self) -> bool: ...

    @property
    def state(self) -> RunState: ...


class XdistHooks:
    """Registered only when pytest-xdist is installed (its hooks exist only then)."""

    def __init__(self, hooks: _Hooks) -> None:
        self.hooks = hooks

    def pytest_configure_node(self, node: Any) -> None:
        # Workers judge "created by this run" by the controller's start time.
        node.workerinput["pytest_llm_run_started"] = self.hooks.run_started

    def pytest_sessionfinish(self, session: Any) -> None:
        workeroutput = getattr(session.config, "workeroutput", None)
        if workeroutput is None or not (self.hooks.started or self.hooks.partial):
            return
        state = self.hooks.state
        workeroutput["pytest_llm"] = {
            "replayed": state.replayed,
            "recorded": state.recorded,
            "written": [str(p) for p in state.written],
            "tests": state.tests,
            "tainted": [str(p) for p in state.tainted],
            "partial": state.partial or self.hooks.partial,
            "used": {str(p): sorted(map(list, ids)) for p, ids in state.used.items()},
            "known": {str(p): sorted(map(list, ids)) for p, ids in state.known.items()},
        }

    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        data = getattr(node, "workeroutput", {}).get("pytest_llm")
        if not data:
            return
        state = self.hooks.state
        state.replayed += data["replayed"]
        state.recorded += data["recorded"]
        state.written.update(Path(p) for p in data["written"])
        state.tests.extend(data.get("tests", []))
        state.tainted.update(Path(p) for p in data.get("tainted", []))
        state.partial = state.partial or bool(data.get("partial"))
        for target, source in ((state.used, data["used"]), (state.known, data["known"])):
            for path, ids in source.items():
                target.setdefault(Path(path), set()).update((a, b) for a, b in ids)
