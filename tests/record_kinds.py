"""Every kind of record the code defines, found by walking the packages (not by a list to keep).

A kind is a `Record` subclass of our packages with its key prefix (`prefix`), or a `ClaimKind`
(its claims are `Claim` records under its prefix). tests/skills/test_records.py checks them;
tests/e2e/test_state_compat.py reads the fixture's records by them.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from pathlib import Path

from infra.records import Record
from skills.records import Claim, ClaimKind

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("skills", "bot")
"""Where record kinds and claim kinds live (and where their prefixes must not be spelled twice)."""


def _import_all() -> list[object]:
    """Every module of PACKAGES, imported."""
    modules: list[object] = []
    for package in PACKAGES:
        modules.append(importlib.import_module(package))
        found = pkgutil.walk_packages([str(ROOT / package)], prefix=f"{package}.")
        modules += [importlib.import_module(info.name) for info in found]
    return modules


def record_classes() -> list[type[Record]]:
    """Every `Record` subclass our packages define, abstract bases included."""
    _import_all()
    found: list[type[Record]] = []
    pending = list(Record.__subclasses__())
    while pending:
        kind = pending.pop(0)
        if kind.__module__.split(".")[0] in PACKAGES and kind not in found:
            found.append(kind)
        pending += kind.__subclasses__()
    return found


def claim_kinds() -> list[ClaimKind]:
    """Every `ClaimKind` defined at the top of a module of our packages."""
    found: list[ClaimKind] = []
    for module in _import_all():
        found += [v for v in vars(module).values() if isinstance(v, ClaimKind) and v not in found]
    return found


@functools.cache
def prefixes() -> tuple[tuple[str, type[Record]], ...]:
    """(key prefix, the kind stored under it) of every kind, duplicates included."""
    kinds = [(k.prefix, k) for k in record_classes() if "prefix" in vars(k)]
    return (*kinds, *((claims.prefix, Claim) for claims in claim_kinds()))


def kind_of(key: str) -> tuple[str, type[Record]]:
    """The one (prefix, kind) whose prefix starts `key`."""
    found = [(prefix, kind) for prefix, kind in prefixes() if key.startswith(prefix)]
    assert len(found) == 1, f"{key}: {found}"
    return found[0]
