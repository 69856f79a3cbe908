"""A file over the size limit is refused before its download completes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.channel import ChannelFake, Conversation, card_text
from tests.e2e.test_datasets_chat import TRAINING, attachment


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"max_file_bytes": 4096}


async def test_a_file_over_the_limit_is_refused_before_it_is_read(
    conversation: Callable[..., Conversation], channel: ChannelFake
) -> None:
    reply = await conversation().checked(
        "validate", attachments=[attachment(channel, "training_set.jsonl", TRAINING)]
    )
    assert "training_set.jsonl is larger than the 4 kB limit for training files." in (
        card_text(reply)
    )
