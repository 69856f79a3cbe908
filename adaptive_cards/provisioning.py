"""Cards of provisioning, access, keys, teardown and the audit trail.

The texts a view carries from the workflow (a step, a state, a reason, a note, what a role
allows, a teardown item's label) are said there, in the language of the person who started it.
Names and ids (accounts, groups, endpoints, keys, people) are others' words: TextRuns (`titled`,
`sentence`), never markdown, in every language as they are.
"""

from __future__ import annotations

import datetime as dt

from adaptive_cards import verbs
from adaptive_cards.common import (
    Card,
    Element,
    card,
    facts,
    heading,
    quoted,
    sentence,
    spoken,
    submit,
    text,
    their_words,
    titled,
    when,
)
from infra.i18n import N_, Said, _, duration, n_
from skills.audit import AuditEntry
from skills.provisioning.records import TeardownItem
from skills.provisioning.views import (
    AuditView,
    KeyRotated,
    KeysView,
    Origin,
    ProvisionFailed,
    ProvisionPlan,
    ProvisionProgress,
    ProvisionSucceeded,
    PurgePlan,
    ResourceView,
    RoleLine,
    RolesView,
    RotatePlan,
    Rotation,
    TeardownPlan,
    TeardownProgress,
)

ROLE_DELAY = N_(
    "Role assignments take a few minutes to take effect on Azure; the bot waits until its own "
    "works."
)
ENTRA_ADVICE = N_(
    "Prefer Entra ID to copying keys: give people the roles they need (the roles command, as "
    "current Azure guidance recommends); a key grants everything to anyone who holds it."
)

KINDS = {
    "deployment": N_("deployment"),
    "job": N_("job"),
    "file": N_("file"),
    "account": N_("account"),
}
"""What teardown deletes, by kind."""
MARKS = {
    "pending": N_("waiting"),
    "deleting": N_("deleting..."),
    "done": N_("deleted"),
    "failed": N_("FAILED"),
}
"""A teardown item's state."""
ACTIONS = {
    "train": N_("train"),
    "cancel": N_("cancel"),
    "deploy": N_("deploy"),
    "delete": N_("delete"),
    "provision": N_("provision"),
    "roles": N_("roles"),
    "roles remove": N_("roles remove"),
    "keys rotate": N_("keys rotate"),
    "teardown": N_("teardown"),
    "purge": N_("purge"),
    "pause": N_("pause"),
    "resume": N_("resume"),
    "evaluate": N_("evaluate"),
    "budget": N_("budget"),
    "approval asked": N_("approval asked"),
    "approve": N_("approve"),
    "refuse": N_("refuse"),
}
"""The audit trail's actions, named as the commands that did them."""
OUTCOMES = {
    "started": N_("started"),
    "done": N_("done"),
    "failed": N_("failed"),
    "partly done": N_("partly done"),
}
"""How an audited action ended."""


def _expiry(hours: int) -> Element:
    return text(
        n_(
            "This question can be answered for {count} hour.",
            "This question can be answered for {count} hours.",
            hours,
        ),
        isSubtle=True,
    )


def _moment(value: float | str) -> dt.datetime | None:
    """A Unix time, or an ISO 8601 text as Azure writes a date (None: not one)."""
    if not isinstance(value, str):
        return dt.datetime.fromtimestamp(value, dt.UTC)
    try:
        found = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return found if found.tzinfo else found.replace(tzinfo=dt.UTC)


def _plan_facts(plan: ProvisionPlan) -> Element:
    if plan.group_exists:
        group = quoted(plan.group)
    else:
        group = sentence(N_("{group} (created, and never deleted later)"), {"group": plan.group})
    region = sentence(N_("{region} ({location})"), {"location": plan.location}, region=plan.region)
    return facts(
        [
            (_("Account"), quoted(plan.account)),
            (_("Kind, SKU"), "OpenAI, Standard S0"),
            (_("Region"), region),
            (_("Custom subdomain"), quoted(plan.account.lower())),
            (_("Resource group"), group),
            (_("Subscription"), quoted(plan.subscription)),
        ]
    )


