"""Chat completions on a deployment: `POST /openai/deployments/{deployment}/chat/completions`.

A fine-tuned deployment answers from what its model learned: the answer of the closest training
conversation (the request's system message and few-shot pairs count), else text sampled from its
n-gram model. A base-model deployment answers plainly. `model` is always the sandbox model's id.
"""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from sandbox.base_model import load as load_base
from sandbox.billing import charge_inference
from sandbox.catalog import find_base
from sandbox.content_filter import refuse_if_filtered, screen
from sandbox.dataplane import authorize, json_body
from sandbox.errors import bad_request, not_found
from sandbox.ids import new_id
from sandbox.lifecycle import settle
from sandbox.lm import Example, Memory, NGramModel, chat_tokens, parse_examples, text_of
from sandbox.service import Sandbox, arm_key
from sandbox.store import Doc
from sandbox.training import LR_SCALE, read_state

CLOSE_ENOUGH = 0.35
"""Similarity from which a remembered answer is given as it was learned."""
DEFAULT_MAX_TOKENS = 256
MAX_MESSAGES = 2048
"""Azure's documented limit of /chat/completions messages."""
_NOT_DEPLOYED = (
    "The API deployment for this resource does not exist. If you created the deployment within "
    "the last 5 minutes, please wait a moment and try again."
)


@dataclass
class Learned:
    """A fine-tuned model loaded for chat."""

    lm: NGramModel
    memory: Memory


class ChatModels:
    """Fine-tuned models loaded from their artifacts, cached by (model, epochs)."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self._cache: dict[tuple[str, float], Learned] = {}

    def _read(self, name: str) -> list[Example]:
        path = self.sandbox.models_dir / name
        text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
        return parse_examples(text, self.sandbox.encoding)

    def _build(self, model: Doc, epochs: float) -> Learned:
        """The model's own examples learned `epochs` times on top of where it started: the base,
        or for a continued model its parent's weights, whose conversations it also remembers."""
        examples = self._read(f"{model['id']}.jsonl")
        start, base = model.get("_start"), load_base()
        if start:
            lm = NGramModel.restore(base, read_state(self.sandbox.models_dir / str(start)))
        else:
            lm = NGramModel(base)
        for example in examples:
            for turn in example.turns:
                lm.add(turn, float(model["_rate"]) * LR_SCALE * epochs)
        inherited = self._read(str(model["_start_memory"])) if start else []
        return Learned(lm, Memory(inherited + examples))

    async def get(self, model: Doc, epochs: float) -> Learned:
        """The model as trained for `epochs` epochs (a checkpoint) or all of them."""
        key = (str(model["id"]), epochs)
        if key not in self._cache:
            self._cache[key] = await asyncio.to_thread(self._build, model, epochs)
        return self._cache[key]


CHAT_MODELS = web.AppKey("sandbox_chat_models", ChatModels)


def resolve_model(sandbox: Sandbox, subdomain: str, name: str) -> tuple[Doc | None, float]:
    """(fine-tuned model document or None for a base model, epochs) of a deployment's model name."""
    model_id, _, checkpoint = name.partition(":ckpt-step-")
    doc = sandbox.store.get("model", model_id)
    if doc is None or sandbox.store.parent_of("model", model_id) != subdomain:
        return None, 0.0
    epochs = float(doc["_epochs"])
    if checkpoint.isascii() and checkpoint.isdigit():
        epochs = int(checkpoint) / int(doc["_steps_per_epoch"])
    return doc, epochs


def _split(messages: list[dict[str, Any]]) -> tuple[str, list[tuple[str, str]], str]:
    """(system message, few-shot pairs, last user message) of a chat request."""
    system = " ".join(text_of(m.get("content")) for m in messages if m.get("role") == "system")
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    pairs: list[tuple[str, str]] = []
    for before, after in zip(messages[:last_user], messages[1:last_user], strict=False):
        if before.get("role") == "user" and after.get("role") == "assistant":
            pairs.append((text_of(before.get("content")), text_of(after.get("content"))))
    query = text_of(messages[last_user].get("content")) if last_user >= 0 else ""
    return system, pairs, query


def ready_deployment(sandbox: Sandbox, account: Doc, name: str) -> tuple[str, Doc]:
    """(store key, document) of the account's deployment `name` that can answer, else the 404."""
    key = f"{arm_key(account['id'])}/deployments/{name.lower()}"
    deployment = sandbox.store.get("deployment", key)
    if deployment is None or deployment["properties"].get("provisioningState") != "Succeeded":
        raise not_found("DeploymentNotFound", _NOT_DEPLOYED)
    return key, deployment


async def answer(
    models: ChatModels,
    sandbox: Sandbox,
    deployment: Doc,
    messages: list[dict[str, Any]],
    body: dict[str, Any],
) -> tuple[str, str]:
    """(answer text, sandbox model id) for a chat request (chat completions and Evals runs)."""
    system, pairs, query = _split(messages)
    name = str(deployment["properties"]["model"]["name"])
    subdomain = str(deployment["_subdomain"])
    model, epochs = resolve_model(sandbox, subdomain, name)
    if model is None:
        memory = Memory([])
        score, answer = memory.closest(query, system, pairs)
        base = find_base(name, str(deployment["properties"]["model"].get("version", "")))
        model_name = f"sandbox-{base.id if base else name}"
        if score >= CLOSE_ENOUGH:
            return answer, model_name
        persona = (
            f" Following the system message ({system.strip()[:120]})," if system.strip() else ""
        )
        return (
            f"This is the sandbox's stand-in for the base model {name}, which has not learned "
            f'from your data.{persona} here is a plain answer: you asked "{query.strip()[:300]}".',
            model_name,
        )
    learned = await models.get(model, epochs)
    score, answer = learned.memory.closest(query, system, pairs)
    if score >= CLOSE_ENOUGH:
        return answer, name
    enc = sandbox.encoding
    seed = body.get("seed")
    rng = random.Random(seed if isinstance(seed, int) else query)
    temperature = body.get("temperature")
    temp = float(temperature) if isinstance(temperature, int | float) else 0.7
    tokens = learned.lm.generate(enc.encode(query, disallowed_special=()), rng, 200, temp)
    return enc.decode(tokens).strip() or answer, name


