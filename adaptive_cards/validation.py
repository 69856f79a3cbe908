"""The validation report card, and the full error list sent as text."""

from __future__ import annotations

from collections.abc import Sequence

from adaptive_cards import verbs
from adaptive_cards.common import (
    Card,
    Element,
    card,
    facts,
    open_url,
    quoted,
    sentence,
    submit,
    text,
)
from infra.i18n import N_, _, n_, number, price
from skills.validation import Distribution, TokenStats, ValidationReport

SHOWN_ERRORS = 10
FORMATS = {"chat": N_("chat"), "dpo": N_("dpo"), "unknown": N_("unknown")}
"""A report's format as the card names it."""
CHANNEL_FILES = N_(
    "In channels and group chats Teams keeps files on SharePoint or OneDrive, which I can read "
    "only through Microsoft Graph."
)


def _cell(value: str, bold: bool = False) -> Element:
    block = text(value, weight="Bolder") if bold else text(value)
    return {"type": "TableCell", "items": [block]}


def _table(tokens: TokenStats) -> Element:
    """Token statistics: one row per measure, columns min..p95."""
    header = ["", _("min"), _("max"), _("mean"), _("median"), _("p5"), _("p95")]
    rows: list[tuple[str, Distribution]] = [
        (_("Total tokens"), tokens.total),
        (_("Assistant tokens"), tokens.assistant),
        (_("Messages"), tokens.messages),
    ]
    return {
        "type": "Table",
        "columns": [{"width": 3}] + [{"width": 2}] * 6,
        "firstRowAsHeader": True,
        "rows": [{"type": "TableRow", "cells": [_cell(h, bold=True) for h in header]}]
        + [
            {
                "type": "TableRow",
                "cells": [_cell(label)] + [_cell(value) for value in d.shown()],
            }
            for label, d in rows
        ],
    }


def _lines(lines: list[int], count: int) -> str:
    shown = ", ".join(str(line) for line in lines[:20])
    if count > 20:
        return _("{lines} and {more} more", lines=shown, more=number(count - 20))
    return shown


def _capital(sentence: str) -> str:
    return sentence[:1].upper() + sentence[1:]


def _file_section(report: ValidationReport) -> list[Element]:
    if report.ok:
        verdict = _("**{file}**: ready", file=report.file)
    else:
        verdict = _("**{file}**: not ready", file=report.file)
    limit = number(report.token_limit)
    body = [
        text(verdict, separator=True, spacing="Medium"),
        facts(
            [
                (_("Format"), _(FORMATS.get(report.format, report.format))),
                (_("Examples"), number(report.examples)),
                (_("Invalid"), number(report.invalid_examples)),
                (
                    _("Model"),
                    _(
                        "{model} (limit {limit} tokens per example)",
                        model=report.model,
                        limit=limit,
                    ),
                ),
            ]
        ),
    ]
    body += [text(_capital(e.text()), color="Attention") for e in report.file_errors]
    if report.errors:
        total = number(sum(report.error_counts.values()))
        body.append(text(_("First errors ({total} in all):", total=total), weight="Bolder"))
        body += [
            text(
                _(
                    "Line {line} · `{code}` · {problem}",
                    line=str(e.line),
                    code=e.code,
                    problem=e.text(),
                ),
                color="Attention",
                spacing="None",
            )
            for e in report.errors[:SHOWN_ERRORS]
        ]
    if report.over_limit:
        count = len(report.over_limit)
        body.append(
            text(
                n_(
                    "{count} example exceeds {limit} tokens: line {lines}",
                    "{count} examples exceed {limit} tokens: line {lines}",
                    count,
                    limit=limit,
                    lines=_lines(report.over_limit, count),
                ),
                color="Attention",
            )
        )
    body += [text(f"⚠ {w.text()}", color="Warning", spacing="Small") for w in report.warnings]
    if report.tokens:
        body.append(_table(report.tokens))
    return body


