"""Every kind of record the bot keeps in its state store, each with its key: the one place where
storage keys are spelled.

Records of work on Azure carry the `Resource` they live on, so a watcher follows each on its own
resource. Pending questions (`Confirmation`) carry when they expire. Work that speaks later is
`Spoken`: it carries the language of the person who started it. Once-only steps are `Claim`s
(see skills/claims.py for their rule); their keys are built here too.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, Field

from infra import i18n
from infra.azure import Resource
from infra.records import Key, Record
from skills.models import base_of
from skills.training.jobs import Series
from skills.training.plan import Plan

_KEY_SAFE = re.compile(r"[^A-Za-z0-9_.:;@=-]")
_LOWER_SAFE = re.compile(r"[^a-z0-9_.-]")


def _part(value: str) -> str:
    """A key segment: no slashes or other characters that would make keys ambiguous."""
    return _KEY_SAFE.sub("_", value)


def _lower(value: str) -> str:
    """A case-insensitive key segment (Azure names that ignore case)."""
    return _LOWER_SAFE.sub("_", value.lower())


def _resource(resource: Resource) -> str:
    return "/".join(
        _lower(v) for v in (resource.subscription_id, resource.resource_group, resource.account)
    )


class Spoken(BaseModel):
    """Work that speaks later (a notice, a card updated when someone presses its button): it
    speaks the language of the person who started it, taken when the record is made."""

    language: str = Field(default_factory=i18n.current)


# -- conversations (bot/) ----------------------------------------------------------------------


class ConversationRef(Record):
    """How to reach a conversation proactively: its Bot Framework conversation reference."""

    conversation: str
    reference: dict[str, Any]

    @classmethod
    def at(cls, conversation: str) -> Key[ConversationRef]:
        """The key of a conversation's reference."""
        return Key(cls, f"ref/{conversation}")

    def key(self) -> Key[ConversationRef]:
        """Where this record is stored."""
        return self.at(self.conversation)


class LanguageChoice(Record):
    """A user's chosen language (`language ko|en`); without one, the Teams locale decides."""

    user: str
    language: str

    @classmethod
    def of(cls, user: str) -> Key[LanguageChoice]:
        """The key of a user's choice."""
        return Key(cls, f"language/{_part(user)}")

    def key(self) -> Key[LanguageChoice]:
        """Where this record is stored."""
        return self.of(self.user)


# -- claims (skills/claims.py) -------------------------------------------------------------------


class Claim(Record):
    """A once-only step: who took it, when, and whether it is done."""

    path: str
    state: Literal["sending", "done"] = "sending"
    owner: str = ""
    at: float = 0.0
    result: str = ""

    @classmethod
    def at_path(cls, path: str) -> Key[Claim]:
        """The key of a claim."""
        return Key(cls, path)

    def key(self) -> Key[Claim]:
        """Where this record is stored."""
        return self.at_path(self.path)


def delivery_claim(conversation: str, activity: str) -> str:
    """An incoming activity, handled once however often the channel delivers it."""
    return f"seen/{conversation}/{activity}"


DELIVERY_CLAIMS = "seen/"


def greeting_claim(conversation: str) -> str:
    """The greeting of a conversation, sent once."""
    return f"greeted/{conversation}"


def notice_claim(job: str) -> str:
    """The final notice of a job (at least once)."""
    return f"training/notice/{job}"


def idle_warning_claim(resource: Resource, deployment: str, idle_since: float) -> str:
    """The inactivity warning of one idle period of a deployment (at most once)."""
    return f"idle-warning/{_resource(resource)}/{_lower(deployment)}/{int(idle_since)}"


# -- confirmations (skills/confirmations.py) ---------------------------------------------------


class Confirmation(Record, Spoken):
    """A question on a card (train? deploy? delete?), answered once, before it expires."""

    token: str
    conversation: str
    user: str
    created_at: float
    expires_at: float
    state: Literal["pending", "confirmed", "cancelled"] = "pending"
    card: str = ""


class TrainingRequest(Confirmation):
    """A training plan waiting for "Confirm training"."""

    plan: Plan
    resource: Resource

    @classmethod
    def at(cls, token: str) -> Key[TrainingRequest]:
        """The key of a pending training plan."""
        return Key(cls, f"training/pending/{token}")

    def key(self) -> Key[TrainingRequest]:
        """Where this record is stored."""
        return self.at(self.token)


