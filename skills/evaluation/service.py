"""`evaluate`: a fine-tuned model against its base on held-out examples, on Azure OpenAI Evals.

Asked on a card that states what is compared and the estimated tokens and cost of both runs;
confirmed, it is recorded first (with its audit entry), shows its live card, then runs in a
tracked task that a restart resumes from its stage: the eval, one run per model (skills/
evaluation/evals.py), polling both until they end, then the output items compared
(skills/evaluation/stats.py) on the result card.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
import time
from typing import Any

import openai
from openai.types.evals.runs.output_item_list_response import (
    OutputItemListResponse as OutputItem,
)

from infra import i18n
from infra.azure import Resource
from infra.downloads import IncomingFile
from infra.errors import UserError
from infra.i18n import N_, _, later
from infra.ownership import every_retry
from infra.prices import INFERENCE_PRICE_PER_1M_TOKENS
from infra.retry import transient
from skills.audit import Actor
from skills.azure_errors import openai_error
from skills.checks import Download
from skills.context import Context
from skills.deployment import arm
from skills.deployment.arm import DeploymentInfo
from skills.evaluation import evals
from skills.evaluation.items import Items, items_of
from skills.evaluation.records import EvalRecord, EvalRequest, Outcome, Setup, Worst
from skills.evaluation.stats import compare
from skills.evaluation.views import EvalDone, EvalFailed, EvalProgress
from skills.notify import View, try_show

log = logging.getLogger(__name__)

POLL_SERVICE_SECONDS = 5.0
"""How often (service time) the runs are checked."""
MIN_POLL_SECONDS, MAX_POLL_SECONDS = 0.1, 5.0
CARD_SECONDS = 2.0
"""At most one update of the live card per this many real seconds."""
WORST_SHOWN = 3
WORST_BY = "rouge_l"
"""The grader whose scores pick the items where the fine-tuned model did worst."""
MAX_FILE_BYTES = 64 * 1024 * 1024
"""The largest file attached to `evaluate` (held-out examples: at most 1,000 are evaluated)."""
DOWNLOAD_PATH = "/api/evaluations/{id}/outputs.jsonl"
"""Where app.py serves an evaluation's outputs (to the holder of its download key)."""


def price_of(base_model: str) -> tuple[float, float] | None:
    """USD per 1M (input, output) tokens of a base model's family, or None."""
    for family in sorted(INFERENCE_PRICE_PER_1M_TOKENS, key=len, reverse=True):
        if base_model.startswith(family):
            return INFERENCE_PRICE_PER_1M_TOKENS[family]
    return None


def cost_of(base_model: str, prompt: int, completion: int) -> float | None:
    """Estimated USD of these tokens, or None without a price."""
    price = price_of(base_model)
    if price is None:
        return None
    return (prompt * price[0] + completion * price[1]) / 1_000_000


class NeedsDeployment(UserError):
    """A model the evaluation needs is not deployed: the sentence, and the deployment the bot
    offers to create (`offer`: the `deploy` command's data)."""

    def __init__(self, template: str, offer: dict[str, str], **params: Any) -> None:
        super().__init__(template, **params)
        self.offer = offer


NOT_CHAT = ("embedding", "whisper", "tts", "dall-e", "davinci", "babbage", "sora", "gpt-image")
"""Model names of deployments that do not answer chat completions."""


def refuse_judge(judge: DeploymentInfo) -> None:
    """One sentence when a judge's deployment is not of a chat model."""
    if any(word in judge.model.lower() for word in NOT_CHAT):
        raise UserError(
            "`{name}` serves `{model}`, which is not a chat model; a judge must be a chat "
            "deployment (a GPT-4o or GPT-4.1 model, for example).",
            name=judge.name,
            model=judge.model,
        )


def owner_item(ident: str) -> str:
    """The ownership item of running an evaluation."""
    return f"evaluate/{ident}"


