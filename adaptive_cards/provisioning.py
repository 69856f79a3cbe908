"""Cards of provisioning, access, keys, teardown and the audit trail.

The texts a view carries from the workflow (a step, a state, a reason, a note, what a role
allows) are said there, in the language of the person who started it. Names and ids (accounts,
groups, keys, people) are not words of any language: in English they read as they always did,
in another language they are code (the translations put a sentence's names in backticks, and
`_name` does it for a fact's value).
"""

from __future__ import annotations

from adaptive_cards import verbs
from adaptive_cards.common import (
    Card,
    Element,
    card,
    facts,
    heading,
    name_value,
    quoted,
    sentence,
    submit,
    text,
)
from infra import i18n
from infra.i18n import N_, Said, _, duration, moment, n_
from skills.audit import AuditEntry
from skills.provisioning.records import TeardownItem
from skills.provisioning.views import (
    AuditView,
    KeyRotated,
    KeysView,
    ProvisionFailed,
    ProvisionPlan,
    ProvisionProgress,
    ProvisionSucceeded,
    PurgePlan,
    ResourceView,
    RolesView,
    RotatePlan,
    TeardownPlan,
    TeardownProgress,
)

ROLE_DELAY = N_(
    "Role assignments take a few minutes to take effect on Azure; the bot waits until its own "
    "works."
)
ENTRA_ADVICE = N_(
    "Prefer Entra ID to copying keys: give people the roles they need with `roles me` or "
    "`roles @someone`, as current Azure guidance recommends; a key grants everything to anyone "
    "who holds it."
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


def _title(value: str, color: str) -> Element:
    return text(value, weight="Bolder", size="Medium", color=color)


def _plan_facts(plan: ProvisionPlan) -> Element:
    if plan.group_exists:
        group = name_value(plan.group)
    else:
        group = sentence(N_("{group} (created, and never deleted later)"), {"group": plan.group})
    return facts(
        [
            (_("Account"), name_value(plan.account)),
            (_("Kind, SKU"), "OpenAI, Standard S0"),
            (
                _("Region"),
                sentence(
                    N_("{region} ({location})"), {"location": plan.location}, region=plan.region
                ),
            ),
            (_("Custom subdomain"), name_value(plan.account.lower())),
            (_("Resource group"), group),
            (_("Subscription"), name_value(plan.subscription)),
        ]
    )


def provision_confirm_card(plan: ProvisionPlan) -> Card:
    """What `provision` will create, and the question."""
    account = plan.account
    if plan.exists:
        title = _("Use the existing account {account}?", account=account)
        intro = _(
            "An account of that name is in that group already: I will adopt it, not create it."
        )
        button = _("Use it")
    else:
        title = _("Create {account}?", account=account)
        intro = _(
            "I will create this Azure OpenAI resource (a long-running operation: a few minutes "
            "on Azure), give my own identity Cognitive Services OpenAI Contributor on it, and "
            "then work on it in this team or conversation."
        )
        button = _("Create")
    return card(
        [
            heading(title),
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
            submit(button, verbs.PROVISION_CONFIRM, {"request": plan.token}),
            submit(_("Cancel"), verbs.PROVISION_CANCEL, {"request": plan.token}),
        ],
    )


def provision_cancelled_card(plan: ProvisionPlan) -> Card:
    """The question after "Cancel"."""
    title = _("Nothing created: {account} cancelled", account=plan.account)
    return card([heading(title), _plan_facts(plan)])


def provision_progress_card(view: ProvisionProgress) -> Card:
    """The card that follows a provisioning."""
    plan = view.plan
    return card(
        [
            heading(_("Provisioning {account}", account=plan.account)),
            _plan_facts(plan),
            facts(
                [
                    (_("Step"), view.step or _("Starting")),
                    (_("State"), view.state or "-"),
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


def provision_succeeded_card(view: ProvisionSucceeded) -> Card:
    """The account is ready, with its endpoint."""
    plan = view.plan
    account = plan.account
    if view.adopted:
        title = _("{account} is adopted", account=account)
    else:
        title = _("{account} is ready", account=account)
    body = [
        _title(title, "Good"),
        _plan_facts(plan),
        facts(
            [
                (_("State"), _("Succeeded")),
                (_("Endpoint"), view.endpoint),
                (_("Took"), duration(view.elapsed)),
            ]
        ),
        text(
            _(
                "I now work on this resource in this team or conversation; `resource` shows it. "
                "Next, as in the lab: `roles me` gives you the four roles."
            ),
            isSubtle=True,
        ),
    ]
    if view.note:
        body.append(text(view.note, isSubtle=True))
    return card(body, [submit(_("Show the resource"), verbs.RESOURCE)])


def provision_failed_card(view: ProvisionFailed) -> Card:
    """Provisioning stopped, and why."""
    return card(
        [
            _title(_("Provisioning {account} failed", account=view.plan.account), "Attention"),
            _plan_facts(view.plan),
            text(view.reason),
        ]
    )


def resource_card(view: ResourceView) -> Card:
    """`resource`: the current resource."""
    pairs: list[tuple[str, str | Element]] = [
        (_("Subscription"), name_value(view.subscription)),
        (_("Resource group"), name_value(view.group)),
        (_("Account"), name_value(view.account)),
        (_("Region"), name_value(view.location)),
        (_("SKU"), name_value(view.sku)),
        (_("Endpoint"), name_value(view.endpoint)),
        (_("The bot authenticates with"), view.auth),
        (_("Origin"), view.origin),
    ]
    if view.state:
        pairs.insert(3, (_("State"), view.state))
    title = _("Current resource: {account}", account=view.account)
    return card([heading(title), facts(pairs)])


def roles_card(view: RolesView) -> Card:
    """The lab's four roles: what each allows and who holds it (or what changed)."""
    account = view.account
    big = {"weight": "Bolder", "size": "Medium"}
    if view.action == "list":
        title = heading(_("Roles on {account}", account=account))
    elif view.action == "removed":
        who = {"principal": view.principal}  # a name from Teams: their words
        title = sentence(
            N_("Roles removed for {principal} on {account}"), who, big, account=account
        )
    else:
        who = {"principal": view.principal}
        title = sentence(
            N_("Roles assigned for {principal} on {account}"), who, big, account=account
        )
    body: list[Element] = [title]
    for line in view.lines:
        state: Element
        if view.action == "list":
            if line.holders:
                state = sentence(N_("Held by: {names}"), {"names": line.holders})
            else:
                state = text(_("Held by: nobody the bot knows of"))
        else:
            if line.held:
                state = text(_("held now ({note})", note=line.note))
            else:
                state = text(_("not held ({note})", note=line.note))
        role = _("**{role}** (at the {scope})", role=line.name, scope=line.scope)
        body.append(text(role, spacing="Medium"))
        body.append(text(line.allows, isSubtle=True))
        body.append(state)
    body.append(
        text(
            _("These four are the only roles I assign or remove.")
            + " "
            + _("Role assignments take a few minutes to take effect on Azure."),
            isSubtle=True,
        )
    )
    return card(body)


def _masked(view: KeysView | KeyRotated, name: str) -> Element:
    """A masked key (••••abcd), as it is."""
    return name_value(view.masked.get(name, ""))


def keys_card(view: KeysView) -> Card:
    """`keys`: masked keys, which the bot uses, rotations, and the advice."""
    pairs: list[tuple[str, str | Element]] = [
        (_("Endpoint"), name_value(view.endpoint)),
        ("KEY1", _masked(view, "key1")),
        ("KEY2", _masked(view, "key2")),
        (_("The bot uses"), view.auth),
        (_("KEY1 last rotated"), view.rotated.get("key1", "")),
        (_("KEY2 last rotated"), view.rotated.get("key2", "")),
    ]
    return card(
        [
            heading(_("Keys of {account}", account=view.account)),
            facts(pairs),
            text(
                _(
                    "Keys are shown by their last 4 characters only. Azure does not report when "
                    "a key was regenerated: the dates above are the bot's own rotations."
                ),
                isSubtle=True,
            ),
            text(_(ENTRA_ADVICE), isSubtle=True),
        ]
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
            heading(_("Regenerate {key} of {account}?", key=name, account=plan.account)),
            text(warning),
            _expiry(plan.expires_hours),
        ],
        [
            {
                **submit(
                    _("Regenerate {key}", key=name),
                    verbs.KEYS_ROTATE_CONFIRM,
                    {"request": plan.token},
                ),
                "style": "destructive",
            },
            submit(_("Keep it"), verbs.KEYS_KEEP, {"request": plan.token}),
        ],
    )


def rotated_card(view: KeyRotated) -> Card:
    """A key was regenerated: which one is valid now."""
    name, valid = view.key_name.upper(), view.valid.upper()
    if view.also:
        which = _(
            "{valid} was regenerated too since you asked ({when}): neither old key works any "
            "more, so whoever copied one must take the new keys from the portal.",
            valid=valid,
            when=view.also,
        )
        if view.switched:
            which += " " + _(
                "I switched to the new {valid} before regenerating {key}.", valid=valid, key=name
            )
    elif view.switched:
        which = _(
            "{valid} is the key that still works: whoever copied the old {key} must use {valid} "
            "(or the new {key} from the portal). I switched to {valid} before regenerating.",
            valid=valid,
            key=name,
        )
    else:
        which = _(
            "{valid} is the key that still works: whoever copied the old {key} must use {valid} "
            "(or the new {key} from the portal).",
            valid=valid,
            key=name,
        )
    return card(
        [
            _title(
                _("{key} of {account} was regenerated", key=name, account=view.account),
                "Good",
            ),
            text(which),
            facts([("KEY1", _masked(view, "key1")), ("KEY2", _masked(view, "key2"))]),
            text(_(ENTRA_ADVICE), isSubtle=True),
        ]
    )


def kept_key_card(account: str) -> Card:
    """The rotation question after "Keep it"."""
    return card([heading(_("No key of {account} was regenerated", account=account))])


def _kind(item: TeardownItem) -> str:
    return _(KINDS[item.kind]) if item.kind in KINDS else item.kind


def _item_line(item: TeardownItem) -> Element:
    mark = _(MARKS[item.state]) if item.state in MARKS else item.state
    if item.reason:
        line = _(
            "{kind}: {label}: **{state}** ({reason})",
            kind=_kind(item),
            label=item.label,
            state=mark,
            reason=item.reason,
        )
    else:
        line = _("{kind}: {label}: **{state}**", kind=_kind(item), label=item.label, state=mark)
    return text(line, color="Attention" if item.state == "failed" else "Default")


def teardown_confirm_card(plan: TeardownPlan) -> Card:
    """Everything teardown deletes, and the destructive button."""
    lines = [text(_("{kind}: {label}", kind=_kind(item), label=item.label)) for item in plan.items]
    account = any(i.kind == "account" for i in plan.items)
    if account:
        order = _(
            "Order: deployments, then fine-tuning jobs (with their models) and files, then the "
            "account."
        )
    else:
        order = _("Order: deployments, then fine-tuning jobs (with their models) and files.")
    notes = [
        order,
        _("The resource group {group} is never deleted.", group=plan.group),
        _(
            "I also delete my own copies for this resource (stored datasets, chat sessions); the "
            "audit trail is kept."
        ),
    ]
    if account:
        notes.append(
            _("Azure keeps a deleted account for 48 hours (soft delete); `purge` ends it.")
        )
    return card(
        [
            _title(
                _("Delete everything I created on {account}?", account=plan.account),
                "Attention",
            ),
            text(_("Read the list: this cannot be undone."), weight="Bolder"),
            *lines,
            *[text(n, isSubtle=True) for n in notes],
            _expiry(plan.expires_hours),
        ],
        [
            {
                **submit(_("Delete all of it"), verbs.TEARDOWN_CONFIRM, {"request": plan.token}),
                "style": "destructive",
            },
            submit(_("Keep everything"), verbs.TEARDOWN_KEEP, {"request": plan.token}),
        ],
    )


def teardown_kept_card(account: str) -> Card:
    """The teardown question after "Keep everything"."""
    return card([heading(_("Nothing on {account} was deleted", account=account))])


def teardown_progress_card(view: TeardownProgress) -> Card:
    """The card that follows a teardown."""
    failed = [i for i in view.items if i.state == "failed"]
    name = view.account
    if not view.finished:
        title, color = _("Tearing down {account}", account=name), "Default"
    elif failed:
        title = n_(
            "Teardown of {account}: {count} item not deleted",
            "Teardown of {account}: {count} items not deleted",
            len(failed),
            account=name,
        )
        color = "Warning"
    else:
        title, color = _("Teardown of {account} is done", account=name), "Good"
    body = [_title(title, color)]
    body += [_item_line(item) for item in view.items]
    if view.finished and failed:
        body.append(
            text(
                _(
                    "I kept what was not deleted in mind: say `teardown` again to retry it, once "
                    "its reason above is fixed."
                )
            )
        )
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
    actions = []
    account = next((i for i in view.items if i.kind == "account" and i.state == "done"), None)
    if account is not None:
        body.append(
            text(
                _(
                    "Azure keeps {account} soft-deleted for 48 hours; `purge {account}` removes "
                    "it for good (and frees its name).",
                    account=account.id,
                ),
                isSubtle=True,
            )
        )
        actions.append(submit(_purge_title(account.id), verbs.PURGE, {"account": account.id}))
    return card(body, actions)


def _purge_title(account: str) -> str:
    """The purge button: it names the account in English; a button cannot show a name as code,
    so in another language it is "Purge" (the sentence above it names the account)."""
    if i18n.current() == i18n.SOURCE:
        return _("Purge {account}", account=account)
    return _("Purge")


def purge_confirm_card(plan: PurgePlan) -> Card:
    """Ask before purging a soft-deleted account."""
    if plan.purge_date:
        what = _(
            "The deleted account and everything it kept (files, models) are removed "
            "permanently; it can no longer be restored. Azure would purge it by itself on "
            "{date}.",
            date=moment(plan.purge_date),
        )
    else:
        what = _(
            "The deleted account and everything it kept (files, models) are removed "
            "permanently; it can no longer be restored."
        )
    return card(
        [
            _title(_("Purge {account} for good?", account=plan.account), "Attention"),
            text(what),
            facts(
                [
                    (_("Resource group"), name_value(plan.group)),
                    (_("Region"), name_value(plan.location)),
                ]
            ),
            _expiry(plan.expires_hours),
        ],
        [
            {
                **submit(_("Purge"), verbs.PURGE_CONFIRM, {"request": plan.token}),
                "style": "destructive",
            },
            submit(_("Keep it"), verbs.PURGE_KEEP, {"request": plan.token}),
        ],
    )


def purged_card(account: str, done: bool) -> Card:
    """After the purge question."""
    name = account
    if done:
        return card(
            [
                _title(_("{account} is purged", account=name), "Good"),
                text(_("It is gone for good; its name and subdomain are free again.")),
            ]
        )
    return card([heading(_("{account} was not purged", account=name))])


def _entry_lines(entry: AuditEntry) -> list[Element]:
    action = _(ACTIONS[entry.action]) if entry.action in ACTIONS else f"`{entry.action}`"
    outcome = _(OUTCOMES[entry.outcome]) if entry.outcome in OUTCOMES else entry.outcome
    headline = _(
        "**{action}** {target} — {outcome}",
        action=action,
        target=entry.target,
        outcome=outcome,
    )
    who = {"user": f"{entry.user_name} ({entry.user})"}  # a name from Teams: their words
    subtle = {"isSubtle": True}
    if entry.resource:
        when = sentence(
            N_("{when}, by {user} on {resource}"),
            who,
            subtle,
            when=moment(entry.at),
            resource=entry.resource,
        )
    else:
        when = sentence(N_("{when}, by {user}"), who, subtle, when=moment(entry.at))
    lines = [text(headline, spacing="Medium"), when]
    if isinstance(entry.detail, Said):
        lines.append(text(entry.detail.text(), isSubtle=True))
    elif entry.detail:  # written before details were kept as message ids: shown as it was
        lines.append(quoted(entry.detail, isSubtle=True))
    return lines


def audit_card(view: AuditView) -> Card:
    """`audit`: the latest costly or destructive actions."""
    body: list[Element] = [heading(_("Audit trail"))]
    if not view.entries:
        body.append(text(_("Nothing costly or destructive has been done yet.")))
    for entry in view.entries:
        body += _entry_lines(entry)
    return card(body)
