"""Model ids and deployment names: what a fine-tuned model id says, and the names Azure accepts.

Pure functions over strings: a fine-tuned model is `<base>.ft-<hex>[-suffix]` (or `ft:...`), a
checkpoint `<model>:ckpt-step-N`, a base model `<name>-<version>`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from infra.errors import UserError
from infra.prices import CONTEXT_WINDOWS, SKU_LABELS, SKUS
from infra.text import echo

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,63}$")
_STEP = re.compile(r":ckpt-step-(\d+)$")
_DATE = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{4})$")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class ModelChoice:
    """What a deployment will serve: the model name and version Resource Manager takes."""

    model: str
    version: str
    fine_tuned: bool
    job: str = ""

    @property
    def base(self) -> str:
        """The base model id (`gpt-4o-mini-2024-07-18`) this model was trained from."""
        return base_of(self.model, self.version)


def is_fine_tuned(model: str) -> bool:
    """A fine-tuned model id (`<base>.ft-<hex>...`) or one of its checkpoints."""
    return ".ft-" in model or model.startswith("ft:") or ":ckpt-step-" in model


def base_of(model: str, version: str = "") -> str:
    """The base model id of a model name: the part before `.ft-`, or `name-version`."""
    if is_fine_tuned(model):
        return model.removeprefix("ft:").split(".ft-")[0].split(":")[0]
    if version and not model.endswith(version):
        return f"{model}-{version}"
    return model


def context_window(model: str, version: str = "") -> int:
    """How many tokens a model reads at inference; a cautious default for unknown ones."""
    base = base_of(model, version)
    if base in CONTEXT_WINDOWS:
        return CONTEXT_WINDOWS[base]
    family = _DATE.sub("", base)
    return CONTEXT_WINDOWS.get(family, 16_385)


def check_name(name: str) -> str:
    """`name` if Azure accepts it as a deployment name, else a UserError saying the rule."""
    if not _NAME.match(name):
        raise UserError(
            "{name} is not a valid deployment name: use 2 to 64 letters, digits, `-`, `_` or "
            "`.`, starting with a letter or digit.",
            name=echo(name),
        )
    return name


def default_name(choice: ModelChoice) -> str:
    """A readable deployment name: base model family plus the suffix (or a short id)."""
    family = _DATE.sub("", choice.base)
    if not choice.fine_tuned:
        return check_name(family[:64])
    model = choice.model.removeprefix("ft:")
    tail = model.split(".ft-", 1)[1] if ".ft-" in model else model.rsplit(":", 1)[-1]
    tail = _STEP.sub("", tail)
    ident, _, suffix = tail.partition("-")
    label = suffix or f"ft-{ident[:6]}"
    step = _STEP.search(choice.model)
    if step:
        label += f"-step{step.group(1)}"
    name = _UNSAFE.sub("-", f"{family}-{label}").strip("-.")
    return check_name(name[:64].rstrip("-."))


def sku_word(value: str) -> str:
    """The sku word (`standard`, `globalstandard`, `developer`) for any spelling of it."""
    word = value.lower().replace("-", "").replace("_", "").replace(" ", "")
    word = {"developertier": "developer"}.get(word, word)  # Azure's name of the developer tier
    if word not in SKUS:
        raise UserError(
            "Unknown sku {sku}; use standard, globalstandard or developer.", sku=echo(value)
        )
    return word


def sku_label(word: str) -> str:
    """How cards name a sku word (`globalstandard` -> `Global Standard`)."""
    return SKU_LABELS.get(word, word)
