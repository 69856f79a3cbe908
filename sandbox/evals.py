"""Evals on the v1 data plane (`/openai/v1/evals`): an eval holds the graders, each run answers
every item of its data source with one deployment and grades the answers.

Operations and shapes: azure-v1-v1-generated.json (createEval, listEvals, getEval, createEvalRun,
getEvalRuns, getEvalRun, cancelEvalRun, getEvalRunOutputItems; OpenAI.Eval, OpenAI.EvalRun,
OpenAI.EvalRunOutputItem), with the `openai` SDK's `client.evals` types. A run is `queued`,
then `in_progress` while it answers its items (ITEM_SECONDS of sandbox time each, one output
item stored per answer, so a restart resumes at the next item), then `completed`, `failed` (its
deployment cannot answer: `error` says why) or `canceled`. The answers come from the
deployment's model as chat completions do (chat.py), the grades from graders.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from sandbox.chat import CHAT_MODELS, ChatModels, complete, ready_deployment
from sandbox.dataplane import authorize, json_body, page
from sandbox.errors import AzureError, bad_request, not_found
from sandbox.graders import GRADER_TYPES, STRING_OPERATIONS, TEXT_METRICS, grade, lookup, render
from sandbox.ids import new_id
from sandbox.service import SANDBOX, Sandbox
from sandbox.store import Doc, wire

ITEM_SECONDS = 0.5
"""Sandbox seconds a run spends on each item."""
ACTIVE = ("queued", "in_progress")
DEFAULT_MAX_TOKENS = 256
NO_ERROR = {"code": "", "message": ""}
"""OpenAI.EvalApiError is required on a run and a sample, and not nullable: empty when none."""


def _invalid(message: str, param: str) -> AzureError:
    return bad_request("invalid_request_error", message, param=param)


def _check_grader(grader: Any, index: int) -> None:
    param = f"testing_criteria[{index}]"
    if not isinstance(grader, dict) or grader.get("type") not in GRADER_TYPES:
        raise _invalid(f"Grader type must be one of {', '.join(GRADER_TYPES)}.", param)
    if not isinstance(grader.get("name"), str) or not grader["name"]:
        raise _invalid("Every grader needs a name.", f"{param}.name")
    kind = grader["type"]
    if kind == "text_similarity" and grader.get("evaluation_metric") not in TEXT_METRICS:
        raise _invalid(
            f"evaluation_metric must be one of {', '.join(TEXT_METRICS)}.",
            f"{param}.evaluation_metric",
        )
    if kind == "string_check" and grader.get("operation") not in STRING_OPERATIONS:
        raise _invalid("operation must be eq, ne, like or ilike.", f"{param}.operation")
    if kind in ("string_check", "text_similarity"):
        for field in ("input", "reference"):
            if not isinstance(grader.get(field), str):
                raise _invalid(f"{field} must be a string template.", f"{param}.{field}")


def _owned(sandbox: Sandbox, subdomain: str, eval_id: str) -> Doc:
    doc = sandbox.store.get("eval", eval_id)
    if doc is None or sandbox.store.parent_of("eval", eval_id) != subdomain:
        raise not_found("notFound", f"Eval with id '{eval_id}' not found.")
    return doc


def _run_of(sandbox: Sandbox, eval_id: str, run_id: str) -> Doc:
    doc = sandbox.store.get("evalrun", run_id)
    if doc is None or doc["eval_id"] != eval_id:
        raise not_found("notFound", f"Eval run with id '{run_id}' not found.")
    return doc


async def create_eval(request: web.Request) -> web.Response:
    """POST /evals: a `custom` data source config and its graders."""
    sandbox, account, subdomain = authorize(request)
    body = await json_body(request)
    config = body.get("data_source_config")
    if not isinstance(config, dict) or config.get("type") != "custom":
        raise _invalid("data_source_config must be of type custom.", "data_source_config")
    item_schema = config.get("item_schema")
    if not isinstance(item_schema, dict):
        raise _invalid("item_schema must be a JSON schema object.", "data_source_config")
    criteria = body.get("testing_criteria")
    if not isinstance(criteria, list) or not criteria:
        raise _invalid("testing_criteria must be a non-empty array.", "testing_criteria")
    for index, grader in enumerate(criteria):
        _check_grader(grader, index)
        if grader["type"] == "score_model":  # its judge answers as a chat deployment would
            ready_deployment(sandbox, account, str(grader.get("model") or ""))
    schema: Doc = {"type": "object", "properties": {"item": item_schema}, "required": ["item"]}
    if config.get("include_sample_schema"):
        schema["properties"]["sample"] = {"type": "object"}
        schema["required"].append("sample")
    eval_id = new_id("eval")
    doc: Doc = {
        "object": "eval",
        "id": eval_id,
        "name": str(body.get("name") or ""),
        "data_source_config": {"type": "custom", "schema": schema},
        "testing_criteria": criteria,
        "created_at": sandbox.clock.stamp(),
        "metadata": body.get("metadata") or {},
    }
    sandbox.store.put("eval", eval_id, doc, parent=subdomain)
    return web.json_response(wire(doc))


def _list(request: web.Request, docs: list[Doc]) -> web.Response:
    """A page of evals or runs (`after`, `limit`, `order`), in OpenAI.EvalList's shape."""
    if request.query.get("order") == "desc":
        docs = list(reversed(docs))
    shown, more = page(docs, request.query.get("after"), request.query.get("limit"), 20)
    return web.json_response(
        {
            "object": "list",
            "data": [wire(d) for d in shown],
            "first_id": shown[0]["id"] if shown else "",
            "last_id": shown[-1]["id"] if shown else "",
            "has_more": more,
        }
    )


