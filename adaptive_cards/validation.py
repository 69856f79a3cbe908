"""The validation report card, and the full error list sent as text."""

from __future__ import annotations

from collections.abc import Sequence

from adaptive_cards import verbs
from adaptive_cards.common import (
    HEADING,
    Card,
    Element,
    card,
    facts,
    open_url,
    quoted,
    sentence,
    show_card,
    spoken,
    submit,
    text,
)
from infra.i18n import N_, _, n_, number, price
from skills.validation import Distribution, ValidationReport

FORMATS = {"chat": N_("chat"), "dpo": N_("dpo"), "unknown": N_("unknown")}
"""A report's format as the card names it."""
CHANNEL_FILES = N_(
    "In channels and group chats Teams keeps files on SharePoint or OneDrive, which I can read "
    "only through Microsoft Graph."
)


SHOWN_PROBLEMS = 6
"""The most kinds of problem a not-ready report lists per file (the rest: "Show all errors")."""


def _stats(d: Distribution) -> str:
    """A distribution in words, wrapping between words at any width (a 7-column table split
    numbers mid-digit at 360 px)."""
    low, high, mean, median, p5, p95 = d.shown()
    return _(
        "median {median}, mean {mean}; {min} to {max}, 90% from {p5} to {p95}",
        median=median,
        mean=mean,
        min=low,
        max=high,
        p5=p5,
        p95=p95,
    )


def _lines(lines: list[int], count: int) -> str:
    shown = ", ".join(str(line) for line in lines[:20])
    if count > 20:
        return _("{lines} and {more} more", lines=shown, more=number(count - 20))
    return shown


def _capital(sentence: str) -> str:
    return sentence[:1].upper() + sentence[1:]


def _said(value: str, spacing: str = "Small") -> Element:
    """A line of the report said in a chat message too (names and the file's own words in
    backticks there): on the card, `spoken`, with its spacing."""
    return {**spoken(value), "spacing": spacing}


def _examples(count: int) -> str:
    return n_("{count} example", "{count} examples", count)


def _problems(report: ValidationReport) -> list[Element]:
    """What is wrong with a file in words, where (line numbers), one line per kind of problem."""
    body = [_said("• " + _capital(e.text())) for e in report.file_errors]
    lines: dict[str, list[int]] = {}
    for error in report.errors:
        lines.setdefault(_capital(error.text()), []).append(error.line)
    for problem, where in list(lines.items())[:SHOWN_PROBLEMS]:
        said = n_(
            "• Line {lines}: {problem}",
            "• Lines {lines}: {problem}",
            len(where),
            lines=_lines(where, len(where)),
            problem=problem,
        )
        body.append(_said(said))
    if report.over_limit:
        count = len(report.over_limit)
        said = n_(
            "• {count} example is over {limit} tokens, the most {model} takes: line {lines}",
            "• {count} examples are over {limit} tokens, the most {model} takes: lines {lines}",
            count,
            limit=number(report.token_limit),
            model=report.model,
            lines=_lines(report.over_limit, count),
        )
        body.append(_said(said))
    codes = {e.code for e in report.file_errors}
    total = sum(n for code, n in report.error_counts.items() if code not in codes)
    more = total - sum(len(where) for where in list(lines.values())[:SHOWN_PROBLEMS])
    if more > 0:
        body.append(
            text(
                n_(
                    "{count} more error is not listed here.",
                    "{count} more errors are not listed here.",
                    more,
                ),
                isSubtle=True,
                spacing="Small",
            )
        )
    return body


def _warnings(report: ValidationReport) -> list[Element]:
    """What is valid but worth a look, each with a warning sign (no colour: words)."""
    return [_said("⚠️ " + w.text()) for w in report.warnings]


def _verdict(report: ValidationReport) -> Element:
    """One file's verdict, its name as the user's words."""
    if report.ok:
        said = sentence(
            N_("{file}: ready, {examples}"),
            words={"file": report.file},
            examples=_examples(report.examples),
        )
    else:
        said = sentence(N_("{file}: not ready"), words={"file": report.file}, style=BOLD)
    return {**said, "spacing": "Medium"}


BOLD = {"weight": "Bolder"}


def _details(reports: list[ValidationReport]) -> list[Element]:
    """Each file's format, model limit and token statistics, for "Show details"."""
    body: list[Element] = []
    for report in reports:
        body.append(sentence(N_("{file}"), words={"file": report.file}, style=BOLD))
        pairs: list[tuple[str, str | Element]] = [
            (_("Format"), _(FORMATS.get(report.format, report.format))),
            (_("Examples"), number(report.examples)),
            (_("Invalid"), number(report.invalid_examples)),
            (_("Model"), report.model),
            (_("Token limit"), _("{limit} per example", limit=number(report.token_limit))),
        ]
        if report.tokens:
            pairs += [
                (_("Tokens per example"), _stats(report.tokens.total)),
                (_("Assistant tokens"), _stats(report.tokens.assistant)),
                (_("Messages"), _stats(report.tokens.messages)),
            ]
        body.append(facts(pairs))
    return body


def validation_card(
    reports: list[ValidationReport], dataset_ids: list[str], cost: float | None
) -> Card:
    """The report on the training file (first) and any validation file; `dataset_ids` are the
    stored files' sha256 ids, `price` the estimated training cost in USD for the first file.

    Ready: the verdict, the estimate and Start training, the statistics behind "Show details".
    Not ready: what is wrong in words, where, and what to do; nothing about training."""
    ready = all(report.ok for report in reports)
    if not ready:
        return _not_ready(reports, dataset_ids)
    body: list[Element] = [text(_("✅ Ready to train"), weight="Bolder", size="Large")]
    for report in reports:
        body.append(_verdict(report))
        body += _warnings(report)
    billing = reports[0].billing
    estimate: list[tuple[str, str | Element]] = [
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
    body += [
        text(_("Training estimate"), weight="Bolder", separator=True, spacing="Medium"),
        facts(estimate),
    ]
    actions = [
        submit(_("Start training"), verbs.TRAIN, {"datasets": dataset_ids}, style="positive"),
        show_card(_("Show details"), _details(reports)),
    ]
    return card(body, actions)


def _not_ready(reports: list[ValidationReport], dataset_ids: list[str]) -> Card:
    body: list[Element] = [text(_("❌ Not ready to train"), weight="Bolder", size="Large")]
    for report in reports:
        body.append(_verdict(report))
        if not report.ok:
            body += _problems(report)
        body += _warnings(report)
    body.append(
        text(
            _("Fix the file, then send it again with **validate**."),
            separator=True,
            spacing="Medium",
        )
    )
    actions = []
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
    """The card when a check could not finish, with the one sentence why (it names the files:
    a TextRun, never markdown)."""
    title = sentence(N_("Could not check {names}"), words={"names": list(names)}, style=HEADING)
    return card([title, spoken(message)])


def offer_card(names: Sequence[str], ids: Sequence[str]) -> Card:
    """Files attached with no text: kept, and offered for validation."""
    body = [
        sentence(N_("Got {names}. Shall I check it for fine-tuning?"), words={"names": list(names)})
    ]
    validate = submit(_("Validate"), verbs.VALIDATE, {"datasets": list(ids)}, style="positive")
    return card(body, [validate])


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
                'Send the file to me in our personal chat within 24 hours and say "validate": I '
                "will post the report, with its Start training button, in {where} too."
            ),
            words={"where": where},
            style={"isSubtle": True},
        ),
    ]
    return card(body, [open_url(_("Send it to me in a chat"), link)] if link else [])
