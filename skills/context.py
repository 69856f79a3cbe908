"""What every workflow needs, built once at start (app.py) and passed in: no skill reads the
environment or reaches for a global."""

from __future__ import annotations

from dataclasses import dataclass

from infra.azure import Azure
from infra.datasets import DatasetStore
from infra.ownership import Ownership
from infra.records import RecordStore
from infra.settings import Settings
from infra.tasks import Tasks
from skills.audit import Audit
from skills.claims import Claims
from skills.confirmations import Confirmations
from skills.notify import Notify
from skills.service_clock import ServiceClock


@dataclass(frozen=True)
class Context:
    """The settings and the infrastructure the skills run on."""

    settings: Settings
    records: RecordStore
    azure: Azure
    notify: Notify
    tasks: Tasks
    owners: Ownership
    claims: Claims
    confirmations: Confirmations
    clock: ServiceClock
    datasets: DatasetStore
    audit: Audit