class Evaluation:
    """Evaluations: asked, confirmed, run on Azure, shown."""

    def __init__(self, ctx: Context, download: Download) -> None:
        self.ctx = ctx
        self.download = download

    # -- asking ------------------------------------------------------------------------------

    async def _deployment(self, resource: Resource, name: str) -> DeploymentInfo:
        cognitive = self.ctx.azure.cognitive(resource.subscription_id)
        info = await arm.get_deployment(cognitive, resource, name, self.ctx.clock.observe)
        if info is None or info.deleting:
            raise UserError(
                "There is no deployment named `{name}`; `deployments` lists them.", name=name
            )
        if not info.ready:
            raise UserError(
                "`{name}` is not ready yet; evaluate it once it is deployed.", name=name
            )
        return info

    async def _target(self, resource: Resource, ref: str) -> tuple[DeploymentInfo, str]:
        """(deployment of the fine-tuned model, its job) for a deployment name or a job id."""
        client = self.ctx.azure.openai(resource)
        if ref.startswith("ftjob-"):
            choice = await arm.resolve_model(client, ref)
            cognitive = self.ctx.azure.cognitive(resource.subscription_id)
            serving = [
                d
                for d in await arm.list_deployments(cognitive, resource, self.ctx.clock.observe)
                if d.model == choice.model and d.ready
            ]
            if not serving:
                raise NeedsDeployment(
                    N_(
                        "`{model}` has no deployment yet. A Developer tier deployment serves it "
                        "for the evaluation with no hourly hosting fee (you pay per token), and "
                        "Azure deletes it after 24 hours; press Evaluate on its card once it is "
                        "deployed."
                    ),
                    {"model": choice.model, "job": ref, "sku": "developer"},
                    model=choice.model,
                )
            return serving[0], ref
        info = await self._deployment(resource, ref)
        if not info.fine_tuned:
            raise UserError(
                "`{name}` serves the base model `{model}`: evaluate a deployment of a fine-tuned "
                "model, or its job.",
                name=info.name,
                model=info.model,
            )
        try:
            jobs = [j async for j in client.fine_tuning.jobs.list(limit=100)]
        except openai.APIError as error:
            raise openai_error(error, _("list of fine-tuning jobs")) from None
        job = next((j.id for j in jobs if j.fine_tuned_model == info.model.split(":")[0]), "")
        return info, job

    async def _base(self, resource: Resource, name: str, tuned: DeploymentInfo) -> DeploymentInfo:
        """The named base deployment, else the first ready one of the fine-tuned model's base."""
        if not name:
            cognitive = self.ctx.azure.cognitive(resource.subscription_id)
            listed = await arm.list_deployments(cognitive, resource, self.ctx.clock.observe)
            found = [d for d in listed if d.ready and not d.fine_tuned and d.base == tuned.base]
            if found:
                return found[0]
            raise NeedsDeployment(
                N_(
                    "There is no deployment of the base model `{base}` to compare with. A Global "
                    "Standard deployment of it has no hourly fee (you pay per token); or name one "
                    "with `against <deployment>` or FTBOT_BASE_DEPLOYMENT."
                ),
                {"model": tuned.base, "sku": "globalstandard"},
                base=tuned.base,
            )
        info = await self._deployment(resource, name)
        if info.fine_tuned:
            raise UserError(
                "`{name}` serves a fine-tuned model; compare against a deployment of the base "
                "model `{base}`.",
                name=name,
                base=tuned.base,
            )
        return info

    async def _attached(self, attached: tuple[IncomingFile, str]) -> tuple[str, str]:
        """(text, name) of a file attached to the command (file, serviceUrl of its activity)."""
        file, service_url = attached
        chunks = [c async for c in self.download(file, service_url, MAX_FILE_BYTES)]
        return b"".join(chunks).decode("utf-8", errors="replace"), file.name

    async def _file(self, resource: Resource, file_id: str, job: str) -> tuple[str, str]:
        """(text, where it came from) of the held-out examples."""
        client = self.ctx.azure.openai(resource)
        source = file_id
        try:
            if not file_id:
                if not job:
                    raise UserError(
                        "I found no job for that model, so no validation file: name a file with "
                        "`evaluate <deployment> file-...`."
                    )
                found = await client.fine_tuning.jobs.retrieve(job)
                if not found.validation_file:
                    raise UserError(
                        "Job `{job}` has no validation file: name a file of held-out examples "
                        "with `evaluate {job} file-...`.",
                        job=job,
                    )
                file_id, source = found.validation_file, job
            content = await client.files.content(file_id)
        except openai.APIError as error:
            raise openai_error(error, _("file `{file}`", file=file_id)) from None
        return content.text, source

    async def ask(
        self,
        resource: Resource,
        conversation: str,
        user: str,
        *,
        target: str,
        against: str,
        file_id: str,
        judge: str = "",
        attached: tuple[IncomingFile, str] | None = None,
    ) -> EvalRequest:
        """Resolve both deployments (and the judge's) and the items, and store the question with
        its cost."""
        tuned, job = await self._target(resource, target)
        base = await self._base(resource, against or self.ctx.settings.base_deployment, tuned)
        judge = judge or self.ctx.settings.judge_deployment
        if judge:
            refuse_judge(await self._deployment(resource, judge))
        if attached is not None:
            text, source = await self._attached(attached)
        else:
            text, source = await self._file(resource, file_id, job)
        items = items_of(text)
        return await self.ctx.confirmations.ask(
            EvalRequest,
            conversation,
            user,
            resource=resource,
            setup=setup_of(items, tuned, base, job, source, judge),
            rows=list(items.rows),
        )

    async def remember_card(self, request: EvalRequest, card: str) -> None:
        """Note the card that asked, for a press that comes before its id is known."""

        def apply(found: EvalRequest | None) -> EvalRequest:
            return (found or request).model_copy(update={"card": card})

        await self.ctx.records.update(request.key(), apply)

    async def cancel(self, token: str, conversation: str, user: str) -> EvalRequest:
        """Drop an evaluation that was not confirmed."""
        return await self.ctx.confirmations.answer(
            EvalRequest.at(token), "cancelled", conversation, "evaluate", user
        )

    # -- running -----------------------------------------------------------------------------

    async def launch(self, token: str, conversation: str, actor: Actor, card: str) -> None:
        """Answer "Evaluate" once, record the evaluation and its audit entry, show its live card
        in place of the one pressed, and run it."""
        request = await self.ctx.confirmations.answer(
            EvalRequest.at(token), "confirmed", conversation, "evaluate", actor.id
        )
        setup = request.setup
        entry = self.ctx.audit.entry(
            actor, "evaluate", f"{setup.target} against {setup.base}", request.resource
        )
        record = EvalRecord(
            id=request.token,
            resource=request.resource,
            conversation=conversation,
            user=request.user,
            card=card or request.card,
            setup=setup,
            rows=request.rows,
            audit=entry.id,
            download_key=secrets.token_urlsafe(24),
            language=request.language,
        )
        await self.ctx.records.put(record, entry)
        await self._show(record, EvalProgress(setup, 0, 0))
        self.ctx.tasks.spawn(self._owned(record.id), f"evaluation {record.id}")

    async def start(self) -> None:
        """Run again the evaluations left unfinished, now and (with several instances, those a
        dead instance left) every retry period."""
        await self.resume()
        self.ctx.tasks.spawn(
            every_retry(self.ctx.owners, self.resume, "evaluations"), "evaluation adopter"
        )

    async def resume(self) -> None:
        """Run again every evaluation left unfinished that nobody here runs."""
        for record in await self.ctx.records.all(EvalRecord):
            if record.state in ("creating", "running") and not self.ctx.owners.owns(
                owner_item(record.id)
            ):
                self.ctx.tasks.spawn(self._owned(record.id), f"evaluation {record.id}")

    async def _show(self, record: EvalRecord, view: View) -> None:
        with i18n.use(record.language):
            card = await try_show(self.ctx.notify, record.conversation, record.card, view)
        if card != record.card:
            await self._change(record.id, card=card)
            record.card = card

    async def _change(self, ident: str, **fields: object) -> EvalRecord:
        def apply(found: EvalRecord | None) -> EvalRecord | None:
            return None if found is None else found.model_copy(update=fields)

        changed = await self.ctx.records.update(EvalRecord.at(ident), apply)
        assert changed is not None
        return changed

    async def _owned(self, ident: str) -> None:
        item = owner_item(ident)
        if not await self.ctx.owners.claim(item):
            return
        try:
            await self._run(ident)
        finally:
            await self.ctx.owners.release(item)

    async def _run(self, ident: str) -> None:
        record = await self.ctx.records.get(EvalRecord.at(ident))
        if record is None or record.state not in ("creating", "running"):
            return
        while True:
            try:
                record = await self._create(record)
                record = await self._follow(record)
                if record.state == "failed":
                    await self._fail(record, record.error)
                    return
                outcome = await self._outcome(record)
                break
            except UserError as error:
                await self._fail(record, error.message)
                return
            except openai.APIError as error:
                if not transient(error):
                    await self._fail(record, openai_error(error, _("evaluation run")).message)
                    return
                log.warning("evaluation %s: %s; trying again", record.id, error)
            await asyncio.sleep(self._pause())
            if not self.ctx.owners.owns(owner_item(record.id)):
                return  # another instance took it over
            record = await self.ctx.records.get(EvalRecord.at(ident)) or record
        record = await self._change(record.id, state="completed", outcome=outcome)
        scores = later("Mean scores, base to fine-tuned: {scores}", scores=_summary(outcome))
        await self.ctx.audit.end(record.audit, "done", scores)
        await self._show(record, EvalDone(record.setup, outcome, self.download_url(record)))

    async def _create(self, record: EvalRecord) -> EvalRecord:
        """The eval and both runs, each recorded as soon as Azure has it."""
        client = self.ctx.azure.openai(record.resource)
        setup = record.setup
        items = Items(tuple(record.rows), setup.examples, setup.preference)
        if not record.eval_id:
            name = f"{setup.target} vs {setup.base}"
            made = await evals.create_eval(client, name, items, setup.judge, record.id)
            record = await self._change(record.id, eval_id=made)
        for side, deployment in (("base", setup.base), ("tuned", setup.target)):
            if side not in record.runs:
                run = await evals.create_run(
                    client, record.eval_id, deployment, record.rows, f"{record.id}/{side}"
                )
                record = await self._change(record.id, runs={**record.runs, side: run})
        return await self._change(record.id, rows=[], state="running")

    def _pause(self) -> float:
        """Real seconds between two checks of the runs."""
        wanted = self.ctx.clock.real_seconds(POLL_SERVICE_SECONDS)
        return min(MAX_POLL_SECONDS, max(MIN_POLL_SECONDS, wanted))

    async def _follow(self, record: EvalRecord) -> EvalRecord:
        """Poll both runs until they end, the live card showing the items done."""
        client = self.ctx.azure.openai(record.resource)
        clock = self.ctx.clock
        pause = min(
            MAX_POLL_SECONDS, max(MIN_POLL_SECONDS, clock.real_seconds(POLL_SERVICE_SECONDS))
        )
        shown_at = 0.0
        while True:
            states = {
                side: await evals.run_state(client, record.eval_id, run)
                for side, run in record.runs.items()
            }
            done = {side: state[1] for side, state in states.items()}
            failed = [s for s in states.values() if s[0] in ("failed", "canceled")]
            if failed:
                status, _done, _total, error = failed[0]
                message = error or _("An evaluation run ended {status}.", status=status)
                return await self._change(record.id, state="failed", error=message, done=done)
            if all(s[0] == "completed" for s in states.values()):
                return await self._change(record.id, done=done)
            if done != record.done and time.monotonic() - shown_at >= CARD_SECONDS:
                record = await self._change(record.id, done=done)
                view = EvalProgress(record.setup, done.get("base", 0), done.get("tuned", 0))
                await self._show(record, view)
                shown_at = time.monotonic()
            await asyncio.sleep(pause)

    async def _outcome(self, record: EvalRecord) -> Outcome:
        client = self.ctx.azure.openai(record.resource)
        base = await evals.output_items(client, record.eval_id, record.runs["base"])
        tuned = await evals.output_items(client, record.eval_id, record.runs["tuned"])
        pairs = list(zip(base, tuned, strict=False))
        comparisons = []
        for grader in record.setup.graders:
            comparisons.append(
                compare(
                    grader,
                    [_graded(b, grader) for b, _ in pairs],
                    [_graded(t, grader) for _, t in pairs],
                )
            )
        tokens = sum(
            i.sample.usage.prompt_tokens + i.sample.usage.completion_tokens for i in base + tuned
        )
        prompt = sum(i.sample.usage.prompt_tokens for i in base + tuned)
        cost = cost_of(record.setup.base_model, prompt, tokens - prompt)
        graders = record.setup.graders
        key = WORST_BY if WORST_BY in graders else graders[0]
        worst = sorted(pairs, key=lambda p: _score(p[1], key) - _score(p[0], key))[:WORST_SHOWN]
        return Outcome(
            comparisons=tuple(comparisons),
            tokens=tokens,
            cost=cost,
            worst=tuple(
                Worst(
                    prompt=_prompt(b.datasource_item),
                    reference=str(b.datasource_item.get("reference", "")),
                    base_answer=_answer(b),
                    tuned_answer=_answer(t),
                    base_score=_score(b, key),
                    tuned_score=_score(t, key),
                )
                for b, t in worst
                if _score(t, key) < _score(b, key)
            ),
        )

    def download_url(self, record: EvalRecord) -> str:
        """The link that downloads every output of a completed evaluation (app.py serves it)."""
        settings = self.ctx.settings
        origin = f"https://{settings.public_host}" if settings.public_host else settings.base_url
        return f"{origin}{DOWNLOAD_PATH.format(id=record.id)}?key={record.download_key}"

    async def outputs(self, ident: str, key: str) -> bytes | None:
        """Every output of both runs as JSONL (item, input, reference, each model's answer and
        grades), for the holder of the evaluation's download key; None for anyone else."""
        record = await self.ctx.records.get(EvalRecord.at(ident))
        known = record is not None and record.state == "completed" and record.download_key
        if record is None or not known or not hmac.compare_digest(record.download_key, key):
            return None
        client = self.ctx.azure.openai(record.resource)
        base = await evals.output_items(client, record.eval_id, record.runs["base"])
        tuned = await evals.output_items(client, record.eval_id, record.runs["tuned"])
        lines = []
        for b, t in zip(base, tuned, strict=False):
            sides = {}
            for side, item, deployment in (
                ("base", b, record.setup.base),
                ("fine_tuned", t, record.setup.target),
            ):
                grades = {r.name: {"score": r.score, "passed": r.passed} for r in item.results}
                sides[side] = {"deployment": deployment, "answer": _answer(item), "grades": grades}
            row = {"item": b.datasource_item_id, **b.datasource_item, **sides}
            lines.append(json.dumps(row, ensure_ascii=False))
        return ("\n".join(lines) + "\n").encode()

    async def _fail(self, record: EvalRecord, message: str) -> None:
        record = await self._change(record.id, state="failed", error=message)
        await self.ctx.audit.end(
            record.audit, "failed", later("It failed: {reason}", reason=message)
        )
        await self._show(record, EvalFailed(record.setup, message))


