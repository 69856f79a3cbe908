"""Azure's safety-check failures read from a job's error (skills/training/safety.py), with the
messages Microsoft Learn documents ("Safety evaluation for fine-tuning")."""

from __future__ import annotations

from dataclasses import replace

from infra import i18n
from skills.training.jobs import JobState
from skills.training.safety import SafetyCheck, safety_check

DATA = (
    "The provided training data failed RAI checks for harm types: [hate_fairness, self_harm, "
    "violence]. Please fix the data and try again."
)
MODEL = (
    "This model is unable to be deployed. Model evaluation identified that this fine tuned model "
    "scores above acceptable thresholds for [Violence, Self Harm]. Please review your training "
    "data set and resubmit the job."
)
FAILED = JobState(
    id="ftjob-1",
    status="failed",
    model="gpt-4o-mini-2024-07-18",
    fine_tuned_model=None,
    created_at=0,
    finished_at=1,
    trained_tokens=None,
    training_file="file-1",
    validation_file=None,
    result_files=[],
    hyperparameters={},
)


def test_flagged_training_data() -> None:
    found = safety_check(replace(FAILED, error_code="invalid_training_file", error_message=DATA))
    assert found == SafetyCheck("data", ("hate_fairness", "self_harm", "violence"))
    assert found.labels() == "hate and unfairness, self-harm, violence"


def test_a_model_that_cannot_be_deployed() -> None:
    found = safety_check(replace(FAILED, error_message=MODEL))
    assert found == SafetyCheck("model", ("violence", "self_harm"))
    with i18n.use("ko"):
        assert found.labels() == "폭력, 자해"


def test_other_failures_and_other_states_are_not_safety_checks() -> None:
    assert safety_check(replace(FAILED, error_message="The file has too few examples.")) is None
    assert safety_check(FAILED) is None
    assert safety_check(replace(FAILED, status="succeeded", error_message=DATA)) is None


def test_a_category_azure_adds_later_is_shown_as_it_is() -> None:
    message = "The provided training data failed RAI checks for harm types: [Protected Material]."
    found = safety_check(replace(FAILED, error_message=message))
    assert found == SafetyCheck("data", ("protected_material",))
    assert found.labels() == "`protected_material`"
