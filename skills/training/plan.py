"""A training run before it starts: the files, the base model, the method, the training type,
the model it continues, the hyperparameters and the cost.

`Plan` is what the user confirms (it is stored until then); `check_options` types the `train`
options; `make_plan` reads the validated files' stored reports (no validation again), checks that
the options fit the files and the model, and prices the run.
"""

from __future__ import annotations

import math
import re
from typing import Any

from pydantic import BaseModel, ConfigDict

from infra.datasets import StoredDataset
from infra.errors import UserError
from infra.i18n import N_, _, n_, number
from infra.prices import DPO_MODELS, TRAINING_TYPE_NAMES, training_types
from infra.text import echo
from skills.validation import ValidationReport, estimated_price

SUFFIX = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
METHODS = ("supervised", "dpo")
TRAINING_WORDS = {
    "standard": "standard",
    "global": "global",
    "globalstandard": "global",
    "developer": "developer",
    "developertier": "developer",
}
"""What a user may type for a training type -> the type (infra/prices.py TRAINING_TYPES)."""
BETA_MAX = 2.0
"""DPO's beta: a number above 0, up to 2."""
FROM = re.compile(r"^(ftjob-[0-9A-Za-z]+|[A-Za-z0-9][A-Za-z0-9._-]*\.ft-[A-Za-z0-9_.:-]+)$")


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
    method: str = "supervised"
    beta: float | None = None
    training_type: str = "standard"
    parent: str | None = None
    """The fine-tuned model this run continues (Azure's `model` then names it)."""
    lineage: list[str] = []
    """What a continued run trains from: the base model first, the parent last."""
    hosting_full: bool = False
    """The resource hosted as many fine-tuned deployments as it may when this was planned."""
    type_prices: dict[str, float] = {}
    """The estimated price with each training type the model offers the resource."""

    def hyperparameters(self) -> dict[str, Any]:
        """The hyperparameters the user gave (the service chooses the rest)."""
        given = {
            "n_epochs": self.epochs,
            "batch_size": self.batch_size,
            "learning_rate_multiplier": self.learning_rate_multiplier,
            "beta": self.beta if self.method == "dpo" else None,
        }
        return {k: v for k, v in given.items() if v is not None}

    def method_body(self) -> dict[str, Any]:
        """The job's `method` (v1 API: the hyperparameters go under the method)."""
        body: dict[str, Any] = {"type": self.method}
        if self.hyperparameters():
            body[self.method] = {"hyperparameters": self.hyperparameters()}
        return body

    @property
    def trained_model(self) -> str:
        """The model the job trains: the fine-tuned model it continues, else the base model."""
        return self.parent or self.model

    @property
    def training_type_name(self) -> str:
        """The `trainingType` value Azure takes."""
        return TRAINING_TYPE_NAMES[self.training_type]

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
    if "method" in options:
        method = options["method"].lower()
        if method not in METHODS:
            raise UserError(
                "Unknown method {method}; use `method=supervised` or `method=dpo`.",
                method=echo(options["method"]),
            )
        typed["method"] = method
    if "beta" in options:
        try:
            beta = float(options["beta"])
        except ValueError:
            beta = -1.0
        if not 0 < beta <= BETA_MAX or math.isnan(beta):
            raise UserError("DPO's `beta` must be a number above 0, up to 2 (0.1 is usual).")
        typed["beta"] = beta
    if "training" in options:
        word = options["training"].lower().replace("-", "").replace("_", "")
        if word not in TRAINING_WORDS:
            raise UserError(
                "Unknown training type {value}; use `training=standard`, `training=global` or "
                "`training=developer`.",
                value=echo(options["training"]),
            )
        typed["training"] = TRAINING_WORDS[word]
    if "from" in options:
        if not FROM.match(options["from"]):
            raise UserError(
                "`from=` takes a fine-tuned model (`<base>.ft-...`) or the job that made it "
                "(`ftjob-...`), not {value}.",
                value=echo(options["from"]),
            )
        typed["from"] = options["from"]
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


