"""Strict contract checking for the whole suite (sandbox/contracts.py).

Every sandbox a test starts, in this process or another, checks each call against Microsoft's
specifications and appends each violation to one file; a test during which a violation was
written fails with the operation id and JSON path. A test that provokes violations on purpose
takes them with the `contract_violations` fixture (and should assert on them).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

_STATE: dict[str, object] = {}


def pytest_configure(config: pytest.Config) -> None:
    """Strict mode for every sandbox the run starts, with violations in a file of the run's own."""
    handle, name = tempfile.mkstemp(prefix="ftbot-contracts-", suffix=".jsonl")
    os.close(handle)
    os.environ["SANDBOX_CONTRACTS"] = "strict"
    os.environ["SANDBOX_CONTRACTS_LOG"] = name
    _STATE["log"] = Path(name)
    _STATE["offset"] = 0


def _new() -> list[str]:
    log = _STATE["log"]
    assert isinstance(log, Path)
    offset = _STATE["offset"]
    assert isinstance(offset, int)
    with log.open("rb") as source:
        source.seek(offset)
        data = source.read()
    _STATE["offset"] = offset + len(data)
    found = []
    seen = _STATE.setdefault("seen", set())
    assert isinstance(seen, set)
    for line in data.decode("utf-8").splitlines():
        entry = json.loads(line) if line else {}
        if "violation" in entry:
            found.append(entry["violation"])
        elif "operation" in entry:
            seen.add(entry["operation"])
    return found


def seen_operations() -> set[str]:
    """Every operation a sandbox of this run has answered so far."""
    _new()
    seen = _STATE.get("seen", set())
    assert isinstance(seen, set)
    return set(seen)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """With FTBOT_CONTRACTS_SEEN set, write the operations the run called there (a JSON list)."""
    target = os.environ.get("FTBOT_CONTRACTS_SEEN")
    if target and "log" in _STATE:
        Path(target).write_text(json.dumps(sorted(seen_operations()), indent=1) + "\n")


@pytest.fixture
def contract_violations() -> Iterator[Callable[[], list[str]]]:
    """Take the violations written since the last call: for tests that provoke them on purpose."""
    _new()
    _STATE["taken"] = True
    yield _new
    _new()
    _STATE.pop("taken", None)


def _fail_on_new(phase: str) -> None:
    if _STATE.get("taken"):
        return
    found = _new()
    if found:
        listed = "\n  ".join(found)
        raise AssertionError(f"contract violations ({phase}):\n  {listed}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    _new()  # what earlier tests left running wrote after they ended is not this test's doing
    return (yield)


def _checked(phase: str) -> Iterator[None]:
    try:
        result = yield
    except BaseException as error:
        if not _STATE.get("taken") and (found := _new()):
            listed = "\n  ".join(found)
            raise AssertionError(f"contract violations ({phase}):\n  {listed}") from error
        raise
    _fail_on_new(phase)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    return (yield from _checked("during the test"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    return (yield from _checked("while the test's fixtures closed"))
