"""The bot's words in the user's language: gettext catalogs (Babel) and locale formatting.

English is the source language: a message id is the English sentence with `{name}`
placeholders, and `_()` returns it translated into the language of the current context, then
filled in. The catalog of a language is the gettext file
`infra/locales/<language>/LC_MESSAGES/messages.po` (Babel reads it; a translator edits it with any
PO editor; `make catalog` brings it up to date with the code, see README "Languages").

The language is a context variable: the bot sets it for each turn (bot/language.py), a
background task inherits the language of the turn that started it, and a workflow that speaks
later (a training notice) sets it from its record with `use()`. Numbers, percentages, prices,
sizes, durations and dates go through Babel, never through hand-made formats. A Korean particle
written as its pair after a placeholder (`{name}`을(를)) takes the form the value needs
(infra/particles.py). A sentence that someone else reads later (an audit detail) is kept as its
message id with parameters, `later()`, and said in its reader's language.

Babel is imported by the functions that use it, not here: a process that only marks messages
(`N_`), such as a validation worker, does not pay for its import (about 65 ms).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache
from gettext import c2py
from pathlib import Path
from typing import TYPE_CHECKING

from infra.particles import attach

if TYPE_CHECKING:
    from babel.messages.catalog import Catalog

SOURCE = "en"
LANGUAGES = ("en", "ko")
"""The languages the bot speaks, source first (a third one: README "Languages")."""
LOCALES = Path(__file__).parent / "locales"
DOMAIN = "messages"

_language: ContextVar[str] = ContextVar("language", default=SOURCE)


def current() -> str:
    """The language of the current turn or workflow."""
    return _language.get()


@contextmanager
def use(language: str) -> Iterator[None]:
    """Speak `language` (a code of LANGUAGES; anything else is English) inside the block."""
    token = _language.set(language if language in LANGUAGES else SOURCE)
    try:
        yield
    finally:
        _language.reset(token)


def supported(tag: object) -> str | None:
    """The language of a locale tag ('ko-KR', 'ko', 'en_US') when the bot speaks it, else None."""
    if not isinstance(tag, str) or not tag.strip():
        return None
    from babel import Locale, UnknownLocaleError

    try:
        language = Locale.parse(tag.strip(), sep="-" if "-" in tag else "_").language
    except (ValueError, UnknownLocaleError):
        return None
    return language if language in LANGUAGES else None


def catalog_path(language: str) -> Path:
    """A language's catalog file."""
    return LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@dataclass(frozen=True)
class _Catalog:
    """A language's translations (msgid -> one string per plural form) and its plural rule
    (the catalog's `Plural-Forms`: count -> form index)."""

    table: dict[str, tuple[str, ...]]
    plural: Callable[[int], int]


@cache
def _catalog(language: str) -> _Catalog:
    path = catalog_path(language)
    if language == SOURCE or not path.exists():
        return _Catalog({}, _english_plural)
    from babel.messages.pofile import read_po

    with path.open("rb") as file:
        catalog = read_po(file, locale=language)
    return _Catalog(_entries(catalog), c2py(catalog.plural_expr))


def translations(language: str) -> dict[str, tuple[str, ...]]:
    """A language's catalog: msgid -> its translation (one string per plural form)."""
    return _catalog(language).table


def _english_plural(count: int) -> int:
    return 0 if count == 1 else 1


def _entries(catalog: Catalog) -> dict[str, tuple[str, ...]]:
    table: dict[str, tuple[str, ...]] = {}
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        ids = message.id if isinstance(message.id, tuple | list) else (message.id,)
        found = message.string
        strings = tuple(found) if isinstance(found, tuple | list) else (found,)
        if all(isinstance(s, str) and s for s in strings):
            table[str(ids[0])] = tuple(str(s) for s in strings)
    return table


def _fill(template: str, params: dict[str, object]) -> str:
    """`template` filled in: each Korean particle written after a placeholder as a pair
    (`{name}을(를)`) takes the form its value needs (infra/particles.py)."""
    return attach(template, params).format(**params) if params else template


def _(message: str, /, **params: object) -> str:
    """`message` in the current language, its `{name}` placeholders filled from `params`."""
    found = _catalog(current()).table.get(message)
    return _fill(found[0] if found else message, params)


def spell(message: str, /, values: Mapping[str, object]) -> str:
    """`message` in the current language with each Korean particle after a placeholder in the
    form its value in `values` needs, the placeholders left unfilled (for a caller that fills
    them with something else: a card's TextRuns, adaptive_cards.common.sentence)."""
    found = _catalog(current()).table.get(message)
    return attach(found[0] if found else message, values)


def n_(singular: str, plural: str, count: int, /, **params: object) -> str:
    """The singular or plural sentence for `count` (filled in as `{count}`, locale-formatted)."""
    catalog = _catalog(current())
    found = catalog.table.get(singular)
    params = {"count": number(count), **params}
    if found:
        return _fill(found[min(catalog.plural(count), len(found) - 1)], params)
    return _fill(singular if count == 1 else plural, params)


