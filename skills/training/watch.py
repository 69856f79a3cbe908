"""The job watcher: one poller for every unfinished fine-tuning job, restart-safe.

What it keeps in the state store (skills/records.py): the watch list (`WatchEntry`, resumed on
start) and each job's `JobRecord` (its conversation and live card, the `after` cursor of the events
read, the latest metrics and curves, when the card was last updated). The notice at the end is an
at-least-once claim (skills/claims.py).

One loop schedules polls by phase (`FTBOT_POLL_RUNNING` seconds while running, `FTBOT_POLL_QUEUED`
while queued); each due job is polled in a tracked task, one at a time per job, reading the job
and only its new events, on the job's own resource. Throttling and server errors back off per job
with Retry-After; a 429 pauses all polling for the time Azure asks. Card updates are at most one
per job every `FTBOT_CARD_SECONDS` and share a bot-wide budget (`FTBOT_UPDATES_PER_SECOND`), so
many jobs reporting at once stay inside the Teams limits; a job whose card was never posted gets
one at its next update. A job is watched by its owner only
(`infra.ownership`): a job whose ownership is lost is dropped here at its next poll (its entry
stays on the watch list), and watch entries nobody owns (a dead instance's) are adopted every
`retry_seconds` of the ownership.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from typing import Any

import openai

from infra import i18n
from infra.ownership import every_retry
from infra.ratelimit import TokenBucket
from infra.retry import backoff_delay, retry_after
from infra.tasks import wait_for_event
from skills.claims import TAKEOVER_SECONDS, Outcome
from skills.context import Context
from skills.notify import show
from skills.training import jobs
from skills.training.fold import fold
from skills.training.jobs import JobState
from skills.training.notice import final_view
from skills.training.records import JobRecord, WatchEntry, notice_claim
from skills.training.views import job_view

log = logging.getLogger(__name__)

MAX_NOTICE_FAILURES = 20
MAX_BACKOFF = 600.0


def owner_item(job_id: str) -> str:
    """The ownership item of watching a job."""
    return f"watch/{job_id}"


class JobWatcher:
    """Watches every unfinished job of the bot: updates its card, announces its end once."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        settings = ctx.settings
        self._running_every = settings.training_poll_running_seconds
        self._queued_every = settings.training_poll_queued_seconds
        self._card_every = settings.training_card_seconds
        self._next: dict[str, float] = {}
        self._failures: dict[str, int] = {}
        self._notice_failures: dict[str, int] = {}
        self._inflight: dict[str, asyncio.Task[Any]] = {}
        self._paused_until = 0.0
        self._wake = asyncio.Event()
        self._loop: asyncio.Task[Any] | None = None
        self._adopter: asyncio.Task[Any] | None = None
        self._budget = TokenBucket(settings.training_updates_per_second)

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Resume the watch list from the store and start the poller."""
        await self.adopt_all()
        if self._loop is None:
            self._loop = self.ctx.tasks.spawn(self._run(), "job watcher")
            owners = self.ctx.owners
            self._adopter = self.ctx.tasks.spawn(
                every_retry(owners, self.adopt_all, "watched jobs"), "watch list adopter"
            )

    async def adopt_all(self) -> None:
        """Watch every job of the watch list that nobody owns."""
        for entry in await self.ctx.records.all(WatchEntry):
            await self._adopt(entry.job)

    async def stop(self) -> None:
        """Stop polling (the watch list stays for the next start)."""
        tasks = [t for t in (self._loop, self._adopter, *self._inflight.values()) if t is not None]
        self._loop = self._adopter = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def watch(self, job_id: str) -> None:
        """Add a job (its record exists) to the watch list and poll it at once."""
        await self.ctx.records.create(WatchEntry(job=job_id, since=time.time()))
        await self._adopt(job_id)

    async def _adopt(self, job_id: str) -> None:
        if job_id in self._next:
            return
        if await self.ctx.owners.claim(owner_item(job_id)):
            self._next[job_id] = 0.0
            self._wake.set()

    def _owned(self, job_id: str) -> bool:
        """Still this instance's job; when not, it is dropped here (another owner carries on)."""
        if self.ctx.owners.owns(owner_item(job_id)):
            return True
        if self._next.pop(job_id, None) is not None:
            log.warning("job %s is no longer ours to watch; dropping it here", job_id)
        self._failures.pop(job_id, None)
        self._notice_failures.pop(job_id, None)
        return False

    def poke(self, job_id: str) -> None:
        """Poll a watched job now (after a cancel, say)."""
        if job_id in self._next and job_id not in self._inflight:
            self._next[job_id] = 0.0
            self._wake.set()

    @property
    def watched(self) -> list[str]:
        """The jobs being watched right now."""
        return sorted(self._next)

    # -- the poller ---------------------------------------------------------------------------

    async def _run(self) -> None:
        tick = self._running_every
        while True:
            now = time.monotonic()
            if now >= self._paused_until:
                for job_id, due in list(self._next.items()):
                    if due <= now and job_id not in self._inflight and self._owned(job_id):
                        self._next[job_id] = float("inf")  # until the poll reschedules it
                        task = self.ctx.tasks.spawn(self._poll(job_id), f"poll {job_id}")
                        self._inflight[job_id] = task
                        task.add_done_callback(functools.partial(self._polled, job_id))
            wait = min([d for d in self._next.values() if d != float("inf")] or [now + tick])
            wait = max(wait, self._paused_until) - time.monotonic()
            self._wake.clear()
            await wait_for_event(self._wake, max(0.05, min(wait, tick)))

    def _polled(self, job_id: str, _: object = None) -> None:
        self._inflight.pop(job_id, None)
        if self._next.get(job_id) == float("inf"):  # the poll failed unexpectedly
            self._schedule_failure(job_id, None)
        self._wake.set()

    def _schedule(self, job_id: str, delay: float) -> None:
        if job_id in self._next:
            self._next[job_id] = time.monotonic() + delay

    def _schedule_failure(self, job_id: str, hint: float | None) -> None:
        failures = self._failures.get(job_id, 0) + 1
        self._failures[job_id] = failures
        base = self._running_every
        delay = backoff_delay(failures, base=base, cap=MAX_BACKOFF, retry_after=hint)
        self._schedule(job_id, max(delay, base / 2))

    async def _unwatch(self, job_id: str) -> None:
        await self.ctx.records.delete(WatchEntry.at(job_id))
        self._next.pop(job_id, None)
        self._failures.pop(job_id, None)
        self._notice_failures.pop(job_id, None)
        await self.ctx.owners.release(owner_item(job_id))

    async def _poll(self, job_id: str) -> None:
        record = await self.ctx.records.get(JobRecord.at(job_id))
        if record is None:
            log.warning("job %s is watched but has no record; dropping it", job_id)
            await self._unwatch(job_id)
            return
        client = self.ctx.azure.openai(record.resource)
        try:
            job, events = await jobs.poll(client, job_id, record.last_event)
        except openai.NotFoundError:
            log.error("job %s no longer exists on Azure; it stays unannounced", job_id)
            await self._unwatch(job_id)
            return
        except openai.APIError as error:
            hint = retry_after(error)
            if isinstance(error, openai.APIStatusError) and error.status_code == 429 and hint:
                self._paused_until = max(self._paused_until, time.monotonic() + hint)
            log.warning("polling job %s failed (%s); backing off", job_id, error)
            self._schedule_failure(job_id, hint)
            return
        self._failures.pop(job_id, None)
        if not self._owned(job_id):  # the lease went while Azure answered: the new owner reports
            return
        record = fold(record, job, events, time.time())
        if (job.status == "paused") != bool(record.checkpoint):
            record = await self._paused_checkpoint(client, record, job)
        if job.final:
            await self.ctx.records.put(record)
            await self._finish(record, job)
            return
        if record.dirty and time.time() - record.card_at >= self._card_every:
            record = await self._update_card(record, job)
        await self.ctx.records.put(record)
        self._schedule(job_id, self._running_every if job.running else self._queued_every)

    async def _paused_checkpoint(
        self, client: openai.AsyncOpenAI, record: JobRecord, job: JobState
    ) -> JobRecord:
        """The record with the checkpoint a paused job keeps (what its card offers to deploy),
        or without it once the job goes on."""
        if job.status != "paused":
            return record.model_copy(update={"checkpoint": "", "dirty": True})
        try:
            kept = await jobs.checkpoints(client, job.id)
        except openai.APIError:
            log.warning("checkpoints of paused job %s unavailable", job.id, exc_info=True)
            return record
        if not kept:
            return record
        return record.model_copy(update={"checkpoint": kept[-1].id, "dirty": True})

    async def _update_card(
        self, record: JobRecord, job: JobState, *, force: bool = False
    ) -> JobRecord:
        """The record after showing it on its card, posted when it has none (unchanged when
        the card did not go out)."""
        if not record.conversation:
            return record
        if force:
            await self._budget.take()
        elif not self._budget.try_take():
            return record  # over the bot-wide budget: this card waits for the next poll
        try:
            with i18n.use(record.language):
                view = job_view(record, job)
                card = await show(self.ctx.notify, record.conversation, record.card, view)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("could not update the card of job %s", record.job, exc_info=True)
            return record
        return record.model_copy(update={"card": card, "card_at": time.time(), "dirty": False})

    # -- the end of a job ---------------------------------------------------------------------

    async def _finish(self, record: JobRecord, job: JobState) -> None:
        """Final card update, then the notice, at least once (skills/claims.py)."""
        if not self._owned(job.id):
            return
        if record.dirty or not record.final:
            record = await self._update_card(record, job, force=True)
            record = record.model_copy(update={"final": True})
            await self.ctx.records.put(record)

        if not self._owned(job.id):
            return

        async def send() -> str:
            with i18n.use(record.language):  # the notice speaks the language of who started it
                view = await final_view(self.ctx.azure.openai(record.resource), record, job)
                await self._budget.take()
                return await self.ctx.notify.send(record.conversation, view)

        try:
            outcome = await self.ctx.claims.at_least_once(notice_claim(job.id), send)
        except Exception:
            failures = self._notice_failures.get(job.id, 0) + 1
            self._notice_failures[job.id] = failures
            log.warning("final notice of job %s not sent (try %d)", job.id, failures, exc_info=True)
            if failures >= MAX_NOTICE_FAILURES:
                log.error("giving up on the final notice of job %s", job.id)
                await self._unwatch(job.id)
                return
            self._schedule_failure(job.id, None)
            return
        if outcome is Outcome.BUSY:
            self._schedule(job.id, TAKEOVER_SECONDS / 4)
            return
        await self._unwatch(job.id)
