"""Cards of provisioning, access, keys, teardown and the audit trail."""

from __future__ import annotations

import time

from adaptive_cards import verbs
from adaptive_cards.common import Card, Element, card, facts, heading, submit, text
from infra.i18n import duration
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

ROLE_DELAY = (
    "Role assignments take a few minutes to take effect on Azure; the bot waits until its own "
    "works."
)
ENTRA_ADVICE = (
    "Prefer Entra ID to copying keys: give people the roles they need with `roles me` or "
    "`roles @someone`, as current Azure guidance recommends; a key grants everything to anyone "
    "who holds it."
)


def _title(value: str, color: str) -> Element:
    return text(value, weight="Bolder", size="Medium", color=color)


def _plan_facts(plan: ProvisionPlan) -> Element:
    group = plan.group if plan.group_exists else f"{plan.group} (created, and never deleted later)"
    return facts(
        [
            ("Account", plan.account),
            ("Kind, SKU", "OpenAI, Standard S0"),
            ("Region", f"{plan.region} ({plan.location})"),
            ("Custom subdomain", plan.account.lower()),
            ("Resource group", group),
            ("Subscription", plan.subscription),
        ]
    )


def provision_confirm_card(plan: ProvisionPlan) -> Card:
    """What `provision` will create, and the question."""
    if plan.exists:
        title = f"Use the existing account {plan.account}?"
        intro = "An account of that name is in that group already: I will adopt it, not create it."
        button = "Use it"
    else:
        title = f"Create {plan.account}?"
        intro = (
            "I will create this Azure OpenAI resource (a long-running operation: a few minutes "
            "on Azure), give my own identity Cognitive Services OpenAI Contributor on it, and "
            "then work on it in this team or conversation."
        )
        button = "Create"
    return card(
        [
            heading(title),
            text(intro),
            _plan_facts(plan),
            text(
                "An S0 resource costs nothing by itself; training, hosting and tokens are billed "
                "as you use them.",
                isSubtle=True,
            ),
            text(f"This question can be answered for {plan.expires_hours} hours.", isSubtle=True),
        ],
        [
            submit(button, verbs.PROVISION_CONFIRM, {"request": plan.token}),
            submit("Cancel", verbs.PROVISION_CANCEL, {"request": plan.token}),
        ],
    )


def provision_cancelled_card(plan: ProvisionPlan) -> Card:
    """The question after "Cancel"."""
    return card([heading(f"Nothing created: {plan.account} cancelled"), _plan_facts(plan)])


def provision_progress_card(view: ProvisionProgress) -> Card:
    """The card that follows a provisioning."""
    plan = view.plan
    return card(
        [
            heading(f"Provisioning {plan.account}"),
            _plan_facts(plan),
            facts(
                [
                    ("Step", view.step or "Starting"),
                    ("State", view.state or "-"),
                    ("Elapsed", duration(view.elapsed)),
                ]
            ),
            text(
                "Azure takes a few minutes to create an account. " + ROLE_DELAY + " This card "
                "updates itself.",
                isSubtle=True,
            ),
        ]
    )


def provision_succeeded_card(view: ProvisionSucceeded) -> Card:
    """The account is ready, with its endpoint."""
    plan = view.plan
    what = "adopted" if view.adopted else "ready"
    body = [
        _title(f"{plan.account} is {what}", "Good"),
        _plan_facts(plan),
        facts(
            [("State", "Succeeded"), ("Endpoint", view.endpoint), ("Took", duration(view.elapsed))]
        ),
        text(
            "I now work on this resource in this team or conversation; `resource` shows it. "
            "Next, as in the lab: `roles me` gives you the four roles.",
            isSubtle=True,
        ),
    ]
    if view.note:
        body.append(text(view.note, isSubtle=True))
    return card(body, [submit("Show the resource", verbs.RESOURCE)])


def provision_failed_card(view: ProvisionFailed) -> Card:
    """Provisioning stopped, and why."""
    return card(
        [
            _title(f"Provisioning {view.plan.account} failed", "Attention"),
            _plan_facts(view.plan),
            text(view.reason),
        ]
    )


