"""Chat front end of dataset validation: `validate` with attachments, `sample`, "Show all errors".

`validate` finds the files of the message (attached, or in a channel or group chat read through
Microsoft Graph) and starts a check (skills/checks.py), which posts its "Checking your files..."
card, then downloads, validates and turns that card into the report, in the background. Sending
the sample files is transport: a Teams file consent card in personal chat, inline files
elsewhere.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from botbuilder.core import MessageFactory
from botbuilder.schema import Attachment

from adaptive_cards import verbs
from adaptive_cards.common import card, submit, text
from adaptive_cards.validation import CHANNEL_FILES, error_lines, personal_chat_card
from bot.arguments import key_values
from bot.attachments import incoming_files, refers_to_files
from bot.connector import team_group_id
from bot.limits import fits
from bot.turn import Turn
from infra.downloads import consent_upload_policy, is_file_link, upload
from infra.errors import UserError
from infra.graph import GraphRefused, channel_message_path, chat_message_path
from infra.i18n import N_, _, n_
from infra.text import echo, file_label, label
from skills.checks import CheckedFile
from skills.sample import SAMPLE_FILES, read_sample

FILE_CONSENT = "application/vnd.microsoft.teams.card.file.consent"
FILE_INFO = "application/vnd.microsoft.teams.card.file.info"
TEXT_PART = 3500  # characters per message when the error list is sent as text


def personal_chat_link(bot_id: str) -> str:
    """Teams' deep link that opens a personal chat with the bot (its app id)."""
    return f"https://teams.microsoft.com/l/chat/0/0?users=28:{quote(bot_id, safe='')}"


@dataclass(frozen=True)
class ValidateArgs:
    """What to validate: stored datasets (from a button) or the attachments, for which model."""

    datasets: tuple[str, ...]
    model: str | None
    epochs: int | None


def parse_validate(text_: str, data: Mapping[str, Any]) -> ValidateArgs:
    """`validate [model=..] [epochs=N]`, or a button's {"datasets": [...]}."""
    words, options = key_values(text_, {"model", "epochs"})
    if words:
        raise UserError(
            "`validate` takes model=.. and epochs=N, not {words}.", words=echo(" ".join(words))
        )
    epochs = options.get("epochs")
    if epochs is not None and not (epochs.isascii() and epochs.isdigit()):
        raise UserError("Epochs must be a whole number, as in `epochs=3`.")
    datasets = data.get("datasets") or ()
    if not isinstance(datasets, list | tuple) or not all(isinstance(d, str) for d in datasets):
        raise UserError("That button carries no files; attach them and say `validate`.")
    model = options.get("model") or data.get("model")
    return ValidateArgs(
        tuple(datasets), str(model) if model else None, int(epochs) if epochs else None
    )


def _attached(turn: Turn) -> list[CheckedFile]:
    """The files attached to the message."""
    return [CheckedFile(name=f.name, url=f.url) for f in incoming_files(turn.attachments)]


def _in_group(turn: Turn) -> bool:
    """A channel or group chat, where Teams sends files only as references in the HTML."""
    return turn.activity.conversation.conversation_type in ("channel", "groupChat")


def _part(turn: Turn, name: str) -> dict[str, Any]:
    """An object of the activity's Teams channelData (`team`, `channel`), else {}."""
    data = turn.activity.channel_data
    found = data.get(name) if isinstance(data, dict) else None
    return found if isinstance(found, dict) else {}


async def _graph_path(turn: Turn) -> str:
    """The Graph path of the incoming message: a channel message, a reply in its thread, or a
    group-chat message."""
    conversation = str(turn.activity.conversation.id)
    message = str(turn.activity.id or "")
    if turn.activity.conversation.conversation_type != "channel":
        return chat_message_path(conversation, message)
    team, channel = _part(turn, "team"), _part(turn, "channel")
    group = str(team.get("aadGroupId") or "")
    if not group and team.get("id"):  # Graph names a team by its Microsoft 365 group id
        group = await team_group_id(turn.context, str(team["id"]))
    channel_id = str(channel.get("id") or conversation.partition(";")[0])
    thread = conversation.partition(";messageid=")[2]
    if not group or not channel_id:
        raise UserError("Teams did not tell me which team this channel belongs to; try again.")
    return channel_message_path(group, channel_id, message, thread)


