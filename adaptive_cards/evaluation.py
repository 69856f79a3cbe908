"""Cards of `evaluate`: the question with the estimated cost, the live card while both runs go,
the result (base vs fine-tuned per grader, with a 95% interval), a failure."""

from __future__ import annotations

from adaptive_cards import verbs
from adaptive_cards.common import (
    Card,
    Element,
    card,
    facts,
    heading,
    open_url,
    quoted,
    sentence,
    show_card,
    spoken,
    submit,
    text,
    titled,
)
from infra.i18n import N_, _, n_, number, percent, price
from skills.evaluation.evals import JUDGE
from skills.evaluation.records import Outcome, Setup, Worst
from skills.evaluation.stats import Comparison
from skills.evaluation.views import EvalDone, EvalFailed, EvalProgress


def _setup_facts(setup: Setup) -> Element:
    source = setup.source
    return facts(
        [
            (
                _("Fine-tuned"),
                sentence(N_("{name} ({model})"), {"name": setup.target, "model": setup.model}),
            ),
            (
                _("Base"),
                sentence(N_("{name} ({model})"), {"name": setup.base, "model": setup.base_model}),
            ),
            (
                _("Examples"),
                sentence(N_("{count} ({source})"), {"source": source}, count=number(setup.items)),
            ),
            (_("Graders"), quoted(", ".join(setup.graders))),
        ]
    )


def _notes(setup: Setup) -> list[Element]:
    """What the user must know about the items: a sample, preference pairs."""
    lines = []
    if setup.sampled:
        lines.append(
            _(
                "The file has {examples} examples; a fixed sample of {items} of them is evaluated.",
                examples=number(setup.examples),
                items=number(setup.items),
            )
        )
    if setup.preference:
        lines.append(
            _(
                "This is a preference (DPO) file: the answers are compared with the preferred "
                "answer of each pair."
            )
        )
    return [text(line, isSubtle=True) for line in lines]


def _money(amount: float) -> str:
    """An estimated amount; below a cent it says so rather than $0.00."""
    if amount < 0.01:
        return _("less than {cent}", cent=price(0.01))
    return price(amount)


def _cost(setup: Setup) -> str:
    tokens = 2 * (setup.prompt_tokens + setup.completion_tokens)
    if setup.cost is None:
        return _(
            "About {tokens} tokens for both runs (no price known for this model).",
            tokens=number(tokens),
        )
    return _(
        "About {tokens} tokens for both runs, an estimated {cost} (pay per token; the "
        "deployments have no hourly fee for this).",
        tokens=number(tokens),
        cost=_money(setup.cost),
    )


def confirm_card(setup: Setup, token: str, expires_hours: int) -> Card:
    """Ask before the runs cost anything: what is compared, on what, and the estimate."""
    return card(
        [
            titled(
                N_("Evaluate {name} against {base}?"), {"name": setup.target, "base": setup.base}
            ),
            _setup_facts(setup),
            *_notes(setup),
            text(_cost(setup)),
            text(
                _(
                    "Both models answer every example with the same sampling settings (seed "
                    "42, temperature 0) on Azure OpenAI Evals."
                ),
                isSubtle=True,
            ),
            text(
                n_(
                    "This question can be answered for {count} hour.",
                    "This question can be answered for {count} hours.",
                    expires_hours,
                ),
                isSubtle=True,
            ),
        ],
        [
            submit(_("Evaluate"), verbs.EVALUATE_CONFIRM, {"request": token}, "positive"),
            submit(_("Cancel"), verbs.EVALUATE_CANCEL, {"request": token}),
        ],
    )


def cancelled_card(setup: Setup) -> Card:
    """The question after "Cancel"."""
    return card([heading(_("Evaluation cancelled")), _setup_facts(setup)])


def progress_card(view: EvalProgress) -> Card:
    """The live card while both runs go."""
    setup, total = view.setup, number(view.setup.items)
    return card(
        [
            titled(N_("Evaluating {name}"), {"name": setup.target}),
            _setup_facts(setup),
            facts(
                [
                    (
                        _("Base"),
                        _("{done} of {total} done", done=number(view.base_done), total=total),
                    ),
                    (
                        _("Fine-tuned"),
                        _("{done} of {total} done", done=number(view.tuned_done), total=total),
                    ),
                ]
            ),
            text(_("This card updates itself; you can keep working meanwhile."), isSubtle=True),
        ]
    )