def resource_card(view: ResourceView) -> Card:
    """`resource`: the current resource."""
    pairs = [
        ("Subscription", view.subscription),
        ("Resource group", view.group),
        ("Account", view.account),
        ("Region", view.location),
        ("SKU", view.sku),
        ("Endpoint", view.endpoint),
        ("The bot authenticates with", view.auth),
        ("Origin", view.origin),
    ]
    if view.state:
        pairs.insert(3, ("State", view.state))
    return card([heading(f"Current resource: {view.account}"), facts(pairs)])


def roles_card(view: RolesView) -> Card:
    """The lab's four roles: what each allows and who holds it (or what changed)."""
    if view.action == "list":
        title = f"Roles on {view.account}"
    else:
        title = f"Roles {view.action} for {view.principal} on {view.account}"
    body: list[Element] = [heading(title)]
    for line in view.lines:
        if view.action == "list":
            status = ", ".join(line.holders) if line.holders else "nobody the bot knows of"
            state = f"Held by: {status}"
        else:
            held = "held now" if line.held else "not held"
            state = f"{held} ({line.note})"
        body.append(text(f"**{line.name}** (at the {line.scope})", spacing="Medium"))
        body.append(text(line.allows, isSubtle=True))
        body.append(text(state))
    body.append(
        text(
            "These four are the only roles I assign or remove. " + ROLE_DELAY.split(";")[0] + ".",
            isSubtle=True,
        )
    )
    return card(body)


def keys_card(view: KeysView) -> Card:
    """`keys`: masked keys, which the bot uses, rotations, and the advice."""
    pairs = [
        ("Endpoint", view.endpoint),
        ("KEY1", view.masked.get("key1", "")),
        ("KEY2", view.masked.get("key2", "")),
        ("The bot uses", view.auth),
        ("KEY1 last rotated", view.rotated.get("key1", "")),
        ("KEY2 last rotated", view.rotated.get("key2", "")),
    ]
    return card(
        [
            heading(f"Keys of {view.account}"),
            facts(pairs),
            text(
                "Keys are shown by their last 4 characters only. Azure does not report when a "
                "key was regenerated: the dates above are the bot's own rotations.",
                isSubtle=True,
            ),
            text(ENTRA_ADVICE, isSubtle=True),
        ]
    )


def rotate_confirm_card(plan: RotatePlan) -> Card:
    """Ask before regenerating a key."""
    other = "KEY2" if plan.key_name == "key1" else "KEY1"
    name = plan.key_name.upper()
    if plan.in_use == plan.key_name:
        how = (
            f"I use {name} myself: I will switch to {other}, check that a call works with it, "
            f"and only then regenerate {name}, so nothing stops."
        )
    else:
        how = f"I do not use {name}, so nothing of mine stops."
    return card(
        [
            heading(f"Regenerate {name} of {plan.account}?"),
            text(f"Anything still using the old {name} stops working at once. {how}"),
            text(f"This question can be answered for {plan.expires_hours} hours.", isSubtle=True),
        ],
        [
            {
                **submit(f"Regenerate {name}", verbs.KEYS_ROTATE_CONFIRM, {"request": plan.token}),
                "style": "destructive",
            },
            submit("Keep it", verbs.KEYS_KEEP, {"request": plan.token}),
        ],
    )


def rotated_card(view: KeyRotated) -> Card:
    """A key was regenerated: which one is valid now."""
    name, valid = view.key_name.upper(), view.valid.upper()
    switched = f" I switched to {valid} before regenerating." if view.switched else ""
    return card(
        [
            _title(f"{name} of {view.account} was regenerated", "Good"),
            text(
                f"{valid} is the key that still works: whoever copied the old {name} must use "
                f"{valid} (or the new {name} from the portal).{switched}"
            ),
            facts([("KEY1", view.masked.get("key1", "")), ("KEY2", view.masked.get("key2", ""))]),
            text(ENTRA_ADVICE, isSubtle=True),
        ]
    )


def kept_key_card(account: str) -> Card:
    """The rotation question after "Keep it"."""
    return card([heading(f"No key of {account} was regenerated")])


def _item_line(kind: str, label: str, state: str, reason: str) -> Element:
    marks = {"pending": "waiting", "deleting": "deleting...", "done": "deleted", "failed": "FAILED"}
    line = f"{kind}: {label}: **{marks.get(state, state)}**"
    if reason:
        line += f" ({reason})"
    return text(line, color="Attention" if state == "failed" else "Default")


