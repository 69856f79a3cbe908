"""Access commands: `roles` (the lab's four role assignments), `keys` and `keys rotate`, `audit`.

Parsers for the command table, and handlers over skills/provisioning/access.py. A mention is
resolved to its AAD object id through the Teams member lookup (the router hands the parser the
mentions other than the bot's own); `me` is the caller's `from.aadObjectId`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from botbuilder.core.teams import TeamsInfo

from adaptive_cards import provisioning as cards
from bot.turn import Turn
from infra.errors import UserError
from infra.i18n import _
from infra.text import NAME_CHARS, echo, name_in_sentence, person
from skills.provisioning.records import KeyName, KeysRequest
from skills.provisioning.views import AuditView

log = logging.getLogger(__name__)

_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
DEFAULT_AUDIT = 10

Target = Literal["list", "me", "bot", "mention", "id"]


@dataclass(frozen=True)
class RolesArgs:
    """`roles [me | @mention | <object id> | bot] [remove]`."""

    target: Target
    value: str = ""
    name: str = ""
    remove: bool = False


def parse_roles(text: str, data: Mapping[str, Any]) -> RolesArgs:
    """Who gets (or loses) the lab's four roles; nobody named: list them (the text, or a card
    button's `arg`: the roles card's "Assign the roles to me")."""
    words = (text or str(data.get("arg") or "")).split()
    remove = bool(words) and words[-1].lower() == "remove"
    if remove:
        words = words[:-1]
    mentions = [m for m in data.get("mentions") or [] if isinstance(m, dict) and m.get("id")]
    if len(words) + len(mentions) > 1:
        raise UserError(
            "Name one person at a time: `roles me`, `roles @someone`, `roles <object id>` or "
            "`roles bot`."
        )
    if mentions:
        return RolesArgs(
            "mention", str(mentions[0]["id"]), str(mentions[0].get("name") or ""), remove
        )
    if not words:
        if remove:
            raise UserError("Remove whose roles? `roles me remove`, `roles @someone remove`, ...")
        return RolesArgs("list")
    word = words[0]
    if word.lower() in ("me", "bot"):
        return RolesArgs("me" if word.lower() == "me" else "bot", remove=remove)
    if _GUID.match(word):
        return RolesArgs("id", word.lower(), remove=remove)
    raise UserError(
        "{word} is not someone I can give roles to: say `me`, mention a person, give an Entra "
        "ID object id (a GUID) or say `bot`.",
        word=echo(word),
    )


@dataclass(frozen=True)
class KeysArgs:
    """`keys` or `keys rotate key1|key2`."""

    rotate: KeyName | None = None


def parse_keys(text: str, data: Mapping[str, Any]) -> KeysArgs:
    """`keys`, `keys rotate key1`, `keys rotate key2` (the text, or a card button's `arg`: the
    keys card's Regenerate buttons)."""
    words = [w.lower() for w in (text or str(data.get("arg") or "")).split()]
    if not words:
        return KeysArgs()
    if words[0] == "rotate" and len(words) == 2 and words[1] in ("key1", "key2"):
        return KeysArgs("key1" if words[1] == "key1" else "key2")
    raise UserError("Say `keys` to see them, or `keys rotate key1` / `keys rotate key2`.")


def parse_count(text: str, data: Mapping[str, Any]) -> int:
    """`audit [N]`."""
    value = text.strip()
    if not value:
        return DEFAULT_AUDIT
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= 50:
        raise UserError("N must be a whole number from 1 to 50, as in `audit 20`.")
    return int(value)


# -- roles -------------------------------------------------------------------------------------


async def _principal(
    turn: Turn, args: RolesArgs
) -> tuple[str, str, Literal["User", "ServicePrincipal"] | None]:
    """(object id, display name, principal type) of the person or identity named."""
    if args.target == "me":
        oid = turn.aad_object_id
        if not oid:
            raise UserError(
                "Your client did not tell me your Entra ID object id; say `roles <object id>` "
                "(Entra ID > Users > you > Object ID)."
            )
        return oid, turn.user_name, "User"
    if args.target == "bot":
        oid = turn.services.settings.bot_principal
        if not oid:
            raise UserError(
                "I do not know my own identity: set FTBOT_BOT_PRINCIPAL_ID to the object id of "
                "my managed identity or service principal."
            )
        return oid, "", "ServicePrincipal"
    if args.target == "mention":
        try:
            member = await TeamsInfo.get_member(turn.context, args.value)
        except Exception:
            log.info("member lookup of %s failed", args.value, exc_info=True)
            member = None
        oid = str(getattr(member, "aad_object_id", "") or "")
        if not oid:
            raise UserError(
                "I could not look up {name} in this conversation; give their Entra ID object id "
                "instead: `roles <object id>`.",
                name=echo(args.name, NAME_CHARS) if args.name else _("that person"),
            )
        return oid, person(getattr(member, "name", "") or "") or args.name or oid, "User"
    return args.value, args.value, None


async def roles(turn: Turn, args: RolesArgs) -> None:
    """List the four roles, or assign (remove) them for one principal."""
    access = turn.services.access
    resource = await turn.resource()
    if args.target == "list":
        view = await access.role_holders(resource)
        await turn.show(cards.roles_card(view), _("Roles on {account}", account=view.account))
        return
    oid, name, kind = await _principal(turn, args)
    await access.remember_name(oid, name)
    view = await access.change(resource, oid, kind, turn.actor, remove=args.remove)
    who = name_in_sentence(name) if name else _("the bot")
    if args.remove:
        summary = _("Roles removed for {name}", name=who)
    else:
        summary = _("Roles assigned for {name}", name=who)
    await turn.show(cards.roles_card(view), summary)


# -- keys --------------------------------------------------------------------------------------


async def keys(turn: Turn, args: KeysArgs) -> None:
    """The masked keys, or the question before a rotation."""
    access = turn.services.access
    resource = await turn.resource()
    if args.rotate is None:
        view = await access.keys(resource)
        await turn.show(cards.keys_card(view), _("Keys of {account}", account=view.account))
        return
    plan = await access.ask_rotate(resource, turn.conversation_id, turn.actor, args.rotate)
    card = await turn.show(
        cards.rotate_confirm_card(plan), _("Regenerate {key}?", key=args.rotate.upper())
    )
    await turn.services.confirmations.shown(KeysRequest.at(plan.token), card)


async def keys_rotate_confirm(turn: Turn, token: str) -> None:
    """Rotate, with zero downtime for the bot."""
    view = await turn.services.access.rotate(token, turn.conversation_id, turn.actor)
    await turn.show(
        cards.rotated_card(view),
        _("{key} regenerated", key=view.key_name.upper()),
        card_id=await turn.question_card(KeysRequest.at(token)),
    )


async def keys_keep(turn: Turn, token: str) -> None:
    """No rotation after all."""
    request = await turn.services.access.keep_key(token, turn.conversation_id, turn.user_id)
    card = await turn.question_card(request.key())
    await turn.show(cards.kept_key_card(request.resource.account), card_id=card)


# -- audit -------------------------------------------------------------------------------------


async def audit(turn: Turn, count: int) -> None:
    """The latest costly or destructive actions."""
    entries = await turn.services.audit.last(count)
    await turn.show(cards.audit_card(AuditView(tuple(entries))), _("Audit trail"))
