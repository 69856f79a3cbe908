"""`roles` and `keys`: the lab's steps 2 and 3 from chat.

Roles: the lab's four, and only those, assigned to or removed from one principal (skills/
provisioning/roles.py). Keys: shown masked to their last 4 characters, never whole (not in chat,
cards, logs or errors). `keys rotate` regenerates one key without downtime: when the bot itself
uses that key (key auth), it first switches to the other one and proves a data-plane call works
with it, then regenerates. The switch is a shared record (`KeyState`, with a version raised at
each switch) that every instance caches: each reads it every SYNC_SECONDS and looks the keys up
only when the version changed, and the rotating instance waits SWITCH_WAIT_SECONDS (two syncs)
before regenerating when several instances share the state, so every one has switched by then.
A data-plane 401 with a key also makes an instance read the record and the keys at once, and the
call is sent again with the new key (`rekey`; infra/azure.py), so a paused instance never shows
the error either. Rotations of one resource take turns (its `keys/` item through the ownership
of background work, across instances), and each card says whether the other key was
regenerated too since the question was asked.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping

import openai

from infra.azure import Resource
from infra.errors import UserError
from infra.i18n import N_, Said, _, later
from skills.audit import Actor
from skills.confirmations import lifetime_hours
from skills.context import Context
from skills.provisioning import arm, roles
from skills.provisioning.records import KeyName, KeysRequest, KeyState, PrincipalName
from skills.provisioning.views import (
    KeyRotated,
    KeysView,
    RoleLine,
    RolesView,
    RotatePlan,
    Rotation,
)
from skills.records import resource_segment
from skills.resources import Resources

log = logging.getLogger(__name__)

NOTES = {
    "assigned": N_("assigned now"),
    "held": N_("already held"),
    "removed": N_("removed now"),
    "absent": N_("was not held"),
}
"""What `roles <who>` did with each role (as the card shows it)."""

SYNC_SECONDS = 2.0
"""How often each instance reads which key the bot uses (one record read; Azure only when the
record's version changed)."""
SWITCH_WAIT_SECONDS = 2 * SYNC_SECONDS + 1
"""How long a switch waits for the other instances (several share the state) to read it."""
TURN_WAIT_SECONDS = 120.0
"""How long a rotation waits for another rotation of the same resource to finish."""


def mask(key: str) -> str:
    """A key as it may be shown: its last 4 characters."""
    return f"••••{key[-4:]}" if len(key) > 8 else "••••"


def _roles_said(result: Mapping[str, str], remove: bool) -> Said:
    """What `roles` did, for the audit trail: the roles it changed and those it left."""
    names = {role.guid: role.name for role in roles.LAB_ROLES}
    now, before = ("removed", "absent") if remove else ("assigned", "held")
    changed = ", ".join(names[g] for g, outcome in result.items() if outcome == now) or "–"
    kept = ", ".join(names[g] for g, outcome in result.items() if outcome == before) or "–"
    return later(
        "{now}: {changed}; {before}: {kept}",
        now=NOTES[now],
        changed=changed,
        before=NOTES[before],
        kept=kept,
        translated=("now", "before"),
    )


def _where(role: roles.LabRole) -> str:
    """Where the lab assigns a role, as the card says it."""
    return _("subscription") if role.at_subscription else _("account")


class Access:
    """Role assignments and keys of the current resource."""

    def __init__(self, ctx: Context, resources: Resources) -> None:
        self.ctx = ctx
        self.resources = resources
        self._applied: dict[str, int] = {}
        """Per endpoint, the `KeyState.version` this instance uses the key of."""
        ctx.azure.rekey = self.rekey

    # -- roles -----------------------------------------------------------------------------

    async def remember_name(self, object_id: str, name: str) -> None:
        """Keep a person's display name for the `roles` card."""
        if object_id and name and name != object_id:
            await self.ctx.records.put(PrincipalName(object_id=object_id, name=name))

    async def _label(self, object_id: str) -> str:
        if object_id == self.ctx.settings.bot_principal:
            return _("the bot ({id})", id=object_id)
        known = await self.ctx.records.get(PrincipalName.at(object_id))
        return f"{known.name} ({object_id})" if known else object_id

    async def role_holders(self, resource: Resource) -> RolesView:
        """The four roles and who the bot knows to hold them on `resource`."""
        self.resources.require_resource_manager()
        client = self.ctx.azure.authorization(resource.subscription_id)
        held = await roles.holders(client, resource)
        lines = []
        for role in roles.LAB_ROLES:
            names = tuple([await self._label(p) for p in held.get(role.guid, [])])
            lines.append(RoleLine(role.name, _(role.allows), _where(role), names))
        return RolesView(resource.account, tuple(lines))

    async def change(
        self,
        resource: Resource,
        principal: str,
        kind: roles.PrincipalType | None,
        actor: Actor,
        *,
        remove: bool = False,
    ) -> RolesView:
        """Assign (or remove) the lab's four roles for `principal`; the card of what it holds."""
        self.resources.require_resource_manager()
        client = self.ctx.azure.authorization(resource.subscription_id)
        label = await self._label(principal)
        action = "roles remove" if remove else "roles"
        entry = await self.ctx.audit.begin(actor, action, label, resource)
        try:
            if remove:
                result = await roles.remove(client, resource, principal)
            else:
                result = await roles.assign(client, resource, principal, kind)
        except UserError as error:
            await self.ctx.audit.end(entry.id, "failed", error.said)
            raise
        lines = []
        for role in roles.LAB_ROLES:
            outcome = result[role.guid]
            held = outcome in ("assigned", "held")
            note = _(NOTES[outcome])
            lines.append(RoleLine(role.name, _(role.allows), _where(role), (), held, note))
        await self.ctx.audit.end(entry.id, "done", _roles_said(result, remove))
        return RolesView(resource.account, tuple(lines), label, "removed" if remove else "assigned")

    # -- keys ------------------------------------------------------------------------------

    async def _keys(self, resource: Resource) -> dict[str, str]:
        self.resources.require_resource_manager()
        return await arm.list_keys(self.ctx.azure.cognitive(resource.subscription_id), resource)

    def _in_use(self, resource: Resource, keys: dict[str, str]) -> KeyName | None:
        used = self.ctx.azure.key_in_use(resource)
        if used == keys["key1"]:
            return "key1"
        if used == keys["key2"]:
            return "key2"
        return None

    def _auth(self, resource: Resource, in_use: str | None) -> str:
        if not self.ctx.azure.key_auth(resource):
            return _("Entra ID (the bot's own identity): the bot uses no key")
        if in_use is None:
            return _("a key that is neither KEY1 nor KEY2 any more: check AZURE_OPENAI_API_KEY")
        return _("key auth with {key}", key=in_use.upper())

    async def keys(self, resource: Resource) -> KeysView:
        """The endpoint, the masked keys, which one the bot uses, when each was rotated."""
        keys = await self._keys(resource)
        state = await self.ctx.records.get(KeyState.of(resource))
        in_use = self._in_use(resource, keys)
        rotated = {}
        for name in ("key1", "key2"):
            at = state.rotated_at.get(name) if state else None
            if state and at:
                rotated[name] = Rotation(at, state.rotated_by.get(name, "?"))
        return KeysView(
            resource.account,
            resource.endpoint,
            self._auth(resource, in_use),
            {name: mask(value) for name, value in keys.items()},
            in_use,
            rotated,
        )

    async def ask_rotate(
        self, resource: Resource, conversation: str, actor: Actor, key_name: KeyName
    ) -> RotatePlan:
        """Store the question before regenerating a key."""
        keys = await self._keys(resource)
        request = await self.ctx.confirmations.ask(
            KeysRequest,
            conversation,
            actor.id,
            user_name=actor.name,
            resource=resource,
            key_name=key_name,
        )
        return RotatePlan(
            resource.account,
            key_name,
            self._in_use(resource, keys),
            request.token,
            lifetime_hours(),
        )

    async def keep_key(self, token: str, conversation: str, user: str) -> KeysRequest:
        """Do not rotate after all."""
        return await self.ctx.confirmations.answer(
            KeysRequest.at(token), "cancelled", conversation, N_("keys"), user
        )

    async def rotate(self, token: str, conversation: str, actor: Actor) -> KeyRotated:
        """Regenerate the confirmed key with zero downtime (see the module's docstring)."""
        request = await self.ctx.confirmations.answer(
            KeysRequest.at(token), "confirmed", conversation, N_("keys"), actor.id
        )
        resource, name = request.resource, request.key_name
        other: KeyName = "key2" if name == "key1" else "key1"
        turn = f"keys/{resource_segment(resource)}"
        await self._take_turn(turn)
        try:
            return await self._rotate(request, other, actor)
        finally:
            await self.ctx.owners.release(turn)

    async def _take_turn(self, item: str) -> None:
        """Wait until no other rotation of the resource runs (on any instance)."""
        deadline = time.monotonic() + TURN_WAIT_SECONDS
        while not await self.ctx.owners.claim(item):
            if time.monotonic() > deadline:
                raise UserError(
                    "Another rotation of this resource's keys is still running: try again in "
                    "a few minutes."
                )
            await asyncio.sleep(0.2)

    async def _rotate(self, request: KeysRequest, other: KeyName, actor: Actor) -> KeyRotated:
        resource, name = request.resource, request.key_name
        cognitive = self.ctx.azure.cognitive(resource.subscription_id)
        entry = await self.ctx.audit.begin(actor, "keys rotate", name.upper(), resource)
        try:
            keys = await arm.list_keys(cognitive, resource)
            state = await self.ctx.records.get(KeyState.of(resource))
            if state is not None and self.ctx.azure.key_auth(resource):
                self._apply(state, keys)  # a rotation elsewhere just before this one
            switched = self._in_use(resource, keys) == name
            if switched:
                await self._switch(resource, other, keys[other])
            after = await arm.regenerate_key(cognitive, resource, name)
        except UserError as error:
            await self.ctx.audit.end(entry.id, "failed", error.said)
            raise
        now = time.time()

        def note(found: KeyState | None) -> KeyState:
            base = found or KeyState(resource=resource)
            return base.model_copy(
                update={
                    "rotated_at": {**base.rotated_at, name: now},
                    "rotated_by": {**base.rotated_by, name: actor.name},
                }
            )

        noted = await self.ctx.records.update(KeyState.of(resource), note)
        detail = (
            later("the bot switched to {key} first", key=other.upper())
            if switched
            else later("not in use")
        )
        await self.ctx.audit.end(entry.id, "done", detail)
        masked = {key: mask(value) for key, value in after.items()}
        also = None
        at = noted.rotated_at.get(other, 0.0) if noted else 0.0
        if noted and at >= request.created_at:  # the other key changed since the question
            also = Rotation(at, noted.rotated_by.get(other, "?"))
        return KeyRotated(resource.account, name, other, switched, masked, also)

    async def _switch(self, resource: Resource, name: KeyName, value: str) -> None:
        """Use key `name` from now on, once a data-plane call proves it works; with several
        instances, give them SWITCH_WAIT_SECONDS to read the switch."""
        previous = self.ctx.azure.key_in_use(resource)
        self.ctx.azure.use_key(resource, value)
        try:
            await self.ctx.azure.openai(resource).models.list()
        except openai.APIError:
            if previous is not None:
                self.ctx.azure.use_key(resource, previous)
            raise UserError(
                "I could not switch to {key}: a call with it failed, so I regenerated nothing.",
                key=name.upper(),
            ) from None

        def switch(found: KeyState | None) -> KeyState:
            base = found or KeyState(resource=resource)
            update = {"in_use": name, "switched_at": time.time(), "version": base.version + 1}
            return base.model_copy(update=update)

        switched = await self.ctx.records.update(KeyState.of(resource), switch)
        if switched is not None:
            self._applied[resource.endpoint] = switched.version
        if self.ctx.settings.state == "blob":  # other instances read it within two syncs
            await asyncio.sleep(SWITCH_WAIT_SECONDS)

    def _apply(self, state: KeyState, keys: dict[str, str]) -> None:
        """Use the key `state` names (its value from `keys`)."""
        resource = state.resource
        if state.in_use is not None and self.ctx.azure.key_in_use(resource) != keys[state.in_use]:
            self.ctx.azure.use_key(resource, keys[state.in_use])
            log.info("now using %s of %s", state.in_use.upper(), resource.account)
        self._applied[resource.endpoint] = state.version

    async def rekey(self, resource: Resource) -> None:
        """After a 401 with a key: use the key the state store names now (`Azure.rekey`)."""
        state = await self.ctx.records.get(KeyState.of(resource))
        if state is not None and state.in_use is not None:
            self._apply(state, await self._keys(resource))

    async def sync_keys(self) -> None:
        """Use the key the state store names for each key-auth resource whose record changed
        since this instance last looked (after a switch by another instance, or at start)."""
        for state in await self.ctx.records.all(KeyState):
            resource = state.resource
            if state.in_use is None or not self.ctx.azure.key_auth(resource):
                continue
            if self._applied.get(resource.endpoint) != state.version:
                self._apply(state, await self._keys(resource))

    async def run_sync(self) -> None:
        """`sync_keys` every SYNC_SECONDS until cancelled (a lasting failure is logged once)."""
        failing = False
        while True:
            try:
                await self.sync_keys()
            except Exception:  # Azure or the store unreachable for now: look again later
                if not failing:
                    log.warning("key sync failed; trying again", exc_info=True)
                failing = True
            else:
                if failing:
                    log.info("key sync works again")
                failing = False
            await asyncio.sleep(SYNC_SECONDS)