async def list_evals(request: web.Request) -> web.Response:
    """GET /evals: the account's evals, oldest first unless `order=desc`."""
    sandbox, _account, subdomain = authorize(request)
    return _list(request, sandbox.store.docs("eval", subdomain))


async def list_runs(request: web.Request) -> web.Response:
    """GET /evals/{eval_id}/runs: an eval's runs (`status` filters)."""
    sandbox, _account, subdomain = authorize(request)
    evaluation = _owned(sandbox, subdomain, request.match_info["eval_id"])
    runs = sandbox.store.docs("evalrun", evaluation["id"])
    if status := request.query.get("status"):
        runs = [r for r in runs if r["status"] == status]
    return _list(request, runs)


async def get_eval(request: web.Request) -> web.Response:
    """GET /evals/{eval_id}."""
    sandbox, _account, subdomain = authorize(request)
    return web.json_response(wire(_owned(sandbox, subdomain, request.match_info["eval_id"])))


def _source_of(data_source: Any) -> tuple[Doc, list[Doc]]:
    """(data source, its items): a `completions` data source with inline `file_content`."""
    if not isinstance(data_source, dict) or data_source.get("type") != "completions":
        raise _invalid("The sandbox runs data sources of type completions.", "data_source")
    source = data_source.get("source")
    if not isinstance(source, dict) or source.get("type") != "file_content":
        raise _invalid("The sandbox reads sources of type file_content.", "data_source.source")
    content = source.get("content")
    if not isinstance(content, list) or not content:
        raise _invalid("source.content must be a non-empty array.", "data_source.source.content")
    items = [row.get("item") for row in content if isinstance(row, dict)]
    if len(items) != len(content) or not all(isinstance(i, dict) for i in items):
        raise _invalid("Every row of content needs an item object.", "data_source.source.content")
    if not isinstance(data_source.get("model"), str) or not data_source["model"]:
        raise _invalid("model must name a deployment.", "data_source.model")
    if not isinstance(data_source.get("input_messages"), dict):
        raise _invalid("input_messages is required.", "data_source.input_messages")
    return data_source, [dict(i) for i in items if isinstance(i, dict)]


async def create_run(request: web.Request) -> web.Response:
    """POST /evals/{eval_id}/runs: queued; the answers and grades follow in the background."""
    sandbox, account, subdomain = authorize(request)
    evaluation = _owned(sandbox, subdomain, request.match_info["eval_id"])
    body = await json_body(request)
    data_source, items = _source_of(body.get("data_source"))
    run = {
        "object": "eval.run",
        "id": new_id("evalrun"),
        "eval_id": evaluation["id"],
        "status": "queued",
        "model": data_source["model"],
        "name": str(body.get("name") or ""),
        "created_at": sandbox.clock.stamp(),
        "report_url": str(request.url.with_query(None)),
        "result_counts": {"total": len(items), "errored": 0, "failed": 0, "passed": 0},
        "per_model_usage": [],
        "per_testing_criteria_results": [
            {"testing_criteria": g["name"], "passed": 0, "failed": 0}
            for g in evaluation["testing_criteria"]
        ],
        "data_source": data_source,
        "metadata": body.get("metadata") or {},
        "error": NO_ERROR,
        "_account": account["id"],
        "_done": 0,
    }
    run["report_url"] += f"/{run['id']}"
    sandbox.store.put("evalrun", run["id"], run, parent=evaluation["id"])
    start(request.config_dict[SANDBOX], request.config_dict[CHAT_MODELS], run["id"])
    return web.json_response(wire(run), status=201)


