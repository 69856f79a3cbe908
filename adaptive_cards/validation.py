"""The validation report card, and the full error list sent as text."""

from __future__ import annotations

from collections.abc import Sequence

from adaptive_cards import verbs
from adaptive_cards.common import Card, Element, card, facts, open_url, plain, submit, text
from skills.validation import Distribution, TokenStats, ValidationReport

SHOWN_ERRORS = 10
CHANNEL_FILES = (
    "In channels and group chats Teams keeps files on SharePoint or OneDrive, which I can read "
    "only through Microsoft Graph."
)


def _cell(value: str, bold: bool = False) -> Element:
    block = text(value, weight="Bolder") if bold else text(value)
    return {"type": "TableCell", "items": [block]}


def _table(tokens: TokenStats) -> Element:
    """Token statistics: one row per measure, columns min..p95."""
    header = ["", "min", "max", "mean", "median", "p5", "p95"]
    rows: list[tuple[str, Distribution]] = [
        ("Total tokens", tokens.total),
        ("Assistant tokens", tokens.assistant),
        ("Messages", tokens.messages),
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
    return shown + (f" and {count - 20} more" if count > 20 else "")


def _file_section(report: ValidationReport) -> list[Element]:
    verdict = "ready" if report.ok else "not ready"
    body = [
        text(f"**{report.file}**: {verdict}", separator=True, spacing="Medium"),
        facts(
            [
                ("Format", report.format),
                ("Examples", f"{report.examples:,}"),
                ("Invalid", f"{report.invalid_examples:,}"),
                ("Model", f"{report.model} (limit {report.token_limit:,} tokens per example)"),
            ]
        ),
    ]
    body += [
        text(f"{e.message[:1].upper()}{e.message[1:]}", color="Attention")
        for e in report.file_errors
    ]
    if report.errors:
        body.append(
            text(f"First errors ({sum(report.error_counts.values()):,} in all):", weight="Bolder")
        )
        body += [
            text(f"Line {e.line} · `{e.code}` · {e.message}", color="Attention", spacing="None")
            for e in report.errors[:SHOWN_ERRORS]
        ]
    if report.over_limit:
        count = len(report.over_limit)
        body.append(
            text(
                f"{count:,} example(s) exceed {report.token_limit:,} tokens: line "
                + _lines(report.over_limit, count),
                color="Attention",
            )
        )
    body += [text(f"⚠ {w.message}", color="Warning", spacing="Small") for w in report.warnings]
    if report.tokens:
        body.append(_table(report.tokens))
    return body


def validation_card(
    reports: list[ValidationReport], dataset_ids: list[str], price: float | None
) -> Card:
    """The report on the training file (first) and any validation file; `dataset_ids` are the
    stored files' sha256 ids, `price` the estimated training cost in USD for the first file."""
    ready = all(report.ok for report in reports)
    verdict = "✅ Ready to train" if ready else "❌ Not ready to train: fix the problems below"
    body: list[Element] = [text(verdict, weight="Bolder", size="Large")]
    for report in reports:
        body += _file_section(report)
    billing = reports[0].billing
    estimate = [
        ("Epochs", str(billing.epochs)),
        ("Billed tokens", f"{billing.billed_tokens:,} ({billing.dataset_tokens:,} per epoch)"),
    ]
    if price is not None:
        estimate.append(("Estimated price", f"about ${price:,.2f} (an estimate, not a quote)"))
    body += [text("Training estimate", weight="Bolder", separator=True), facts(estimate)]
    actions = []
    if ready:
        actions.append(submit("Start training", verbs.TRAIN, {"datasets": dataset_ids}))
    if any(report.errors or report.file_errors for report in reports):
        errors = {"datasets": dataset_ids, "model": reports[0].model}  # its reports' model
        actions.append(submit("Show all errors", verbs.ERRORS, errors))
    return card(body, actions)


def checking_card(names: Sequence[str], stage: str) -> Card:
    """The card while files are fetched ("downloading") or validated; it becomes the report."""
    doing = "Downloading" if stage == "downloading" else "Validating"
    return card(
        [
            text("Checking your files...", weight="Bolder", size="Medium"),
            text(", ".join(names)),
            text(f"{doing}; this card shows the report when it is done.", isSubtle=True),
        ]
    )


def check_failed_card(names: Sequence[str], message: str) -> Card:
    """The card when a check could not finish, with the one sentence why."""
    return card(
        [
            text(f"Could not check {', '.join(names)}", weight="Bolder", size="Medium"),
            text(message, color="Attention"),
        ]
    )


def offer_card(names: Sequence[str], ids: Sequence[str]) -> Card:
    """Files attached with no text: kept, and offered for validation."""
    body = [text(f"Got {', '.join(names)}. Shall I check it for fine-tuning?")]
    return card(body, [submit("Validate", verbs.VALIDATE, {"datasets": list(ids)})])


def error_lines(report: ValidationReport) -> list[str]:
    """Every kept error of `report` as one line each, file-level problems first."""
    lines = [f"{report.file}: {e.message}" for e in report.file_errors]
    lines += [f"{report.file} line {e.line}: {e.code}: {e.message}" for e in report.errors]
    listed = len(report.errors)
    total = sum(report.error_counts.values()) - report.error_counts.get("unknown_format", 0)
    if total > listed:
        lines.append(f"{report.file}: {total - listed:,} more errors are not listed.")
    return lines


def personal_chat_card(reason: str, where: str, link: str | None) -> Card:
    """Files in a channel or group chat that the bot cannot read: why, and the personal chat
    (a button that opens it, when the bot has an app id) whose report comes back to `where`."""
    body = [
        text(f"{reason} {CHANNEL_FILES}"),
        text(
            "Send the file to me in our personal chat within 24 hours and say `validate`: I "
            f"will post the report, with its Start training button, in {plain(where)} too.",
            isSubtle=True,
        ),
    ]
    return card(body, [open_url("Send it to me in a chat", link)] if link else [])
