"""What the sandbox bills: the ledger Cost Management's Query API reads (costs.py).

The ledger is what the sandbox actually ran: each finished fine-tuning job (its `trained_tokens`,
which already count every epoch, at the training price of its base model), each hour a fine-tuned
deployment is up (from the moment it succeeds to the moment it is gone, at its sku's hourly fee),
and each chat completion (its prompt and completion tokens). Prices are the sandbox's own list,
in USD (Azure's public list prices, Microsoft Learn "Azure OpenAI pricing"); the billing currency
is `CURRENCY`.
"""

from __future__ import annotations

from sandbox.ids import new_guid
from sandbox.service import Sandbox, arm_key
from sandbox.store import Doc

CURRENCY = "USD"
TRAINING_PER_1M = {
    "gpt-4o-mini-2024-07-18": 3.30,
    "gpt-4o-2024-08-06": 27.50,
    "gpt-4.1-2025-04-14": 25.00,
    "gpt-4.1-mini-2025-04-14": 5.00,
    "gpt-4.1-nano-2025-04-14": 1.50,
    "gpt-35-turbo-0125": 8.00,
    "gpt-35-turbo-1106": 8.00,
    "gpt-35-turbo-0613": 8.00,
}
"""USD per 1M training tokens, by base model."""
HOSTING_PER_HOUR = {"standard": 1.70, "globalstandard": 1.70, "developertier": 0.0}
"""USD per hour a fine-tuned deployment is up, by sku."""
INPUT_PER_1M = 0.165
OUTPUT_PER_1M = 0.66
"""USD per 1M input and output tokens of a fine-tuned deployment (gpt-4o-mini's list price)."""


def _base_model(model: str) -> str:
    """The base model of a model id (`gpt-4o-mini-2024-07-18.ft-...` -> `gpt-4o-mini-...`)."""
    return model.split(".ft-", 1)[0]


def charge(sandbox: Sandbox, resource_id: str, meter: str, quantity: float, price: float) -> None:
    """One line of the ledger: `quantity` units of `meter` at `price` USD each, now."""
    if quantity <= 0:
        return
    now = sandbox.clock.now()
    line = {
        "resourceId": resource_id,
        "meter": meter,
        "quantity": quantity,
        "cost": quantity * price,
        "start": now,
        "end": now,
    }
    sandbox.store.put("charge", new_guid(), line, parent=arm_key(resource_id))


def charge_training(sandbox: Sandbox, resource_id: str, model: str, trained_tokens: int) -> None:
    """A finished fine-tuning job: its trained tokens at its base model's training price."""
    base = _base_model(model)
    price = TRAINING_PER_1M.get(base, TRAINING_PER_1M["gpt-4o-mini-2024-07-18"]) / 1e6
    charge(sandbox, resource_id, f"{base} Fine-tuning Training Tokens", trained_tokens, price)


def charge_inference(
    sandbox: Sandbox, resource_id: str, model: str, prompt: int, completion: int
) -> None:
    """A chat completion on a fine-tuned deployment: its input and output tokens."""
    base = _base_model(model)
    charge(sandbox, resource_id, f"{base} Fine-tuned Input Tokens", prompt, INPUT_PER_1M / 1e6)
    charge(
        sandbox, resource_id, f"{base} Fine-tuned Output Tokens", completion, OUTPUT_PER_1M / 1e6
    )


def _hosting_key(deployment: Doc) -> str:
    return f"{str(deployment['id']).lower()}|{float(deployment['_created'])}"


def start_hosting(sandbox: Sandbox, deployment: Doc, at: float) -> None:
    """A fine-tuned deployment is up from `at` (billed by the hour until it is gone)."""
    if not deployment.get("_fine_tuned"):
        return
    key = _hosting_key(deployment)
    if sandbox.store.get("hosting", key) is not None:
        return
    resource_id = str(deployment["id"]).rsplit("/deployments/", 1)[0]
    sku = str(deployment["sku"]["name"]).lower()
    model = str(deployment["properties"]["model"]["name"])
    line = {
        "resourceId": resource_id,
        "meter": f"{_base_model(model)} Fine-tuned Hosting Hours ({deployment['sku']['name']})",
        "rate": HOSTING_PER_HOUR.get(sku, HOSTING_PER_HOUR["standard"]) / 3600,
        "start": at,
        "end": None,
    }
    sandbox.store.put("hosting", key, line, parent=arm_key(resource_id))


def stop_hosting(sandbox: Sandbox, deployment: Doc, at: float) -> None:
    """A fine-tuned deployment is gone at `at`: its hours stop."""
    key = _hosting_key(deployment)
    line = sandbox.store.get("hosting", key)
    if line is not None and line["end"] is None:
        line["end"] = max(float(line["start"]), at)
        sandbox.store.put("hosting", key, line)
