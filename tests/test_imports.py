"""Every codec module imports; none imports the CLI; the library never imports an application; no import cycle.

Edges are the `codec.*` imports a module makes anywhere (module level or deferred inside a function),
except under `if TYPE_CHECKING:` (annotations only, never executed).
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import codec

ROOT = Path(codec.__file__).parent
ENTRY_POINTS = {"codec.__main__"}  # `python -m codec` is the CLI's own entry point
# The applications layer of docs/architecture.md: they use the library; the library never imports them.
APPLICATIONS = ("codec.cli", "codec.commands", "codec.jobs", "codec.prep", "codec.eval", "codec.hub.release")


def all_modules() -> dict[str, Path]:
    found = {"codec": ROOT / "__init__.py"}
    for info in pkgutil.walk_packages([str(ROOT)], prefix="codec."):
        path = ROOT.joinpath(*info.name.split(".")[1:])
        found[info.name] = path / "__init__.py" if info.ispkg else path.with_suffix(".py")
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported(path: Path, modules: set[str]) -> set[str]:
    """codec modules imported by the file at `path` (submodules named in `from codec.x import y` count)."""
    out: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name in modules)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module.startswith("codec"):
            subs = {f"{node.module}.{a.name}" for a in node.names} & modules
            out.update(subs or ({node.module} & modules))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    return out


def test_every_module_imports():
    for name in sorted(set(all_modules()) - ENTRY_POINTS):  # importing __main__ would run the CLI
        importlib.import_module(name)


def test_no_module_imports_the_cli():
    modules = all_modules()
    offenders = [
        name
        for name, path in modules.items()
        if name not in ENTRY_POINTS and name != "codec.cli" and "codec.cli" in imported(path, set(modules))
    ]
    assert offenders == []


def _is_application(name: str) -> bool:
    return any(name == app or name.startswith(app + ".") for app in APPLICATIONS)


def test_the_library_imports_no_application():
    modules = all_modules()
    offenders = {
        name: sorted(filter(_is_application, imported(path, set(modules))))
        for name, path in modules.items()
        if not _is_application(name) and name not in ENTRY_POINTS
    }
    assert {name: apps for name, apps in offenders.items() if apps} == {}


def test_no_import_cycle():
    modules = all_modules()
    # Every module imports the root package first (its parent); the root's own re-exports are lazy.
    graph = {name: imported(path, set(modules)) - {name, "codec"} for name, path in modules.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := walk(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for name in sorted(graph):
        if name not in state:
            cycle = walk(name)
            assert cycle is None, " -> ".join(cycle)