async def _from_graph(turn: Turn) -> list[CheckedFile]:
    """The files a channel or group-chat message refers to, read through Microsoft Graph."""
    graph = turn.services.graph
    if graph is None:
        raise GraphRefused(N_("Without an app registration I cannot read files in channels."))
    tenant = str(  # Teams says it in channelData (botbuilder reads only "tenantID")
        _part(turn, "tenant").get("id")
        or turn.activity.conversation.tenant_id
        or turn.services.settings.app_tenant_id
    )
    if not tenant:
        raise GraphRefused(N_("Teams did not tell me which organization this chat belongs to."))
    found = await graph.files(tenant, await _graph_path(turn))
    return [
        CheckedFile(
            name=file_label(f.name), url=graph.content_url(f.url), source="graph", tenant=tenant
        )
        for f in found
    ]


async def _files(turn: Turn) -> list[CheckedFile]:
    """The files of the message: attached, or (channel, group chat) referred to."""
    if (
        not incoming_files(turn.attachments)
        and _in_group(turn)
        and refers_to_files(turn.activity.text, turn.attachments)
    ):
        return await _from_graph(turn)
    return _attached(turn)


async def _ask_personal_chat(turn: Turn, refused: GraphRefused) -> None:
    """Graph cannot be used: say so, and offer the personal chat, whose report comes here too."""
    where = _conversation_name(turn)
    await turn.services.checks.ask_relay(turn.user_id, turn.conversation_id, where)
    # the app id; without one (the Emulator, the Agents Playground) the bot's id in the channel
    bot_id = turn.services.settings.app_id or str(turn.activity.recipient.id or "")
    link = personal_chat_link(bot_id.removeprefix("28:")) if bot_id else None
    await turn.show(
        personal_chat_card(refused.message, where, link), refused.message + " " + _(CHANNEL_FILES)
    )


def _conversation_name(turn: Turn) -> str:
    """What this channel or chat is called ("this channel" when Teams does not say)."""
    named = _part(turn, "channel").get("name") or turn.activity.conversation.name
    if named:
        return label(str(named))
    if turn.activity.conversation.conversation_type == "channel":
        return _("this channel")
    return _("this chat")


async def _check(
    turn: Turn, files: list[CheckedFile], purpose: Literal["validate", "offer"], args: ValidateArgs
) -> None:
    """Start the check of `files` on a card of its own; the turn ends before any download or
    validation begins. Say where else its report goes (a channel that asked for it)."""
    started = await turn.services.checks.start(
        turn.conversation_id,
        turn.user_id,
        str(turn.activity.service_url),
        files,
        purpose=purpose,
        model=args.model,
        epochs=args.epochs,
        personal=turn.activity.conversation.conversation_type in (None, "personal"),
    )
    if started.shared_with:
        await turn.send_text(
            _("The report goes to {where} too, as you asked there.", where=started.shared_with)
        )


async def validate(turn: Turn, args: ValidateArgs) -> None:
    """Check the attached (or given) files; the card that says so becomes the report card."""
    if args.datasets:
        stored = await turn.services.datasets.stored(args.datasets[:2])
        files = [CheckedFile(name=s.name, sha256=s.sha256) for s in stored]
    else:
        try:
            files = await _files(turn)
        except GraphRefused as refused:
            await _ask_personal_chat(turn, refused)
            return
    await _check(turn, files, "validate", args)


async def offer_validation(turn: Turn, _args: None) -> None:
    """Files attached with no text: keep them (in the background) and offer to validate."""
    await _check(turn, _attached(turn), "offer", ValidateArgs((), None, None))


async def show_errors(turn: Turn, args: ValidateArgs) -> None:
    """Every kept error of the files on a report card: a text file where the channel takes
    inline files (Emulator, Web Chat), else (Teams) text in parts."""
    if not args.datasets:
        raise UserError("That button carries no files; attach them and say `validate`.")
    datasets = turn.services.datasets
    stored = await datasets.stored(args.datasets[:2])
    lines: list[str] = []
    for one, report in zip(stored, await datasets.reports(stored, args.model), strict=True):
        lines += error_lines(report) or [_("{name}: no errors.", name=one.name)]
    if turn.activity.channel_id != "msteams":
        content = ("\n".join(lines) + "\n").encode()
        url = "data:text/plain;base64," + base64.b64encode(content).decode()
        errors = Attachment(content_type="text/plain", content_url=url, name="errors.txt")
        found = n_("{count} problem found.", "All {count} problems found.", len(lines))
        activity = MessageFactory.attachment(errors, found)
        if fits(activity):  # else the file would pass the size limit: as text, in parts
            await turn.send(activity)
            return
    for part in _parts(lines, TEXT_PART):
        await turn.send_text(part)


def _parts(lines: list[str], size: int) -> list[str]:
    parts: list[str] = []
    current = ""
    for line in lines:
        line = line[:size]
        if current and len(current) + len(line) + 1 > size:
            parts.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    return [*parts, current] if current else parts


