"""The structure docs/architecture.md promises, checked on the code's own imports: devices,
memory and adapters never import hub, and hub's sub-packages import each other without a cycle
(fast: reads source files, runs nothing)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BELOW_HUB = ("devices", "memory", "adapters")


def imported_modules(path: Path) -> Iterator[str]:
    """Every module a file imports, at any depth (lazy imports inside functions count too)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def part_of_hub(module: str) -> str:
    """hub.api.routes_chat -> hub.api; hub.assembly -> hub.assembly."""
    return ".".join(module.split(".")[:2])


def hub_part_graph() -> dict[str, set[str]]:
    """Which part of hub imports which other parts."""
    graph: dict[str, set[str]] = {}
    for path in (ROOT / "hub").rglob("*.py"):
        relative = path.relative_to(ROOT).with_suffix("")
        source = part_of_hub(".".join(relative.parts))
        targets = {part_of_hub(m) for m in imported_modules(path) if m.startswith("hub.")}
        graph.setdefault(source, set()).update(targets - {source})
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph, or None."""
    state: dict[str, str] = {}
    trail: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        trail.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return [*trail[trail.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        state[node] = "done"
        trail.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_devices_memory_and_adapters_never_import_hub() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {module}"
        for package in BELOW_HUB
        for path in (ROOT / package).rglob("*.py")
        for module in imported_modules(path)
        if module == "hub" or module.startswith("hub.")
    ]
    assert offenders == []


def test_hubs_parts_import_each_other_without_a_cycle() -> None:
    graph = hub_part_graph()
    assert {"hub.api", "hub.chat", "hub.voice", "hub.assembly"} <= set(graph)
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
