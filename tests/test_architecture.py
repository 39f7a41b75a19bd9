"""The layers of docs/architecture.md, read off the tree and checked on every import.

Every `import` and `from ... import` in the code (inside functions too, since a lazy import is
still a dependency) must point down the layers or stay within one; `devices/` and
`offline_cache/` import nothing of the project beyond themselves; packages form no cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ("kiosk", "devices", "offline_cache", "screens")

# Lowest first: a module may import its own layer and the layers below it, never above.
LAYERS = ("devices", "offline_cache", "core", "features", "shell", "flows", "wiring", "screens", "ui", "cli")
RANK = {layer: rank for rank, layer in enumerate(LAYERS)}
FEATURES = ("catalog", "transactions", "staff", "fleet", "sandbox")
WIRING = ("kiosk.context", "kiosk.device_hub")
STANDALONE = ("devices", "offline_cache")  # could each be published alone
MAX_TOP_LEVEL_MODULES = 8


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str:
    parts = module.split(".")
    if parts[0] in STANDALONE or parts[0] == "screens":
        return parts[0]
    if module in ("kiosk", "kiosk.__main__"):
        return "core" if module == "kiosk" else "cli"
    if module in WIRING:
        return "wiring"
    second = parts[1]
    if second in FEATURES:
        return "features"
    if second in RANK:
        return second
    raise AssertionError(f"{module} is in no layer: give it a folder of docs/architecture.md")


def package_of(module: str) -> str:
    """The node of the package graph: a top-level package, or kiosk's layer or feature folder."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "kiosk" and len(parts) > 1 else parts[0]


def imports_of(path: Path) -> set[str]:
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join([*base, node.module] if node.module else base)
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)  # `from kiosk import cli`
    return {name for name in found if name.split(".")[0] in PROJECT}


def project_imports() -> dict[str, set[str]]:
    modules = {module_name(path): path for folder in PROJECT for path in (ROOT / folder).rglob("*.py")}
    known = set(modules)
    graph = {}
    for module, path in modules.items():
        # `from kiosk.cli import main` names a module and a function: keep what is a module
        graph[module] = {name for name in imports_of(path) if name in known} - {module}
    return graph


def violations(graph: Mapping[str, Iterable[str]]) -> list[str]:
    found = []
    for module, targets in graph.items():
        here = layer_of(module)
        for target in targets:
            there = layer_of(target)
            if here in STANDALONE and there != here:
                found.append(f"{module} -> {target}: {here}/ imports nothing outside itself")
            elif there in STANDALONE and here in STANDALONE:
                continue
            elif RANK[there] > RANK[here]:
                found.append(f"{module} ({here}) -> {target} ({there}): an import up the layers")
    return sorted(found)


def package_cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    edges: dict[str, set[str]] = {}
    for module, targets in graph.items():
        source = package_of(module)
        edges.setdefault(source, set()).update(package_of(t) for t in targets if package_of(t) != source)
    cycles, done = [], set()

    def visit(node: str, trail: list[str]) -> None:
        if node in trail:
            cycles.append([*trail[trail.index(node):], node])
            return
        if node in done:
            return
        for successor in sorted(edges.get(node, ())):
            visit(successor, [*trail, node])
        done.add(node)

    for node in sorted(edges):
        visit(node, [])
    return cycles


def test_no_import_goes_up_the_layers() -> None:
    assert violations(project_imports()) == []


def test_packages_form_no_cycle() -> None:
    assert package_cycles(project_imports()) == []


def test_devices_and_offline_cache_stand_alone() -> None:
    graph = project_imports()
    for package in STANDALONE:
        outside = {t for m, targets in graph.items() if m.split(".")[0] == package for t in targets
                   if t.split(".")[0] != package}
        assert outside == set(), f"{package}/ imports {sorted(outside)}"


def test_the_tree_names_the_layers() -> None:
    top = sorted(path.name for path in (ROOT / "kiosk").glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top
    folders = {path.name for path in (ROOT / "kiosk").iterdir() if (path / "__init__.py").is_file()}
    assert {"core", "shell", "flows", "ui", "cli", *FEATURES} <= folders
    drawn = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    for folder in folders:
        assert f"kiosk/{folder}/" in drawn, f"docs/architecture.md does not draw kiosk/{folder}/"


def test_the_checks_catch_what_they_forbid() -> None:
    """Negative controls: planted imports against the rules are found."""
    planted = {
        "kiosk.core.config": {"kiosk.ui.app"},             # foundations reaching for the Kivy edge
        "devices.printer": {"kiosk.core.logs"},            # a device package that needs the app
        "offline_cache.outbox": {"kiosk.catalog.model"},   # a store that needs a feature
        "kiosk.flows.payment": {"kiosk.core.logs"},        # allowed: down the layers
    }
    assert violations(planted) == [
        "devices.printer -> kiosk.core.logs: devices/ imports nothing outside itself",
        "kiosk.core.config (core) -> kiosk.ui.app (ui): an import up the layers",
        "offline_cache.outbox -> kiosk.catalog.model: offline_cache/ imports nothing outside itself",
    ]
    cycle = {"kiosk.catalog.cli": {"kiosk.sandbox.server"}, "kiosk.sandbox.state": {"kiosk.catalog.model"}}
    assert package_cycles(cycle) == [["kiosk.catalog", "kiosk.sandbox", "kiosk.catalog"]]
