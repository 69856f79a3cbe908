"""The Evals calls of an evaluation against a sandbox whose every answer to a POST is lost
(`lost=1`: Azure did the work, the caller heard 504): the eval and each run are made once and
found again, never made twice."""

from __future__ import annotations

from pathlib import Path

from skills.evaluation import evals
from skills.evaluation.items import items_of
from tests.harness import SANDBOX_TOKEN
from tests.sandbox_server import openai_client, running_sandbox

DATA = Path(__file__).resolve().parents[1] / "data"


async def test_a_lost_answer_finds_the_eval_and_the_run_it_made(tmp_path: Path) -> None:
    items = items_of((DATA / "mslearn_validation_set.jsonl").read_text(encoding="utf-8"))
    async with running_sandbox(tmp_path, faults="lost=1,seed=1") as url:
        endpoint = f"{url}/openai-accounts/aoai-sandbox/"
        async with openai_client(endpoint, SANDBOX_TOKEN) as client:
            eval_id = await evals.create_eval(client, "lost", items, "", "evaluation-1")
            run_id = await evals.create_run(
                client, eval_id, "base", list(items.rows), "evaluation-1/base"
            )
            made = [e async for e in client.evals.list()]
            assert [e.id for e in made] == [eval_id]
            assert made[0].metadata == {evals.TAG: "evaluation-1"}
            runs = [r async for r in client.evals.runs.list(eval_id)]
            assert [r.id for r in runs] == [run_id]


async def test_throttling_is_waited_out_and_nothing_is_made_twice(tmp_path: Path) -> None:
    items = items_of((DATA / "mslearn_validation_set.jsonl").read_text(encoding="utf-8"))
    async with running_sandbox(tmp_path, faults="429=0.5,retry_after=0.01,seed=3") as url:
        endpoint = f"{url}/openai-accounts/aoai-sandbox/"
        async with openai_client(endpoint, SANDBOX_TOKEN, max_retries=8) as client:
            eval_id = await evals.create_eval(client, "busy", items, "", "evaluation-2")
            run_id = await evals.create_run(
                client, eval_id, "base", list(items.rows), "evaluation-2/base"
            )
            assert [e.id async for e in client.evals.list()] == [eval_id]
            assert [r.id async for r in client.evals.runs.list(eval_id)] == [run_id]
