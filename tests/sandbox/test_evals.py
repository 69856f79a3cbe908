"""The sandbox's Evals (v1) with the official SDK's `client.evals`: an eval with graders, a run
per deployment over inline items, its statuses, its output items graded for real, a restart
mid-run, and a run whose deployment is missing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
from openai import AsyncOpenAI

from sandbox.graders import rouge_l
from tests.sandbox_server import ACCOUNT, BEARER, openai_client, running_sandbox, wait_for

DATA = Path(__file__).resolve().parents[1] / "data"
MODEL = "gpt-4o-mini-2024-07-18"
Q = "?api-version=2025-09-01"
ENDPOINT = "/openai-accounts/aoai-sandbox/"
GRADERS: list[Any] = [
    {
        "type": "text_similarity",
        "name": "rouge_l",
        "input": "{{sample.output_text}}",
        "reference": "{{item.reference}}",
        "evaluation_metric": "rouge_l",
        "pass_threshold": 0.3,
    },
    {
        "type": "string_check",
        "name": "exact",
        "input": "{{sample.output_text}}",
        "reference": "{{item.reference}}",
        "operation": "eq",
    },
]


def items_of(path: Path) -> list[dict[str, Any]]:
    """Chat examples as eval items: the conversation before the last answer, and that answer."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        messages = json.loads(line)["messages"]
        rows.append({"item": {"input": messages[:-1], "reference": messages[-1]["content"]}})
    return rows


async def deploy(
    http: aiohttp.ClientSession, url: str, name: str, model: str, version: str
) -> None:
    body = {
        "sku": {"name": "Standard", "capacity": 1},
        "properties": {"model": {"format": "OpenAI", "name": model, "version": version}},
    }
    async with http.put(f"{url}{ACCOUNT}/deployments/{name}{Q}", json=body, headers=BEARER) as r:
        assert r.status == 201


async def key_of(http: aiohttp.ClientSession, url: str) -> str:
    async with http.post(f"{url}{ACCOUNT}/listKeys{Q}", headers=BEARER) as response:
        return str((await response.json())["key1"])


async def create_eval(client: AsyncOpenAI) -> str:
    evaluation = await client.evals.create(
        name="base vs fine-tuned",
        data_source_config={
            "type": "custom",
            "item_schema": {
                "type": "object",
                "properties": {"input": {"type": "array"}, "reference": {"type": "string"}},
                "required": ["input", "reference"],
            },
            "include_sample_schema": True,
        },
        testing_criteria=GRADERS,
    )
    assert evaluation.object == "eval" and len(evaluation.testing_criteria) == 2
    return evaluation.id


async def create_run(client: AsyncOpenAI, eval_id: str, model: str, path: Path) -> str:
    run = await client.evals.runs.create(
        eval_id,
        name=model,
        data_source={
            "type": "completions",
            "model": model,
            "input_messages": {"type": "item_reference", "item_reference": "item.input"},
            "sampling_params": {"seed": 42, "temperature": 0.0, "max_completion_tokens": 200},
            "source": {"type": "file_content", "content": items_of(path)},
        },
    )
    assert run.status == "queued" and run.result_counts.total == len(items_of(path))
    return run.id


async def test_a_run_answers_each_item_and_grades_it(tmp_path: Path) -> None:
    async with (
        running_sandbox(tmp_path, speedup=100) as url,
        aiohttp.ClientSession() as http,
    ):
        await deploy(http, url, "base", "gpt-4o-mini", "2024-07-18")
        async with openai_client(url + ENDPOINT, await key_of(http, url)) as client:

            async def ready() -> bool:
                deployments = await http.get(f"{url}{ACCOUNT}/deployments/base{Q}", headers=BEARER)
                return bool(
                    (await deployments.json())["properties"]["provisioningState"] == "Succeeded"
                )

            await wait_for(ready)
            eval_id = await create_eval(client)
            run_id = await create_run(
                client, eval_id, "base", DATA / "mslearn_validation_set.jsonl"
            )
            seen: list[str] = []

            async def finished() -> Any:
                run = await client.evals.runs.retrieve(run_id, eval_id=eval_id)
                if not seen or seen[-1] != run.status:
                    seen.append(run.status)
                return run if run.status in ("completed", "failed", "canceled") else None

            run = await wait_for(finished, within=60, every=0.01)
            assert seen[-1] == "completed" and "in_progress" in seen, seen
            assert run.result_counts.total == 10 and run.result_counts.errored == 0
            usage = run.per_model_usage[0]
            assert usage.invocation_count == 10 and usage.completion_tokens > 0
            items = [i async for i in client.evals.runs.output_items.list(run_id, eval_id=eval_id)]
            assert [i.datasource_item_id for i in items] == list(range(10))
            for item in items:
                answer = item.sample.output[0].content or ""
                reference = str(item.datasource_item["reference"])
                scores = {r.name: r for r in item.results}
                # the score is the grader's computation on this answer, not a constant
                assert abs(scores["rouge_l"].score - rouge_l(answer, reference)) < 1e-6
                assert scores["exact"].passed == (answer == reference)
                assert item.sample.seed == 42 and item.sample.usage.prompt_tokens > 0
            passed = sum(1 for i in items if i.status == "pass")
            assert run.result_counts.passed == passed


async def test_a_run_resumes_after_a_restart_and_fails_without_its_deployment(
    tmp_path: Path,
) -> None:
    async with (
        running_sandbox(tmp_path, speedup=4) as url,
        aiohttp.ClientSession() as http,
    ):
        await deploy(http, url, "base", "gpt-4o-mini", "2024-07-18")
        async with openai_client(url + ENDPOINT, await key_of(http, url)) as client:
            eval_id = await create_eval(client)
            missing = await create_run(
                client, eval_id, "nowhere", DATA / "mslearn_validation_set.jsonl"
            )

            async def failed() -> Any:
                run = await client.evals.runs.retrieve(missing, eval_id=eval_id)
                return run if run.status == "failed" else None

            run = await wait_for(failed, within=30)
            assert run.error.code == "DeploymentNotFound"

            async def deployed() -> bool:
                got = await http.get(f"{url}{ACCOUNT}/deployments/base{Q}", headers=BEARER)
                return bool((await got.json())["properties"]["provisioningState"] == "Succeeded")

            await wait_for(deployed)
            run_id = await create_run(
                client, eval_id, "base", DATA / "mslearn_validation_set.jsonl"
            )

            async def started() -> bool:
                page = await client.evals.runs.output_items.list(run_id, eval_id=eval_id)
                return bool(page.data)

            await wait_for(started, within=30)
    async with (
        running_sandbox(tmp_path, speedup=200) as url,
        aiohttp.ClientSession() as http,
    ):
        async with openai_client(url + ENDPOINT, await key_of(http, url)) as client:

            async def completed() -> Any:
                run = await client.evals.runs.retrieve(run_id, eval_id=eval_id)
                return run if run.status == "completed" else None

            run = await wait_for(completed, within=60)
            items = [i async for i in client.evals.runs.output_items.list(run_id, eval_id=eval_id)]
            assert sorted(i.datasource_item_id for i in items) == list(range(10))
            assert run.result_counts.passed + run.result_counts.failed == 10
