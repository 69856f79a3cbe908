"""The layers hold: no import cycle in the application code, and no arrow against the layers.

bot -> skills, bot -> adaptive_cards -> skills (result types), everything -> infra; app.py wires
it all (the sandbox too) and cli.py fronts it; the sandbox imports none of them. Every import
counts, also one inside a function or under TYPE_CHECKING: a cycle there is still a cycle of the
design. So does what an import runs besides the module it names: importing `a.b.c` first runs
`a/__init__.py` and `a/b/__init__.py`. The imports are absolute (ruff's TID252 bans relative
ones), so the module each names is plain.

What each layer may import is an allow-list (`ALLOWED`): a package added later is refused until it
is named here. ruff's banned-api (a ruff.toml per package) says the same for the packages a layer
may not touch at all, and names the SDKs; it has no allow-list, so where a layer may take one
module of a package (adaptive_cards takes infra.i18n), this walk is the check.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "skills", "adaptive_cards", "infra", "sandbox")
TOP = ("app", "cli")
ALLOWED = {
    "bot": {"skills", "adaptive_cards", "infra"},
    "skills": {"infra"},
    "adaptive_cards": {"skills", "infra.i18n"},
    "infra": set(),
    "sandbox": set(),
    "app": {"bot", "skills", "adaptive_cards", "infra", "sandbox"},
    "cli": {"app", "bot", "skills", "adaptive_cards", "infra", "sandbox"},
}
"""Layer -> what it may import besides itself: a package, or one module of one (cards take their
words and number formats from the catalogs, infra/i18n.py, and nothing else of infra/)."""
FIRST_PARTY = (*PACKAGES, *TOP, "tests", "benchmarks")
"""Every top-level name of this repository, for the ruff.toml check."""


def _modules(root: Path, packages: tuple[str, ...], top: tuple[str, ...]) -> dict[str, Path]:
    found = {name: root / f"{name}.py" for name in top}
    for package in packages:
        for path in (root / package).rglob("*.py"):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _ancestors(name: str) -> list[str]:
    """The packages importing `name` runs first: `a.b.c` -> `a`, `a.b`."""
    parts = name.split(".")
    return [".".join(parts[:end]) for end in range(1, len(parts))]


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Our modules that importing module `name` (at `path`) runs: each module an import names
    (a `from package import module` names the module), and the package `__init__`s each runs on
    the way, but for the packages `name` itself lives in (they ran before it)."""
    named: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            named.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                named.add(submodule if submodule in modules else node.module)
    own = set(_ancestors(name))
    runs = set(named)
    for target in named:
        runs.update(package for package in _ancestors(target) if package not in own)
    return {target for target in runs if target in modules} - {name}


def _graph(
    root: Path = ROOT, packages: tuple[str, ...] = PACKAGES, top: tuple[str, ...] = TOP
) -> dict[str, set[str]]:
    modules = _modules(root, packages, top)
    return {name: _imports(name, path, modules) for name, path in modules.items()}


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


def _allowed(module: str, target: str) -> bool:
    """`module` may import `target`: its own layer, an entry of its allow-list or a module in it,
    or a package such an entry lives in (importing infra.i18n runs infra/__init__.py, whose own
    imports its own layer's rules check)."""
    layer = module.split(".")[0]
    if target.split(".")[0] == layer:
        return True
    return any(
        target == entry or target.startswith(f"{entry}.") or target in _ancestors(entry)
        for entry in ALLOWED[layer]
    )


def test_the_application_code_has_no_import_cycle() -> None:
    assert _cycles(_graph()) == []


def test_no_layer_imports_what_its_allow_list_does_not_name() -> None:
    wrong = [
        f"{module} -> {target}"
        for module, targets in _graph().items()
        for target in sorted(targets)
        if not _allowed(module, target)
    ]
    assert wrong == []


def test_the_application_reads_no_file_under_tests() -> None:
    """What the bot needs at run time is in its packages (package data), never in tests/: an
    install has no tests/ (bot/package.py read the Teams schemas from tests/data/teams)."""
    wrong = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in _modules(ROOT, PACKAGES, TOP).values()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and (node.value == "tests" or node.value.startswith("tests/"))
    ]
    assert wrong == []


def test_the_walk_sees_the_arrows_it_checks() -> None:
    """The graph is not empty by accident: known arrows are in it."""
    graph = _graph()
    assert "skills.training.records" in graph["skills.training.service"]
    assert "bot.render" in graph["bot.notifier"]
    assert "adaptive_cards.verbs" in graph["adaptive_cards.training"]
    assert "sandbox.service" in graph["sandbox.app"]
    assert "sandbox.contract" in graph["app"]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert not _allowed("adaptive_cards.help", "infra.prices")
    assert _allowed("adaptive_cards.help", "infra.i18n")
    assert _allowed("adaptive_cards.help", "infra")  # infra/__init__.py, which infra.i18n runs
    assert not _allowed("infra.settings", "sandbox.faults")
    assert not _allowed("bot.help", "sandbox")


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")


def test_the_walk_counts_the_package_inits_an_import_runs(tmp_path: Path) -> None:
    """The cycle main had: `infra.settings` imported `infra.sandbox.faults` (in a validator),
    which runs `infra/sandbox/__init__.py` first, which imported `infra.sandbox.app` -> the
    sandbox's service -> `infra.settings`. No import names a module of the cycle twice; only the
    package `__init__` closes it."""
    _write(
        tmp_path,
        {
            "infra/__init__.py": "",
            "infra/settings.py": "def check():\n    from infra.sandbox.faults import parse\n",
            "infra/sandbox/__init__.py": "from infra.sandbox.app import create\n",
            "infra/sandbox/app.py": "from infra.sandbox.service import Sandbox\n",
            "infra/sandbox/service.py": "from infra.settings import ACCOUNT\n",
            "infra/sandbox/faults.py": "import json\n",
        },
    )
    graph = _graph(tmp_path, ("infra",), ())
    assert graph["infra.settings"] == {"infra.sandbox", "infra.sandbox.faults"}
    assert graph["infra.sandbox.app"] == {"infra.sandbox.service"}  # its own package ran first
    assert _cycles(graph) == [
        ["infra.sandbox", "infra.sandbox.app", "infra.sandbox.service", "infra.settings"]
    ]
    # without the __init__ that imports the app there is no cycle, for the walk as for Python
    _write(tmp_path, {"infra/sandbox/__init__.py": '"""The sandbox."""\n'})
    assert _cycles(_graph(tmp_path, ("infra",), ())) == []


def _banned(package: str) -> set[str]:
    config = tomllib.loads((ROOT / package / "ruff.toml").read_text(encoding="utf-8"))
    lint = config["lint"]
    assert config["extend"] == "../pyproject.toml" and "TID251" in lint["extend-select"]
    return set(lint["flake8-tidy-imports"]["banned-api"])


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_ruff_toml_bans_the_packages_its_layer_may_not_import(package: str) -> None:
    """So an editor flags the wrong import at once; a package the layer may take one module of
    (adaptive_cards: infra.i18n) cannot be banned in ruff, and is left to the walk above."""
    partly = {entry.split(".")[0] for entry in ALLOWED[package]}
    expected = {name for name in FIRST_PARTY if name != package and name not in partly}
    assert expected <= _banned(package)


def test_ruff_bans_relative_imports() -> None:
    """The walk reads absolute imports only: ruff's TID252 keeps them so."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    lint = config["tool"]["ruff"]["lint"]
    assert "TID252" in lint["select"]
    assert lint["flake8-tidy-imports"]["ban-relative-imports"] == "all"