def provision_confirm_card(plan: ProvisionPlan) -> Card:
    """What `provision` will create, and the question."""
    words = {"account": plan.account}
    if plan.exists:
        title = titled(N_("Use the existing account {account}?"), words)
        intro = _(
            "An account of that name is in that group already: I will adopt it, not create it."
        )
        button = _("Use it")
    else:
        title = titled(N_("Create {account}?"), words)
        intro = _(
            "I will create this Azure OpenAI resource (a long-running operation: a few minutes "
            "on Azure), give my own identity Cognitive Services OpenAI Contributor on it, and "
            "then work on it in this team or conversation."
        )
        button = _("Create")
    return card(
        [
            title,
            text(intro),
            _plan_facts(plan),
            text(
                _(
                    "An S0 resource costs nothing by itself; training, hosting and tokens are "
                    "billed as you use them."
                ),
                isSubtle=True,
            ),
            _expiry(plan.expires_hours),
        ],
        [
            submit(button, verbs.PROVISION_CONFIRM, {"request": plan.token}, "positive"),
            submit(_("Cancel"), verbs.PROVISION_CANCEL, {"request": plan.token}),
        ],
    )


def provision_cancelled_card(plan: ProvisionPlan) -> Card:
    """The question after "Cancel"."""
    title = titled(N_("Nothing created: {account} cancelled"), {"account": plan.account})
    return card([title, _plan_facts(plan)])


def provision_progress_card(view: ProvisionProgress) -> Card:
    """The card that follows a provisioning."""
    plan = view.plan
    return card(
        [
            titled(N_("Provisioning {account}"), {"account": plan.account}),
            _plan_facts(plan),
            facts(
                [
                    (_("Step"), spoken(view.step) if view.step else _("Starting")),
                    (_("State"), spoken(view.state) if view.state else "-"),
                    (_("Elapsed"), duration(view.elapsed)),
                ]
            ),
            text(
                _("Azure takes a few minutes to create an account.")
                + " "
                + _(ROLE_DELAY)
                + " "
                + _("This card updates itself."),
                isSubtle=True,
            ),
        ]
    )


def _roles_for_me() -> Element:
    """The lab's next step after provisioning: the four roles for whoever presses it."""
    return submit(_("Assign the roles to me"), verbs.ROLES, {"arg": "me"}, "positive")


def provision_succeeded_card(view: ProvisionSucceeded) -> Card:
    """The account is ready, with its endpoint; next, as in the lab, the roles."""
    words = {"account": view.plan.account}
    if view.adopted:
        title = titled(N_("{account} is adopted"), words, "good")
    else:
        title = titled(N_("{account} is ready"), words, "good")
    body = [
        title,
        _plan_facts(view.plan),
        facts(
            [
                (_("State"), _("Succeeded")),
                (_("Endpoint"), quoted(view.endpoint)),
                (_("Took"), duration(view.elapsed)),
            ]
        ),
        text(
            _(
                "I now work on this resource in this team or conversation. Next, as in the lab: "
                "the four roles for you."
            ),
            isSubtle=True,
        ),
    ]
    if view.note:
        body.append(spoken(view.note, isSubtle=True))
    return card(body, [_roles_for_me(), submit(_("Show the resource"), verbs.RESOURCE)])


def provision_failed_card(view: ProvisionFailed) -> Card:
    """Provisioning stopped, and why."""
    return card(
        [
            titled(
                N_("Provisioning {account} failed"), {"account": view.plan.account}, "attention"
            ),
            _plan_facts(view.plan),
            spoken(view.reason),
        ]
    )


def _origin(origin: Origin | None) -> str | Element:
    """Who made the resource the current one, and when (each reader's local time)."""
    if origin is None:
        return _("from the settings (the default for every team and conversation)")
    moment = when(dt.datetime.fromtimestamp(origin.at, dt.UTC))
    if origin.adopted:
        return sentence(N_("adopted by {name} on {when}"), {"name": origin.by}, when=moment)
    return sentence(N_("provisioned by {name} on {when}"), {"name": origin.by}, when=moment)


