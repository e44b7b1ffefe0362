"""The package's folders show its architecture: imports run one way, down the layers, in no circle.

Every import counts, lazy ones inside functions and `TYPE_CHECKING` ones included: a lazy import
hides a loop, it does not remove it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "pytest_llm"

# Top to bottom, as CONTRIBUTING.md draws it. A module may import its own layer or any layer below.
LAYERS: list[tuple[str, ...]] = [
    ("cli", "__main__", "plugin"),
    ("report",),
    ("replay",),
    ("cassettes",),
    ("calls", "keys", "scrub", "steps"),
    ("checks",),
    ("providers",),
    ("usage", "errors", "installed", "_version"),
]
# Only the pytest glue and the command line know pytest.
PYTEST_ALLOWED = ("plugin", "cli")


def _name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(module: str, path: Path, known: set[str]) -> set[str]:
    """The package modules that `module` imports, anywhere in its body."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return {name for name in found if name in known and name != module}


def _layer(module: str) -> int | None:
    parts = module.split(".")
    if len(parts) < 2:
        return None  # the package's face re-exports from every layer
    for index, names in enumerate(LAYERS):
        if parts[1] in names:
            return index
    raise AssertionError(f"{module} is in no layer: add it to LAYERS and CONTRIBUTING.md")


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def test_every_module_sits_in_a_layer() -> None:
    for module in _modules():
        _layer(module)


def test_imports_only_run_down_the_layers() -> None:
    upward = []
    for module, targets in _graph().items():
        here = _layer(module)
        for target in sorted(targets):
            there = _layer(target)
            if here is not None and there is not None and there < here:
                upward.append(f"{module} imports {target} (layer {here} -> {there})")
    assert not upward, "imports that run back up:\n" + "\n".join(upward)


def test_no_two_modules_import_each_other_even_through_others() -> None:
    graph = _graph()
    # A package's __init__ re-exporting its own submodules is not a loop of logic.
    for name in graph:
        graph[name] = {t for t in graph[name] if not t.startswith(name + ".")}
    cycles = []
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycles.append(" -> ".join([*trail[trail.index(target) :], target]))
            elif target not in state:
                visit(target, [*trail, target])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert not cycles, "import circles:\n" + "\n".join(cycles)


@pytest.mark.parametrize("module", sorted(_modules()))
def test_only_the_glue_imports_pytest(module: str) -> None:
    path = _modules()[module]
    layer = module.split(".")[1] if "." in module else ""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    uses = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and not node.level
    }
    if layer not in PYTEST_ALLOWED:
        assert "pytest" not in uses, f"{module} imports pytest; only {PYTEST_ALLOWED} may"
