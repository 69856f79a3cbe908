"""A JSONL file as eval items: each example's conversation before its last answer (`input`) and
that answer (`reference`), the grading rule they call for, and their token estimate.

Chat files (`messages`) compare against the last assistant turn; preference files (DPO:
`input`, `preferred_output`) against the preferred answer, and the plan says so. More than
MAX_ITEMS examples are sampled with a fixed seed (and the plan says so). The shape of an item is
the bot's own: it is the `item_schema` of the eval (skills/evaluation/azure.py).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any

from infra.errors import UserError
from infra.tokens import encoding_name_for, token_counter

MAX_ITEMS = 1000
SAMPLE_SEED = 30
"""The seed of the sample drawn from a file over MAX_ITEMS examples (the same file gives the same
items)."""
SHORT_REFERENCE_WORDS = 5
"""References of at most this many words are graded by exact match as well."""
PER_MESSAGE_TOKENS = 3
"""Tokens a chat message costs besides its content (OpenAI's counting guide: 3 per message)."""

Item = dict[str, Any]


@dataclass(frozen=True)
class Items:
    """The items of one file and how they were taken from it."""

    rows: tuple[Item, ...]
    examples: int
    """Examples with an answer in the file (more than `rows` when sampled)."""
    preference: bool
    """A DPO file: the references are the preferred answers."""

    @property
    def sampled(self) -> bool:
        """Fewer items than examples: a sample."""
        return len(self.rows) < self.examples

    @property
    def short_references(self) -> bool:
        """Every reference is short: exact match is a fair grader too."""
        return all(len(str(r["reference"]).split()) <= SHORT_REFERENCE_WORDS for r in self.rows)

    def tokens(self, base_model: str) -> tuple[int, int]:
        """(prompt, completion) tokens of one run, the completions estimated by the references."""
        count = token_counter(encoding_name_for(base_model))
        prompt = completion = 0
        for row in self.rows:
            prompt += sum(PER_MESSAGE_TOKENS + count(m["content"]) for m in row["input"]) + 3
            completion += count(str(row["reference"]))
        return prompt, completion


def _text(content: Any) -> str:
    """A message's content as text (a string, or a list of text parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _messages(raw: Any) -> list[dict[str, str]]:
    if not isinstance(raw, list):
        return []
    return [
        {"role": str(m.get("role")), "content": _text(m.get("content"))}
        for m in raw
        if isinstance(m, dict) and m.get("role") in ("system", "developer", "user", "assistant")
    ]


def _item(example: Any) -> tuple[Item | None, bool]:
    """(item or None when the example has no answer, whether it is a preference pair)."""
    if not isinstance(example, dict):
        return None, False
    if "preferred_output" in example:
        given = example.get("input")
        prompt = _messages(given.get("messages") if isinstance(given, dict) else None)
        answers = _messages(example.get("preferred_output"))
        reference = answers[-1]["content"] if answers else ""
        if prompt and reference:
            return {"input": prompt, "reference": reference}, True
        return None, True
    messages = _messages(example.get("messages"))
    last = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=-1)
    if last < 1 or not messages[last]["content"]:
        return None, False
    return {"input": messages[:last], "reference": messages[last]["content"]}, False


def items_of(text: str) -> Items:
    """The file's items; one sentence when it has nothing to compare against."""
    rows: list[Item] = []
    preference = False
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            example = json.loads(line)
        except ValueError:
            raise UserError(
                "Line {line} of that file is not JSON; `validate` the file first.", line=number
            ) from None
        item, pair = _item(example)
        preference = preference or pair
        if item is not None:
            rows.append(item)
    if not rows:
        raise UserError(
            "That file has no assistant answers to compare against: each line needs a "
            "conversation that ends with the answer you expect."
        )
    examples = len(rows)
    if examples > MAX_ITEMS:
        rows = random.Random(SAMPLE_SEED).sample(rows, MAX_ITEMS)
    return Items(tuple(rows), examples, preference)