def resource_card(view: ResourceView) -> Card:
    """`resource`: the current resource."""
    pairs: list[tuple[str, str | Element]] = [
        (_("Subscription"), quoted(view.subscription)),
        (_("Resource group"), quoted(view.group)),
        (_("Account"), quoted(view.account)),
        (_("Region"), quoted(view.location)),
        (_("SKU"), quoted(view.sku)),
        (_("Endpoint"), quoted(view.endpoint)),
        (_("The bot authenticates with"), spoken(view.auth)),
        (_("Origin"), _origin(view.origin)),
    ]
    if view.state:
        pairs.insert(3, (_("State"), spoken(view.state)))
    title = titled(N_("Current resource: {account}"), {"account": view.account})
    return card([title, facts(pairs)])


def _role(line: RoleLine, state: str, words: dict[str, tuple[str, ...]] | None = None) -> Element:
    """One role: its name (Azure's) and where it is assigned; what it allows; who holds it."""
    name = {
        "type": "RichTextBlock",
        "inlines": [
            {"type": "TextRun", "text": line.name, "weight": "Bolder"},
            {"type": "TextRun", "text": " " + _("(at the {scope})", scope=line.scope)},
        ],
    }
    held = sentence(state, words) if words else text(state)
    held["spacing"] = "None"
    return {
        "type": "Container",
        "spacing": "Medium",
        "items": [name, {**spoken(line.allows, isSubtle=True), "spacing": "None"}, held],
    }


def roles_card(view: RolesView) -> Card:
    """The lab's four roles: who holds what and what is missing, with the button that assigns
    them (or, after `roles <who>`, what changed for whom)."""
    account = {"account": view.account}
    body: list[Element] = []
    actions: list[Element] = []
    if view.action == "list":
        body.append(titled(N_("Roles on {account}"), account))
        missing = [line for line in view.lines if not line.holders]
        for line in view.lines:
            if line.holders:
                body.append(_role(line, N_("Held by {names}"), {"names": line.holders}))
            else:
                body.append(_role(line, _("Missing: nobody I know of holds it")))
        if missing:
            body.append(
                text(
                    n_(
                        "{count} role is held by nobody I know of.",
                        "{count} roles are held by nobody I know of.",
                        len(missing),
                    ),
                    weight="Bolder",
                )
            )
        actions.append(_roles_for_me())
    else:
        message = (
            N_("Roles removed for {principal} on {account}")
            if view.action == "removed"
            else N_("Roles assigned for {principal} on {account}")
        )
        body.append(titled(message, {"principal": view.principal, **account}))
        for line in view.lines:
            if line.held:
                state = _("Held now ({note})", note=line.note)
            else:
                state = _("Not held ({note})", note=line.note)
            body.append(_role(line, state))
    body.append(
        text(
            _("These four are the only roles I assign or remove.")
            + " "
            + _("Role assignments take a few minutes to take effect on Azure."),
            isSubtle=True,
        )
    )
    return card(body, actions)


def _masked(view: KeysView | KeyRotated, name: str) -> Element:
    """A masked key (••••abcd), as it is: the secret itself is never on a card."""
    return quoted(view.masked.get(name, ""))


def _rotation(rotation: Rotation | None) -> str | Element:
    """When and for whom the bot regenerated a key (each reader's local time)."""
    if rotation is None:
        return _("not by the bot")
    moment = _moment(rotation.at)
    stamp = when(moment) if moment else ""
    return sentence(N_("{when} by {name}"), {"name": rotation.by}, when=stamp)


def _regenerate(key: str) -> Element:
    """The button that asks before regenerating `key` (key1, key2)."""
    label = _("Regenerate {key}", key=key.upper())
    return submit(label, verbs.KEYS, {"arg": f"rotate {key}"}, "destructive")


