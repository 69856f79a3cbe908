"""`make bench` finds every benchmark module (and only those)."""

from __future__ import annotations

import subprocess
import sys


def test_the_runner_lists_the_benchmarks() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "no-such-benchmark"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "unknown benchmark 'no-such-benchmark'; choose from fuzz, sandbox_load, turn_latency, "
        "validation"
    )
