"""The Evals calls of an evaluation, on Azure OpenAI's v1 data plane with the `openai` SDK
(`client.evals`): one eval holding the graders, one run per model over the same items, and the
runs' output items.

Shapes: azure-v1-v1-generated.json (createEval: a `custom` data_source_config with the items'
JSON schema and `testing_criteria`; createEvalRun: a `completions` data source, its `model` a
deployment, `input_messages` an `item_reference` to each item's conversation, `file_content`
items, `sampling_params`), and the SDK's `evals` types. Graders (the spec's
OpenAI.EvalGraderTextSimilarityParams and OpenAI.EvalGraderStringCheckParams): `fuzzy_match` and
`rouge_l` text similarity of the answer (`{{sample.output_text}}`) with the reference answer
(`{{item.reference}}`), and exact match when every reference is short.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import openai
from openai import AsyncOpenAI
from openai.types.evals.runs.output_item_list_response import OutputItemListResponse

from skills.evaluation.items import Item, Items
from skills.training.jobs import call, maybe_done, once

SEED = 42
"""The sampling seed of both runs: the same settings for both models."""
TEMPERATURE = 0.0
MAX_COMPLETION_TOKENS = 512
ANSWER = "{{sample.output_text}}"
REFERENCE = "{{item.reference}}"
ITEM_SCHEMA: dict[str, object] = {
    "type": "object",
    "properties": {
        "input": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"role": {"type": "string"}, "content": {"type": "string"}},
                "required": ["role", "content"],
            },
        },
        "reference": {"type": "string"},
    },
    "required": ["input", "reference"],
}


JUDGE = "judge"
"""The name of the `score_model` grader (OpenAI.EvalGraderScoreModelParams): a model's opinion."""
JUDGE_PROMPT = (
    "You grade an answer against the reference answer. Reply with one number from 1 (wrong or "
    "unrelated) to 5 (as correct and as fitting as the reference)."
)


def testing_criteria(items: Items, judge: str = "") -> list[dict[str, Any]]:
    """The graders of an evaluation of these items (with `judge`: a chat deployment's grade)."""
    graders: list[dict[str, Any]] = [
        {
            "type": "text_similarity",
            "name": metric,
            "input": ANSWER,
            "reference": REFERENCE,
            "evaluation_metric": metric,
            "pass_threshold": threshold,
        }
        for metric, threshold in (("fuzzy_match", 0.6), ("rouge_l", 0.4))
    ]
    if items.short_references:
        graders.append(
            {
                "type": "string_check",
                "name": "exact_match",
                "input": ANSWER,
                "reference": REFERENCE,
                "operation": "eq",
            }
        )
    if judge:
        graders.append(
            {
                "type": "score_model",
                "name": JUDGE,
                "model": judge,
                "input": [
                    {"role": "system", "content": JUDGE_PROMPT},
                    {"role": "user", "content": f"Reference: {REFERENCE}\nAnswer: {ANSWER}"},
                ],
                "range": [1, 5],
                "pass_threshold": 4,
            }
        )
    return graders


TAG = "ftbot_evaluation"
"""The metadata key that names the bot's evaluation (and run side) on what it creates, so that a
create whose answer got lost is found instead of made twice."""


async def _found(pages: Any, tag: str) -> str | None:
    """The id of the first listed eval or run whose metadata carries `tag`."""
    async for found in pages:
        if (found.metadata or {}).get(TAG) == tag:
            return str(found.id)
    return None


async def create_eval(client: AsyncOpenAI, name: str, items: Items, judge: str, tag: str) -> str:
    """The eval of the evaluation `tag` (made once: an unclear failure is checked against the
    list); its id."""

    async def attempt() -> str:
        try:
            created = await once(client).evals.create(
                name=name,
                data_source_config={
                    "type": "custom",
                    "item_schema": ITEM_SCHEMA,
                    "include_sample_schema": True,
                },
                testing_criteria=testing_criteria(items, judge),  # type: ignore[arg-type]
                metadata={TAG: tag},
            )
            return created.id
        except openai.APIError as error:
            if maybe_done(error):
                found = await _found(client.evals.list(order="desc", limit=100), tag)
                if found:
                    return found  # it was made; its answer got lost
            raise

    return await call(attempt)


async def create_run(
    client: AsyncOpenAI, eval_id: str, deployment: str, rows: Sequence[Item], tag: str
) -> str:
    """The run of one side (`tag`) answering every item with `deployment` (made once); its id."""

    async def attempt() -> str:
        try:
            run = await once(client).evals.runs.create(
                eval_id,
                name=deployment,
                metadata={TAG: tag},
                data_source={
                    "type": "completions",
                    "model": deployment,
                    "input_messages": {"type": "item_reference", "item_reference": "item.input"},
                    "sampling_params": {
                        "seed": SEED,
                        "temperature": TEMPERATURE,
                        "max_completion_tokens": MAX_COMPLETION_TOKENS,
                    },
                    "source": {
                        "type": "file_content",
                        "content": [{"item": row} for row in rows],
                    },
                },
            )
            return run.id
        except openai.APIError as error:
            if maybe_done(error):
                found = await _found(client.evals.runs.list(eval_id, limit=100), tag)
                if found:
                    return found
            raise

    return await call(attempt)


async def run_state(client: AsyncOpenAI, eval_id: str, run_id: str) -> tuple[str, int, int, str]:
    """(status, items done, total, error message) of a run."""
    run = await client.evals.runs.retrieve(run_id, eval_id=eval_id)
    counts = run.result_counts
    error = run.error.message if run.error and run.error.message else ""
    return run.status, counts.passed + counts.failed + counts.errored, counts.total, error


async def output_items(
    client: AsyncOpenAI, eval_id: str, run_id: str
) -> list[OutputItemListResponse]:
    """Every output item of a run, in item order."""
    found = [
        item
        async for item in client.evals.runs.output_items.list(run_id, eval_id=eval_id, limit=100)
    ]
    return sorted(found, key=lambda item: item.datasource_item_id)
