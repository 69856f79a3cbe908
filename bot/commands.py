"""The command table: every command the bot answers, in the order `help` lists them.

Each row: name, usage, one-line help, argument parser, handler, the role it needs, aliases.
Rows with `listed=False` are reached only by a card button's verb.
"""

from __future__ import annotations

from adaptive_cards import verbs
from bot.access import (
    audit,
    keys,
    keys_keep,
    keys_rotate_confirm,
    parse_count,
    parse_keys,
    parse_roles,
    roles,
)
from bot.arguments import no_args, optional_word
from bot.chat import (
    add_example,
    compare,
    end,
    parse_chat,
    parse_compare,
    parse_text,
    reset,
    send_prompt,
    set_system,
    start_chat,
)
from bot.datasets import (
    offer_validation,
    parse_validate,
    send_sample,
    show_errors,
    validate,
)
from bot.deployments import (
    delete,
    delete_cancel,
    delete_confirm,
    deploy,
    deploy_cancel,
    deploy_confirm,
    keep_alive_command,
    list_command,
    parse_delete,
    parse_deploy,
    parse_deployment_name,
    parse_request,
)
from bot.evaluation import evaluate, evaluate_cancel, evaluate_confirm, parse_evaluate
from bot.evaluation import parse_request as parse_eval_request
from bot.help import greet, show_help, welcome
from bot.language import language, parse_language
from bot.provisioning import (
    parse_account,
    parse_provision,
    provision,
    provision_cancel,
    provision_confirm,
    purge,
    purge_confirm,
    purge_keep,
    resource,
    teardown,
    teardown_confirm,
    teardown_keep,
)
from bot.router import Command, Router
from bot.spend import approve, budget, parse_budget, parse_period, refuse, spend
from bot.training import (
    abort,
    cancel,
    cancel_confirmed,
    cancel_kept,
    cleanup_confirmed,
    cleanup_kept,
    confirm,
    events,
    files,
    jobs,
    parse_events,
    parse_job,
    parse_optional_job,
    parse_pause,
    parse_resume,
    parse_token,
    parse_train,
    pause,
    resume,
    status,
    train,
)
from bot.turn import Role
from infra.i18n import N_


