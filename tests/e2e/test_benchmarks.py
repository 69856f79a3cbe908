"""`make bench` finds every benchmark module (and only those)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from benchmarks import turns


def test_the_runner_lists_the_benchmarks() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "no-such-benchmark"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "unknown benchmark 'no-such-benchmark'; choose from fuzz, sandbox_bigfile, sandbox_load, "
        "state_store, takeover, turn_latency, turns, validation"
    )


@pytest.mark.timeout(600)  # bots, a sandbox and jobs as processes: minutes on a busy machine
def test_the_turns_benchmark_runs_small(capsys: pytest.CaptureFixture[str]) -> None:
    """A few conversations and two tiny watches, so the benchmark cannot rot."""
    fast = {
        "FTBOT_POLL_RUNNING": "0.2",
        "FTBOT_POLL_QUEUED": "0.4",
        "FTBOT_CARD_SECONDS": "0.2",
        "FTBOT_UPDATES_PER_SECOND": "50",
    }
    sizes = turns.Sizes(
        conversations=3,
        messages=2,
        rounds=1,
        references=50,
        job_records=5,
        watched=(1, 2),
        speedup=100.0,
        watcher=fast,
    )
    turns.run(sizes)
    out = capsys.readouterr().out
    assert "`help` vs echo: throughput" in out
    assert "no errors, every reply delivered" in out
    assert "50 references and 5 job records vs an empty store: p50" in out
    assert "bot peak RSS under the turn load" in out
    assert out.count("cards final: all; one notice each: yes") == 2
    assert "2 vs 1 jobs, per job-minute: CPU" in out
