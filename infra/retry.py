"""One retry helper: exponential backoff with full jitter, honouring Retry-After; and the one rule
for which failures are worth another try, whichever SDK raised them (openai, azure-core, the Bot
Connector's msrest, aiohttp).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aiohttp
import openai
from azure.core.exceptions import ServiceRequestError, ServiceResponseError

T = TypeVar("T")

RETRY_STATUSES = frozenset({408, 412, 429, 500, 502, 503, 504})
"""Throttling, timeouts and gateway errors (412 is Teams' conversation throttling); any other 5xx
is retried too. Everything else is an answer that another try would not change."""
CONNECTION_ERRORS = (
    openai.APIConnectionError,  # includes APITimeoutError
    ServiceRequestError,
    ServiceResponseError,
    aiohttp.ClientConnectionError,
    ConnectionError,
    TimeoutError,
)


def status_of(error: BaseException) -> int | None:
    """The HTTP status an SDK error carries (openai, azure-core, msrest, aiohttp), if any."""
    for value in (
        getattr(error, "status_code", None),
        getattr(getattr(error, "response", None), "status_code", None),
        getattr(error, "status", None),
    ):
        if isinstance(value, int):
            return value
    return None


def transient(error: BaseException) -> bool:
    """True for a failure worth another try: throttling, server errors, broken connections."""
    status = status_of(error)
    if status is not None:
        return status in RETRY_STATUSES or status >= 500
    if isinstance(error, CONNECTION_ERRORS):
        return True
    cause = error.__cause__ or error.__context__  # msrest wraps requests' connection errors
    return isinstance(cause, CONNECTION_ERRORS)


def classify(error: Exception) -> float | bool:
    """The `retry` verdict: False, True, or the seconds Retry-After asks for."""
    if not transient(error):
        return False
    hint = retry_after(error)
    return hint if hint is not None else True


def retry_after(error: BaseException) -> float | None:
    """Seconds a failed HTTP call was asked to wait (Retry-After / retry-after-ms), if it says.

    Reads `error.response.headers`, as the openai, azure-core and Bot Connector errors carry it.
    """
    headers = getattr(getattr(error, "response", None), "headers", None)
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) * scale)
        except ValueError:
            continue
    return None


def backoff_delay(attempt: int, *, base: float, cap: float, retry_after: float | None) -> float:
    """Seconds to wait before try `attempt + 1`: Retry-After when given, else full jitter."""
    if retry_after is not None:
        return min(cap, max(0.0, retry_after))
    return random.uniform(0, min(cap, base * 2**attempt))


async def retry(
    call: Callable[[], Awaitable[T]],
    *,
    classify: Callable[[Exception], float | bool] = classify,
    attempts: int = 5,
    base: float = 0.5,
    cap: float = 30.0,
) -> T:
    """Await `call()` until it succeeds or `attempts` are used.

    `classify(error)` says whether an error is worth another try: False (give up at once), True
    (retry after backoff) or a number (retry after that many seconds, from Retry-After).
    CancelledError is never caught.
    """
    for attempt in range(attempts):
        try:
            return await call()
        except Exception as error:
            verdict = classify(error)
            if verdict is False or attempt == attempts - 1:
                raise
            hint = None if verdict is True else float(verdict)
            await asyncio.sleep(backoff_delay(attempt, base=base, cap=cap, retry_after=hint))
    raise AssertionError("unreachable")
