"""Property-based tests (tests/fuzzing.py): a few thousand generated inputs to the validator, the
command parser and the activity edge; `make bench` runs 100,000 (benchmarks/fuzz.py)."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from tests.channel import ChannelFake
from tests.fuzzing import PROPERTIES, activities, bodies
from tests.harness import bot_settings, running_bot

pytestmark = pytest.mark.slow  # a few thousand generated inputs per property

EXAMPLES = 3000
"""Generated inputs in all, shared between the properties."""


@pytest.mark.parametrize(
    ("name", "check", "strategies", "share"), PROPERTIES, ids=[p[0] for p in PROPERTIES]
)
def test_generated_inputs_get_answers_not_exceptions(
    name: str, check: Any, strategies: tuple[Any, ...], share: float
) -> None:
    run = settings(
        max_examples=int(EXAMPLES * share),
        deadline=None,
        derandomize=True,  # the same inputs every run: a failure in CI is one to reproduce
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )(given(*strategies)(check))
    run()


@pytest.fixture
def live_bot(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The real bot and a channel fake on a loop of their own thread (Hypothesis drives sync
    tests): (the bot's /api/messages URL, the channel's URL)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    channel = ChannelFake()
    serving = running_bot(bot_settings(tmp_path / "data"))

    def call(work: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(work, loop).result(60)

    call(channel.start())
    url = call(serving.__aenter__())
    try:
        yield f"{url}/api/messages", channel.url
    finally:
        call(serving.__aexit__(None, None, None))
        call(channel.close())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_generated_activities_over_http_never_get_500(
    live_bot: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """Bodies to the real bot: 201/200 for an activity, 400 for anything else; and no turn that
    an accepted activity started fails with an unexpected error."""
    url, channel_url = live_bot

    def post(body: bytes) -> None:
        request = urllib.request.Request(
            url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        assert status in (200, 201, 400, 501), (status, body[:300])  # 501: an unknown invoke

    def served(activity: dict[str, Any]) -> bytes:
        return json.dumps({**activity, "serviceUrl": channel_url}).encode()

    run = settings(
        max_examples=200,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )(given(activities.map(served) | bodies)(post))
    run()
    failed = [r.getMessage() for r in caplog.records if "failed [ref" in r.getMessage()]
    assert failed == []
