"""Who does a piece of background work: one owner at a time per item (a job being watched, a
deployment being followed, a launch).

`Ownership` is the small interface the workflows use: `claim(item)` before working on an item,
`release(item)` after, `owns(item)` to check on the way. This process alone owns everything today
(`LocalOwnership`, which only keeps two tasks of one process off the same item); with several
instances a lease per item implements the same three calls.
"""

from __future__ import annotations

from typing import Protocol


class Ownership(Protocol):
    """One owner at a time per item of background work."""

    async def claim(self, item: str) -> bool:
        """Become the owner of `item`; False when someone else owns it now."""
        ...

    async def release(self, item: str) -> None:
        """Stop owning `item` (nothing happens when it was not owned)."""
        ...

    def owns(self, item: str) -> bool:
        """True while this process owns `item`."""
        ...


class LocalOwnership:
    """Every item belongs to this process; a second claim of an owned item is refused."""

    def __init__(self) -> None:
        self._owned: set[str] = set()

    async def claim(self, item: str) -> bool:
        """Own `item` unless already owned here."""
        if item in self._owned:
            return False
        self._owned.add(item)
        return True

    async def release(self, item: str) -> None:
        """Let `item` go."""
        self._owned.discard(item)

    def owns(self, item: str) -> bool:
        """True while owned."""
        return item in self._owned
