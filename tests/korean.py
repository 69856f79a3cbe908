"""Finds English the bot says in Korean: every visible word of a message or card that is not a
quotation, a name or a code; and a particle pair (`을(를)`) where the bot should have chosen.

Quotations are what is not the bot's own words: an inline code span (`name`, an id, a command),
a markdown quote line (`> ...`), and a card TextBlock or TextRun whose id starts with `quote-`
(adaptive_cards.common.quote, their_words; a RichTextBlock reads as one line with its quoted
runs as code). Names and codes that stay as they are: ALLOWED.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from infra.particles import MARKERS

ALLOWED = {
    # products, services and formats (the lab leaves them in English)
    "azure",
    "openai",
    "microsoft",
    "teams",
    "graph",
    "jsonl",
    "json",
    "png",
    "csv",
    "api",
    "sdk",
    "tiktoken",
    "numpy",
    "bot",
    "framework",
    "finetune",
    "ops",
    "emulator",
    "playground",
    "evals",
    "agents",
    "sharepoint",
    "onedrive",
    "entra",
    "portal",
    "rest",
    "https",
    "http",
    "url",
    "utc",
    "id",
    "ids",
    "aad",
    "gpt",
    "mini",
    "turbo",
    "nano",
    "o",
    "s",
    "ai",
    "lora",
    "dpo",
    "sft",
    # Azure names: SKUs, roles, regions, resource kinds
    "standard",
    "globalstandard",
    "global",
    "developer",
    "datazonestandard",
    "provisionedmanaged",
    "s0",
    "cognitive",
    "services",
    "contributor",
    "user",
    "usages",
    "usage",
    "reader",
    "cost",
    "management",
    "owner",
    "northcentralus",
    "eastus",
    "eastus2",
    "swedencentral",
    "westus",
    "westus3",
    "key1",
    "key2",
    "sku",
    "tpm",
    "rbac",
    # units Babel's Korean formats keep
    "kb",
    "mb",
    "gb",
    "byte",
    "us",
}
_CODE = re.compile(r"`[^`]*`")
_URL = re.compile(r"https?://\S+|www\.\S+")
_WHEN = re.compile(r"\{\{(DATE|TIME)\([^)]*\)\}\}")
"""A date or time each reader's client writes in their language (adaptive_cards.common.when)."""
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'’._-]*")


def _visible(node: Any, parent: str = "") -> Iterator[str]:
    """The texts a person sees in a card (quoted TextBlocks left out; a fact's value is seen, a
    choice's or an input's value is a code)."""
    if isinstance(node, list):
        for item in node:
            yield from _visible(item, parent)
        return
    if not isinstance(node, dict) or str(node.get("id", "")).startswith("quote-"):
        return
    if node.get("type") == "RichTextBlock":  # one line, its quoted runs marked as code
        runs = node.get("inlines") or []
        yield "".join(
            f"`{run['text']}`" if str(run.get("id", "")).startswith("quote-") else run["text"]
            for run in runs
        )
        return
    keys = ["text", "title", "placeholder", "label", "altText", "errorMessage"]
    if parent == "facts":
        keys.append("value")
    for key in keys:
        if isinstance(node.get(key), str):
            yield node[key]
    for key, value in node.items():
        if key not in ("data", "url", "selectAction") and isinstance(value, list | dict):
            yield from _visible(value, key)


def texts_of(activity: dict[str, Any]) -> list[str]:
    """What a person reads in one activity: its text and every card's visible texts."""
    found = [str(activity.get("text") or "")]
    for attachment in activity.get("attachments") or []:
        content = attachment.get("content") if isinstance(attachment, dict) else None
        if isinstance(content, dict):
            found += list(_visible(content))
    return [text for text in found if text]


def english(texts: Iterable[str], names: Iterable[str] = ()) -> list[str]:
    """The English words (with their line) in `texts`, quotations, ALLOWED and `names` (others'
    words in plain text, such as a notification preview, where nothing marks them) left out."""
    found = []
    names = sorted(names, key=len, reverse=True)
    for text in texts:
        for name in names:
            text = text.replace(name, " ")
        for line in text.splitlines():
            if line.lstrip().startswith(">"):
                continue
            bare = _WHEN.sub(" ", _URL.sub(" ", _CODE.sub(" ", line)))
            words = [w for w in _WORD.findall(bare) if w.lower().strip("'’._-") not in ALLOWED]
            # a word with a digit is a model or an id; one letter is a placeholder (`N`, `X`)
            words = [w for w in words if len(w) > 1 and not any(c.isdigit() for c in w)]
            if words:
                found.append(f"{' '.join(words)}  <-  {line.strip()}")
    return found


def particle_pairs(texts: Iterable[str]) -> list[str]:
    """The lines of `texts` (quotations left out) that show a particle pair such as `을(를)`:
    the bot always says the form the word before it takes (infra/particles.py)."""
    return [
        line.strip()
        for text in texts
        for line in text.splitlines()
        if not line.lstrip().startswith(">") and MARKERS.search(_CODE.sub(" ", line))
    ]