def _difference(comparison: Comparison) -> str:
    change = _(
        "{difference} (95% interval {low} to {high})",
        difference=f"{comparison.difference:+.3f}",
        low=f"{comparison.low:+.3f}",
        high=f"{comparison.high:+.3f}",
    )
    if comparison.significant:
        better = comparison.difference > 0
        return change + " " + (_("better") if better else _("worse"))
    return change + " " + _("no clear difference")


def _comparison(comparison: Comparison, judge: str) -> list[Element]:
    bold = {"weight": "Bolder"}
    title = quoted(comparison.grader, weight="Bolder")
    if judge and comparison.grader == JUDGE:
        title = sentence(
            N_("{grader} (the opinion of the model {judge}, not a measurement)"),
            {"grader": comparison.grader, "judge": judge},
            bold,
        )
    return [
        title,
        facts(
            [
                (
                    _("Mean score"),
                    _(
                        "base {base}, fine-tuned {tuned}",
                        base=f"{comparison.base_mean:.3f}",
                        tuned=f"{comparison.tuned_mean:.3f}",
                    ),
                ),
                (
                    _("Pass rate"),
                    _(
                        "base {base}, fine-tuned {tuned}",
                        base=percent(comparison.base_pass),
                        tuned=percent(comparison.tuned_pass),
                    ),
                ),
                (_("Difference"), _difference(comparison)),
            ]
        ),
    ]


def _worst(index: int, worst: Worst) -> list[Element]:
    return [
        text(
            _(
                "Example {index}: base {base}, fine-tuned {tuned}",
                index=index,
                base=f"{worst.base_score:.2f}",
                tuned=f"{worst.tuned_score:.2f}",
            ),
            weight="Bolder",
            separator=index > 1,
        ),
        text(_("Prompt"), isSubtle=True),
        quoted(worst.prompt),
        text(_("Expected"), isSubtle=True),
        quoted(worst.reference),
        text(_("Base answer"), isSubtle=True),
        quoted(worst.base_answer),
        text(_("Fine-tuned answer"), isSubtle=True),
        quoted(worst.tuned_answer),
    ]


def _usage(outcome: Outcome) -> str:
    if outcome.cost is None:
        return _("{tokens} tokens used by both runs.", tokens=number(outcome.tokens))
    return _(
        "{tokens} tokens used by both runs, an estimated {cost}.",
        tokens=number(outcome.tokens),
        cost=_money(outcome.cost),
    )


def result_card(view: EvalDone) -> Card:
    """Base vs fine-tuned per grader, the tokens and cost; the items where it did worst behind
    a button, and the download of every output."""
    setup, outcome = view.setup, view.outcome
    body: list[Element] = [
        titled(N_("Evaluation of {name}"), {"name": setup.target}),
        _setup_facts(setup),
        *_notes(setup),
    ]
    for comparison in outcome.comparisons:
        body += _comparison(comparison, setup.judge)
    body.append(text(_usage(outcome), isSubtle=True))
    actions: list[Element] = []
    if outcome.worst:
        worst: list[Element] = [
            text(_("Where the fine-tuned model did worst against the base"), weight="Bolder")
        ]
        for index, each in enumerate(outcome.worst, start=1):
            worst += _worst(index, each)
        actions.append(show_card(_("Show where it did worst"), worst))
    if view.download_url:
        actions.append(open_url(_("Download all outputs (JSONL)"), view.download_url))
    return card(body, actions)


def failed_card(view: EvalFailed) -> Card:
    """Azure refused or a run failed."""
    return card(
        [
            titled(N_("Evaluation of {name} failed"), {"name": view.setup.target}, "attention"),
            _setup_facts(view.setup),
            quoted(view.message),
        ]
    )


def offer_card(sentence: str, offer: dict[str, str]) -> Card:
    """A model the evaluation needs is not deployed: why, and a button that deploys it (the
    `deploy` command, which states the cost and asks first)."""
    return card(
        [heading(_("Deploy first")), spoken(sentence)],
        [submit(_("Deploy it"), verbs.DEPLOY, offer, "positive")],
    )
