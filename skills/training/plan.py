"""A training run before it starts: the files, the base model, the hyperparameters and the cost.

`Plan` is what the user confirms (it is stored until then); `check_options` types the `train`
options; `make_plan` reads the validated files' stored reports (no validation again) and prices
the run.
"""

from __future__ import annotations

import math
import re
from typing import Any

from pydantic import BaseModel, ConfigDict

from infra.datasets import StoredDataset
from infra.errors import UserError
from infra.i18n import N_, _, n_, number
from infra.text import echo
from skills.validation import ValidationReport, estimated_price

SUFFIX = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")


class Dataset(BaseModel):
    """A validated file to train on: where it is stored and what it is called."""

    model_config = ConfigDict(frozen=True)

    sha256: str
    path: str
    name: str
    examples: int


class Plan(BaseModel):
    """A training run as confirmed by the user."""

    model_config = ConfigDict(frozen=True)

    model: str
    training: Dataset
    validation: Dataset | None
    epochs: int | None = None
    batch_size: int | None = None
    learning_rate_multiplier: float | None = None
    suffix: str | None = None
    seed: int | None = None
    estimated_epochs: int = 0
    billed_tokens: int = 0
    price: float | None = None

    def hyperparameters(self) -> dict[str, Any]:
        """The hyperparameters the user gave (the service chooses the rest)."""
        given = {
            "n_epochs": self.epochs,
            "batch_size": self.batch_size,
            "learning_rate_multiplier": self.learning_rate_multiplier,
        }
        return {k: v for k, v in given.items() if v is not None}

    @property
    def files(self) -> str:
        """The files' names, as the cards show them."""
        names = [self.training.name] + ([self.validation.name] if self.validation else [])
        return " + ".join(names)


def check_options(options: dict[str, str]) -> dict[str, Any]:
    """Typed `train` options from `key=value` words; one clear sentence when one is wrong."""
    typed: dict[str, Any] = {}

    def whole(key: str, low: int, high: int, label: str) -> None:
        if key not in options:
            return
        try:
            value = int(options[key])
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise UserError(
                "{label} must be a whole number from {low} to {high}.",
                label=_(label),
                low=number(low),
                high=number(high),
            )
        typed[key] = value

    whole("epochs", 1, 50, N_("Epochs"))
    whole("batch", 1, 256, N_("Batch size"))
    whole("seed", 0, 2**31 - 1, N_("Seed"))
    if "lr" in options:
        try:
            rate = float(options["lr"])
        except ValueError:
            rate = -1.0
        if not 0 < rate <= 10 or math.isnan(rate):
            raise UserError("The learning rate multiplier must be a number above 0, up to 10.")
        typed["lr"] = rate
    if "suffix" in options:
        if not SUFFIX.match(options["suffix"]):
            raise UserError(
                "The suffix may have up to 40 letters, digits, `-`, `_` or `.` characters."
            )
        typed["suffix"] = options["suffix"]
    if "model" in options:
        typed["model"] = options["model"]
    return typed


def verdict(report: ValidationReport) -> str:
    """Why a file cannot be trained on, in one sentence."""
    reasons = [error.text().rstrip(".") for error in report.file_errors]
    if report.invalid_examples:
        codes = ", ".join(f"`{code}`" for code in sorted(report.error_counts))
        reasons.append(
            n_(
                "{count} invalid example ({codes})",
                "{count} invalid examples ({codes})",
                report.invalid_examples,
                codes=codes,
            )
        )
    if report.over_limit:
        reasons.append(
            n_(
                "{count} example over the {limit} tokens",
                "{count} examples over the {limit} tokens",
                len(report.over_limit),
                limit=number(report.token_limit),
            )
        )
    return "; ".join(reasons) or _("it did not pass validation")


def checked(
    stored: StoredDataset, report: ValidationReport, epochs: int | None
) -> tuple[Dataset, ValidationReport]:
    """A kept file and its stored report, the billing for `epochs`; UserError when the file is
    not fit to train on."""
    report = report.for_epochs(epochs)
    if not report.ok:
        raise UserError(
            "{name} is not valid for training: {why}.", name=echo(stored.name), why=verdict(report)
        )
    dataset = Dataset(
        sha256=stored.sha256,
        path=str(stored.path),
        name=stored.name,
        examples=report.valid_examples,
    )
    return dataset, report


Checked = tuple[StoredDataset, ValidationReport]
"""A kept file and the report stored when it was validated."""


def make_plan(
    training: Checked,
    validation: Checked | None,
    model: str,
    options: dict[str, Any],
    prices: dict[str, float],
) -> Plan:
    """The plan of a run on kept files and their stored reports, checked and priced."""
    epochs = options.get("epochs")
    training_set, report = checked(*training, epochs)
    validation_set = checked(*validation, epochs)[0] if validation else None
    return Plan(
        model=model,
        training=training_set,
        validation=validation_set,
        epochs=epochs,
        batch_size=options.get("batch"),
        learning_rate_multiplier=options.get("lr"),
        suffix=options.get("suffix"),
        seed=options.get("seed"),
        estimated_epochs=report.billing.epochs,
        billed_tokens=report.billing.billed_tokens,
        price=estimated_price(report, prices),
    )
