"""What an evaluation shows (rendered by bot/render.py): its progress, its result, its failure."""

from __future__ import annotations

from dataclasses import dataclass

from skills.evaluation.records import Outcome, Setup
from skills.notify import View


@dataclass(frozen=True)
class EvalProgress(View):
    """Both runs going: items done of total, per model."""

    setup: Setup
    base_done: int
    tuned_done: int


@dataclass(frozen=True)
class EvalDone(View):
    """The result: per grader, base vs fine-tuned."""

    setup: Setup
    outcome: Outcome
    download_url: str = ""
    """Where every output of both runs downloads as JSONL ('' for none)."""


@dataclass(frozen=True)
class EvalFailed(View):
    """Azure refused or a run failed: why."""

    setup: Setup
    message: str