class CancelRequest(Confirmation):
    """A running job to cancel, waiting for "Cancel the job"."""

    resource: Resource
    job: str

    @classmethod
    def at(cls, token: str) -> Key[CancelRequest]:
        """The key of a pending cancellation."""
        return Key(cls, f"cancel-request/{token}")

    def key(self) -> Key[CancelRequest]:
        """Where this record is stored."""
        return self.at(self.token)


class ChannelRelay(Confirmation):
    """A channel (or group chat) whose files a user was asked to send in a personal chat: that
    user's next check there is reported in `conversation` too. One per user."""

    name: str = ""
    """What the channel is called, for the personal chat's card."""

    @classmethod
    def at(cls, user: str) -> Key[ChannelRelay]:
        """The key of a user's relay."""
        return Key(cls, f"relay/{user}")

    def key(self) -> Key[ChannelRelay]:
        """Where this record is stored."""
        return self.at(self.user)


class DeployRequest(Confirmation):
    """A deployment waiting for "Deploy"."""

    resource: Resource
    ref: str
    model: str
    version: str
    fine_tuned: bool
    job: str
    name: str
    sku: str
    capacity: int

    @classmethod
    def at(cls, token: str) -> Key[DeployRequest]:
        """The key of a pending deployment."""
        return Key(cls, f"deploy-request/{token}")

    def key(self) -> Key[DeployRequest]:
        """Where this record is stored."""
        return self.at(self.token)


class DeleteRequest(Confirmation):
    """A deletion waiting for "Delete"."""

    resource: Resource
    name: str
    model: str

    @classmethod
    def at(cls, token: str) -> Key[DeleteRequest]:
        """The key of a pending deletion."""
        return Key(cls, f"delete-request/{token}")

    def key(self) -> Key[DeleteRequest]:
        """Where this record is stored."""
        return self.at(self.token)


class SampleOffer(Confirmation):
    """A sample file offered on a Teams file consent card, waiting for Teams' answer."""

    sample: str

    @classmethod
    def at(cls, token: str) -> Key[SampleOffer]:
        """The key of an offered sample file."""
        return Key(cls, f"sample-offer/{token}")

    def key(self) -> Key[SampleOffer]:
        """Where this record is stored."""
        return self.at(self.token)


CONFIRMATION_PREFIXES: dict[type[Confirmation], str] = {
    TrainingRequest: "training/pending/",
    CancelRequest: "cancel-request/",
    ChannelRelay: "relay/",
    DeployRequest: "deploy-request/",
    DeleteRequest: "delete-request/",
    SampleOffer: "sample-offer/",
}


# -- validation and training -----------------------------------------------------------------


class ValidatedSet(Record):
    """The files last validated in a conversation (sha256 ids), for `train`."""

    conversation: str
    training: str
    validation: str | None
    model: str
    ok: bool
    at: float

    @classmethod
    def at_conversation(cls, conversation: str) -> Key[ValidatedSet]:
        """The key of a conversation's validated files."""
        return Key(cls, f"validated/{conversation}")

    def key(self) -> Key[ValidatedSet]:
        """Where this record is stored."""
        return self.at_conversation(self.conversation)


class ValidationResult(Record):
    """The validation report of one kept file for one base model (`train` and "Show all errors"
    read it instead of validating again)."""

    sha256: str
    model: str
    report: dict[str, Any]
    at: float

    @classmethod
    def at_file(cls, sha256: str, model: str) -> Key[ValidationResult]:
        """The key of a file's report for `model`."""
        return Key(cls, f"validation/report/{_part(sha256)}/{_part(model)}")

    def key(self) -> Key[ValidationResult]:
        """Where this record is stored."""
        return self.at_file(self.sha256, self.model)


class CheckedFile(BaseModel):
    """One file of a check: its name, where to fetch it, and once kept its id."""

    name: str
    url: str = ""
    sha256: str = ""
    source: Literal["attachment", "graph"] = "attachment"
    """attachment: a URL the channel gave; graph: a file a channel or group-chat message
    refers to, fetched through Microsoft Graph with the bot's own token in `tenant`."""
    tenant: str = ""


CheckStage = Literal["downloading", "validating", "done", "failed"]


class FileCheck(Record, Spoken):
    """Files being downloaded and validated in the background, reported on one card."""

    token: str
    conversation: str
    user: str
    service_url: str
    """Where the files were sent from (which addresses a download may reach)."""
    files: list[CheckedFile]
    purpose: Literal["validate", "offer"] = "validate"
    """validate: the report card; offer: files attached with no text, offered for validation."""
    model: str = ""
    epochs: int | None = None
    stage: CheckStage = "downloading"
    card: str = ""
    error: str = ""
    at: float = 0.0
    share_to: str = ""
    """A channel or group chat that asked for this check from a personal chat (ChannelRelay):
    the report is posted there too."""

    @classmethod
    def at_token(cls, token: str) -> Key[FileCheck]:
        """The key of a check."""
        return Key(cls, f"checks/{token}")

    def key(self) -> Key[FileCheck]:
        """Where this record is stored."""
        return self.at_token(self.token)

    @property
    def finished(self) -> bool:
        """The card shows the outcome."""
        return self.stage in ("done", "failed")


