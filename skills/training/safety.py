"""What Azure's safety checks said of a fine-tuning job, in plain words.

Microsoft Learn, "Safety evaluation for fine-tuning": before training, the training data is
evaluated for harmful content, and a job whose data is flagged fails ("The provided training data
failed RAI checks for harm types: [hate_fairness, self_harm, violence]. Please fix the data and
try again."); after training, the model is evaluated, and one found to produce harmful content
cannot be deployed ("This model is unable to be deployed. Model evaluation identified that this
fine tuned model scores above acceptable thresholds for [Violence, Self Harm]. ..."). Azure
charges for neither. Microsoft documents these messages, not an error code: the message decides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from infra.i18n import N_, _
from infra.text import echo
from skills.training.jobs import JobState

_DATA = re.compile(r"failed RAI checks for harm types:\s*\[([^\]]*)\]", re.IGNORECASE)
_MODEL = re.compile(
    r"unable to be deployed.*?acceptable thresholds for\s*\[([^\]]*)\]", re.IGNORECASE | re.DOTALL
)
CATEGORY_LABELS = {
    "hate_fairness": N_("hate and unfairness"),
    "hate": N_("hate and unfairness"),
    "self_harm": N_("self-harm"),
    "sexual": N_("sexual content"),
    "violence": N_("violence"),
}
"""Azure's harm categories (as the data and the model evaluations spell them, normalised)."""


@dataclass(frozen=True)
class SafetyCheck:
    """A failed safety check: before training (`data`) or after it (`model`), and the harm
    categories Azure named."""

    stage: Literal["data", "model"]
    categories: tuple[str, ...]

    def labels(self) -> str:
        """The categories in words, in the current language."""
        return ", ".join(
            _(CATEGORY_LABELS[c]) if c in CATEGORY_LABELS else echo(c) for c in self.categories
        )


def _categories(listed: str) -> tuple[str, ...]:
    words = (re.sub(r"[\s-]+", "_", part.strip().lower()) for part in listed.split(","))
    return tuple(dict.fromkeys(w for w in words if w))


def safety_check(job: JobState) -> SafetyCheck | None:
    """The safety check a failed job did not pass (None when it failed for another reason)."""
    if job.status != "failed" or not job.error_message:
        return None
    if found := _DATA.search(job.error_message):
        return SafetyCheck("data", _categories(found.group(1)))
    if found := _MODEL.search(job.error_message):
        return SafetyCheck("model", _categories(found.group(1)))
    return None
