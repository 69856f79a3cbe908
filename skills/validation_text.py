"""The terminal rendering of a validation report (`ftbot validate` without `--json`)."""

from __future__ import annotations

from skills.validation import Distribution, ValidationReport

SHOWN_ERRORS = 20


def _row(label: str, stats: Distribution) -> str:
    return f"    {label:<10}" + "".join(f"{cell:>10}" for cell in stats.shown())


def _lines(lines: list[int], count: int) -> str:
    shown = ", ".join(str(line) for line in lines[:10])
    return f"line {shown}" + (", ..." if count > 10 else "")


def report_text(report: ValidationReport, price: float | None) -> str:
    """A readable report with the same facts as `--json`; `price` is the estimate in USD."""
    verdict = "OK" if report.ok else "NOT OK"
    out = [
        f"{report.file}: {verdict}",
        f"  format {report.format}, model {report.model} ({report.encoding}), "
        f"{report.examples} examples, {report.invalid_examples} invalid",
    ]
    out += [f"  error {e.code}: {e.message}" for e in report.file_errors]
    if report.error_counts:
        counts = ", ".join(f"{code} {n}" for code, n in report.error_counts.items())
        out.append(f"  invalid examples by code: {counts}")
    for error in report.errors[:SHOWN_ERRORS]:
        out.append(f"    line {error.line}: {error.code}: {error.message}")
    hidden = sum(report.error_counts.values()) - min(len(report.errors), SHOWN_ERRORS)
    if report.errors and hidden > 0:
        out.append(f"    ... and more ({hidden} not shown; use --json)")
    for warning in report.warnings:
        where = _lines(warning.lines, warning.count)
        out.append(f"  warning {warning.code}: {warning.message} ({where})")
    if report.over_limit:
        count = len(report.over_limit)
        out.append(
            f"  over the {report.token_limit:,}-token limit: {count} example(s), "
            + _lines(report.over_limit, count)
        )
    if report.tokens:
        header = "".join(f"{h:>10}" for h in ("min", "max", "mean", "median", "p5", "p95"))
        out.append(f"  tokens{' ' * 8}{header}")
        out.append(_row("total", report.tokens.total))
        out.append(_row("assistant", report.tokens.assistant))
        out.append(_row("messages", report.tokens.messages))
    billing = report.billing
    cost = f", about ${price:,.2f} (estimate)" if price is not None else ""
    out.append(
        f"  billing estimate: {billing.epochs} epoch(s) x {billing.dataset_tokens:,} tokens = "
        f"{billing.billed_tokens:,} billed tokens{cost}"
    )
    return "\n".join(out)
