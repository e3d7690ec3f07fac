"""The layout keeps the architecture: imports flow one way, app → pages → components → services → models,
cli → services, api → services (app mounts api), with no import circle anywhere (imports inside functions
included)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "pages", "components", "cli", "api", "services", "models")
#: which top-level packages each one may import (besides itself)
ALLOWED = {
    "app": {"pages", "components", "api", "services", "models"},
    "pages": {"components", "services", "models"},
    "components": {"services", "models"},
    "cli": {"api", "services", "models"},
    "api": {"services", "models"},
    "services": {"models"},
    "models": set(),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """Every project module ``path`` imports, at any depth of the file (functions and branches included)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in modules:  # ``from pkg import name``: the module is pkg or pkg.name
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    files = [p for top in PACKAGES for p in (ROOT / top).rglob("*.py") if "versions" not in p.parts]
    modules = {_module_name(p) for p in files}
    graph = {_module_name(p): _imports(p, modules) for p in files}
    for module in list(graph):  # importing a package runs its __init__: a package's parents are imported too
        graph[module] = {t for t in graph[module] if not module.startswith(t + ".")}
    return graph


def test_no_package_imports_upward():
    offenders = sorted(f"{module} imports {target}" for module, targets in _graph().items() for target in targets
                       if (top := module.split(".")[0]) != (other := target.split(".")[0])
                       and other not in ALLOWED[top])
    assert offenders == []


def test_there_is_no_import_circle():
    graph = _graph()
    state: dict[str, int] = {}
    circles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                circles.append([*path[path.index(target):], target] if target in path else [module, target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert circles == []


def test_the_runtime_is_the_composition_root():
    """Nothing in services imports services.runtime: the pages, the CLI and the worker's entry point do."""
    graph = _graph()
    assert sorted(m for m, targets in graph.items() if m.startswith("services") and "services.runtime" in targets) == []


def test_no_test_module_imports_another():
    """Shared builders live in tests/support (and fake servers in tests/fakes), never in a test module."""
    files = list((ROOT / "tests").rglob("*.py"))
    modules = {_module_name(p) for p in files}
    offenders = sorted(f"{_module_name(p)} imports {target}" for p in files for target in _imports(p, modules)
                       if target.rpartition(".")[2].startswith("test_") or target.endswith("conftest"))
    assert offenders == []
