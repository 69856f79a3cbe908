"""What an evaluation's output items say: per grader, each model's mean score and pass rate, and
the fine-tuned model's difference from the base with a 95% confidence interval by a paired
bootstrap over the items (each resample draws items, both models' scores of an item together).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel

BOOTSTRAP_ROUNDS = 2000
BOOTSTRAP_SEED = 30
"""A fixed seed: the same scores always give the same interval."""


class Comparison(BaseModel, frozen=True):
    """One grader's scores of both models on the same items (kept on the evaluation's record)."""

    grader: str
    base_mean: float
    tuned_mean: float
    base_pass: float
    tuned_pass: float
    difference: float
    low: float
    high: float

    @property
    def significant(self) -> bool:
        """The 95% interval excludes 0."""
        return self.low > 0 or self.high < 0


def paired_bootstrap(
    base: Sequence[float], tuned: Sequence[float], rounds: int = BOOTSTRAP_ROUNDS
) -> tuple[float, float, float]:
    """(mean difference tuned - base, 2.5th and 97.5th percentile of its bootstrap)."""
    differences = np.asarray(tuned, dtype=float) - np.asarray(base, dtype=float)
    if differences.size == 0:
        return 0.0, 0.0, 0.0
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    picks = rng.integers(0, differences.size, size=(rounds, differences.size))
    means = differences[picks].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(differences.mean()), float(low), float(high)


def compare(
    grader: str,
    base: Sequence[tuple[float, bool]],
    tuned: Sequence[tuple[float, bool]],
) -> Comparison:
    """A grader's (score, passed) per item of both runs, in the same item order."""
    base_scores, tuned_scores = [s for s, _ in base], [s for s, _ in tuned]
    difference, low, high = paired_bootstrap(base_scores, tuned_scores)
    count = max(1, len(base))
    return Comparison(
        grader=grader,
        base_mean=sum(base_scores) / count,
        tuned_mean=sum(tuned_scores) / count,
        base_pass=sum(p for _, p in base) / count,
        tuned_pass=sum(p for _, p in tuned) / count,
        difference=difference,
        low=low,
        high=high,
    )
