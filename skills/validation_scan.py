"""Streaming a JSONL file through the rules: format detection and byte ranges over processes.

A file is split into byte ranges (each starts at the first line beginning inside it); each range is
read line by line in its own process and summed up in a `Tally` holding counts, capped lists and
token histograms, so memory stays flat whatever the file size. Tallies merge in file order.
"""

from __future__ import annotations

import json
import math
import os
from array import array
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from hashlib import blake2b
from pathlib import Path
from typing import IO

from infra.i18n import N_
from infra.text import label
from infra.tokens import token_counter
from infra.workers import process_pool
from skills import validation_rules as rules

LIST_CAP = 1000
"""At most this many errors, and line numbers per warning, are kept; counts stay exact."""
KEYS_CAP = 50
"""At most this many unrecognized top-level keys are remembered (each cut at 200 characters)."""
MAX_LINE_BYTES = 16 * 1024 * 1024
"""A longer line is an invalid example, skipped without being held in memory."""
PARALLEL_MIN_BYTES = 8 * 1024 * 1024
"""Smaller files are scanned in the calling process: starting workers would cost more."""
PIECE_BYTES = 2 * 1024 * 1024
"""About the size of each byte range handed to a worker process."""
NESTED = N_("the line is nested too deeply")
TOO_LONG = N_("the line is longer than {size}")
_BOM = b"\xef\xbb\xbf"
_SNIFF_LINES = 100


@dataclass
class Lines:
    """A count of lines and the first LIST_CAP of their numbers."""

    count: int = 0
    lines: list[int] = field(default_factory=list)

    def add(self, line: int) -> None:
        """Count `line`, keeping its number while under the cap."""
        self.count += 1
        if len(self.lines) < LIST_CAP:
            self.lines.append(line)

    def merge(self, other: Lines, offset: int) -> None:
        """Append `other` (a later range) whose line numbers start after `offset` lines."""
        self.count += other.count
        room = LIST_CAP - len(self.lines)
        self.lines.extend(line + offset for line in other.lines[:room])


@dataclass
class Tally:
    """What one byte range (or, merged, the whole file) holds."""

    lines: int = 0
    examples: int = 0
    invalid: int = 0
    errors: list[tuple[int, str, str, rules.Params]] = field(default_factory=list)
    error_counts: Counter[str] = field(default_factory=Counter)
    warnings: dict[str, Lines] = field(default_factory=dict)
    extra_keys: set[str] = field(default_factory=set)
    total: Counter[int] = field(default_factory=Counter)
    assistant: Counter[int] = field(default_factory=Counter)
    messages: Counter[int] = field(default_factory=Counter)
    dataset_tokens: int = 0
    over_limit: list[int] = field(default_factory=list)
    digests: array[int] = field(default_factory=lambda: array("Q"))
    digest_lines: array[int] = field(default_factory=lambda: array("Q"))

    def warn(self, code: str, line: int) -> None:
        """Count warning `code` for `line`."""
        self.warnings.setdefault(code, Lines()).add(line)

    def reject(self, line: int, issues: list[rules.Issue]) -> None:
        """Record an invalid example."""
        self.invalid += 1
        for code, template, params in issues:
            self.error_counts[code] += 1
            if len(self.errors) < LIST_CAP:
                self.errors.append((line, code, template, params))

    def merge(self, other: Tally) -> None:
        """Add `other`, the tally of the byte range right after this one."""
        offset = self.lines
        self.lines += other.lines
        self.examples += other.examples
        self.invalid += other.invalid
        room = LIST_CAP - len(self.errors)
        self.errors.extend((line + offset, c, t, p) for line, c, t, p in other.errors[:room])
        self.error_counts.update(other.error_counts)
        for code, lines in other.warnings.items():
            self.warnings.setdefault(code, Lines()).merge(lines, offset)
        self.extra_keys |= set(sorted(other.extra_keys)[: max(0, KEYS_CAP - len(self.extra_keys))])
        self.total.update(other.total)
        self.assistant.update(other.assistant)
        self.messages.update(other.messages)
        self.dataset_tokens += other.dataset_tokens
        self.over_limit.extend(line + offset for line in other.over_limit)
        self.digests.extend(other.digests)
        self.digest_lines.extend(line + offset for line in other.digest_lines)


