"""The job fold (skills/training/fold.py): what one poll changes in the bot's record of a job."""

from __future__ import annotations

from infra.azure import Resource
from skills.training.fold import fold
from skills.training.jobs import Event, JobState
from skills.training.records import JobRecord

RESOURCE = Resource("sub", "group", "account", "http://127.0.0.1:9/")


def job(status: str, **hyper: int) -> JobState:
    return JobState(
        id="ftjob-1",
        status=status,
        model="gpt-4o-mini-2024-07-18",
        fine_tuned_model=None,
        created_at=0,
        finished_at=None,
        trained_tokens=None,
        training_file="file-1",
        validation_file=None,
        result_files=[],
        hyperparameters=dict(hyper),
    )


def metric(n: int, step: int, train: float, valid: float | None = None) -> Event:
    data: dict[str, float] = {"step": step, "train_loss": train}
    if valid is not None:
        data["valid_loss"] = valid
    return Event(f"ev-{n}", n, "info", f"Step {step}/12: training loss={train}", "metrics", data)


def record(**fields: object) -> JobRecord:
    return JobRecord.model_validate(
        {"job": "ftjob-1", "resource": RESOURCE, "conversation": "c", "examples": 16, **fields}
    )


def test_metrics_move_the_step_losses_curves_and_cursor() -> None:
    events = [metric(1, 1, 2.5, 2.7), metric(2, 2, 2.0), metric(3, 3, 1.8, 2.1)]
    after = fold(record(), job("running"), events, now=100.0)
    assert (after.step, after.total, after.train_loss, after.valid_loss) == (3, 12, 1.8, 2.1)
    assert after.series.train == [[1.0, 2.5], [2.0, 2.0], [3.0, 1.8]]
    assert after.series.valid == [[1.0, 2.7], [3.0, 2.1]]
    assert after.last_event == "ev-3" and after.running_since == 100.0 and after.dirty


def test_an_old_metric_read_again_does_not_move_the_step_back() -> None:
    before = fold(record(), job("running"), [metric(1, 5, 1.0)], now=1.0)
    shown = before.model_copy(update={"dirty": False})
    after = fold(shown, job("running"), [metric(2, 4, 9.0)], now=2.0)
    assert (after.step, after.train_loss) == (5, 1.0)
    assert after.series.train == [[5.0, 1.0]]  # a point behind the curve's end is not added
    assert not after.dirty  # nothing the card shows changed
    assert after.running_since == 1.0  # the start of the run stays


def test_without_events_the_total_comes_from_the_hyperparameters() -> None:
    after = fold(record(), job("pending", n_epochs=3, batch_size=4), [], now=5.0)
    assert (after.total, after.step, after.running_since) == (12, None, None)
    assert after.last_event is None and not after.dirty  # pending, as the record said


def test_the_end_of_a_job_is_stamped_once() -> None:
    ended = fold(record(), job("succeeded"), [], now=50.0)
    again = fold(ended, job("succeeded"), [], now=60.0)
    assert ended.ended_at == again.ended_at == 50.0


def test_the_fold_does_not_change_the_record_it_was_given() -> None:
    before = record()
    fold(before, job("running"), [metric(1, 1, 2.5)], now=1.0)
    assert before.step is None and before.series.train == []
