"""One retry rule for every SDK (infra/retry.py): what is worth another try, and how long to
wait."""

from __future__ import annotations

import asyncio

import httpx2 as httpx
import openai
import pytest
from azure.core.exceptions import HttpResponseError, ServiceRequestError

from infra.retry import backoff_delay, classify, retry, retry_after, transient


def openai_error(status: int, headers: dict[str, str] | None = None) -> openai.APIStatusError:
    request = httpx.Request("GET", "http://127.0.0.1:9/x")
    response = httpx.Response(status, headers=headers or {}, request=request)
    return openai.APIStatusError("failed", response=response, body=None)


class ConnectorError(Exception):
    """The shape of msrest's HttpOperationError: a `response` with `status_code` and headers."""

    def __init__(self, status: int, headers: dict[str, str]) -> None:
        super().__init__(status)
        self.response = type("Response", (), {"status_code": status, "headers": headers})()


class ArmResponse:
    """The parts of an azure-core HTTP response that HttpResponseError reads."""

    def __init__(self, status: int) -> None:
        self.status_code = status
        self.headers: dict[str, str] = {}
        self.reason = "failed"

    def text(self) -> str:
        return ""


def test_the_same_statuses_are_transient_whichever_sdk_raised_them() -> None:
    for status in (408, 412, 429, 500, 502, 503, 504, 599):
        assert transient(openai_error(status)) and transient(ConnectorError(status, {}))
        assert transient(HttpResponseError(message="failed", response=ArmResponse(status)))
    for status in (400, 401, 403, 404, 409):
        assert not transient(openai_error(status)) and not transient(ConnectorError(status, {}))


def test_broken_connections_are_transient_other_errors_are_not() -> None:
    request = httpx.Request("GET", "http://127.0.0.1:9/x")
    assert transient(openai.APIConnectionError(request=request))
    assert transient(ServiceRequestError("connection refused"))
    assert transient(ConnectionResetError())
    assert not transient(ValueError("a bug"))


def test_retry_after_is_read_in_seconds_or_milliseconds() -> None:
    assert retry_after(openai_error(429, {"Retry-After": "2"})) == 2.0
    assert retry_after(openai_error(429, {"retry-after-ms": "250"})) == 0.25
    assert retry_after(ConnectorError(429, {"Retry-After": "soon"})) is None
    assert classify(openai_error(429, {"Retry-After": "3"})) == 3.0
    assert classify(openai_error(503)) is True and classify(openai_error(400)) is False


def test_backoff_is_full_jitter_capped_or_what_the_service_asked() -> None:
    delays = [backoff_delay(6, base=0.5, cap=4.0, retry_after=None) for _ in range(200)]
    assert 0 <= min(delays) and max(delays) <= 4.0 and len(set(delays)) > 100
    assert backoff_delay(1, base=0.5, cap=4.0, retry_after=9.0) == 4.0


async def test_retry_gives_up_at_once_on_an_answer_and_after_attempts_on_a_hiccup() -> None:
    calls = 0

    async def refused() -> None:
        nonlocal calls
        calls += 1
        raise openai_error(400)

    with pytest.raises(openai.APIStatusError):
        await retry(refused, attempts=5, base=0.001)
    assert calls == 1

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 4:
            raise openai_error(503)
        return "ok"

    calls = 0
    assert await retry(flaky, attempts=5, base=0.001) == "ok" and calls == 4


async def test_retry_never_swallows_a_cancel() -> None:
    started = asyncio.Event()

    async def slow() -> None:
        started.set()
        await asyncio.sleep(60)

    task = asyncio.create_task(retry(slow))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
