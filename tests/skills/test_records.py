"""Storage keys: every kind of record has a key prefix of its own, and spells it once.

The kinds are found by walking the packages (tests/record_kinds.py): each `Record` subclass names
its `prefix`, each kind of claim is a `ClaimKind`. Two kinds under one prefix, or one prefix that
starts another, would read each other's records (a scan of one lists the other's keys too). A
prefix spelled a second time in skills/ or bot/ (a scan by a literal, a key built by hand) is a
key that can drift from its kind's.
"""

from __future__ import annotations

import ast

from infra.azure import Resource
from infra.records import Aside, Record
from skills.records import Claim
from tests.record_kinds import PACKAGES, ROOT, prefixes, record_classes

RESOURCE = Resource("Sub", "Group", "Account", "http://127.0.0.1:9/")


def _overlaps(found: list[str]) -> list[tuple[str, str]]:
    """Pairs of prefixes where the first starts the second (a prefix twice is such a pair)."""
    return [
        (a, b)
        for i, a in enumerate(found)
        for j, b in enumerate(found)
        if i != j and b.startswith(a)
    ]


def _docstrings(tree: ast.AST) -> set[int]:
    """The ids of the string constants that are docstrings (a statement of a lone string)."""
    return {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }


def _literals(source: str) -> list[tuple[int, str]]:
    """(line, text) of every string literal of `source` (an f-string's text too), docstrings
    aside."""
    tree = ast.parse(source)
    skipped = _docstrings(tree)
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in skipped
    ]


def _spellings(source: str | list[tuple[int, str]], prefix: str) -> list[int]:
    """The lines of `source` (or of its `_literals`) where a string literal starts with
    `prefix`."""
    literals = _literals(source) if isinstance(source, str) else source
    return [line for line, text in literals if text.startswith(prefix)]


def _sample(kind: type[Record]) -> Record:
    """A record of `kind` with every field filled (a resource where one goes, else a word)."""
    values = {
        name: RESOURCE if field.annotation is Resource else "Some Value"
        for name, field in kind.model_fields.items()
    }
    return kind.model_construct(**values)


def test_every_kind_that_builds_its_key_names_its_prefix() -> None:
    """A kind with its own `key()` keeps its keys under `prefix`; a claim's under its kind's."""
    builders = [k for k in record_classes() if "key" in vars(k) and k is not Claim]
    assert len(builders) >= 28
    unnamed = [k.__name__ for k in builders if "prefix" not in vars(k)]
    assert unnamed == []
    for kind in builders:
        key = _sample(kind).key()
        assert key.kind is kind and key.path.startswith(kind.prefix), (kind.__name__, key.path)


def test_no_two_kinds_share_a_prefix_and_none_starts_another() -> None:
    found = [prefix for prefix, _ in prefixes()]
    assert all(prefix.endswith("/") and prefix != "/" for prefix in found), found
    assert _overlaps(found) == []


def test_no_prefix_is_spelled_twice() -> None:
    """Each prefix appears as a string literal once: where its kind names it."""
    sources = {  # each file parsed once
        path.relative_to(ROOT): _literals(path.read_text(encoding="utf-8"))
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }
    spelled = {
        prefix: [
            f"{path}:{line}"
            for path, literals in sources.items()
            for line in _spellings(literals, prefix)
        ]
        for prefix, _ in prefixes()
    }
    assert {prefix: places for prefix, places in spelled.items() if len(places) != 1} == {}


def test_the_checks_see_what_they_check() -> None:
    """Not empty by accident: an overlap, a second spelling and a docstring are told apart."""
    assert _overlaps(["a/", "a/b/", "c/"]) == [("a/", "a/b/")]
    assert _overlaps(["a/", "a/"]) == [("a/", "a/"), ("a/", "a/")]
    source = '"""A doc that names jobs/."""\nKEY = "jobs/"\nwhere = f"jobs/{x}"\nother = "job/"\n'
    assert _spellings(source, "jobs/") == [2, 3]
    assert any(kind is Claim for _, kind in prefixes())


def test_every_kind_migrates_each_older_layout_and_none_shares_the_damaged_prefix() -> None:
    """A kind at layout n reads every older record through one step per version
    (infra/records.py); records moved aside (`Aside`) live under a prefix no kind starts."""
    for kind in record_classes():
        missing = set(range(1, kind.schema_version)) - set(kind.migrations)
        assert missing == set(), (kind.__name__, missing)
    assert _overlaps([Aside.prefix, *(prefix for prefix, _ in prefixes())]) == []
