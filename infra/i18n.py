"""The bot's words in the user's language: gettext catalogs (Babel) and locale formatting.

English is the source language: a message id is the English sentence with `{name}`
placeholders, and `_()` returns it translated into the language of the current context, then
filled in. The catalog of a language is the gettext file
`infra/locales/<language>/LC_MESSAGES/messages.po` (Babel reads it; a translator edits it with any
PO editor; `make catalog` brings it up to date with the code, see README "Languages").

The language is a context variable: the bot sets it for each turn (bot/language.py), a
background task inherits the language of the turn that started it, and a workflow that speaks
later (a training notice) sets it from its record with `use()`. Numbers, percentages, prices,
sizes, durations and dates go through Babel, never through hand-made formats.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal, format_percent
from babel.units import format_unit

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
    try:
        language = Locale.parse(tag.strip(), sep="-" if "-" in tag else "_").language
    except (ValueError, UnknownLocaleError):
        return None
    return language if language in LANGUAGES else None


@cache
def _catalog(language: str) -> dict[str, tuple[str, ...]]:
    """msgid -> translation(s) (one per plural form) of a language's catalog."""
    table: dict[str, tuple[str, ...]] = {}
    if language == SOURCE:
        return table
    for path in sorted((LOCALES / language / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as file:
            table.update(_entries(read_po(file, locale=language)))
    return table


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
    return template.format(**params) if params else template


def _(message: str, /, **params: object) -> str:
    """`message` in the current language, its `{name}` placeholders filled from `params`."""
    found = _catalog(current()).get(message)
    return _fill(found[0] if found else message, params)


def n_(singular: str, plural: str, count: int, /, **params: object) -> str:
    """The singular or plural sentence for `count` (filled in as `{count}`, locale-formatted)."""
    found = _catalog(current()).get(singular)
    params = {"count": number(count), **params}
    if found:
        index = 0 if len(found) == 1 else _plural_index(count)
        return _fill(found[min(index, len(found) - 1)], params)
    return _fill(singular if count == 1 else plural, params)


def _plural_index(count: int) -> int:
    return 0 if count == 1 else 1


def N_(message: str) -> str:
    """Mark `message` for the catalog without translating it now (tables built at import,
    translated with `_()` where they are shown)."""
    return message


def translate(template: str, params: dict[str, object]) -> str:
    """A message id with its parameters, in the current language (for `UserError`)."""
    return _(template, **params)


# -- formatting -------------------------------------------------------------------------------


def _locale() -> str:
    return current()


def number(value: float, digits: int | None = None) -> str:
    """A number with the locale's grouping: `1,234`; `digits` fixes the decimals shown."""
    if digits is None:
        return format_decimal(value, locale=_locale())
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=_locale())


def percent(fraction: float, digits: int = 1) -> str:
    """A fraction as a percentage: 0.423 -> `42.3%`."""
    pattern = "#,##0" + ("." + "0" * digits if digits else "") + "%"
    return format_percent(fraction, format=pattern, locale=_locale())


def price(amount: float, currency: str = "USD") -> str:
    """An amount of money: `$1,234.50` in English, `US$1,234.50` in Korean."""
    return format_currency(amount, currency, locale=_locale())


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
            return format_unit(shown, unit, length="short", locale=_locale())
    return format_unit(count, "digital-byte", length="short", locale=_locale())


_HOUR = 3600
_DAY = 86_400


def duration(seconds: float) -> str:
    """A duration in the locale's units: `45 sec`, `3 min 20 sec`, `1 hr 5 min`, `2.4 days`."""
    seconds = max(0.0, seconds)
    if seconds >= 2 * _DAY:
        days = round(seconds / _DAY, 1)
        return format_unit(days, "duration-day", length="long", locale=_locale())
    whole = int(round(seconds))
    if whole < 60:
        return _unit(whole, "duration-second")
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{_unit(minutes, 'duration-minute')} {_unit(secs, 'duration-second')}"
    hours, minutes = divmod(minutes, 60)
    return f"{_unit(hours, 'duration-hour')} {_unit(minutes, 'duration-minute')}"


def _unit(value: float, unit: str) -> str:
    return format_unit(value, unit, length="short", locale=_locale())


def moment(when: dt.datetime | float) -> str:
    """A date and time (UTC), in the locale's medium format: `Dec 3, 2026, 7:41:05 AM UTC`."""
    if not isinstance(when, dt.datetime):
        when = dt.datetime.fromtimestamp(when, dt.UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return format_datetime(when, "medium", tzinfo=dt.UTC, locale=_locale()) + " UTC"