async def get_run(request: web.Request) -> web.Response:
    """GET /evals/{eval_id}/runs/{run_id}."""
    sandbox, _account, subdomain = authorize(request)
    evaluation = _owned(sandbox, subdomain, request.match_info["eval_id"])
    return web.json_response(wire(_run_of(sandbox, evaluation["id"], request.match_info["run_id"])))


async def cancel_run(request: web.Request) -> web.Response:
    """POST /evals/{eval_id}/runs/{run_id}: a run not yet finished is canceled."""
    sandbox, _account, subdomain = authorize(request)
    evaluation = _owned(sandbox, subdomain, request.match_info["eval_id"])
    run = _run_of(sandbox, evaluation["id"], request.match_info["run_id"])
    if run["status"] in ACTIVE:
        run["status"] = "canceled"
        sandbox.store.put("evalrun", run["id"], run)
    return web.json_response(wire(run))


async def list_output_items(request: web.Request) -> web.Response:
    """GET /evals/{eval_id}/runs/{run_id}/output_items: `after`, `limit`, `order`, `status`."""
    sandbox, _account, subdomain = authorize(request)
    evaluation = _owned(sandbox, subdomain, request.match_info["eval_id"])
    run = _run_of(sandbox, evaluation["id"], request.match_info["run_id"])
    items = sandbox.store.docs("evalitem", run["id"])
    if status := request.query.get("status"):
        items = [i for i in items if i["status"] == status]
    return _list(request, items)


# -- the runner ---------------------------------------------------------------------------------


def _messages(data_source: Doc, item: Doc) -> list[dict[str, Any]]:
    """The chat messages of one item: an `item_reference` to its messages, or a template."""
    spec = data_source["input_messages"]
    if spec.get("type") == "item_reference":
        found = lookup(str(spec.get("item_reference", "")), {"item": item})
        messages = found if isinstance(found, list) else []
    else:
        messages = [
            {
                "role": str(m.get("role", "user")),
                "content": render(str(m.get("content", "")), {"item": item}),
            }
            for m in spec.get("template") or []
            if isinstance(m, dict)
        ]
    return [
        {"role": str(m.get("role")), "content": str(m.get("content") or "")}
        for m in messages
        if isinstance(m, dict)
    ]


def _add_usage(run: Doc, model: str, usage: dict[str, int]) -> None:
    rows = run["per_model_usage"]
    row = next((r for r in rows if r["model_name"] == model), None)
    if row is None:
        row = {
            "model_name": model,
            "invocation_count": 0,
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "total_tokens": 0,
            "cached_tokens": 0,
        }
        rows.append(row)
    row["invocation_count"] += 1
    for field in ("prompt_tokens", "completion_tokens", "total_tokens"):
        row[field] += usage[field]


