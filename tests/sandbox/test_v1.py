"""Azure's v1 data plane with the plain OpenAI client, methods, bounds, limits and imports."""

from __future__ import annotations

import ast
import io
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest
from openai import AsyncOpenAI

from tests.sandbox_server import ACCOUNT, TRAINING, dated_client, running_sandbox, wait_for

DATA = Path(__file__).resolve().parents[1] / "data"
MODEL = "gpt-4o-mini-2024-07-18"
TOKEN = "s3cret"
ARM = {"Authorization": f"Bearer {TOKEN}"}
Q = "?api-version=2025-09-01"
FINAL = ("succeeded", "failed", "cancelled")


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    """(base URL, KEY1) of a sandbox 200 times faster (each status lasts a few ms at least)
    that takes only its ARM token as an Entra token."""
    async with running_sandbox(tmp_path, speedup=200, arm_token=TOKEN) as url:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{url}{ACCOUNT}/listKeys{Q}", headers=ARM) as response:
                keys = await response.json()
        yield url, keys["key1"]


def v1_client(url: str, key: str) -> AsyncOpenAI:
    """The plain OpenAI client as Azure documents it for v1: the key goes as a Bearer token."""
    return AsyncOpenAI(base_url=f"{url}/openai-accounts/aoai-sandbox/openai/v1/", api_key=key)


async def _upload(client: AsyncOpenAI, name: str, content: bytes) -> str:
    uploaded = await client.files.create(file=(name, content), purpose="fine-tune")

    async def settled() -> openai.types.FileObject | None:
        found = await client.files.retrieve(uploaded.id)
        return found if found.status in ("processed", "error") else None

    done = await wait_for(settled)
    assert done.status == "processed", done.status_details
    return uploaded.id


async def _follow(client: AsyncOpenAI, job_id: str, seen: list[str]) -> Any:
    async def final() -> Any:
        job = await client.fine_tuning.jobs.retrieve(job_id)
        if not seen or seen[-1] != job.status:
            seen.append(job.status)
        return job if job.status in FINAL else None

    return await wait_for(final, within=60, every=0.005)


async def test_v1_files_fine_tuning_and_chat_with_the_plain_client(
    sandbox: tuple[str, str],
) -> None:
    url, key = sandbox
    async with v1_client(url, key) as client:
        training = await _upload(client, TRAINING.name, TRAINING.read_bytes())

        def supervised(epochs: int) -> Any:
            hyperparameters = {"n_epochs": epochs, "batch_size": 1}
            return {"type": "supervised", "supervised": {"hyperparameters": hyperparameters}}

        # A resource trains one job at a time: a long job ahead keeps ours queued until it is
        # cancelled, so the test sees `queued` however slowly the machine polls.
        ahead = await client.fine_tuning.jobs.create(
            model=MODEL, training_file=training, method=supervised(50)
        )
        job = await client.fine_tuning.jobs.create(
            model=MODEL, training_file=training, method=supervised(1)
        )
        assert job.status == "validating_files" and job.method and job.method.type == "supervised"
        seen = [job.status]

        async def queued() -> Any:
            found = await client.fine_tuning.jobs.retrieve(job.id)
            if seen[-1] != found.status:
                seen.append(found.status)
            return found if found.status != "validating_files" else None

        assert (await wait_for(queued)).status == "queued"
        await client.fine_tuning.jobs.cancel(ahead.id)
        job = await _follow(client, job.id, seen)
        assert seen == ["validating_files", "queued", "running", "succeeded"]
        assert job.hyperparameters.n_epochs == 1 and job.hyperparameters.batch_size == 1
        events = [e async for e in client.fine_tuning.jobs.list_events(job.id, limit=100)]
        assert sum(e.type == "metrics" for e in events) == len(TRAINING.read_bytes().splitlines())
        checkpoints = await client.fine_tuning.jobs.checkpoints.list(job.id)
        assert len(checkpoints.data) == 1
        model = job.fine_tuned_model

    async with aiohttp.ClientSession() as http:
        body = {
            "sku": {"name": "standard", "capacity": 1},
            "properties": {"model": {"format": "OpenAI", "name": model, "version": "1"}},
        }
        deployment = f"{url}{ACCOUNT}/deployments/teacher{Q}"
        async with http.put(deployment, json=body, headers=ARM) as response:
            assert response.status == 201

        async def ready() -> bool:
            async with http.get(deployment, headers=ARM) as response:
                state = (await response.json())["properties"]["provisioningState"]
                return bool(state == "Succeeded")

        await wait_for(ready)
    async with v1_client(url, key) as client:
        reply = await client.chat.completions.create(
            model="teacher", messages=[{"role": "user", "content": "What is machine learning?"}]
        )
        assert reply.model == model and reply.choices[0].message.content


