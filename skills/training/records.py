"""Training's records: the questions (train? cancel?), a launch on its way to a job, the jobs the
bot follows, the watch list, each conversation's latest job, and the claims of the notices."""

from __future__ import annotations

from typing import Literal

from infra.azure import Resource
from infra.records import Key, Record
from skills.records import ClaimKind, Confirmation, Spoken
from skills.training.jobs import Series, upload_name
from skills.training.plan import Plan


class TrainingRequest(Confirmation):
    """A training plan waiting for "Confirm training"."""

    prefix = "training/pending/"

    plan: Plan
    resource: Resource

    @classmethod
    def at(cls, token: str) -> Key[TrainingRequest]:
        """The key of a pending training plan."""
        return Key(cls, f"{cls.prefix}{token}")

    def key(self) -> Key[TrainingRequest]:
        """Where this record is stored."""
        return self.at(self.token)


class CancelRequest(Confirmation):
    """A running job to cancel, waiting for "Cancel the job"."""

    prefix = "cancel-request/"

    resource: Resource
    job: str

    @classmethod
    def at(cls, token: str) -> Key[CancelRequest]:
        """The key of a pending cancellation."""
        return Key(cls, f"{cls.prefix}{token}")

    def key(self) -> Key[CancelRequest]:
        """Where this record is stored."""
        return self.at(self.token)


class CleanupRequest(Confirmation):
    """A file or a fine-tuned model to delete, waiting for the destructive confirmation."""

    prefix = "training/cleanup/"

    resource: Resource
    what: Literal["file", "model"]
    target: str
    """The file id, or the job whose fine-tuned model goes (with the job)."""
    label: str = ""
    """What the card names: the file's name, or the model."""

    @classmethod
    def at(cls, token: str) -> Key[CleanupRequest]:
        """The key of a pending deletion."""
        return Key(cls, f"{cls.prefix}{token}")

    def key(self) -> Key[CleanupRequest]:
        """Where this record is stored."""
        return self.at(self.token)


LaunchStage = Literal["confirmed", "uploaded", "creating", "created", "failed"]


class LaunchRecord(Record, Spoken):
    """A confirmed training on its way to a job: upload -> import -> create, each stage kept."""

    prefix = "training/launch/"

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
        return Key(cls, f"{cls.prefix}{token}")

    def key(self) -> Key[LaunchRecord]:
        """Where this record is stored."""
        return self.at_token(self.token)

    @property
    def finished(self) -> bool:
        """The launch made its job, or gave up."""
        return self.stage in ("created", "failed")

    def upload_names(self) -> dict[str, str]:
        """The names its files are uploaded under (every copy has it: `jobs.upload_name`), each
        to the file's own name."""
        datasets = (self.plan.training, self.plan.validation)
        return {upload_name(d): d.name for d in datasets if d is not None}


class JobRecord(Record, Spoken):
    """What the bot knows of a fine-tuning job it launched: where it reports and how it goes."""

    prefix = "training/jobs/"

    job: str
    resource: Resource
    conversation: str
    user: str = ""
    card: str = ""
    model: str = ""
    files: str = ""
    examples: int = 0
    method: str = "supervised"
    training_type: str = "standard"
    lineage: list[str] = []
    """What a continued job trained from: the base model, then each fine-tuned model in turn
    (empty for a job trained from a base model)."""
    checkpoint: str = ""
    """While the job is paused: the checkpoint Azure keeps of the step it reached."""
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
        return Key(cls, f"{cls.prefix}{job}")

    def key(self) -> Key[JobRecord]:
        """Where this record is stored."""
        return self.at(self.job)


class WatchEntry(Record):
    """A job on the watch list (unfinished, or its notice not yet sent)."""

    prefix = "training/watch/"

    job: str
    since: float

    @classmethod
    def at(cls, job: str) -> Key[WatchEntry]:
        """The key of a job's watch entry."""
        return Key(cls, f"{cls.prefix}{job}")

    def key(self) -> Key[WatchEntry]:
        """Where this record is stored."""
        return self.at(self.job)


class LatestJob(Record):
    """The latest job started in a conversation (`status` with no job id)."""

    prefix = "training/latest/"

    conversation: str
    job: str

    @classmethod
    def at(cls, conversation: str) -> Key[LatestJob]:
        """The key of a conversation's latest job."""
        return Key(cls, f"{cls.prefix}{conversation}")

    def key(self) -> Key[LatestJob]:
        """Where this record is stored."""
        return self.at(self.conversation)


NOTICE_CLAIMS = ClaimKind("training/notice/")
"""The final notice of each job (at least once)."""


def notice_claim(job: str) -> str:
    """The final notice of a job (at least once)."""
    return NOTICE_CLAIMS.path(job)
