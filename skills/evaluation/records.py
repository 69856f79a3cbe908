"""An evaluation's records: the question (evaluate?) and the evaluation itself, with its stage on
Azure (eval, runs), so a restart resumes it, and its outcome."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from infra.azure import Resource
from infra.records import Key, Record
from skills.evaluation.stats import Comparison
from skills.records import Confirmation, Spoken


class Setup(BaseModel, frozen=True):
    """What is compared, on what, and what it should cost."""

    target: str
    """The deployment of the fine-tuned model."""
    model: str
    base: str
    """The deployment of the base model."""
    base_model: str
    job: str = ""
    source: str
    """Where the items come from: a job's validation file or a file id."""
    examples: int
    items: int
    preference: bool = False
    graders: tuple[str, ...] = ()
    judge: str = ""
    """The chat deployment of the `score_model` grader ('' for none)."""
    prompt_tokens: int = 0
    """Prompt tokens of one run."""
    completion_tokens: int = 0
    """Completion tokens of one run, estimated by the references."""
    cost: float | None = None
    """Estimated USD of both runs (None: no price known for the model)."""

    @property
    def sampled(self) -> bool:
        """The items are a sample of the file's examples."""
        return self.items < self.examples


class EvalRequest(Confirmation):
    """An evaluation waiting for "Evaluate"."""

    prefix = "eval-request/"

    resource: Resource
    setup: Setup
    rows: list[dict[str, Any]]

    @classmethod
    def at(cls, token: str) -> Key[EvalRequest]:
        """The key of a pending evaluation."""
        return Key(cls, f"{cls.prefix}{token}")

    def key(self) -> Key[EvalRequest]:
        """Where this record is stored."""
        return self.at(self.token)


class Worst(BaseModel, frozen=True):
    """An item where the fine-tuned model did worse than the base."""

    prompt: str
    reference: str
    base_answer: str
    tuned_answer: str
    base_score: float
    tuned_score: float


class Outcome(BaseModel, frozen=True):
    """What the runs found."""

    comparisons: tuple[Comparison, ...]
    tokens: int
    cost: float | None
    worst: tuple[Worst, ...] = ()


EvalState = Literal["creating", "running", "completed", "failed"]


class EvalRecord(Record, Spoken):
    """One evaluation: its card, its eval and runs on Azure, and its outcome."""

    prefix = "evaluation/"

    id: str
    resource: Resource
    conversation: str
    user: str
    card: str = ""
    setup: Setup
    rows: list[dict[str, Any]] = []
    """The items, until both runs hold them."""
    audit: str = ""
    download_key: str = ""
    """The secret of the outputs' download link (app.py serves it to whoever holds the link)."""
    eval_id: str = ""
    runs: dict[str, str] = {}
    """"base" and "tuned" -> run id."""
    done: dict[str, int] = {}
    state: EvalState = "creating"
    error: str = ""
    outcome: Outcome | None = None

    @classmethod
    def at(cls, ident: str) -> Key[EvalRecord]:
        """The key of an evaluation."""
        return Key(cls, f"{cls.prefix}{ident}")

    def key(self) -> Key[EvalRecord]:
        """Where this record is stored."""
        return self.at(self.id)
