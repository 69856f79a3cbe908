"""The one error type a user sees as it is.

A `UserError` is a message id with parameters: the id is the English sentence with `{name}`
placeholders (gettext's convention: the catalogs translate it), and `message` renders it in the
current language (infra/i18n.py). It lives in infra/ so that every layer may raise it without
an arrow running up.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from infra.i18n import Said, _

log = logging.getLogger("ftbot")


class UserError(Exception):
    """An expected failure whose message is one clear sentence for the user; a parameter named
    in `translated` is itself a message id (a command word, a state), said in the reader's
    language too."""

    def __init__(self, template: str, /, *, translated: tuple[str, ...] = (), **params: Any):
        self.template = template
        self.params = params
        self.translated = translated
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """The sentence in the current language (`template` translated, parameters filled in)."""
        values = {k: _(v) if k in self.translated else v for k, v in self.params.items()}
        return _(self.template, **values)

    @property
    def said(self) -> Said:
        """The sentence kept to be said later, in its reader's language (a parameter that is not
        a number is kept as its text, at most 300 characters)."""
        params = {
            k: v if isinstance(v, int | float) else str(v)[:300] for k, v in self.params.items()
        }
        return Said(id=self.template, params=params, translated=self.translated)


class AzureAnswerError(Exception):
    """Azure answered without a field its specification requires: the work stops there."""

    def __init__(self, what: str, field: str) -> None:
        self.what = what
        self.field = field
        super().__init__(f"Azure's answer ({what}) lacks the required field {field!r}")


def failure_sentence(reference: str) -> str:
    """What the user sees when something unexpected broke."""
    return _(
        "Something went wrong on my side (reference {reference}). Please try again; "
        "if it keeps happening, give that reference to your admin.",
        reference=reference,
    )


def unexpected(what: str, error: BaseException) -> str:
    """Log an unexpected failure under a fresh reference; returns the sentence for the user.

    The one place references are made: the turn's error hook, the router, background tasks.
    """
    reference = uuid.uuid4().hex[:8]
    log.error("%s failed [ref %s]", what, reference, exc_info=error)
    if isinstance(error, AzureAnswerError):
        return _(
            "Azure answered {what} without {field}, which its API always sends, so I stopped "
            "here (reference {reference}). Please try again later; if it keeps happening, give "
            "that reference to your admin.",
            what=_(error.what),
            field=f"`{error.field}`",
            reference=reference,
        )
    return failure_sentence(reference)