def _graded(item: OutputItem, grader: str) -> tuple[float, bool]:
    """(score, passed) of one grader on one output item ((0, False) when it has none)."""
    found = next((r for r in item.results if r.name == grader), None)
    return (float(found.score), bool(found.passed)) if found else (0.0, False)


def _score(item: OutputItem, grader: str) -> float:
    return _graded(item, grader)[0]


def _answer(item: OutputItem) -> str:
    output = item.sample.output
    return str(output[0].content or "") if output else ""


def _prompt(item: dict[str, object]) -> str:
    messages = item.get("input")
    if not isinstance(messages, list):
        return ""
    users = [
        str(m.get("content", ""))
        for m in messages
        if isinstance(m, dict) and m.get("role") == "user"
    ]
    return users[-1] if users else ""


def _summary(outcome: Outcome) -> str:
    return "; ".join(
        f"{c.grader}: {c.base_mean:.3f} -> {c.tuned_mean:.3f}" for c in outcome.comparisons
    )


def setup_of(
    items: Items, tuned: DeploymentInfo, base: DeploymentInfo, job: str, source: str, judge: str
) -> Setup:
    """What a question shows: the deployments, the items and the estimate of both runs."""
    prompt, completion = items.tokens(tuned.base)
    cost = cost_of(tuned.base, 2 * prompt, 2 * completion)
    return Setup(
        target=tuned.name,
        model=tuned.model,
        base=base.name,
        base_model=base.base,
        job=job,
        source=source,
        examples=items.examples,
        items=len(items.rows),
        preference=items.preference,
        graders=tuple(g["name"] for g in evals.testing_criteria(items, judge)),
        judge=judge,
        prompt_tokens=prompt,
        completion_tokens=completion,
        cost=cost,
    )
