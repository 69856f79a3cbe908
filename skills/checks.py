"""Checking files in the background: download, keep, validate, and report on one card.

A turn that gets files (or a "Validate" press) only records a `FileCheck` and posts the
"Checking your files..." card; this workflow then downloads and validates, so the turn answers
its HTTP request before any long work starts. It runs in a tracked task, owned through
`ctx.owners` (one owner at a time with several instances), updates the card in place, and is
resumed after a restart from its stage: files already kept are not fetched again, and a link
that no longer works is reported on the card. Validation runs in a worker process
(`Validator`), so no input can stall the event loop; each report is stored
(`ValidationResult`) for `train` and "Show all errors", which read it instead of validating
again.

Which files a check takes (one or two JSONL files) is decided here, and so is the channel relay:
where Graph cannot read a channel's files, the person is asked to send them in a personal chat
(`ask_relay`), and the next validation there is reported in the channel too. The download comes
in as a `Download` callable (infra/downloads.py), so this module never sees how files are fetched.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel

from infra import i18n
from infra.downloads import IncomingFile
from infra.errors import UserError, unexpected
from infra.records import Key, Record
from infra.workers import process_pool
from skills.confirmations import new_token
from skills.context import Context
from skills.datasets import Datasets, ValidatedSet, ValidationResult, order_files
from skills.notify import NotDelivered, View, try_show
from skills.records import Confirmation, Spoken
from skills.validation import ValidationReport, check_choice, estimated_price, validate_file

log = logging.getLogger(__name__)

FORGET_AFTER = 24 * 3600.0
"""A finished check's record is dropped at start this long after it began."""
RELAY_SECONDS = 24 * 3600.0
"""How long a channel's request to send the files in a personal chat stays open."""
JSONL_SUFFIXES = (".jsonl", ".json", ".txt")
"""The names a training file may have."""


# -- the records ---------------------------------------------------------------------------------


class CheckedFile(BaseModel):
    """One file of a check: its name, where to fetch it, and once kept its id."""

    name: str
    url: str = ""
    sha256: str = ""
    source: Literal["attachment", "graph"] = "attachment"
    """attachment: a URL the channel gave; graph: a file a channel or group-chat message
    refers to, fetched through Microsoft Graph with the bot's own token in `tenant`."""
    tenant: str = ""


CheckStage = Literal["downloading", "validating", "done", "failed"]


class FileCheck(Record, Spoken):
    """Files being downloaded and validated in the background, reported on one card."""

    prefix = "checks/"

    token: str
    conversation: str
    user: str
    service_url: str
    """Where the files were sent from (which addresses a download may reach)."""
    files: list[CheckedFile]
    purpose: Literal["validate", "offer"] = "validate"
    """validate: the report card; offer: files attached with no text, offered for validation."""
    model: str = ""
    epochs: int | None = None
    stage: CheckStage = "downloading"
    card: str = ""
    error: str = ""
    at: float = 0.0
    share_to: str = ""
    """A channel or group chat that asked for this check from a personal chat (ChannelRelay):
    the report is posted there too."""

    @classmethod
    def at_token(cls, token: str) -> Key[FileCheck]:
        """The key of a check."""
        return Key(cls, f"{cls.prefix}{token}")

    def key(self) -> Key[FileCheck]:
        """Where this record is stored."""
        return self.at_token(self.token)

    @property
    def finished(self) -> bool:
        """The card shows the outcome."""
        return self.stage in ("done", "failed")


class ChannelRelay(Confirmation):
    """A channel (or group chat) whose files a user was asked to send in a personal chat: that
    user's next check there is reported in `conversation` too. One per user."""

    prefix = "relay/"

    name: str = ""
    """What the channel is called, for the personal chat's card."""

    @classmethod
    def at(cls, user: str) -> Key[ChannelRelay]:
        """The key of a user's relay."""
        return Key(cls, f"{cls.prefix}{user}")

    def key(self) -> Key[ChannelRelay]:
        """Where this record is stored."""
        return self.at(self.user)


class Download(Protocol):
    """Fetches one file of a check, sent in a conversation served at `service_url` (with
    `graph_tenant`: a Microsoft Graph content URL, read as the bot in that tenant); chunks of
    bytes, or a UserError with the one sentence why not."""

    def __call__(
        self, file: IncomingFile, service_url: str, max_bytes: int, graph_tenant: str | None = None
    ) -> AsyncIterator[bytes]:
        """The file's bytes, chunk by chunk."""
        ...


