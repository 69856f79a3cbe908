"""Property-based checks (Hypothesis) of the validator, the command parser and the activity edge:
generated inputs, zero unexpected exceptions, every rejection a user-facing error.

Each `check_*` function is one property over one generated input; `PROPERTIES` pairs each with
its strategy. tests/test_fuzz.py runs a few thousand inputs in `make test`; `make bench`
(benchmarks/fuzz.py) runs 100,000.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from bot.arguments import key_values
from bot.commands import build_router
from bot.inbound import BadActivity, parse_activity, read_body
from bot.router import clean_text, split_command
from infra.errors import UserError
from skills.validation import validate_file

RAW_EXCEPTION = re.compile(r"Traceback|Error\(|Exception|sys\.|\bline \d+, in\b")
"""What a message in Python's own words looks like."""
MAX_SENTENCE = 700
"""No rejection says more than this, whatever it was given (echoes are capped)."""

# -- JSON and text ---------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(["x" * 2000, "[x](http://evil.test)", "<|endoftext|>"])
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=16,
)
words = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=80
) | st.sampled_from(
    [
        "[click me](http://evil.test)",
        "`",
        "``` `",
        "<at>Bot</at>",
        "&nbsp;",
        "\u202e",
        "x" * 5000,
        "epochs=3",
        "model=",
        "=",
        "name=a=b",
        "ftjob-abc",
        "epochs=²",
        "³",
        "\x00",
    ]
)
command_text = st.lists(words, max_size=6).map(" ".join)

# -- the validator ---------------------------------------------------------------------------

roles = (
    st.sampled_from(["system", "user", "assistant", "tool", "function", "", "USER"]) | json_values
)
content = (
    st.text(max_size=60)
    | st.sampled_from(["<|endoftext|>", "\\u003c|fim_prefix|>", "<|im_start|>"])
    | json_values
    | st.lists(
        st.fixed_dictionaries(
            {"type": st.sampled_from(["text", "image_url", "audio"])},
            optional={"text": json_values, "image_url": json_values},
        ),
        max_size=3,
    )
)
message = st.fixed_dictionaries(
    {"role": roles, "content": content},
    optional={
        "name": json_values,
        "weight": st.sampled_from([0, 1, 0.5, "1", None, True]),
        "tool_calls": json_values,
        "function_call": json_values,
        "tool_call_id": json_values,
        "extra": json_values,
    },
)
chat_example = st.fixed_dictionaries(
    {"messages": st.lists(message | json_values, max_size=5)},
    optional={"tools": json_values, "functions": json_values, "parallel_tool_calls": json_values},
)
dpo_example = st.fixed_dictionaries(
    {
        "input": st.fixed_dictionaries(
            {"messages": st.lists(message, max_size=3)}, optional={"tools": json_values}
        ),
        "preferred_output": st.lists(message, max_size=2),
        "non_preferred_output": st.lists(message, max_size=2),
    }
)
odd_lines = st.sampled_from(
    [
        b'{"messages": [{"role": "user", "content": "x"}], "w": NaN}',
        b'{"messages": [], "messages": []}',
        b'{"a": ' + b"1" * 5000 + b"}",
        b'{"a": 1e400}',
        b"[" * 3000 + b"]" * 3000,
        b"\xef\xbb\xbf{}",
        b"\xff\xfe",
        b"<!DOCTYPE html><html>",
        b"",
        b"   ",
        b'{"prompt": "a", "completion": "b"}',
    ]
)
lines = st.one_of(
    chat_example.map(lambda v: json.dumps(v).encode()),
    dpo_example.map(lambda v: json.dumps(v).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.text(max_size=80).map(str.encode),
    st.binary(max_size=60),
    odd_lines,
)
files = st.lists(lines, min_size=1, max_size=12)


def check_validation(content: list[bytes]) -> None:
    """A JSONL file of generated lines: a report, or a UserError; never a raw exception, and
    every error a short sentence with a code."""
    with tempfile.TemporaryDirectory(prefix="ftbot-fuzz-") as folder:
        path = Path(folder) / "t.jsonl"
        path.write_bytes(b"\n".join(content) + b"\n")
        try:
            report = validate_file(path)
        except UserError as refused:
            _user_facing(refused.message)
            return
    json.dumps(report.to_json(), allow_nan=False)
    for found in report.errors:
        assert re.fullmatch(r"[a-z_]+", found.code), found.code
        _user_facing(found.message)
    for said in [e.message for e in report.file_errors] + [w.message for w in report.warnings]:
        _user_facing(said)


# -- the command parser ----------------------------------------------------------------------

ROUTER = build_router()
card_data = st.dictionaries(
    st.sampled_from(
        ["datasets", "model", "epochs", "job", "token", "request", "deployment", "text"]
    )
    | st.text(max_size=8),
    json_values | st.lists(st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)),
    max_size=4,
)