CHECKS = "checks/"


LaunchStage = Literal["confirmed", "uploaded", "creating", "created", "failed"]


class LaunchRecord(Record, Spoken):
    """A confirmed training on its way to a job: upload -> import -> create, each stage kept."""

    token: str
    conversation: str
    user: str
    plan: Plan
    resource: Resource
    at: float
    stage: LaunchStage = "confirmed"
    card: str = ""
    training_file: str = ""
    validation_file: str = ""
    job: str = ""
    error: str = ""

    @classmethod
    def at_token(cls, token: str) -> Key[LaunchRecord]:
        """The key of a launch."""
        return Key(cls, f"training/launch/{token}")

    def key(self) -> Key[LaunchRecord]:
        """Where this record is stored."""
        return self.at_token(self.token)

    @property
    def finished(self) -> bool:
        """The launch made its job, or gave up."""
        return self.stage in ("created", "failed")


LAUNCHES = "training/launch/"


class JobRecord(Record, Spoken):
    """What the bot knows of a fine-tuning job it launched: where it reports and how it goes."""

    job: str
    resource: Resource
    conversation: str
    user: str = ""
    card: str = ""
    model: str = ""
    files: str = ""
    examples: int = 0
    launched_at: float | None = None
    running_since: float | None = None
    ended_at: float | None = None
    status: str = "pending"
    step: int | None = None
    total: int | None = None
    train_loss: float | None = None
    valid_loss: float | None = None
    last_event: str | None = None
    series: Series = Series()
    card_at: float = 0.0
    dirty: bool = False
    final: bool = False

    @classmethod
    def at(cls, job: str) -> Key[JobRecord]:
        """The key of a job's record."""
        return Key(cls, f"training/jobs/{job}")

    def key(self) -> Key[JobRecord]:
        """Where this record is stored."""
        return self.at(self.job)


class WatchEntry(Record):
    """A job on the watch list (unfinished, or its notice not yet sent)."""

    job: str
    since: float

    @classmethod
    def at(cls, job: str) -> Key[WatchEntry]:
        """The key of a job's watch entry."""
        return Key(cls, f"training/watch/{job}")

    def key(self) -> Key[WatchEntry]:
        """Where this record is stored."""
        return self.at(self.job)


WATCH_LIST = "training/watch/"


class LatestJob(Record):
    """The latest job started in a conversation (`status` with no job id)."""

    conversation: str
    job: str

    @classmethod
    def at(cls, conversation: str) -> Key[LatestJob]:
        """The key of a conversation's latest job."""
        return Key(cls, f"training/latest/{conversation}")

    def key(self) -> Key[LatestJob]:
        """Where this record is stored."""
        return self.at(self.conversation)


# -- deployments -------------------------------------------------------------------------------

DeploymentState = Literal["creating", "succeeded", "failed", "deleting", "deleted"]


class DeleteCard(BaseModel):
    """A card waiting for a deletion to end, in its conversation, and who pressed Delete there."""

    conversation: str
    card: str
    by: str = ""


class DeploymentRecord(Record, Spoken):
    """The bot's memory of one deployment it created or used."""

    resource: Resource
    name: str
    model: str
    version: str = "1"
    sku: str = "standard"
    capacity: int = 1
    fine_tuned: bool = True
    state: DeploymentState = "creating"
    conversation: str = ""
    user: str = ""
    card: str = ""
    job: str = ""
    ref: str = ""
    """What the user asked to deploy (job, model or checkpoint), for "Try again"."""
    started_at: float = 0.0
    created_at: float = 0.0
    last_used: float = 0.0
    reason: str = ""
    warning_card: str = ""
    warning_conversation: str = ""
    delete_card: str = ""
    delete_conversation: str = ""
    delete_cards: list[DeleteCard] = []
    """Every card that waits for the deletion (two people may delete the same deployment)."""
    deleted_by: str = ""
    """Who asked first for the deletion that is under way (or done), by display name."""

    @classmethod
    def at(cls, resource: Resource, name: str) -> Key[DeploymentRecord]:
        """The key of a deployment's record (deployment names ignore case)."""
        return Key(cls, f"{cls.prefix(resource)}{_lower(name)}")

    @staticmethod
    def prefix(resource: Resource | None = None) -> str:
        """The key prefix of a resource's deployment records (of every resource's: None)."""
        return f"deployment/{_resource(resource)}/" if resource else "deployment/"

    def key(self) -> Key[DeploymentRecord]:
        """Where this record is stored."""
        return self.at(self.resource, self.name)

    @property
    def idle_since(self) -> float:
        """When the current idle period started: the last completion seen, or the creation."""
        return max(self.last_used, self.created_at)


