"""Dataset validation: the lab's checks and token statistics on a JSONL file, done right.

`validate_file` streams the file (flat memory, one process per core for large files) and returns a
`ValidationReport`: the chat, the shell and the Azure sandbox all use it. The rules are in
`skills.validation_rules`; docs/validation.md says how non-string values are counted.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from dataclasses import asdict, dataclass, replace
from itertools import accumulate
from pathlib import Path
from typing import Any

from infra.catalog import DEFAULT_MODEL, TOKEN_LIMITS
from infra.errors import UserError
from infra.text import echo, label
from infra.tokens import encoding_name_for
from skills.validation_scan import LIST_CAP, Tally, detect_format, scan

MIN_EXAMPLES = 10
MAX_FILE_BYTES = 512 * 1024 * 1024
EXPECTED = 'expected the chat format, one {"messages": [...]} object per line'


@dataclass(frozen=True)
class ExampleError:
    """One problem of one example (line is the 1-based physical line)."""

    line: int
    code: str
    message: str


@dataclass(frozen=True)
class FileError:
    """A problem of the whole file: too_few_examples, unknown_format, file_too_large."""

    code: str
    message: str


@dataclass(frozen=True)
class ReportWarning:
    """Examples that are valid but worth a look (lines capped, the message has the count)."""

    code: str
    message: str
    count: int
    lines: list[int]


@dataclass(frozen=True)
class Distribution:
    """min, max, mean, median and the true 5th/95th percentiles (numpy's linear method)."""

    min: int
    max: int
    mean: float
    median: float
    p5: float
    p95: float

    def shown(self) -> list[str]:
        """The six values as the reports show them: whole numbers plain, others to one decimal."""
        values = (self.min, self.max, self.mean, self.median, self.p5, self.p95)
        return [f"{v:,.0f}" if float(v).is_integer() else f"{v:,.1f}" for v in values]


@dataclass(frozen=True)
class TokenStats:
    """Distributions over valid examples."""

    total: Distribution
    assistant: Distribution
    messages: Distribution


@dataclass(frozen=True)
class Billing:
    """The cookbook's estimate of the tokens a training job bills."""

    dataset_tokens: int
    epochs: int
    billed_tokens: int


@dataclass(frozen=True)
class ValidationReport:
    """Everything validation found in one file; `to_json()` is the `--json` shape."""

    file: str
    model: str
    encoding: str
    format: str
    examples: int
    invalid_examples: int
    errors: list[ExampleError]
    error_counts: dict[str, int]
    file_errors: list[FileError]
    warnings: list[ReportWarning]
    over_limit: list[int]
    token_limit: int
    tokens: TokenStats | None
    billing: Billing

    @property
    def ok(self) -> bool:
        """True when the service should accept the file as training data."""
        return not (self.file_errors or self.invalid_examples or self.over_limit)

    @property
    def valid_examples(self) -> int:
        """Examples that passed every check."""
        return self.examples - self.invalid_examples

    def summary(self) -> str:
        """One sentence: the verdict and its first reason (for cards and the sandbox)."""
        if self.ok:
            return f"{self.file} is ready: {self.examples} valid examples."
        if self.file_errors:
            return f"{self.file} was not accepted: {self.file_errors[0].message}"
        if self.invalid_examples:
            first = self.errors[0]
            return (
                f"{self.file} was not accepted: {self.invalid_examples} of {self.examples} "
                f"examples are invalid (line {first.line}: {first.message})."
            )
        return (
            f"{self.file} was not accepted: {len(self.over_limit)} examples exceed "
            f"{self.token_limit:,} tokens (line {self.over_limit[0]})."
        )

    def to_json(self) -> dict[str, object]:
        """The report as plain JSON data, with `ok`."""
        data = asdict(self)
        data["ok"] = self.ok
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ValidationReport:
        """The report `to_json` wrote (a stored report, read back)."""
        tokens = data.get("tokens")
        return cls(
            file=data["file"],
            model=data["model"],
            encoding=data["encoding"],
            format=data["format"],
            examples=data["examples"],
            invalid_examples=data["invalid_examples"],
            errors=[ExampleError(**e) for e in data["errors"]],
            error_counts=dict(data["error_counts"]),
            file_errors=[FileError(**e) for e in data["file_errors"]],
            warnings=[ReportWarning(**w) for w in data["warnings"]],
            over_limit=list(data["over_limit"]),
            token_limit=data["token_limit"],
            tokens=TokenStats(
                Distribution(**tokens["total"]),
                Distribution(**tokens["assistant"]),
                Distribution(**tokens["messages"]),
            )
            if tokens
            else None,
            billing=Billing(**data["billing"]),
        )

    def for_epochs(self, epochs: int | None) -> ValidationReport:
        """The same report with the billing estimate for `epochs` (None: the default)."""
        run = billing_epochs(self.valid_examples, epochs)
        dataset = self.billing.dataset_tokens
        return replace(self, billing=Billing(dataset, run, run * dataset))


def billing_epochs(examples: int, epochs: int | None = None) -> int:
    """The epochs a job runs: the user's, or the cookbook's default for `examples` examples."""
    if epochs is not None:
        return epochs
    if examples and 3 * examples < 100:
        return min(25, 100 // examples)
    if 3 * examples > 25_000:
        return max(1, 25_000 // examples)
    return 3


def estimated_price(report: ValidationReport, prices_per_1m: dict[str, float]) -> float | None:
    """Estimated training cost in USD from per-1M-token prices; None when the model has none."""
    price = prices_per_1m.get(report.model)
    if price is None:
        return None
    return report.billing.billed_tokens * price / 1_000_000


def _percentile(values: list[int], cumulative: list[int], q: float) -> float:
    """The q-quantile of a histogram, computed as numpy's default (linear) method does."""
    n = cumulative[-1]
    position = n * q + (1 - q) - 1
    below = min(max(int(position // 1), 0), n - 1)
    fraction = position - below
    low = values[bisect_right(cumulative, below)]
    high = values[bisect_right(cumulative, min(below + 1, n - 1))]
    if fraction >= 0.5:
        return float(high - (high - low) * (1 - fraction))
    return float(low + (high - low) * fraction)


def distribution(histogram: Counter[int]) -> Distribution:
    """Statistics of the values counted in `histogram` (value -> how many times)."""
    values = sorted(histogram)
    cumulative = list(accumulate(histogram[v] for v in values))
    return Distribution(
        min=values[0],
        max=values[-1],
        mean=sum(v * histogram[v] for v in values) / cumulative[-1],
        median=_percentile(values, cumulative, 0.5),
        p5=_percentile(values, cumulative, 0.05),
        p95=_percentile(values, cumulative, 0.95),
    )


def _duplicates(tally: Tally) -> list[int]:
    """Line numbers of valid examples identical to an earlier one."""
    import numpy as np  # imported here: it costs a tenth of a second, and only this needs it

    digests = np.frombuffer(tally.digests, dtype=np.uint64)
    if not len(digests):
        return []
    _, first = np.unique(digests, return_index=True)
    repeated = np.ones(len(digests), dtype=bool)
    repeated[first] = False
    lines = np.frombuffer(tally.digest_lines, dtype=np.uint64)[repeated]
    return [int(line) for line in lines]


def _warnings(tally: Tally) -> list[ReportWarning]:
    keys = ", ".join(label(key) for key in sorted(tally.extra_keys)[:10])
    if len(tally.extra_keys) > 10:
        keys += f" and {len(tally.extra_keys) - 10:,} more"
    texts = {
        "blank_lines": "blank line(s) were skipped.",
        "unrecognized_top_level_key": f"example(s) have top-level keys it ignores: {keys}.",
        "missing_system_message": "example(s) have no system message.",
        "missing_user_message": "example(s) have no user message.",
    }
    warnings = [
        ReportWarning(code, f"{found.count} {text}", found.count, found.lines)
        for code, text in texts.items()
        if (found := tally.warnings.get(code))
    ]
    duplicates = _duplicates(tally)
    if duplicates:
        message = f"{len(duplicates)} example(s) repeat an earlier example exactly."
        lines = duplicates[:LIST_CAP]
        warnings.append(ReportWarning("duplicate_examples", message, len(duplicates), lines))
    return warnings


def check_choice(model: str, epochs: int | None) -> None:
    """UserError for a base model validation does not know, or epochs out of range."""
    if model not in TOKEN_LIMITS:
        raise UserError(
            "Unknown model {model}; choose one of {known}.",
            model=echo(model),
            known=", ".join(TOKEN_LIMITS),
        )
    if epochs is not None and not 1 <= epochs <= 50:
        raise UserError("Epochs must be a whole number from 1 to 50.")


def validate_file(
    path: Path, *, model: str = DEFAULT_MODEL, epochs: int | None = None, name: str | None = None
) -> ValidationReport:
    """Validate the JSONL training file at `path` for base `model`; `name` is shown as its name.

    Raises UserError for an unknown model, bad epochs or a file that cannot be read.
    """
    check_choice(model, epochs)
    shown = name or path.name
    encoding = encoding_name_for(model)
    limit = TOKEN_LIMITS[model]
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            tally, detected = Tally(), None
            too_big = FileError("file_too_large", "the file is over the service's 512 MB limit.")
        else:
            detected = detect_format(path)
            tally = scan(path, detected.format, encoding, limit)
            too_big = None
    except IsADirectoryError:
        raise UserError(f"Cannot read {shown}: it is a folder, not a file.") from None
    except OSError as error:
        reason = error.strerror or str(error)
        raise UserError(f"Cannot read {shown}: {reason.lower()}.") from None
    file_errors = [too_big] if too_big else []
    if detected and detected.format == "unknown":
        file_errors.append(
            FileError("unknown_format", f"the file holds {detected.found}; {EXPECTED}.")
        )
    valid = tally.examples - tally.invalid
    if valid < MIN_EXAMPLES and not too_big:
        file_errors.append(
            FileError(
                "too_few_examples",
                f"the file has {valid} valid example(s); the service needs {MIN_EXAMPLES} or more.",
            )
        )
    run_epochs = billing_epochs(valid, epochs)
    stats = None
    if valid:
        stats = TokenStats(
            distribution(tally.total), distribution(tally.assistant), distribution(tally.messages)
        )
    return ValidationReport(
        file=shown,
        model=model,
        encoding=encoding,
        format=detected.format if detected else "unknown",
        examples=tally.examples,
        invalid_examples=tally.invalid,
        errors=[ExampleError(*error) for error in tally.errors],
        error_counts=dict(sorted(tally.error_counts.items())),
        file_errors=file_errors,
        warnings=_warnings(tally),
        over_limit=tally.over_limit,
        token_limit=limit,
        tokens=stats,
        billing=Billing(tally.dataset_tokens, run_epochs, run_epochs * tally.dataset_tokens),
    )
