"""Datasets in chat: keep the files people send, read their stored reports, offer the samples.

Files are kept content-addressed (infra/datasets.py) so that training needs no new upload. They
are downloaded and validated in the background (skills/checks.py), which stores each report
(`ValidationResult`) and the files last validated in a conversation (`ValidatedSet`) for `train`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, Sequence
from pathlib import PurePath
from typing import Any

from infra.datasets import StoredDataset
from infra.errors import UserError
from infra.i18n import N_
from infra.records import Key, Record
from skills.context import Context
from skills.records import Confirmation, segment
from skills.sample import SAMPLE_FILES, read_sample
from skills.validation import ValidationReport


class ValidatedSet(Record):
    """The files last validated in a conversation (sha256 ids), for `train`."""

    prefix = "validated/"

    conversation: str
    training: str
    validation: str | None
    model: str
    ok: bool
    at: float

    @classmethod
    def at_conversation(cls, conversation: str) -> Key[ValidatedSet]:
        """The key of a conversation's validated files."""
        return Key(cls, f"{cls.prefix}{conversation}")

    def key(self) -> Key[ValidatedSet]:
        """Where this record is stored."""
        return self.at_conversation(self.conversation)


class ValidationResult(Record):
    """The validation report of one kept file for one base model (`train` and "Show all errors"
    read it instead of validating again)."""

    prefix = "validation/report/"

    sha256: str
    model: str
    report: dict[str, Any]
    at: float

    @classmethod
    def at_file(cls, sha256: str, model: str) -> Key[ValidationResult]:
        """The key of a file's report for `model`."""
        return Key(cls, f"{cls.prefix}{segment(sha256)}/{segment(model)}")

    def key(self) -> Key[ValidationResult]:
        """Where this record is stored."""
        return self.at_file(self.sha256, self.model)


class SampleOffer(Confirmation):
    """A sample file offered on a Teams file consent card, waiting for Teams' answer."""

    prefix = "sample-offer/"

    sample: str

    @classmethod
    def at(cls, token: str) -> Key[SampleOffer]:
        """The key of an offered sample file."""
        return Key(cls, f"{cls.prefix}{token}")

    def key(self) -> Key[SampleOffer]:
        """Where this record is stored."""
        return self.at(self.token)


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


async def kept_report(ctx: Context, stored: StoredDataset, model: str) -> ValidationReport:
    """The report stored when `stored` was validated for `model`."""
    found = await ctx.records.get(ValidationResult.at_file(stored.sha256, model))
    if found is None:
        raise UserError(
            "I have not checked {name} for {model} yet; attach it and say "
            "`validate model={model}`, then try again.",
            name=stored.name,
            model=model,
        )
    return ValidationReport.from_json(found.report)


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
        return [await self.ctx.datasets.get(sha) for sha in ids]

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
        self, stored: Sequence[StoredDataset], model: str | None
    ) -> list[ValidationReport]:
        """The stored validation reports of kept files for `model` (UserError when one was never
        validated for it: validating again would be long work in a turn)."""
        chosen = model or self.ctx.settings.default_model
        return [await kept_report(self.ctx, one, chosen) for one in stored]

    async def offer_sample(self, conversation: str, user: str, name: str) -> SampleOffer:
        """Remember a sample file offered on a consent card (its token goes on the card)."""
        if name not in SAMPLE_FILES:
            raise ValueError(f"not a sample file: {name}")
        return await self.ctx.confirmations.ask(SampleOffer, conversation, user, sample=name)

    async def answer_offer(self, token: str, conversation: str, accepted: bool) -> SampleOffer:
        """Teams' answer to an offer this bot made in `conversation`, taken once (UserError for
        a token it never gave there, an expired or an answered one)."""
        return await self.ctx.confirmations.answer(
            SampleOffer.at(token),
            "confirmed" if accepted else "cancelled",
            conversation,
            N_("sample"),
        )
