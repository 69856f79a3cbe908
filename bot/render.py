"""Views -> Bot Framework activities: the one place a workflow's data becomes a card message.

A message carries one Adaptive Card and no `text` beside it (some clients split text + card into
two messages, and the card could then not be updated in place); `summary` is the notification
preview. The training notice's loss chart is in its card: a Chart.Line with the PNG as its
fallback (adaptive_cards/training.py `loss_chart`).
"""

from __future__ import annotations

from botbuilder.core import CardFactory, MessageFactory
from botbuilder.schema import Activity

from adaptive_cards import deployment as hosting_cards
from adaptive_cards import evaluation as evaluation_cards
from adaptive_cards import provisioning as provisioning_cards
from adaptive_cards import spend as spend_cards
from adaptive_cards.common import Card
from adaptive_cards.training import final_card, job_card, status_label
from adaptive_cards.validation import check_failed_card, checking_card, offer_card, validation_card
from infra.i18n import N_, _
from infra.text import unmarked
from skills.checks import CheckFailed, CheckingFiles, FilesOffered, FilesReport
from skills.deployment.views import (
    DeletedForInactivity,
    DeploymentDeleted,
    DeploymentDeleting,
    DeploymentFailed,
    DeploymentProgress,
    DeploymentSucceeded,
    IdleWarning,
)
from skills.evaluation.views import EvalDone, EvalFailed, EvalProgress
from skills.notify import View
from skills.provisioning.views import (
    ProvisionFailed,
    ProvisionProgress,
    ProvisionSucceeded,
    TeardownProgress,
)
from skills.spend import BudgetNotice
from skills.training.views import FinalView, JobView

NOTICE_SUMMARIES = {
    "succeeded": N_("Training succeeded: {model}"),
    "failed": N_("Training failed: {reason}"),
    "cancelled": N_("Training cancelled: {job}"),
}
"""A training notice's preview text per final status (a template: translated where it is said)."""
ENDED_SUMMARY = N_("Training ended: {status}")
"""The preview text of a notice with another final status."""


def card_activity(content: Card, summary: str = "") -> Activity:
    """A message carrying one Adaptive Card; `summary` is the notification preview text."""
    activity = MessageFactory.attachment(CardFactory.adaptive_card(content))
    if summary:
        activity.summary = unmarked(summary)
    return activity


def _notice(view: FinalView) -> Activity:
    job = view.job
    summary = _(
        NOTICE_SUMMARIES.get(job.status, ENDED_SUMMARY),
        model=job.fine_tuned_model,
        reason=job.error_message or job.id,
        job=job.id,
        status=status_label(job.status),
    )
    return card_activity(final_card(view), summary)


def render(view: View) -> Activity:
    """The message that shows `view` (the notice's chart is drawn here: run it off the loop).

    It speaks the current language: a workflow that sends later sets its starter's around the
    `send`/`update` that renders here."""
    match view:
        case JobView():
            return card_activity(
                job_card(view), _("Fine-tuning: {status}", status=status_label(view.status))
            )
        case FinalView():
            return _notice(view)
        case DeploymentProgress():
            return card_activity(
                hosting_cards.progress_card(view), _("Deploying {name}", name=view.plan.name)
            )
        case DeploymentSucceeded():
            return card_activity(
                hosting_cards.succeeded_card(view), _("{name} is deployed", name=view.plan.name)
            )
        case DeploymentFailed():
            return card_activity(
                hosting_cards.failed_card(view),
                _("Deployment of {name} failed", name=view.plan.name),
            )
        case DeploymentDeleting():
            content = hosting_cards.deleting_card(hosting_cards.deleting_sentence(view.name))
            return card_activity(content, _("Deleting {name}", name=view.name))
        case DeploymentDeleted():
            content = hosting_cards.deleted_card(view)
            return card_activity(content, _("{name} is deleted", name=view.name))
        case BudgetNotice():
            return card_activity(
                spend_cards.budget_notice_card(view), _("Budget of {account}", account=view.account)
            )
        case IdleWarning():
            return card_activity(
                hosting_cards.idle_warning_card(view),
                _("{name} will be deleted for inactivity", name=view.name),
            )
        case EvalProgress():
            content = evaluation_cards.progress_card(view)
            return card_activity(content, _("Evaluating {name}", name=view.setup.target))
        case EvalDone():
            content = evaluation_cards.result_card(view)
            return card_activity(content, _("Evaluation of {name}", name=view.setup.target))
        case EvalFailed():
            content = evaluation_cards.failed_card(view)
            return card_activity(content, _("Evaluation of {name} failed", name=view.setup.target))
        case CheckingFiles():
            return card_activity(checking_card(view.names, view.stage), _("Checking your files"))
        case FilesReport():
            content = validation_card(list(view.reports), list(view.ids), view.price)
            return card_activity(content, view.reports[0].summary())
        case CheckFailed():
            return card_activity(check_failed_card(view.names, view.message), view.message)
        case FilesOffered():
            return card_activity(offer_card(view.names, view.ids), _("Shall I check these files?"))
        case DeletedForInactivity():
            return card_activity(
                hosting_cards.deleted_for_inactivity_card(view),
                _("{name} was deleted for inactivity", name=view.name),
            )
        case ProvisionProgress():
            content = provisioning_cards.provision_progress_card(view)
            return card_activity(content, _("Provisioning {account}", account=view.plan.account))
        case ProvisionSucceeded():
            content = provisioning_cards.provision_succeeded_card(view)
            return card_activity(content, _("{account} is ready", account=view.plan.account))
        case ProvisionFailed():
            content = provisioning_cards.provision_failed_card(view)
            return card_activity(
                content, _("Provisioning {account} failed", account=view.plan.account)
            )
        case TeardownProgress():
            content = provisioning_cards.teardown_progress_card(view)
            if view.finished:
                summary = _("Teardown of {account}: done", account=view.account)
            else:
                summary = _("Teardown of {account}: in progress", account=view.account)
            return card_activity(content, summary)
    raise TypeError(f"no card for {type(view).__name__}")
