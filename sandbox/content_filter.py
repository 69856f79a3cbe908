"""A small content filter, so the sandbox refuses prompts as Azure's filter does.

Azure screens every prompt in four categories (hate, self_harm, sexual, violence) and refuses one
that is filtered with HTTP 400, code `content_filter`, and the per-category results. The sandbox
screens the last user message against a few unmistakable phrases per category.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sandbox.errors import AzureError

CATEGORIES = ("hate", "self_harm", "sexual", "violence")
_PHRASES = {
    "self_harm": ("hurt myself", "kill myself", "self-harm", "end my life"),
    "violence": ("build a bomb", "make a bomb", "kill someone", "mass shooting"),
    "hate": ("inferior race", "ethnic cleansing"),
    "sexual": ("explicit sex",),
}
_PATTERNS = {
    name: re.compile("|".join(re.escape(p) for p in phrases), re.IGNORECASE)
    for name, phrases in _PHRASES.items()
}
REFUSAL = (
    "The response was filtered due to the prompt triggering Azure OpenAI's content management "
    "policy. Please modify your prompt and retry."
)


def screen(messages: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per-category results for the last user message, in Azure's shape."""
    last: dict[str, Any] = next((m for m in reversed(messages) if m.get("role") == "user"), {})
    content = last.get("content")
    text = content if isinstance(content, str) else ""
    results: dict[str, dict[str, Any]] = {}
    for name in CATEGORIES:
        hit = bool(_PATTERNS[name].search(text))
        results[name] = {"filtered": hit, "severity": "medium" if hit else "safe"}
    return results


def refuse_if_filtered(results: dict[str, dict[str, Any]]) -> None:
    """Raise Azure's 400 `content_filter` error when any category is filtered."""
    if any(result["filtered"] for result in results.values()):
        inner = {"code": "ResponsibleAIPolicyViolation", "content_filter_result": results}
        raise AzureError(400, "content_filter", REFUSAL, param="prompt", inner=inner)


TRAINING_CATEGORIES = {
    "hate": "hate_fairness",
    "self_harm": "self_harm",
    "sexual": "sexual",
    "violence": "violence",
}
"""The categories as Azure's data evaluation names them ("... failed RAI checks for harm types")."""


def training_flags(path: Path) -> list[str]:
    """The harm categories a training file's lines are flagged for (its data evaluation, before a
    job trains: Microsoft Learn, "Safety evaluation for fine-tuning"); reads it line by line."""
    found: set[str] = set()
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            found.update(name for name, pattern in _PATTERNS.items() if pattern.search(line))
    return [TRAINING_CATEGORIES[name] for name in CATEGORIES if name in found]
