"""The catalogs against the code: which messages the code says, and `make catalog` (`python -m
tools.catalogs`) to bring every language's `.po` file up to date with them (new messages added
untranslated, gone ones dropped). A developer's tool: tests/infra/test_catalogs.py uses it, the bot
never does.

A message is the first argument of `_()`, `n_()` (singular and plural), `N_()`, `later()`, or of
the user-facing errors (`UserError` and its kin) in the bot's packages (not the sandbox's: it is
Azure's stand-in, and its words are Azure's, not ours).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po, write_po

from infra.i18n import DOMAIN, LANGUAGES, SOURCE, catalog_path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "skills", "adaptive_cards", "infra")
KEYWORDS: dict[str, tuple[int, ...] | None] = {
    "_": None,
    "n_": (1, 2),
    "N_": None,
    "later": None,
    "UserError": None,
    "GraphRefused": None,
    "NotDelivered": None,
}
"""Call name -> the arguments that are messages (None: the first)."""


def sources() -> Iterator[Path]:
    """The application's Python files whose words are the bot's."""
    for package in PACKAGES:
        yield from sorted((ROOT / package).rglob("*.py"))


def extracted() -> Catalog:
    """Every message the code says, with where it says it."""
    catalog = Catalog(domain=DOMAIN, locale=SOURCE)
    for path in sources():
        for line, message, comments, context in extract_from_file(
            "python", str(path), keywords=KEYWORDS
        ):
            catalog.add(
                message,
                locations=[(path.relative_to(ROOT).as_posix(), line)],
                auto_comments=comments,
                context=context,
            )
    return catalog


def read(language: str) -> Catalog:
    """A language's catalog as it is on disk (empty when there is none yet)."""
    path = catalog_path(language)
    if not path.exists():
        return Catalog(domain=DOMAIN, locale=language)
    with path.open("rb") as file:
        return read_po(file, locale=language)


def update() -> list[str]:
    """Bring every language's catalog up to date with the code; returns what it did."""
    template = extracted()
    done = []
    for language in LANGUAGES:
        if language == SOURCE:
            continue
        catalog = read(language)
        catalog.project, catalog.version, catalog.fuzzy = "FineTune Ops", "", False
        created = catalog.creation_date  # kept: a date that changed on every run would make
        catalog.update(template, no_fuzzy_matching=True)  # every branch's catalog conflict
        catalog.creation_date = created
        catalog.obsolete.clear()
        path = catalog_path(language)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as file:
            write_po(file, catalog, width=100, sort_output=False, include_previous=False)
        missing = sum(1 for m in catalog if m.id and not _translated(m.string))
        done.append(f"{path.relative_to(ROOT)}: {len(catalog)} messages, {missing} untranslated")
    return done


def _translated(value: object) -> bool:
    strings = value if isinstance(value, tuple | list) else (value,)
    return all(isinstance(s, str) and s for s in strings)


if __name__ == "__main__":
    print("\n".join(update()), file=sys.stderr)
