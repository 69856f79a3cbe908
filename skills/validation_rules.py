"""The per-example rules of dataset validation: error codes, and how tokens are counted.

Pure functions on one parsed JSON line; `skills.validation_scan` runs them over a file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from infra import i18n
from infra.i18n import N_, _
from infra.text import label

Params = dict[str, str | int]
Issue = tuple[str, str, Params]
"""(code, message template, its parameters) of one problem found in an example: the template is
a message id (`N_`), said in the language of whoever reads the report (`say`)."""
TRANSLATED = ("where", "kind", "found")
"""Parameters that are message ids themselves (filled from the same parameters)."""


def say(template: str, params: Params) -> str:
    """An issue's sentence in the current language (numbers formatted for it)."""
    values: dict[str, object] = {
        k: i18n.number(v) if type(v) is int else v for k, v in params.items()
    }
    for key in TRANSLATED:
        if key in params:
            values[key] = _(str(params[key]), **values)
    return _(template, **values)


def english(template: str, params: Params) -> str:
    """An issue's sentence in English (the report's `message`, for JSON and the shell)."""
    with i18n.use(i18n.SOURCE):
        return say(template, params)


ROLES = frozenset({"system", "user", "assistant", "tool", "function"})
MESSAGE_KEYS = frozenset(
    {"role", "content", "name", "function_call", "tool_calls", "tool_call_id", "weight"}
)
CHAT_KEYS = frozenset({"messages", "tools", "functions", "parallel_tool_calls"})
DPO_KEYS = frozenset({"input", "preferred_output", "non_preferred_output"})
SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|endofprompt|>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
)
IMAGE_TOKENS = 85
"""Tokens counted per image part: OpenAI's base cost of an image (its true cost depends on size)."""
OUTPUTS = (N_("preferred_output"), N_("non_preferred_output"))
"""The DPO output keys (as a message's place: `where`, said as a code in every language)."""
_OUTPUT_KEYS = frozenset({"content", "tool_calls", "function_call"})
_UNSPLIT = 1 << 40
"""A remembered word after which its text cannot be split: more tokens than any text has."""


def describe(value: object) -> str:
    """The JSON type name of a parsed value, for messages."""
    names = {
        dict: N_("an object"),
        list: N_("an array"),
        str: N_("a string"),
        bool: N_("a boolean"),
    }
    if value is None:
        return N_("null")
    return names.get(type(value), N_("a number"))


def _valid_part(part: object) -> bool:
    if type(part) is not dict:
        return False
    kind = part.get("type")
    if kind == "text":
        return type(part.get("text")) is str
    if kind == "image_url":
        image = part.get("image_url")
        return type(image) is dict and type(image.get("url")) is str
    return False


def _has_content(message: dict[str, Any], role: object) -> bool:
    content = message.get("content")
    if type(content) is str:
        return bool(content) or _calls_tool(message, role)
    if type(content) is list:
        return bool(content) and all(_valid_part(part) for part in content)
    return content is None and _calls_tool(message, role)


def _calls_tool(message: dict[str, Any], role: object) -> bool:
    return role == "assistant" and ("tool_calls" in message or "function_call" in message)


def _valid_weight(message: dict[str, Any], role: object) -> bool:
    weight = message["weight"]
    number = type(weight) is int or type(weight) is float
    return role == "assistant" and number and weight in (0, 1)


Found = dict[str, tuple[str, Params]]
"""code -> (template, params) of the first issue of each code."""


