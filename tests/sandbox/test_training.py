"""Training curves a fine-tuning user would recognise, measured on the sandbox's real model.

Two small chat datasets, each trained with the service's automatic hyperparameters; the metrics
are the ones a job reports (each batch measured before its step, the whole validation file at
each epoch end).
"""

from __future__ import annotations

from pathlib import Path
from statistics import mean

import pytest

from infra.tokens import get_encoding
from sandbox.base_model import load
from sandbox.lm import parse_examples
from sandbox.training import Trainee, default_hyperparameters
from tests.sandbox_server import TRAINING, VALIDATION

pytestmark = pytest.mark.slow  # trains the sandbox's model on two datasets

DATA = Path(__file__).resolve().parents[1] / "data"
DATASETS = {
    "the lab's sample": (TRAINING, VALIDATION),
    "Microsoft Learn's tutorial": (
        DATA / "mslearn_training_set.jsonl",
        DATA / "mslearn_validation_set.jsonl",
    ),
}
FIRST_LOSS_LIMIT = 8.0
FIRST_EPOCH_LIMIT = 7.0
"""Nats. A blank model starts at 9-12, gpt-4o-mini at 1-3; the sandbox's base at about 5.5-7.5
(docs/sandbox.md): an n-gram model of 4 M tokens knows English, not AI teaching."""
FIRST_ACCURACY_FLOOR = 0.05
"""A blank model predicts almost nothing; the base gets 10-20 % of the tokens right."""


def run(name: str) -> tuple[Trainee, list[dict[str, float]]]:
    """Train a dataset to its end; the trainee and each step's metrics."""
    training, validation = DATASETS[name]
    encoding = get_encoding("o200k_base")
    train = parse_examples(training.read_text(encoding="utf-8"), encoding)
    valid = parse_examples(validation.read_text(encoding="utf-8"), encoding)
    chosen = default_hyperparameters(len(train), {})
    trainee = Trainee(
        train,
        valid,
        chosen["n_epochs"],
        chosen["batch_size"],
        chosen["learning_rate_multiplier"],
        seed=7,
        base=load(),
    )
    return trainee, [trainee.step(step) for step in range(1, trainee.total_steps + 1)]


@pytest.mark.parametrize("name", list(DATASETS))
def test_training_starts_from_a_pretrained_base(name: str) -> None:
    _, rows = run(name)
    first = rows[0]
    assert first["train_loss"] < FIRST_LOSS_LIMIT
    assert first["train_mean_token_accuracy"] > FIRST_ACCURACY_FLOOR
    # Whole first epoch: well below a blank model's 9-12 nats.
    assert mean(r["train_loss"] for r in rows[: len(rows) // 6]) < FIRST_EPOCH_LIMIT


@pytest.mark.parametrize("name", list(DATASETS))
def test_validation_loss_falls_and_training_loss_has_no_cliff(name: str) -> None:
    trainee, rows = run(name)
    full = [r["full_valid_loss"] for r in rows if "full_valid_loss" in r]
    assert len(full) == trainee.epochs
    assert full[-1] < full[0]
    losses = [r["train_loss"] for r in rows]
    window = [mean(losses[i : i + 5]) for i in range(len(losses) - 4)]
    # The 5-step average never halves from one step to the next ...
    assert all(after > before / 2 for before, after in zip(window, window[1:], strict=False))
    # ... nor from one 5 steps to the next 5 (a memorising model falls off a cliff at epoch 2).
    assert all(after > before / 2 for before, after in zip(window, window[5:], strict=False))
    per_epoch = [
        mean(losses[e * trainee.steps_per_epoch : (e + 1) * trainee.steps_per_epoch])
        for e in range(trainee.epochs)
    ]
    assert per_epoch == sorted(per_epoch, reverse=True)  # training loss falls epoch by epoch
    assert rows[-1]["train_mean_token_accuracy"] > rows[0]["train_mean_token_accuracy"]
