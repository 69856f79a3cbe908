"""A training run's plan (skills/training/plan.py): the `train` options typed, the method, the
training type and the model continued checked against the files, the model and the region, the
job's `method` body, and the price by training type."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from infra.datasets import StoredDataset
from infra.errors import UserError
from infra.prices import TRAINING_PRICE_PER_1M_TOKENS
from skills.training.plan import Checked, Plan, check_options, make_plan
from skills.validation import validate_file
from tests.training_flow import SAMPLE

DATA = Path(__file__).resolve().parents[2] / "data"
MINI = "gpt-4o-mini-2024-07-18"
GPT35 = "gpt-35-turbo-0125"


def kept(path: Path, model: str = MINI) -> Checked:
    """A file as the bot keeps it after `validate`, with its stored report."""
    stored = StoredDataset("0" * 64, path.name, path, path.stat().st_size)
    return stored, validate_file(path, model=model)


def plan(path: Path, text: str = "", model: str = MINI, **keywords: Any) -> Plan:
    """The plan of `train <text>` on one validated file."""
    options = check_options(dict(word.split("=", 1) for word in text.split()))
    prices = dict(TRAINING_PRICE_PER_1M_TOKENS)
    return make_plan(kept(path, model), None, model, options, prices, **keywords)


CHAT = SAMPLE / "training_set.jsonl"
DPO = DATA / "dpo.jsonl"


@pytest.mark.parametrize(
    ("options", "sentence"),
    [
        ({"method": "sft"}, "Unknown method `sft`"),
        ({"beta": "0"}, "DPO's `beta` must be a number above 0, up to 2"),
        ({"beta": "2.5"}, "DPO's `beta` must be a number above 0, up to 2"),
        ({"beta": "nan"}, "DPO's `beta` must be a number above 0, up to 2"),
        ({"beta": "high"}, "DPO's `beta` must be a number above 0, up to 2"),
        ({"training": "cheap"}, "Unknown training type `cheap`"),
        ({"from": "gpt-4o-mini"}, "`from=` takes a fine-tuned model"),
    ],
)
def test_bad_options_are_one_sentence(options: dict[str, str], sentence: str) -> None:
    with pytest.raises(UserError) as raised:
        check_options(options)
    assert sentence in raised.value.message


def test_options_are_typed() -> None:
    typed = check_options(
        {"method": "DPO", "beta": "0.2", "training": "GlobalStandard", "from": "ftjob-abc123"}
    )
    assert typed == {"method": "dpo", "beta": 0.2, "training": "global", "from": "ftjob-abc123"}
    assert check_options({"training": "developer-tier"}) == {"training": "developer"}
    model = f"{MINI}.ft-0123456789abcdef0123456789abcdef-mine"
    assert check_options({"from": model}) == {"from": model}


def test_the_method_follows_the_file_and_dpo_sends_its_beta_under_the_method() -> None:
    supervised = plan(CHAT, "epochs=2")
    assert supervised.method == "supervised"
    assert supervised.method_body() == {
        "type": "supervised",
        "supervised": {"hyperparameters": {"n_epochs": 2}},
    }
    assert plan(CHAT).method_body() == {"type": "supervised"}
    dpo = plan(DPO, "beta=0.2")
    assert dpo.method == "dpo" and dpo.beta == 0.2
    assert dpo.method_body() == {"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.2}}}


@pytest.mark.parametrize(
    ("path", "text", "model", "sentence"),
    [
        (CHAT, "method=dpo", MINI, "holds chat examples, and DPO trains preference pairs"),
        (CHAT, "beta=0.1", MINI, "`beta` is DPO's setting"),
        (DPO, "method=supervised", MINI, "holds preference pairs (the DPO format)"),
        (DPO, "", GPT35, f"`{GPT35}` does not train with DPO; DPO trains `gpt-4.1-2025-04-14`"),
        (CHAT, "training=global", GPT35, f"`{GPT35}` offers no Global training; use "),
    ],
)
def test_options_that_do_not_fit_the_file_or_the_model(
    path: Path, text: str, model: str, sentence: str
) -> None:
    with pytest.raises(UserError) as raised:
        plan(path, text, model)
    assert sentence in raised.value.message


def test_the_training_type_by_region_and_its_price() -> None:
    with pytest.raises(UserError) as raised:
        plan(CHAT, region="eastus")
    assert raised.value.message == (
        f"`{MINI}` offers no Standard training to a resource in `eastus`; use "
        "`training=global`, `training=developer`."
    )
    with pytest.raises(UserError) as raised:
        plan(CHAT, model=GPT35, region="eastus")
    assert "cannot be fine-tuned by a resource in `eastus`" in raised.value.message
    standard = plan(CHAT, region="northcentralus")
    developer = plan(CHAT, "training=developer", region="eastus")
    assert standard.training_type_name == "Standard"
    assert developer.training_type_name == "Developer"
    assert list(standard.type_prices) == ["standard", "global", "developer"]
    assert list(developer.type_prices) == ["global", "developer"]
    assert standard.price == standard.type_prices["standard"]
    assert developer.price == developer.type_prices["developer"]
    assert developer.price is not None and standard.price is not None
    assert developer.price < developer.type_prices["global"] < standard.price


def test_a_continued_run_trains_the_parent_and_keeps_the_lineage() -> None:
    lineage = (MINI, f"{MINI}.ft-aaaa", f"{MINI}.ft-bbbb")
    continued = plan(CHAT, lineage=lineage)
    assert continued.model == MINI
    assert continued.parent == f"{MINI}.ft-bbbb" == continued.trained_model
    assert continued.lineage == list(lineage)
    assert plan(CHAT).trained_model == MINI