def build_router() -> Router:
    """The router over the whole command table."""
    return Router(
        [
            Command(
                "help",
                N_("help [command]"),
                N_("List the commands, or explain one."),
                optional_word,
                show_help,
                aliases=("?", "commands"),
                menu=True,
                korean=("도움말",),
            ),
            Command(verbs.WELCOME, "welcome", "Greeting card.", no_args, welcome, listed=False),
            Command(
                "sample",
                N_("sample"),
                N_("Send a sample dataset (an AI teacher) to try the whole flow."),
                no_args,
                send_sample,
                menu=True,
                korean=("샘플",),
            ),
            Command(
                "language",
                N_("language [ko|en|auto]"),
                N_("Choose the language I write to you in (by default, your Teams language)."),
                parse_language,
                language,
                korean=("언어",),
            ),
            Command(
                verbs.VALIDATE,
                N_("validate [model=..] [epochs=N] + attached .jsonl file(s)"),
                N_(
                    "Check training (and validation) files: errors, token statistics, "
                    "cost estimate."
                ),
                parse_validate,
                validate,
                role=Role.TRAINER,
                menu=True,
                korean=("검증",),
            ),
            Command(
                verbs.ATTACHED,
                "attached",
                "Files attached with no text: offer to validate them.",
                no_args,
                offer_validation,
                role=Role.TRAINER,
                listed=False,
            ),
            Command(
                verbs.ERRORS,
                "errors",
                "Every error of the files on a report card.",
                parse_validate,
                show_errors,
                role=Role.TRAINER,
                listed=False,
            ),
            Command(
                verbs.TRAIN,
                N_(
                    "train [model=..] [method=supervised|dpo] [beta=X] "
                    "[training=standard|global|developer] [from=<model or job>] [epochs=N] "
                    "[batch=N] [lr=X] [suffix=S] [seed=N]"
                ),
                N_(
                    "Fine-tune on the files last validated here (asks to confirm the cost first): "
                    "DPO on a preference file, Global or Developer training, or continue a "
                    "fine-tuned model with `from=`."
                ),
                parse_train,
                train,
                role=Role.TRAINER,
                menu=True,
                korean=("학습",),
            ),
            Command(
                verbs.STATUS,
                N_("status [job]"),
                N_("Show a job's progress (this conversation's latest job by default)."),
                parse_optional_job,
                status,
                role=Role.TRAINER,
                menu=True,
                korean=("상태",),
            ),
            Command(
                "jobs",
                N_("jobs"),
                N_("List the recent fine-tuning jobs with status and model."),
                no_args,
                jobs,
                role=Role.TRAINER,
                menu=True,
                korean=("작업",),
            ),
            Command(
                verbs.EVENTS,
                N_("events <job> [N]"),
                N_("Show a job's last N events (10 by default)."),
                parse_events,
                events,
                role=Role.TRAINER,
                korean=("이벤트",),
            ),
            Command(
                verbs.CANCEL,
                N_("cancel <job>"),
                N_("Cancel a fine-tuning job (asks to confirm first)."),
                parse_job,
                cancel,
                role=Role.TRAINER,
                korean=("취소",),
            ),
            Command(
                verbs.PAUSE,
                N_("pause <job>"),
                N_(
                    "Pause a training job: Azure keeps a deployable checkpoint, and nothing is "
                    "billed while it is paused."
                ),
                parse_pause,
                pause,
                role=Role.TRAINER,
                korean=("일시중지",),
            ),
            Command(
                verbs.RESUME,
                N_("resume <job>"),
                N_("Resume a paused job from the step it reached."),
                parse_resume,
                resume,
                role=Role.TRAINER,
                korean=("재개",),
            ),
            Command(
                "files",
                N_("files"),
                N_(
                    "List the files I uploaded to this resource: size, age, the jobs that use them."
                ),
                no_args,
                files,
                role=Role.TRAINER,
                korean=("파일",),
            ),
            Command(
                verbs.TRAIN_CONFIRM,
                "train-confirm",
                "Start a confirmed training.",
                parse_token,
                confirm,
                role=Role.TRAINER,
                listed=False,
            ),
            Command(
                verbs.TRAIN_ABORT,
                "train-abort",
                "Drop a training plan.",
                parse_token,
                abort,
                role=Role.TRAINER,
                listed=False,
            ),
            Command(
                verbs.CANCEL_CONFIRM,
                "cancel-confirm",
                "Cancel a job, confirmed.",
                parse_token,
                cancel_confirmed,
                role=Role.TRAINER,
                listed=False,
            ),
            Command(
                verbs.CANCEL_KEEP,
                "cancel-keep",
                "Keep a job running.",
                parse_token,
                cancel_kept,
                role=Role.TRAINER,
                listed=False,
            ),
            Command(
                verbs.CLEANUP_CONFIRM,
                "cleanup-confirm",
                "Delete a file or a fine-tuned model, confirmed.",
                parse_request,
                cleanup_confirmed,
                role=Role.TRAINER,
                listed=False,
            ),
            Command(
                verbs.CLEANUP_KEEP,
                "cleanup-keep",
                "Keep a file or a fine-tuned model.",
                parse_request,
                cleanup_kept,
                role=Role.TRAINER,
                listed=False,
            ),
            # -- hosting and chat (bot/deployments.py, bot/chat.py) --
            Command(
                verbs.DEPLOY,
                N_(
                    "deploy <job | model | checkpoint> [name=..] "
                    "[sku=standard|globalstandard|developer] [capacity=N]"
                ),
                N_("Host a fine-tuned model (shows the hourly cost and asks to confirm first)."),
                parse_deploy,
                deploy,
                role=Role.TRAINER,
                menu=True,
                korean=("배포",),
            ),
            Command(
                "deployments",
                N_("deployments"),
                N_("List the deployments: model, sku, state, last use, days before idle deletion."),
                no_args,
                list_command,
                role=Role.TRAINER,
                menu=True,
                korean=("배포목록",),
            ),
            Command(
                verbs.DELETE,
                N_("delete <deployment> | delete file <id> | delete model <job>"),
                N_(
                    "Delete a deployment (its fine-tuned model is kept), a file I uploaded, or a "
                    "job's fine-tuned model (not while it is deployed); asks to confirm first."
                ),
                parse_delete,
                delete,
                role=Role.TRAINER,
                korean=("삭제",),
            ),
            Command(
                verbs.EVALUATE,
                N_(
                    "evaluate <deployment | job> [against <deployment>] [file-...] "
                    "[judge=<deployment>]"
                ),
                N_(
                    "Compare a fine-tuned model with its base on held-out examples (Azure OpenAI "
                    "Evals; shows the estimated cost and asks to confirm first)."
                ),
                parse_evaluate,
                evaluate,
                role=Role.TRAINER,
                korean=("평가",),
            ),
            Command(
                verbs.EVALUATE_CONFIRM,
                "evaluate-confirm",
                "Start a confirmed evaluation.",
                parse_eval_request,
                evaluate_confirm,
                role=Role.TRAINER,
                listed=False,
            ),
            Command(
                verbs.EVALUATE_CANCEL,
                "evaluate-cancel",
                "Drop an evaluation that was not confirmed.",
                parse_eval_request,
                evaluate_cancel,
                role=Role.TRAINER,
                listed=False,
            ),
            Command(
                verbs.CHAT,
                N_("chat <deployment>"),
                N_("Chat with a deployment here, as in the portal's playground; `end` leaves."),
                parse_chat,
                start_chat,
                menu=True,
                korean=("채팅",),
            ),
            Command(
                "system",
                N_("system <text>"),
                N_(
                    "Set the chat's system message, e.g. `system The system is an AI teacher that "
                    "helps people learn about AI`."
                ),
                parse_text,
                set_system,
                korean=("시스템",),
            ),
            Command(
                "example",
                N_("example <user text> => <assistant text>"),
                N_("Add a few-shot example to the chat."),
                parse_text,
                add_example,
                korean=("예시",),
            ),
            Command(
                "reset",
                N_("reset"),
                N_("Clear the chat history (system message and examples stay)."),
                no_args,
                reset,
                korean=("초기화",),
            ),
            Command(
                "compare",
                N_("compare <deployment> [prompt]"),
                N_("Ask the chat's deployment and another one the same, answers side by side."),
                parse_compare,
                compare,
                korean=("비교",),
            ),
            Command(
                "end", N_("end"), N_("Leave the chat."), no_args, end, menu=True, korean=("종료",)
            ),
            Command(
                verbs.DEPLOY_CONFIRM,
                "deploy-confirm",
                "Create a confirmed deployment.",
                parse_request,
                deploy_confirm,
                role=Role.TRAINER,
                listed=False,
            ),
            Command(
                verbs.DEPLOY_CANCEL,
                "deploy-cancel",
                "Drop a deployment plan.",
                parse_request,
                deploy_cancel,
                role=Role.TRAINER,
                listed=False,
            ),
            Command(
                verbs.DELETE_CONFIRM,
                "delete-confirm",
                "Delete a deployment, confirmed.",
                parse_request,
                delete_confirm,
                role=Role.TRAINER,
                listed=False,
            ),
            Command(
                verbs.DELETE_KEEP,
                "delete-keep",
                "Keep a deployment.",
                parse_request,
                delete_cancel,
                role=Role.TRAINER,
                listed=False,
            ),
            # -- the resource, access, keys and clean-up (bot/provisioning.py, bot/access.py) --
            Command(
                "provision",
                N_("provision name=<account> [region=northcentralus] [group=<resource group>]"),
                N_("Create (or adopt) an Azure OpenAI resource, kind OpenAI, S0; asks to confirm."),
                parse_provision,
                provision,
                role=Role.ADMIN,
                korean=("프로비저닝",),
            ),
            Command(
                verbs.RESOURCE,
                N_("resource"),
                N_("Show the current resource: where it is, how I reach it, who made it."),
                no_args,
                resource,
                role=Role.ADMIN,
                korean=("리소스",),
            ),
            Command(
                verbs.ROLES,
                N_("roles [me | @mention | <object id> | bot] [remove]"),
                N_("List the lab's four roles, or assign (remove) them for someone."),
                parse_roles,
                roles,
                role=Role.ADMIN,
                korean=("역할",),
            ),
            Command(
                "spend",
                N_("spend [month|last 30 days]"),
                N_(
                    "What the current resource really cost (Azure Cost Management): training, "
                    "hosting and inference, with an estimate of what Azure has not reported yet."
                ),
                parse_period,
                spend,
                role=Role.TRAINER,
                korean=("비용",),
            ),
            Command(
                "budget",
                N_("budget [<amount>/month]"),
                N_("Show this team's monthly budget; an admin sets it: budget 500/month."),
                parse_budget,
                budget,
                role=Role.TRAINER,
                korean=("예산",),
            ),
            Command(
                verbs.KEYS,
                N_("keys [rotate key1|key2]"),
                N_("Show the endpoint and masked keys, or regenerate one without downtime."),
                parse_keys,
                keys,
                role=Role.ADMIN,
                korean=("키",),
            ),
            Command(
                verbs.TEARDOWN,
                N_("teardown"),
                N_("Delete everything I created on the current resource (asks to confirm first)."),
                no_args,
                teardown,
                role=Role.ADMIN,
                korean=("정리",),
            ),
            Command(
                verbs.PURGE,
                N_("purge <account>"),
                N_("Remove a soft-deleted account for good (asks to confirm first)."),
                parse_account,
                purge,
                role=Role.ADMIN,
                korean=("영구삭제",),
            ),
            Command(
                "audit",
                N_("audit [N]"),
                N_("The last N costly or destructive actions: who, what, when, outcome."),
                parse_count,
                audit,
                role=Role.ADMIN,
                korean=("감사",),
            ),
            Command(
                verbs.PROVISION_CONFIRM,
                "provision-confirm",
                "Create a confirmed resource.",
                parse_request,
                provision_confirm,
                role=Role.ADMIN,
                listed=False,
            ),
            Command(
                verbs.PROVISION_CANCEL,
                "provision-cancel",
                "Drop a resource plan.",
                parse_request,
                provision_cancel,
                role=Role.ADMIN,
                listed=False,
            ),
            Command(
                verbs.KEYS_ROTATE_CONFIRM,
                "keys-rotate-confirm",
                "Regenerate a confirmed key.",
                parse_request,
                keys_rotate_confirm,
                role=Role.ADMIN,
                listed=False,
            ),
            Command(
                verbs.KEYS_KEEP,
                "keys-keep",
                "Keep a key.",
                parse_request,
                keys_keep,
                role=Role.ADMIN,
                listed=False,
            ),
            Command(
                verbs.TEARDOWN_CONFIRM,
                "teardown-confirm",
                "Delete everything listed, confirmed.",
                parse_request,
                teardown_confirm,
                role=Role.ADMIN,
                listed=False,
            ),
            Command(
                verbs.TEARDOWN_KEEP,
                "teardown-keep",
                "Delete nothing.",
                parse_request,
                teardown_keep,
                role=Role.ADMIN,
                listed=False,
            ),
            Command(
                verbs.PURGE_CONFIRM,
                "purge-confirm",
                "Purge a confirmed account.",
                parse_request,
                purge_confirm,
                role=Role.ADMIN,
                listed=False,
            ),
            Command(
                verbs.PURGE_KEEP,
                "purge-keep",
                "Keep a deleted account.",
                parse_request,
                purge_keep,
                role=Role.ADMIN,
                listed=False,
            ),
            Command(
                verbs.SPEND_APPROVE,
                "spend-approve",
                "Approve a training over the budget.",
                parse_token,
                approve,
                role=Role.ADMIN,
                listed=False,
            ),
            Command(
                verbs.SPEND_REFUSE,
                "spend-refuse",
                "Refuse a training over the budget.",
                parse_token,
                refuse,
                role=Role.ADMIN,
                listed=False,
            ),
            Command(
                verbs.KEEP_ALIVE,
                "keep-alive <deployment>",
                "One tiny completion: restarts a deployment's 15-day inactivity clock.",
                parse_deployment_name,
                keep_alive_command,
                listed=False,
            ),
        ],
        fallbacks=[send_prompt, greet],
    )