@dataclass(frozen=True)
class Job:
    """One byte range of a file to scan, and how."""

    path: Path
    start: int
    end: int
    format: str
    encoding: str
    token_limit: int


def _read_line(f: IO[bytes]) -> tuple[bytes | None, int]:
    """The next line and the bytes it took; None for a line over MAX_LINE_BYTES (skipped)."""
    line = f.readline(MAX_LINE_BYTES + 1)
    if len(line) <= MAX_LINE_BYTES or line.endswith(b"\n"):
        return line, len(line)
    used = len(line)
    while line and not line.endswith(b"\n"):
        line = f.readline(1 << 20)
        used += len(line)
    return None, used


class _Invalid(Exception):
    """A line that is not UTF-8 JSON; `code` is the error code it counts under, the message a
    template (`N_`) with its parameters."""

    code = "invalid_json"

    def __init__(self, template: str, **params: str | int) -> None:
        super().__init__(template)
        self.template = template
        self.params: rules.Params = params

    def issue(self) -> rules.Issue:
        """The problem, as the rules say one."""
        return (self.code, self.template, self.params)


class _DuplicateKey(_Invalid):
    """A JSON object with the same key twice (a parser keeps one of them, silently)."""

    code = "duplicate_key"


def _object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    found = dict(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(N_("an object has the key {key} twice"), key=repr(label(key)))
            seen.add(key)
    return found


def _no_constant(name: str) -> object:
    raise _Invalid(N_("the line is not JSON ({name} is not a JSON value)"), name=name)


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _Invalid(N_("the line is not JSON (a number is too large)"))
    return value


_DECODER = json.JSONDecoder(
    object_pairs_hook=_object, parse_constant=_no_constant, parse_float=_finite
)
"""Strict JSON: NaN and Infinity refused (also a number that overflows to it), a key twice in
one object reported."""


def _parse(line: bytes) -> tuple[object, str]:
    """The JSON value of a line and its text; raises _Invalid with the reason."""
    try:
        raw = line.decode()
    except UnicodeDecodeError:
        raise _Invalid(N_("the line is not valid UTF-8")) from None
    try:
        return _DECODER.decode(raw), raw
    except json.JSONDecodeError as error:
        raise _Invalid(N_("the line is not JSON ({reason})"), reason=error.msg) from None
    except RecursionError:
        raise _Invalid(NESTED) from None
    except ValueError as error:  # never Python's own words: they name its internals
        if "digits" in str(error):
            raise _Invalid(
                N_("the line is not JSON (a number has more than {digits} digits)"), digits=4300
            ) from None
        raise _Invalid(N_("the line is not JSON")) from None


class _RangeScan:
    """The state of scanning one byte range."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.tally = Tally()
        self.dpo = job.format == "dpo"
        self.check = rules.check_dpo if self.dpo else rules.check_chat
        self.top_keys = rules.DPO_KEYS if self.dpo else rules.CHAT_KEYS
        if job.format != "unknown":
            self.counter = _counter(job.encoding)

    def run(self) -> Tally:
        """Read the lines that begin inside the byte range and tally them."""
        job, tally = self.job, self.tally
        with job.path.open("rb") as f:
            position = job.start
            if position:
                f.seek(position - 1)
                position += _read_line(f)[1] - 1
            while position < job.end:
                line, used = _read_line(f)
                if not used:
                    break
                position += used
                tally.lines += 1
                if line is None:
                    tally.examples += 1
                    tally.reject(tally.lines, [("invalid_json", TOO_LONG, {"size": "16 MB"})])
                    continue
                if tally.lines == 1 and job.start == 0 and line.startswith(_BOM):
                    line = line[len(_BOM) :]
                line = line.strip()
                if not line:
                    tally.warn("blank_lines", tally.lines)
                elif job.format == "unknown":
                    tally.examples += 1
                    tally.invalid += 1  # said once for the file, not line by line
                    tally.error_counts["unknown_format"] += 1
                else:
                    tally.examples += 1
                    self.example(tally.lines, line)
        return tally

    def example(self, number: int, line: bytes) -> None:
        """Check one example and, when valid, count its tokens."""
        tally = self.tally
        try:
            value, raw = _parse(line)
            issues = self.check(value, raw)
        except _Invalid as error:
            tally.reject(number, [error.issue()])
            return
        except RecursionError:
            tally.reject(number, [("invalid_json", NESTED, {})])
            return
        if issues:
            tally.reject(number, issues)
            return
        assert type(value) is dict
        messages = rules.dpo_messages(value) if self.dpo else value["messages"]
        measure = self.counter.measure(messages, value["input"] if self.dpo else value)
        if not self.top_keys.issuperset(value):
            tally.warn("unrecognized_top_level_key", number)
            if len(tally.extra_keys) < KEYS_CAP:  # a key per line must not fill the memory
                tally.extra_keys.update(key[:200] for key in value.keys() - self.top_keys)
        if not measure.has_system:
            tally.warn("missing_system_message", number)
        if not measure.has_user:
            tally.warn("missing_user_message", number)
        tally.total[measure.total] += 1
        tally.assistant[measure.assistant] += 1
        tally.messages[measure.messages] += 1
        tally.dataset_tokens += min(self.job.token_limit, measure.total)
        if measure.total > self.job.token_limit:
            tally.over_limit.append(number)
        tally.digests.append(int.from_bytes(blake2b(line, digest_size=8).digest(), "little"))
        tally.digest_lines.append(number)


@cache
def _counter(encoding: str) -> rules.TokenCounter:
    """The process's counter of `encoding`: what repeats is remembered from range to range."""
    return rules.TokenCounter(token_counter(encoding))


def scan_range(job: Job) -> Tally:
    """Tally the lines that begin inside `job`'s byte range (run in a worker process)."""
    return _RangeScan(job).run()


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def scan(path: Path, format: str, encoding: str, token_limit: int) -> Tally:
    """Tally the whole file: in this process when small, else one process per core."""
    size = path.stat().st_size
    workers = _cores()
    if format == "unknown" or size < PARALLEL_MIN_BYTES or workers < 2:
        return scan_range(Job(path, 0, size, format, encoding, token_limit))
    pieces = max(workers, size // PIECE_BYTES)  # small pieces: no core idles at the end
    bounds = [size * i // pieces for i in range(pieces + 1)]
    jobs = [
        Job(path, bounds[i], bounds[i + 1], format, encoding, token_limit) for i in range(pieces)
    ]
    whole = Tally()
    with process_pool(workers) as pool:
        for part in pool.map(scan_range, jobs):
            whole.merge(part)
    return whole


@dataclass(frozen=True)
class Detected:
    """A file's format, and for `unknown` what it holds instead: a message id (`found`) and its
    parameters."""

    format: str
    found: str = ""
    params: rules.Params = field(default_factory=dict)


def _sniff_text(first: bytes) -> str:
    """What a first line that is not JSON looks like, or "" if it might be broken JSONL."""
    if b"\0" in first:
        return N_("binary data")
    try:
        text = first.decode()
    except UnicodeDecodeError:
        return N_("binary data (not UTF-8 text)")
    if text.startswith("<"):
        return N_("an HTML page") if "html" in text[:1024].lower() else N_("markup, not JSON")
    return "" if text.startswith(("{", "[")) else N_("plain text, not JSON")


def _describe_keys(keys: set[str]) -> Detected:
    if {"prompt", "completion"} <= keys:
        return Detected("unknown", N_("legacy prompt/completion lines"))
    shown = ", ".join(label(key) for key in sorted(keys)[:6])
    if len(keys) > 6:
        more: rules.Params = {"keys": shown, "more": len(keys) - 6}
        return Detected("unknown", N_("lines with the keys {keys} and {more} more"), more)
    return Detected("unknown", N_("lines with the keys {keys}"), {"keys": shown})


def detect_format(path: Path) -> Detected:
    """chat, dpo or unknown, from the first JSON object among the first lines."""
    first: bytes | None = None
    with path.open("rb") as f:
        for _ in range(_SNIFF_LINES):
            line, used = _read_line(f)
            if not used:
                break
            if line is None:
                continue
            line = line.removeprefix(_BOM).strip() if first is None else line.strip()
            if not line:
                continue
            if first is None:
                first = line
                found = _sniff_text(first)
                if found:
                    return Detected("unknown", found)
            try:
                value, _ = _parse(line)
            except (_Invalid, RecursionError):
                continue
            if type(value) is dict:
                if "messages" in value:
                    return Detected("chat")
                if "preferred_output" in value or "non_preferred_output" in value:
                    return Detected("dpo")
                return _describe_keys(set(value))
    return Detected("chat")
