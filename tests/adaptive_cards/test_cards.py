"""Card builders (adaptive_cards/): each card against its snapshot, every verb a card emits is a
command, and every view a workflow can hand the notifier renders.

A changed card shows as a diff against tests/data/cards/<name>.json; after checking it, write
the new snapshots with `FTBOT_UPDATE_SNAPSHOTS=1 pytest tests/adaptive_cards/test_cards.py`.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from adaptive_cards import (
    chat,
    deployment,
    evaluation,
    help,
    provisioning,
    spend,
    training,
    validation,
)
from adaptive_cards.common import Card
from bot.commands import build_router
from bot.render import render
from infra.azure import Resource
from infra.i18n import duration, later, use
from skills import notify
from skills.audit import AuditEntry
from skills.chat import Answer, ChatSession, DeploymentGone
from skills.checks import CheckFailed, CheckingFiles, FilesOffered, FilesReport
from skills.deployment.views import (
    DeletedForInactivity,
    DeploymentDeleted,
    DeploymentDeleting,
    DeploymentFailed,
    DeploymentList,
    DeploymentPlan,
    DeploymentProgress,
    DeploymentRow,
    DeploymentSucceeded,
    IdleWarning,
)
from skills.evaluation.views import EvalDone, EvalFailed, EvalProgress
from skills.playground import Comparison, Side
from skills.provisioning.records import TeardownItem
from skills.provisioning.views import (
    AuditView,
    KeyRotated,
    KeysView,
    Origin,
    ProvisionFailed,
    ProvisionPlan,
    ProvisionProgress,
    ProvisionSucceeded,
    PurgePlan,
    ResourceView,
    RoleLine,
    RolesView,
    RotatePlan,
    Rotation,
    TeardownPlan,
    TeardownProgress,
)
from skills.sample import write_sample
from skills.spend import Approval, BudgetCheck, BudgetNotice, Costs, DayCost, SpendView
from skills.training.housekeeping import FileList, FileRow
from skills.training.jobs import Checkpoint, Event, JobState, Metric
from skills.training.plan import Dataset, Plan
from skills.training.records import CleanupRequest
from skills.training.safety import safety_check
from skills.training.views import FinalView, JobView
from skills.validation import validate_file

SNAPSHOTS = Path(__file__).parents[1] / "data" / "cards"
RESOURCE = Resource("sub", "group", "aoai-lab", "http://127.0.0.1:9/")
MODEL = "gpt-4o-mini-2024-07-18"
TUNED = f"{MODEL}.ft-0123456789abcdef0123456789abcdef-teacher"
PLAN = DeploymentPlan("teacher", TUNED, "standard", 1, True, 1.7, "f" * 32, 24)
PROVISION = ProvisionPlan(
    "aoai-lab2", "rg-lab", "sub", "northcentralus", "North Central US", False, False, "a" * 32, 24
)
ITEMS = (
    TeardownItem(kind="deployment", id="teacher", label=f"teacher ({TUNED})", state="done"),
    TeardownItem(
        kind="job",
        id="ftjob-1",
        label="ftjob-1 and its fine-tuned model",
        state="failed",
        reason="Azure said no.",
    ),
    TeardownItem(kind="file", id="file-1", label="file-1 (training_set.jsonl)"),
    TeardownItem(
        kind="account", id="aoai-lab2", label="aoai-lab2 (group rg-lab, which stays)", state="done"
    ),
)
TRAINING = Plan(
    model=MODEL,
    training=Dataset(sha256="a" * 64, path="/x", name="training_set.jsonl", examples=16),
    validation=Dataset(sha256="b" * 64, path="/y", name="validation_set.jsonl", examples=12),
    epochs=3,
    suffix="teacher",
    estimated_epochs=3,
    billed_tokens=5166,
    price=0.02,
)


def job(status: str) -> JobState:
    return JobState(
        id="ftjob-0123",
        status=status,
        model=MODEL,
        fine_tuned_model=TUNED if status == "succeeded" else None,
        created_at=0,
        finished_at=None,
        trained_tokens=5166,
        training_file="file-1",
        validation_file="file-2",
        result_files=["file-3"],
        hyperparameters={"n_epochs": 3, "batch_size": 1},
        error_code="invalid_file" if status == "failed" else None,
        error_message="The training file was deleted." if status == "failed" else None,
    )


def answer(text: str) -> Answer:
    return Answer("teacher", text, 40, 12, TUNED, 1.0, "stop")


def cards(tmp_path: Path) -> Iterator[tuple[str, Card]]:
    """Every card the bot sends, built from typical data."""
    router = build_router()
    yield "help", help.help_card(router.listing(), mode="Sandbox mode.")
    yield "help-greeting", help.help_card(router.listing(), mode="Sandbox mode.", greeting=True)
    train = router.describe("train")
    assert train is not None
    yield "help-command", help.command_card(train)
    files = write_sample(tmp_path)
    reports = [validate_file(path) for path in files]
    yield "validation", validation.validation_card(reports, ["a" * 64, "b" * 64], 0.02)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": []}\nnot json\n', encoding="utf-8")
    yield "validation-errors", validation.validation_card([validate_file(bad)], ["c" * 64], None)
    yield "checking", validation.checking_card(["training_set.jsonl"], "downloading")
    yield (
        "check-failed",
        validation.check_failed_card(["t.jsonl"], "t.jsonl came back as a web page, not the file."),
    )
    yield "offer", validation.offer_card(["training_set.jsonl"], ["a" * 64])
    yield "train-confirm", training.confirmation_card(TRAINING, "e" * 32, 24)
    yield (
        "job-running",
        training.job_card(
            JobView(
                "running",
                MODEL,
                TRAINING.files,
                "ftjob-0123",
                5,
                48,
                1.2,
                1.4,
                95.0,
                300.0,
                notice_coming=True,
            )
        ),
    )
    last = Metric(48, 0.4, 0.86, 0.6, 0.8, 0.62, 0.79)
    curve = [[1.0, 2.1], [24.0, 0.9], [48.0, 0.4]]
    checkpoint = Checkpoint("ftchkpt-1", f"{TUNED}:ckpt-step-48", 48, last)
    yield (
        "notice-succeeded",
        training.final_card(
            FinalView(job("succeeded"), TRAINING.files, last, curve, curve, [checkpoint], 600.0)
        ),
    )
    yield (
        "notice-failed",
        training.final_card(
            FinalView(job("failed"), TRAINING.files, None, advice="Fix the file, then train again.")
        ),
    )
    dpo = TRAINING.model_copy(
        update={
            "method": "dpo",
            "beta": 0.2,
            "training_type": "developer",
            "parent": f"{MODEL}.ft-aaaa",
            "lineage": [MODEL, f"{MODEL}.ft-ffff", f"{MODEL}.ft-aaaa"],
            "type_prices": {"standard": 0.02, "global": 0.018, "developer": 0.009},
            "hosting_full": True,
        }
    )
    yield "train-confirm-options", training.confirmation_card(dpo, "e" * 32, 24)
    paused = JobView(
        "paused",
        MODEL,
        TRAINING.files,
        "ftjob-0123",
        20,
        48,
        1.2,
        notice_coming=True,
        training_type="global",
        lineage=(MODEL, f"{MODEL}.ft-aaaa"),
        checkpoint="ftchkpt-20",
    )
    yield "job-paused", training.job_card(paused)
    continued = FinalView(
        job("succeeded"),
        TRAINING.files,
        last,
        curve,
        [],
        [],
        600.0,
        lineage=(MODEL, f"{MODEL}.ft-aaaa"),
    )
    yield "notice-continued", training.final_card(continued)
    flagged = replace(
        job("failed"),
        error_code="invalid_training_file",
        error_message=(
            "The provided training data failed RAI checks for harm types: [hate_fairness, "
            "violence]. Please fix the data and try again."
        ),
    )
    yield (
        "notice-flagged-data",
        training.final_card(FinalView(flagged, TRAINING.files, None, safety=safety_check(flagged))),
    )
    unsafe = replace(
        job("failed"),
        error_code=None,
        error_message=(
            "This model is unable to be deployed. Model evaluation identified that this fine tuned "
            "model scores above acceptable thresholds for [Violence, Self Harm]. Please review "
            "your training data set and resubmit the job."
        ),
    )
    yield (
        "notice-undeployable",
        training.final_card(FinalView(unsafe, TRAINING.files, None, safety=safety_check(unsafe))),
    )
    uploads = FileList(
        "aoai-lab",
        (
            FileRow("file-1", "training_set.jsonl", 9255, 7200.0, ("ftjob-0123", "ftjob-0456")),
            FileRow("file-2", "validation_set.jsonl", 6615, 7200.0, ()),
        ),
    )
    yield "files", training.files_card(uploads)
    for what, target, label in (
        ("file", "file-2", "validation_set.jsonl"),
        ("model", "ftjob-0123", TUNED),
    ):
        request = CleanupRequest(
            token="f" * 32,
            conversation="c",
            user="u",
            created_at=0.0,
            expires_at=1.0,
            resource=RESOURCE,
            what=what,
            target=target,
            label=label,
        )
        yield f"cleanup-confirm-{what}", training.cleanup_confirm_card(request, 24)
    yield "jobs", training.jobs_card([job("succeeded"), job("running")])
    yield (
        "events",
        training.events_card("ftjob-0123", [Event("e1", 1, "info", "Job started.", "message")]),
    )
    yield "cancel-confirm", training.cancel_confirmation_card(job("running"), "c" * 32, 24)
    yield "deploy-confirm", deployment.confirm_card(PLAN)
    yield "deploy-progress", deployment.progress_card(DeploymentProgress(PLAN, "Creating", 75.0))
    yield "deploy-succeeded", deployment.succeeded_card(DeploymentSucceeded(PLAN, 1100.0))
    yield (
        "deploy-failed",
        deployment.failed_card(DeploymentFailed(PLAN, "Out of quota.", "ftjob-0123")),
    )
    row = DeploymentRow(
        "teacher", TUNED, "standard", 1, "Succeeded", 7200.0, 86400.0, 0.1, 14.9, True, 40.8, 1.7
    )
    yield (
        "deployments",
        deployment.deployments_card(
            DeploymentList("aoai-lab", [row], [DeletedForInactivity("old", TUNED)])
        ),
    )
    yield "delete-confirm", deployment.delete_confirm_card("teacher", TUNED, "d" * 32, 24)
    yield (
        "idle-warning",
        deployment.idle_warning_card(IdleWarning("teacher", TUNED, 13 * 86400.0, 2 * 86400.0)),
    )
    yield (
        "inactivity",
        deployment.deleted_for_inactivity_card(DeletedForInactivity("teacher", TUNED)),
    )
    yield "provision-confirm", provisioning.provision_confirm_card(PROVISION)
    yield (
        "provision-progress",
        provisioning.provision_progress_card(
            ProvisionProgress(PROVISION, "Creating the account", "Creating", 12.0)
        ),
    )
    yield (
        "provision-succeeded",
        provisioning.provision_succeeded_card(
            ProvisionSucceeded(PROVISION, "https://aoai-lab2.openai.azure.com/", 95.0, False)
        ),
    )
    yield (
        "resource",
        provisioning.resource_card(
            ResourceView(
                "sub",
                "rg-lab",
                "aoai-lab2",
                "northcentralus",
                "S0",
                "https://aoai-lab2.openai.azure.com/",
                "Entra ID (the bot's own identity)",
                Origin(adopted=False, by="Ada", at=1_767_261_600.0),
                "Succeeded",
            )
        ),
    )
    contributor = RoleLine("Cognitive Services OpenAI Contributor", "Fine-tune.", "account")
    yield (
        "roles",
        provisioning.roles_card(
            RolesView(
                "aoai-lab2",
                (
                    RoleLine(**{**contributor.__dict__, "holders": ("Ada (0a11)",)}),
                    RoleLine("Cognitive Services Usages Reader", "Read quota.", "subscription"),
                ),
            )
        ),
    )
    yield (
        "roles-assigned",
        provisioning.roles_card(
            RolesView(
                "aoai-lab2",
                (RoleLine(**{**contributor.__dict__, "held": True, "note": "assigned now"}),),
                "Ada (0a11)",
                "assigned",
            )
        ),
    )
    yield (
        "keys",
        provisioning.keys_card(
            KeysView(
                "aoai-lab2",
                "https://aoai-lab2.openai.azure.com/",
                "key auth with KEY1",
                {"key1": "••••abcd", "key2": "••••ef01"},
                "key1",
                {"key2": Rotation(1_767_261_600.0, "Ada")},
            )
        ),
    )
    yield (
        "keys-rotate-confirm",
        provisioning.rotate_confirm_card(RotatePlan("aoai-lab2", "key1", "key1", "b" * 32, 24)),
    )
    yield (
        "keys-rotated",
        provisioning.rotated_card(
            KeyRotated("aoai-lab2", "key1", "key2", True, {"key1": "••••9999", "key2": "••••ef01"})
        ),
    )
    yield (
        "teardown-confirm",
        provisioning.teardown_confirm_card(
            TeardownPlan("aoai-lab2", "rg-lab", ITEMS, "c" * 32, 24)
        ),
    )
    yield (
        "teardown-progress",
        provisioning.teardown_progress_card(TeardownProgress("aoai-lab2", ITEMS, True, True)),
    )
    yield (
        "purge-confirm",
        provisioning.purge_confirm_card(
            PurgePlan("aoai-lab2", "rg-lab", "northcentralus", "2026-01-03", "d" * 32, 24)
        ),
    )
    entry = AuditEntry(
        id="1",
        at=1.7e9,
        user="0a11",
        user_name="Ada",
        action="teardown",
        target="aoai-lab2",
        resource="aoai-lab2 (rg-lab)",
        outcome="partly done",
        detail=later(
            "deleted {deleted} of {total}; not deleted: {items}",
            deleted=3,
            total=4,
            items="ftjob-1",
        ),
    )
    yield "audit", provisioning.audit_card(AuditView((entry,)))
    session = ChatSession(
        conversation="c",
        user="u",
        resource=RESOURCE,
        deployment="teacher",
        model=TUNED,
        system="The system is an AI teacher that helps people learn about AI",
        examples=[("What are the types of AI?", "Narrow, general and super intelligence.")],
    )
    yield "chat-session", chat.session_card(session)
    yield (
        "compare",
        chat.compare_card(
            Comparison(
                "What is AI?",
                Side("teacher", answer("Software that learns.")),
                Side("base", None, DeploymentGone("base").message),
            )
        ),
    )
    yield "evaluate-confirm", evaluation.confirm_card(EVAL_SETUP, "token", 24)
    yield "evaluate-progress", evaluation.progress_card(EvalProgress(EVAL_SETUP, 3, 5))
    yield "evaluate-result", evaluation.result_card(EvalDone(EVAL_SETUP, EVAL_OUTCOME))
    yield "evaluate-failed", evaluation.failed_card(EvalFailed(EVAL_SETUP, "why."))
    yield from spend_cards_of()


def spend_cards_of() -> Iterator[tuple[str, Card]]:
    """The `spend` and `budget` cards: actual cost, the labelled estimate, the budget, approval."""
    costs = Costs(
        "USD",
        (
            DayCost(dt.date(2026, 12, 3), training=0.03, hosting=6.8),
            DayCost(dt.date(2026, 12, 4), hosting=13.6, inference=0.01),
        ),
    )
    view = SpendView("aoai-lab2", "month", costs, 0.5, 1.7, since=1_796_000_000.0, budget=50.0)
    yield "spend", spend.spend_card(view)
    yield (
        "spend-euro",
        spend.spend_card(SpendView("aoai-lab2", "30days", Costs("EUR"), estimated=False)),
    )
    yield "budget", spend.budget_card(None)
    check = BudgetCheck(50.0, 48.0, 3.3)
    approval = Approval(
        token="t",
        conversation="c",
        asker="u",
        asker_name="Tom",
        what=f"{MODEL} on a.jsonl",
        check=check,
    )
    yield "spend-approval", spend.approval_card(approval)
    yield (
        "spend-approved",
        spend.approval_card(approval.model_copy(update={"state": "approved", "by": "Ada"})),
    )


def _verbs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if node.get("type") in ("Action.Submit", "Action.Execute"):
            data = node.get("data") or {}
            yield str(node.get("verb") or data.get("verb"))
        for value in node.values():
            yield from _verbs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _verbs(value)


def test_every_card_matches_its_snapshot(tmp_path: Path) -> None:
    update = os.environ.get("FTBOT_UPDATE_SNAPSHOTS") == "1"
    SNAPSHOTS.mkdir(parents=True, exist_ok=True)
    for name, content in cards(tmp_path):
        path = SNAPSHOTS / f"{name}.json"
        shown = json.dumps(content, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
        if update:
            path.write_text(shown, encoding="utf-8")
        assert path.exists(), f"no snapshot of {name}: run with FTBOT_UPDATE_SNAPSHOTS=1"
        assert shown == path.read_text(encoding="utf-8"), f"card {name} changed"


def test_every_verb_a_card_emits_is_a_command(tmp_path: Path) -> None:
    router = build_router()
    emitted = {verb for _, content in cards(tmp_path) for verb in _verbs(content)}
    assert emitted >= {"train-confirm", "deploy", "keep-alive", "delete-confirm", "chat"}
    assert emitted >= {"provision-confirm", "teardown-confirm", "purge", "keys-rotate-confirm"}
    assert sorted(v for v in emitted if router.find(v) is None) == []


from tests.adaptive_cards.test_evaluation import OUTCOME as EVAL_OUTCOME  # noqa: E402
from tests.adaptive_cards.test_evaluation import SETUP as EVAL_SETUP  # noqa: E402

VIEWS: list[notify.View] = [
    JobView("running", MODEL, "a.jsonl"),
    FinalView(job("succeeded"), "a.jsonl", None, [[1.0, 2.0], [2.0, 1.0]]),
    DeploymentProgress(PLAN, "Creating", 1.0),
    DeploymentSucceeded(PLAN, 1.0),
    DeploymentFailed(PLAN, "why", "ref"),
    DeploymentDeleting("teacher"),
    DeploymentDeleted("teacher"),
    IdleWarning("teacher", TUNED, 1.0, 2.0),
    DeletedForInactivity("teacher", TUNED),
    ProvisionProgress(PROVISION, "Creating the account", "Creating", 1.0),
    ProvisionSucceeded(PROVISION, "https://aoai-lab2.openai.azure.com/", 1.0, True, "note"),
    ProvisionFailed(PROVISION, "why"),
    TeardownProgress("aoai-lab2", ITEMS, False, False),
    BudgetNotice("aoai-lab2", 0.8, 40.0, 50.0, "USD"),
    EvalProgress(EVAL_SETUP, 1, 2),
    EvalDone(EVAL_SETUP, EVAL_OUTCOME),
    EvalFailed(EVAL_SETUP, "why"),
]


def _subclasses(kind: type[notify.View]) -> set[type[notify.View]]:
    found = set(kind.__subclasses__())
    return found.union(*(_subclasses(k) for k in found))


def test_every_view_renders_as_a_card_with_a_summary(tmp_path: Path) -> None:
    report = validate_file(write_sample(tmp_path)[0])
    views = [
        *VIEWS,
        CheckingFiles(("a.jsonl",), "validating"),
        CheckFailed(("a.jsonl",), "why."),
        FilesReport((report,), ("a" * 64,), 0.01),
        FilesOffered(("a.jsonl",), ("a" * 64,)),
    ]
    assert {type(v) for v in views} == _subclasses(notify.View)
    for view in views:
        activity = render(view)
        assert activity.attachments[0].content_type == "application/vnd.microsoft.card.adaptive"
        assert activity.summary and not activity.text
    # the notice is one card: its chart's PNG is the Chart.Line's fallback, not a second
    # attachment that Teams desktop would show beside the chart it draws
    [notice] = render(VIEWS[1]).attachments
    chart = next(e for e in notice.content["body"] if e["type"] == "Chart.Line")
    png = base64.b64decode(chart["fallback"]["url"].removeprefix("data:image/png;base64,"))
    assert chart["fallback"]["type"] == "Image" and png.startswith(b"\x89PNG")
    image = Image.open(io.BytesIO(png))
    assert image.size == (640, 320)  # twice the width a phone shows it at
    # no white box in the dark theme: a transparent background, grey text, two line colours
    assert image.mode == "P" and image.info["transparency"] == 0 and image.getpixel((0, 0)) == 0


@pytest.mark.parametrize(
    ("seconds", "english", "korean"),
    [
        (44.6, "45 sec", "45초"),
        (200, "3 min 20 sec", "3분 20초"),
        (3900, "1 hr 5 min", "1시간 5분"),
        (2 * 86400 + 8640, "2.1 days", "2.1일"),
    ],
)
def test_durations_read_as_words(seconds: float, english: str, korean: str) -> None:
    assert duration(seconds) == english
    with use("ko"):
        assert duration(seconds) == korean