def teardown_confirm_card(plan: TeardownPlan) -> Card:
    """Everything teardown deletes, and the destructive button."""
    lines = [text(f"{i.kind}: {i.label}") for i in plan.items]
    account = any(i.kind == "account" for i in plan.items)
    notes = [
        "Order: deployments, then fine-tuning jobs (with their models) and files"
        + (", then the account." if account else "."),
        f"The resource group {plan.group} is never deleted.",
        "I also delete my own copies for this resource (stored datasets, chat sessions); the "
        "audit trail is kept.",
    ]
    if account:
        notes.append("Azure keeps a deleted account for 48 hours (soft delete); `purge` ends it.")
    return card(
        [
            _title(f"Delete everything I created on {plan.account}?", "Attention"),
            text("Read the list: this cannot be undone.", weight="Bolder"),
            *lines,
            *[text(n, isSubtle=True) for n in notes],
            text(f"This question can be answered for {plan.expires_hours} hours.", isSubtle=True),
        ],
        [
            {
                **submit("Delete all of it", verbs.TEARDOWN_CONFIRM, {"request": plan.token}),
                "style": "destructive",
            },
            submit("Keep everything", verbs.TEARDOWN_KEEP, {"request": plan.token}),
        ],
    )


def teardown_kept_card(account: str) -> Card:
    """The teardown question after "Keep everything"."""
    return card([heading(f"Nothing on {account} was deleted")])


def teardown_progress_card(view: TeardownProgress) -> Card:
    """The card that follows a teardown."""
    failed = [i for i in view.items if i.state == "failed"]
    if not view.finished:
        title, color = f"Tearing down {view.account}", "Default"
    elif failed:
        title, color = f"Teardown of {view.account}: {len(failed)} item(s) not deleted", "Warning"
    else:
        title, color = f"Teardown of {view.account} is done", "Good"
    body = [_title(title, color)]
    body += [_item_line(i.kind, i.label, i.state, i.reason) for i in view.items]
    if view.local_done:
        body.append(
            text(
                "My own copies for this resource (stored datasets, chat sessions) are deleted; "
                "the audit trail is kept.",
                isSubtle=True,
            )
        )
    actions = []
    account = next((i for i in view.items if i.kind == "account" and i.state == "done"), None)
    if account is not None:
        body.append(
            text(
                f"Azure keeps {account.id} soft-deleted for 48 hours; `purge {account.id}` "
                "removes it for good (and frees its name).",
                isSubtle=True,
            )
        )
        actions.append(submit(f"Purge {account.id}", verbs.PURGE, {"account": account.id}))
    return card(body, actions)


def purge_confirm_card(plan: PurgePlan) -> Card:
    """Ask before purging a soft-deleted account."""
    when = f" Azure would purge it by itself on {plan.purge_date}." if plan.purge_date else ""
    return card(
        [
            _title(f"Purge {plan.account} for good?", "Attention"),
            text(
                "The deleted account and everything it kept (files, models) are removed "
                f"permanently; it can no longer be restored.{when}"
            ),
            facts([("Resource group", plan.group), ("Region", plan.location)]),
            text(f"This question can be answered for {plan.expires_hours} hours.", isSubtle=True),
        ],
        [
            {
                **submit("Purge", verbs.PURGE_CONFIRM, {"request": plan.token}),
                "style": "destructive",
            },
            submit("Keep it", verbs.PURGE_KEEP, {"request": plan.token}),
        ],
    )


def purged_card(account: str, done: bool) -> Card:
    """After the purge question."""
    if done:
        return card(
            [
                _title(f"{account} is purged", "Good"),
                text("It is gone for good; its name and subdomain are free again."),
            ]
        )
    return card([heading(f"{account} was not purged")])


def audit_card(view: AuditView) -> Card:
    """`audit`: the latest costly or destructive actions."""
    body: list[Element] = [heading("Audit trail")]
    if not view.entries:
        body.append(text("Nothing costly or destructive has been done yet."))
    for entry in view.entries:
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(entry.at))
        body.append(text(f"**{entry.action}** {entry.target} — {entry.outcome}", spacing="Medium"))
        where = f" on {entry.resource}" if entry.resource else ""
        body.append(text(f"{when}, by {entry.user_name} ({entry.user}){where}", isSubtle=True))
        if entry.detail:
            body.append(text(entry.detail, isSubtle=True))
    return card(body)