def _teams_personal(turn: Turn) -> bool:
    """Teams personal chat takes files only through the file consent flow."""
    conversation = turn.activity.conversation
    return bool(
        turn.activity.channel_id == "msteams" and conversation.conversation_type == "personal"
    )


async def _file_attachment(turn: Turn, name: str, content: bytes) -> Attachment:
    if _teams_personal(turn):
        offer = await turn.services.datasets.offer_sample(turn.conversation_id, turn.user_id, name)
        consent = {
            "description": _("FineTune Ops sample: {name}", name=name),
            "sizeInBytes": len(content),
            "acceptContext": {"offer": offer.token},
            "declineContext": {"offer": offer.token},
        }
        return Attachment(content_type=FILE_CONSENT, name=name, content=consent)
    url = "data:application/jsonl;base64," + base64.b64encode(content).decode()
    return Attachment(content_type="application/jsonl", content_url=url, name=name)


async def send_sample(turn: Turn, _args: None) -> None:
    """Send the sample training and validation files, and offer to validate them."""
    samples = await turn.services.datasets.samples()
    attachments = [await _file_attachment(turn, kept.name, content) for kept, content in samples]
    intro = _("Here is a sample dataset: an AI teacher.")
    if _teams_personal(turn):  # two small consent cards
        await turn.send(MessageFactory.carousel(attachments, intro))
    else:  # the files themselves, one per message: together they pass the size limit
        for index, attachment in enumerate(attachments):
            await turn.send(MessageFactory.attachment(attachment, "" if index else intro))
    ids = [kept.sha256 for kept, _content in samples]
    body = [
        text(_("Sample dataset: an AI teacher that helps people learn about AI."), weight="Bolder"),
        text(
            _(
                "{training} for training, {validation} for validation.",
                training=SAMPLE_FILES[0],
                validation=SAMPLE_FILES[1],
            )
        ),
    ]
    actions = [submit(_("Validate these"), verbs.VALIDATE, {"datasets": ids})]
    await turn.show(card(body, actions))


def _object(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


_TOKEN = re.compile(r"^[0-9a-f]{32}$")
_UNIQUE_ID = re.compile(r"^[0-9A-Za-z{}-]{1,64}$")
_FILE_TYPE = re.compile(r"^[0-9A-Za-z]{1,16}$")
_NOT_OURS = N_("That file offer is not one I made here; type `sample` to get the files.")


async def file_consent(turn: Turn, value: Mapping[str, Any]) -> None:
    """Teams' answer to a file consent card this bot sent in this conversation (the
    `fileConsent/invoke`): upload the sample to Teams' upload URL, then show Teams' file card.

    The answer is taken once, only for an offer the bot stored for this conversation; the upload
    URL and the file card's link must be https on Microsoft's OneDrive/SharePoint hosts (local
    mode: the serviceUrl's origin), and the card is built from Teams' answer only.
    """
    context = _object(value, "context")
    token = context.get("offer")
    action = value.get("action")
    if not isinstance(token, str) or not _TOKEN.match(token) or action not in ("accept", "decline"):
        raise UserError(_NOT_OURS)
    try:
        offer = await turn.services.datasets.answer_offer(
            token, turn.conversation_id, action == "accept"
        )
    except UserError:
        raise UserError(_NOT_OURS) from None
    name = offer.sample
    if action != "accept":
        await turn.send_text(_("OK, I won't send {name}.", name=name))
        return
    info = _object(value, "uploadInfo")
    settings = turn.services.settings
    service_url = str(turn.activity.service_url)
    upload_url, content_url = str(info.get("uploadUrl") or ""), str(info.get("contentUrl") or "")
    unique_id, file_type = str(info.get("uniqueId") or ""), str(info.get("fileType") or "jsonl")
    if not (
        is_file_link(content_url, settings.local_mode, service_url)
        and _UNIQUE_ID.match(unique_id)
        and _FILE_TYPE.match(file_type)
    ):
        raise UserError(
            "Teams' answer for {name} is not one I can use; type `sample` again.", name=name
        )
    policy = consent_upload_policy(settings.local_mode, service_url)
    if not await upload(upload_url, read_sample(name), policy):
        raise UserError("Teams did not take {name}; type `sample` to try again.", name=name)
    shown = Attachment(
        content_type=FILE_INFO,
        content_url=content_url,
        name=name,
        content={"uniqueId": unique_id, "fileType": file_type},
    )
    await turn.send(MessageFactory.attachment(shown))
