"""Fault injection for reliability tests, configured by `SANDBOX_FAULTS`.

Syntax: comma-separated `name=value` pairs, for example `429=0.1,500=0.05,latency=0.02`:

- `<status>=<rate>`: answer that share (0..1) of requests with that status (429, 500, 503, ...)
  instead of serving them; a 429 or 503 carries `Retry-After`.
- `lost=<rate>`: serve that share of POST requests (an upload, a job creation), then answer 504
  as if the answer was lost on the way back: the work is done, the caller cannot know it.
- `latency=<seconds>`: add that much real time before every answer.
- `together=<n>`: hold each chat completion until `n` of them are waiting, then answer them all
  (a barrier for tests of requests that must overlap, instead of a latency that hopes they do).
- `costs429=<rate>`: answer that share of Cost Management queries 429, with Cost Management's
  retry headers (billing.py).
- `retry_after=<seconds>`: the Retry-After a fault gives (default 1).
- `seed=<int>`: make the sequence of faults reproducible.
- `drop=<operationId>:<field>`: answer that operation without that top-level field of its JSON
  body (bad input from Azure: a required field missing; sandbox/contracts.py applies it).
- `disk=<bytes>`: the uploaded files and trained models fit in that many bytes; a write beyond
  them fails as on a full disk (`OSError` ENOSPC), without filling the real one.
- `undeployable=<suffix>`: a fine-tuning job created with that suffix (`*`: every job) fails its
  post-training model evaluation: the job fails with Azure's message, and its model cannot be
  deployed (Microsoft Learn, "Safety evaluation for fine-tuning").
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

_MESSAGES = {
    429: (
        "429",
        "Requests to the sandbox have exceeded the call rate limit of your current pricing tier "
        "(injected fault). Please retry after the time in Retry-After.",
    ),
    500: ("InternalServerError", "The server had an error while processing your request."),
    502: ("BadGateway", "The server received an invalid response from an upstream server."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable. Please retry later."),
    504: ("GatewayTimeout", "The server did not answer in time."),
}


@dataclass(frozen=True)
class Faults:
    """Parsed fault settings; `pick()` decides the fault of one request."""

    rates: dict[int, float] = field(default_factory=dict)
    lost: float = 0.0
    latency: float = 0.0
    retry_after: float = 1.0
    seed: int | None = None
    drops: tuple[tuple[str, str], ...] = ()
    """(operation id, top-level field) pairs the answers of that operation leave out."""
    together: int = 0
    disk: int | None = None
    """Bytes the files and models may take (None: the disk's own room)."""
    undeployable: tuple[str, ...] = ()
    """Job suffixes whose model fails its safety evaluation (`*`: every job)."""

    def undeployable_for(self, suffix: object) -> bool:
        """Whether a job with this suffix fails its post-training model evaluation."""
        return "*" in self.undeployable or (bool(suffix) and suffix in self.undeployable)

    cost_throttle: float = 0.0
    """The share of Cost Management queries answered 429 (`costs429=<rate>`)."""

    @property
    def active(self) -> bool:
        """True when any fault, latency or barrier is configured."""
        return (
            bool(self.rates)
            or self.lost > 0
            or self.latency > 0
            or self.together > 0
            or self.cost_throttle > 0
        )

    def rng(self) -> random.Random:
        """A random source for one sandbox run."""
        return random.Random(self.seed)

    def pick(self, rng: random.Random) -> int | None:
        """The status to inject for one request, or None to serve it."""
        draw = rng.random()
        for status, rate in self.rates.items():
            if draw < rate:
                return status
            draw -= rate
        return None


def describe(status: int) -> tuple[str, str]:
    """Azure's error code and message for an injected status."""
    return _MESSAGES.get(status, (str(status), "Injected fault."))


def parse_faults(text: str) -> Faults:
    """Parse the `SANDBOX_FAULTS` syntax; raises ValueError naming the bad part."""
    rates: dict[int, float] = {}
    latency, retry_after, lost, seed, together, cost_throttle = 0.0, 1.0, 0.0, None, 0, 0.0
    disk: int | None = None
    drops: list[tuple[str, str]] = []
    undeployable: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, value = part.partition("=")
        name, value = name.strip().lower(), value.strip()
        if not sep or not value:
            raise ValueError(f"fault {part!r} is not name=value")
        if name == "drop":
            operation, colon, dropped = value.partition(":")
            if not colon or not operation or not dropped:
                raise ValueError(f"fault {part!r} is not drop=<operationId>:<field>")
            drops.append((operation.strip(), dropped.strip()))
            continue
        if name == "undeployable":
            undeployable.append(value)
            continue
        try:
            if name == "latency":
                latency = float(value)
            elif name == "retry_after":
                retry_after = float(value)
            elif name == "lost":
                lost = float(value)
            elif name == "seed":
                seed = int(value)
            elif name == "together":
                together = int(value)
            elif name == "disk":
                disk = int(value)
            elif name == "costs429":
                cost_throttle = float(value)
            elif name.isascii() and name.isdigit() and 400 <= int(name) <= 599:
                rates[int(name)] = float(value)
            else:
                raise ValueError(f"unknown fault {name!r} (use a 4xx/5xx status, latency, ...)")
        except ValueError as error:
            if "unknown fault" in str(error):
                raise
            raise ValueError(f"fault {part!r} has a value that is not a number") from None
    shares = (*rates.values(), lost, cost_throttle)
    if any(not 0 <= r <= 1 for r in shares) or sum(rates.values()) > 1:
        raise ValueError("fault rates must be between 0 and 1 and add up to at most 1")
    if latency < 0 or retry_after <= 0 or together < 0 or (disk is not None and disk < 0):
        raise ValueError("latency, together and disk must be >= 0 and retry_after > 0")
    return Faults(
        rates=rates,
        lost=lost,
        latency=latency,
        retry_after=retry_after,
        seed=seed,
        drops=tuple(drops),
        together=together,
        disk=disk,
        undeployable=tuple(undeployable),
        cost_throttle=cost_throttle,
    )