@dataclass(frozen=True)
class Said:
    """A sentence kept as its message id and parameters, said in the language of whoever reads
    it (an audit detail written by one user, read by another). A parameter named in `translated`
    is itself a message id (a state, a label), translated when the sentence is said; one named in
    `prices` is an amount in US dollars, formatted for the reader (`price()`). A dataclass, not a
    pydantic model: the records holding one validate and store it all the same, and a process
    that only marks messages does not import pydantic."""

    id: str
    params: dict[str, str | int | float] = field(default_factory=dict)
    translated: tuple[str, ...] = ()
    prices: tuple[str, ...] = ()

    def text(self) -> str:
        """The sentence in the current language."""
        return _(self.id, **{k: self._value(k, v) for k, v in self.params.items()})

    def _value(self, name: str, value: str | int | float) -> object:
        if name in self.translated:
            return _(str(value))
        if name in self.prices and not isinstance(value, str):
            return price(value)
        return value


def later(
    message: str,
    /,
    *,
    translated: tuple[str, ...] = (),
    prices: tuple[str, ...] = (),
    **params: str | int | float,
) -> Said:
    """`message` (a message id with `{name}` placeholders, as for `_()`) kept to be said later,
    in its reader's language (`Said.text()`)."""
    return Said(id=message, params=params, translated=translated, prices=prices)


def N_(message: str) -> str:
    """Mark `message` for the catalog without translating it now (tables built at import,
    translated with `_()` where they are shown)."""
    return message


# -- formatting -------------------------------------------------------------------------------


def number(value: float, digits: int | None = None) -> str:
    """A number with the locale's grouping: `1,234`; `digits` fixes the decimals shown."""
    from babel.numbers import format_decimal

    if digits is None:
        return format_decimal(value, locale=current())
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=current())


def percent(fraction: float, digits: int = 1) -> str:
    """A fraction as a percentage: 0.423 -> `42.3%`."""
    from babel.numbers import format_percent

    pattern = "#,##0" + ("." + "0" * digits if digits else "") + "%"
    return format_percent(fraction, format=pattern, locale=current())


def price(amount: float, currency: str = "USD") -> str:
    """An amount of money: `$1,234.50` in English, `US$1,234.50` in Korean."""
    from babel.numbers import format_currency

    return format_currency(amount, currency, locale=current())


_SIZE_UNITS = (
    (1024**3, "digital-gigabyte"),
    (1024**2, "digital-megabyte"),
    (1024, "digital-kilobyte"),
)


def size(count: int) -> str:
    """A byte count: `512 MB`, `1.5 KB`, `100 bytes` (binary multiples, as files are measured)."""
    for factor, unit in _SIZE_UNITS:
        if count >= factor:
            value = count / factor
            shown = round(value) if value >= 100 or value == int(value) else round(value, 1)
            return _unit(shown, unit)
    return _unit(count, "digital-byte")


_HOUR = 3600
_DAY = 86_400


def duration(seconds: float) -> str:
    """A duration in the locale's units: `45 sec`, `3 min 20 sec`, `1 hr 5 min`, `2.4 days`."""
    seconds = max(0.0, seconds)
    if seconds >= 2 * _DAY:
        from babel.units import format_unit

        days = round(seconds / _DAY, 1)
        return format_unit(days, "duration-day", length="long", locale=current())
    whole = int(round(seconds))
    if whole < 60:
        return _unit(whole, "duration-second")
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{_unit(minutes, 'duration-minute')} {_unit(secs, 'duration-second')}"
    hours, minutes = divmod(minutes, 60)
    return f"{_unit(hours, 'duration-hour')} {_unit(minutes, 'duration-minute')}"


def _unit(value: float, unit: str) -> str:
    from babel.units import format_unit

    return format_unit(value, unit, length="short", locale=current())


def day(value: dt.date, year: bool = True) -> str:
    """A calendar day in the locale's words: `Dec 4, 2026` (`Dec 4` without the year); Korean
    `2026년 12월 4일`, never the numeric "2026. 12. 4." a card's markdown would read as a list."""
    skeleton = "yMMMd" if year else "MMMd"
    from babel.dates import format_skeleton

    moment = dt.datetime(value.year, value.month, value.day)
    return format_skeleton(skeleton, moment, locale=current())


def moment(when: dt.datetime | float | str) -> str:
    """A date and time (UTC), in the locale's medium format: `Dec 3, 2026, 7:41:05 AM UTC`. A
    text is read as ISO 8601 (how Azure writes a date its spec types as a bare string, such as
    Microsoft.CognitiveServices' scheduledPurgeDate); one that is not is shown as it is."""
    if isinstance(when, str):
        text = when
        try:
            when = dt.datetime.fromisoformat(text)
        except ValueError:
            return text
    if not isinstance(when, dt.datetime):
        when = dt.datetime.fromtimestamp(when, dt.UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    from babel.dates import format_datetime

    return format_datetime(when, "medium", tzinfo=dt.UTC, locale=current()) + " UTC"
