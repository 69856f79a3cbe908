"""What command handlers call: the skills, built once in app.py with their dependencies."""

from __future__ import annotations

from dataclasses import dataclass

from infra.graph import Graph
from infra.settings import Settings
from skills.audit import Audit
from skills.checks import FileChecks
from skills.claims import Claims
from skills.confirmations import Confirmations
from skills.datasets import Datasets
from skills.deployment.service import Hosting
from skills.evaluation.service import Evaluation
from skills.languages import Languages
from skills.playground import Playground
from skills.provisioning.access import Access
from skills.provisioning.service import Provisioning
from skills.provisioning.teardown import Teardown
from skills.resources import Resources
from skills.spend import Spend
from skills.training.service import Training


@dataclass(frozen=True)
class Services:
    """The skills a turn can use (none of them knows this object)."""

    settings: Settings
    claims: Claims
    confirmations: Confirmations
    datasets: Datasets
    checks: FileChecks
    training: Training
    hosting: Hosting
    evaluation: Evaluation
    playground: Playground
    resources: Resources
    provisioning: Provisioning
    access: Access
    teardown: Teardown
    audit: Audit
    languages: Languages
    spend: Spend
    graph: Graph | None = None
    """Microsoft Graph as the bot's app (files in channels and group chats); None without an
    app registration."""
