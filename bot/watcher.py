"""The job watcher: one poller for every unfinished fine-tuning job, restart-safe.

State lives in the state store, never only in memory:

- `training/watch/{job}`: the watch list (unfinished jobs); resumed on start.
- `training/jobs/{job}`: what the bot knows of a job: its conversation, its live card, the last
  event read (`after` cursor), latest metrics, loss curves, when the card was last updated.
- `training/notice/{job}`: the claim on the final notice, created once (`storage.create`) before
  sending and marked sent after; released when sending fails, so a later poll tries again.

One loop schedules polls by phase (seconds while running, slower while queued); each due job is
polled in a tracked task (one at a time per job) that reads the job and only its new events.
Throttling and server errors back off per job with Retry-After; a 429 pauses all polling for the
time Azure asks. Card updates are at most one per job every `training_card_seconds` and share a
bot-wide budget, so many jobs reporting at once stay inside the Teams limits.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import openai
from botbuilder.schema import Activity, Attachment
from openai import AsyncAzureOpenAI

from adaptive_cards.training import FinalView, JobView, final_card, job_card, status_label
from bot.notifier import Notifier
from bot.turn import card_activity
from infra.retry import backoff_delay, retry_after
from infra.settings import Settings
from infra.storage import JsonObject, SqliteStorage, StorageConflict
from infra.tasks import Tasks, wait_for_event
from skills import training
from skills.charts import loss_chart_png
from skills.training import JobState, Metric, Series

log = logging.getLogger(__name__)

WATCH = "training/watch/"
JOBS = "training/jobs/"
NOTICE = "training/notice/"
LATEST = "training/latest/"
STALE_CLAIM_SECONDS = 60.0
"""A notice claim left `sending` by an earlier process (crashed mid-send) is retried after this."""
MAX_NOTICE_FAILURES = 20
MAX_BACKOFF = 600.0

ClientSource = Callable[[], AsyncAzureOpenAI]


def job_key(job_id: str) -> str:
    """Storage key of the bot's record of a job."""
    return JOBS + job_id


def watch_key(job_id: str) -> str:
    """Storage key of a job's entry in the watch list."""
    return WATCH + job_id


def notice_key(job_id: str) -> str:
    """Storage key of a job's final-notice claim."""
    return NOTICE + job_id


def latest_key(conversation_id: str) -> str:
    """Storage key of the latest job started in a conversation."""
    return LATEST + conversation_id


def new_record(
    job: JobState, *, conversation: str, card: str, files: str, examples: int, launched_at: float
) -> JsonObject:
    """The record of a job the bot has just created."""
    return {
        "job": job.id,
        "conversation": conversation,
        "card": card,
        "model": job.model,
        "files": files,
        "examples": examples,
        "launched_at": launched_at,
        "running_since": None,
        "status": job.status,
        "step": None,
        "total": None,
        "train_loss": None,
        "valid_loss": None,
        "last_event": None,
        "series": {"train": [], "valid": []},
        "card_at": time.time(),  # the launch shows the new job on the card right away
        "dirty": False,
        "final": False,
    }


def job_view(record: JsonObject, job: JobState | None = None, now: float | None = None) -> JobView:
    """The live card's content from the record (and the job, when just read)."""
    now = time.time() if now is None else now
    status = job.status if job else str(record.get("status") or "pending")
    launched = record.get("launched_at")
    running_since = record.get("running_since")
    step = record.get("step")
    total = record.get("total")
    ended = status in training.FINAL_STATUSES
    left = None
    if not ended and isinstance(step, int) and isinstance(running_since, int | float):
        left = training.time_left(step, total, now - running_since)
    elapsed = None
    if isinstance(launched, int | float):
        finished = record.get("ended_at")
        elapsed = (finished if isinstance(finished, int | float) else now) - launched
    error = None
    if job is not None and job.status == "failed":
        error = f"Azure says: {job.error_message or 'no reason given'}"
    return JobView(
        status=status,
        model=str(record.get("model") or ""),
        files=str(record.get("files") or ""),
        job_id=str(record.get("job") or "") or None,
        step=step if isinstance(step, int) else None,
        total_steps=total if isinstance(total, int) else None,
        train_loss=record.get("train_loss"),
        valid_loss=record.get("valid_loss"),
        elapsed=elapsed,
        left=left,
        fine_tuned_model=job.fine_tuned_model if job else None,
        error=error,
        note="The result comes as a new message when the job ends." if not ended else None,
    )