def check_parsers(text: str, data: dict[str, Any]) -> None:
    """Every command's argument parser, on any text and card data: its arguments, or a
    UserError of one short sentence."""
    cleaned = clean_text(text)
    word, rest = split_command(cleaned)
    for command in ROUTER.commands:
        for given, payload in ((rest, {}), ("", data), (cleaned, data)):
            try:
                command.parse(given, payload)
            except UserError as error:
                _user_facing(error.message)
    try:
        key_values(text, {"model", "epochs"})
    except UserError as error:
        _user_facing(error.message)
    ROUTER.suggestions(word)
    assert len(ROUTER._unknown(word)) < MAX_SENTENCE


# -- the activity edge -----------------------------------------------------------------------

ACCOUNT = st.fixed_dictionaries({"id": st.text(min_size=1, max_size=10)}) | json_values
activity_fields = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["message", "invoke", "conversationUpdate", "typing", ""])
        | json_values,
        "id": json_values,
        "serviceUrl": st.sampled_from(
            ["http://127.0.0.1:9/", "https://example.com/", "javascript:x", "http://[::1", ""]
        )
        | json_values,
        "channelId": json_values,
        "from": ACCOUNT,
        "recipient": ACCOUNT,
        "conversation": st.fixed_dictionaries({"id": st.text(min_size=1, max_size=10)})
        | json_values,
        "text": json_values,
        "timestamp": st.sampled_from(["2024-01-01T00:00:00Z", "yesterday", "2024-13-45T99:00"])
        | json_values,
        "attachments": st.lists(
            st.fixed_dictionaries(
                {}, optional={"contentType": json_values, "contentUrl": json_values}
            )
            | json_values,
            max_size=3,
        )
        | json_values,
        "membersAdded": st.lists(ACCOUNT, max_size=3) | json_values,
        "entities": json_values,
        "value": json_values,
        "channelData": json_values,
    },
)
well_formed = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["message", "invoke", "conversationUpdate", "installationUpdate"]),
        "id": st.text(min_size=1, max_size=12),
        "channelId": st.sampled_from(["emulator", "msteams", "webchat"]),
        "from": st.fixed_dictionaries({"id": st.text(min_size=1, max_size=10)}),
        "recipient": st.fixed_dictionaries({"id": st.text(min_size=1, max_size=10)}),
        "conversation": st.fixed_dictionaries({"id": st.text(min_size=1, max_size=10)}),
    },
    optional={
        "text": command_text,
        "name": st.sampled_from(["fileConsent/invoke", "adaptiveCard/action", "x"]),
        "value": json_values | card_data,
        "attachments": st.lists(
            st.fixed_dictionaries(
                {"contentType": st.sampled_from(["application/octet-stream", "text/html"])},
                optional={"contentUrl": st.sampled_from(["data:,x", "http://10.0.0.1/x"])},
            ),
            max_size=2,
        ),
        "membersAdded": st.lists(st.fixed_dictionaries({"id": st.text(max_size=5)}), max_size=2),
    },
)
activities = well_formed | activity_fields
"""Activity-shaped objects: well formed ones (which reach a turn), and any mix of field types."""
bodies = (
    activity_fields.map(lambda v: json.dumps(v).encode())
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.binary(max_size=100)
)


def check_edge(body: bytes) -> None:
    """Any request body: an Activity whose fields have the types the bot reads, or BadActivity
    with one sentence; nothing else."""
    for local in (True, False):
        try:
            activity = parse_activity(read_body(body), local=local)
        except BadActivity as bad:
            _user_facing(bad.sentence)
            continue
        assert isinstance(activity.type, str) and activity.type
        assert isinstance(activity.conversation.id, str) and activity.conversation.id
        assert activity.text is None or isinstance(activity.text, str)
        assert all(hasattr(a, "content_type") for a in activity.attachments or [])
        assert all(isinstance(m.id, str) for m in activity.members_added or [])


def _user_facing(message: str) -> None:
    assert isinstance(message, str) and message.strip(), repr(message)
    assert len(message) < MAX_SENTENCE, message[:200]
    assert not RAW_EXCEPTION.search(message), message


PROPERTIES: list[tuple[str, Callable[..., None], tuple[st.SearchStrategy[Any], ...], float]] = [
    ("validator", check_validation, (files,), 0.1),
    ("command parser", check_parsers, (command_text, card_data), 0.45),
    ("activity edge", check_edge, (bodies,), 0.45),
]
"""(name, property, strategies, share of the inputs)."""