async def _answer_item(
    sandbox: Sandbox, models: ChatModels, run: Doc, evaluation: Doc, index: int, item: Doc
) -> None:
    """Answer and grade item `index`, store its output item and count it on the run."""
    data_source = run["data_source"]
    params = data_source.get("sampling_params") or {}
    account = sandbox.store.get("account", str(run["_account"]).lower())
    messages = _messages(data_source, item)
    # the SDK sends max_completion_tokens, Azure's spec names max_tokens: either is the limit
    limit = params.get("max_completion_tokens") or params.get("max_tokens")
    limit = limit if isinstance(limit, int) and limit > 0 else DEFAULT_MAX_TOKENS
    sample: Doc = {
        "input": messages,
        "output": [],
        "finish_reason": "",
        "model": str(run["model"]),
        "usage": {
            "total_tokens": 0,
            "completion_tokens": 0,
            "prompt_tokens": 0,
            "cached_tokens": 0,
        },
        "error": NO_ERROR,
        "temperature": float(params.get("temperature", 1.0)),
        "max_completion_tokens": limit,
        "top_p": float(params.get("top_p", 1.0)),
        "seed": int(params.get("seed", 0)),
    }
    try:
        if account is None:
            raise not_found("DeploymentNotFound", "The resource of this run is gone.")
        deployment = ready_deployment(sandbox, account, str(run["model"]))
        text, model, finish, usage = await complete(
            models, sandbox, account, deployment, messages, params, limit
        )
    except AzureError as error:
        sample["error"] = {"code": error.code, "message": error.message}
        if error.code == "DeploymentNotFound":
            raise
        results: list[Doc] = []
        run["result_counts"]["errored"] += 1
        status = "fail"
    else:
        sample |= {
            "output": [{"role": "assistant", "content": text}],
            "finish_reason": finish,
            "model": model,
            "usage": usage | {"cached_tokens": 0},
        }
        scope = {"item": item, "sample": {"output_text": text}}
        criteria = evaluation["testing_criteria"]  # long answers make ROUGE-L slow: off the loop
        results = await asyncio.to_thread(lambda: [grade(g, scope) for g in criteria])
        passed = all(r["passed"] for r in results)
        status = "pass" if passed else "fail"
        run["result_counts"]["passed" if passed else "failed"] += 1
        for row, result in zip(run["per_testing_criteria_results"], results, strict=True):
            row["passed" if result["passed"] else "failed"] += 1
        _add_usage(run, model, usage)
    output = {
        "object": "eval.run.output_item",
        "id": new_id("outputitem"),
        "run_id": run["id"],
        "eval_id": run["eval_id"],
        "created_at": sandbox.clock.stamp(),
        "status": status,
        "datasource_item_id": index,
        "datasource_item": item,
        "results": results,
        "sample": sample,
    }
    sandbox.store.put("evalitem", output["id"], output, parent=run["id"])


async def execute(sandbox: Sandbox, models: ChatModels, run_id: str) -> None:
    """Run an eval run from its next item to its end (also after a restart)."""
    run = sandbox.store.get("evalrun", run_id)
    while run is not None and run["status"] in ACTIVE:
        evaluation = sandbox.store.get("eval", str(run["eval_id"]))
        content = run["data_source"]["source"]["content"]
        index = int(run["_done"])
        if evaluation is None or index >= len(content):
            run["status"] = "completed" if evaluation is not None else "failed"
            sandbox.store.put("evalrun", run_id, run)
            return
        run["status"] = "in_progress"
        await sandbox.clock.sleep(ITEM_SECONDS)
        run = sandbox.store.get("evalrun", run_id)  # canceled meanwhile?
        if run is None or run["status"] not in ACTIVE:
            return
        try:
            await _answer_item(sandbox, models, run, evaluation, index, content[index]["item"])
        except AzureError as error:
            run["status"] = "failed"
            run["error"] = {"code": error.code, "message": error.message}
        run["_done"] = index + 1
        sandbox.store.put("evalrun", run_id, run)


def start(sandbox: Sandbox, models: ChatModels, run_id: str) -> None:
    """Run a run in the background."""
    sandbox.spawn(execute(sandbox, models, run_id), f"eval run {run_id}")


def resume_runs(sandbox: Sandbox, models: ChatModels) -> None:
    """After a restart: carry on with every run that had not finished."""
    for run_id, run in sandbox.store.items("evalrun"):
        if run["status"] in ACTIVE:
            start(sandbox, models, run_id)


def add_routes(app: web.Application) -> None:
    """Register the Evals operations on the v1 surface."""
    base = "/openai-accounts/{account}/openai/v1/evals"
    app.router.add_post(base, create_eval)
    app.router.add_get(base, list_evals)
    app.router.add_get(f"{base}/{{eval_id}}", get_eval)
    app.router.add_post(f"{base}/{{eval_id}}/runs", create_run)
    app.router.add_get(f"{base}/{{eval_id}}/runs", list_runs)
    app.router.add_get(f"{base}/{{eval_id}}/runs/{{run_id}}", get_run)
    app.router.add_post(f"{base}/{{eval_id}}/runs/{{run_id}}", cancel_run)
    app.router.add_get(f"{base}/{{eval_id}}/runs/{{run_id}}/output_items", list_output_items)