TRAINING_LABELS = {
    "standard": N_("Standard training"),
    "global": N_("Global training"),
    "developer": N_("Developer training"),
}
"""How a sentence or a card names a training type (a message id)."""


def training_label(training: str) -> str:
    """A training type in words, in the current language."""
    return _(TRAINING_LABELS.get(training, training))


def _labels(kinds: list[str]) -> str:
    return ", ".join(f"`training={kind}`" for kind in kinds)


def check_training_type(model: str, training: str, region: str) -> None:
    """UserError when `model` does not offer `training` to a resource in `region`, naming the
    training types it does offer (Microsoft Learn, "Fine-tuning models")."""
    offered = training_types(model, region)
    if training in offered:
        return
    if not offered:
        raise UserError(
            "{model} cannot be fine-tuned by a resource in {region}; choose another base model "
            "(`train model=...`) or a resource in another region.",
            model=echo(model),
            region=echo(region),
        )
    if region and training in training_types(model):
        raise UserError(
            "{model} offers no {training} to a resource in {region}; use {offered}.",
            model=echo(model),
            training=training_label(training),
            region=echo(region),
            offered=_labels(offered),
        )
    raise UserError(
        "{model} offers no {training}; use {offered}.",
        model=echo(model),
        training=training_label(training),
        offered=_labels(offered),
    )


def check_method(
    method: str, model: str, training: ValidationReport, validation: ValidationReport | None
) -> None:
    """UserError when the files' format does not train `method`, or `model` does not train it."""
    wanted = "dpo" if method == "dpo" else "chat"
    for report in (training, validation):
        if report is None or report.format == wanted:
            continue
        if report.format == "dpo":
            raise UserError(
                "{name} holds preference pairs (the DPO format): train it with `method=dpo`, or "
                "validate a chat file for supervised training.",
                name=echo(report.file),
            )
        raise UserError(
            "{name} holds chat examples, and DPO trains preference pairs (`input`, "
            "`preferred_output`, `non_preferred_output`): validate such a file for "
            "`method=dpo`, or train this one without it.",
            name=echo(report.file),
        )
    if method == "dpo" and model not in DPO_MODELS:
        raise UserError(
            "{model} does not train with DPO; DPO trains {models} (`train model=...`).",
            model=echo(model),
            models=", ".join(f"`{m}`" for m in sorted(DPO_MODELS)),
        )


def method_of(options: dict[str, Any], training: ValidationReport) -> str:
    """The method a run uses: the one asked for, else the one the training file's format trains;
    `beta` asks for DPO."""
    method = str(options.get("method") or ("dpo" if training.format == "dpo" else "supervised"))
    if "beta" in options and method != "dpo":
        raise UserError("`beta` is DPO's setting: say `method=dpo beta=...`, or leave `beta` out.")
    return method


def make_plan(
    training: Checked,
    validation: Checked | None,
    model: str,
    options: dict[str, Any],
    prices: dict[str, float],
    *,
    region: str = "",
    lineage: tuple[str, ...] = (),
) -> Plan:
    """The plan of a run on kept files and their stored reports, checked and priced; `region` is
    the resource's ('' when unknown), `lineage` what a continued run trains from (its last model
    is the parent)."""
    epochs = options.get("epochs")
    method = method_of(options, training[1])
    check_method(method, model, training[1], validation[1] if validation else None)
    kind = str(options.get("training") or "standard")
    check_training_type(model, kind, region)
    training_set, report = checked(*training, epochs)
    validation_set = checked(*validation, epochs)[0] if validation else None
    type_prices = {
        other: found
        for other in training_types(model, region)
        if (found := estimated_price(report, prices, other)) is not None
    }
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
        price=estimated_price(report, prices, kind),
        method=method,
        beta=options.get("beta"),
        training_type=kind,
        parent=lineage[-1] if lineage else None,
        lineage=list(lineage),
        type_prices=type_prices,
    )
