"""Training in Korean: every card, notice and sentence of the training area says the bot's own
words in Korean (names, ids, codes and Azure's words quoted), English stays English, and a job
started in Korean is announced in Korean whoever's turn or restart carries the watch on (that
one end to end: tests/e2e/test_watcher.py, the restart in both languages)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from adaptive_cards import charts, training
from adaptive_cards.charts import loss_chart_png
from adaptive_cards.common import Card
from bot.render import render
from bot.training import parse_events, parse_job, parse_train
from infra import i18n
from infra.errors import UserError
from skills.training.jobs import Checkpoint, Event, Metric, failure_advice
from skills.training.plan import check_options, verdict
from skills.training.records import JobRecord
from skills.training.views import FinalView, JobView, job_view
from skills.validation import validate_file
from tests.adaptive_cards.test_cards import MODEL, RESOURCE, TRAINING, TUNED, job
from tests.korean import english, texts_of
from tests.training_flow import SAMPLE

HANGUL = re.compile(r"[\uac00-\ud7a3]")


def _cards() -> Iterator[tuple[str, Card]]:
    """Every training card, built from typical results."""
    last = Metric(48, 0.4, 0.86, 0.6, 0.8, 0.62, 0.79)
    curve = [[1.0, 2.1], [24.0, 0.9], [48.0, 0.4]]
    checkpoint = Checkpoint("ftchkpt-1", f"{TUNED}:ckpt-step-48", 48, last)
    yield "confirm", training.confirmation_card(TRAINING, "e" * 32, 24)
    yield "confirm-1h", training.confirmation_card(TRAINING, "e" * 32, 1)
    auto = TRAINING.model_copy(
        update={"epochs": None, "validation": None, "price": None, "batch_size": 4}
    )
    yield "confirm-auto", training.confirmation_card(auto.model_copy(update={"seed": 7}), "e", 24)
    for status in training.STATUS_LABELS:
        view = JobView(status, MODEL, TRAINING.files, "ftjob-0123", 5, 48, 1.2, 1.4, 95.0, 300.0)
        yield f"job-{status}", training.job_card(view)
    yield "job-new", training.job_card(JobView("uploading", MODEL, TRAINING.files))
    yield (
        "notice-succeeded",
        training.final_card(
            FinalView(job("succeeded"), TRAINING.files, last, curve, curve, [checkpoint], 600.0)
        ),
    )
    for status in ("failed", "cancelled"):
        advice = failure_advice("invalid_file") if status == "failed" else None
        view = FinalView(job(status), TRAINING.files, None, advice=advice)
        yield f"notice-{status}", training.final_card(view)
    silent = FinalView(job("failed"), TRAINING.files, None, advice=failure_advice(None))
    yield "notice-no-reason", training.final_card(_without_reason(silent))
    yield "jobs", training.jobs_card([job("succeeded"), job("running"), job("failed")])
    yield "jobs-none", training.jobs_card([])
    events = [
        Event("e1", 1, "info", "Job started.", "message"),
        Event("e2", 2, "error", "Training file is invalid.", "message"),
    ]
    yield "events", training.events_card("ftjob-0123", events)
    yield "events-none", training.events_card("ftjob-0123", [])
    yield "cancel", training.cancel_confirmation_card(job("running"), "c" * 32, 24)
    yield "answered", training.notice_card("학습 시작 승인됨", "본문")


def _without_reason(view: FinalView) -> FinalView:
    return replace(view, job=replace(view.job, error_message=None, error_code=None))


def test_every_training_card_is_korean_in_korean() -> None:
    with i18n.use("ko"):
        shown = {name: texts_of({"attachments": [{"content": c}]}) for name, c in _cards()}
    found = {name: english(texts) for name, texts in shown.items() if english(texts)}
    assert found == {}
    confirm = "\n".join(shown["confirm"])
    assert "미세 조정을 시작할까요?" in confirm and "학습 시작" in confirm and "취소" in confirm
    assert "training_set.jsonl(예시 16개)" in confirm
    assert "24시간" in confirm
    assert "학습 성공" in shown["notice-succeeded"]
    assert "단계별 손실" in shown["notice-succeeded"]


def test_every_training_card_stays_english_in_english() -> None:
    with i18n.use("en"):
        for name, content in _cards():
            if name == "answered":
                continue
            texts = texts_of({"attachments": [{"content": content}]})
            assert not any(HANGUL.search(t) for t in texts), name
    content = training.confirmation_card(TRAINING, "e" * 32, 24)
    texts = texts_of({"attachments": [{"content": content}]})
    assert "Start fine-tuning?" in texts
    assert "`training_set.jsonl (16 examples)`" in texts  # the name, quoted (a TextRun)
    assert "about $0.02 (estimate)" in texts
    assert "5,166 (estimate)" in texts


def test_the_rendered_notice_and_job_card_are_korean() -> None:
    """Through bot/render.py, as Notify sends them (the chart image is drawn too)."""
    curve = [[1.0, 2.0], [2.0, 1.0]]
    with i18n.use("ko"):
        views = [
            JobView("running", MODEL, "a.jsonl", "ftjob-0123", 3, 10, 1.0, None, 30.0, 60.0),
            FinalView(job("succeeded"), "a.jsonl", Metric(2, 1.0), curve, curve),
            FinalView(job("failed"), "a.jsonl", None, advice=failure_advice("quota_exceeded")),
        ]
        for view in views:
            activity = render(view).serialize()
            assert english(texts_of(activity)) == [], activity
    # the chart's words: Korean, drawn with the NanumGothic every install has
    english_png = loss_chart_png(curve, curve)
    with i18n.use("ko"):
        assert charts._font("ko") == "NanumGothic"
        assert charts._labels(None)[:5] == ("손실", "학습", "검증", "단계", "손실")
        korean_png = loss_chart_png(curve, curve)
    assert english_png.startswith(b"\x89PNG") and korean_png.startswith(b"\x89PNG")
    assert korean_png != english_png


def test_the_job_view_of_a_failed_job_quotes_azure() -> None:
    record = JobRecord(job="ftjob-0123", resource=RESOURCE, conversation="c", model=MODEL)
    with i18n.use("ko"):
        view = job_view(record, job("failed"))
        content = training.job_card(view)
        assert english(texts_of({"attachments": [{"content": content}]})) == []
    assert view.error == "The training file was deleted."  # Azure's words, as Azure wrote them
    runs = [r for e in content["body"] if e["type"] == "RichTextBlock" for r in e["inlines"]]
    assert view.error in [run["text"] for run in runs]  # a TextRun: never read as markdown


def _refusal(work: Callable[[], object]) -> str:
    with pytest.raises(UserError) as raised:
        work()
    return raised.value.message


@pytest.mark.parametrize(
    "work",
    [
        lambda: check_options({"epochs": "many"}),
        lambda: check_options({"batch": "0"}),
        lambda: check_options({"seed": "-1"}),
        lambda: check_options({"lr": "11"}),
        lambda: check_options({"suffix": "no spaces"}),
        lambda: parse_train("colour blue", {}),
        lambda: parse_train("", {"datasets": ["x"]}),
        lambda: parse_job("", {}),
        lambda: parse_job("not/a/job", {}),
        lambda: parse_job("ftjob-1 ftjob-2", {}),
        lambda: parse_events("ftjob-1 2 3", {}),
        lambda: parse_events("ftjob-1 99", {}),
    ],
)
def test_refusals_are_korean_in_korean(work: Callable[[], object]) -> None:
    english_message = _refusal(work)
    assert not HANGUL.search(english_message)
    with i18n.use("ko"):
        korean = _refusal(work)
    assert HANGUL.search(korean) and english([korean]) == [], korean


def test_the_verdict_on_a_bad_file_is_korean(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    good = (SAMPLE / "training_set.jsonl").read_text(encoding="utf-8").strip()
    bad.write_text(good + '\n{"messages": []}\nnot json\n', encoding="utf-8")
    report = validate_file(bad)
    assert not report.file_errors  # those are the validation's words, not the plan's
    assert "invalid examples" in verdict(report)
    with i18n.use("ko"):
        said = verdict(report)
    assert "잘못된 예시" in said and english([said]) == [], said
