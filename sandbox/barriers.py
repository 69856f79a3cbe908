"""Barriers for fault tests: hold a request at a chosen moment, or refuse it, instead of a delay.

- `hold(method, path)`: the next matching request waits. By default the sandbox serves it first
  and holds its answer (the work is done, as when Azure did it and its answer is still on the
  way: the moment to kill the caller); `served=False` holds it before it is served. `reached` is
  set once a request waits there; `release()` lets it, and every later match, go on.
- `refuse(method, path, status, times)`: the next `times` matching requests are answered with
  `status` in Azure's error shape, unserved (as Azure does when it throttles or fails).

`path` is a regular expression searched in the request's path (`r"/deployments/[^/]+$"`).
A test that serves the sandbox in its own process (tests/sandbox_server.py) reaches them as
`app[SANDBOX].barriers`, while the bot under test may run as a process of its own and be killed
there. They are the programmatic side of `SANDBOX_FAULTS` (sandbox/faults.py), which configures
rates for a whole run.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field


@dataclass
class Hold:
    """Requests that wait at one barrier until it is released."""

    method: str
    path: re.Pattern[str]
    served: bool
    reached: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once a matching request waits here."""
    released: asyncio.Event = field(default_factory=asyncio.Event)
    waiting: int = 0

    def matches(self, method: str, path: str, served: bool) -> bool:
        """This barrier holds a request of `method` on `path` at that moment."""
        return (
            not self.released.is_set()
            and self.served == served
            and self.method == method.upper()
            and self.path.search(path) is not None
        )

    def release(self) -> None:
        """Let every request waiting here go on, and every later one pass."""
        self.released.set()


@dataclass
class Refusal:
    """Matching requests answered with an error instead of being served."""

    method: str
    path: re.Pattern[str]
    status: int
    times: int
    refused: int = 0


class Barriers:
    """The holds and refusals a test set on one sandbox."""

    def __init__(self) -> None:
        self._holds: list[Hold] = []
        self._refusals: list[Refusal] = []

    def hold(self, method: str, path: str, *, served: bool = True) -> Hold:
        """Hold the next requests of `method` on `path`: their answers once served (`served`),
        else the requests themselves; until `release()`."""
        held = Hold(method.upper(), re.compile(path), served)
        self._holds.append(held)
        return held

    def refuse(self, method: str, path: str, status: int, times: int = 1) -> Refusal:
        """Answer the next `times` requests of `method` on `path` with `status`."""
        refusal = Refusal(method.upper(), re.compile(path), status, times)
        self._refusals.append(refusal)
        return refusal

    def refusal(self, method: str, path: str) -> int | None:
        """The status to answer this request with instead of serving it (one refusal spent)."""
        for refusal in self._refusals:
            hit = refusal.method == method.upper() and refusal.path.search(path) is not None
            if hit and refusal.refused < refusal.times:
                refusal.refused += 1
                return refusal.status
        return None

    def release_all(self) -> None:
        """Release every hold (a test's end: nothing may wait any longer)."""
        for held in self._holds:
            held.release()

    async def wait(self, method: str, path: str, *, served: bool) -> None:
        """Wait at every barrier that holds this request at this moment."""
        for held in self._holds:
            if held.matches(method, path, served):
                held.waiting += 1
                held.reached.set()
                await held.released.wait()
