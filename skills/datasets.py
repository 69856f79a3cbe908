"""Datasets in chat: keep the files people send, validate them, remember what was validated where.

Files are kept content-addressed (infra/datasets.py) so that training needs no new upload; the
files last validated in a conversation are remembered (`ValidatedSet`) for `train`.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterable, Sequence
from pathlib import PurePath

from infra.datasets import StoredDataset
from skills.context import Context
from skills.records import SampleOffer, ValidatedSet
from skills.sample import SAMPLE_FILES, read_sample
from skills.validation import ValidationReport, estimated_price, validate_file

_VALIDATION_NAME = re.compile(r"^val", re.IGNORECASE)


def order_files(names: Sequence[str]) -> list[int]:
    """Indexes in (training, validation) order: a name starting with "val" is the validation file,
    otherwise the second file is."""
    if (
        len(names) == 2
        and _VALIDATION_NAME.match(PurePath(names[0]).name)
        and not (_VALIDATION_NAME.match(PurePath(names[1]).name))
    ):
        return [1, 0]
    return list(range(len(names)))


async def _once(content: bytes) -> AsyncIterable[bytes]:
    yield content


class Datasets:
    """The files of a conversation, and their validation."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def keep(self, chunks: AsyncIterable[bytes], name: str) -> StoredDataset:
        """Store a file as it arrives (refused past the size limit)."""
        limit = self.ctx.settings.max_file_bytes
        return await self.ctx.datasets.add_stream(chunks, name, max_bytes=limit)

    async def stored(self, ids: Sequence[str]) -> list[StoredDataset]:
        """Kept files by id (UserError for one that is not kept)."""
        return [await asyncio.to_thread(self.ctx.datasets.get, sha) for sha in ids]

    async def samples(self) -> list[tuple[StoredDataset, bytes]]:
        """The sample training and validation files, kept, with their bytes."""
        kept = []
        for name in SAMPLE_FILES:
            content = read_sample(name)
            stored = await self.ctx.datasets.add_stream(
                _once(content), name, max_bytes=len(content)
            )
            kept.append((stored, content))
        return kept

    async def reports(
        self, stored: Sequence[StoredDataset], model: str | None, epochs: int | None = None
    ) -> list[ValidationReport]:
        """Each file's validation report (off the event loop), for `model`."""
        chosen = model or self.ctx.settings.default_model
        return [
            await asyncio.to_thread(validate_file, s.path, model=chosen, epochs=epochs, name=s.name)
            for s in stored
        ]

    async def validate(
        self,
        conversation: str,
        stored: Sequence[StoredDataset],
        model: str | None,
        epochs: int | None,
    ) -> tuple[list[StoredDataset], list[ValidationReport], float | None]:
        """Validate training (and validation) files and remember them for `train`: the files in
        (training, validation) order, their reports and the estimated price."""
        ordered = [stored[i] for i in order_files([s.name for s in stored])]
        chosen = model or self.ctx.settings.default_model
        reports = await self.reports(ordered, chosen, epochs)
        await self.ctx.records.put(
            ValidatedSet(
                conversation=conversation,
                training=ordered[0].sha256,
                validation=ordered[1].sha256 if len(ordered) > 1 else None,
                model=chosen,
                ok=all(r.ok for r in reports),
                at=time.time(),
            )
        )
        return ordered, reports, estimated_price(reports[0], self.ctx.settings.training_prices)

    async def offer_sample(self, conversation: str, user: str, name: str) -> SampleOffer:
        """Remember a sample file offered on a consent card (its token goes on the card)."""
        if name not in SAMPLE_FILES:
            raise ValueError(f"not a sample file: {name}")
        return await self.ctx.confirmations.ask(SampleOffer, conversation, user, sample=name)

    async def answer_offer(self, token: str, conversation: str, accepted: bool) -> SampleOffer:
        """Teams' answer to an offer this bot made in `conversation`, taken once (UserError for
        a token it never gave there, an expired or an answered one)."""
        return await self.ctx.confirmations.answer(
            SampleOffer.at(token), "confirmed" if accepted else "cancelled", conversation, "sample"
        )
