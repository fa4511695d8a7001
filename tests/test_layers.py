"""The layers of `app/` (README, Architecture): imports point down, never up, and never in a cycle.

Every import statement counts, wherever it stands: at the top, inside a function (a lazy import
hides a cycle, it does not remove it) or under TYPE_CHECKING.
"""

import ast
from collections import defaultdict
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "app"

# From the ground up. A package may import its own layer's modules only within itself, and any
# package of a lower layer. Several packages on one layer do not import each other.
# The kernel (config, text, db, http, security, runtime) knows no domain; see KERNEL below.
LAYERS: list[set[str]] = [
    {"config"},
    {"text"},
    {"db"},
    {"http"},
    {"security"},
    {"operations"},
    {"runtime"},
    {"models"},
    {"journal"},
    {"auth"},
    {"idempotency"},
    {"csv"},
    {"locations", "api_keys", "certificates", "audit_events", "changes"},
    {"users"},
    {"organizations"},
    {"webhooks"},
    {"health", "docs", "operators", "api"},
    {"main"},
    {"cli"},
]
KERNEL = {"config", "text", "db", "http", "security", "operations", "runtime"}
RANK = {package: rank for rank, packages in enumerate(LAYERS) for package in packages}


def _package_of(module: str) -> str | None:
    """`app.users.service` -> `users`; None for modules outside `app`."""
    parts = module.split(".")
    if parts[0] != "app" or len(parts) < 2:
        return None
    return parts[1]


def _imports(path: Path) -> set[str]:
    """Every module an `app` file imports, resolved to absolute names."""
    relative = path.relative_to(APP.parent).with_suffix("")
    here = list(relative.parts)
    if here[-1] == "__init__":
        here = here[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + (1 if path.name == "__init__.py" else 0)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def package_graph() -> dict[str, set[str]]:
    """Top-level package of `app` -> the other top-level packages it imports."""
    graph: dict[str, set[str]] = defaultdict(set)
    for path in APP.rglob("*.py"):
        package = _package_of(".".join(path.relative_to(APP.parent).with_suffix("").parts))
        if package is None or package == "__init__":
            continue
        graph[package]
        for module in _imports(path):
            target = _package_of(module)
            if target is not None and target not in (package, "__init__"):
                graph[package].add(target)
    return dict(graph)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a path that ends where it starts, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def test_every_package_has_a_layer() -> None:
    unplaced = sorted(set(package_graph()) - set(RANK))
    assert not unplaced, f"add these packages of app/ to a layer in tests/test_layers.py: {unplaced}"


def test_the_kernel_imports_nothing_above_itself() -> None:
    graph = package_graph()
    outside = {package: graph.get(package, set()) - KERNEL for package in KERNEL}
    assert not any(outside.values()), f"kernel packages that import domain or platform code: {outside}"


def test_models_import_only_the_kernel() -> None:
    assert package_graph().get("models", set()) <= KERNEL


def test_no_import_points_up_or_sideways() -> None:
    crossings = sorted(
        f"{package} -> {target}"
        for package, targets in package_graph().items()
        for target in targets
        if package in RANK and target in RANK and RANK[target] >= RANK[package]
    )
    assert not crossings, f"imports that point up or sideways a layer: {crossings}"


# The resources: each keeps its rules in its service, and the others reach them through it.
DOMAINS = {"locations", "api_keys", "certificates", "audit_events", "changes", "users", "organizations"}


def test_no_domain_imports_another_domains_repository() -> None:
    found = sorted(
        f"{path.relative_to(APP.parent)} -> {module}"
        for path in APP.rglob("*.py")
        if (package := _package_of(".".join(path.relative_to(APP.parent).with_suffix("").parts))) in DOMAINS
        for module in _imports(path)
        if len(parts := module.split(".")) >= 3
        and parts[0] == "app"
        and parts[1] in DOMAINS - {package}
        and parts[2] == "repository"
    )
    assert not found, f"use the other domain's service, not its repository: {found}"


def test_no_import_cycle() -> None:
    assert find_cycle(package_graph()) is None, f"import cycle: {find_cycle(package_graph())}"


@pytest.mark.parametrize(
    ("graph", "has_cycle"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, False),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, True),
        ({"a": {"a"}}, True),
        ({"a": {"b", "c"}, "b": {"c"}, "c": set()}, False),
    ],
)
def test_the_cycle_finder_finds_cycles(graph: dict[str, set[str]], has_cycle: bool) -> None:
    assert (find_cycle(graph) is not None) is has_cycle