# -- chat --------------------------------------------------------------------------------------


class ChatSession(Record, Spoken):
    """One user's chat with one deployment, in one conversation (in a channel: one thread)."""

    conversation: str
    user: str
    resource: Resource
    deployment: str
    model: str
    version: str = "1"
    system: str = ""
    examples: list[tuple[str, str]] = []
    history: list[dict[str, str]] = []
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @classmethod
    def at(cls, conversation: str, user: str) -> Key[ChatSession]:
        """The key of a user's session in a conversation."""
        return Key(cls, f"chat/{_part(conversation)}/{_part(user)}")

    def key(self) -> Key[ChatSession]:
        """Where this record is stored."""
        return self.at(self.conversation, self.user)

    @property
    def base(self) -> str:
        """The base model behind the deployment (for the tokenizer and the context size)."""
        return base_of(self.model, self.version)

    @property
    def last_prompt(self) -> str:
        """The user's latest message in the history, or ''."""
        return next((m["content"] for m in reversed(self.history) if m["role"] == "user"), "")


# -- resources (skills/resources.py) -----------------------------------------------------------


class CurrentResource(Record):
    """The resource a team (or, outside a team, a conversation) works on."""

    scope: str
    resource: Resource

    @classmethod
    def at(cls, scope: str) -> Key[CurrentResource]:
        """The key of a scope's current resource."""
        return Key(cls, f"{CURRENT_RESOURCES}{_part(scope)}")

    def key(self) -> Key[CurrentResource]:
        """Where this record is stored."""
        return self.at(self.scope)


CURRENT_RESOURCES = "resource/current/"


class ResourceRecord(Record):
    """What the bot knows of a resource it provisioned or adopted: where, who, when."""

    resource: Resource
    location: str = ""
    sku: str = ""
    provisioned: bool = False
    """The bot created the account (so `teardown` deletes it); False: adopted."""
    by: str = ""
    by_name: str = ""
    at: float = 0.0
    deleted: bool = False

    @classmethod
    def of(cls, resource: Resource) -> Key[ResourceRecord]:
        """The key of a resource's record."""
        return Key(cls, f"{KNOWN_RESOURCES}{_resource(resource)}")

    def key(self) -> Key[ResourceRecord]:
        """Where this record is stored."""
        return self.of(self.resource)


KNOWN_RESOURCES = "resource/known/"


class PrincipalName(Record):
    """The display name of a person the bot met (an AAD object id), for the `roles` card."""

    object_id: str
    name: str

    @classmethod
    def at(cls, object_id: str) -> Key[PrincipalName]:
        """The key of a principal's name."""
        return Key(cls, f"principal/{_lower(object_id)}")

    def key(self) -> Key[PrincipalName]:
        """Where this record is stored."""
        return self.at(self.object_id)


# -- provisioning (skills/provisioning/) -------------------------------------------------------


class ProvisionRequest(Confirmation):
    """An account to create (or adopt), waiting for "Create"."""

    scope: str
    user_name: str
    resource: Resource
    location: str

    @classmethod
    def at(cls, token: str) -> Key[ProvisionRequest]:
        """The key of a pending provisioning."""
        return Key(cls, f"provision/request/{token}")

    def key(self) -> Key[ProvisionRequest]:
        """Where this record is stored."""
        return self.at(self.token)


ProvisionStage = Literal["confirmed", "creating", "roles", "waiting", "succeeded", "failed"]


class ProvisionRecord(Record, Spoken):
    """A confirmed provisioning on its way: group -> account (a long-running operation) -> the
    bot's role -> a data-plane call that works. Each stage kept, so a restart resumes it."""

    token: str
    scope: str
    conversation: str
    user: str
    user_name: str
    resource: Resource
    location: str
    audit: str
    card: str = ""
    stage: ProvisionStage = "confirmed"
    adopted: bool = False
    created_group: bool = False
    started_at: float = 0.0
    state: str = ""
    error: str = ""

    @classmethod
    def at(cls, token: str) -> Key[ProvisionRecord]:
        """The key of a provisioning run."""
        return Key(cls, f"{PROVISIONS}{token}")

    def key(self) -> Key[ProvisionRecord]:
        """Where this record is stored."""
        return self.at(self.token)

    @property
    def finished(self) -> bool:
        """It succeeded or gave up."""
        return self.stage in ("succeeded", "failed")