class _Budget:
    """A bot-wide token bucket for proactive sends and updates (Teams limits per bot)."""

    def __init__(self, per_second: float) -> None:
        self._rate = per_second
        self._tokens = per_second
        self._at = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(self._rate, self._tokens + (now - self._at) * self._rate)
        self._at = now

    def try_take(self) -> bool:
        """Take a token if one is there (card updates skip a turn rather than queue)."""
        self._refill()
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    async def take(self) -> None:
        """Wait for a token (final notices always go out)."""
        for _ in range(1000):
            if self.try_take():
                return
            await asyncio.sleep((1 - self._tokens) / self._rate)


class JobWatcher:
    """Watches every unfinished job of the bot: updates its card, announces its end once."""

    def __init__(
        self,
        settings: Settings,
        storage: SqliteStorage,
        notifier: Notifier,
        tasks: Tasks,
        client: ClientSource,
    ) -> None:
        self.settings = settings
        self.storage = storage
        self.notifier = notifier
        self.tasks = tasks
        self.client = client
        self.boot = uuid.uuid4().hex
        self._next: dict[str, float] = {}
        self._failures: dict[str, int] = {}
        self._notice_failures: dict[str, int] = {}
        self._inflight: dict[str, asyncio.Task[Any]] = {}
        self._paused_until = 0.0
        self._wake = asyncio.Event()
        self._loop: asyncio.Task[Any] | None = None
        self._budget = _Budget(settings.training_updates_per_second)

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Resume the watch list from the store and start the poller."""
        for key in await self.storage.keys(WATCH):
            self._next[key.removeprefix(WATCH)] = 0.0
        if self._loop is None:
            self._loop = self.tasks.spawn(self._run(), "job watcher")

    async def stop(self) -> None:
        """Stop polling; a notice being sent is released (its claim) for the next start."""
        tasks = [t for t in (self._loop, *self._inflight.values()) if t is not None]
        self._loop = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def watch(self, job_id: str) -> None:
        """Add a job (its record exists) to the watch list and poll it at once."""
        await self.storage.create(watch_key(job_id), {"since": time.time()})
        self._next[job_id] = 0.0
        self._wake.set()

    async def poke(self, job_id: str) -> None:
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
        tick = self.settings.training_poll_running_seconds
        while True:
            now = time.monotonic()
            if now >= self._paused_until:
                for job_id, due in list(self._next.items()):
                    if due <= now and job_id not in self._inflight:
                        self._next[job_id] = float("inf")  # until the poll reschedules it
                        task = self.tasks.spawn(self._poll(job_id), f"poll {job_id}")
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
        base = self.settings.training_poll_running_seconds
        delay = backoff_delay(failures, base=base, cap=MAX_BACKOFF, retry_after=hint)
        self._schedule(job_id, max(delay, base / 2))

    def _unwatch(self, job_id: str) -> None:
        self._next.pop(job_id, None)
        self._failures.pop(job_id, None)
        self._notice_failures.pop(job_id, None)

    async def _poll(self, job_id: str) -> None:
        found = (await self.storage.read([job_key(job_id)])).get(job_key(job_id))
        if found is None:
            log.warning("job %s is watched but has no record; dropping it", job_id)
            await self.storage.delete([watch_key(job_id)])
            self._unwatch(job_id)
            return
        record = found
        client = self.client()
        try:
            job = training.job_state(
                await training.call(lambda: client.fine_tuning.jobs.retrieve(job_id), attempts=2)
            )
            events = await training.new_events(client, job_id, record.get("last_event"), attempts=2)
        except openai.NotFoundError:
            log.error("job %s no longer exists on Azure; it stays unannounced", job_id)
            await self.storage.delete([watch_key(job_id)])
            self._unwatch(job_id)
            return
        except openai.APIError as error:
            hint = retry_after(error)
            if isinstance(error, openai.APIStatusError) and error.status_code == 429 and hint:
                self._paused_until = max(self._paused_until, time.monotonic() + hint)
            log.warning("polling job %s failed (%s); backing off", job_id, error)
            self._schedule_failure(job_id, hint)
            return
        self._failures.pop(job_id, None)
        self._apply(record, job, events)
        if job.final:
            record["ended_at"] = record.get("ended_at") or time.time()
            await self._save(record)
            await self._finish(record, job)
            return
        if record["dirty"] and time.time() - float(record["card_at"]) >= self._card_interval:
            await self._update_card(record, job)
        await self._save(record)
        running = job.running
        self._schedule(
            job_id,
            self.settings.training_poll_running_seconds
            if running
            else self.settings.training_poll_queued_seconds,
        )

    @property
    def _card_interval(self) -> float:
        return self.settings.training_card_seconds

    def _apply(self, record: JsonObject, job: JobState, events: list[training.Event]) -> None:
        """Fold the job's state and new events into the record (marks it dirty on change)."""
        before = (record.get("status"), record.get("step"))
        if job.running and not record.get("running_since"):
            record["running_since"] = time.time()
        record["status"] = job.status
        series = Series(record["series"]["train"], record["series"]["valid"])
        for event in events:
            metric = event.metric
            if event.total_steps:
                record["total"] = event.total_steps
            if metric is None:
                continue
            if metric.step >= int(record.get("step") or 0):
                record["step"] = metric.step
                if metric.train_loss is not None:
                    record["train_loss"] = metric.train_loss
                if metric.valid_loss is not None:
                    record["valid_loss"] = metric.valid_loss
            series.add(metric)
        record["series"] = {"train": series.train, "valid": series.valid}
        if not record.get("total"):
            record["total"] = training.total_steps(job.hyperparameters, int(record["examples"]))
        if events:
            record["last_event"] = events[-1].id
        if (record.get("status"), record.get("step")) != before:
            record["dirty"] = True

    async def _save(self, record: JsonObject) -> None:
        try:
            await self.storage.write({job_key(str(record["job"])): record})
        except StorageConflict:
            # Someone else wrote it meanwhile; the next poll reads afresh (events are re-read).
            log.info("record of job %s changed meanwhile; re-reading next poll", record["job"])
            return
        fresh = (await self.storage.read([job_key(str(record["job"]))])).get(
            job_key(str(record["job"]))
        )
        if fresh is not None:
            record["e_tag"] = fresh["e_tag"]

    async def _update_card(self, record: JsonObject, job: JobState, *, force: bool = False) -> None:
        card_id = str(record.get("card") or "")
        if not card_id:
            return
        if force:
            await self._budget.take()
        elif not self._budget.try_take():
            return  # over the bot-wide budget: this card waits for the next poll
        view = job_view(record, job)
        activity = card_activity(job_card(view), f"Fine-tuning: {status_label(job.status)}")
        try:
            await self.notifier.update(str(record["conversation"]), card_id, activity)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("could not update the card of job %s", record["job"], exc_info=True)
            return
        record["card_at"] = time.time()
        record["dirty"] = False

    # -- the end of a job ---------------------------------------------------------------------

    async def _finish(self, record: JsonObject, job: JobState) -> None:
        """Final card update, then the notice: claimed first, so it is sent exactly once."""
        job_id = job.id
        if record.get("dirty") or not record.get("final"):
            await self._update_card(record, job, force=True)
            record["final"] = True
            await self._save(record)
        state = await self._claim(job_id)
        if state == "sent":
            await self._done(job_id)
            return
        if state != "claimed":
            self._schedule(job_id, STALE_CLAIM_SECONDS / 4)
            return
        try:
            activity = await self._notice(record, job)
            await self._budget.take()
            sent_id = await self.notifier.send(str(record["conversation"]), activity)
        except BaseException as error:
            await self.storage.delete([notice_key(job_id)])  # release: a later poll retries
            if not isinstance(error, Exception):
                raise
            failures = self._notice_failures.get(job_id, 0) + 1
            self._notice_failures[job_id] = failures
            log.warning("final notice of job %s not sent (try %d)", job_id, failures, exc_info=True)
            if failures >= MAX_NOTICE_FAILURES:
                log.error("giving up on the final notice of job %s", job_id)
                await self.storage.delete([watch_key(job_id)])
                self._unwatch(job_id)
                return
            self._schedule_failure(job_id, None)
            return
        await self.storage.write(
            {notice_key(job_id): {"state": "sent", "activity": sent_id, "at": time.time()}}
        )
        await self._done(job_id)

    async def _claim(self, job_id: str) -> str:
        """'claimed' when this process may send the notice, 'sent', or 'busy'."""
        item = {"state": "sending", "boot": self.boot, "at": time.time()}
        if await self.storage.create(notice_key(job_id), item):
            return "claimed"
        found = (await self.storage.read([notice_key(job_id)])).get(notice_key(job_id))
        if found is None:
            return "busy"  # released between our two reads: try again shortly
        if found.get("state") == "sent":
            return "sent"
        stale = time.time() - float(found.get("at") or 0) > STALE_CLAIM_SECONDS
        if found.get("boot") != self.boot and stale:
            try:  # an earlier process died while sending: take the claim over
                await self.storage.write({notice_key(job_id): {**item, "e_tag": found["e_tag"]}})
            except StorageConflict:
                return "busy"
            return "claimed"
        return "busy"

    async def _done(self, job_id: str) -> None:
        await self.storage.delete([watch_key(job_id)])
        self._unwatch(job_id)

    async def _notice(self, record: JsonObject, job: JobState) -> Activity:
        """The final notice activity: card with chart, the PNG for channels without charts."""
        client = self.client()
        metrics: list[Metric] = []
        checkpoints: list[training.Checkpoint] = []
        try:
            metrics = await training.results(client, job)
        except openai.APIError:
            log.warning("results of job %s unavailable; using the events", job.id, exc_info=True)
        if job.status == "succeeded":
            try:
                checkpoints = await training.checkpoints(client, job.id)
            except openai.APIError:
                log.warning("checkpoints of job %s unavailable", job.id, exc_info=True)
        series = Series.of(metrics) if metrics else Series(**record["series"])
        last = metrics[-1] if metrics else None
        if last is None and record.get("step"):
            last = Metric(
                step=int(record["step"]),
                train_loss=record.get("train_loss"),
                valid_loss=record.get("valid_loss"),
            )
        launched, ended = record.get("launched_at"), record.get("ended_at")
        view = FinalView(
            job=job,
            files=str(record.get("files") or ""),
            last=last,
            train_curve=series.train,
            valid_curve=series.valid,
            checkpoints=checkpoints,
            elapsed=float(ended) - float(launched) if launched and ended else None,
            advice=training.failure_advice(job.error_code) if job.status == "failed" else None,
        )
        summary = {
            "succeeded": f"Training succeeded: {job.fine_tuned_model}",
            "failed": f"Training failed: {job.error_message or job.id}",
            "cancelled": f"Training cancelled: {job.id}",
        }.get(job.status, f"Training ended: {job.status}")
        activity = card_activity(final_card(view), summary)
        if series.train or series.valid:
            png = await asyncio.to_thread(loss_chart_png, series.train, series.valid)
            url = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
            activity.attachments.append(
                Attachment(content_type="image/png", content_url=url, name="loss-curves.png")
            )
        return activity