def validation_card(
    reports: list[ValidationReport], dataset_ids: list[str], cost: float | None
) -> Card:
    """The report on the training file (first) and any validation file; `dataset_ids` are the
    stored files' sha256 ids, `price` the estimated training cost in USD for the first file."""
    ready = all(report.ok for report in reports)
    if ready:
        verdict = _("✅ Ready to train")
    else:
        verdict = _("❌ Not ready to train: fix the problems below")
    body: list[Element] = [text(verdict, weight="Bolder", size="Large")]
    for report in reports:
        body += _file_section(report)
    billing = reports[0].billing
    estimate = [
        (_("Epochs"), number(billing.epochs)),
        (
            _("Billed tokens"),
            _(
                "{billed} ({per_epoch} per epoch)",
                billed=number(billing.billed_tokens),
                per_epoch=number(billing.dataset_tokens),
            ),
        ),
    ]
    if cost is not None:
        estimate.append(
            (_("Estimated price"), _("about {price} (an estimate, not a quote)", price=price(cost)))
        )
    body += [text(_("Training estimate"), weight="Bolder", separator=True), facts(estimate)]
    actions = []
    if ready:
        actions.append(submit(_("Start training"), verbs.TRAIN, {"datasets": dataset_ids}))
    if any(report.errors or report.file_errors for report in reports):
        errors = {"datasets": dataset_ids, "model": reports[0].model}  # its reports' model
        actions.append(submit(_("Show all errors"), verbs.ERRORS, errors))
    return card(body, actions)


def checking_card(names: Sequence[str], stage: str) -> Card:
    """The card while files are fetched ("downloading") or validated; it becomes the report."""
    if stage == "downloading":
        doing = _("Downloading; this card shows the report when it is done.")
    else:
        doing = _("Validating; this card shows the report when it is done.")
    return card(
        [
            text(_("Checking your files..."), weight="Bolder", size="Medium"),
            quoted(", ".join(names)),
            text(doing, isSubtle=True),
        ]
    )


def check_failed_card(names: Sequence[str], message: str) -> Card:
    """The card when a check could not finish, with the one sentence why."""
    return card(
        [
            text(_("Could not check {names}", names=_names(names)), weight="Bolder", size="Medium"),
            text(message, color="Attention"),
        ]
    )


def offer_card(names: Sequence[str], ids: Sequence[str]) -> Card:
    """Files attached with no text: kept, and offered for validation."""
    body = [text(_("Got {names}. Shall I check it for fine-tuning?", names=_names(names)))]
    return card(body, [submit(_("Validate"), verbs.VALIDATE, {"datasets": list(ids)})])


def _names(names: Sequence[str]) -> str:
    """File names in a sentence (a translation shows them as code: they are the user's words)."""
    return ", ".join(names)


def error_lines(report: ValidationReport) -> list[str]:
    """Every kept error of `report` as one line each, file-level problems first."""
    lines = [_("{file}: {problem}", file=report.file, problem=e.text()) for e in report.file_errors]
    lines += [
        _(
            "{file} line {line}: {code}: {problem}",
            file=report.file,
            line=str(e.line),
            code=e.code,
            problem=e.text(),
        )
        for e in report.errors
    ]
    listed = len(report.errors)
    total = sum(report.error_counts.values()) - report.error_counts.get("unknown_format", 0)
    if total > listed:
        lines.append(
            n_(
                "{file}: {count} more error is not listed.",
                "{file}: {count} more errors are not listed.",
                total - listed,
                file=report.file,
            )
        )
    return lines


def personal_chat_card(reason: str, where: str, link: str | None) -> Card:
    """Files in a channel or group chat that the bot cannot read: why, and the personal chat
    (a button that opens it, when the bot has an app id) whose report comes back to `where`."""
    body = [
        text(reason + " " + _(CHANNEL_FILES)),
        sentence(
            N_(
                "Send the file to me in our personal chat within 24 hours and say `validate`: I "
                "will post the report, with its Start training button, in {where} too."
            ),
            {"where": where},
            {"isSubtle": True},
        ),
    ]
    return card(body, [open_url(_("Send it to me in a chat"), link)] if link else [])