def check_files(files: Sequence[CheckedFile]) -> None:
    """One or two JSONL files (a training file and maybe a validation file), else one sentence
    why not."""
    if not files:
        raise UserError(
            "Attach your training file (and optionally a validation file) to the message that "
            "says `validate`. No data yet? Type `sample`."
        )
    if len(files) > 2:
        raise UserError("Attach at most two files: a training file and a validation file.")
    for file in files:
        if not file.name.lower().endswith(JSONL_SUFFIXES):
            raise UserError(
                "{name} is not a JSONL file; attach a .jsonl file with one JSON example per line.",
                name=file.name,
            )


# -- views -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckingFiles(View):
    """The card while files are being fetched or validated."""

    names: tuple[str, ...]
    stage: Literal["downloading", "validating"]


@dataclass(frozen=True)
class CheckFailed(View):
    """The card when a check could not finish: the one sentence why."""

    names: tuple[str, ...]
    message: str


@dataclass(frozen=True)
class FilesReport(View):
    """The report card: the files in (training, validation) order, their ids and the price."""

    reports: tuple[ValidationReport, ...]
    ids: tuple[str, ...]
    price: float | None


@dataclass(frozen=True)
class FilesOffered(View):
    """Files attached with no text, kept and offered for validation."""

    names: tuple[str, ...]
    ids: tuple[str, ...]


@dataclass(frozen=True)
class CheckStarted:
    """A check that runs in the background, and where else its report goes."""

    check: FileCheck
    shared_with: str = ""
    """The name of the channel that asked for the report too ('' when none did)."""


def first_view(check: FileCheck) -> CheckingFiles:
    """What the card shows when the check starts."""
    stage: Literal["downloading", "validating"] = (
        "downloading" if check.stage == "downloading" else "validating"
    )
    return CheckingFiles(tuple(f.name for f in check.files), stage)


# -- validation off the event loop ---------------------------------------------------------------


class Validator:
    """Runs `validate_file` in a worker process of its own (started on first use, dying with
    this one), so even a file of a million tiny invalid lines leaves the event loop free."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    async def report(
        self, path: Path, model: str, epochs: int | None, name: str
    ) -> ValidationReport:
        """The validation report of the file at `path`."""
        if self._pool is None:
            self._pool = process_pool(1)
        # `validate_file` itself, not a function of this module: the worker then imports only
        # skills.validation (0.4 s of CPU to start it, instead of 1.8 s for this module's imports)
        work = partial(validate_file, path, model=model, epochs=epochs, name=name)
        return await asyncio.get_running_loop().run_in_executor(self._pool, work)

    def close(self) -> None:
        """Stop the worker (a validation running is abandoned)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


# -- the workflow ---------------------------------------------------------------------------------