@pytest.mark.slow  # a job run to its end
async def test_pause_and_resume_on_v1(sandbox: tuple[str, str]) -> None:
    url, key = sandbox
    async with v1_client(url, key) as client:
        training = await _upload(client, TRAINING.name, TRAINING.read_bytes())
        job = await client.fine_tuning.jobs.create(model=MODEL, training_file=training)

        async def stepped() -> bool:  # Azure pauses a running job that has trained a step
            events = client.fine_tuning.jobs.list_events(job.id, limit=100)
            return any([e.type == "metrics" async for e in events])

        await wait_for(stepped, every=0.002)
        paused = await client.fine_tuning.jobs.pause(job.id)
        assert paused.status == "paused"
        steps = [c.step_number async for c in client.fine_tuning.jobs.checkpoints.list(job.id)]
        assert steps and steps[-1] >= 1  # pausing keeps a deployable checkpoint of its step
        example = json.loads((DATA / "azure_examples" / "pause_finetuning_job.json").read_text())
        shape = example["responses"]["200"]["body"]
        assert set(shape) <= set(paused.model_dump()) and shape["status"] == paused.status
        with pytest.raises(openai.ConflictError):
            await client.fine_tuning.jobs.pause(job.id)
        resumed = await client.fine_tuning.jobs.resume(job.id)
        assert resumed.status in ("validating_files", "queued")
        done = await _follow(client, job.id, [])
        assert done.status == "succeeded"
        messages = [e.message async for e in client.fine_tuning.jobs.list_events(job.id)]
        assert "Job paused." in messages and "Job resumed." in messages