def keys_card(view: KeysView) -> Card:
    """`keys`: the endpoint, the masked keys, which one the bot uses, the bot's rotations, the
    advice, and a Regenerate button per key (each asks first)."""
    pairs: list[tuple[str, str | Element]] = [
        (_("Endpoint"), quoted(view.endpoint)),
        ("KEY1", _masked(view, "key1")),
        ("KEY2", _masked(view, "key2")),
        (_("The bot uses"), spoken(view.auth)),
        (_("KEY1 last rotated"), _rotation(view.rotated.get("key1"))),
        (_("KEY2 last rotated"), _rotation(view.rotated.get("key2"))),
    ]
    return card(
        [
            titled(N_("Keys of {account}"), {"account": view.account}),
            facts(pairs),
            text(
                _(
                    "Keys are shown by their last 4 characters only. Azure does not report when "
                    "a key was regenerated: the dates above are the bot's own rotations."
                ),
                isSubtle=True,
            ),
            text(_(ENTRA_ADVICE), isSubtle=True),
        ],
        [_regenerate("key1"), _regenerate("key2")],
    )


def rotate_confirm_card(plan: RotatePlan) -> Card:
    """Ask before regenerating a key."""
    other = "KEY2" if plan.key_name == "key1" else "KEY1"
    name = plan.key_name.upper()
    if plan.in_use == plan.key_name:
        warning = _(
            "Anything still using the old {key} stops working at once. I use {key} myself: I "
            "will switch to {other}, check that a call works with it, and only then regenerate "
            "{key}, so nothing stops.",
            key=name,
            other=other,
        )
    else:
        warning = _(
            "Anything still using the old {key} stops working at once. I do not use {key}, so "
            "nothing of mine stops.",
            key=name,
        )
    return card(
        [
            titled(N_("Regenerate {key} of {account}?"), {"account": plan.account}, key=name),
            text(warning),
            _expiry(plan.expires_hours),
        ],
        [
            submit(
                _("Regenerate {key}", key=name),
                verbs.KEYS_ROTATE_CONFIRM,
                {"request": plan.token},
                "destructive",
            ),
            submit(_("Keep it"), verbs.KEYS_KEEP, {"request": plan.token}),
        ],
    )


def rotated_card(view: KeyRotated) -> Card:
    """A key was regenerated: which one is valid now."""
    name, valid = view.key_name.upper(), view.valid.upper()
    which: Element
    if view.also:
        moment = _moment(view.also.at)
        which = sentence(
            N_(
                "{valid} was regenerated too since you asked ({when}, by {name}): neither old "
                "key works any more, so whoever copied one must take the new keys from the "
                "portal."
            ),
            {"name": view.also.by},
            valid=valid,
            when=when(moment) if moment else "",
        )
        if view.switched:
            which["inlines"].append(
                {
                    "type": "TextRun",
                    "text": " "
                    + _(
                        "I switched to the new {valid} before regenerating {key}.",
                        valid=valid,
                        key=name,
                    ),
                }
            )
    elif view.switched:
        which = text(
            _(
                "{valid} is the key that still works: whoever copied the old {key} must use "
                "{valid} (or the new {key} from the portal). I switched to {valid} before "
                "regenerating.",
                valid=valid,
                key=name,
            )
        )
    else:
        which = text(
            _(
                "{valid} is the key that still works: whoever copied the old {key} must use "
                "{valid} (or the new {key} from the portal).",
                valid=valid,
                key=name,
            )
        )
    return card(
        [
            titled(N_("{key} of {account} was regenerated"), {"account": view.account}, key=name),
            which,
            facts([("KEY1", _masked(view, "key1")), ("KEY2", _masked(view, "key2"))]),
            text(_(ENTRA_ADVICE), isSubtle=True),
        ]
    )


def kept_key_card(account: str) -> Card:
    """The rotation question after "Keep it"."""
    return card([titled(N_("No key of {account} was regenerated"), {"account": account})])