class FileChecks:
    """Checks of attached and kept files, each on its card."""

    def __init__(self, ctx: Context, datasets: Datasets, download: Download) -> None:
        self.ctx = ctx
        self.datasets = datasets
        self.download = download
        self.validator = Validator()

    async def start(
        self,
        conversation: str,
        user: str,
        service_url: str,
        files: Sequence[CheckedFile],
        *,
        purpose: Literal["validate", "offer"] = "validate",
        model: str | None = None,
        epochs: int | None = None,
        personal: bool = False,
    ) -> CheckStarted:
        """Check `files` (by URL, or kept: with their sha256) in the background, on a card of
        their own: the check is recorded, its "Checking your files..." card posted (the id kept
        on the record), then it runs, so the turn ends before any download. A card that could
        not be posted is posted by the check's next step. In a personal chat (`personal`), a
        validation that a channel asked for (`ask_relay`) is reported in that channel too."""
        check_files(files)
        check_choice(model or self.ctx.settings.default_model, epochs)
        relay = await self._take_relay(user) if purpose == "validate" and personal else None
        ordered = [files[i] for i in order_files([f.name for f in files])]
        downloads = any(not f.sha256 for f in ordered)
        check = FileCheck(
            token=new_token(),
            conversation=conversation,
            user=user,
            service_url=service_url,
            files=ordered,
            purpose=purpose,
            model=model or self.ctx.settings.default_model,
            epochs=epochs,
            stage="downloading" if downloads else "validating",
            at=time.time(),
            share_to=relay.conversation if relay is not None else "",
        )
        await self.ctx.records.put(check)
        check = await self._show(check, first_view(check))
        self._spawn(check.token)
        return CheckStarted(check, relay.name if relay is not None else "")

    async def resume(self) -> None:
        """After a start: go on with the checks left unfinished; forget old finished ones."""
        now = time.time()
        for check in await self.ctx.records.all(FileCheck):
            if not check.finished:
                self._spawn(check.token)
            elif now - check.at > FORGET_AFTER:
                await self.ctx.records.delete(check.key())

    def close(self) -> None:
        """Stop the validation worker (the tasks are stopped by ctx.tasks)."""
        self.validator.close()

    def _spawn(self, token: str) -> None:
        self.ctx.tasks.spawn(self._owned(token), f"check files {token[:8]}")

    async def _owned(self, token: str) -> None:
        item = f"check/{token}"
        if not await self.ctx.owners.claim(item):
            return  # checked by another task (or instance) already
        try:
            await self._run(token)
        finally:
            await self.ctx.owners.release(item)

    async def _change(self, token: str, **changes: object) -> FileCheck:
        def apply(found: FileCheck | None) -> FileCheck | None:
            return found.model_copy(update=changes) if found is not None else None

        changed = await self.ctx.records.update(FileCheck.at_token(token), apply)
        assert changed is not None
        return changed

    async def _show(self, check: FileCheck, view: View) -> FileCheck:
        card = await try_show(self.ctx.notify, check.conversation, check.card, view)
        return check if card == check.card else await self._change(check.token, card=card)

    async def _run(self, token: str) -> None:
        check = await self.ctx.records.get(FileCheck.at_token(token))
        if check is None or check.finished:
            return
        with i18n.use(check.language):  # its cards speak the language of who asked
            await self._check(check)

    async def _check(self, check: FileCheck) -> None:
        token = check.token
        names = tuple(f.name for f in check.files)
        try:
            if check.stage == "downloading":
                check = await self._download(check)
                if check.purpose == "offer":
                    ids = tuple(f.sha256 for f in check.files)
                    check = await self._change(token, stage="done")
                    await self._show(check, FilesOffered(names, ids))
                    return
                check = await self._change(token, stage="validating")
                check = await self._show(check, CheckingFiles(names, "validating"))
            view = await self._validate(check)
        except asyncio.CancelledError:
            raise  # shutting down: the stage stays, and the check goes on after the restart
        except UserError as error:
            await self._fail(check, error.message)
            return
        except Exception as error:
            await self._fail(check, unexpected("checking files", error))
            return
        check = await self._change(token, stage="done")
        await self._show(check, view)
        if check.share_to:  # at most once: a crash right here leaves the channel without it
            try:
                await self.ctx.notify.send(check.share_to, view)
            except NotDelivered as error:
                log.warning("check %s: not posted to the channel: %s", token[:8], error)

    async def _take_relay(self, user: str) -> ChannelRelay | None:
        """The channel that asked `user` to send files here, taken (once) if still valid."""
        found = await self.ctx.records.get(ChannelRelay.at(user))
        if found is None:
            return None
        await self.ctx.records.delete(found.key())
        return found if found.expires_at > time.time() else None

    async def ask_relay(self, user: str, conversation: str, name: str) -> None:
        """Remember that `user` was asked to send the files of `conversation` in a personal
        chat (for a day; the next check there is reported in `conversation` too)."""
        now = time.time()
        relay = ChannelRelay(
            token=user,
            conversation=conversation,
            user=user,
            created_at=now,
            expires_at=now + RELAY_SECONDS,
            name=name,
        )
        await self.ctx.records.put(relay)

    async def _download(self, check: FileCheck) -> FileCheck:
        """Fetch and keep every file not kept yet; each kept one is written down at once."""
        limit = self.ctx.settings.max_file_bytes
        for index, file in enumerate(check.files):
            if file.sha256:
                continue
            tenant = file.tenant if file.source == "graph" else None
            chunks = self.download(
                IncomingFile(file.name, file.url), check.service_url, limit, tenant
            )
            stored = await self.datasets.keep(chunks, file.name)
            files = list(check.files)
            files[index] = CheckedFile(name=file.name, sha256=stored.sha256)  # the link is done
            check = await self._change(check.token, files=files)
        return check

    async def _validate(self, check: FileCheck) -> FilesReport:
        stored = await self.datasets.stored([f.sha256 for f in check.files])
        reports: list[ValidationReport] = []
        for one in stored:
            report = await self.validator.report(one.path, check.model, None, one.name)
            await self.ctx.records.put(
                ValidationResult(
                    sha256=one.sha256, model=check.model, report=report.stored(), at=time.time()
                )
            )
            reports.append(report.for_epochs(check.epochs))
        await self.ctx.records.put(
            ValidatedSet(
                conversation=check.conversation,
                training=stored[0].sha256,
                validation=stored[1].sha256 if len(stored) > 1 else None,
                model=check.model,
                ok=all(r.ok for r in reports),
                at=time.time(),
            )
        )
        price = estimated_price(reports[0], self.ctx.settings.training_prices)
        return FilesReport(tuple(reports), tuple(s.sha256 for s in stored), price)

    async def _fail(self, check: FileCheck, message: str) -> None:
        check = await self._change(check.token, stage="failed", error=message)
        await self._show(check, CheckFailed(tuple(f.name for f in check.files), message))