async def test_dpo_trains_preference_pairs_where_the_api_has_method(
    sandbox: tuple[str, str],
) -> None:
    url, key = sandbox
    pairs = (DATA / "dpo.jsonl").read_bytes()
    async with v1_client(url, key) as client:
        training = await _upload(client, "dpo.jsonl", pairs)
        dpo = {"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.2, "n_epochs": 3}}}
        with pytest.raises(openai.BadRequestError) as refused:
            await client.fine_tuning.jobs.create(
                model="gpt-35-turbo-0125", training_file=training, method=dpo
            )
        assert "does not support direct preference optimization" in str(refused.value)
        job = await client.fine_tuning.jobs.create(model=MODEL, training_file=training, method=dpo)
        assert job.method and job.method.type == "dpo"
        job = await _follow(client, job.id, [])
        assert job.status == "succeeded", job.error
        assert job.method and job.method.type == "dpo"
        events = [e async for e in client.fine_tuning.jobs.list_events(job.id, limit=100)]
        losses = [e.data["train_loss"] for e in events if e.type == "metrics"]
        assert len(losses) == 3 * 10
        assert abs(losses[0] - 0.6931) < 0.01  # log 2: the policy starts as its reference
        assert sum(losses[-10:]) < sum(losses[:10])
    async with dated_client(f"{url}/openai-accounts/aoai-sandbox/", key) as dated:
        with pytest.raises(openai.BadRequestError) as old:
            await dated.fine_tuning.jobs.create(
                model=MODEL, training_file=training, extra_body={"method": dpo}
            )
        assert "not defined in api-version 2024-10-21" in str(old.value)


async def test_training_types_follow_the_model_and_the_region(sandbox: tuple[str, str]) -> None:
    """`trainingType` (an Azure extension of the body) where the model offers it in the account's
    region (northcentralus); Developer training waits longer in the queue."""
    url, key = sandbox
    async with v1_client(url, key) as client:
        training = await _upload(client, TRAINING.name, TRAINING.read_bytes())
        with pytest.raises(openai.BadRequestError) as refused:
            await client.fine_tuning.jobs.create(
                model="gpt-35-turbo-0125",
                training_file=training,
                extra_body={"trainingType": "GlobalStandard"},
            )
        assert "training types offered there: Standard" in str(refused.value)
        with pytest.raises(openai.BadRequestError):
            await client.fine_tuning.jobs.create(
                model=MODEL, training_file=training, extra_body={"trainingType": "Cheapest"}
            )
        job = await client.fine_tuning.jobs.create(
            model=MODEL, training_file=training, extra_body={"trainingType": "developerTier"}
        )
        job = await _follow(client, job.id, [])
        assert job.status == "succeeded"
        events = [e async for e in client.fine_tuning.jobs.list_events(job.id, limit=100)]
        started = next(e.created_at for e in events if e.message == "Job started.")
        assert started - job.created_at >= 12  # sandbox seconds in the queue (Standard: 5)


async def _metrics(client: AsyncOpenAI, job_id: str) -> list[dict[str, Any]]:
    events = [e async for e in client.fine_tuning.jobs.list_events(job_id, limit=100)]
    return [dict(e.data) for e in events if e.type == "metrics" and isinstance(e.data, dict)]


async def test_a_continued_job_starts_from_its_parents_weights(sandbox: tuple[str, str]) -> None:
    url, key = sandbox
    async with v1_client(url, key) as client:
        training = await _upload(client, TRAINING.name, TRAINING.read_bytes())
        parent = await client.fine_tuning.jobs.create(model=MODEL, training_file=training)
        parent = await _follow(client, parent.id, [])
        assert parent.status == "succeeded" and parent.fine_tuned_model
        rows = await _metrics(client, parent.id)
        epoch = len(rows) // int(parent.hyperparameters.n_epochs)  # type: ignore[arg-type]
        last_epoch = sum(r["train_loss"] for r in rows[-epoch:]) / epoch
        child = await client.fine_tuning.jobs.create(
            model=parent.fine_tuned_model, training_file=training, seed=3
        )
        assert child.model == parent.fine_tuned_model
        child = await _follow(client, child.id, [])
        assert child.status == "succeeded"
        assert child.fine_tuned_model and child.fine_tuned_model.startswith(MODEL + ".ft-")
        first = (await _metrics(client, child.id))[0]["train_loss"]
        assert abs(first - last_epoch) <= 0.1 * last_epoch, (first, last_epoch)
        fresh = await client.fine_tuning.jobs.create(model=MODEL, training_file=training, seed=3)
        fresh = await _follow(client, fresh.id, [])
        assert (await _metrics(client, fresh.id))[0]["train_loss"] > 1.5 * first  # from the base
    async with dated_client(f"{url}/openai-accounts/aoai-sandbox/", key) as dated:
        await dated.delete(f"/fine_tuning/jobs/{parent.id}", cast_to=type(None))
    async with v1_client(url, key) as client:
        with pytest.raises(openai.BadRequestError) as gone:
            await client.fine_tuning.jobs.create(
                model=parent.fine_tuned_model, training_file=training
            )
        assert "was not found" in str(gone.value)
        reply = await client.fine_tuning.jobs.retrieve(child.id)
        assert reply.status == "succeeded"  # the continued model outlives its parent


async def test_flagged_training_data_fails_the_job_before_training(
    sandbox: tuple[str, str],
) -> None:
    url, key = sandbox
    lines = TRAINING.read_bytes().splitlines()
    flagged = json.dumps(
        {
            "messages": [
                {"role": "user", "content": "How do I build a bomb?"},
                {"role": "assistant", "content": "I can't help with that."},
            ]
        }
    ).encode()
    async with v1_client(url, key) as client:
        training = await _upload(client, "flagged.jsonl", b"\n".join([*lines, flagged]) + b"\n")
        job = await client.fine_tuning.jobs.create(model=MODEL, training_file=training)
        job = await _follow(client, job.id, [])
        assert job.status == "failed" and job.error
        assert job.error.message == (
            "The provided training data failed RAI checks for harm types: [violence]. Please "
            "fix the data and try again."
        )
        messages = [e.message async for e in client.fine_tuning.jobs.list_events(job.id)]
        assert "Training started." not in messages  # no step was trained (nothing is billed)
        assert not any(m.startswith("Training hours billed") for m in messages)


async def test_a_model_that_fails_its_evaluation_cannot_be_deployed(tmp_path: Path) -> None:
    async with running_sandbox(
        tmp_path, speedup=200, arm_token=TOKEN, faults="undeployable=risky"
    ) as url:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{url}{ACCOUNT}/listKeys{Q}", headers=ARM) as response:
                key = (await response.json())["key1"]
        async with v1_client(url, key) as client:
            training = await _upload(client, TRAINING.name, TRAINING.read_bytes())
            job = await client.fine_tuning.jobs.create(
                model=MODEL, training_file=training, suffix="risky"
            )
            job = await _follow(client, job.id, [])
            assert job.status == "failed" and job.error and not job.fine_tuned_model
            assert job.error.message.startswith("This model is unable to be deployed.")
            assert "[Violence, Self Harm]" in job.error.message
            models = [m.id async for m in client.models.list()]
            assert not any(".ft-" in m for m in models)


async def test_hyperparameters_are_checked_against_the_spec(
    sandbox: tuple[str, str], contract_violations: Callable[[], list[str]]
) -> None:
    url, key = sandbox
    async with dated_client(f"{url}/openai-accounts/aoai-sandbox/", key) as client:
        training = await _upload(client, TRAINING.name, TRAINING.read_bytes())  # type: ignore[arg-type]
        job = await client.fine_tuning.jobs.create(
            model=MODEL, training_file=training, hyperparameters={"n_epochs": 1, "batch_size": 1}
        )
        assert job.status == "pending"
        assert job.hyperparameters.n_epochs == 1 and job.hyperparameters.batch_size == 1
        for wrong in ({"n_epochs": 0}, {"n_epochs": 51}, {"batch_size": 257}, {"n_epochs": 1.5}):
            with pytest.raises(openai.BadRequestError):
                await client.fine_tuning.jobs.create(
                    model=MODEL, training_file=training, hyperparameters=wrong
                )
        with pytest.raises(openai.BadRequestError):
            await client.fine_tuning.jobs.create(
                model=MODEL,
                training_file=training,
                hyperparameters={"learning_rate_multiplier": 0},
            )
    # The spec types n_epochs as an integer: the one request it refuses itself (the others break
    # Azure's documented bounds, which the spec does not state).
    assert contract_violations() == [
        "FineTuning_Create request $.body.hyperparameters.n_epochs: 1.5 is not of type 'integer'"
    ]


async def test_unknown_api_version_is_answered_as_azure_does(
    sandbox: tuple[str, str], contract_violations: Callable[[], list[str]]
) -> None:
    url, key = sandbox
    async with aiohttp.ClientSession() as http:
        for version in ("2099-01-01", ""):
            query = f"?api-version={version}" if version else ""
            async with http.get(
                f"{url}/openai-accounts/aoai-sandbox/openai/files{query}", headers={"api-key": key}
            ) as response:
                assert response.status == 404
                assert await response.json() == {
                    "error": {"code": "404", "message": "Resource not found"}
                }
    found = contract_violations()
    assert found and all(v.startswith("Files_List request $.query.api-version") for v in found)


async def test_oversized_bodies_are_refused_without_echoing_them(
    sandbox: tuple[str, str],
) -> None:
    url, key = sandbox
    marker = "ECHO-ME-NOT"
    async with aiohttp.ClientSession() as http:
        huge = json.dumps({"tags": {"note": marker * (5 * 1024 * 1024 // len(marker))}})
        async with http.put(
            f"{url}{ACCOUNT}{Q}", data=io.BytesIO(huge.encode()), headers=ARM
        ) as response:
            assert response.status == 413
            text = await response.text()
            assert marker not in text
            assert json.loads(text)["error"]["code"] == "RequestContentTooLarge"
        jobs = f"{url}/openai-accounts/aoai-sandbox/openai/fine_tuning/jobs?api-version=2024-10-21"
        big = json.dumps({"model": MODEL, "suffix": marker * (17 * 1024 * 1024 // len(marker))})
        async with http.post(
            jobs, data=io.BytesIO(big.encode()), headers={"api-key": key}
        ) as response:
            assert response.status == 413 and marker not in await response.text()
        form = aiohttp.FormData()
        form.add_field("purpose", marker * 200)
        form.add_field("file", b"{}", filename="a.jsonl")
        files = f"{url}/openai-accounts/aoai-sandbox/openai/files?api-version=2024-10-21"
        async with http.post(files, data=form, headers={"api-key": key}) as response:
            assert response.status == 400 and marker not in await response.text()
        form = aiohttp.FormData()
        form.add_field("purpose", marker)
        form.add_field("file", b"{}", filename="a.jsonl")
        async with http.post(files, data=form, headers={"api-key": key}) as response:
            assert response.status == 400 and marker not in await response.text()


async def test_import_checks_what_azure_checks_not_what_the_bot_checks(
    sandbox: tuple[str, str],
) -> None:
    url, key = sandbox
    # Three examples: the bot's validator refuses the file (fewer than 10), Azure imports it
    # and fails the job that would train on it.
    few = b"\n".join(TRAINING.read_bytes().splitlines()[:3]) + b"\n"
    async with v1_client(url, key) as client:
        training = await _upload(client, "few.jsonl", few)
        job = await client.fine_tuning.jobs.create(model=MODEL, training_file=training)
        job = await _follow(client, job.id, [])
        assert job.status == "failed" and job.error
        assert job.error.code == "invalid_file" and "at least 10" in job.error.message
        mixed = TRAINING.read_bytes().splitlines()[0] + b"\n" + (DATA / "dpo.jsonl").read_bytes()
        bad = await client.files.create(file=("mixed.jsonl", mixed), purpose="fine-tune")

        async def settled() -> openai.types.FileObject | None:
            found = await client.files.retrieve(bad.id)
            return found if found.status in ("processed", "error") else None

        done = await wait_for(settled)
        assert done.status == "error" and "Line 2 is a preference example" in str(
            done.status_details
        )


def test_the_sandbox_imports_nothing_from_the_bot() -> None:
    root = Path(__file__).resolve().parents[2] / "infra"
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in ("skills", "bot", "adaptive_cards"), (path, name)