def _kind(item: TeardownItem) -> str:
    return _(KINDS[item.kind]) if item.kind in KINDS else item.kind


def _item_line(item: TeardownItem, shown: bool = True) -> Element:
    """One thing teardown deletes: its kind, its label (the workflow's words around names: a
    TextRun) and, where `shown`, its state; a failed one on an attention band, with Azure's
    reason under it."""
    words = {"label": item.label}
    if shown:
        state = _(MARKS[item.state]) if item.state in MARKS else item.state
        line = sentence(N_("{kind}: {label}: {state}"), words, kind=_kind(item), state=state)
    else:
        line = sentence(N_("{kind}: {label}"), words, kind=_kind(item))
    line["spacing"] = "Small"
    if not shown or (not item.reason and item.state != "failed"):
        return line
    reason = [{**spoken(item.reason), "spacing": "None"}] if item.reason else []
    style = {"style": "attention"} if item.state == "failed" else {}
    return {"type": "Container", **style, "spacing": "Small", "items": [line, *reason]}


def teardown_confirm_card(plan: TeardownPlan) -> Card:
    """Everything teardown deletes, and the destructive button."""
    lines = [_item_line(item, shown=False) for item in plan.items]
    account = any(i.kind == "account" for i in plan.items)
    if account:
        order = _(
            "Order: deployments, then fine-tuning jobs (with their models) and files, then the "
            "account."
        )
    else:
        order = _("Order: deployments, then fine-tuning jobs (with their models) and files.")
    notes: list[Element] = [
        text(order, isSubtle=True),
        sentence(
            N_("The resource group {group} is never deleted."),
            {"group": plan.group},
            {"isSubtle": True},
        ),
        text(
            _(
                "I also delete my own copies for this resource (stored datasets, chat sessions); "
                "the audit trail is kept."
            ),
            isSubtle=True,
        ),
    ]
    if account:
        notes.append(
            text(
                _(
                    "Azure keeps a deleted account for 48 hours (soft delete); purging it ends "
                    "that."
                ),
                isSubtle=True,
            )
        )
    return card(
        [
            titled(
                N_("Delete everything I created on {account}?"),
                {"account": plan.account},
                "attention",
            ),
            text(_("Read the list: this cannot be undone."), weight="Bolder"),
            *lines,
            *notes,
            _expiry(plan.expires_hours),
        ],
        [
            submit(
                _("Delete all of it"),
                verbs.TEARDOWN_CONFIRM,
                {"request": plan.token},
                "destructive",
            ),
            submit(_("Keep everything"), verbs.TEARDOWN_KEEP, {"request": plan.token}),
        ],
    )


def teardown_kept_card(account: str) -> Card:
    """The teardown question after "Keep everything"."""
    return card([titled(N_("Nothing on {account} was deleted"), {"account": account})])


def teardown_progress_card(view: TeardownProgress) -> Card:
    """The card that follows a teardown; once done, what is left to do: try again what failed,
    or purge the soft-deleted account (the button says it is for good, and asks first)."""
    failed = [i for i in view.items if i.state == "failed"]
    words = {"account": view.account}
    if not view.finished:
        title = titled(N_("Tearing down {account}"), words)
    elif failed:
        said = n_(  # the count said, the account left for titled() to show as a TextRun
            "Teardown of {account}: {count} item not deleted",
            "Teardown of {account}: {count} items not deleted",
            len(failed),
            account="{account}",
        )
        title = titled(said, words, "warning")
    else:
        title = titled(N_("Teardown of {account} is done"), words, "good")
    body = [title, *[_item_line(item) for item in view.items]]
    actions = []
    if view.finished and failed:
        body.append(
            text(
                _(
                    "I kept what was not deleted in mind: once its reason above is fixed, Try "
                    "again asks to delete it."
                )
            )
        )
        actions.append(submit(_("Try again"), verbs.TEARDOWN, style="destructive"))
    if view.local_done:
        body.append(
            text(
                _(
                    "My own copies for this resource (stored datasets, chat sessions) are "
                    "deleted; the audit trail is kept."
                ),
                isSubtle=True,
            )
        )
    account = next((i for i in view.items if i.kind == "account" and i.state == "done"), None)
    if account is not None:
        body.append(
            sentence(
                N_(
                    "Azure keeps {account} soft-deleted for 48 hours. Purging it deletes it for "
                    "good, with the files and models it kept, and frees its name; it cannot be "
                    "undone (I ask first)."
                ),
                {"account": account.id},
                {"isSubtle": True},
            )
        )
        purge = submit(_("Purge for good"), verbs.PURGE, {"account": account.id}, "destructive")
        actions.append(purge)
    return card(body, actions)


