"""Dataset validation: the lab's checks and token statistics on a JSONL file, done right.

`validate_file` streams the file (flat memory, one process per core for large files) and returns a
`ValidationReport`: the chat, the shell and the Azure sandbox all use it. The rules are in
`skills.validation_rules`; docs/validation.md says how non-string values are counted.
"""

from __future__ import annotations

import importlib
import threading
from bisect import bisect_right
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from itertools import accumulate
from pathlib import Path
from typing import Any

from infra import i18n
from infra.errors import UserError
from infra.i18n import N_, _, n_, number
from infra.prices import DEFAULT_MODEL, TOKEN_LIMITS, training_price
from infra.text import echo, label
from infra.tokens import encoding_name_for
from skills.validation_rules import Params, english, say
from skills.validation_scan import LIST_CAP, PARALLEL_MIN_BYTES, Tally, detect_format, scan

MIN_EXAMPLES = 10
MAX_FILE_BYTES = 512 * 1024 * 1024
UNKNOWN_FORMAT = N_(
    'the file holds {found}; expected the chat format, one {{"messages": [...]}} object per line.'
)


@dataclass(frozen=True)
class ExampleError:
    """One problem of one example (line is the 1-based physical line); `message` is English,
    `template` and `params` say it in the reader's language (`text`)."""

    line: int
    code: str
    message: str
    template: str = ""
    params: Params = field(default_factory=dict)

    def text(self) -> str:
        """The problem in the current language."""
        return say(self.template, self.params) if self.template else self.message


@dataclass(frozen=True)
class FileError:
    """A problem of the whole file: too_few_examples, unknown_format, file_too_large; `message`
    is English, `text()` the current language's."""

    code: str
    message: str
    params: Params = field(default_factory=dict)

    def text(self) -> str:
        """The problem in the current language."""
        return file_error_text(self.code, self.params) if self.params else self.message


@dataclass(frozen=True)
class ReportWarning:
    """Examples that are valid but worth a look (lines capped, the message has the count)."""

    code: str
    message: str
    count: int
    lines: list[int]
    params: Params = field(default_factory=dict)

    def text(self) -> str:
        """The warning in the current language."""
        return warning_text(self.code, self.count, self.params) or self.message


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
        return [number(v, 0) if float(v).is_integer() else number(v, 1) for v in values]


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
        """One sentence in the current language: the verdict and its first reason (for cards)."""
        if self.ok:
            return _(
                "{file} is ready: {count} valid examples.",
                file=self.file,
                count=number(self.examples),
            )
        if self.file_errors:
            return _(
                "{file} was not accepted: {reason}",
                file=self.file,
                reason=self.file_errors[0].text(),
            )
        if self.invalid_examples:
            first = self.errors[0]
            return _(
                "{file} was not accepted: {invalid} of {count} examples are invalid "
                "(line {line}: {reason}).",
                file=self.file,
                invalid=number(self.invalid_examples),
                count=number(self.examples),
                line=str(first.line),
                reason=first.text(),
            )
        return _(
            "{file} was not accepted: {count} examples exceed {limit} tokens (line {line}).",
            file=self.file,
            count=number(len(self.over_limit)),
            limit=number(self.token_limit),
            line=str(self.over_limit[0]),
        )

    def to_json(self) -> dict[str, object]:
        """The report as plain JSON data, with `ok` (messages in English only)."""
        data = self.stored()
        for key in ("errors", "file_errors", "warnings"):
            for item in data[key]:  # type: ignore[attr-defined]
                item.pop("template", None)
                item.pop("params", None)
        return data

    def stored(self) -> dict[str, object]:
        """`to_json` with what says each message in any language (a stored report)."""
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


def estimated_price(
    report: ValidationReport, prices_per_1m: dict[str, float], training: str = "standard"
) -> float | None:
    """Estimated training cost in USD from per-1M-token prices (infra/prices.py: by model,
    training type and the method the file's format trains); None when the list has no price."""
    method = "dpo" if report.format == "dpo" else "supervised"
    price = training_price(prices_per_1m, report.model, training, method)
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


def _import_numpy_meanwhile() -> None:
    """Import numpy in a thread: while worker processes scan a large file this process idles,
    and `_duplicates` would otherwise wait a tenth of a second for the import at the end."""
    threading.Thread(target=importlib.import_module, args=("numpy",), daemon=True).start()


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


