"""The issue's "Done means" script, with the official SDKs against a sandbox on 127.0.0.1."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from statistics import mean

import openai
import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.authorization.v2022_04_01.models import RoleAssignmentCreateParameters
from azure.mgmt.cognitiveservices.models import (
    Account,
    AccountProperties,
    Deployment,
    DeploymentModel,
    DeploymentProperties,
    Sku,
)

from infra.azure import AzureClients, azure_clients
from tests.harness import client_settings
from tests.sandbox_server import (
    EXAMPLES,
    TRAINING,
    VALIDATION,
    openai_client,
    running_sandbox,
    wait_for,
)

pytestmark = pytest.mark.slow  # the lab's script, from an account to a chat

SUB, RG, NAME = "00000000-0000-0000-0000-000000000000", "rg-finetune", "AzureOpenAI-Finetune01"
MODEL = "gpt-4o-mini-2024-07-18"
ROLES = {
    "Cognitive Services OpenAI Contributor": "a001fd3d-188f-4b5d-821b-7da978bf7442",
    "Cognitive Services OpenAI User": "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd",
    "Cognitive Services Contributor": "25fbc0a9-bd7c-42a3-aa1a-3b75d497ee68",
}
USAGES_READER = "bba48692-92b0-4667-a9ad-c31c7b334ac2"
TEACHER = "The system is an AI teacher that helps people learn about AI"


@pytest.fixture
async def clients(tmp_path: Path) -> AsyncIterator[AzureClients]:
    async with running_sandbox(tmp_path / "sandbox", speedup=5000) as url:
        settings = client_settings(tmp_path)
        async with azure_clients(settings, sandbox_url=url) as built:
            built.cognitive._config.polling_interval = 0.05
            yield built


async def test_lab_from_account_to_chat(clients: AzureClients) -> None:
    cognitive = clients.cognitive
    # 1. a resource group, then an Azure OpenAI resource, S0, through the long-running PUT
    await clients.groups.resource_groups.create_or_update(RG, {"location": "northcentralus"})
    poller = await cognitive.accounts.begin_create(
        RG,
        NAME,
        Account(
            kind="OpenAI",
            sku=Sku(name="S0"),
            location="northcentralus",
            properties=AccountProperties(custom_sub_domain_name=NAME.lower()),
        ),
    )
    account = await poller.result()
    assert account.properties.provisioning_state == "Succeeded"
    endpoint = account.properties.endpoint
    assert endpoint.startswith("http://127.0.0.1:") and endpoint.endswith(
        f"/sandbox/openai-accounts/{NAME.lower()}/"
    )
    listed = [a.name async for a in cognitive.accounts.list_by_resource_group(RG)]
    assert listed == [NAME]
    everywhere = [a.name async for a in cognitive.accounts.list()]
    assert NAME in everywhere and "aoai-sandbox" in everywhere

    # 2. the four roles
    principal = str(uuid.uuid4())
    scope = account.id
    for role_id in ROLES.values():
        await clients.authorization.role_assignments.create(
            scope,
            str(uuid.uuid4()),
            RoleAssignmentCreateParameters(
                role_definition_id=f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{role_id}",
                principal_id=principal,
                principal_type="User",
            ),
        )
    await clients.authorization.role_assignments.create(
        f"/subscriptions/{SUB}",
        str(uuid.uuid4()),
        RoleAssignmentCreateParameters(
            role_definition_id=f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{USAGES_READER}",
            principal_id=principal,
        ),
    )
    at_account = [r async for r in clients.authorization.role_assignments.list_for_scope(scope)]
    assert len(at_account) == 4
    definition = await clients.authorization.role_definitions.get(
        scope, ROLES["Cognitive Services OpenAI User"]
    )
    assert definition.role_name == "Cognitive Services OpenAI User"

    # 3. keys: KEY1/KEY2, and rotation revokes the old key at once
    keys = await cognitive.accounts.list_keys(RG, NAME)
    rotated = await cognitive.accounts.regenerate_key(RG, NAME, key_name="Key2")
    assert rotated.key1 == keys.key1 and rotated.key2 != keys.key2
    async with openai_client(endpoint, keys.key2, max_retries=0) as stale:
        with pytest.raises(openai.AuthenticationError):
            await stale.files.list()

    async with openai_client(endpoint, rotated.key2) as client:
        # 7. upload the lab's files, train, poll, read the results
        training = await client.files.create(
            file=(TRAINING.name, TRAINING.read_bytes()), purpose="fine-tune"
        )
        validation = await client.files.create(
            file=(VALIDATION.name, VALIDATION.read_bytes()), purpose="fine-tune"
        )
        assert training.status == "pending" and training.id.startswith("file-")
        for file in (training, validation):
            done = await wait_for(lambda f=file: _processed(client, f.id))
            assert done.status == "processed", done.status_details
        job = await client.fine_tuning.jobs.create(
            model=MODEL, training_file=training.id, validation_file=validation.id, suffix="teacher"
        )
        assert job.status == "validating_files" and job.id.startswith("ftjob-")
        assert job.hyperparameters.n_epochs == 6 and job.hyperparameters.batch_size == 1
        seen = {job.status}

        async def finished() -> openai.types.fine_tuning.FineTuningJob | None:
            current = await client.fine_tuning.jobs.retrieve(job.id)
            seen.add(current.status)
            return current if current.status in ("succeeded", "failed", "cancelled") else None

        job = await wait_for(finished, within=60)
        assert job.status == "succeeded" and seen >= {"validating_files", "running", "succeeded"}
        assert job.fine_tuned_model and job.fine_tuned_model.startswith(f"{MODEL}.ft-")
        assert job.fine_tuned_model.endswith("-teacher") and job.trained_tokens
        jobs = [j.id async for j in client.fine_tuning.jobs.list()]
        assert jobs == [job.id]

        events = [e async for e in client.fine_tuning.jobs.list_events(job.id, limit=100)]
        messages = [e.message for e in events]
        assert messages[0] == "Job enqueued. Waiting for jobs ahead to complete."
        assert "Job started." in messages and messages[-1] == "Job succeeded."
        assert any(m.startswith("Training hours billed: ") for m in messages)
        metrics = [e for e in events if e.type == "metrics"]
        assert len(metrics) == 6 * EXAMPLES and metrics[0].data["step"] == 1
        newer = await client.fine_tuning.jobs.list_events(job.id, after=events[-3].id)
        assert [e.id for e in newer.data] == [e.id for e in events[-2:]]

        checkpoints = (await client.fine_tuning.jobs.checkpoints.list(job.id)).data
        assert [c.step_number for c in checkpoints] == [4 * EXAMPLES, 5 * EXAMPLES, 6 * EXAMPLES]
        assert all(c.id.startswith("ftchkpt-") for c in checkpoints)
        assert (
            checkpoints[-1].fine_tuned_model_checkpoint
            == f"{job.fine_tuned_model}:ckpt-step-{6 * EXAMPLES}"
        )

        content = await client.files.content(job.result_files[0])
        rows = list(csv.DictReader(io.StringIO(content.text)))
        assert list(rows[0]) == [
            "step",
            "train_loss",
            "train_mean_token_accuracy",
            "valid_loss",
            "validation_mean_token_accuracy",
            "full_valid_loss",
            "full_valid_mean_token_accuracy",
        ]
        losses = [float(r["train_loss"]) for r in rows]
        assert mean(losses[-EXAMPLES:]) < mean(losses[:EXAMPLES])  # last epoch against first
        full = [float(r["full_valid_loss"]) for r in rows if r["full_valid_loss"]]
        assert len(full) == 6 and full[-1] < full[0]
        # per epoch, not per step: one example's accuracy depends on which example it is (the
        # order is shuffled by the job's random seed), so a step against a step was flaky
        accuracy = [float(r["train_mean_token_accuracy"]) for r in rows]
        assert mean(accuracy[-EXAMPLES:]) > mean(accuracy[:EXAMPLES])
        epoch_end = EXAMPLES - 1  # the whole validation file is measured at each epoch's end
        assert rows[epoch_end]["full_valid_loss"] and not rows[epoch_end - 1]["full_valid_loss"]
        models = [m.id async for m in client.models.list()]
        assert MODEL in models and job.fine_tuned_model in models

        # 8. deploy the fine-tuned model as the lab's raw PUT does
        deploying = await cognitive.deployments.begin_create_or_update(
            RG,
            NAME,
            "teacher",
            Deployment(
                sku=Sku(name="standard", capacity=1),
                properties=DeploymentProperties(
                    model=DeploymentModel(format="OpenAI", name=job.fine_tuned_model, version="1")
                ),
            ),
        )
        deployment = await deploying.result()
        assert deployment.properties.provisioning_state == "Succeeded"
        names = [d.name async for d in cognitive.deployments.list(RG, NAME)]
        assert names == ["teacher"]

        # 9. the chat playground: system message, one few-shot example, the lab's question
        question = "What is machine learning?"
        learned = TRAINING.read_text().splitlines()[0]
        reply = await client.chat.completions.create(
            model="teacher", messages=[{"role": "user", "content": question}]
        )
        assert reply.model == job.fine_tuned_model
        assert reply.choices[0].message.content and reply.choices[0].message.content in learned
        assert reply.usage and reply.usage.prompt_tokens == 3 + 3 + 1 + 5
        few_shot = "Narrow AI does one task; general AI would do any; super intelligence beyond us."
        reply = await client.chat.completions.create(
            model="teacher",
            messages=[
                {"role": "system", "content": TEACHER},
                {
                    "role": "user",
                    "content": "What are the different types of artificial intelligence?",
                },
                {"role": "assistant", "content": few_shot},
                {"role": "user", "content": "What are the types of artificial intelligence?"},
            ],
        )
        assert reply.choices[0].message.content == few_shot
        short = await client.chat.completions.create(
            model="teacher", messages=[{"role": "user", "content": question}], max_tokens=5
        )
        assert short.choices[0].finish_reason == "length" and short.usage.completion_tokens == 5

        # 10. delete the deployment; the model stays
        await (await cognitive.deployments.begin_delete(RG, NAME, "teacher")).result()
        assert [d.name async for d in cognitive.deployments.list(RG, NAME)] == []
        with pytest.raises(openai.NotFoundError) as gone:
            await client.chat.completions.create(
                model="teacher", messages=[{"role": "user", "content": question}]
            )
        assert gone.value.body["code"] == "DeploymentNotFound"
        assert job.fine_tuned_model in [m.id async for m in client.models.list()]

    await (await cognitive.accounts.begin_delete(RG, NAME)).result()
    with pytest.raises(ResourceNotFoundError):
        await cognitive.accounts.get(RG, NAME)


async def _processed(client: openai.AsyncOpenAI, file_id: str) -> openai.types.FileObject | None:
    file = await client.files.retrieve(file_id)
    return file if file.status in ("processed", "error") else None


async def test_default_account_and_its_clients_work_at_once(clients: AzureClients) -> None:
    account = await clients.cognitive.accounts.get(clients.resource_group, clients.account)
    assert account.name == "aoai-sandbox" and account.properties.provisioning_state == "Succeeded"
    base = await clients.cognitive.deployments.begin_create_or_update(
        clients.resource_group,
        clients.account,
        "base",
        Deployment(
            sku=Sku(name="GlobalStandard", capacity=1),
            properties=DeploymentProperties(
                model=DeploymentModel(format="OpenAI", name="gpt-4o-mini", version="2024-07-18")
            ),
        ),
    )
    await base.result()
    reply = await clients.openai.chat.completions.create(
        model="base", messages=[{"role": "user", "content": "Hello there?"}]
    )
    assert reply.model == "sandbox-gpt-4o-mini-2024-07-18"
    assert "has not learned" in (reply.choices[0].message.content or "")