def purge_confirm_card(plan: PurgePlan) -> Card:
    """Ask before purging a soft-deleted account."""
    what = _(
        "The deleted account and everything it kept (files, models) are removed permanently; "
        "it can no longer be restored."
    )
    body: list[Element] = [
        titled(N_("Purge {account} for good?"), {"account": plan.account}, "attention"),
        text(what),
    ]
    moment = _moment(plan.purge_date) if plan.purge_date else None
    if moment is not None:
        body.append(
            text(_("Azure would purge it by itself on {date}.", date=when(moment)), isSubtle=True)
        )
    body += [
        facts(
            [
                (_("Resource group"), quoted(plan.group)),
                (_("Region"), quoted(plan.location)),
            ]
        ),
        _expiry(plan.expires_hours),
    ]
    return card(
        body,
        [
            submit(_("Purge"), verbs.PURGE_CONFIRM, {"request": plan.token}, "destructive"),
            submit(_("Keep it"), verbs.PURGE_KEEP, {"request": plan.token}),
        ],
    )


def purged_card(account: str, done: bool) -> Card:
    """After the purge question."""
    if done:
        return card(
            [
                titled(N_("{account} is purged"), {"account": account}, "good"),
                text(_("It is gone for good; its name and subdomain are free again.")),
            ]
        )
    return card([titled(N_("{account} was not purged"), {"account": account})])


def _entry(entry: AuditEntry) -> Element:
    """One audited action, compact: what, on what, how it ended; when (each reader's local
    time), by whom (their name), on which resource; the detail in the reader's language."""
    action = _(ACTIONS[entry.action]) if entry.action in ACTIONS else entry.action
    outcome = _(OUTCOMES[entry.outcome]) if entry.outcome in OUTCOMES else entry.outcome
    headline = {
        "type": "RichTextBlock",
        "inlines": [
            {"type": "TextRun", "text": action, "weight": "Bolder"},
            {"type": "TextRun", "text": " "},
            *their_words(entry.target),
            {"type": "TextRun", "text": " · " + outcome},
        ],
    }
    moment = dt.datetime.fromtimestamp(entry.at, dt.UTC)
    subtle = {"isSubtle": True}
    who = entry.user_name or entry.user
    if entry.resource:
        said = sentence(
            N_("{when} · {user} · {resource}"),
            {"user": who, "resource": entry.resource},
            subtle,
            when=when(moment),
        )
    else:
        said = sentence(N_("{when} · {user}"), {"user": who}, subtle, when=when(moment))
    items = [headline, {**said, "spacing": "None"}]
    if isinstance(entry.detail, Said):
        items.append({**spoken(entry.detail.text(), isSubtle=True), "spacing": "None"})
    elif entry.detail:  # written before details were kept as message ids: shown as it was
        items.append(quoted(entry.detail, isSubtle=True, spacing="None"))
    return {"type": "Container", "separator": True, "spacing": "Small", "items": items}


def audit_card(view: AuditView) -> Card:
    """`audit`: the latest costly or destructive actions, newest first."""
    body: list[Element] = [heading(_("Audit trail"))]
    if not view.entries:
        body.append(text(_("Nothing costly or destructive has been done yet.")))
    body += [_entry(entry) for entry in view.entries]
    return card(body)