PROVISIONS = "provision/run/"


class PurgeRequest(Confirmation):
    """A soft-deleted account to purge, waiting for "Purge"."""

    user_name: str
    resource: Resource
    location: str

    @classmethod
    def at(cls, token: str) -> Key[PurgeRequest]:
        """The key of a pending purge."""
        return Key(cls, f"purge-request/{token}")

    def key(self) -> Key[PurgeRequest]:
        """Where this record is stored."""
        return self.at(self.token)


# -- keys (skills/provisioning/keys.py) ------------------------------------------------------------

KeyName = Literal["key1", "key2"]


class KeysRequest(Confirmation):
    """A key to regenerate, waiting for "Rotate"."""

    user_name: str
    resource: Resource
    key_name: KeyName

    @classmethod
    def at(cls, token: str) -> Key[KeysRequest]:
        """The key of a pending rotation."""
        return Key(cls, f"keys-request/{token}")

    def key(self) -> Key[KeysRequest]:
        """Where this record is stored."""
        return self.at(self.token)


class KeyState(Record):
    """A resource's keys as the bot knows them: which one it uses (key auth), and when it last
    regenerated each (Azure does not report rotations). Never a key's value."""

    resource: Resource
    in_use: KeyName | None = None
    """Set once the bot switched keys; every instance then uses this one."""
    switched_at: float = 0.0
    rotated_at: dict[str, float] = {}
    rotated_by: dict[str, str] = {}

    @classmethod
    def of(cls, resource: Resource) -> Key[KeyState]:
        """The key of a resource's key state."""
        return Key(cls, f"{KEY_STATES}{_resource(resource)}")

    def key(self) -> Key[KeyState]:
        """Where this record is stored."""
        return self.of(self.resource)


KEY_STATES = "keys/state/"


# -- teardown (skills/provisioning/teardown.py) --------------------------------------------------

TeardownKind = Literal["deployment", "job", "file", "account"]


class TeardownItem(BaseModel):
    """One thing teardown deletes, and how that went."""

    kind: TeardownKind
    id: str
    label: str
    state: Literal["pending", "deleting", "done", "failed"] = "pending"
    reason: str = ""


class TeardownRequest(Confirmation):
    """Everything the bot created on a resource, waiting for "Delete all of it"."""

    user_name: str
    resource: Resource
    items: list[TeardownItem]

    @classmethod
    def at(cls, token: str) -> Key[TeardownRequest]:
        """The key of a pending teardown."""
        return Key(cls, f"teardown/request/{token}")

    def key(self) -> Key[TeardownRequest]:
        """Where this record is stored."""
        return self.at(self.token)


class TeardownRecord(Record, Spoken):
    """A confirmed teardown on its way, item by item (resumed after a restart)."""

    token: str
    conversation: str
    user: str
    user_name: str
    resource: Resource
    items: list[TeardownItem]
    audit: str
    card: str = ""
    started_at: float = 0.0
    local_done: bool = False
    finished: bool = False

    @classmethod
    def at(cls, token: str) -> Key[TeardownRecord]:
        """The key of a teardown run."""
        return Key(cls, f"{TEARDOWNS}{token}")

    def key(self) -> Key[TeardownRecord]:
        """Where this record is stored."""
        return self.at(self.token)


TEARDOWNS = "teardown/run/"

CONFIRMATION_PREFIXES.update(
    {
        ProvisionRequest: "provision/request/",
        PurgeRequest: "purge-request/",
        KeysRequest: "keys-request/",
        TeardownRequest: "teardown/request/",
    }
)


# -- the audit trail (skills/audit.py) -----------------------------------------------------------

AuditOutcome = Literal["started", "done", "failed", "partly done"]


class AuditEntry(Record):
    """One costly or destructive action: who, what, when, on what, and how it ended."""

    id: str
    at: float
    user: str
    user_name: str
    action: str
    target: str
    resource: str = ""
    outcome: AuditOutcome = "started"
    detail: str = ""

    @classmethod
    def at_id(cls, entry: str) -> Key[AuditEntry]:
        """The key of an audit entry (ids sort by time)."""
        return Key(cls, f"{AUDIT}{entry}")

    def key(self) -> Key[AuditEntry]:
        """Where this record is stored."""
        return self.at_id(self.id)


AUDIT = "audit/"
