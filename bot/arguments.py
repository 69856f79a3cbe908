"""Argument parsers for the command table: (text after the command, card data) -> typed args."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra.errors import UserError
from infra.text import echo


def no_args(text: str, data: Mapping[str, Any]) -> None:
    """For commands that take nothing; extra words are refused."""
    if text:
        raise UserError("This command takes no arguments (got {text}).", text=echo(text))


def optional_word(text: str, data: Mapping[str, Any]) -> str | None:
    """One optional word (from the text or the card's `arg`)."""
    value = text or str(data.get("arg") or "")
    if len(value.split()) > 1:
        raise UserError("Expected one word, got {value}.", value=echo(value))
    return value.lower() or None


def key_values(text: str, allowed: set[str]) -> tuple[list[str], dict[str, str]]:
    """Split "a b key=value" into positional words and options; unknown keys are refused."""
    words: list[str] = []
    options: dict[str, str] = {}
    for token in text.split():
        key, sep, value = token.partition("=")
        if not sep:
            words.append(token)
            continue
        key = key.lower()
        if key not in allowed:
            raise UserError(
                "Unknown option {key}; use {allowed}.",
                key=echo(key),
                allowed=", ".join(f"`{name}`" for name in sorted(allowed)),
            )
        if not value:
            raise UserError("Option `{key}` needs a value, as in `{key}=...`.", key=key)
        options[key] = value
    return words, options
