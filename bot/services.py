"""What handlers need besides the turn: settings, storage, the notifier; built once in app.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.notifier import Notifier
from infra.settings import Settings
from infra.storage import SqliteStorage
from infra.tasks import Tasks
from skills.datasets import DatasetStore

if TYPE_CHECKING:
    from bot.hosting import Hosting
    from bot.watcher import JobWatcher


@dataclass(frozen=True)
class Services:
    """The bot's long-lived collaborators, passed to every command handler."""

    settings: Settings
    storage: SqliteStorage
    notifier: Notifier
    tasks: Tasks
    datasets: DatasetStore
    watcher: JobWatcher
    hosting: Hosting  # deployments and chat: Azure clients, service clock, background work
