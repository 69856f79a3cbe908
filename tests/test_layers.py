"""The layers hold: no import cycle in the application code, and no arrow against the layers.

bot -> skills, bot -> adaptive_cards -> skills (result types), everything -> infra; app.py wires
it all and cli.py fronts it. Every import counts, also one inside a function or under
TYPE_CHECKING: a cycle there is still a cycle of the design. ruff's banned-api (a ruff.toml per
folder) names the SDKs each layer may not touch; this test walks our own modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "skills", "adaptive_cards", "infra")
TOP = ("app", "cli")
FORBIDDEN = {
    "skills": {"bot", "adaptive_cards", "app", "cli"},
    "adaptive_cards": {"bot", "infra", "app", "cli"},
    "infra": {"bot", "skills", "adaptive_cards", "app", "cli"},
    "bot": {"app", "cli"},
    "app": {"cli"},
}
"""Layer -> the layers it must not import."""
EXCEPT = {"adaptive_cards": {"infra.i18n"}}
"""Layer -> the modules of a forbidden layer it may import: cards take their words and number
formats from the catalogs (infra/i18n.py), and nothing else of infra/."""


def _modules() -> dict[str, Path]:
    found = {name: ROOT / f"{name}.py" for name in TOP}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Our modules that `path` imports (a `from package import module` names the module)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                names.add(submodule if submodule in modules else node.module)
    return {name for name in names if name in modules}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules) - {name} for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_application_code_has_no_import_cycle() -> None:
    assert _cycles(_graph()) == []


def test_no_layer_imports_one_above_it() -> None:
    wrong = [
        f"{module} -> {target}"
        for module, targets in _graph().items()
        for target in targets
        if target.split(".")[0] in FORBIDDEN.get(module.split(".")[0], set())
        and target not in EXCEPT.get(module.split(".")[0], set())
    ]
    assert wrong == []


def test_the_walk_sees_the_arrows_it_checks() -> None:
    """The graph is not empty by accident: known arrows are in it."""
    graph = _graph()
    assert "skills.training.records" in graph["skills.training.service"]
    assert "bot.render" in graph["bot.notifier"]
    assert "adaptive_cards.verbs" in graph["adaptive_cards.training"]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
