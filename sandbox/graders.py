"""The Evals graders the sandbox computes for real: `string_check`, `text_similarity` and a
stand-in for `score_model`.

Shapes: azure-v1-v1-generated.json (OpenAI.EvalGraderStringCheckParams,
OpenAI.EvalGraderTextSimilarityParams, OpenAI.EvalGraderScoreModelParams); each result is what
the `openai` SDK reads as `evals.runs.OutputItemListResponse.Result` (name, passed, score, type).
`fuzzy_match` is the ratio of matching characters, 2 * M / T (Ratcliff/Obershelp, Python's
difflib), as rapidfuzz's `fuzz.ratio` scales it to 0..1; `rouge_n` and `rouge_l` are the F-measure
of shared word n-grams and of the longest common word subsequence (Lin, 2004), on lower-cased
words as `rouge-score` tokenizes them.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from typing import Any

TEXT_METRICS = ("fuzzy_match", "rouge_1", "rouge_2", "rouge_3", "rouge_4", "rouge_5", "rouge_l")
"""The `evaluation_metric`s computed here (not the spec's others: bleu, gleu, meteor)."""
STRING_OPERATIONS = ("eq", "ne", "like", "ilike")
GRADER_TYPES = ("string_check", "text_similarity", "score_model")
_TEMPLATE = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*\}\}")
_WORDS = re.compile(r"[a-z0-9]+")


def lookup(path: str, scope: dict[str, Any]) -> Any:
    """The value at a dotted path (`item.reference`, `sample.output_text`) or None."""
    value: Any = scope
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def render(template: str, scope: dict[str, Any]) -> str:
    """A grader's `{{item.x}}` / `{{sample.output_text}}` template filled in."""

    def fill(match: re.Match[str]) -> str:
        value = lookup(match.group(1), scope)
        return "" if value is None else value if isinstance(value, str) else str(value)

    return _TEMPLATE.sub(fill, template)


def fuzzy_match(output: str, reference: str) -> float:
    """2 * matching characters / total characters, 0..1."""
    if not output and not reference:
        return 1.0
    return difflib.SequenceMatcher(None, output, reference, autojunk=False).ratio()


def _tokens(text: str) -> list[str]:
    return _WORDS.findall(text.lower())


def _f_measure(overlap: int, produced: int, expected: int) -> float:
    if not overlap or not produced or not expected:
        return 0.0
    precision, recall = overlap / produced, overlap / expected
    return 2 * precision * recall / (precision + recall)


def rouge_n(output: str, reference: str, n: int) -> float:
    """F-measure of the word n-grams both texts share."""
    out, ref = _tokens(output), _tokens(reference)
    grams = [Counter(tuple(ws[i : i + n]) for i in range(len(ws) - n + 1)) for ws in (out, ref)]
    overlap = sum((grams[0] & grams[1]).values())
    return _f_measure(overlap, sum(grams[0].values()), sum(grams[1].values()))


def rouge_l(output: str, reference: str) -> float:
    """F-measure of the longest common subsequence of words."""
    out, ref = _tokens(output), _tokens(reference)
    previous = [0] * (len(ref) + 1)
    for word in out:
        current = [0]
        for j, other in enumerate(ref):
            current.append(previous[j] + 1 if word == other else max(previous[j + 1], current[j]))
        previous = current
    return _f_measure(previous[-1], len(out), len(ref))


def similarity(metric: str, output: str, reference: str) -> float:
    """One `text_similarity` metric of TEXT_METRICS."""
    if metric == "fuzzy_match":
        return fuzzy_match(output, reference)
    if metric == "rouge_l":
        return rouge_l(output, reference)
    return rouge_n(output, reference, int(metric.rsplit("_", 1)[1]))


def string_check(operation: str, value: str, reference: str) -> bool:
    """eq, ne, like (contains), ilike (contains, ignoring case)."""
    if operation == "eq":
        return value == reference
    if operation == "ne":
        return value != reference
    if operation == "like":
        return reference in value
    return reference.lower() in value.lower()


def grade(grader: dict[str, Any], scope: dict[str, Any]) -> dict[str, Any]:
    """One grader's result for one item: {name, type, score, passed, sample}."""
    kind, name = str(grader["type"]), str(grader.get("name") or grader["type"])
    result: dict[str, Any] = {"name": name, "type": kind, "sample": None}
    if kind == "string_check":
        value = render(str(grader["input"]), scope)
        passed = string_check(str(grader["operation"]), value, render(grader["reference"], scope))
        return result | {"score": 1.0 if passed else 0.0, "passed": passed}
    if kind == "text_similarity":
        output = render(str(grader["input"]), scope)
        score = similarity(
            str(grader["evaluation_metric"]), output, render(grader["reference"], scope)
        )
        return result | {
            "score": round(score, 6),
            "passed": score >= float(grader["pass_threshold"]),
        }
    # score_model: no judge model runs here; a deterministic stand-in that says it is one scores
    # the answer by its fuzzy match with the reference, on the grader's range.
    low, high = (grader.get("range") or [0, 1])[:2]
    output = lookup("sample.output_text", scope) or ""
    reference = lookup("item.reference", scope) or ""
    score = low + (high - low) * fuzzy_match(str(output), str(reference))
    threshold = grader.get("pass_threshold")
    passed = score >= float(threshold) if isinstance(threshold, int | float) else score > low
    stand_in = "The sandbox's stand-in for a judge model: a fuzzy match with the reference."
    return result | {"score": round(score, 6), "passed": passed, "sample": {"note": stand_in}}