def check_messages(messages: list[Any], where: str, found: Found) -> bool:
    """Check each message of `messages`, adding first-seen issues to `found`; True if an assistant
    message is among them."""
    assistant = False
    for number, message in enumerate(messages, 1):
        if type(message) is not dict:
            found.setdefault(
                "data_type",
                (
                    N_("{where} {number} is {kind}, not an object"),
                    {"where": where, "number": number, "kind": describe(message)},
                ),
            )
            continue
        role = message.get("role")
        content = message.get("content")
        if len(message) == 2 and type(content) is str and content and type(role) is str:
            # the common case, {"role": ..., "content": "..."}, checked quickly
            if role not in ROLES:
                found.setdefault("unrecognized_role", _role(where, number, role))
            assistant = assistant or role == "assistant"
            continue
        at: Params = {"where": where, "number": number}  # past the quick path: seldom here
        if "role" not in message:
            found.setdefault("message_missing_key", (N_("{where} {number} has no role"), at))
        elif type(role) is not str or role not in ROLES:
            found.setdefault("unrecognized_role", _role(where, number, role))
        assistant = assistant or role == "assistant"
        if not MESSAGE_KEYS.issuperset(message):
            unknown = sorted(str(k) for k in message.keys() - MESSAGE_KEYS)
            extra = ", ".join(label(k) for k in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
            found.setdefault(
                "message_unrecognized_key",
                (N_("{where} {number} has key(s) {keys}"), {**at, "keys": extra}),
            )
        if not _has_content(message, role):
            found.setdefault("missing_content", (N_("{where} {number} has no text content"), at))
        if "weight" in message and not _valid_weight(message, role):
            found.setdefault(
                "invalid_weight",
                (N_("{where} {number}: weight must be 0 or 1, on assistant messages"), at),
            )
    return assistant


def _role(where: str, number: int, role: object) -> tuple[str, Params]:
    params: Params = {"where": where, "number": number, "role": label(repr(role))}
    return N_("{where} {number} has role {role}"), params


def _issues(found: Found) -> list[Issue]:
    return [(code, template, params) for code, (template, params) in found.items()]


def _strings(value: object) -> Iterable[str]:
    if type(value) is str:
        yield value
    elif type(value) is dict:
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif type(value) is list:
        for item in value:
            yield from _strings(item)


def special_token(example: object) -> str | None:
    """The first special token found in any string of `example`, if any."""
    for text in _strings(example):
        if "<|" in text:
            for token in SPECIAL_TOKENS:
                if token in text:
                    return token
    return None


def _check_special(example: object, raw: str, found: Found) -> None:
    # A string can hold "<|" only if the raw line does, or spells a character with a \u escape.
    # One character is looked for first: that search is many times faster than a two-character one.
    if ("<" in raw and "<|" in raw) or ("\\" in raw and "\\u" in raw):
        token = special_token(example)
        if token:
            found["special_token"] = (
                N_("contains {token}, which the service rejects"),
                {"token": token},
            )


def check_chat(example: object, raw: str) -> list[Issue]:
    """Problems of one chat-format example (`raw` is its line, for a quick special-token test)."""
    if type(example) is not dict:
        return [_not_an_object(example)]
    messages = example.get("messages")
    if type(messages) is not list or not messages:
        return [("missing_messages_list", N_("messages is missing, empty or not a list"), {})]
    found: Found = {}
    if not check_messages(messages, N_("message"), found):
        found["example_missing_assistant_message"] = (N_("no assistant message"), {})
    _check_special(example, raw, found)
    return _issues(found)


def _not_an_object(example: object) -> Issue:
    return ("data_type", N_("the line is {kind}, not an object"), {"kind": describe(example)})


def check_dpo(example: object, raw: str) -> list[Issue]:
    """Problems of one DPO example: input.messages, preferred_output, non_preferred_output."""
    if type(example) is not dict:
        return [_not_an_object(example)]
    given = example.get("input")
    messages = given.get("messages") if type(given) is dict else None
    if type(messages) is not list or not messages:
        return [("missing_messages_list", N_("input.messages is missing, empty or not a list"), {})]
    found: Found = {}
    check_messages(messages, N_("input message"), found)
    for key in OUTPUTS:
        output = example.get(key)
        if type(output) is not list or not check_messages(output, key, found):
            found.setdefault(
                "example_missing_assistant_message",
                (N_("{where} has no assistant message"), {"where": key}),
            )
    _check_special(example, raw, found)
    return _issues(found)


def dpo_messages(example: dict[str, Any]) -> list[Any]:
    """All messages of a valid DPO example: input, then preferred, then non-preferred output."""
    given: list[Any] = example["input"]["messages"]
    preferred: list[Any] = example["preferred_output"]
    rejected: list[Any] = example["non_preferred_output"]
    return given + preferred + rejected


class Measure(NamedTuple):
    """The token counts of one valid example."""

    total: int
    assistant: int
    messages: int
    has_system: bool
    has_user: bool


class TokenCounter:
    """Counts an example's tokens by the lab's rule (see docs/validation.md for non-strings).

    `count` gives the tokens of one string. What tends to repeat (roles, system messages, tools)
    is counted once: the memo holds at most REPEATED_CHARS characters, then starts afresh, so
    strings that never repeat cannot fill the memory.

    A text is counted word by word, each word's count remembered, when that gives the same
    total: tiktoken's pre-splitting (both encodings' patterns) starts a piece at every space that
    follows a non-space character, and the pieces from there on depend only on the text from
    there on. So a text whose every space follows a non-space character has as many tokens as
    its first word plus each later word with its space before it (tests/skills/test_validation.py
    compares the two with tiktoken on generated text). Words repeat in real text: a dataset's
    vocabulary is a few thousand words, so most are looked up rather than encoded. The word memo
    holds at most WORDS words; when it is full and fewer than HITS of the words looked up since
    it was last emptied were found in it (a vocabulary too large to remember, where looking up
    costs more than counting), this counter counts whole texts from then on.
    """

    REPEATED_CHARS = 1 << 20
    WORDS = 50_000
    HITS = 0.8
    SHORT = 8
    """A text of fewer words is counted whole."""

    def __init__(self, count: Callable[[str], int]) -> None:
        self.count = count
        self._memo: dict[str, int] = {}
        self._room = self.REPEATED_CHARS
        self._words: dict[str, int] = {}
        self._looked_up = 0
        self._missed = 0
        self.by_words = True

    def text(self, value: str) -> int:
        """Tokens of one string: by its words when that is exact (see the class), else whole."""
        if not self.by_words:
            return self.count(value)
        words = value.split(" ")
        if len(words) < self.SHORT:
            return self.count(value)
        if len(self._words) >= self.WORDS and not self._renew():
            return self.count(value)
        known = self._words
        self._looked_up += len(words)
        try:
            total = sum(map(known.__getitem__, words))
        except KeyError:
            total = self._learn(words)
        if total >= _UNSPLIT:
            return self.count(value)
        return total - known[words[0]] + self.count(words[0])

    def _learn(self, words: list[str]) -> int:
        """The sum of `words`' remembered counts, counting and remembering the new ones."""
        known, total = self._words, 0
        for word in words:
            tokens = known.get(word)
            if tokens is None:
                self._missed += 1
                # A space after an empty word or after whitespace may belong to a longer piece.
                split = word and not word[-1].isspace()
                tokens = known[word] = self.count(" " + word) if split else _UNSPLIT
            total += tokens
        return total

    def _renew(self) -> bool:
        """Empty the full word memo; False, counting whole texts from now on, if it found few."""
        found = 1 - self._missed / max(1, self._looked_up)
        self._words, self._looked_up, self._missed = {}, 0, 0
        self.by_words = found >= self.HITS
        return self.by_words

    def repeated(self, value: str) -> int:
        """Tokens of a string that tends to repeat (roles, system prompts, tools), memoized."""
        count = self._memo.get(value)
        if count is None:
            count = self.text(value)
            if len(value) > self._room:
                self._memo.clear()
                self._room = self.REPEATED_CHARS
            if len(value) <= self._room:
                self._memo[value] = count
                self._room -= len(value)
        return count

    def value(self, key: str, value: object) -> int:
        """Tokens of a non-string message value: content parts, tool calls, function calls."""
        if key == "weight" or value is None:
            return 0
        if key == "content" and type(value) is list:
            return sum(
                self.text(part["text"]) if part["type"] == "text" else IMAGE_TOKENS
                for part in value
            )
        return self.text(json.dumps(value, ensure_ascii=False, separators=(",", ":")))

    def measure(self, messages: list[Any], extras: dict[str, Any]) -> Measure:
        """Count valid `messages`; `extras` holds top-level tools/functions, counted once."""
        text, repeated = self.text, self.repeated  # local names: this loop is the hot path
        total = 3 + 3 * len(messages)
        assistant = 0
        roles: set[str] = set()
        for message in messages:
            role = message["role"]
            roles.add(role)
            content = message.get("content")
            if len(message) == 2 and type(content) is str:  # the common case, counted quickly
                tokens = repeated(content) if role == "system" else text(content)
                total += repeated(role) + tokens
                if role == "assistant":
                    assistant += tokens
                continue
            for key, value in message.items():
                if type(value) is not str:
                    tokens = self.value(key, value)
                elif key == "role" or role == "system":
                    tokens = repeated(value)
                else:
                    tokens = text(value)
                total += tokens
                if key == "name":
                    total += 1
                if role == "assistant" and key in _OUTPUT_KEYS:
                    assistant += tokens
        for key in ("tools", "functions"):
            if extras.get(key):
                tools = json.dumps(extras[key], ensure_ascii=False, separators=(",", ":"))
                total += repeated(tools)
        return Measure(total, assistant, len(messages), "system" in roles, "user" in roles)