async def complete(
    models: ChatModels,
    sandbox: Sandbox,
    account: Doc,
    deployment: tuple[str, Doc],
    messages: list[dict[str, Any]],
    body: dict[str, Any],
    limit: int,
) -> tuple[str, str, str, dict[str, int]]:
    """(text, model id, finish reason, usage) of one completion of at most `limit` tokens; the
    deployment (store key, document) counts it as a use, and the account is billed for it when
    the deployment serves a fine-tuned model (sandbox/billing.py)."""
    key, doc = deployment
    text, model_name = await answer(models, sandbox, doc, messages, body)
    enc = sandbox.encoding
    tokens = enc.encode(text, disallowed_special=())
    finish = "stop"
    if len(tokens) > limit:
        text, finish = enc.decode(tokens[:limit]), "length"
        tokens = tokens[:limit]
    doc["_last_used"] = sandbox.clock.now()
    sandbox.store.put("deployment", key, doc)
    prompt = chat_tokens(messages, enc)
    usage = {
        "prompt_tokens": prompt,
        "completion_tokens": len(tokens),
        "total_tokens": prompt + len(tokens),
    }
    if doc["_fine_tuned"]:
        model = str(doc["properties"]["model"]["name"])
        charge_inference(sandbox, str(account["id"]), model, prompt, len(tokens))
    return text, model_name, finish, usage


async def chat_completions(request: web.Request) -> web.StreamResponse:
    """POST /openai/deployments/{deployment}/chat/completions."""
    sandbox, account, subdomain = authorize(request)
    settle(sandbox)
    body = await json_body(request)
    name = request.match_info.get("deployment") or body.get("model")  # v1: the body names it
    if not isinstance(name, str) or not name:
        raise bad_request("invalid_request_error", "'model' is required.", param="model")
    key, deployment = ready_deployment(sandbox, account, name)
    messages = body.get("messages")
    if (
        not isinstance(messages, list)
        or not messages
        or not all(isinstance(m, dict) for m in messages)
    ):
        raise bad_request(
            "invalid_request_error",
            "'messages' must be a non-empty array of objects.",
            param="messages",
        )
    if len(messages) > MAX_MESSAGES:
        raise bad_request(
            "invalid_request_error",
            f"'messages' may hold at most {MAX_MESSAGES} messages.",
            param="messages",
        )
    limit = body.get("max_completion_tokens") or body.get("max_tokens") or DEFAULT_MAX_TOKENS
    if not isinstance(limit, int) or limit < 1:
        raise bad_request(
            "invalid_request_error", "max_tokens must be a positive integer.", param="max_tokens"
        )
    filters = screen(messages)
    refuse_if_filtered(filters)
    models = request.config_dict[CHAT_MODELS]
    text, model_name, finish, usage = await complete(
        models, sandbox, account, (key, deployment), messages, body, limit
    )
    completion_id, created = new_id("chatcmpl"), sandbox.clock.stamp()
    if body.get("stream"):
        return await _stream(request, completion_id, created, model_name, text, finish, usage, body)
    return web.json_response(
        {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": model_name,
            "system_fingerprint": "fp_sandbox",
            "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": filters}],
            "choices": [
                {
                    "index": 0,
                    "finish_reason": finish,
                    "logprobs": None,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "content_filter_results": filters,
                }
            ],
            "usage": usage,
        }
    )


async def _stream(
    request: web.Request,
    completion_id: str,
    created: int,
    model: str,
    text: str,
    finish: str,
    usage: dict[str, int],
    body: dict[str, Any],
) -> web.StreamResponse:
    """The same answer as server-sent events, a few words per chunk."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)

    async def send(
        delta: dict[str, Any], reason: str | None, extra: dict[str, Any] | None = None
    ) -> None:
        chunk = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": "fp_sandbox",
            "choices": [{"index": 0, "delta": delta, "finish_reason": reason, "logprobs": None}],
            **(extra or {}),
        }
        await response.write(f"data: {json.dumps(chunk)}\n\n".encode())

    await send({"role": "assistant", "content": ""}, None)
    words = text.split(" ")
    for index in range(0, len(words), 4):
        piece = " ".join(words[index : index + 4]) + (" " if index + 4 < len(words) else "")
        await send({"content": piece}, None)
    options = body.get("stream_options") or {}
    await send({}, finish)
    if isinstance(options, dict) and options.get("include_usage"):
        chunk = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [],
            "usage": usage,
        }
        await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


def add_routes(app: web.Application) -> None:
    """Register chat completions under the data plane."""
    app.router.add_post(
        "/openai-accounts/{account}/openai/deployments/{deployment}/chat/completions",
        chat_completions,
    )
    app.router.add_post("/openai-accounts/{account}/openai/v1/chat/completions", chat_completions)
