"""One retry helper: exponential backoff with full jitter, honouring Retry-After."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


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
    classify: Callable[[Exception], float | bool],
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