def warning_text(code: str, count: int, params: Params) -> str:
    """A warning in the current language ("" for a code it does not know)."""
    if code == "blank_lines":
        return n_("{count} blank line was skipped.", "{count} blank lines were skipped.", count)
    if code == "unrecognized_top_level_key":
        keys = str(params.get("keys", ""))
        more = int(params.get("more", 0))
        if more:
            return n_(
                "{count} example has top-level keys it ignores: {keys} and {more} more.",
                "{count} examples have top-level keys it ignores: {keys} and {more} more.",
                count,
                keys=keys,
                more=number(more),
            )
        return n_(
            "{count} example has top-level keys it ignores: {keys}.",
            "{count} examples have top-level keys it ignores: {keys}.",
            count,
            keys=keys,
        )
    if code == "missing_system_message":
        return n_(
            "{count} example has no system message.",
            "{count} examples have no system message.",
            count,
        )
    if code == "missing_user_message":
        return n_(
            "{count} example has no user message.", "{count} examples have no user message.", count
        )
    if code == "duplicate_examples":
        return n_(
            "{count} example repeats an earlier example exactly.",
            "{count} examples repeat an earlier example exactly.",
            count,
        )
    return ""


def file_error_text(code: str, params: Params) -> str:
    """A problem of the whole file in the current language."""
    if code == "file_too_large":
        return _("the file is over the service's {limit} limit.", limit=i18n.size(MAX_FILE_BYTES))
    if code == "unknown_format":
        return say(UNKNOWN_FORMAT, params)
    valid = int(params.get("valid", 0))
    return n_(
        "the file has {count} valid example; the service needs {minimum} or more.",
        "the file has {count} valid examples; the service needs {minimum} or more.",
        valid,
        minimum=number(MIN_EXAMPLES),
    )


def _warning(code: str, count: int, lines: list[int], params: Params) -> ReportWarning:
    with i18n.use(i18n.SOURCE):
        message = warning_text(code, count, params)
    return ReportWarning(code, message, count, lines, params)


def _file_error(code: str, params: Params) -> FileError:
    with i18n.use(i18n.SOURCE):
        return FileError(code, file_error_text(code, params), params)


def _warnings(tally: Tally) -> list[ReportWarning]:
    keys: Params = {"keys": ", ".join(label(key) for key in sorted(tally.extra_keys)[:10])}
    if len(tally.extra_keys) > 10:
        keys["more"] = len(tally.extra_keys) - 10
    codes = (
        "blank_lines",
        "unrecognized_top_level_key",
        "missing_system_message",
        "missing_user_message",
    )
    warnings = [
        _warning(code, found.count, found.lines, keys if code == codes[1] else {})
        for code in codes
        if (found := tally.warnings.get(code))
    ]
    duplicates = _duplicates(tally)
    if duplicates:
        lines = duplicates[:LIST_CAP]
        warnings.append(_warning("duplicate_examples", len(duplicates), lines, {}))
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
            too_big = _file_error("file_too_large", {"limit": MAX_FILE_BYTES})
        else:
            detected = detect_format(path)
            if path.stat().st_size >= PARALLEL_MIN_BYTES:
                _import_numpy_meanwhile()
            tally = scan(path, detected.format, encoding, limit)
            too_big = None
    except IsADirectoryError:
        raise UserError("Cannot read {name}: it is a folder, not a file.", name=shown) from None
    except OSError as error:
        reason = error.strerror or str(error)
        raise UserError(
            "Cannot read {name}: {reason}.", name=shown, reason=reason.lower()
        ) from None
    file_errors = [too_big] if too_big else []
    if detected and detected.format == "unknown":
        found: Params = {**detected.params, "found": detected.found}
        file_errors.append(_file_error("unknown_format", found))
    valid = tally.examples - tally.invalid
    if valid < MIN_EXAMPLES and not too_big:
        file_errors.append(_file_error("too_few_examples", {"valid": valid}))
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
        errors=[
            ExampleError(line, code, english(template, params), template, params)
            for line, code, template, params in tally.errors
        ],
        error_counts=dict(sorted(tally.error_counts.items())),
        file_errors=file_errors,
        warnings=_warnings(tally),
        over_limit=tally.over_limit,
        token_limit=limit,
        tokens=stats,
        billing=Billing(tally.dataset_tokens, run_epochs, run_epochs * tally.dataset_tokens),
    )
